"""An incremental refresh after new, changed and deleted records equals a full refresh, on both engines."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pandas as pd

from reactivation import demo
from reactivation.ingest import ingest, sources_from_objects
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, run_models

TABLES = {
    "appointments_cache": ["company_id", "record_id", "service_id"],
    "int_visits": ["company_id", "client_id", "service_id", "visit_date"],
    "int_visit_intervals": ["company_id", "client_id", "service_id", "visit_date"],
    "int_visit_history": ["company_id", "client_id", "service_id"],
    "int_intervals_personal": ["company_id", "client_id", "service_id"],
    "int_intervals_service": ["company_id", "service_id"],
    "reactivation_intervals": ["company_id", "client_id", "service_id"],
    "due_clients": ["company_id", "client_id"],
    "due_client_exclusions": ["company_id", "client_id", "reason"],
    "record_rejects": ["company_id", "record_id", "reason", "line"],
    "int_bookings": ["company_id", "record_id"],
    "int_record_rejects": ["company_id", "record_id", "reason"],
}


def later(timestamp: str, hours: int = 1) -> str:
    return (datetime.fromisoformat(timestamp) + timedelta(hours=hours)).isoformat()


def changed_versions(records: list[dict]) -> list[dict]:
    """New versions of earlier records: deleted, no-show, a service dropped, client removed, moved a week."""
    latest = {r["id"]: r for r in records}
    attended = [
        r
        for r in latest.values()
        if r.get("attendance") == 1 and r.get("client") and r.get("datetime") and r.get("last_change_date")
    ]
    multi = [r for r in attended if len(r.get("services") or []) >= 2]
    changes = []
    for i, record in enumerate(attended[:40]):
        new = copy.deepcopy(record)
        new["last_change_date"] = later(record["last_change_date"], 24 * 400)
        kind = i % 4
        if kind == 0:
            new["deleted"] = True
        elif kind == 1:
            new["attendance"] = -1
        elif kind == 2:
            new["client"] = None
        else:
            new["datetime"] = later(record["datetime"], 24 * 7)
        changes.append(new)
    for record in multi[:5]:
        new = copy.deepcopy(record)
        new["last_change_date"] = later(record["last_change_date"], 24 * 400)
        new["services"] = new["services"][:1]
        changes.append(new)
    assert len(changes) == 45 and len(multi) >= 5
    return changes


def snapshot(wh: Warehouse) -> dict[str, pd.DataFrame]:
    frames = {}
    for table, keys in TABLES.items():
        frame = wh.query_df(f"select * from {table}")
        frames[table] = frame.sort_values(keys, na_position="first").reset_index(drop=True)
    return frames


def test_incremental_refresh_after_new_changed_and_deleted_records_equals_full_refresh(settings) -> None:
    data = demo.generate(n_clients=400, years=2, seed=5, as_of=AS_OF)
    cut = int(len(data.records) * 0.8)
    first, rest = data.records[:cut], data.records[cut:]
    services = copy.deepcopy(data.services)
    with Warehouse.connect(settings) as wh:
        ingest(
            wh,
            sources_from_objects(companies=data.companies, services=data.services, clients=data.clients, records=first),
            "batch-1",
        )
    # the first build is six weeks earlier: the incremental run must also move the as-of date correctly
    run_models(settings, as_of=AS_OF - timedelta(days=42))

    # a re-categorised service must reach old cache rows too
    renamed = next(s for s in services if "onsult" in s["title"] or "Консультац" in s["title"])
    renamed["title"] = "Мужская стрижка (консультация)"
    with Warehouse.connect(settings) as wh:
        changes = changed_versions(first)
        report = ingest(wh, sources_from_objects(services=services, records=rest + changes), "batch-2")
        assert report.loaded["records"] == len({r["id"] for r in rest + changes})
        assert report.loaded["services"] == 1
    run_models(settings)
    with Warehouse.connect(settings) as wh:
        incremental = snapshot(wh)
        batches = wh.fetchall("select distinct batch_id from appointments_cache order by 1")
    assert batches == [(1,), (2,)]

    run_models(settings, full_refresh=True)
    with Warehouse.connect(settings) as wh:
        full = snapshot(wh)
    assert_same(incremental, full)

    # replaying a past date on the incremental tables equals a full refresh at that date
    replay = AS_OF - timedelta(days=150)
    run_models(settings, as_of=replay)
    with Warehouse.connect(settings) as wh:
        incremental = snapshot(wh)
    run_models(settings, as_of=replay, full_refresh=True)
    with Warehouse.connect(settings) as wh:
        full = snapshot(wh)
    assert_same(incremental, full)


def assert_same(incremental: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame]) -> None:
    for table in TABLES:
        assert len(full[table]) > 0, table
        pd.testing.assert_frame_equal(incremental[table], full[table], obj=table)
