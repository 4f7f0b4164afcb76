"""A rolling-window request limiter driven by injected clock and sleep, so tests run on a fake clock."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` acquisitions in any `window` seconds; the first `limit` go through immediately."""

    def __init__(
        self, limit: int, clock: Callable[[], float], sleep: Callable[[float], None], window: float = 60.0
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds until the next acquisition is allowed (0 when it is allowed now)."""
        now = self._clock()
        while self._starts and self._starts[0] <= now - self._window:
            self._starts.popleft()
        if len(self._starts) < self._limit:
            return 0.0
        return self._starts[0] + self._window - now

    def acquire(self) -> None:
        """Wait until a request may start, then record it as started."""
        while (delay := self.wait_time()) > 0:
            self._sleep(delay)
        self._starts.append(self._clock())
