"""A polite YClients REST client: one shared request budget, retries with backoff, clear errors, no secrets leaked.

Every answer is the API's envelope `{success, data, meta}`. A 429, a 5xx, a timeout, a dropped connection and a
malformed answer (not JSON, `success` not true, `data` of the wrong shape) are retried with exponential backoff,
honouring `Retry-After` up to a cap; a 401/403 fails at once naming the token YClients refused. Tokens travel
only in the Authorization header, so URLs in logs, errors and rejects never carry them.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from reactivation.messages.ratelimit import RateLimiter
from reactivation.yclients.config import YClientsConfigError, YClientsSettings

logger = logging.getLogger("reactivation.yclients")

ACCEPT = "application/vnd.yclients.v2+json"
AUTH_PATH = "/auth"
_backoff = wait_exponential(multiplier=0.5, max=30)  # 0.5 s, 1 s, 2 s, ... unless the API says how long


class RequestBudget:
    """YClients' limits per IP: at most `per_second` requests in any second and `per_minute` in any minute."""

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._windows = (RateLimiter(per_second, clock, sleep, window=1.0), RateLimiter(per_minute, clock, sleep))
        self._sleep = sleep
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until both windows have room, then count the request in both (threads queue up here)."""
        with self._lock:
            while (delay := max(window.wait_time() for window in self._windows)) > 0:
                self._sleep(delay)
            for window in self._windows:
                window.acquire()


_budgets_lock = threading.Lock()
_process_budgets: dict[tuple[int, int], RequestBudget] = {}


def process_budget(per_second: int, per_minute: int) -> RequestBudget:
    """The one budget every client of this process shares (YClients counts requests per IP)."""
    with _budgets_lock:
        return _process_budgets.setdefault((per_second, per_minute), RequestBudget(per_second, per_minute))


class YClientsError(RuntimeError):
    """YClients could not be read; the message says where and why, never a token."""


class YClientsAuthError(YClientsError):
    """YClients refused a token (401/403) or the login; retrying cannot help."""


class MalformedPage(YClientsError):
    """An answer that is not the API's envelope, still malformed after every retry; callers may skip it."""

    def __init__(self, url: str, reason: str, content: str) -> None:
        super().__init__(f"malformed answer from {url}: {reason}")
        self.url = url
        self.reason = reason
        self.content = content


class _Transient(Exception):
    """A failure worth another attempt (429, 5xx, timeout, connection)."""

    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Page:
    """One answer: its `data`, its `meta` and the URL it came from (without tokens)."""

    data: Any
    url: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def total_count(self) -> int | None:
        try:
            return int(self.meta["total_count"])
        except (KeyError, TypeError, ValueError):
            return None


class YClientsClient:
    """The endpoints the sync reads; all calls share the process's request budget unless one is injected."""

    def __init__(
        self,
        settings: YClientsSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        budget: RequestBudget | None = None,
    ) -> None:
        if not settings.partner_token:
            raise YClientsConfigError("YCLIENTS_PARTNER_TOKEN is not set")
        if not settings.user_token and not (settings.login and settings.password):
            raise YClientsConfigError("set YCLIENTS_USER_TOKEN, or YCLIENTS_LOGIN and YCLIENTS_PASSWORD")
        self.settings = settings
        self._user_token = settings.user_token
        self._partner_accepted = False  # set by the first success: after that a 401 with both tokens is the user's
        self._sleep = sleep
        self._budget = budget or process_budget(settings.requests_per_second, settings.requests_per_minute)
        self._http = httpx.Client(base_url=settings.base_url, timeout=settings.timeout_seconds)

    def __repr__(self) -> str:
        return f"YClientsClient({self.settings.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> YClientsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------- endpoints
    def company(self, company_id: int) -> dict[str, Any]:
        """GET /company/{id}: needs only the partner token, so it also proves that token first."""
        return self.request("GET", f"/company/{company_id}", user=False, shape=dict).data

    def services(self, company_id: int) -> list[dict[str, Any]]:
        return self.request("GET", f"/company/{company_id}/services").data

    def staff(self, company_id: int) -> list[dict[str, Any]]:
        """GET /company/{id}/staff: the company's masters, fired ones included (`fired` 1)."""
        return self.request("GET", f"/company/{company_id}/staff").data

    def service_categories(self, company_id: int) -> list[dict[str, Any]]:
        return self.request("GET", f"/company/{company_id}/service_categories").data

    def records_page(self, company_id: int, page: int, filters: dict[str, str]) -> Page:
        """GET /records/{id}: one page of records, deleted ones included, narrowed by date or change filters."""
        params = {"page": page, "count": self.settings.page_size, "with_deleted": 1, **filters}
        return self.request("GET", f"/records/{company_id}", params=params)

    def clients_search_page(self, company_id: int, page: int) -> Page:
        """POST /company/{id}/clients/search: the current client list."""
        body = {
            "page": page,
            "page_size": self.settings.page_size,
            "fields": ["id", "name", "phone", "email", "sms_not", "deleted"],
            "order_by": "id",
            "order_by_direction": "ASC",
        }
        return self.request("POST", f"/company/{company_id}/clients/search", body=body)

    def clients_legacy_page(self, company_id: int, page: int) -> Page:
        """GET /clients/{id} (deprecated by YClients): full client cards, the only list documented with sms_not."""
        return self.request("GET", f"/clients/{company_id}", params={"page": page, "count": self.settings.page_size})

    # ---------- plumbing
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        user: bool = True,
        shape: type = list,
    ) -> Page:
        """Send with retries; raises YClientsAuthError, MalformedPage or YClientsError when it cannot succeed."""
        attempts = self.settings.max_retries + 1
        headers = {"Accept": ACCEPT, "Content-Type": "application/json", "Authorization": self._authorization(user)}
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception_type((_Transient, MalformedPage)),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, path, params, body, headers, user, shape)
        except _Transient as exc:
            raise YClientsError(
                f"YClients did not answer {method} {exc.url} after {attempts} attempts: {exc.reason}"
            ) from None

    def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        headers: dict[str, str],
        user: bool,
        shape: type,
    ) -> Page:
        request = self._http.build_request(method, path, params=params, json=body, headers=headers)
        url = str(request.url)
        self._budget.acquire()
        try:
            response = self._http.send(request)
        except httpx.TimeoutException:
            raise _Transient(url, "timed out") from None
        except httpx.TransportError as exc:
            raise _Transient(url, f"connection failed ({type(exc).__name__})") from None
        return self._page(method, path, url, response, user, shape)

    def _page(self, method: str, path: str, url: str, response: httpx.Response, user: bool, shape: type) -> Page:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(url, f"HTTP {status}", _retry_after(response))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        message = self._scrub(_message(payload) or response.reason_phrase)
        if status in (401, 403):
            raise self._refused(path, user, status, message)
        if status >= 400:
            raise YClientsError(f"YClients answered {status} to {method} {url}: {message}")
        problem = _envelope_problem(payload, shape, message)
        if problem:
            raise MalformedPage(url, problem, self._scrub(response.text))
        self._partner_accepted = True
        meta = payload["meta"] if isinstance(payload.get("meta"), dict) else {}
        return Page(payload["data"], url, meta)

    def _authorization(self, user: bool) -> str:
        if not user:
            return f"Bearer {self.settings.partner_token}"
        if not self._user_token:
            self._user_token = self._log_in()
        return f"Bearer {self.settings.partner_token}, User {self._user_token}"

    def _log_in(self) -> str:
        """Exchange YCLIENTS_LOGIN / YCLIENTS_PASSWORD for a user token (POST /auth, partner token only)."""
        body = {"login": self.settings.login, "password": self.settings.password}
        data = self.request("POST", AUTH_PATH, body=body, user=False, shape=dict).data
        token = data.get("user_token")
        if not isinstance(token, str) or not token:
            raise YClientsAuthError("YClients accepted the login but returned no user token")
        logger.info("YClients: logged in, user token obtained")
        return token

    def _refused(self, path: str, user: bool, status: int, message: str) -> YClientsAuthError:
        """Name the credential YClients refused: the request's only token, or the user's once the partner's worked."""
        if path == AUTH_PATH:
            who, hint = "login and password", "YCLIENTS_LOGIN and YCLIENTS_PASSWORD"
            if not self._partner_accepted:
                who, hint = "partner token or the login and password", "YCLIENTS_PARTNER_TOKEN and " + hint
        elif not user:
            who, hint = "partner token", "YCLIENTS_PARTNER_TOKEN"
        elif self._partner_accepted:
            who = "user token"
            hint = "YCLIENTS_USER_TOKEN" if self.settings.user_token else "YCLIENTS_LOGIN and YCLIENTS_PASSWORD"
        else:
            who, hint = "partner or the user token", "YCLIENTS_PARTNER_TOKEN and YCLIENTS_USER_TOKEN"
        return YClientsAuthError(f"YClients rejected the {who} ({status}): {message}. Check {hint}.")

    def _scrub(self, text: str) -> str:
        """Blank out any credential an error text might echo, so it cannot reach a log, an exception or a reject."""
        for secret in (self.settings.partner_token, self._user_token, self.settings.password, self.settings.login):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the API gave one (capped), exponential backoff otherwise."""
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Transient) and failure.retry_after is not None:
            return min(failure.retry_after, self.settings.max_retry_after_seconds)
        return _backoff(state)


def _envelope_problem(payload: Any, shape: type, message: str) -> str | None:
    """Why an answer is not the `{success: true, data: <shape>, meta}` envelope, or None when it is."""
    if not isinstance(payload, dict):
        return "the answer is not a JSON object"
    if payload.get("success") is not True:
        return f"success is not true: {message}"
    if not isinstance(payload.get("data"), shape):
        return f"data is not a JSON {'array' if shape is list else 'object'}"
    return None


def _message(payload: Any) -> str | None:
    """The API's own error text: `meta.message` of the envelope."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    message = meta.get("message") if isinstance(meta, dict) else None
    return str(message) if message else None


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, given either as a number or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)  # HTTP dates are GMT
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    url = getattr(failure, "url", "?")
    reason = getattr(failure, "reason", failure)
    delay = state.next_action.sleep if state.next_action else 0.0
    logger.warning("YClients %s: %s (attempt %d), retrying in %.1fs", url, reason, state.attempt_number, delay)
