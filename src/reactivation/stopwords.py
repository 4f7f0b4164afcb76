"""Recognise "stop" replies (Russian and English) so a client who opts out is never messaged again.

The wording lives in ``stop_phrases.yml`` beside this module (loaded once); this module holds only the rule.

Normalisation (``normalise_reply``): Unicode NFKC, casefold, ё -> е; every character that is not a letter or a digit
becomes a space, except the stop-sign emoji (🛑 ⛔ 🚫), which stay as words of their own. Then look-alike letters
are folded: a word mixing Latin and Cyrillic ("CTOП", "СТOП") is written in the script of its letters that have
no look-alike (here П: "стоп"), and a word made only of look-alikes ("He" in "He пишите") takes the script most
of the reply's other words are written in. Punctuation also marks where a clause ends. All matching is on whole
words, never on substrings: "стопка", "stopwatch" and "нестопроцентно" do not contain the word "стоп"/"stop".

The rule -- a reply is a stop reply when either
1. it contains a *strong* phrase (wording only an opt-out uses: "отпишите", "стоп смс", "stop whatsapp",
   "прошу удалить мой номер", "don't text me", ...) that is not negated. Filler words may sit between the words of a
   phrase ("удалите, пожалуйста, мой номер"). A phrase is negated when a negator ("не", "не надо", "don't",
   "never", ...) comes right before it, fillers aside, in the same clause and not after "why"/"почему": so
   "don't stop sending me offers" is not a stop, while "Не надо, отпишите меня" and "why don't you stop texting me"
   are; or
2. it consists *only* of *short* stop wording ("стоп", "stop", "хватит", "не пишите", "удалите меня", "спам",
   a stop-sign emoji, and the carrier keywords "stopall", "end", "quit", "cancel") plus fillers ("пожалуйста",
   "please", "нет", "спасибо", "not interested", ...), with at least one short stop.

So "СТОП!!!", "🛑", "stop please", "Не пишите больше" and "это спам" are stops, while "Стоп, а можно на пятницу?"
(a short word followed by a real question) and "cancel my appointment" are not: a bare short stop word only counts
when nothing else is said. When in doubt we let a human read the reply rather than silently unsubscribe someone
asking a question.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PHRASES_FILE = Path(__file__).with_name("stop_phrases.yml")

_CLAUSE_BREAK = re.compile(r"[.,!?;:…\n\r()\[\]{}«»\"“”„|/\\]|[—–]|\s-+\s")
_SLOTS = ("{stop}", "{channel}")
_LATIN, _CYRILLIC = "latin", "cyrillic"

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class _Word:
    text: str
    clause_start: bool  # punctuation (or the start of the reply) comes right before this word


@dataclass(frozen=True)
class Alphabet:
    """What normalising needs: the look-alike letters both ways, the stop-sign emoji, every word the file knows."""

    to_cyrillic: dict[str, str]
    to_latin: dict[str, str]
    stop_signs: frozenset[str]
    vocabulary: frozenset[str]


@dataclass(frozen=True)
class StopPhrases:
    """The wording of ``stop_phrases.yml``, normalised like replies are; slots stay as "{stop}"/"{channel}"."""

    alphabet: Alphabet
    stop_words: frozenset[str]
    channels: frozenset[str]
    strong: tuple[Phrase, ...]
    short: tuple[Phrase, ...]
    fillers: tuple[Phrase, ...]
    negators: tuple[Phrase, ...]
    rhetorical: frozenset[str]


@cache
def stop_phrases() -> StopPhrases:
    """The phrase file, read and normalised once per process."""
    raw = yaml.safe_load(PHRASES_FILE.read_text(encoding="utf-8"))
    to_cyrillic = {str(k): str(v) for k, v in raw["lookalikes"].items()}
    alphabet = Alphabet(
        to_cyrillic=to_cyrillic,
        to_latin={v: k for k, v in to_cyrillic.items()},
        stop_signs=frozenset(_strings(raw, "stop_signs")),
        vocabulary=frozenset(
            word.casefold().replace("ё", "е")
            for key in ("stop_words", "channels", "strong", "short", "fillers", "negators", "rhetorical")
            for entry in _strings(raw, key)
            for word in entry.split()
            if word not in _SLOTS
        ),
    )

    def phrases(key: str) -> tuple[Phrase, ...]:
        return tuple(_phrase(entry, alphabet) for entry in _strings(raw, key))

    def words(key: str) -> frozenset[str]:
        return frozenset(word for phrase in phrases(key) for word in phrase)

    return StopPhrases(
        alphabet=alphabet,
        stop_words=words("stop_words") | alphabet.stop_signs,
        channels=words("channels"),
        strong=phrases("strong"),
        short=phrases("short"),
        fillers=phrases("fillers"),
        negators=phrases("negators"),
        rhetorical=words("rhetorical"),
    )


def _strings(raw: dict, key: str) -> list[str]:
    """The entries under `key`, refusing anything YAML did not read as text (an unquoted `no` is False)."""
    entries = raw[key]
    bad = [e for e in entries if not isinstance(e, str)]
    if bad:
        raise ValueError(f"{PHRASES_FILE.name}: {key} holds non-text entries {bad!r}; quote them")
    return entries


def _phrase(entry: str, alphabet: Alphabet) -> Phrase:
    """An entry as a tuple of normalised words; slots stay as they are."""
    words: list[str] = []
    for part in entry.split():
        words.extend([part] if part in _SLOTS else [w.text for w in _words(part, alphabet)])
    return tuple(words)


# --- normalising ---------------------------------------------------------------------------------------------------


def normalise_reply(text: str) -> str:
    """Casefold, ё -> е, look-alikes folded, punctuation and other emoji removed: the form the rules are written in."""
    return " ".join(w.text for w in _words(text or "", stop_phrases().alphabet))


def _words(text: str, alphabet: Alphabet) -> list[_Word]:
    """The reply's words in order, each marked when a clause break precedes it."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).replace("ё", "е")
    signs = "".join(sorted(alphabet.stop_signs))
    token = re.compile(rf"[^\W_]+|[{re.escape(signs)}]" if signs else r"[^\W_]+")
    words: list[_Word] = []
    for clause in _CLAUSE_BREAK.split(folded):
        words.extend(_Word(m.group(), i == 0) for i, m in enumerate(token.finditer(clause)))
    return _fold_lookalikes(words, alphabet)


def _script(ch: str) -> str | None:
    if "a" <= ch <= "z":
        return _LATIN
    if "\u0430" <= ch <= "\u045f":
        return _CYRILLIC
    return None


def _anchor(ch: str, alphabet: Alphabet) -> str | None:
    """The script a letter proves: a Latin or Cyrillic letter that has no look-alike in the other script."""
    script = _script(ch)
    if script == _LATIN and ch not in alphabet.to_cyrillic or script == _CYRILLIC and ch not in alphabet.to_latin:
        return script
    return None


def _fold_lookalikes(words: list[_Word], alphabet: Alphabet) -> list[_Word]:
    """Each word written in one script where its letters allow it (see the module docstring)."""
    anchors = [[a for ch in w.text if (a := _anchor(ch, alphabet))] for w in words]
    latin, cyrillic = (sum(set(a) == {script} for a in anchors) for script in (_LATIN, _CYRILLIC))
    dominant = _LATIN if latin > cyrillic else _CYRILLIC if cyrillic > latin else None
    out = []
    for word, anchor in zip(words, anchors):
        if len(set(anchor)) == 1:
            text = _to_script(word.text, anchor[0], alphabet)
        elif not anchor:
            text = _fold_unanchored(word.text, dominant, alphabet)
        else:
            text = word.text  # letters only one script has, from both: nothing to fold
        out.append(_Word(text, word.clause_start))
    return out


def _fold_unanchored(text: str, dominant: str | None, alphabet: Alphabet) -> str:
    """A word of look-alikes only: the reply's script; alone, a known word or the script most of its letters use."""
    if dominant:
        return _to_script(text, dominant, alphabet)
    scripts = [s for ch in text if (s := _script(ch))]
    if len(set(scripts)) < 2:
        return text
    candidates = [_to_script(text, s, alphabet) for s in (_CYRILLIC, _LATIN)]
    known = [c for c in candidates if c in alphabet.vocabulary]
    if known:
        return known[0]
    return candidates[0] if scripts.count(_CYRILLIC) >= scripts.count(_LATIN) else candidates[1]


def _to_script(text: str, script: str, alphabet: Alphabet) -> str:
    """`text` with every look-alike written in `script`; a 0 among letters is the letter o, when no other digit is."""
    mapping = alphabet.to_cyrillic if script == _CYRILLIC else alphabet.to_latin
    folded = "".join(mapping.get(ch, ch) for ch in text)
    if "0" in folded and any(ch.isalpha() for ch in folded) and not any(ch.isdigit() and ch != "0" for ch in folded):
        folded = folded.replace("0", "о" if script == _CYRILLIC else "o")
    return folded


# --- matching ------------------------------------------------------------------------------------------------------


def _is(word: str, token: str, phrases: StopPhrases) -> bool:
    if token == "{stop}":
        return word in phrases.stop_words
    if token == "{channel}":
        return word in phrases.channels
    return word == token


def _is_filler(word: str, phrases: StopPhrases) -> bool:
    return (word,) in phrases.fillers


def _match(phrase: Phrase, words: list[_Word], start: int, phrases: StopPhrases) -> int | None:
    """The index after `phrase` when it begins at `start` (fillers may sit between its words), else None."""
    i = start
    for k, token in enumerate(phrase):
        if k:
            while i < len(words) and not _is(words[i].text, token, phrases) and _is_filler(words[i].text, phrases):
                i += 1
        if i >= len(words) or not _is(words[i].text, token, phrases):
            return None
        i += 1
    return i


def _negated(words: list[_Word], start: int, phrases: StopPhrases) -> bool:
    """A negator ends right before `start` (fillers aside) within the same clause, and no "why" comes before it."""
    end = start
    while end > 0 and not words[end].clause_start and _is_filler(words[end - 1].text, phrases):
        end -= 1
    if words[end].clause_start:
        return False
    for negator in phrases.negators:
        begin = end - len(negator)
        if begin < 0 or tuple(w.text for w in words[begin:end]) != negator:
            continue
        if any(w.clause_start for w in words[begin + 1 : end + 1]):
            continue  # a clause break inside the negator or between it and the phrase
        rhetorical = begin > 0 and not words[begin].clause_start and words[begin - 1].text in phrases.rhetorical
        if not rhetorical:
            return True
    return False


def _has_strong(words: list[_Word], phrases: StopPhrases) -> bool:
    """Some strong phrase, not negated, anywhere in the reply."""
    return any(
        _match(phrase, words, start, phrases) is not None and not _negated(words, start, phrases)
        for start in range(len(words))
        for phrase in phrases.strong
    )


def _only_short_stops(words: list[_Word], phrases: StopPhrases) -> bool:
    """Every word belongs to a short stop phrase or a filler, and at least one short stop is present."""
    i, found = 0, False
    while i < len(words):
        ends = [e for p in phrases.short if (e := _match(p, words, i, phrases)) is not None]
        if ends:
            i, found = max(ends), True
            continue
        fillers = [e for p in phrases.fillers if (e := _match(p, words, i, phrases)) is not None]
        if not fillers:
            return False
        i = max(fillers)
    return found


def is_stop_reply(text: str | None) -> bool:
    """True when the reply asks us to stop messaging (see the module docstring for the exact rule)."""
    if not text:
        return False
    phrases = stop_phrases()
    words = _words(text, phrases.alphabet)
    return bool(words) and (_has_strong(words, phrases) or _only_short_stops(words, phrases))
