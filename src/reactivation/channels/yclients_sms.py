"""SMS through the salon's own YClients account: `POST /sms/clients/by_id/{company_id}`, one client per request.

Body `{"client_ids": [client_id], "text": text}`; the sync's settings (`YClientsSettings.from_env()`: base URL,
partner and user token or login), its headers (v2 Accept, `Bearer <partner>, User <user>`) and the process's
request budget (5 req/s, 200/min, shared with any sync in the same process). YClients sends the SMS from the
salon's balance to the phone on the client's card, so the phone never leaves us.

The endpoint has no idempotency key, so this channel is not idempotent and never repeats a request that may have
reached YClients. How answers are read:
- 2xx with `success: true`: accepted.
- 401, or a 403 that is not about SMS: a token was refused; `fatal_error` names it (from `meta.message`:
  "partner" → YCLIENTS_PARTNER_TOKEN, "user"/"пользовател" → the user token, else both) and the run stops.
- 402, or a 400/403/422 (or a 2xx with `success: false`) whose `meta.message` speaks of the balance
  ("баланс", "недостаточно средств", "insufficient funds/balance", "not enough money") or of an SMS service that
  is off ("SMS/СМС … отключ/не подключ/не настроен/disabled/not enabled"): the company is blocked for the rest of
  the run (`blocked_companies`), its messages stay pending for a later run, and it is logged once.
- 429 and 503: YClients refused before doing anything; retried with backoff, honouring Retry-After.
- any other 5xx (500, 502, 504): YClients gives no guarantee that the SMS was not queued before the error (a 504
  is its gateway giving up on a request still running), so the outcome is unknown: failed, never retried.
- any other 4xx: this client's message fails with the API's message (tokens and the phone masked).
- a failure to connect is retried; a read timeout or a connection dropped mid-exchange is "outcome unknown".
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from reactivation.channels.base import ChannelSettings, OutgoingMessage, SendResult, log_result, mask_phone
from reactivation.channels.retry import Attempt, run_attempts
from reactivation.yclients.client import (
    ACCEPT,
    AUTH_PATH,
    RequestBudget,
    YClientsClient,
    YClientsError,
    _retry_after,
    process_budget,
)
from reactivation.yclients.config import YClientsSettings

logger = logging.getLogger("reactivation.channels")

SMS_PATH = "/sms/clients/by_id/{company_id}"
UNKNOWN_OUTCOME = "outcome unknown, not retried to avoid a duplicate SMS"
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # no request bytes left us
RETRY_STATUSES = frozenset({429, 503})  # refused before any work: safe to repeat
BLOCK_STATUSES = frozenset({400, 403, 422})  # blocks the company when meta.message says balance or SMS service
_BALANCE = re.compile(
    r"баланс|недостаточно\s+(?:средств|денег)|insufficient\s+(?:funds|balance)|not\s+enough\s+(?:money|funds)"
    r"|low\s+balance",
    re.IGNORECASE,
)
_SMS_OFF = re.compile(
    r"(?:sms|смс).{0,60}?(?:отключ|не\s+подключ|не\s+настроен|недоступ|disabled|not\s+(?:enabled|connected|configured))"
    r"|(?:отключ|не\s+подключ|disabled).{0,60}?(?:sms|смс)",
    re.IGNORECASE | re.DOTALL,
)


class YClientsSmsChannel:
    """Sends each message as an SMS from the company's YClients account to the client's card."""

    name = "yclients_sms"
    idempotent = False

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        yclients: YClientsSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        budget: RequestBudget | None = None,
    ) -> None:
        config = yclients or YClientsSettings.from_env()
        # the sync's client checks the tokens are there and logs in with YCLIENTS_LOGIN when no user token is set
        self._api = YClientsClient(config, sleep=sleep, budget=budget)
        self._config = config
        self._user_token = config.user_token
        self._budget = budget or process_budget(config.requests_per_second, config.requests_per_minute)
        self._max_attempts = settings.max_attempts
        self._sleep = sleep
        self._http = httpx.Client(base_url=config.base_url, timeout=settings.timeout_seconds)
        self.fatal_error: str | None = None  # set when a token is refused: every further send would fail too
        self.blocked_companies: dict[int, str] = {}  # company → why its SMS cannot go out this run (balance, service)

    def send(self, message: OutgoingMessage) -> SendResult:
        label = f"yclients_sms {message.message_key} to {mask_phone(message.phone)}"
        if self.fatal_error:
            return SendResult(accepted=False, error=self.fatal_error, retryable=True)
        if message.company_id in self.blocked_companies:
            return SendResult(accepted=False, error=self.blocked_companies[message.company_id], retryable=True)
        try:
            authorization = self._authorization()
        except YClientsError as exc:  # the login was refused: no SMS can go out
            self.fatal_error = str(exc)
            return SendResult(accepted=False, error=self.fatal_error, retryable=True)
        body = {"client_ids": [message.client_id], "text": message.text}
        headers = {"Accept": ACCEPT, "Content-Type": "application/json", "Authorization": authorization}
        path = SMS_PATH.format(company_id=message.company_id)
        result = run_attempts(
            lambda: self._attempt(path, body, headers, message),
            max_attempts=self._max_attempts,
            sleep=self._sleep,
            label=label,
        )
        log_result(label, result)
        return result

    def close(self) -> None:
        self._http.close()
        self._api.close()

    def _authorization(self) -> str:
        if not self._user_token:
            body = {"login": self._config.login, "password": self._config.password}
            data = self._api.request("POST", AUTH_PATH, body=body, user=False, shape=dict).data
            self._user_token = str(data.get("user_token") or "")
            if not self._user_token:
                raise YClientsError("YClients accepted the login but returned no user token")
        return f"Bearer {self._config.partner_token}, User {self._user_token}"

    def _attempt(self, path: str, body: dict[str, Any], headers: dict[str, str], message: OutgoingMessage) -> Attempt:
        self._budget.acquire()
        try:
            response = self._http.post(path, json=body, headers=headers)
        except NOT_SENT_ERRORS as exc:
            error = f"connection error ({type(exc).__name__})"
            return Attempt(SendResult(accepted=False, error=error, retryable=True), again=True)
        except httpx.TimeoutException:
            return Attempt(SendResult(accepted=False, error=f"timeout: {UNKNOWN_OUTCOME}"))
        except httpx.TransportError as exc:  # reset or closed mid-exchange: YClients may have queued the SMS
            return Attempt(SendResult(accepted=False, error=f"{type(exc).__name__}: {UNKNOWN_OUTCOME}"))
        return self._classify(response, message)

    def _classify(self, response: httpx.Response, message: OutgoingMessage) -> Attempt:
        status = response.status_code
        payload = _json(response)
        detail = self._safe(_meta_message(payload) or response.reason_phrase, message)
        if response.is_success and payload.get("success") is True:
            return Attempt(SendResult(accepted=True, provider_message_id=_message_id(payload, message)))
        if status in RETRY_STATUSES:
            error = f"http {status}: {detail}"
            return Attempt(
                SendResult(accepted=False, error=error, retryable=True), again=True, retry_after=_retry_after(response)
            )
        if status == 402 or ((response.is_success or status in BLOCK_STATUSES) and _sms_blocked(detail)):
            return Attempt(self._block(message.company_id, detail))
        if status in (401, 403):
            self.fatal_error = self._refused(status, detail)
            return Attempt(SendResult(accepted=False, error=self.fatal_error, retryable=True))
        if status >= 500:
            return Attempt(SendResult(accepted=False, error=f"http {status}: {UNKNOWN_OUTCOME}"))
        return Attempt(SendResult(accepted=False, error=f"http {status} yclients: {detail}"[:160]))

    def _block(self, company_id: int, detail: str) -> SendResult:
        why = "SMS balance too low" if _BALANCE.search(detail) else "SMS service unavailable"
        reason = f"company {company_id}: {why} ({detail[:100]}); its messages wait for a later run"
        if company_id not in self.blocked_companies:
            self.blocked_companies[company_id] = reason
            logger.error("yclients_sms %s", reason)
        return SendResult(accepted=False, error=reason, retryable=True)

    def _refused(self, status: int, detail: str) -> str:
        """Name the token YClients refused, as its message says (both when it does not say)."""
        lowered = detail.casefold()
        if "partner" in lowered or "партн" in lowered:
            who, hint = "partner token", "YCLIENTS_PARTNER_TOKEN"
        elif "user" in lowered or "пользовател" in lowered:
            who = "user token"
            hint = "YCLIENTS_USER_TOKEN" if self._config.user_token else "YCLIENTS_LOGIN and YCLIENTS_PASSWORD"
        else:
            who, hint = "partner or the user token", "YCLIENTS_PARTNER_TOKEN and YCLIENTS_USER_TOKEN"
        return f"YClients rejected the {who} ({status}): {detail[:100]}. Check {hint}."

    def _safe(self, text: str, message: OutgoingMessage) -> str:
        """The API's text without any credential or the client's phone (in any spelling), on one line."""
        for secret in (self._config.partner_token, self._user_token, self._config.password, self._config.login):
            if secret:
                text = text.replace(secret, "***")
        digits = re.sub(r"\D", "", message.phone)
        if len(digits) >= 6:
            text = re.sub(r"\+?" + r"[\s\-()]*".join(digits[-10:]), mask_phone(message.phone), text)
        return " ".join(text.split())


def _sms_blocked(detail: str) -> bool:
    return bool(_BALANCE.search(detail) or _SMS_OFF.search(detail))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _meta_message(payload: dict[str, Any]) -> str | None:
    meta = payload.get("meta")
    message = meta.get("message") if isinstance(meta, dict) else None
    return str(message) if message else None


def _message_id(payload: dict[str, Any], message: OutgoingMessage) -> str:
    """YClients returns no id per SMS: its own one when `data` carries it, else company and client."""
    data = payload.get("data")
    if isinstance(data, dict) and data.get("id") is not None:
        return f"yclients-sms:{data['id']}"
    return f"yclients-sms:{message.company_id}:{message.client_id}"
