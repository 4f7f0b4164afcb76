"""YClients connection settings, read once from the environment (tokens come from nowhere else, never printed)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from reactivation.settings import company_settings

DEFAULT_BASE_URL = "https://api.yclients.com/api/v1"
MAX_PAGE_SIZE = 200  # the API's own cap for `count` (records) and `page_size` (clients)


class YClientsConfigError(ValueError):
    """The YClients settings are incomplete or malformed; the message names the variable, never its value."""


@dataclass(frozen=True)
class CompanyDefaults:
    """Company fields YClients does not return (locale, booking links) or that a company wants to pin.

    `staff_booking_url` is a pattern for booking with one master, e.g.
    `https://n123.yclients.com/company/{company_id}/record-type?o=m{staff_id}`.
    """

    timezone: str | None = None
    locale: str | None = None
    country: str | None = None
    booking_url: str | None = None
    staff_booking_url: str | None = None


@dataclass(frozen=True)
class YClientsSettings:
    """Where the API is, how to authenticate, and how politely and in what slices to read it."""

    partner_token: str = field(default="", repr=False)
    user_token: str = field(default="", repr=False)
    login: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    base_url: str = DEFAULT_BASE_URL
    company_ids: tuple[int, ...] = ()
    company_defaults: Mapping[int, CompanyDefaults] = field(default_factory=dict)
    requests_per_second: int = 5  # YClients allows 5 requests a second and 200 a minute per IP
    requests_per_minute: int = 200
    page_size: int = MAX_PAGE_SIZE
    backfill_chunk_days: int = 90
    overlap_minutes: int = 10
    timeout_seconds: float = 30.0
    max_retries: int = 5  # further attempts after the first, for 429, 5xx, timeouts and malformed pages
    max_retry_after_seconds: float = 60.0
    bookings_staleness_minutes: int = 120  # delivery holds a company whose bookings were last read longer ago

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise YClientsConfigError(f"the YClients page size must be between 1 and {MAX_PAGE_SIZE}")
        if min(self.requests_per_second, self.requests_per_minute, self.backfill_chunk_days) < 1:
            raise YClientsConfigError("YClients request rates and the backfill chunk must be positive")
        if self.bookings_staleness_minutes < 0:
            raise YClientsConfigError("REACTIVATION_BOOKINGS_STALENESS_MINUTES cannot be negative")
        if self.max_retries < 0:
            raise YClientsConfigError("YClients retries cannot be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> YClientsSettings:
        env = os.environ if environ is None else environ
        return cls(
            partner_token=env.get("YCLIENTS_PARTNER_TOKEN", "").strip(),
            user_token=env.get("YCLIENTS_USER_TOKEN", "").strip(),
            login=env.get("YCLIENTS_LOGIN", "").strip(),
            password=env.get("YCLIENTS_PASSWORD", ""),
            base_url=env.get("YCLIENTS_BASE_URL", DEFAULT_BASE_URL).strip().rstrip("/"),
            company_ids=_company_ids(env.get("REACTIVATION_YCLIENTS_COMPANIES", "")),
            company_defaults=_company_defaults(env.get("REACTIVATION_COMPANY_SETTINGS", "")),
            requests_per_second=_int(env, "YCLIENTS_REQUESTS_PER_SECOND", 5),
            requests_per_minute=_int(env, "YCLIENTS_REQUESTS_PER_MINUTE", 200),
            bookings_staleness_minutes=_int(env, "REACTIVATION_BOOKINGS_STALENESS_MINUTES", 120),
        )

    def defaults_for(self, company_id: int) -> CompanyDefaults:
        return self.company_defaults.get(company_id, CompanyDefaults())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise YClientsConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _company_ids(raw: str) -> tuple[int, ...]:
    """`"101, 102"` → (101, 102)."""
    try:
        return tuple(int(part) for part in raw.replace(";", ",").split(",") if part.strip())
    except ValueError:
        raise YClientsConfigError(
            f"REACTIVATION_YCLIENTS_COMPANIES must list company ids like 101,102, not {raw!r}"
        ) from None


def _company_defaults(raw: str) -> dict[int, CompanyDefaults]:
    """`{"101": {"timezone": "Europe/Moscow", "locale": "ru", ...}}` → {101: CompanyDefaults(...)}."""
    try:
        parsed = company_settings(raw)  # the one parser every reader of the variable shares
    except ValueError as exc:
        raise YClientsConfigError(str(exc)) from None
    known = CompanyDefaults.__dataclass_fields__
    return {
        company: CompanyDefaults(**{k: str(v) for k, v in fields.items() if k in known and v is not None})
        for company, fields in parsed.items()
    }
