"""Reactivation message texts: Jinja2 templates per tone × variant × locale, or Gemini with guardrails.

Gemini is used only when a key is configured; each client whose AI text is missing, late or fails a guardrail
falls back to its template, with the reason recorded.
"""

from reactivation.messages.compose import compose_messages
from reactivation.messages.guardrails import check_guardrails
from reactivation.messages.model import (
    LOCALES,
    TONES,
    VARIANTS,
    ComposedMessage,
    ComposeSettings,
    ComposeStats,
    MessageRequest,
)
from reactivation.messages.render import first_name, render_template

__all__ = [
    "LOCALES",
    "TONES",
    "VARIANTS",
    "ComposeSettings",
    "ComposeStats",
    "ComposedMessage",
    "MessageRequest",
    "check_guardrails",
    "compose_messages",
    "first_name",
    "render_template",
]
