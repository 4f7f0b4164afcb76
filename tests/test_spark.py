"""The spark target (models in Spark local mode, the runner's state in PostgreSQL): due clients equal the independent
reference, before and after an incremental refresh over new, changed, deleted and moved records; the command line
gives the same due clients as the other engines; the daily flow queues and sends with the outbox in PostgreSQL.

Compact on purpose (a dbt build on Spark costs minutes on two shared cores): each test builds as few times as it can.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from reactivation import demo, optout
from reactivation.cli import app
from reactivation.ingest import ingest, sources_from_objects
from reactivation.overview import DUE_COLUMNS
from reactivation.schedule import SendWindow, is_sendable
from reactivation.warehouse import Warehouse

from . import reference
from .conftest import AS_OF
from .spark_fixtures import spark_env
from .test_incremental import changed_versions
from .test_models_match_reference import SEEDS, normalised

SEED_FILES = (str(SEEDS / "industry_standards.csv"), str(SEEDS / "service_category_rules.csv"))
NOON = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: inside the send window


def assert_equals_reference(settings, companies, services, clients, records) -> None:
    expected = reference.compute(companies, services, clients, records, *SEED_FILES, AS_OF)
    with Warehouse.connect(settings) as wh:
        intervals = wh.query_df("select * from reactivation_intervals")
        due = wh.query_df("select * from due_clients")
        exclusions = wh.query_df("select * from due_client_exclusions")
    assert len(due) > 50 and set(due["tone"]) == {"gentle", "offer", "win_back"}
    keys3 = ["company_id", "client_id", "service_id"]
    columns = reference.INTERVAL_COLUMNS
    pd.testing.assert_frame_equal(normalised(intervals, columns, keys3), normalised(expected.intervals, columns, keys3))
    keys = ["company_id", "client_id"]
    columns = reference.DUE_COLUMNS
    pd.testing.assert_frame_equal(normalised(due, columns, keys), normalised(expected.due, columns, keys))
    keys = ["company_id", "client_id", "reason"]
    columns = reference.EXCLUSION_COLUMNS
    pd.testing.assert_frame_equal(
        normalised(exclusions, columns, keys), normalised(expected.exclusions, columns, keys)
    )


def test_cli_due_on_spark_equals_reference_before_and_after_an_incremental_refresh(
    spark_settings, tmp_path: Path
) -> None:
    data = demo.generate(n_clients=700, years=3, seed=11, as_of=AS_OF)
    data.write_jsonl(tmp_path / "data")
    runner = CliRunner()
    env = spark_env(spark_settings)

    ingested = runner.invoke(app, ["ingest", "--from-dir", str(tmp_path / "data")], env=env)
    assert ingested.exit_code == 0, ingested.output
    refreshed = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat()], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert "Spark database" in refreshed.output
    due = runner.invoke(app, ["due", "--as-of", AS_OF.isoformat(), "--format", "csv", "--no-refresh"], env=env)
    assert due.exit_code == 0, due.output
    rows = list(csv.reader(io.StringIO(due.stdout)))
    assert rows[0] == DUE_COLUMNS
    expected = reference.compute(data.companies, data.services, data.clients, data.records, *SEED_FILES, AS_OF)
    assert sorted((int(r[0]), int(r[1])) for r in rows[1:]) == sorted(
        zip(expected.due["company_id"].astype(int), expected.due["client_id"].astype(int))
    )
    assert_equals_reference(spark_settings, data.companies, data.services, data.clients, data.records)

    # new, changed, deleted and moved records in a second batch: the incremental refresh equals the reference on
    # the new state (which a full refresh equals too, by the reference test above)
    changes = changed_versions(data.records)
    with Warehouse.connect(spark_settings) as wh:
        ingest(wh, sources_from_objects(records=changes), "changes")
    again = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat()], env=env)
    assert again.exit_code == 0, again.output
    latest = {r["id"]: r for r in data.records} | {r["id"]: r for r in changes}
    assert_equals_reference(spark_settings, data.companies, data.services, data.clients, list(latest.values()))


def test_daily_flow_with_models_on_spark_and_outbox_on_postgres(
    spark_settings, tmp_path: Path, monkeypatch, prefect_server
) -> None:
    from reactivation.flows.daily import reactivation_daily
    from reactivation.flows.deliver import reactivation_deliver

    for name, value in spark_env(spark_settings).items():
        monkeypatch.setenv(name, value)
    log_path = tmp_path / "sent.jsonl"
    monkeypatch.setenv("REACTIVATION_CHANNEL", "log")
    monkeypatch.setenv("REACTIVATION_LOG_CHANNEL_PATH", str(log_path))
    monkeypatch.setenv("REACTIVATION_MAX_DUE_SHARE", "1.0")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    data = demo.generate(n_clients=240, years=2, seed=21, as_of=AS_OF)
    expected = reference.compute(data.companies, data.services, data.clients, data.records, *SEED_FILES, AS_OF)
    opted = expected.due[expected.due["company_id"] == 101].head(1).to_dict("records")[0]
    with Warehouse.connect(spark_settings) as wh:
        ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                        records=data.records), "demo")  # fmt: skip
        optout.add(wh, 101, client_id=opted["client_id"])  # before the run: PostgreSQL's opt-out reaches the models

    summary = reactivation_daily(as_of=AS_OF.isoformat(), now=NOON)
    with Warehouse.connect(spark_settings) as wh:  # the outbox is in PostgreSQL, not in Spark
        assert wh.engine == "postgres"
        rows = wh.query_df("select * from reactivation_messages order by message_key").to_dict("records")
    assert summary["inserted"] == len(rows) > 20
    assert opted["client_id"] not in {r["client_id"] for r in rows if r["company_id"] == 101}
    zones = {101: ("Europe/Moscow", "RU"), 102: ("Asia/Yekaterinburg", "RU"), 103: ("Europe/London", "GB")}
    for row in rows:
        if not row["is_holdout"]:
            assert is_sendable(row["scheduled_at"], *zones[row["company_id"]], SendWindow())

    # an opt-out after the run, before delivery: the send-time check (PostgreSQL only) refuses that message
    late = next(r for r in rows if not r["is_holdout"] and r["status"] == "pending" and r["scheduled_at"] > NOON)
    with Warehouse.connect(spark_settings) as wh:
        optout.add(wh, late["company_id"], client_id=late["client_id"])
    deliver_at = NOON + timedelta(hours=30)
    reactivation_deliver(now=deliver_at)
    delivered = log_path.read_text().splitlines() if log_path.exists() else []
    sent = {json.loads(line)["message_key"] for line in delivered}
    assert len(delivered) == len(sent) > 10  # each message once
    with Warehouse.connect(spark_settings) as wh:
        after = {r["message_key"]: r for r in wh.query_df("select * from reactivation_messages").to_dict("records")}
    assert after[late["message_key"]]["status"] == "cancelled" and late["message_key"] not in sent
    for row in rows:
        if row["is_holdout"] or row["message_key"] == late["message_key"]:
            assert row["message_key"] not in sent
            continue
        now = after[row["message_key"]]
        # sent, or moved to the next open window (the delivery time is 20:00 in Yekaterinburg: the window closes)
        assert (now["status"] == "sent") == (row["message_key"] in sent)
        assert now["status"] == "sent" or (now["status"] == "pending" and now["scheduled_at"] > deliver_at)
