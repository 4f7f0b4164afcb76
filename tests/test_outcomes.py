"""Attribution, uplift and retention on constructed histories, on both engines."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from reactivation.ingest import ingest, sources_from_objects
from reactivation.outbox import OutboxRow, enqueue
from reactivation.retention import RetentionSettings, apply_retention
from reactivation.warehouse import Warehouse

from .conftest import run_models

OUTCOME_MODELS = "+message_outcomes +campaign_performance"  # what these tests read: 12 of the 49 models

T = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 15)  # every window (14 days) is complete
COMPANY = {"company_id": 1, "name": "Салон", "timezone": "Europe/Moscow", "locale": "ru", "country": "RU"}


def booking(
    record_id: int, client_id: int, created: datetime, attendance: int = 1, deleted: bool = False, cost: float = 1000.0
) -> dict:
    visit = created + timedelta(days=2)
    return {"id": record_id, "company_id": 1, "client": {"id": client_id, "phone": f"+7916{client_id:07d}"},
            "datetime": visit.isoformat(), "create_date": created.isoformat(),
            "services": [{"id": 5, "title": "Маникюр", "cost": cost}], "attendance": attendance, "deleted": deleted,
            "last_change_date": (visit + timedelta(hours=3)).isoformat()}  # fmt: skip


def message(client_id: int, exposed: datetime, holdout: bool = False, attempt: int = 1, **cell) -> OutboxRow:
    return OutboxRow(
        message_key=f"1:{client_id}:2026-09-01:{attempt}", company_id=1, client_id=client_id,
        cycle_id=date(2026, 9, 1), attempt=attempt, as_of_date=exposed.date(), service_id=5,
        tone=cell.get("tone", "gentle"), interval_level=cell.get("level", "personal"), variant=cell.get("variant", "a"),
        is_holdout=holdout, channel="log", locale="ru", phone=f"+7916{client_id:07d}",
        message_text=None if holdout else "Текст. Чтобы не получать сообщения, ответьте СТОП.", template_params=None,
        prompt=None, composer=None if holdout else "template", fallback_reason=None,
        scheduled_at=None if holdout else exposed, status="suppressed" if holdout else "pending",
        created_at=exposed, updated_at=exposed,
    )  # fmt: skip


def mark_sent(wh: Warehouse, rows: list[OutboxRow]) -> None:
    for row in rows:
        if not row.is_holdout:
            wh.execute("update reactivation_messages set status = 'sent', sent_at = %s where message_key = %s",
                       [row.created_at, row.message_key])  # fmt: skip


def load(settings, records: list[dict], rows: list[OutboxRow]) -> None:
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=[COMPANY], records=records), "test")
        enqueue(wh, rows)
        mark_sent(wh, rows)
    run_models(settings, as_of=AS_OF, select=OUTCOME_MODELS)


def test_attribution_on_constructed_histories(settings) -> None:
    day = timedelta(days=1)
    records = [
        booking(1, 101, T - day),  # A: booked before the message
        booking(2, 101, T + 20 * day),  # A: after the window
        booking(3, 102, T + 3 * day, deleted=True),  # B: inside, but deleted
        booking(4, 103, T + 5 * day, attendance=-1),  # C: inside, a no-show: converts, no revenue
        booking(5, 104, T + 2 * day, cost=700),  # D (holdout): books by themselves
        booking(6, 105, T + 12 * day, cost=500),  # E: inside both messages' windows: credited once, to the later
        booking(7, 106, T + 1 * day, cost=1200),  # F: a plain conversion
    ]
    rows = [message(101, T), message(102, T), message(103, T), message(104, T, holdout=True),
            message(105, T), message(105, T + 10 * day, attempt=2), message(106, T)]  # fmt: skip
    load(settings, records, rows)
    with Warehouse.connect(settings) as wh:
        outcomes = wh.query_df("select * from message_outcomes").set_index("message_key")
    converted = outcomes["is_converted"].to_dict()
    assert converted == {
        "1:101:2026-09-01:1": False, "1:102:2026-09-01:1": False, "1:103:2026-09-01:1": True,
        "1:104:2026-09-01:1": True, "1:105:2026-09-01:1": False, "1:105:2026-09-01:2": True,
        "1:106:2026-09-01:1": True,
    }  # fmt: skip
    assert outcomes.loc["1:103:2026-09-01:1", "attended_revenue"] == 0
    assert outcomes.loc["1:103:2026-09-01:1", "days_to_booking"] == 5
    assert outcomes.loc["1:104:2026-09-01:1", "experiment_group"] == "holdout"
    assert outcomes.loc["1:104:2026-09-01:1", "attended_revenue"] == 700
    assert outcomes.loc["1:105:2026-09-01:2", "converting_record_id"] == 6
    assert outcomes["credited_bookings"].sum() == 4  # bookings 4, 5, 6, 7: each credited exactly once
    assert outcomes.loc["1:106:2026-09-01:1", "attended_revenue"] == 1200
    assert outcomes["is_window_complete"].all()


def test_uplift_and_interval_equal_a_direct_computation(settings) -> None:
    records, rows, truth = [], [], []
    for client in range(1, 261):
        holdout = client > 200
        converts = (client % 3 == 0) if not holdout else (client % 10 == 0)
        rows.append(message(client, T, holdout=holdout))
        if converts:
            records.append(booking(1000 + client, client, T + timedelta(days=1 + client % 10), cost=100 + client))
        truth.append({"holdout": holdout, "converted": converts, "revenue": (100 + client) if converts else 0})
    load(settings, records, rows)
    with Warehouse.connect(settings) as wh:
        cell = wh.query_df("select * from campaign_performance").iloc[0]
    frame = pd.DataFrame(truth)
    treated, control = frame[~frame["holdout"]], frame[frame["holdout"]]
    p1, n1 = treated["converted"].mean(), len(treated)
    p0, n0 = control["converted"].mean(), len(control)
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    assert (cell["messages"], cell["conversions"], cell["holdout_matured"]) == (200, 66, 60)
    assert math.isclose(cell["conversion_rate"], p1) and math.isclose(cell["holdout_rate"], p0)
    assert math.isclose(cell["uplift"], p1 - p0)
    assert math.isclose(cell["uplift_ci_low"], p1 - p0 - 1.96 * se)
    assert math.isclose(cell["uplift_ci_high"], p1 - p0 + 1.96 * se)
    assert math.isclose(cell["revenue"], treated["revenue"].sum())
    assert math.isclose(cell["revenue_per_message"], treated["revenue"].sum() / 200)
    assert not cell["is_sample_too_small"]


def test_retention_anonymises_only_what_is_older_than_the_limit_and_is_idempotent(settings) -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    old, recent = now - timedelta(days=120), now - timedelta(days=30)
    lost = now - timedelta(days=500)
    records = [booking(1, 201, lost), booking(2, 202, recent), booking(3, 203, old - timedelta(days=300))]
    clients = [{"id": c, "company_id": 1, "name": f"Клиент {c}", "phone": f"+7916{c:07d}"} for c in (201, 202, 203)]
    rows = [message(201, old), message(202, recent), message(204, old, holdout=True)]
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=[COMPANY], clients=clients, records=records), "test")
        enqueue(wh, rows)
        mark_sent(wh, rows)
        first = apply_retention(wh, RetentionSettings(), now)
        snapshot = [wh.query_df(f"select * from {t} order by 1, 2") for t in
                    ("reactivation_messages", "raw_yclients_clients", "raw_yclients_records")]  # fmt: skip
        second = apply_retention(wh, RetentionSettings(), now + timedelta(minutes=5))
        again = [wh.query_df(f"select * from {t} order by 1, 2") for t in
                 ("reactivation_messages", "raw_yclients_clients", "raw_yclients_records")]  # fmt: skip
        messages = wh.query_df("select * from reactivation_messages").set_index("client_id")
        cards = wh.query_df("select * from raw_yclients_clients").set_index("id")
        record_phones = dict(wh.fetchall("select client_id, client_phone from raw_yclients_records"))
    # 201 and 203 are lost (no visit for a year) and silent for over 90 days; 202 is a live client
    assert (first.messages, first.clients, first.records) == (2, 2, 2)
    assert (second.messages, second.clients, second.records) == (0, 0, 0)
    for before, after in zip(snapshot, again):
        pd.testing.assert_frame_equal(before, after)
    for client in (201, 204):  # old messages: no text, no phone; counts and statuses stay
        assert pd.isna(messages.loc[client, "phone"]) and pd.isna(messages.loc[client, "message_text"])
        assert messages.loc[client, "status"] in ("sent", "suppressed")
    assert messages.loc[202, "phone"] == "+79160000202" and messages.loc[202, "message_text"]
    for client in (201, 203):
        assert pd.isna(cards.loc[client, "phone"]) and pd.isna(cards.loc[client, "name"])
        assert "+7916" not in str(cards.loc[client, "payload"]) and pd.isna(record_phones[client])
    assert cards.loc[202, "phone"] == "+79160000202" and record_phones[202] == "+79160000202"


def test_retention_reaches_incremental_models(settings) -> None:
    """Retention writes its own batch, so an incremental refresh drops the anonymised names and phones too."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    lost = now - timedelta(days=500)
    records = [booking(1, 201, lost), booking(2, 202, now - timedelta(days=30)), booking(3, 205, lost)]
    clients = [{"id": c, "company_id": 1, "name": f"Клиент {c}", "phone": f"+7916{c:07d}"} for c in (201, 202)]
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=[COMPANY], clients=clients, records=records), "test")
    run_models(settings, as_of=AS_OF, select="+int_client_contacts")
    with Warehouse.connect(settings) as wh:
        report = apply_retention(wh, RetentionSettings(), now)
        batches = wh.fetchall("select source from raw_ingest_batches order by batch_id")
    assert (report.clients, report.records) == (2, 2) and batches == [("test",), ("retention",)]
    run_models(settings, as_of=AS_OF, select="+int_client_contacts")  # incremental
    with Warehouse.connect(settings) as wh:
        contacts = wh.query_df("select * from int_client_contacts").set_index("client_id")
    for client in (201, 205):  # 201 has a card, 205 only the client object of a record
        assert contacts.loc[client, ["client_name", "phone_raw", "phone"]].isna().all(), client
        assert not contacts.loc[client, "has_valid_phone"]
    assert contacts.loc[202, "phone"] == "+79160000202" and contacts.loc[202, "client_name"] == "Клиент 202"
