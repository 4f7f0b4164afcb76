"""Stop replies: Russian and English opt-outs are recognised; ordinary replies are never mistaken for one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactivation.stopwords import is_stop_reply, normalise_reply

STOPS = [
    "STOP",
    "stop",
    "стоп",
    "СТОП!!!",
    "Стоп.",
    "Отписаться!",
    "отписаться пожалуйста",
    "Как отписаться от рассылки?",
    "unsubscribe",
    "Unsubscribe me",
    "UNSUBSCRIBE!!!",
    "не пишите мне",
    "Не пишите больше",
    "больше не пишите",
    "Пожалуйста, больше не пишите мне, я переехала",
    "хватит",
    "Хватит!!! 😡",
    "хватит спамить",
    "stop please",
    "please stop",
    "Stop, thanks",
    "opt out",
    "opt-out",
    "Opt me out",
    "отпишите меня",
    "не присылайте",
    "Не присылайте больше ничего",
    "удалите мой номер",
    "Удалите мой номер из базы, спасибо",
    "не беспокойте меня больше",
    "спам",
    "это спам",
    "SPAM",
    "this is spam",
    "Please stop texting me",
    "don't text me",
    "Do not contact me again",
    "remove me from your list",
    "stopall",
    "cancel",
    "Ёлки, отпишите уже",
    "  стоп  ",
]

NOT_STOPS = [
    "Записаться хочу",
    "Спасибо, запишусь в пятницу",
    "А стоимость?",
    "Hi, can I book for Friday?",
    "Нестопроцентно уверена",
    "стопка",
    "stopwatch",
    "Стоп, а можно на пятницу?",
    "Stop by on Friday?",
    "cancel my appointment on Friday",
    "Не беспокойтесь, я приду",
    "Спасибо",
    "thanks",
    "пожалуйста",
    "Нет, спасибо, в этом месяце не получится",
    "Остановка рядом есть?",
    "Хватит ли времени на стрижку и окрашивание?",
    "Пишите в ватсап",
    "",
    "   ",
    "!!!",
    "🙂",
]


@pytest.mark.parametrize("text", STOPS)
def test_stop_replies_are_recognised(text: str) -> None:
    assert is_stop_reply(text)


@pytest.mark.parametrize("text", NOT_STOPS)
def test_ordinary_replies_are_not_stops(text: str) -> None:
    assert not is_stop_reply(text)


def test_none_is_not_a_stop() -> None:
    assert not is_stop_reply(None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("СТОП!!!", "стоп"),
        ("  Не   пишите,\tбольше!  ", "не пишите больше"),
        ("Ёжик ЁЛКА", "ежик елка"),
        ("opt-out", "opt out"),
        ("don't", "don t"),
        ("Хватит 😡🙏", "хватит"),
        ("«Стоп»…", "стоп"),
        ("ＳＴＯＰ", "stop"),  # full-width letters
        ("snake_case", "snake case"),
        ("", ""),
    ],
)
def test_normalise_reply(text: str, expected: str) -> None:
    assert normalise_reply(text) == expected


NOISE = st.text(alphabet=" \t\n\u00a0.,!?;:-—–…«»\"'()*~/\\|@#%&+=😡🙏👍❌✋", max_size=6)
SEPARATORS = st.text(alphabet=" \t\n\u00a0.,!?;:-—–…'", min_size=1, max_size=3)
PHRASES = [p for p in STOPS if p.strip() == p]


@st.composite
def disguised(draw: st.DrawFn) -> str:
    """A stop phrase with random case, random noise around it and random separators between its words."""
    words = normalise_reply(draw(st.sampled_from(PHRASES))).split()
    cased = ["".join(c.upper() if draw(st.booleans()) else c for c in w) for w in words]
    body = cased[0] + "".join(draw(SEPARATORS) + w for w in cased[1:])
    return draw(NOISE) + body + draw(NOISE)


@settings(max_examples=400, deadline=None)
@given(text=disguised())
def test_noise_case_and_spacing_keep_a_stop_a_stop(text: str) -> None:
    assert is_stop_reply(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_any_text_is_handled_and_normalising_is_idempotent(text: str) -> None:
    assert isinstance(is_stop_reply(text), bool)
    once = normalise_reply(text)
    assert normalise_reply(once) == once
    assert is_stop_reply(once) == is_stop_reply(text)
