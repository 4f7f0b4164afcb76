"""Every promise holds at the moment a message leaves: re-checked when sending, not only when planning.

Clocks are set explicitly: delivery takes `now`, and rows are queued relative to a fixed Thursday noon in Moscow.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from reactivation import ingest, optout
from reactivation.channels import ChannelSettings, make_channel
from reactivation.outbox import (
    CANCELLED,
    EXPIRED,
    PENDING,
    SENT,
    OutboxRow,
    SendPolicy,
    claim,
    deliver,
    enqueue,
)
from reactivation.schedule import SendWindow, is_sendable
from reactivation.warehouse import Warehouse

QUEUED = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # Thursday 09:00 in Moscow: the daily run queued the rows
NOON = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, inside the default 10:00-20:00 window
COMPANY = 101


def outbox_row(i: int, channel: str = "log", scheduled_at: datetime = NOON - timedelta(minutes=5)) -> OutboxRow:
    return OutboxRow(
        message_key=f"{COMPANY}:{700 + i}:2026-10-01:1", company_id=COMPANY, client_id=700 + i,
        cycle_id=date(2026, 10, 1), attempt=1, as_of_date=QUEUED.date(), service_id=5001, tone="gentle",
        interval_level="personal", variant="a", is_holdout=False, channel=channel, locale="ru",
        phone=f"+7916{i:07d}", message_text=f"Сообщение {i}. Чтобы не получать сообщения, ответьте СТОП.",
        template_params='{"client_first_name": "Анна", "service_title": "Маникюр", "company_name": "Салон"}',
        prompt=None, composer="template", fallback_reason=None, scheduled_at=scheduled_at,
        status=PENDING, created_at=QUEUED, updated_at=QUEUED, timezone="Europe/Moscow", country="RU",
    )  # fmt: skip


def log_channel(tmp_path: Path):
    return make_channel("log", ChannelSettings(log_path=tmp_path / "outbox_log.jsonl"))


def logged_keys(tmp_path: Path) -> list[str]:
    path = tmp_path / "outbox_log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["message_key"] for line in path.read_text(encoding="utf-8").splitlines() if line]


def states(wh: Warehouse) -> dict[str, tuple[str, str | None]]:
    return {
        k: (s, r) for k, s, r in wh.fetchall("select message_key, status, cancel_reason from reactivation_messages")
    }


def send_at(wh: Warehouse, tmp_path: Path, moment: datetime, **kwargs):
    return deliver(wh, log_channel(tmp_path), now=lambda: moment, **kwargs)


def test_opt_outs_recorded_after_queueing_cancel_waiting_messages_at_once(warehouse, tmp_path) -> None:
    rows = [outbox_row(i) for i in range(4)]
    enqueue(warehouse, rows)
    assert optout.record_inbound(warehouse, COMPANY, "СТОП", QUEUED + timedelta(hours=2), phone=rows[0].phone)
    optout.add(warehouse, COMPANY, client_id=rows[1].client_id, source="command", at=QUEUED + timedelta(hours=2))
    after_opt_out = states(warehouse)
    assert after_opt_out[rows[0].message_key] == (CANCELLED, "opted_out")  # before any delivery ran
    assert after_opt_out[rows[1].message_key] == (CANCELLED, "opted_out")

    report = send_at(warehouse, tmp_path, NOON)
    assert sorted(logged_keys(tmp_path)) == sorted(r.message_key for r in rows[2:])
    assert report.sent == 2


def test_stop_recorded_by_another_writer_is_honoured_at_the_moment_of_sending(warehouse, tmp_path) -> None:
    """An opt-out that reached the table without the cancelling code path (an import, a manual insert)."""
    rows = [outbox_row(i) for i in range(3)]
    enqueue(warehouse, rows)
    warehouse.execute(
        "insert into reactivation_opt_outs (company_id, opt_out_key, client_id, phone, source, created_at)"
        " values (%s, %s, null, %s, 'import', %s)",
        [COMPANY, "phone:79160000001", "79160000001", QUEUED],
    )
    report = send_at(warehouse, tmp_path, NOON)
    assert states(warehouse)[rows[1].message_key] == (CANCELLED, "opted_out")
    assert rows[1].message_key not in logged_keys(tmp_path)
    assert report.sent == 2 and report.cancelled == 1


def test_sms_not_and_deleted_cards_seen_by_an_ingest_cancel_waiting_messages(warehouse, tmp_path) -> None:
    rows = [outbox_row(i) for i in range(3)]
    enqueue(warehouse, rows)
    cards = [
        {"company_id": COMPANY, "id": rows[0].client_id, "name": "Анна", "phone": rows[0].phone, "sms_not": 1},
        {"company_id": COMPANY, "id": rows[1].client_id, "name": "Борис", "phone": rows[1].phone, "deleted": True},
        {"company_id": COMPANY, "id": rows[2].client_id, "name": "Вера", "phone": rows[2].phone, "sms_not": 0},
    ]
    ingest.ingest(warehouse, ingest.sources_from_objects(clients=cards), "test")
    assert states(warehouse) == {
        rows[0].message_key: (CANCELLED, "opted_out"),
        rows[1].message_key: (CANCELLED, "client_deleted"),
        rows[2].message_key: (PENDING, None),
    }
    send_at(warehouse, tmp_path, NOON)
    assert logged_keys(tmp_path) == [rows[2].message_key]


def test_deleted_card_and_sms_not_written_directly_are_refused_at_send_time(warehouse, tmp_path) -> None:
    rows = [outbox_row(i) for i in range(3)]
    enqueue(warehouse, rows)
    for client_id, deleted, sms_not in ((rows[0].client_id, True, 0), (rows[1].client_id, False, 1)):
        warehouse.execute(
            "insert into raw_yclients_clients (company_id, id, deleted, sms_not, _batch_id, _loaded_at)"
            " values (%s, %s, %s, %s, 0, %s)",
            [COMPANY, client_id, deleted, sms_not, QUEUED],
        )
    report = send_at(warehouse, tmp_path, NOON)
    assert states(warehouse)[rows[0].message_key] == (CANCELLED, "client_deleted")
    assert states(warehouse)[rows[1].message_key] == (CANCELLED, "opted_out")
    assert logged_keys(tmp_path) == [rows[2].message_key] and report.cancelled == 2


def test_a_booking_made_after_queueing_cancels_the_message(warehouse, tmp_path) -> None:
    rows = [outbox_row(i) for i in range(4)]
    enqueue(warehouse, rows)
    bookings = [
        (rows[0].client_id, NOON + timedelta(days=3), False),  # booked for next week at the salon's desk
        (rows[1].client_id, QUEUED - timedelta(hours=1), False),  # came in this morning (08:00 local, as-of day)
        (rows[2].client_id, NOON + timedelta(days=2), True),  # booked, then the booking was deleted
        (rows[3].client_id, QUEUED - timedelta(days=40), False),  # an old visit: not a booking ahead
    ]
    for n, (client_id, visit_at, deleted) in enumerate(bookings):
        warehouse.execute(
            "insert into raw_yclients_records (company_id, id, client_id, visit_at, deleted, attendance, _batch_id,"
            " _loaded_at) values (%s, %s, %s, %s, %s, 0, 0, %s)",
            [COMPANY, 90000 + n, client_id, visit_at, deleted, NOON - timedelta(minutes=30)],
        )
    report = send_at(warehouse, tmp_path, NOON)
    final = states(warehouse)
    assert final[rows[0].message_key] == (CANCELLED, "booked")
    assert final[rows[1].message_key] == (CANCELLED, "booked")
    assert sorted(logged_keys(tmp_path)) == sorted([rows[2].message_key, rows[3].message_key])
    assert report.cancelled == 2 and report.sent == 2


def test_a_late_run_at_night_reschedules_into_the_next_window_instead_of_sending(warehouse, tmp_path) -> None:
    rows = [outbox_row(i) for i in range(5)]
    enqueue(warehouse, rows)
    three_am = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # Friday 03:00 in Moscow
    report = send_at(warehouse, tmp_path, three_am)
    assert logged_keys(tmp_path) == [] and report.rescheduled == 5
    window = SendWindow()
    for (scheduled,) in warehouse.fetchall("select scheduled_at from reactivation_messages"):
        moment = scheduled.astimezone(UTC) if scheduled.tzinfo else scheduled.replace(tzinfo=UTC)
        assert moment > three_am and is_sendable(moment, "Europe/Moscow", "RU", window)
        assert moment.date() == date(2026, 11, 27)  # the same day's window: the jitter stays inside it
    # at the rescheduled times every message goes out
    send_at(warehouse, tmp_path, datetime(2026, 11, 27, 16, 59, tzinfo=UTC))
    assert sorted(logged_keys(tmp_path)) == sorted(r.message_key for r in rows)


def test_messages_delivered_late_are_not_sent_on_a_public_holiday(warehouse, tmp_path) -> None:
    """Queued on 11 June 2026, delivered on 12 June (Russia Day): they wait for 13 June instead."""
    queued = datetime(2026, 6, 11, 14, 0, tzinfo=UTC)
    rows = [replace(outbox_row(i), scheduled_at=queued + timedelta(hours=2), created_at=queued) for i in range(6)]
    enqueue(warehouse, rows)
    holiday_noon = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
    report = send_at(warehouse, tmp_path, holiday_noon)
    assert report.sent == 0 and report.rescheduled == 6 and logged_keys(tmp_path) == []
    days = {s.astimezone(UTC).date() for (s,) in warehouse.fetchall("select scheduled_at from reactivation_messages")}
    assert days == {date(2026, 6, 13)}


def test_a_message_older_than_the_expiry_is_dropped_not_sent_stale(warehouse, tmp_path) -> None:
    rows = [outbox_row(0), outbox_row(1, scheduled_at=NOON + timedelta(days=3))]
    enqueue(warehouse, rows)
    four_days_later = NOON + timedelta(days=4)
    report = send_at(warehouse, tmp_path, four_days_later, policy=SendPolicy(expire_after=timedelta(days=3)))
    assert states(warehouse) == {rows[0].message_key: (EXPIRED, None), rows[1].message_key: (SENT, None)}
    assert logged_keys(tmp_path) == [rows[1].message_key] and report.expired == 1


def test_a_run_that_lost_its_claim_neither_sends_nor_records(warehouse, tmp_path) -> None:
    """Fencing: run A claims, stalls past its lease, run B takes the rows; A's late attempt is refused."""
    rows = [outbox_row(i) for i in range(3)]
    enqueue(warehouse, rows)
    channel = log_channel(tmp_path)
    lease = timedelta(minutes=10)
    claimed_by_a = claim(warehouse, channel, "run-a", NOON, lease, limit=10)
    assert len(claimed_by_a) == 3
    report_b = deliver(warehouse, channel, now=lambda: NOON + timedelta(minutes=11), lease=lease)
    assert report_b.sent == 3

    from reactivation.outbox import DeliveryReport, _deliver_one

    report_a = DeliveryReport()
    for row in claimed_by_a:
        _deliver_one(warehouse, channel, row, "run-a", NOON + timedelta(minutes=12), 5, SendPolicy(), report_a)
    assert report_a.sent == 0 and report_a.lost_claims == 3
    assert sorted(logged_keys(tmp_path)) == sorted(r.message_key for r in rows)
    assert {s for s, _ in states(warehouse).values()} == {SENT}


def test_a_claim_is_renewed_while_the_run_works_through_its_batch(warehouse, tmp_path) -> None:
    """A batch longer than the lease stays with its run: a second run finds nothing to take."""
    rows = [outbox_row(i) for i in range(4)]
    enqueue(warehouse, rows)
    ticks = [NOON]

    def clock() -> datetime:  # every reading is 6 minutes later; the lease is 10
        ticks.append(ticks[-1] + timedelta(minutes=6))
        return ticks[-1]

    seen_by_second_run: list[int] = []

    class SlowLog:
        name, idempotent, fatal_error = "log", True, None

        def __init__(self) -> None:
            self.inner = log_channel(tmp_path)

        def send(self, message):
            a_minute_later = ticks[-1] + timedelta(minutes=1)
            seen_by_second_run.append(len(claim(warehouse, self, "run-b", a_minute_later, timedelta(minutes=10), 10)))
            return self.inner.send(message)

        def close(self) -> None:
            pass

    report = deliver(warehouse, SlowLog(), now=clock, lease=timedelta(minutes=10), limit=10)
    assert report.sent == 4 and report.lost_claims == 0 and seen_by_second_run == [0, 0, 0, 0]
    assert sorted(logged_keys(tmp_path)) == sorted(r.message_key for r in rows)


def test_rows_of_a_previous_channel_are_rerouted_not_stranded(warehouse, tmp_path) -> None:
    rows = [outbox_row(0, channel="webhook"), outbox_row(1, channel="whatsapp"), outbox_row(2)]
    enqueue(warehouse, rows)
    report = send_at(warehouse, tmp_path, NOON)
    assert report.rerouted == 2 and report.sent == 3
    assert sorted(logged_keys(tmp_path)) == sorted(r.message_key for r in rows)
    assert {c for (c,) in warehouse.fetchall("select channel from reactivation_messages")} == {"log"}


def test_a_row_in_flight_on_a_previous_channel_is_failed_not_resent_elsewhere(warehouse, tmp_path) -> None:
    enqueue(warehouse, [outbox_row(0, channel="whatsapp")])
    warehouse.execute(
        "update reactivation_messages set claimed_by = 'dead', claimed_at = %s, send_started_at = %s",
        [NOON - timedelta(hours=1), NOON - timedelta(hours=1)],
    )
    report = send_at(warehouse, tmp_path, NOON)
    assert report.unknown_outcome == 1 and report.sent == 0 and logged_keys(tmp_path) == []


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_rows_queued_before_zones_were_stored_use_the_company_zone(warehouse, tmp_path) -> None:
    enqueue(warehouse, [replace(outbox_row(0), timezone=None, country=None)])
    warehouse.execute(
        "insert into raw_yclients_companies (company_id, name, timezone, country, _batch_id, _loaded_at)"
        " values (%s, 'Салон', 'Asia/Vladivostok', 'RU', 0, %s)",
        [COMPANY, QUEUED],
    )
    # 12:00 in Moscow is 19:00 in Vladivostok: inside the window; 13:30 in Moscow is 20:30 there: outside
    report = send_at(warehouse, tmp_path, NOON + timedelta(minutes=90))
    assert report.rescheduled == 1 and report.sent == 0


def test_bulk_enqueue_keeps_integers_with_gaps_and_a_rerun_inserts_nothing(warehouse) -> None:
    rows = [replace(outbox_row(0), sms_segments=2), replace(outbox_row(1), sms_segments=None), outbox_row(2)]
    assert enqueue(warehouse, rows) == 3
    assert enqueue(warehouse, rows) == 0  # same keys: nothing new
    stored = dict(warehouse.fetchall("select message_key, sms_segments from reactivation_messages"))
    assert stored == {rows[0].message_key: 2, rows[1].message_key: None, rows[2].message_key: None}
    # a new key for an attempt already queued, a key twice in one batch: only the one new row goes in, once
    same_attempt = replace(outbox_row(0), message_key="101:700:2026-10-01:1:other")
    fresh = outbox_row(3)
    assert enqueue(warehouse, [same_attempt, fresh, fresh, rows[2]]) == 1
    assert warehouse.fetchone("select count(*) from reactivation_messages")[0] == 4


def test_an_opt_out_cancels_messages_still_waiting_for_a_reviewer(warehouse) -> None:
    """A reviewer never sees (nor approves) a client who said stop while the batch waited."""
    rows = [replace(outbox_row(i), status="awaiting_review", scheduled_at=None) for i in range(3)]
    enqueue(warehouse, rows)
    optout.add(warehouse, COMPANY, client_id=rows[0].client_id, at=QUEUED + timedelta(hours=1))
    cards = [{"company_id": COMPANY, "id": rows[1].client_id, "name": "Борис", "phone": rows[1].phone, "sms_not": 1}]
    ingest.ingest(warehouse, ingest.sources_from_objects(clients=cards), "test")
    assert states(warehouse) == {
        rows[0].message_key: (CANCELLED, "opted_out"),
        rows[1].message_key: (CANCELLED, "opted_out"),
        rows[2].message_key: ("awaiting_review", None),
    }


def test_retention_erases_a_reviewers_note_with_the_message_text(warehouse) -> None:
    from reactivation.retention import RetentionSettings, apply_retention

    old = replace(outbox_row(0), status="rejected", created_at=QUEUED - timedelta(days=120))
    enqueue(warehouse, [old])
    warehouse.execute("update reactivation_messages set review_note = 'Анна просила не писать до весны'")
    apply_retention(warehouse, RetentionSettings(retention_days=90), now=QUEUED)
    assert warehouse.fetchall("select review_note, message_text, phone from reactivation_messages") == [
        (None, None, None)
    ]
