"""Stop replies: Russian and English opt-outs are recognised; ordinary replies are never mistaken for one."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactivation.stopwords import PHRASES_FILE, is_stop_reply, normalise_reply, stop_phrases

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


@given(text=disguised())
def test_noise_case_and_spacing_keep_a_stop_a_stop(text: str) -> None:
    assert is_stop_reply(text)


@given(text=st.text())
def test_any_text_is_handled_and_normalising_is_idempotent(text: str) -> None:
    assert isinstance(is_stop_reply(text), bool)
    once = normalise_reply(text)
    assert normalise_reply(once) == once
    # Normalising drops punctuation, and punctuation ends a negator's reach ("Не надо, отпишите меня"), so the
    # normalised text can lose a stop but never gain one.
    assert is_stop_reply(text) or not is_stop_reply(once)


# --- the replies and their neighbours, both directions ----------------------------------------------------

REPLIES = [
    # stops: look-alike letters
    pytest.param("CTOП", True, id="ru-latin-C-T-O-in-СТОП"),
    pytest.param("СТOП", True, id="ru-latin-O-in-СТОП"),
    pytest.param("STОP", True, id="en-cyrillic-O-in-STOP"),
    pytest.param("СТ0П!", True, id="ru-zero-for-O"),
    pytest.param("He пишите больше", True, id="ru-latin-He-for-Не"),
    # stops: stop + channel
    pytest.param("стоп смс", True, id="ru-стоп-смс"),
    pytest.param("STOP SMS", True, id="en-STOP-SMS"),
    pytest.param("stop whatsapp", True, id="en-stop-whatsapp"),
    pytest.param("Стоп рассылка", True, id="ru-стоп-рассылка"),
    pytest.param("стоп-рассылка!", True, id="ru-стоп-рассылка-hyphen"),
    pytest.param("SMS STOP", True, id="en-SMS-STOP"),
    pytest.param("Рассылка стоп, спасибо", True, id="ru-рассылка-стоп"),
    pytest.param("ЫЕЩЗ", True, id="en-STOP-typed-in-russian-layout"),
    pytest.param("cnjg", True, id="ru-стоп-typed-in-english-layout"),
    pytest.param("Удалите меня", True, id="ru-удалите-меня"),
    pytest.param("Stop all messages", True, id="en-stop-all-messages"),
    pytest.param("Хватит присылать эти смс", True, id="ru-хватит-присылать"),
    # stops: do not write / send
    pytest.param("не надо больше писать", True, id="ru-не-надо-больше-писать"),
    pytest.param("Не надо мне больше писать, спасибо", True, id="ru-не-надо-мне-больше-писать"),
    pytest.param("не надо писать", True, id="ru-не-надо-писать"),
    pytest.param("больше не присылайте", True, id="ru-больше-не-присылайте"),
    pytest.param("Пожалуйста, больше не присылайте мне сообщения", True, id="ru-full-sentence"),
    pytest.param("Не присылайте мне рекламу", True, id="ru-не-присылайте-рекламу"),
    pytest.param("Не хочу получать ваши сообщения", True, id="ru-не-хочу-получать"),
    pytest.param("Не нужно мне ваших рассылок", True, id="ru-не-нужно-рассылок"),
    pytest.param("Ваши смс не нужны", True, id="ru-смс-не-нужны"),
    pytest.param("Больше не беспокойте", True, id="ru-больше-не-беспокойте"),
    # stops: remove my number, unsubscribe
    pytest.param("прошу удалить мой номер", True, id="ru-прошу-удалить-мой-номер"),
    pytest.param("Прошу удалить мой номер из вашей базы", True, id="ru-удалить-номер-из-базы"),
    pytest.param("Уберите мой номер", True, id="ru-уберите-мой-номер"),
    pytest.param("Сколько можно? Удалите, пожалуйста, мой номер!", True, id="ru-удалите-пожалуйста-мой-номер"),
    pytest.param("отпишите меня от рассылки пожалуйста", True, id="ru-отпишите-меня"),
    pytest.param("Отключите рассылку", True, id="ru-отключите-рассылку"),
    pytest.param("Никак не отписаться от вас", True, id="ru-complaint-cannot-unsubscribe"),
    pytest.param("Не надо, отпишите меня", True, id="ru-не-надо-comma-ends-negation"),
    pytest.param("Please unsubscribe me", True, id="en-unsubscribe-me"),
    pytest.param("Remove my number from your list", True, id="en-remove-my-number"),
    pytest.param("Take me off your mailing list", True, id="en-take-me-off"),
    pytest.param("I don't want to receive any more messages", True, id="en-dont-want-to-receive"),
    pytest.param("No more texts please", True, id="en-no-more-texts"),
    pytest.param("Why don't you just stop texting me?", True, id="en-why-dont-you-stop"),
    pytest.param("Stop texting me, I moved to another city", True, id="en-stop-texting-and-a-reason"),
    # stops: emoji and short replies
    pytest.param("🛑", True, id="emoji-stop-sign"),
    pytest.param("⛔️⛔️⛔️", True, id="emoji-no-entry-repeated"),
    pytest.param("🚫 спам", True, id="emoji-prohibited-with-спам"),
    pytest.param("🛑 не пишите мне", True, id="emoji-with-не-пишите"),
    pytest.param("Нет, не интересно. Стоп", True, id="ru-decline-then-стоп"),
    pytest.param("Not interested, stop", True, id="en-decline-then-stop"),
    pytest.param("Ок, хватит уже", True, id="ru-ок-хватит-уже"),
    # not stops: negated
    pytest.param("Don't stop sending me offers", False, id="en-dont-stop-sending"),
    pytest.param("Never stop texting me your deals!", False, id="en-never-stop-texting"),
    pytest.param("не останавливайтесь", False, id="ru-не-останавливайтесь"),
    pytest.param("Не останавливайтесь, присылайте ещё акции", False, id="ru-не-останавливайтесь-присылайте"),
    pytest.param("не надо удалять мой номер", False, id="ru-не-надо-удалять-мой-номер"),
    pytest.param("Не надо удалять мой номер, я просто занята", False, id="ru-не-надо-удалять-занята"),
    pytest.param("Не отписывайте меня, пожалуйста", False, id="ru-не-отписывайте"),
    pytest.param("Не хочу отписываться", False, id="ru-не-хочу-отписываться"),
    pytest.param("Please don't unsubscribe me, I like your offers", False, id="en-dont-unsubscribe-me"),
    pytest.param("I don't want to opt out", False, id="en-dont-want-to-opt-out"),
    # not stops: stop inside another word
    pytest.param("стопка", False, id="ru-стопка"),
    pytest.param("СТОПКА полотенец осталась у вас", False, id="ru-СТОПКА-полотенец"),
    pytest.param("stopwatch", False, id="en-stopwatch"),
    pytest.param("нестопроцентно", False, id="ru-нестопроцентно"),
    pytest.param("The text stopped halfway, can you resend?", False, id="en-stopped"),
    pytest.param("СТОП-ЦЕЛЛЮЛИТ массаж ещё есть?", False, id="ru-service-named-стоп"),
    pytest.param("Is the stop-smoking session available?", False, id="en-service-named-stop"),
    # not stops: another request
    pytest.param("стоп, а можно на пятницу?", False, id="ru-стоп-then-question"),
    pytest.param("стоп а можно на пятницу", False, id="ru-стоп-then-question-unpunctuated"),
    pytest.param("Stop! Can I book Saturday instead?", False, id="en-stop-then-question"),
    pytest.param("Stop, wait, what time do you open?", False, id="en-stop-wait"),
    pytest.param("Oh stop it, you're too kind 😊", False, id="en-oh-stop-it"),
    pytest.param("Stop by tomorrow?", False, id="en-stop-by"),
    pytest.param("cancel my appointment", False, id="en-cancel-my-appointment"),
    pytest.param("отмените запись", False, id="ru-отмените-запись"),
    pytest.param("Отмените запись на завтра", False, id="ru-отмените-запись-на-завтра"),
    pytest.param("Удалите запись на четверг", False, id="ru-удалите-запись"),
    pytest.param("Удалите меня из записи на пятницу", False, id="ru-удалите-меня-из-записи"),
    pytest.param("My messages stop loading when I open the link", False, id="en-messages-stop-loading"),
    pytest.param("Хватит ли времени на маникюр и педикюр?", False, id="ru-хватит-ли"),
    pytest.param("Это не спам?", False, id="ru-это-не-спам-question"),
    pytest.param("Не пишите так официально, мы же давно знакомы 😊", False, id="ru-не-пишите-так"),
    pytest.param("Можно не присылать напоминание за день? Я и так помню", False, id="ru-reminder-question"),
    pytest.param("Мне удобно после 18, пишите в ватсап", False, id="ru-пишите-в-ватсап"),
    # not stops: ordinary replies and polite declines
    pytest.param("Записаться на стрижку можно?", False, id="ru-book"),
    pytest.param("Thanks, see you Friday!", False, id="en-see-you"),
    pytest.param("Нет, спасибо", False, id="ru-нет-спасибо"),
    pytest.param("Not interested right now", False, id="en-not-interested"),
    pytest.param("Ок", False, id="ru-ок"),
]


@pytest.mark.parametrize(("text", "stop"), REPLIES)
def test_reply_is_taken_as_stop_exactly_when_it_asks_to_stop(text: str, stop: bool) -> None:
    assert is_stop_reply(text) is stop


def test_the_reply_table_covers_both_directions_in_both_languages() -> None:
    stops = [p.values[0] for p in REPLIES if p.values[1]]
    others = [p.values[0] for p in REPLIES if not p.values[1]]
    assert len(stops) >= 30 and len(others) >= 30
    for texts in (stops, others):
        assert any(re.search("[а-яё]", t, re.I) for t in texts) and any(re.fullmatch(r"[\x00-\x7f]+", t) for t in texts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CTOП", "стоп"),  # Latin C, T, O; Cyrillic П
        ("STОP", "stop"),  # Cyrillic О
        ("He пишите", "не пишите"),  # a word of look-alikes takes the script of the rest of the reply
        ("Hello, ок?", "hello ok"),
        ("ЅТОП", "ѕтоп"),  # letters only one script has, from both: left alone
        ("СТ0П", "стоп"),
        ("Запись в 10:00", "запись в 10 00"),  # digits stay digits
        ("🛑⛔️🚫 😡", "🛑 ⛔ 🚫"),  # stop signs are words, other emoji are not
    ],
)
def test_lookalike_letters_are_folded_into_the_words_script(text: str, expected: str) -> None:
    assert normalise_reply(text) == expected


_SWAP = {**stop_phrases().alphabet.to_cyrillic, **stop_phrases().alphabet.to_latin}


@st.composite
def lookalike_typed(draw: st.DrawFn, texts: list[str]) -> str:
    """A reply with random letters typed in the other script's look-alike, in random case."""
    text = draw(st.sampled_from(texts)).casefold().replace("ё", "е")
    out = []
    for ch in text:
        ch = _SWAP[ch] if ch in _SWAP and draw(st.booleans()) else ch
        out.append(ch.upper() if draw(st.booleans()) else ch)
    return "".join(out)


@given(text=lookalike_typed([p for p in STOPS if p.strip()] + [p.values[0] for p in REPLIES if p.values[1]]))
def test_lookalike_letters_keep_a_stop_a_stop(text: str) -> None:
    assert is_stop_reply(text)


@given(text=lookalike_typed([t for t in NOT_STOPS if t.strip()] + [p.values[0] for p in REPLIES if not p.values[1]]))
def test_lookalike_letters_never_make_a_stop(text: str) -> None:
    assert not is_stop_reply(text)


def test_phrases_are_loaded_once_from_the_data_file() -> None:
    assert stop_phrases() is stop_phrases()
    assert PHRASES_FILE.name == "stop_phrases.yml" and PHRASES_FILE.is_file()


def test_every_strong_phrase_in_the_file_is_a_stop_on_its_own() -> None:
    phrases = stop_phrases()
    stop, channel = sorted(phrases.stop_words)[0], sorted(phrases.channels)[0]
    for phrase in phrases.strong:
        text = " ".join(phrase).replace("{stop}", stop).replace("{channel}", channel)
        assert is_stop_reply(text), text


def test_an_unquoted_yaml_keyword_in_the_phrase_file_is_refused(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reactivation import stopwords

    broken = tmp_path / "stop_phrases.yml"
    broken.write_text(PHRASES_FILE.read_text(encoding="utf-8").replace('"no", no thanks', "no, no thanks"))
    monkeypatch.setattr(stopwords, "PHRASES_FILE", broken)
    stop_phrases.cache_clear()
    try:
        with pytest.raises(ValueError, match="fillers holds non-text entries"):
            stop_phrases()
    finally:
        monkeypatch.undo()
        stop_phrases.cache_clear()
