"""The spark target (models in Spark local mode, the runner's state in PostgreSQL): due clients equal the independent
reference, before and after an incremental refresh over new, changed, deleted and moved records; the command line
gives the same due clients as the other engines; the daily flow queues and sends with the outbox in PostgreSQL.

Compact on purpose: every dbt build on Spark costs minutes on two cores (Spark's fixed cost per statement, not the
data), so one test walks the whole story with two builds: the command line's full refresh with every check (data
tests and dbt unit tests), then the daily flow, whose refresh is the incremental one.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from reactivation import demo, optout, spark
from reactivation.cli import app
from reactivation.ingest import ingest, sources_from_objects
from reactivation.overview import DUE_COLUMNS
from reactivation.schedule import SendWindow, is_sendable
from reactivation.warehouse import Warehouse

from . import reference
from .conftest import AS_OF
from .spark_fixtures import spark_env
from .test_incremental import changed_versions, later
from .test_models_match_reference import SEEDS, normalised
from .test_retention import contacts_of_anonymised_clients

SEED_FILES = (str(SEEDS / "industry_standards.csv"), str(SEEDS / "service_category_rules.csv"))
NOON = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: inside the send window


def assert_equals_reference(settings, data: demo.DemoData, records: list[dict], opt_outs: list[dict] = ()) -> None:
    expected = reference.compute(
        data.companies, data.services, data.clients, records, *SEED_FILES, AS_OF, opt_outs=opt_outs
    )
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
    pd.testing.assert_frame_equal(normalised(exclusions, columns, keys), normalised(expected.exclusions, columns, keys))


def partition_files(settings, table: str) -> dict[tuple[int, int], frozenset[str]]:
    """The parquet files of each (company_id, key_bucket) partition of a model on Spark."""
    root = Path(settings.spark_warehouse) / f"{settings.spark_schema}.db" / table
    files = {}
    for folder in root.glob("company_id=*/key_bucket=*"):
        key = (int(folder.parent.name.split("=")[1]), int(folder.name.split("=")[1]))
        files[key] = frozenset(path.name for path in folder.glob("*.parquet"))
    return files


def test_spark_target_equals_the_reference_full_and_incremental_and_the_daily_flow_sends_from_postgres(
    spark_settings, tmp_path: Path, monkeypatch, prefect_server
) -> None:
    from reactivation.flows.daily import reactivation_daily
    from reactivation.flows.deliver import reactivation_deliver

    data = demo.generate(n_clients=240, years=2, seed=21, as_of=AS_OF)
    data.write_jsonl(tmp_path / "data")
    runner = CliRunner()
    env = spark_env(spark_settings)

    # 1. the command line: ingest files, a full refresh on Spark with every check (each data test and dbt unit test
    # runs in Spark SQL), due clients as CSV equal to the reference
    ingested = runner.invoke(app, ["ingest", "--from-dir", str(tmp_path / "data")], env=env)
    assert ingested.exit_code == 0, ingested.output
    refreshed = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat(), "--all-checks"], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert "Spark database" in refreshed.output and "unit_test" in refreshed.output
    due = runner.invoke(app, ["due", "--as-of", AS_OF.isoformat(), "--format", "csv", "--no-refresh"], env=env)
    assert due.exit_code == 0, due.output
    rows = list(csv.reader(io.StringIO(due.stdout)))
    assert rows[0] == DUE_COLUMNS
    expected = reference.compute(data.companies, data.services, data.clients, data.records, *SEED_FILES, AS_OF)
    assert sorted((int(r[0]), int(r[1])) for r in rows[1:]) == sorted(
        zip(expected.due["company_id"].astype(int), expected.due["client_id"].astype(int))
    )
    assert_equals_reference(spark_settings, data, data.records)

    # 2. new, changed, deleted and moved records in a second batch, and an opt-out in PostgreSQL; the daily flow's
    # refresh (incremental) must give the reference's answer on the new state, the opt-out included
    changes = changed_versions(data.records)
    # and every record of one (company, record bucket) partition loses its client: the cache's partition empties
    emptied, buckets = (103, 5), spark.key_buckets()  # var spark_key_buckets, as the models and the raw copy use it
    previous = {r["id"]: r for r in data.records}
    changes = [r for r in changes if (r["company_id"], r["id"] % buckets) != emptied] + [
        {**r, "client": None, "last_change_date": later(r["last_change_date"] or r["create_date"], 24 * 400)}
        for r in previous.values()
        if (r["company_id"], r["id"] % buckets) == emptied
    ]
    latest = list(({r["id"]: r for r in data.records} | {r["id"]: r for r in changes}).values())
    before = reference.compute(data.companies, data.services, data.clients, latest, *SEED_FILES, AS_OF)
    opted = before.due[before.due["company_id"] == 101].head(1).to_dict("records")[0]
    opt_outs = [{"company_id": 101, "client_id": int(opted["client_id"])}]
    with Warehouse.connect(spark_settings) as wh:
        ingest(wh, sources_from_objects(records=changes), "changes")
        optout.add(wh, 101, client_id=int(opted["client_id"]))  # before the run: the opt-out reaches the models

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    log_path = tmp_path / "sent.jsonl"
    monkeypatch.setenv("REACTIVATION_CHANNEL", "log")
    monkeypatch.setenv("REACTIVATION_LOG_CHANNEL_PATH", str(log_path))
    monkeypatch.setenv("REACTIVATION_MAX_DUE_SHARE", "1.0")
    monkeypatch.setenv("REACTIVATION_RETENTION_DAYS", "3650")  # nobody anonymised in this run: step 4 does it
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    partitioned = {"appointments_cache": "record", "int_bookings": "record", "int_visits": "client",
                   "int_visit_intervals": "client", "int_visit_history": "client"}  # fmt: skip
    files_before = {table: partition_files(spark_settings, table) for table in partitioned}
    summary = reactivation_daily(as_of=AS_OF.isoformat(), now=NOON)
    assert_equals_reference(spark_settings, data, latest, opt_outs)

    # the incremental refresh rewrote only the partitions a changed record (by record id) or a changed visit key
    # (by client id, as the record had it before) falls in; every other partition kept its files
    assert summary["anonymised"]["clients"] == 0  # a retention batch would rewrite partitions of its own (step 4)
    touched = {
        "record": {(r["company_id"], r["id"] % buckets) for r in changes},
        "client": {
            (r["company_id"], previous[r["id"]]["client"]["id"] % buckets)
            for r in changes
            if previous[r["id"]]["client"]
        },
    }
    for table, by in partitioned.items():
        after = partition_files(spark_settings, table)
        assert len(files_before[table]) > len(touched[by]) > 5, table  # partitioned, and most partitions left alone
        rewritten = {key for key, files in files_before[table].items() if after.get(key) != files}
        assert rewritten == touched[by] & set(files_before[table]), (table, rewritten ^ touched[by])
    assert emptied in files_before["appointments_cache"]
    assert emptied not in partition_files(spark_settings, "appointments_cache")  # dropped, not left with old rows

    # 3. the outbox is in PostgreSQL, not in Spark; every send-time check holds there
    with Warehouse.connect(spark_settings) as wh:
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

    # 4. retention on this target: `reactivation retention` anonymises in PostgreSQL, then its own dbt run re-reads
    # the batch into the contact model in Spark (in the daily flow the refresh right after retention does that)
    monkeypatch.delenv("REACTIVATION_RETENTION_DAYS")
    retained = runner.invoke(app, ["retention"])
    assert retained.exit_code == 0, retained.output
    with Warehouse.connect(spark_settings) as wh:
        kept = contacts_of_anonymised_clients(wh)
    assert kept[0] > 5 and kept[1:] == (0, 0), kept
