"""The rebook campaign and the cross-campaign frequency cap, on both engines.

Who gets a rebook reminder (lead window, not due, no booking ahead), the cap in the models and again at the moment
of sending, each campaign's own holdout draw, and outcomes split by campaign.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from reactivation import dbt, demo
from reactivation.campaign import RunSettings, company_ids, deliver_due, plan, queue
from reactivation.channels import ChannelSettings, make_channel
from reactivation.demo import exposed_messages, simulate_bookings
from reactivation.ingest import ingest, sources_from_objects
from reactivation.outbox import CANCELLED, PENDING, SENT, OutboxRow, SendPolicy, deliver, enqueue
from reactivation.warehouse import Warehouse

from .conftest import run_models

CANDIDATE_MODELS = "+message_candidates +rebook_clients +int_rebook_exclusions"  # 32 of the 49 models
OUTCOME_AND_FUNNEL_MODELS = "+message_outcomes +campaign_performance +reactivation_funnel"  # 30 of the 49

AS_OF = date(2026, 11, 25)
AS_OF_MOMENT = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)  # 00:00 of the as-of day in Moscow
COMPANY = {"company_id": 1, "name": "Салон", "timezone": "Europe/Moscow", "locale": "ru", "country": "RU"}
RANGE = {"duckdb": "range(200000) as t(i)", "postgres": "generate_series(0, 199999) as t(i)"}


def bucket(text: str) -> int:
    """The `stable_bucket` macro's hash, computed independently."""
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16)


def record(record_id: int, client_id: int, day: date, attendance: int = 1, created: date | None = None) -> dict:
    visit = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    made = created or day - timedelta(days=3)
    return {"id": record_id, "company_id": 1, "client": {"id": client_id, "phone": f"+7916{client_id:07d}"},
            "datetime": visit.isoformat(), "create_date": datetime(made.year, made.month, made.day, 8, 0,
                                                                   tzinfo=UTC).isoformat(),
            "services": [{"id": 5, "title": "Маникюр", "cost": 1000}], "attendance": attendance, "deleted": False,
            "last_change_date": (visit + timedelta(hours=3)).isoformat()}  # fmt: skip


def visits_every_30_days(client_id: int, last: date) -> list[dict]:
    """Three visits 30 days apart ending on `last`: a personal interval of 30 days."""
    return [record(client_id * 10 + i, client_id, last - timedelta(days=30 * (2 - i))) for i in range(3)]


def outbox_row(client_id: int, cycle: date, campaign: str, queued: datetime, attempt: int = 1, **fields) -> OutboxRow:
    values = dict(
        message_key=f"1:{client_id}:{cycle}:{campaign}:{attempt}", company_id=1, client_id=client_id, cycle_id=cycle,
        attempt=attempt, as_of_date=queued.date(), service_id=5, tone="rebook" if campaign == "rebook" else "gentle",
        interval_level="personal", variant="a", is_holdout=False, channel="log", locale="ru",
        phone=f"+7916{client_id:07d}", message_text="Текст. Чтобы не получать сообщения, ответьте СТОП.",
        template_params='{"client_first_name": "Анна", "service_title": "Маникюр", "company_name": "Салон"}',
        prompt=None, composer="template", fallback_reason=None, scheduled_at=queued, status=PENDING,
        created_at=queued, updated_at=queued, timezone="Europe/Moscow", country="RU", campaign=campaign,
    )  # fmt: skip
    values.update(fields)
    return OutboxRow(**values)


def candidates(wh: Warehouse) -> dict[int, dict]:
    frame = wh.query_df("select * from message_candidates")
    return {int(row["client_id"]): row for row in frame.to_dict("records")}


def test_rebook_candidates_follow_the_lead_window_bookings_due_rule_and_frequency_cap(settings) -> None:
    last = AS_OF - timedelta(days=28)  # 2026-10-28: expected back 2026-11-27, two days after the as-of date
    records = [
        *visits_every_30_days(1, last),  # inside the window, nothing ahead: a rebook reminder
        *visits_every_30_days(2, last),  # inside the window, but booked for next week: nothing
        record(290, 2, AS_OF + timedelta(days=6), attendance=0, created=AS_OF - timedelta(days=1)),
        *visits_every_30_days(3, AS_OF - timedelta(days=60)),  # due (60 days, interval 30): the win-back's
        *visits_every_30_days(4, last),  # inside the window, messaged 3 days ago: the frequency cap holds
        *visits_every_30_days(5, last),  # inside the window, messaged 8 days ago: past the cap
        *visits_every_30_days(6, AS_OF - timedelta(days=24)),  # expected back in 6 days: not yet
    ]
    earlier = [
        outbox_row(4, last, "win_back", AS_OF_MOMENT - timedelta(days=3)),
        outbox_row(5, last - timedelta(days=30), "win_back", AS_OF_MOMENT - timedelta(days=8)),
    ]
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=[COMPANY], records=records), "test")
        enqueue(wh, earlier)
        wh.execute("update reactivation_messages set status = 'sent', sent_at = created_at")
    run_models(settings, as_of=AS_OF, select=CANDIDATE_MODELS)
    with Warehouse.connect(settings) as wh:
        found = candidates(wh)
        reasons = {(int(c), r) for c, r in wh.fetchall("select client_id, reason from int_rebook_exclusions")}
        rebook = wh.query_df("select * from rebook_clients").set_index("client_id")
    assert {client: row["campaign"] for client, row in found.items()} == {1: "rebook", 3: "win_back", 5: "rebook"}
    assert reasons == {(2, "future_booking"), (4, "frequency_cap")}  # 3 is due (never a candidate), 6 not yet
    assert found[1]["message_key"] == f"1:1:{last}:rebook:1" and found[1]["tone"] == "rebook"
    assert found[3]["message_key"] == f"1:3:{AS_OF - timedelta(days=60)}:win_back:1"
    assert int(rebook.loc[1, "days_to_expected_visit"]) == 2
    assert str(rebook.loc[1, "expected_next_visit_date"])[:10] == str(AS_OF + timedelta(days=2))
    for client, row in found.items():  # each campaign's own draw: the documented MD5 rule
        suffix = ":rebook" if row["campaign"] == "rebook" else ""
        drawn = bucket(f"1:{client}:{row['cycle_id']}{suffix}:holdout") % 10000 < 1000
        assert bool(row["is_holdout"]) == drawn


def test_a_rebook_reminder_within_the_cap_of_a_sent_win_back_is_cancelled_at_send_time(warehouse, tmp_path) -> None:
    noon = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 12:00 in Moscow
    channel = make_channel("log", ChannelSettings(log_path=tmp_path / "outbox_log.jsonl"))
    policy = SendPolicy(min_days_between_messages=7)
    cycle = date(2026, 10, 28)
    win_back = outbox_row(7, cycle, "win_back", noon - timedelta(hours=1))
    enqueue(warehouse, [win_back])
    first = deliver(warehouse, channel, now=lambda: noon, policy=policy)
    assert first.sent == 1
    # two days later a rebook reminder for the same client, and one for a client nobody has written to
    later = noon + timedelta(days=2)
    rebook = outbox_row(7, cycle, "rebook", later - timedelta(hours=1), attempt=2)
    other = outbox_row(8, cycle, "rebook", later - timedelta(hours=1))
    enqueue(warehouse, [rebook, other])
    second = deliver(warehouse, channel, now=lambda: later, policy=policy)
    states = {k: (s, r) for k, s, r in warehouse.fetchall(
        "select message_key, status, cancel_reason from reactivation_messages")}  # fmt: skip
    assert states[rebook.message_key] == (CANCELLED, "frequency_cap")
    assert states[other.message_key] == (SENT, None)
    assert (second.sent, second.cancelled) == (1, 1)
    logged = [json.loads(line)["message_key"] for line in (tmp_path / "outbox_log.jsonl").read_text().splitlines()]
    assert logged == [win_back.message_key, other.message_key]
    # past the cap the same client may hear from the salon again
    week_later = noon + timedelta(days=7, minutes=1)
    again = outbox_row(7, cycle, "rebook", week_later - timedelta(hours=1), attempt=3)
    enqueue(warehouse, [again])
    assert deliver(warehouse, channel, now=lambda: week_later, policy=policy).sent == 1


def test_a_booking_made_after_queueing_cancels_a_rebook_reminder(warehouse, tmp_path) -> None:
    noon = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    row = outbox_row(9, date(2026, 10, 28), "rebook", noon - timedelta(hours=3))
    enqueue(warehouse, [row])
    ingest(warehouse, sources_from_objects(companies=[COMPANY], records=[
        record(901, 9, date(2026, 11, 28), attendance=0, created=date(2026, 11, 26))]), "desk")  # fmt: skip
    report = deliver(warehouse, make_channel("log", ChannelSettings(log_path=tmp_path / "log.jsonl")),
                     now=lambda: noon)  # fmt: skip
    status = warehouse.fetchone("select status, cancel_reason from reactivation_messages")
    assert tuple(status) == (CANCELLED, "booked") and report.cancelled == 1


def test_each_campaign_draws_its_own_holdout(settings, engine) -> None:
    win_back = "'101:' || cast(i as varchar) || ':2026-10-01:holdout'"
    rebook = "'101:' || cast(i as varchar) || ':2026-10-01:rebook:holdout'"
    held = "mod({{{{ stable_bucket(\"{key}\") }}}}, 10000) < {{{{ var('holdout_percent') * 100 }}}}"
    sql = (
        f"select sum(case when {held.format(key=rebook)} then 1 else 0 end) as rebook_held,"
        f" sum(case when {held.format(key=rebook)} and {held.format(key=win_back)} then 1 else 0 end) as both_held"
        f" from {RANGE[engine]}"
    )
    outcome = dbt.run_dbt(["show", "--inline", sql, "--limit", "-1"], settings)
    table = outcome.raw.results[0].agate_table
    row = dict(zip(table.column_names, table.rows[0]))
    expected = sum(bucket(f"101:{i}:2026-10-01:rebook:holdout") % 10000 < 1000 for i in range(200_000))
    assert int(row["rebook_held"]) == expected and abs(expected / 200_000 - 0.10) < 0.003
    # independent draws: about 1 % are held out of both campaigns (10 % × 10 %), not the same 10 %
    assert abs(int(row["both_held"]) / 200_000 - 0.01) < 0.002


def test_outcomes_performance_and_funnel_split_by_campaign(settings) -> None:
    t = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    cycle = date(2026, 9, 1)
    rows, records = [], []
    for client in range(1, 41):  # 30 win-back (20 treated, 10 holdout), 10 rebook (6 treated, 4 holdout)
        campaign = "win_back" if client <= 30 else "rebook"
        holdout = client in range(21, 31) or client in range(37, 41)
        rows.append(outbox_row(client, cycle, campaign, t, is_holdout=holdout, status="suppressed" if holdout
                               else PENDING, composer=None if holdout else "template"))  # fmt: skip
        if client % 2 == 0:  # every other client books three days later
            made = (t + timedelta(days=3)).date()
            records.append(record(5000 + client, client, made + timedelta(days=2), created=made))
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=[COMPANY], records=records), "test")
        enqueue(wh, rows)
        wh.execute("update reactivation_messages set status = 'sent', sent_at = created_at where not is_holdout")
    run_models(settings, as_of=date(2026, 11, 15), select=OUTCOME_AND_FUNNEL_MODELS)
    with Warehouse.connect(settings) as wh:
        outcomes = wh.query_df("select campaign, is_holdout, is_converted from message_outcomes")
        performance = wh.query_df("select * from campaign_performance").set_index("campaign")
        funnel = wh.query_df("select * from reactivation_funnel where funnel_date = %s", [t.date()]).iloc[0]
    counts = outcomes.groupby(["campaign", "is_holdout"]).size().to_dict()
    assert counts == {("rebook", False): 6, ("rebook", True): 4, ("win_back", False): 20, ("win_back", True): 10}
    assert (performance.loc["rebook", "messages"], performance.loc["rebook", "conversions"]) == (6, 3)
    assert (performance.loc["rebook", "holdout_matured"], performance.loc["rebook", "holdout_conversions"]) == (4, 2)
    assert (performance.loc["win_back", "messages"], performance.loc["win_back", "holdout_matured"]) == (20, 10)
    assert (funnel["queued"], funnel["holdout"], funnel["rebook_queued"], funnel["rebook_holdout"]) == (20, 10, 6, 4)
    assert (funnel["rebook_sent"], funnel["rebook_converted"], funnel["rebook_holdout_converted"]) == (6, 3, 2)


def test_the_demo_sends_rebook_reminders_before_due_dates_and_replays_them(settings, tmp_path) -> None:
    data = demo.generate(n_clients=400, years=2, seed=42, as_of=AS_OF)
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                        records=data.records), "demo")  # fmt: skip
    run_models(settings, as_of=AS_OF)
    morning = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    run = RunSettings(channels=ChannelSettings(channel="log", log_path=tmp_path / "outbox_log.jsonl"))
    with Warehouse.connect(settings) as wh:
        reminders = wh.query_df(
            "select c.*, r.expected_next_visit_date from message_candidates c"
            " join rebook_clients r using (company_id, client_id) where c.campaign = 'rebook'"
        )
        queued = plan(wh, company_ids(wh, None), run, morning)
        queue(wh, queued)
        for hours in (24, 30):  # as the demo does: two delivery runs the next day reach every zone's window
            deliver_due(wh, run, now=morning + timedelta(hours=hours))
        exposed = exposed_messages(wh, AS_OF)
    assert len(reminders) and (reminders["days_since"] < reminders["interval_days"]).all()  # before the due date
    assert (pd.to_datetime(reminders["expected_next_visit_date"]).dt.date > AS_OF).all()
    assert queued.counts()["by_campaign"].get("rebook", 0) > 0
    sent = [m for m in exposed if m["campaign"] == "rebook" and not m["is_holdout"]]
    assert sent and {m["client_id"] for m in sent} <= set(reminders["client_id"])
    answers = simulate_bookings(exposed, data, until=morning + timedelta(days=14), seed=42)
    rebook_clients = {m["client_id"] for m in exposed if m["campaign"] == "rebook"}
    assert any(a["client"]["id"] in rebook_clients for a in answers)  # reminded clients book back in the replay
