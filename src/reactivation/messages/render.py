"""Template texts: one Jinja2 file per locale × tone × variant, rendered strictly so a typo fails loudly."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reactivation.messages.model import MessageRequest, normalize_locale
from reactivation.messages.sms import fits

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


def template_name(request: MessageRequest, sms: bool = False) -> str:
    """The template file for a request, relative to TEMPLATES_DIR; `sms`: its short SMS form (`.sms.j2`)."""
    return f"{request.language}/{request.tone}_{request.variant}.{'sms' if sms else 'txt'}.j2"


def render_template(request: MessageRequest, sms: bool = False) -> str:
    """The template text for a request: greeting, business, service, booking hint and the opt-out line.

    `sms`: the SMS form, meant to fit MAX_SEGMENTS; when long names push it over, the service and then the first
    name are left out (the business, the booking link and the opt-out line always stay).
    """
    if not sms:
        return _render(template_name(request), request, with_service=True, with_name=True)
    text = ""
    for with_service, with_name in ((True, True), (False, True), (False, False)):
        text = _render(template_name(request, sms=True), request, with_service=with_service, with_name=with_name)
        if fits(text):
            break
    return text


def _render(name: str, request: MessageRequest, *, with_service: bool, with_name: bool) -> str:
    return (
        _environment()
        .get_template(name)
        .render(
            first_name=first_name(request.client_name, request.locale) if with_name else "",
            service=(request.service_title or "").strip() if with_service else "",
            business=request.company_name.strip(),
            days_since=request.days_since,
            booking_url=(request.booking_url or "").strip(),
            master=(request.master or "").strip(),
        )
        .strip()
    )
