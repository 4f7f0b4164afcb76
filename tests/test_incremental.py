"""An incremental refresh after new, changed and deleted records, changed client cards and a changed menu equals a
full refresh, on both engines."""

from __future__ import annotations

import copy
from collections import Counter
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
    "int_client_contacts": ["company_id", "client_id"],
    "int_service_categories": ["company_id", "service_id"],
}
# the compared tables and everything they are built from (31 of the 49 models); the rest reads them and adds nothing
# to the comparison (the as-of snapshots keep one row set per date, which a full refresh starts again by design)
COMPARED = " ".join(f"+{table}" for table in TABLES)


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


def client_and_menu_changes(
    records: list[dict], later_records: list[dict], data: demo.DemoData, taken: set[int]
) -> dict[str, list[dict]]:
    """Batch 1 lacks two booked services and three clients' cards; batch 2 then lists one of the services, brings
    one card, changes another card, moves a card-less client's latest record to another client (the client falls
    back to an older record), moves the only record of a card-less client away (the client disappears) and takes
    the client off the latest record of the service that stays off the menu (its title is recounted)."""
    latest = {r["id"]: r for r in records}
    usable = [r for r in latest.values() if r.get("client") and r.get("datetime") and r.get("last_change_date")]

    def moved(record: dict, client: tuple[int, int] | None) -> dict:
        new = copy.deepcopy(record)
        new["last_change_date"] = later(record["last_change_date"], 24 * 400)
        new["client"] = None if client is None else {"id": client[1], "name": "Перенесён", "phone": "+79160001122"}
        return new

    booked = Counter((r["company_id"], line["id"]) for r in usable for line in r.get("services") or [])
    booked_later = {(r["company_id"], line["id"]) for r in later_records for line in r.get("services") or []}
    menu = [s for s in data.services if booked[(s["company_id"], s["id"])] >= 3]
    menu = [s for s in menu if "onsult" not in s["title"] and "Консультац" not in s["title"]]
    # a service no later record books, so its stored latest title can only change by recounting
    unlisted = next(s for s in menu if (s["company_id"], s["id"]) not in booked_later)
    joining = next(s for s in menu if s is not unlisted)
    newest_unlisted = max(
        (
            r
            for r in usable
            if r["company_id"] == unlisted["company_id"]
            and any(line["id"] == unlisted["id"] for line in r.get("services") or [])
        ),
        key=lambda r: (datetime.fromisoformat(r["datetime"]), r["id"]),
    )
    record_changes = [] if newest_unlisted["id"] in taken else [moved(newest_unlisted, None)]
    taken = taken | {newest_unlisted["id"]}

    by_client: dict[tuple[int, int], list[dict]] = {}
    for record in latest.values():
        if record.get("client"):
            by_client.setdefault((record["company_id"], record["client"]["id"]), []).append(record)
    # clients none of whose records another change touches nor gets later, so each move below is the only change
    later_clients = {(r["company_id"], r["client"]["id"]) for r in later_records if r.get("client")}
    untouched = {
        k: sorted(v, key=lambda r: (datetime.fromisoformat(r["last_change_date"]), r["id"]))
        for k, v in by_client.items()
        if k not in later_clients
        and all(r["id"] not in taken and r.get("datetime") and r.get("last_change_date") for r in v)
    }
    several = [k for k, v in untouched.items() if len(v) >= 3]
    single = [k for k, v in untouched.items() if len(v) == 1]
    fallback, vanishing, carded = several[0], single[0], several[1]
    receiver = next(k for k in several[2:] if k[0] == fallback[0])
    other_receiver = next(k for k in several[2:] if k[0] == vanishing[0] and k != receiver)
    cardless = {fallback, vanishing, carded}
    record_changes += [moved(untouched[fallback][-1], receiver), moved(untouched[vanishing][0], other_receiver)]

    changed_card = copy.deepcopy(next(c for c in data.clients if (c["company_id"], c["id"]) == receiver))
    changed_card["name"], changed_card["phone"] = "Новое имя", "8 (916) 000-33-44"
    new_card = next(c for c in data.clients if (c["company_id"], c["id"]) == carded)
    return {
        "clients_1": [c for c in data.clients if (c["company_id"], c["id"]) not in cardless],
        "services_1": [s for s in data.services if s["id"] not in (unlisted["id"], joining["id"])],
        "clients_2": [changed_card, new_card],
        "services_2": [joining],
        "records_2": record_changes,
    }


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
    changes = changed_versions(first)
    more = client_and_menu_changes(first, rest, data, {r["id"] for r in changes} | {r["id"] for r in rest})
    with Warehouse.connect(settings) as wh:
        ingest(
            wh,
            sources_from_objects(
                companies=data.companies, services=more["services_1"], clients=more["clients_1"], records=first
            ),
            "batch-1",
        )
    # the first build is six weeks earlier: the incremental run must also move the as-of date correctly
    run_models(settings, as_of=AS_OF - timedelta(days=42), select=COMPARED)

    # a re-categorised service must reach old cache rows too
    renamed = next(s for s in services if "onsult" in s["title"] or "Консультац" in s["title"])
    renamed["title"] = "Мужская стрижка (консультация)"
    with Warehouse.connect(settings) as wh:
        records = rest + changes + more["records_2"]
        report = ingest(
            wh,
            sources_from_objects(services=[renamed, *more["services_2"]], clients=more["clients_2"], records=records),
            "batch-2",
        )
        assert report.loaded["records"] == len({r["id"] for r in records})
        assert report.loaded["services"] == 2 and report.loaded["clients"] == 2
    run_models(settings, select=COMPARED)
    with Warehouse.connect(settings) as wh:
        incremental = snapshot(wh)
        batches = wh.fetchall("select distinct batch_id from appointments_cache order by 1")
    assert batches == [(1,), (2,)]

    run_models(settings, full_refresh=True, select=COMPARED)
    with Warehouse.connect(settings) as wh:
        full = snapshot(wh)
    assert_same(incremental, full)

    # replaying a past date on the incremental tables equals a full refresh at that date
    replay = AS_OF - timedelta(days=150)
    run_models(settings, as_of=replay, select=COMPARED)
    with Warehouse.connect(settings) as wh:
        incremental = snapshot(wh)
    run_models(settings, as_of=replay, full_refresh=True, select=COMPARED)
    with Warehouse.connect(settings) as wh:
        full = snapshot(wh)
    assert_same(incremental, full)


def assert_same(incremental: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame]) -> None:
    for table in TABLES:
        assert len(full[table]) > 0, table
        pd.testing.assert_frame_equal(incremental[table], full[table], obj=table)
