"""The channel contract: the message the outbox hands over, what comes back, and the channel settings."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

logger = logging.getLogger("reactivation.channels")

CHANNEL_NAMES = ("log", "webhook", "whatsapp", "yclients_sms")  # yclients_sms reads YClientsSettings


@dataclass(frozen=True)
class OutgoingMessage:
    """One reactivation message for one client; `message_key` is the outbox's deterministic key."""

    message_key: str
    company_id: int
    client_id: int
    phone: str  # E.164 with "+", e.g. "+79161234567"
    text: str
    locale: str  # "ru" | "en"
    tone: str  # gentle | offer | win_back
    client_first_name: str
    service_title: str
    company_name: str
    booking_url: str | None


@dataclass(frozen=True)
class SendResult:
    """What the provider said. `retryable`: a later outbox run may try again; otherwise give the message up."""

    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None  # short and safe: never a token, secret or full phone
    retryable: bool = False


class Channel(Protocol):
    """A delivery channel. `idempotent`: re-sending the same message_key never yields a second delivery."""

    name: str
    idempotent: bool

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ChannelSettings:
    """Which channel delivers and how to reach it; secrets stay out of repr."""

    channel: str = "log"
    log_path: Path = Path("outbox_log.jsonl")
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    whatsapp_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    whatsapp_phone_number_id: str | None = None
    whatsapp_token: str | None = field(default=None, repr=False)
    whatsapp_template_prefix: str = "reactivation"  # template name = f"{prefix}_{tone}"
    timeout_seconds: float = 10.0
    max_attempts: int = 4  # per send() call, for transient errors

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    @classmethod
    def from_env(cls) -> ChannelSettings:
        """Read the settings from the environment; blank variables count as unset."""
        channel = (_env("REACTIVATION_CHANNEL") or "log").lower()
        if channel not in CHANNEL_NAMES:
            raise ValueError(f"REACTIVATION_CHANNEL must be one of {', '.join(CHANNEL_NAMES)}, not {channel!r}")
        defaults = cls()
        return cls(
            channel=channel,
            log_path=Path(_env("REACTIVATION_LOG_CHANNEL_PATH") or defaults.log_path),
            webhook_url=_env("REACTIVATION_WEBHOOK_URL"),
            webhook_secret=_env("REACTIVATION_WEBHOOK_SECRET"),
            whatsapp_base_url=_env("WHATSAPP_BASE_URL") or defaults.whatsapp_base_url,
            whatsapp_api_version=_env("WHATSAPP_API_VERSION") or defaults.whatsapp_api_version,
            whatsapp_phone_number_id=_env("WHATSAPP_PHONE_NUMBER_ID"),
            whatsapp_token=_env("WHATSAPP_TOKEN"),
            whatsapp_template_prefix=_env("REACTIVATION_WHATSAPP_TEMPLATE_PREFIX") or defaults.whatsapp_template_prefix,
        )


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def required(value: str | None, env_var: str, channel: str) -> str:
    """A setting the channel cannot work without; the error names the variable, never a value."""
    if not value:
        raise ValueError(f"{env_var} is required for the {channel} channel")
    return value


def mask_phone(phone: str | None) -> str:
    """Mask a phone for logs: "+79161234567" -> "+7916*****67".

    Country codes vary in length, so "country code + 3" is taken as the first four digits; numbers shorter
    than eight digits keep only their last two, so no log line ever carries a whole number.
    """
    if not phone or not phone.strip():
        return "<none>"
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return "***"
    plus = "+" if phone.strip().startswith("+") else ""
    head = digits[:4] if len(digits) >= 8 else ""
    tail = digits[-2:] if len(digits) > 4 else ""
    return plus + head + "*" * (len(digits) - len(head) - len(tail)) + tail


def iso_utc(timestamp: float) -> str:
    """A unix timestamp as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def log_result(label: str, result: SendResult) -> None:
    """One summary line per send() call; `label` already carries the masked phone."""
    if result.accepted:
        logger.info("%s: accepted (%s)", label, result.provider_message_id)
    else:
        logger.warning("%s: not accepted: %s (retryable=%s)", label, result.error, result.retryable)
