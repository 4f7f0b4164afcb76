"""WhatsApp Cloud API channel (Meta Graph API, `POST /{version}/{phone_number_id}/messages`).

Business-initiated messages must be an approved message template: free-form text is only allowed inside the
24-hour customer service window that opens when the client writes first, and a reactivation message is never
inside one. So `message.text` is not sent; the template `{prefix}_{tone}` receives four body parameters:
first name, service, company, and the booking link (or a locale's "reply to this message" when there is none).
WhatsApp rejects an empty parameter (error 100), so an empty or blank one is replaced by the locale's neutral
word from `PARAMETER_FALLBACKS` (en: "there", "your service", "our salon"; ru: "клиент", "услуга", "наш салон"),
chosen to read naturally in a template like "Hi {{1}}, time for {{2}} at {{3}}? {{4}}".

The Cloud API has no idempotency key, so this channel is not idempotent and never repeats a request that may
have reached Meta: only failures to connect are retried within send(), plus 5xx replies (Meta does not process
those). A read timeout has an unknown outcome and is given up rather than risk a duplicate message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from reactivation.channels.base import ChannelSettings, OutgoingMessage, SendResult, log_result, mask_phone, required
from reactivation.channels.retry import Attempt, run_attempts

AUTH_FAILED = "auth failed (check WHATSAPP_TOKEN)"
UNKNOWN_OUTCOME = "timeout: outcome unknown, not retried to avoid a duplicate"
AUTH_ERROR_CODE = 190
PER_CLIENT_ERRORS = {  # Graph error code -> why; give up on this client's message, carry on with the others
    131049: "marketing message cap for this user",
    130429: "rate limit hit",
    131056: "pair rate limit",
    80007: "account rate limit",
}
LANGUAGE_CODES = {"ru": "ru", "en": "en"}
# Per locale, in parameter order: what stands in for a missing first name, service title, company name, booking link
PARAMETER_FALLBACKS: dict[str, tuple[str, str, str, str]] = {
    "ru": ("клиент", "услуга", "наш салон", "ответьте на это сообщение"),
    "en": ("there", "your service", "our salon", "reply to this message"),
}
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # no request bytes left us
E164 = re.compile(r"\+\d{8,15}")


class WhatsAppChannel:
    """Sends each message as a WhatsApp template message through the Cloud API."""

    name = "whatsapp"
    idempotent = False

    def __init__(self, settings: ChannelSettings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        phone_number_id = required(settings.whatsapp_phone_number_id, "WHATSAPP_PHONE_NUMBER_ID", self.name)
        self._token = required(settings.whatsapp_token, "WHATSAPP_TOKEN", self.name)
        base_url = settings.whatsapp_base_url.rstrip("/")
        self._url = f"{base_url}/{settings.whatsapp_api_version}/{phone_number_id}/messages"
        self._template_prefix = settings.whatsapp_template_prefix
        self._max_attempts = settings.max_attempts
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=settings.timeout_seconds, headers={"Authorization": f"Bearer {self._token}"}
        )
        self.fatal_error: str | None = None  # set on an auth failure: every further send would fail too

    def send(self, message: OutgoingMessage) -> SendResult:
        label = f"whatsapp {message.message_key} to {mask_phone(message.phone)}"
        if self.fatal_error:
            return SendResult(accepted=False, error=self.fatal_error, retryable=True)
        if not E164.fullmatch(message.phone):
            result = SendResult(accepted=False, error="phone is not E.164 (+ and 8-15 digits)")
        else:
            payload = template_payload(message, self._template_prefix)
            result = run_attempts(
                lambda: self._attempt(payload), max_attempts=self._max_attempts, sleep=self._sleep, label=label
            )
        log_result(label, result)
        return result

    def close(self) -> None:
        self._client.close()

    def _attempt(self, payload: dict[str, Any]) -> Attempt:
        try:
            response = self._client.post(self._url, json=payload)
        except NOT_SENT_ERRORS as exc:
            error = f"connection error ({type(exc).__name__})"
            return Attempt(SendResult(accepted=False, error=error, retryable=True), again=True)
        except httpx.TimeoutException:
            return Attempt(SendResult(accepted=False, error=UNKNOWN_OUTCOME))
        except httpx.TransportError as exc:  # reset or closed mid-exchange: Meta may have the message
            error = f"{type(exc).__name__}: outcome unknown, not retried to avoid a duplicate"
            return Attempt(SendResult(accepted=False, error=error))
        return self._classify(response)

    def _classify(self, response: httpx.Response) -> Attempt:
        status = response.status_code
        if response.is_success:
            return Attempt(SendResult(accepted=True, provider_message_id=_message_id(response)))
        error = _graph_error(response)
        code = error.get("code")
        if status in (401, 403) or code == AUTH_ERROR_CODE:
            self.fatal_error = AUTH_FAILED
            return Attempt(SendResult(accepted=False, error=AUTH_FAILED, retryable=True))
        if code in PER_CLIENT_ERRORS:
            return Attempt(SendResult(accepted=False, error=f"whatsapp error {code}: {PER_CLIENT_ERRORS[code]}"))
        if status >= 500:
            return Attempt(SendResult(accepted=False, error=f"http {status}", retryable=True), again=True)
        detail = str(error.get("message", ""))[:120].replace(self._token, "***")
        return Attempt(SendResult(accepted=False, error=f"http {status} whatsapp error {code}: {detail}"))


def template_payload(message: OutgoingMessage, template_prefix: str) -> dict[str, Any]:
    """The Cloud API body for `message`: template `{prefix}_{tone}` with its four body parameters, none empty."""
    values = (message.client_first_name, message.service_title, message.company_name, message.booking_url)
    fallbacks = PARAMETER_FALLBACKS.get(message.locale, PARAMETER_FALLBACKS["en"])
    parameters = [_param(value or "") or fallback for value, fallback in zip(values, fallbacks, strict=True)]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.phone.removeprefix("+"),
        "type": "template",
        "template": {
            "name": f"{template_prefix}_{message.tone}",
            "language": {"code": LANGUAGE_CODES.get(message.locale, message.locale)},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}],
        },
    }


def _param(value: str) -> str:
    """Template parameters may not hold newlines, tabs or runs of spaces."""
    return " ".join(value.split())


def _graph_error(response: httpx.Response) -> dict[str, Any]:
    """The Graph API `error` object, or {} when the reply is not one (a proxy's HTML page, say)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _message_id(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["messages"][0]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
