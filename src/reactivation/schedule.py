"""When a reactivation message may be sent: the company's send window, open days and a per-message jitter.

Product contract
----------------
* Messages go out only inside the company's daily send window, local wall time ``[start, end)``
  (default 10:00-20:00; ``end`` is exclusive: nothing is ever scheduled at or after it).
* Never on a public holiday of the company's country (the ``holidays`` library, national public holidays)
  nor on one of the company's closed weekdays.
* Each message is scheduled at the start of the next open window plus a jitter of up to
  ``±jitter_minutes``, clipped into that window and never before "now". The jitter comes from
  ``sha256(seed)``, so the same inputs always give the same instant (tests and re-runs can check it).

Closed weekdays syntax (``SendWindow.parse``)
---------------------------------------------
Comma/semicolon/space separated, case-insensitive tokens, each either an English day name
(``mon`` ... ``sun`` or the full name ``monday`` ... ``sunday``) or an ISO weekday number
``1`` (Monday) ... ``7`` (Sunday). So ``"sat,sun"``, ``"6 7"`` and ``"Saturday; 7"`` are all the weekend;
``"0"`` is rejected because 0 means Monday in Python but nothing in ISO. Internally the set holds
Python weekdays (0 = Monday ... 6 = Sunday). Ranges (``"sat-sun"``) are not supported.

Daylight saving time
--------------------
A local wall time is turned into instants exactly, piece by piece: the UTC line around the day is cut
into stretches of constant UTC offset (the transition instants are found by bisection to the second),
and in each stretch the instants whose wall time lies in ``[start, end)`` form one interval. Hence:

* a window start (or end) inside a spring-forward gap moves to the first valid instant, i.e. the moment
  the clocks jump (London 2026-03-29, start 01:30 -> 02:00 BST; Santiago 2026-09-06, start 00:00 -> 01:00);
* in a fall-back fold the repeated wall times are open twice; a window that ends inside the fold is
  therefore two intervals that day (``next_open_window`` returns them one at a time).

``is_sendable`` uses the very same definition (local wall time of the instant), so both always agree.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

SEARCH_DAYS = 400
NO_OPEN_DAY = f"no open day within {SEARCH_DAYS} days: check closed weekdays"
MIN_SLOT = timedelta(minutes=1)

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_TOKENS = {name: i for i, name in enumerate(_DAY_NAMES)} | {name[:3]: i for i, name in enumerate(_DAY_NAMES)}
_WINDOW_RE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*[-\u2013\u2014]\s*(\d{1,2})(?::(\d{2}))?\s*$")
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
# UTC offsets in the tz database lie within -12h ... +14h; these margins bracket every instant of a local day.
_EAST_MARGIN = timedelta(hours=15)
_WEST_MARGIN = timedelta(hours=13)


@dataclass(frozen=True)
class SendWindow:
    """A company's daily send window (local wall time, ``end`` exclusive), closed weekdays and jitter."""

    start: time = time(10, 0)
    end: time = time(20, 0)
    closed_weekdays: frozenset[int] = frozenset()  # 0 = Monday ... 6 = Sunday
    jitter_minutes: int = 120

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("send window times are local wall times and must be naive")
        if self.start >= self.end:
            raise ValueError(f"send window start {self.start:%H:%M} must be before its end {self.end:%H:%M}")
        days = frozenset(self.closed_weekdays)
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise ValueError(f"closed weekdays must be 0 (Monday) ... 6 (Sunday), not {sorted(days)}")
        object.__setattr__(self, "closed_weekdays", days)
        if isinstance(self.jitter_minutes, bool) or not isinstance(self.jitter_minutes, int) or self.jitter_minutes < 0:
            raise ValueError(f"jitter_minutes must be a non-negative integer, not {self.jitter_minutes!r}")

    @classmethod
    def parse(cls, window: str = "10:00-20:00", closed_weekdays: str = "", jitter_minutes: int = 120) -> SendWindow:
        """Build a window from config text: ``"10:00-20:00"`` (or ``"10-20"``) and ``"sat,sun"`` / ``"6,7"``."""
        start, end = _parse_window(window)
        return cls(
            start=start, end=end, closed_weekdays=_parse_weekdays(closed_weekdays), jitter_minutes=jitter_minutes
        )

    @classmethod
    def from_env(cls) -> SendWindow:
        """Read REACTIVATION_SEND_WINDOW, REACTIVATION_CLOSED_WEEKDAYS and REACTIVATION_JITTER_MINUTES."""
        raw_jitter = os.environ.get("REACTIVATION_JITTER_MINUTES", "120").strip()
        try:
            jitter = int(raw_jitter)
        except ValueError:
            raise ValueError(
                f"REACTIVATION_JITTER_MINUTES must be a whole number of minutes, not {raw_jitter!r}"
            ) from None
        return cls.parse(
            os.environ.get("REACTIVATION_SEND_WINDOW", "10:00-20:00"),
            os.environ.get("REACTIVATION_CLOSED_WEEKDAYS", ""),
            jitter,
        )


def _parse_window(text: str) -> tuple[time, time]:
    """``"HH[:MM]-HH[:MM]"`` -> (start, end); hours 0-23, so the latest end is 23:59."""
    match = _WINDOW_RE.match(text or "")
    if not match:
        raise ValueError(f"send window must look like '10:00-20:00', not {text!r}")
    h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"send window {text!r} has an impossible time (hours 0-23, minutes 0-59)")
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise ValueError(f"send window {text!r}: start must be before end (windows cannot cross midnight)")
    return start, end


def _parse_weekdays(text: str) -> frozenset[int]:
    """``"sat,sun"`` / ``"6 7"`` / ``"Saturday"`` -> Python weekdays {5, 6}; ISO numbers 1-7, 7 = Sunday."""
    days: set[int] = set()
    for token in re.split(r"[\s,;]+", (text or "").strip().lower()):
        if not token:
            continue
        if token in _WEEKDAY_TOKENS:
            days.add(_WEEKDAY_TOKENS[token])
        elif token.isdigit() and 1 <= int(token) <= 7:
            days.add(int(token) - 1)
        else:
            raise ValueError(
                f"closed weekday {token!r} not understood: use names like 'sat,sun' or ISO numbers 1-7 (7 = Sunday)"
            )
    return frozenset(days)


# --- open days --------------------------------------------------------------------------------------------


@functools.cache
def _warn_unknown_country(country: str) -> None:
    """Warn once per process and country code: we cannot know its holidays, so we assume none."""
    warnings.warn(
        f"no public holiday calendar for country {country!r}: scheduling as if it had no public holidays",
        RuntimeWarning,
        stacklevel=4,
    )


@functools.lru_cache(maxsize=1024)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    """Public holidays of ``country`` in ``year`` (empty, with a warning, for an unknown country code)."""
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:
        _warn_unknown_country(country)
        return frozenset()


def is_open_day(day: date, country: str, window: SendWindow) -> bool:
    """True unless ``day`` is a closed weekday or a public holiday of ``country``."""
    if day.weekday() in window.closed_weekdays:
        return False
    return day not in _holiday_dates((country or "").strip().upper(), day.year)


# --- local wall time <-> instants ----------------------------------------------------------------------------


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}") from exc


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment!r}")


def _offset_at(seconds: int, zone: tzinfo) -> timedelta:
    """UTC offset of ``zone`` at the epoch second ``seconds``."""
    offset = datetime.fromtimestamp(seconds, UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _constant_offset_spans(lo: int, hi: int, zone: tzinfo) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """Cut epoch seconds ``[lo, hi)`` into spans of constant UTC offset: (naive UTC start, end, offset)."""
    while lo < hi:
        offset = _offset_at(lo, zone)
        if _offset_at(hi - 1, zone) == offset:
            yield _EPOCH + timedelta(seconds=lo), _EPOCH + timedelta(seconds=hi), offset
            return
        same, changed = lo, hi - 1  # bisect for the first second with another offset
        while changed - same > 1:
            mid = (same + changed) // 2
            if _offset_at(mid, zone) == offset:
                same = mid
            else:
                changed = mid
        yield _EPOCH + timedelta(seconds=lo), _EPOCH + timedelta(seconds=changed), offset
        lo = changed


def _day_intervals(day: date, zone: tzinfo, window: SendWindow) -> list[tuple[datetime, datetime]]:
    """Aware UTC intervals [a, b) of the instants whose local wall time on ``day`` is in [start, end)."""
    wall_start, wall_end = datetime.combine(day, window.start), datetime.combine(day, window.end)
    lo = int((wall_start - _EAST_MARGIN - _EPOCH).total_seconds() // 1)
    hi = int(-((wall_end + _WEST_MARGIN - _EPOCH).total_seconds() // -1))
    intervals: list[tuple[datetime, datetime]] = []
    for span_start, span_end, offset in _constant_offset_spans(lo, hi, zone):
        a, b = max(span_start, wall_start - offset), min(span_end, wall_end - offset)
        if a >= b:
            continue
        if intervals and intervals[-1][1] == a:  # a gap inside the window: the two pieces touch
            a = intervals.pop()[0]
        intervals.append((a, b))
    return [(a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)) for a, b in intervals]


# --- public API ----------------------------------------------------------------------------------------------


def is_sendable(moment: datetime, timezone: str, country: str, window: SendWindow) -> bool:
    """True when the aware ``moment`` falls, in local wall time, inside [start, end) of an open day."""
    _require_aware(moment, "moment")
    local = moment.astimezone(_zone(timezone))
    return window.start <= local.time() < window.end and is_open_day(local.date(), country, window)


def next_open_window(after: datetime, timezone: str, country: str, window: SendWindow) -> tuple[datetime, datetime]:
    """The (start, end) UTC instants of the window open at ``after`` (then start == after) or the next to open.

    Raises ValueError when no open day exists within 400 days (e.g. every weekday closed).
    """
    _require_aware(after, "after")
    zone = _zone(timezone)
    after_utc = after.astimezone(UTC)
    first_day = after_utc.astimezone(zone).date() - timedelta(days=1)  # a fold may repeat yesterday's wall times
    for n in range(SEARCH_DAYS + 2):
        day = first_day + timedelta(days=n)
        if not is_open_day(day, country, window):
            continue
        for start, end in _day_intervals(day, zone, window):
            if end > after_utc:
                return max(start, after_utc), end
    raise ValueError(NO_OPEN_DAY)


def jitter_offset(seed: str, jitter_minutes: int) -> timedelta:
    """Deterministic offset, uniform over whole seconds in [-jitter, +jitter] minutes, from sha256(seed).

    Not Python's ``hash()``, which is salted per process.
    """
    span = 60 * jitter_minutes
    draw = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big")
    return timedelta(seconds=draw % (2 * span + 1) - span)


def schedule_send(now: datetime, timezone: str, country: str, window: SendWindow, seed: str) -> datetime:
    """UTC instant to send a message: start of the next open window + jitter, clipped to [start, end - 1 min].

    Windows (or remainders of one) shorter than a minute are skipped, so the result is never before ``now``,
    always sendable, and identical for identical inputs.
    """
    _require_aware(now, "now")
    start, end = next_open_window(now, timezone, country, window)
    while end - start < MIN_SLOT:
        start, end = next_open_window(end, timezone, country, window)
    wanted = start + jitter_offset(seed, window.jitter_minutes)
    return min(max(wanted, start), end - MIN_SLOT)
