"""Value types of message composition: what to write for whom, what came out, and how the run is tuned."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TypeVar

from reactivation import rules

# The vars `tones` and `message_variants` as this process started with them; requests are checked against the
# rules as they stand when made (reactivation.rules), the same values the models were built with.
TONES = rules.current().tones
VARIANTS = rules.current().message_variants
LOCALES = ("ru", "en")
# The rebook campaign's one tone (message_candidates): a short "time to book" note, templates rebook_<variant>
REBOOK_TONE = "rebook"
DEFAULT_LOCALE = "ru"

_Number = TypeVar("_Number", int, float)


def normalize_locale(locale: str | None) -> str:
    """The supported locale for `locale`; anything unknown is Russian, the salons' home market."""
    value = (locale or "").strip().lower()
    return value if value in LOCALES else DEFAULT_LOCALE


@dataclass(frozen=True)
class MessageRequest:
    """One client to write to (a due client, or a rebook reminder with tone `rebook`). Unknown tones or variants
    are rejected: they come from our own models."""

    message_key: str
    locale: str
    tone: str
    variant: str
    client_name: str | None
    service_title: str | None
    company_name: str
    days_since: int
    booking_url: str | None
    master: str | None = None  # the client's usual master (message_candidates.usual_staff_name), when known

    def __post_init__(self) -> None:
        current = rules.current()
        if self.tone not in (*current.tones, REBOOK_TONE):
            raise ValueError(f"tone must be one of {current.tones} (var `tones`) or {REBOOK_TONE!r}, not {self.tone!r}")
        if self.variant not in current.message_variants:
            raise ValueError(
                f"variant must be one of {current.message_variants} (var `message_variants`), not {self.variant!r}"
            )

    @property
    def language(self) -> str:
        """The locale the text is written in (`locale` normalized)."""
        return normalize_locale(self.locale)


@dataclass
class ComposedMessage:
    """The text for one request and how it was made; `prompt` is the batch prompt actually sent, if any."""

    message_key: str
    text: str
    composer: str
    fallback_reason: str | None
    prompt: str | None


@dataclass
class ComposeStats:
    """Counters for one `compose_messages` run; `requests` counts every HTTP attempt, retries included."""

    ai: int = 0
    template: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def count(self, message: ComposedMessage) -> None:
        """Add one composed message to the counters."""
        if message.composer == "ai":
            self.ai += 1
            return
        self.template += 1
        if message.fallback_reason:
            self.fallbacks[message.fallback_reason] = self.fallbacks.get(message.fallback_reason, 0) + 1


@dataclass(frozen=True)
class ComposeSettings:
    """How messages are composed. Without `gemini_api_key` every message comes from the templates."""

    gemini_api_key: str | None = field(default=None, repr=False)
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    requests_per_minute: int = 15
    clients_per_request: int = 10
    time_budget_seconds: float = 120.0
    max_chars: int = 480
    request_timeout_seconds: float = 30.0
    max_retries: int = 4

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "clients_per_request", "max_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_retries < 0 or self.time_budget_seconds < 0 or self.request_timeout_seconds <= 0:
            raise ValueError("max_retries and time_budget_seconds must be >= 0, request_timeout_seconds > 0")

    @classmethod
    def from_env(cls) -> ComposeSettings:
        """Settings from the environment; unset or empty variables keep the defaults."""
        defaults = cls()
        return cls(
            gemini_api_key=os.environ.get("GEMINI_API_KEY", "").strip() or None,
            gemini_model=os.environ.get("REACTIVATION_GEMINI_MODEL", "").strip() or defaults.gemini_model,
            gemini_base_url=os.environ.get("REACTIVATION_GEMINI_BASE_URL", "").strip() or None,
            requests_per_minute=_env_number("REACTIVATION_AI_REQUESTS_PER_MINUTE", int, defaults.requests_per_minute),
            clients_per_request=_env_number("REACTIVATION_AI_CLIENTS_PER_REQUEST", int, defaults.clients_per_request),
            time_budget_seconds=_env_number("REACTIVATION_AI_TIME_BUDGET_SECONDS", float, defaults.time_budget_seconds),
            max_chars=_env_number("REACTIVATION_MESSAGE_MAX_CHARS", int, defaults.max_chars),
        )

    @property
    def ai_enabled(self) -> bool:
        """Whether Gemini is configured at all."""
        return bool(self.gemini_api_key)


def _env_number(name: str, kind: type[_Number], default: _Number) -> _Number:
    """A numeric environment variable, with an error that names the variable instead of a bare ValueError."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
