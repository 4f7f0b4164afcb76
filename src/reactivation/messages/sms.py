"""SMS length: which encoding a text needs and how many segments (billed SMS parts) it takes.

A text made only of GSM 03.38 characters is sent as GSM-7: 160 septets in a single SMS, 153 per segment once it
is split (the rest carries the concatenation header). An extension character (`^ { } \\ [ ~ ] | €` and form
feed) takes two septets, an escape and the character, and is never split across segments. Any other character
(all Cyrillic, emoji, typographic quotes and dashes) makes the whole text UCS-2: 70 UTF-16 code units single, 67
per segment, a surrogate pair kept whole.
"""

from __future__ import annotations

GSM7, UCS2 = "GSM-7", "UCS-2"
MAX_SEGMENTS = 3  # the most a reactivation SMS may take: longer texts fall back to the template's SMS form
SMS_PROMPT_MAX_CHARS = MAX_SEGMENTS * 67  # what fits MAX_SEGMENTS in any encoding (UCS-2, no emoji)
SMS_CHANNELS = frozenset({"yclients_sms"})  # channels whose texts are SMS: composed from the SMS forms

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# encoding -> (units in a single SMS, units per segment of a concatenated one)
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


def is_sms_channel(channel: str | None) -> bool:
    """Whether messages for `channel` go out as SMS (and so use the templates' SMS forms)."""
    return channel in SMS_CHANNELS


def encoding(text: str) -> str:
    """GSM-7 when every character is in the GSM 03.38 basic or extension table, UCS-2 otherwise."""
    return GSM7 if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text) else UCS2


def segments(text: str) -> int:
    """How many SMS segments `text` takes (an empty text is still one SMS)."""
    kind = encoding(text)
    units = [_units(ch, kind) for ch in text]
    single, per_segment = _LIMITS[kind]
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for size in units:  # fill segment by segment: an escape pair or a surrogate pair never straddles two
        if used + size > per_segment:
            count, used = count + 1, 0
        used += size
    return count


def fits(text: str, max_segments: int = MAX_SEGMENTS) -> bool:
    """Whether `text` takes at most `max_segments` SMS segments."""
    return segments(text) <= max_segments


def _units(ch: str, kind: str) -> int:
    if kind == GSM7:
        return 2 if ch in _GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1
