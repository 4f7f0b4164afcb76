"""Send scheduling: window, open days, jitter, determinism and DST, checked against independent oracles."""

from __future__ import annotations

import functools
import statistics
import warnings
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactivation import schedule
from reactivation.schedule import (
    SendWindow,
    is_open_day,
    is_sendable,
    jitter_offset,
    next_open_window,
    schedule_send,
)

ZONES = [
    "Europe/Moscow",
    "Asia/Yekaterinburg",
    "Asia/Vladivostok",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",  # DST switches at midnight: whole wall-clock hours 00:00-00:59 missing or repeated
    "America/Havana",
]
COUNTRIES = ["RU", "GB", "US", "DE", "BR", "AU"]
MSK = "Europe/Moscow"


@functools.cache
def public_holidays(country: str, year: int) -> frozenset[date]:
    """Oracle independent of the module's own cache."""
    return frozenset(holidays.country_holidays(country, years=year))


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


# --- strategies -----------------------------------------------------------------------------------------------


@st.composite
def windows(draw: st.DrawFn) -> SendWindow:
    # bias towards the night hours where clocks change, and towards short windows that may fall inside a gap/fold
    start = draw(st.one_of(st.integers(0, 23 * 60 + 58), st.integers(0, 4 * 60)))
    end = draw(st.one_of(st.integers(start + 1, 23 * 60 + 59), st.integers(start + 1, min(start + 90, 23 * 60 + 59))))
    return SendWindow(
        start=time(*divmod(start, 60)),
        end=time(*divmod(end, 60)),
        closed_weekdays=draw(st.frozensets(st.integers(0, 6), max_size=6)),
        jitter_minutes=draw(st.integers(0, 180)),
    )


instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(tzinfo=UTC)
)
zones = st.sampled_from(ZONES)


@functools.cache
def offset_changes(tz: str) -> tuple[datetime, ...]:
    """Instants (to within 6 hours) where the zone's UTC offset changes in 2024-2028."""
    zone, step = ZoneInfo(tz), timedelta(hours=6)
    moment, changes = datetime(2024, 1, 1, tzinfo=UTC), []
    while moment < datetime(2029, 1, 1, tzinfo=UTC):
        if (moment + step).astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
            changes.append(moment)
        moment += step
    return tuple(changes)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant: anywhere in 2024-2028, or within 36 hours of one of the zone's DST switches."""
    tz = draw(zones)
    changes = offset_changes(tz)
    if changes and draw(st.booleans()):
        near = draw(st.sampled_from(changes))
        return tz, near + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60)))
    return tz, draw(instants)


countries = st.sampled_from(COUNTRIES)


# --- properties -----------------------------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(case=zone_and_instant(), country=countries, window=windows(), seed=st.text(max_size=30))
def test_scheduled_time_is_after_now_inside_the_local_window_on_an_open_day_and_reproducible(
    case: tuple[str, datetime], country: str, window: SendWindow, seed: str
) -> None:
    tz, now = case
    sent = schedule_send(now, tz, country, window, seed)
    assert sent.tzinfo is UTC
    assert sent >= now
    wall = sent.astimezone(ZoneInfo(tz))
    assert window.start <= wall.time() < window.end
    assert wall.weekday() not in window.closed_weekdays
    assert wall.date() not in public_holidays(country, wall.year)
    assert is_sendable(sent, tz, country, window)
    assert schedule_send(now, tz, country, window, seed) == sent
    # the same instant expressed in another zone is the same input
    assert schedule_send(now.astimezone(ZoneInfo(tz)), tz, country, window, seed) == sent


@given(case=zone_and_instant(), country=countries, window=windows())
def test_next_open_window_is_a_sendable_interval_with_closed_edges(
    case: tuple[str, datetime], country: str, window: SendWindow
) -> None:
    tz, after = case
    start, end = next_open_window(after, tz, country, window)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert after <= start < end
    assert is_sendable(start, tz, country, window)
    assert is_sendable(end - timedelta(seconds=1), tz, country, window)
    assert not is_sendable(end, tz, country, window)
    if start > after:
        assert not is_sendable(start - timedelta(seconds=1), tz, country, window)
    if is_sendable(after, tz, country, window):
        assert start == after


@given(case=zone_and_instant(), country=countries, window=windows(), step=st.integers(1, 3 * 24 * 60))
def test_no_sendable_minute_is_skipped_before_the_next_window(
    case: tuple[str, datetime], country: str, window: SendWindow, step: int
) -> None:
    """Probe a point between `after` and the window start: it must not be sendable (the window is the next one)."""
    tz, after = case
    start, _ = next_open_window(after, tz, country, window)
    probe = after + timedelta(minutes=step)
    if probe < start:
        assert not is_sendable(probe, tz, country, window)


@given(seed=st.text(), jitter=st.integers(0, 180))
def test_jitter_is_deterministic_and_bounded(seed: str, jitter: int) -> None:
    offset = jitter_offset(seed, jitter)
    assert offset == jitter_offset(seed, jitter)
    assert abs(offset) <= timedelta(minutes=jitter)


# --- concrete examples ----------------------------------------------------------------------------------------


def test_friday_evening_inside_the_window_with_no_jitter_is_sent_right_away() -> None:
    now = local(MSK, 2026, 6, 5, 19, 30)  # a Friday, no holiday
    assert now.weekday() == 4
    sent = schedule_send(now, MSK, "RU", SendWindow(jitter_minutes=0), "client-1")
    assert sent == now


def test_after_the_window_closes_the_message_goes_next_morning_at_ten() -> None:
    now = local(MSK, 2026, 6, 3, 21, 0)  # Wednesday
    sent = schedule_send(now, MSK, "RU", SendWindow(jitter_minutes=0), "client-1")
    assert sent == local(MSK, 2026, 6, 4, 10, 0)


def test_before_the_window_opens_the_message_waits_for_it() -> None:
    now = local(MSK, 2026, 6, 3, 7, 15)
    assert schedule_send(now, MSK, "RU", SendWindow(jitter_minutes=0), "x") == local(MSK, 2026, 6, 3, 10, 0)


def test_russian_new_year_holidays_are_skipped() -> None:
    now = local(MSK, 2027, 1, 1, 9, 0)
    window = SendWindow(jitter_minutes=0)
    assert not is_open_day(date(2027, 1, 1), "RU", window)
    assert not is_open_day(date(2027, 1, 8), "RU", window)
    assert schedule_send(now, MSK, "RU", window, "x") == local(MSK, 2027, 1, 9, 10, 0)  # first open day: Sat 9th
    weekend_closed = SendWindow.parse(closed_weekdays="sat,sun", jitter_minutes=0)
    assert schedule_send(now, MSK, "RU", weekend_closed, "x") == local(MSK, 2027, 1, 11, 10, 0)


def test_a_holiday_in_one_country_is_a_working_day_in_another() -> None:
    window = SendWindow(jitter_minutes=0)
    july_4 = date(2026, 7, 4)
    assert not is_open_day(july_4, "US", window)
    assert is_open_day(july_4, "RU", window)


def test_closed_sunday_moves_to_monday() -> None:
    now = local(MSK, 2026, 6, 7, 12, 0)  # Sunday
    window = SendWindow.parse(closed_weekdays="sun", jitter_minutes=0)
    assert not is_sendable(now, MSK, "RU", window)
    assert schedule_send(now, MSK, "RU", window, "x") == local(MSK, 2026, 6, 8, 10, 0)


def test_window_start_inside_a_dst_gap_uses_the_first_valid_instant() -> None:
    # London, 2026-03-29: clocks go 01:00 GMT -> 02:00 BST, so 01:30 does not exist that day
    window = SendWindow.parse("01:30-20:00", jitter_minutes=0)
    now = local("Europe/London", 2026, 3, 29, 0, 0)
    start, end = next_open_window(now, "Europe/London", "GB", window)
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 BST, the moment the clocks jump
    assert end == datetime(2026, 3, 29, 19, 0, tzinfo=UTC)  # 20:00 BST
    assert schedule_send(now, "Europe/London", "GB", window, "x") == start


def test_midnight_dst_gap_in_santiago() -> None:
    # Santiago, 2026-09-06: 00:00 -04 -> 01:00 -03, so the day starts at 01:00
    window = SendWindow.parse("00:00-20:00", jitter_minutes=0)
    now = local("America/Santiago", 2026, 9, 5, 21, 0)
    sent = schedule_send(now, "America/Santiago", "GB", window, "x")
    assert sent == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert sent.astimezone(ZoneInfo("America/Santiago")).time() == time(1, 0)


def test_window_ending_inside_a_dst_fold_is_open_on_both_passes() -> None:
    # London, 2026-10-25: 01:00-01:59 happens twice (BST, then GMT)
    window = SendWindow.parse("01:00-01:30", jitter_minutes=0)
    tz = "Europe/London"
    first = next_open_window(datetime(2026, 10, 24, 22, 0, tzinfo=UTC), tz, "GB", window)
    assert first == (datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    second = next_open_window(first[1], tz, "GB", window)
    assert second == (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert not is_sendable(datetime(2026, 10, 25, 0, 45, tzinfo=UTC), tz, "GB", window)


def test_jitter_spreads_both_ways_and_negative_jitter_is_clipped_at_the_window_start() -> None:
    window = SendWindow.parse("08:00-22:00", jitter_minutes=120)
    now = local(MSK, 2026, 6, 3, 8, 0)  # Wednesday 08:00: the window opens right now
    seeds = [f"company-1:client-{i}" for i in range(2000)]
    offsets = [jitter_offset(s, window.jitter_minutes) for s in seeds]
    assert min(offsets) <= timedelta(minutes=-100)
    assert max(offsets) >= timedelta(minutes=100)
    assert all(abs(o) <= timedelta(minutes=120) for o in offsets)
    assert abs(statistics.mean(o.total_seconds() for o in offsets)) < 10 * 60
    sent = [schedule_send(now, MSK, "RU", window, s) for s in seeds]
    clipped = [t for t, o in zip(sent, offsets) if o < timedelta(0)]
    assert 800 < len(clipped) < 1200
    assert all(t == now for t in clipped)
    assert all(t == now + o for t, o in zip(sent, offsets) if o >= timedelta(0))
    assert all(now <= t < local(MSK, 2026, 6, 3, 22, 0) for t in sent)
    assert len({t for t in sent if t > now}) > 800  # different clients really get different times


def test_positive_jitter_is_clipped_a_minute_before_the_window_end() -> None:
    window = SendWindow(jitter_minutes=120)
    now = local(MSK, 2026, 6, 3, 19, 30)
    last = local(MSK, 2026, 6, 3, 19, 59)
    sent = [schedule_send(now, MSK, "RU", window, f"s{i}") for i in range(300)]
    assert all(now <= t <= last for t in sent)
    assert last in sent


def test_less_than_a_minute_left_goes_to_the_next_window() -> None:
    now = local(MSK, 2026, 6, 3, 19, 59, 30)
    assert schedule_send(now, MSK, "RU", SendWindow(jitter_minutes=0), "x") == local(MSK, 2026, 6, 4, 10, 0)


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 6, 3, 12, 0)
    with pytest.raises(ValueError, match="aware"):
        schedule_send(naive, MSK, "RU", SendWindow(), "x")
    with pytest.raises(ValueError, match="aware"):
        next_open_window(naive, MSK, "RU", SendWindow())
    with pytest.raises(ValueError, match="aware"):
        is_sendable(naive, MSK, "RU", SendWindow())


def test_every_weekday_closed_is_a_clear_error() -> None:
    window = SendWindow.parse(closed_weekdays="1,2,3,4,5,6,7")
    with pytest.raises(ValueError, match="no open day within 400 days: check closed weekdays"):
        schedule_send(local(MSK, 2026, 6, 3, 12, 0), MSK, "RU", window, "x")


def test_unknown_country_means_no_holidays_and_warns_once() -> None:
    schedule._warn_unknown_country.cache_clear()
    schedule._holiday_dates.cache_clear()
    window = SendWindow(jitter_minutes=0)
    with pytest.warns(RuntimeWarning, match="'ZZ'"):
        assert is_open_day(date(2027, 1, 1), "ZZ", window)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert is_open_day(date(2028, 1, 1), "zz", window)  # another year, same country: no second warning
        sent = schedule_send(local(MSK, 2027, 1, 1, 9, 0), MSK, "ZZ", window, "x")
    assert sent == local(MSK, 2027, 1, 1, 10, 0)


def test_unknown_time_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        schedule_send(datetime(2026, 6, 3, tzinfo=UTC), "Mars/Olympus", "RU", SendWindow(), "x")


# --- configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", frozenset()),
        ("sat,sun", frozenset({5, 6})),
        ("SAT, Sun", frozenset({5, 6})),
        ("Saturday; sunday", frozenset({5, 6})),
        ("6", frozenset({5})),
        ("7", frozenset({6})),
        ("1 7", frozenset({0, 6})),
        ("mon,1", frozenset({0})),
    ],
)
def test_parse_closed_weekdays(text: str, expected: frozenset[int]) -> None:
    assert SendWindow.parse(closed_weekdays=text).closed_weekdays == expected


@pytest.mark.parametrize("text", ["0", "8", "funday", "sat-sun", "sa", "1.5"])
def test_parse_rejects_garbage_weekdays(text: str) -> None:
    with pytest.raises(ValueError, match="closed weekday"):
        SendWindow.parse(closed_weekdays=text)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("10:00-20:00", time(10), time(20)),
        ("9-21", time(9), time(21)),
        (" 08:30 – 22:15 ", time(8, 30), time(22, 15)),
        ("00:00-23:59", time(0), time(23, 59)),
    ],
)
def test_parse_window(text: str, start: time, end: time) -> None:
    window = SendWindow.parse(text)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    "text", ["", "10", "10:00-", "ten-eight", "20:00-10:00", "10:00-10:00", "25:00-26:00", "10:61-20"]
)
def test_parse_rejects_garbage_windows(text: str) -> None:
    with pytest.raises(ValueError, match="send window"):
        SendWindow.parse(text)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError):
        SendWindow(start=time(20), end=time(10))
    with pytest.raises(ValueError):
        SendWindow(closed_weekdays=frozenset({7}))
    with pytest.raises(ValueError):
        SendWindow(jitter_minutes=-1)
    assert SendWindow() == SendWindow.parse()
    assert SendWindow() == SendWindow(start=time(10), end=time(20), closed_weekdays=frozenset(), jitter_minutes=120)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REACTIVATION_SEND_WINDOW", "REACTIVATION_CLOSED_WEEKDAYS", "REACTIVATION_JITTER_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    assert SendWindow.from_env() == SendWindow()
    monkeypatch.setenv("REACTIVATION_SEND_WINDOW", "09:00-21:00")
    monkeypatch.setenv("REACTIVATION_CLOSED_WEEKDAYS", "sun")
    monkeypatch.setenv("REACTIVATION_JITTER_MINUTES", "30")
    assert SendWindow.from_env() == SendWindow(time(9), time(21), frozenset({6}), 30)
    monkeypatch.setenv("REACTIVATION_JITTER_MINUTES", "lots")
    with pytest.raises(ValueError, match="REACTIVATION_JITTER_MINUTES"):
        SendWindow.from_env()
