"""The pandas reference (tests/reference.py) computed by hand on a three-client salon: if it is wrong, every
model-vs-reference comparison proves nothing, so its own answers are pinned here, one rule per test.

As-of date 2024-06-01 in Moscow. Ann visits every ~3 weeks (median 22.5 -> 23 days); Bob has one visit of a
service whose title matches no rule but whose category does (manicure, 18 days); Cid has one visit and an
invalid phone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from .reference import DUE_COLUMNS, Reference, compute

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
D = date(2024, 6, 1)
MOMENT = datetime(2024, 6, 1, tzinfo=ZoneInfo("Europe/Moscow"))  # 00:00 of D in the company's zone
ANN, BOB, CID = 100, 101, 102
COMPANY = {
    "company_id": 1,
    "name": "Salon",
    "timezone": "Europe/Moscow",
    "locale": "ru",
    "country": "RU",
    "booking_url": "https://example.test/1",
}
SERVICES = [
    {"id": 10, "company_id": 1, "title": "Мужская стрижка", "category_id": 1, "category_title": "Стрижки"},
    {"id": 11, "company_id": 1, "title": "Something", "category_id": 2, "category_title": "Маникюр"},
]
CLIENTS = [
    {"id": ANN, "company_id": 1, "name": "Ann", "phone": "8 (916) 123-45-67", "deleted": False, "sms_not": 0},
    {"id": BOB, "company_id": 1, "name": "Bob", "phone": "+7 916 000 00 01", "deleted": False, "sms_not": 0},
    {"id": CID, "company_id": 1, "name": "Cid", "phone": "12345", "deleted": False, "sms_not": 0},
]


def record_maker() -> Callable[..., dict]:
    next_id = iter(range(1000, 2000))

    def rec(client_id, when, service_id=10, attendance=1, deleted=False, changed="2024-01-01T00:00:00+00:00"):
        return {
            "id": next(next_id),
            "company_id": 1,
            "client": {"id": client_id, "name": "x", "phone": "x"},
            "staff_id": 1,
            "datetime": when,
            "services": [{"id": service_id, "title": "t", "cost": 500, "first_cost": 500, "amount": 1}],
            "attendance": attendance,
            "deleted": deleted,
            "visit_id": 1,
            "create_date": changed,
            "last_change_date": changed,
        }

    return rec


rec = record_maker()
RECORDS = [
    # Ann: 2024-03-01, 2024-03-21 (+20), 2024-04-15 (+25) -> median 22.5 -> 23 days (personal)
    rec(ANN, "2024-03-01T12:00:00+03:00"),
    rec(ANN, "2024-03-21T12:00:00+03:00"),
    rec(ANN, "2024-04-14T21:30:00+00:00"),  # 21:30 UTC on 14 Apr is 00:30 on 15 Apr in Moscow
    # Bob: 2024-05-05 -> 27 days since, manicure norm 18 -> ratio exactly 1.5
    rec(BOB, "2024-05-05T10:00:00+03:00", service_id=11),
    # Cid: one visit of service 10 -> industry men_haircut 28 days
    rec(CID, "2024-04-01T10:00:00+03:00"),
    # a record version superseded by a later deleted one
    {**rec(CID, "2024-04-20T10:00:00+03:00"), "id": 5000},
    {**rec(CID, "2024-04-20T10:00:00+03:00", deleted=True, changed="2024-04-21T00:00:00+00:00"), "id": 5000},
    # no client; unparsable datetime
    {**rec(ANN, "2024-04-01T10:00:00+03:00"), "client": []},
    rec(ANN, "not a date"),
]
FUTURE_BOOKING = rec(ANN, "2024-05-31T21:00:00+00:00", attendance=0)  # 00:00 Moscow on D: counts as ahead


def run(records: list[dict] = RECORDS, **kwargs: object) -> Reference:
    return compute(
        [COMPANY],
        SERVICES,
        CLIENTS,
        records,
        str(SEEDS / "industry_standards.csv"),
        str(SEEDS / "service_category_rules.csv"),
        D,
        **kwargs,
    )


def reasons(ref: Reference) -> set[tuple[int, str]]:
    return {(r["client_id"], r["reason"]) for r in ref.exclusions.to_dict("records")}


def cycle_messages(statuses: tuple[str, ...]) -> list[dict]:
    """Messages in Ann's cycle, 40 days old (past the cooldown)."""
    created = MOMENT - timedelta(days=40)
    return [
        {"company_id": 1, "client_id": ANN, "cycle_id": date(2024, 4, 15), "status": status,
         "created_at": created, "sent_at": None}
        for status in statuses
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ref() -> Reference:
    return run()


@pytest.fixture(scope="module")
def intervals(ref: Reference) -> pd.DataFrame:
    return ref.intervals.set_index(["client_id", "service_id"])


@pytest.fixture(scope="module")
def due(ref: Reference) -> pd.DataFrame:
    return ref.due.set_index("client_id")


@pytest.fixture(scope="module")
def excluding_ref() -> Reference:
    """Ann booked ahead, Bob opted out by phone (written differently) and was messaged 14 days ago."""
    sent = {"company_id": 1, "client_id": BOB, "cycle_id": date(2024, 5, 5), "status": "sent",
            "created_at": MOMENT - timedelta(days=20), "sent_at": MOMENT - timedelta(days=14)}  # fmt: skip
    opt_out = {"company_id": 1, "client_id": None, "phone": "89160000001", "removed_at": None}
    return run(RECORDS + [FUTURE_BOOKING], opt_outs=[opt_out], messages=[sent])


# ---------- intervals
def test_personal_interval_is_the_rounded_median_of_the_clients_own_gaps(intervals: pd.DataFrame) -> None:
    ann = intervals.loc[(ANN, 10)]
    assert ann["interval_level"] == "personal" and ann["interval_days"] == 23 and ann["interval_count"] == 2


def test_a_visit_after_local_midnight_is_dated_in_the_companys_zone(intervals: pd.DataFrame) -> None:
    assert intervals.loc[(ANN, 10), "last_visit_date"] == date(2024, 4, 15)


def test_a_service_title_matching_a_rule_takes_that_category(intervals: pd.DataFrame) -> None:
    assert intervals.loc[(ANN, 10), "category"] == "men_haircut"


def test_a_title_matching_no_rule_falls_back_to_the_category_title_and_the_industry_norm(
    intervals: pd.DataFrame,
) -> None:
    bob = intervals.loc[(BOB, 11)]
    assert bob["category"] == "manicure" and bob["interval_level"] == "industry" and bob["interval_days"] == 18


def test_a_single_visit_takes_the_industry_norm(intervals: pd.DataFrame) -> None:
    cid = intervals.loc[(CID, 10)]
    assert cid["interval_level"] == "industry" and cid["interval_days"] == 28 and cid["visit_count"] == 1


def test_one_interval_row_per_client_and_service(ref: Reference) -> None:
    assert len(ref.intervals) == 3


# ---------- appointments
def test_a_visit_after_local_midnight_is_one_appointment_on_the_local_date(ref: Reference) -> None:
    assert ref.appointments["visit_date"].tolist().count(date(2024, 4, 15)) == 1


def test_records_without_a_client_or_a_readable_datetime_are_dropped(ref: Reference) -> None:
    assert len(ref.appointments) == 6  # 5 plain records + the winning version of record 5000


def test_the_latest_version_of_a_record_wins(ref: Reference) -> None:
    assert ref.appointments.set_index("record_id").loc[5000, "is_deleted"]


# ---------- due clients
def test_days_since_counts_from_the_last_local_visit_and_twice_overdue_is_an_offer(due: pd.DataFrame) -> None:
    assert due.loc[ANN, "days_since"] == 47 and due.loc[ANN, "tone"] == "offer"  # 47 / 23 = 2.04


def test_a_due_clients_phone_is_normalised_to_e164(due: pd.DataFrame) -> None:
    assert due.loc[ANN, "phone"] == "+79161234567"


def test_the_cycle_of_a_due_client_starts_at_the_last_visit(due: pd.DataFrame) -> None:
    assert due.loc[ANN, "cycle_id"] == date(2024, 4, 15)


def test_an_overdue_ratio_of_exactly_one_and_a_half_is_an_offer_not_a_gentle_reminder(due: pd.DataFrame) -> None:
    assert due.loc[BOB, "days_since"] == 27 and due.loc[BOB, "overdue_ratio"] == 1.5
    assert due.loc[BOB, "tone"] == "offer"


def test_a_due_client_with_an_invalid_phone_is_excluded_for_that_reason_only(ref: Reference, due: pd.DataFrame) -> None:
    assert CID not in due.index
    assert ref.exclusions.to_dict("records") == [
        {"company_id": 1, "client_id": CID, "service_id": 10, "reason": "invalid_phone"}
    ]


# ---------- exclusions
def test_a_booking_at_local_midnight_of_the_as_of_date_counts_as_booked_ahead(excluding_ref: Reference) -> None:
    assert (ANN, "future_booking") in reasons(excluding_ref)


def test_an_opt_out_matches_the_same_phone_written_another_way(excluding_ref: Reference) -> None:
    assert (BOB, "opted_out") in reasons(excluding_ref)


def test_a_message_sent_within_fourteen_days_puts_the_client_in_cooldown(excluding_ref: Reference) -> None:
    assert reasons(excluding_ref) == {
        (ANN, "future_booking"), (BOB, "opted_out"), (BOB, "cooldown"), (CID, "invalid_phone")
    }  # fmt: skip


def test_an_empty_due_list_keeps_its_columns(excluding_ref: Reference) -> None:
    assert excluding_ref.due.empty and list(excluding_ref.due.columns) == DUE_COLUMNS


def test_two_counting_messages_in_a_cycle_reach_max_attempts_and_a_failed_one_does_not_count() -> None:
    assert reasons(run(messages=cycle_messages(("sent", "failed", "suppressed")))) == {
        (ANN, "max_attempts"), (CID, "invalid_phone")
    }  # fmt: skip


def test_one_counting_message_in_a_cycle_leaves_the_client_due() -> None:
    assert ANN in set(run(messages=cycle_messages(("sent", "failed"))).due["client_id"])
