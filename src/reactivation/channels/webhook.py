r"""Webhook channel: a signed JSON POST to the business's own endpoint (CRM, chat bot, SMS gateway).

Every attempt of one send() carries the same body and `Idempotency-Key`, with a fresh `X-Reactivation-Timestamp`
(unix seconds) and `X-Reactivation-Signature: sha256=<hex HMAC-SHA256(secret, signed)>`, where `signed` is
these bytes, UTF-8, joined by line feeds:

    {X-Reactivation-Timestamp}\n{Idempotency-Key}\n{raw body}

Receivers check it with `verify_signature` and deduplicate on the key, which makes re-sends safe. The key is
signed because receivers act on it: a swapped key would make one message look like a duplicate of another, or
a re-send look new. A header value cannot hold a line feed, so no part can spill into the next.

The URL must be https://; plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), where
nothing on the network can read the message or the phone number in it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Callable

import httpx

from reactivation.channels.base import (
    ChannelSettings,
    OutgoingMessage,
    SendResult,
    iso_utc,
    log_result,
    mask_phone,
    required,
)
from reactivation.channels.retry import Attempt, run_attempts

SIGNATURE_PREFIX = "sha256="
AUTH_FAILED = "auth failed (check REACTIVATION_WEBHOOK_SECRET)"
LOOPBACK_NAMES = frozenset({"localhost"})


def sign(secret: str, timestamp: int, idempotency_key: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` under `idempotency_key`."""
    if "\n" in idempotency_key or "\r" in idempotency_key:
        raise ValueError("an Idempotency-Key cannot hold a line break")
    signed = f"{timestamp}\n{idempotency_key}\n".encode() + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    idempotency_key: str | None,
    body_bytes: bytes,
    signature_header: str | None,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """For receivers: True when the signature matches the key and the raw body, and the timestamp is fresh."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_seconds or not idempotency_key:
        return False
    try:
        expected = sign(secret, ts, idempotency_key, body_bytes)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), (signature_header or "").encode())


class WebhookChannel:
    """POSTs each message as signed JSON; retries transient failures within one send() call."""

    name = "webhook"
    idempotent = True

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = _checked_url(required(settings.webhook_url, "REACTIVATION_WEBHOOK_URL", self.name))
        self._secret = required(settings.webhook_secret, "REACTIVATION_WEBHOOK_SECRET", self.name)
        self._max_attempts = settings.max_attempts
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(timeout=settings.timeout_seconds)
        self.fatal_error: str | None = None  # set when the receiver rejects our signature: stop the run

    def send(self, message: OutgoingMessage) -> SendResult:
        label = f"webhook {message.message_key} to {mask_phone(message.phone)}"
        if self.fatal_error:
            return SendResult(accepted=False, error=self.fatal_error, retryable=True)
        body = _body(message, self._clock())
        result = run_attempts(
            lambda: self._attempt(message.message_key, body),
            max_attempts=self._max_attempts,
            sleep=self._sleep,
            label=label,
        )
        log_result(label, result)
        return result

    def close(self) -> None:
        self._client.close()

    def _attempt(self, key: str, body: bytes) -> Attempt:
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "X-Reactivation-Timestamp": str(timestamp),
            "X-Reactivation-Signature": sign(self._secret, timestamp, key, body),
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException:
            return _transient("timeout")
        except httpx.TransportError as exc:  # the class name only: messages can carry the URL
            return _transient(f"connection error ({type(exc).__name__})")
        return self._classify(response, key)

    def _classify(self, response: httpx.Response, key: str) -> Attempt:
        status = response.status_code
        if response.is_success:
            return Attempt(SendResult(accepted=True, provider_message_id=_reply_id(response) or key))
        if status in (401, 403):
            self.fatal_error = AUTH_FAILED
            return Attempt(SendResult(accepted=False, error=AUTH_FAILED, retryable=True))
        if status == 429:
            return _transient(f"http {status}", _retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            return _transient(f"http {status}")
        return Attempt(SendResult(accepted=False, error=f"http {status}"))


def _checked_url(url: str) -> str:
    """Reject a URL that is not https (or http to this machine), without echoing it (it may hold a token)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("REACTIVATION_WEBHOOK_URL must be an http(s) URL")
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        raise ValueError(
            "REACTIVATION_WEBHOOK_URL must be https:// "
            "(plain http only to a loopback host: 127.0.0.0/8, ::1, localhost)"
        )
    return url


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: names are not resolved, so a DNS name pointing at 127.0.0.1 does not count."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _body(message: OutgoingMessage, now: float) -> bytes:
    """The request body, serialised once so every attempt sends the same bytes."""
    payload = {
        "message_key": message.message_key,
        "company_id": message.company_id,
        "client_id": message.client_id,
        "phone": message.phone,
        "text": message.text,
        "locale": message.locale,
        "tone": message.tone,
        "sent_at": iso_utc(now),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _transient(error: str, retry_after: float | None = None) -> Attempt:
    return Attempt(SendResult(accepted=False, error=error, retryable=True), again=True, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in delta-seconds; the HTTP-date form falls back to our own backoff."""
    try:
        return float(max(0, int((value or "").strip())))
    except ValueError:
        return None


def _reply_id(response: httpx.Response) -> str | None:
    try:
        reply = response.json()
    except ValueError:
        return None
    reply_id = reply.get("id") if isinstance(reply, dict) else None
    return str(reply_id) if reply_id not in (None, "") else None
