"""Template texts: one Jinja2 file per locale × tone × variant, rendered strictly so a typo fails loudly."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reactivation.messages.model import MessageRequest, normalize_locale

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Honorifics a CRM may keep in front of the given name; compared without a trailing dot, case-insensitively.
_HONORIFICS = {
    "ru": {"г-н", "г-жа", "господин", "госпожа"},
    "en": {"mr", "mrs", "ms", "miss", "mx", "dr"},
}
_EDGE_PUNCTUATION = "\"'«»“”„()[]{}<>.,;:!?*-–—"


def first_name(client_name: str | None, locale: str) -> str:
    """The given name to greet with: "Анна Смирнова" → "Анна"; "" when there is nothing name-like to use."""
    honorifics = _HONORIFICS[normalize_locale(locale)]
    for token in (client_name or "").split():
        word = token.strip(_EDGE_PUNCTUATION)
        if not word or word.casefold().rstrip(".") in honorifics:
            continue
        if not all(ch.isalpha() or ch in "-'" for ch in word):
            return ""  # a phone number or a note, not a name
        return word.title() if word.islower() or word.isupper() else word
    return ""


def lower_first(text: str) -> str:
    """Lower-case the first letter for use mid-sentence, unless the word looks like an acronym ("SPA")."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def ru_plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian noun form for `n`: 1 день, 2 дня, 5 дней, 21 день."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["lower_first"] = lower_first
    env.filters["ru_plural"] = ru_plural
    return env


def template_name(request: MessageRequest) -> str:
    """The template file for a request, relative to TEMPLATES_DIR."""
    return f"{request.language}/{request.tone}_{request.variant}.txt.j2"


def render_template(request: MessageRequest) -> str:
    """The template text for a request: greeting, business, service, booking hint and the opt-out line."""
    return (
        _environment()
        .get_template(template_name(request))
        .render(
            first_name=first_name(request.client_name, request.locale),
            service=(request.service_title or "").strip(),
            business=request.company_name.strip(),
            days_since=request.days_since,
            booking_url=(request.booking_url or "").strip(),
        )
        .strip()
    )
