"""In-call retries shared by the HTTP channels: each attempt says whether another one is safe and useful."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from reactivation.channels.base import SendResult, logger

MAX_RETRY_AFTER_SECONDS = 30.0  # a provider asking for longer waits for a later outbox run instead
backoff = wait_exponential(multiplier=0.5, max=8)  # 0.5 s, 1 s, 2 s, ...


@dataclass(frozen=True)
class Attempt:
    """How one HTTP attempt ended; `again` asks for another attempt within the same send() call."""

    result: SendResult
    again: bool = False
    retry_after: float | None = None  # seconds the provider asked us to wait (Retry-After)


def run_attempts(
    attempt: Callable[[], Attempt], *, max_attempts: int, sleep: Callable[[float], None], label: str
) -> SendResult:
    """Call `attempt` until it no longer asks for another try or `max_attempts` is reached."""
    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=_wait,
        retry=retry_if_result(lambda outcome: outcome.again),
        sleep=sleep,
        before_sleep=lambda state: _log_retry(label, state),
        retry_error_callback=_exhausted,
    )
    return retrying(attempt).result


def _last(state: RetryCallState) -> Attempt:
    assert state.outcome is not None  # tenacity sets it before calling wait, before_sleep and the callback
    return state.outcome.result()


def _wait(state: RetryCallState) -> float:
    """Retry-After when the provider gave one (capped), exponential backoff otherwise."""
    retry_after = _last(state).retry_after
    return min(retry_after, MAX_RETRY_AFTER_SECONDS) if retry_after is not None else backoff(state)


def _exhausted(state: RetryCallState) -> Attempt:
    last = _last(state)
    count = state.attempt_number
    error = f"{last.result.error} after {count} attempt{'s' if count != 1 else ''}"
    return replace(last, result=replace(last.result, error=error))


def _log_retry(label: str, state: RetryCallState) -> None:
    delay = state.next_action.sleep if state.next_action else 0.0
    logger.info(
        "%s: attempt %d failed (%s), retrying in %.1fs", label, state.attempt_number, _last(state).result.error, delay
    )
