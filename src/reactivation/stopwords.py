"""Recognise "stop" replies (Russian and English) so a client who opts out is never messaged again.

Normalisation (``normalise_reply``): Unicode NFKC, casefold, ё -> е, every character that is not a letter or a
digit (punctuation, emoji, apostrophes, hyphens, underscores) becomes a space, runs of spaces collapse.
All matching is on whole words of that normalised text, never on substrings: "стопка", "stopwatch" and
"нестопроцентно" do not contain the word "стоп"/"stop".

The rule -- a reply is a stop reply when either
1. it contains a *strong* phrase anywhere: wording that only an opt-out uses ("отписаться", "отпишите",
   "unsubscribe", "opt out", "больше не пишите", "удалите мой номер", "stop texting", "remove me", ...); or
2. it consists *only* of *short* stop words/phrases ("стоп", "stop", "хватит", "не пишите", "не присылайте",
   "не беспокойте", "спам"/"spam", and the SMS keywords "stopall", "end", "quit", "cancel") plus politeness
   or filler words ("пожалуйста", "please", "мне", "me", "больше", "уже", "это", "thanks", ...), with at least
   one stop word.

So "СТОП!!!", "stop please", "Не пишите больше" and "это спам" are stops, while "Стоп, а можно на пятницу?"
(a short word followed by a real question) and "cancel my appointment" are not: a bare short stop word only
counts when nothing else is said. "спам"/"spam" counts (a client calling us spam wants no more messages),
and so does a bare "cancel" (a carrier opt-out keyword; reactivation messages have no booking to cancel).
When in doubt we let a human read the reply rather than silently unsubscribe someone asking a question.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")


def normalise_reply(text: str) -> str:
    """Casefold, ё -> е, punctuation/emoji/extra spaces removed: the form every rule below is written in."""
    folded = unicodedata.normalize("NFKC", text or "").casefold().replace("ё", "е")
    return _NOT_WORD.sub(" ", folded).strip()


def _phrases(*texts: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(normalise_reply(t).split()) for t in texts)


STRONG_PHRASES = _phrases(
    # Russian
    "отписаться", "отпишите", "отпиши", "отписать", "отписка", "отписку", "отпишитесь",
    "больше не пишите", "не пишите больше", "больше мне не пишите", "не пишите мне больше",
    "больше не присылайте", "не присылайте больше", "не присылайте мне больше",
    "перестаньте писать", "перестаньте присылать", "прекратите писать", "прекратите присылать",
    "хватит писать", "хватит присылать", "хватит слать", "хватит спамить",
    "удалите мой номер", "удалите мой телефон", "удалите номер", "удалите меня", "удалите из рассылки",
    "уберите меня из рассылки", "отключите рассылку",
    # English
    "unsubscribe", "opt out", "optout", "opt me out",
    "stop texting", "stop messaging", "stop sending", "stop contacting", "stop writing", "stop spamming",
    "do not text", "dont text", "don't text", "do not message", "dont message", "don't message",
    "do not contact", "dont contact", "don't contact", "no more messages", "remove me", "remove my number",
    "leave me alone",
)  # fmt: skip

SHORT_PHRASES = _phrases(
    "стоп", "хватит", "не пишите", "не присылайте", "не беспокойте", "спам", "спамить",
    "stop", "stopall", "end", "quit", "cancel", "spam",
)  # fmt: skip

FILLER_WORDS = frozenset(
    normalise_reply(w)
    for w in (
        "пожалуйста", "пожалуйсто", "плиз", "пж", "пжл", "пжлст", "спасибо", "мне", "меня", "нам", "нас",
        "больше", "уже", "все", "всё", "это", "вообще", "сюда",
        "please", "pls", "plz", "thanks", "thank", "you", "thx", "me", "now", "it", "this", "is", "all", "just",
    )
)  # fmt: skip

_ALL_PHRASES = STRONG_PHRASES | SHORT_PHRASES
_LONGEST = max(len(p) for p in _ALL_PHRASES)


def _contains_strong(words: list[str]) -> bool:
    """Any strong phrase as a contiguous run of whole words."""
    return any(
        tuple(words[i : i + n]) in STRONG_PHRASES for n in range(1, _LONGEST + 1) for i in range(len(words) - n + 1)
    )


def _only_short_stops(words: list[str]) -> bool:
    """Every word belongs to a short stop phrase or is a filler, and at least one stop phrase is present."""
    i, found = 0, False
    while i < len(words):
        n = next((n for n in range(_LONGEST, 0, -1) if tuple(words[i : i + n]) in _ALL_PHRASES), 0)
        if n:
            i, found = i + n, True
        elif words[i] in FILLER_WORDS:
            i += 1
        else:
            return False
    return found


def is_stop_reply(text: str | None) -> bool:
    """True when the reply asks us to stop messaging (see the module docstring for the exact rule)."""
    if not text:
        return False
    words = normalise_reply(text).split()
    return bool(words) and (_contains_strong(words) or _only_short_stops(words))
