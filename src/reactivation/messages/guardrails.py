"""Checks every text must pass before it is sent, whoever wrote it; each failure has a short reason code."""

from __future__ import annotations

import re

from reactivation.messages.gemini import OPT_OUT
from reactivation.messages.model import MessageRequest
from reactivation.messages.render import first_name

# Unfilled template or format slots: {{ x }}, {% x %}, ${x}, {name}, [name], <name>, %s, %(name)s.
_PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{%|%\}|\$\{|\{[^{}\n]{1,40}\}|\[[^\[\]\n]{1,40}\]|<[^<>\n]{1,40}>|%(?:\([a-z_]+\))?[sd]\b",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
MIN_CYRILLIC_SHARE_RU = 0.5


def check_guardrails(text: str, request: MessageRequest, max_chars: int) -> str | None:
    """None when `text` may be sent for `request`, else the first failing reason code.

    Codes: empty, too_long, placeholder, no_opt_out, wrong_language, no_business_name.
    """
    if not text.strip():
        return "empty"
    if len(text) > max_chars:
        return "too_long"
    if _PLACEHOLDER.search(text):
        return "placeholder"
    if not _has_opt_out(text, request.language):
        return "no_opt_out"
    if not _language_matches(text, request):
        return "wrong_language"
    if not _mentions(text, request.company_name):
        return "no_business_name"
    return None


def _has_opt_out(text: str, language: str) -> bool:
    """The language's opt-out sentence is there word for word (runs of whitespace aside).

    A bare "стоп"/"stop" is not enough: a service called "Стоп-целлюлит" would otherwise pass a text that never tells
    the client how to opt out. The sentence is the one the templates end with and the prompt asks Gemini to copy.
    """
    return _spaced(OPT_OUT[language]) in _spaced(text)


def _language_matches(text: str, request: MessageRequest) -> bool:
    """Russian text is mostly Cyrillic; English text has no Cyrillic. Names and links are not language."""
    prose = _without_names(text, request)
    letters = [ch for ch in prose if ch.isalpha()]
    cyrillic = sum(1 for ch in letters if _CYRILLIC.match(ch))
    if request.language == "en":
        return cyrillic == 0
    return bool(letters) and cyrillic / len(letters) >= MIN_CYRILLIC_SHARE_RU


def _without_names(text: str, request: MessageRequest) -> str:
    """`text` minus links and the business, service and client names, which keep their own script."""
    prose = _URL.sub(" ", text)
    names = (
        request.company_name,
        request.service_title,
        request.client_name,
        first_name(request.client_name, request.locale),
    )
    for name in sorted((n.strip() for n in names if n and n.strip()), key=len, reverse=True):
        prose = re.sub(re.escape(name), " ", prose, flags=re.IGNORECASE)
    return prose


def _mentions(text: str, name: str) -> bool:
    """`name` appears in `text`, ignoring case and runs of whitespace."""
    return _squash(name) in _squash(text)


def _squash(text: str) -> str:
    return _spaced(text).casefold()


def _spaced(text: str) -> str:
    return " ".join(text.split())
