"""Ingest from JSON Lines: bad lines reported and skipped, re-ingest idempotent, latest change wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reactivation.ingest import ingest, ingest_dir, sources_from_objects
from reactivation.warehouse import Warehouse
from reactivation.yclients.config import YClientsSettings
from reactivation.yclients.mapping import company_object

COMPANY = {"company_id": 1, "name": "Салон", "timezone": "Europe/Moscow"}
CLIENT = {"id": 10, "company_id": 1, "name": "Анна", "phone": "+7 916 000-00-01"}


def record(record_id: int, change: str, **overrides) -> dict:
    base = {
        "id": record_id,
        "company_id": 1,
        "client": {"id": 10, "name": "Анна", "phone": "+79160000001"},
        "datetime": "2026-01-10T12:00:00+03:00",
        "services": [{"id": 5, "title": "Маникюр", "cost": 1500, "first_cost": 1500, "amount": 1}],
        "attendance": 1,
        "deleted": False,
        "create_date": "2026-01-01T10:00:00+03:00",
        "last_change_date": change,
    }
    return base | overrides


def write(folder: Path, name: str, lines: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines)
    (folder / f"{name}.jsonl").write_text(text + "\n", encoding="utf-8")


def test_malformed_lines_are_reported_with_file_line_and_reason_and_the_rest_loads(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    write(tmp_path, "companies", [COMPANY])
    write(tmp_path, "clients", [CLIENT, {"company_id": 1, "name": "без id"}])
    write(
        tmp_path,
        "records",
        [
            record(100, "2026-01-10T15:00:00+03:00"),
            '{"id": 101, "company_id": 1, "datetime": ',  # truncated JSON
            "[1, 2, 3]",  # not an object
            {"company_id": 1, "datetime": "2026-01-10T12:00:00+03:00"},  # no id
            {"id": "abc", "company_id": 1},  # unusable id
            record(102, "2026-01-10T15:00:00+03:00", datetime="not-a-date"),  # loads, rejected by the model
            record(103, "2026-01-10T15:00:00+03:00", client=None),
            record(104, "2026-01-10T15:00:00+03:00", attendance="пришёл", services=[{"id": 5, "cost": "free"}]),
        ],
    )
    report = ingest_dir(warehouse, tmp_path)
    rejects = {(r.file, r.line): r.reason for r in report.rejects}
    assert set(rejects) == {
        ("clients.jsonl", 2),
        ("records.jsonl", 2),
        ("records.jsonl", 3),
        ("records.jsonl", 4),
        ("records.jsonl", 5),
    }
    assert rejects[("records.jsonl", 2)].startswith("invalid JSON")
    assert rejects[("records.jsonl", 3)] == "not a JSON object"
    assert rejects[("records.jsonl", 4)] == "missing id"
    assert rejects[("records.jsonl", 5)].startswith("unusable id")
    assert report.loaded == {"companies": 1, "clients": 1, "records": 4}
    stored = warehouse.fetchall("select file, line, reason from raw_ingest_rejects order by file, line")
    assert [(f, n) for f, n, _ in stored] == sorted(rejects)
    row = warehouse.fetchone(
        "select visit_at, datetime_raw, invalid_fields, payload from raw_yclients_records where id = 102"
    )
    assert row[0] is None and row[1] == "not-a-date" and row[2] is None
    assert warehouse.fetchone("select invalid_fields from raw_yclients_records where id = 104")[0] == (
        "attendance, services[0].cost"
    )
    payload = row[3] if isinstance(row[3], dict) else json.loads(row[3])  # jsonb arrives parsed
    assert payload["datetime"] == "not-a-date"  # the object's own JSON is kept whole


def test_reingesting_the_same_files_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    write(tmp_path, "companies", [COMPANY])
    write(tmp_path, "clients", [CLIENT])
    write(tmp_path, "records", [record(100, "2026-01-10T15:00:00+03:00"), record(101, "2026-01-11T15:00:00+03:00")])
    first = ingest_dir(warehouse, tmp_path)
    before = warehouse.fetchall("select id, _batch_id, payload from raw_yclients_records order by id")
    second = ingest_dir(warehouse, tmp_path)
    assert first.loaded == {"companies": 1, "clients": 1, "records": 2}
    assert second.loaded == {"companies": 0, "clients": 0, "records": 0}
    assert warehouse.fetchall("select id, _batch_id, payload from raw_yclients_records order by id") == before
    assert warehouse.fetchone("select count(*) from raw_yclients_record_services")[0] == 2


@pytest.mark.parametrize("order", ["newer_first", "older_first", "same_file"])
def test_newer_last_change_date_supersedes_older_whatever_the_order(
    warehouse: Warehouse, tmp_path: Path, order: str
) -> None:
    old = record(
        100, "2026-01-10T12:00:00+03:00", attendance=0, services=[{"id": 5, "cost": 1500}, {"id": 6, "cost": 900}]
    )
    # written in another offset: instants are compared, not strings (this is one hour later)
    new = record(100, "2026-01-10T11:00:00+01:00", attendance=1, deleted=True)
    batches = {"newer_first": [[new], [old]], "older_first": [[old], [new]], "same_file": [[old, new]]}[order]
    for i, lines in enumerate(batches):
        folder = tmp_path / f"b{i}"
        write(folder, "records", lines)
        ingest_dir(warehouse, folder)
    row = warehouse.fetchone("select attendance, deleted from raw_yclients_records where id = 100")
    assert row == (1, True)
    lines = warehouse.fetchall("select service_id from raw_yclients_record_services where record_id = 100")
    assert lines == [(5,)]  # the dropped service line went with the old version


def test_datetime_without_offset_is_read_in_the_company_zone(warehouse: Warehouse, tmp_path: Path) -> None:
    write(tmp_path, "companies", [{"company_id": 1, "timezone": "Asia/Yekaterinburg"}])
    write(tmp_path, "records", [record(100, "2026-01-10T15:00:00+05:00", datetime="2026-01-10T00:30:00")])
    ingest_dir(warehouse, tmp_path)
    visit_at = warehouse.fetchone("select visit_at from raw_yclients_records where id = 100")[0]
    assert visit_at.isoformat().startswith("2026-01-09T19:30:00")


def test_missing_folder_or_files_is_a_clear_error(warehouse: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        ingest_dir(warehouse, tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="records.jsonl"):
        ingest_dir(warehouse, tmp_path)


def test_lines_with_values_their_columns_cannot_hold_are_rejected_and_the_rest_of_the_batch_loads(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    long_text = "я" * 1001
    write(tmp_path, "companies", [COMPANY, {"company_id": 2, "name": ["Салон", "2"], "timezone": "Europe/Moscow"}])
    write(
        tmp_path,
        "services",
        [
            {"id": 5, "company_id": 1, "title": "Маникюр", "cost": 1500},
            {"id": 6, "company_id": 1, "title": "Педикюр", "cost": "free"},  # no invalid_fields to report it
            '{"id": 7, "company_id": 1, "title": "Бесконечность", "cost": 1e400}',  # JSON reads it as inf
        ],
    )
    write(
        tmp_path,
        "clients",
        [
            CLIENT,
            CLIENT | {"id": 11, "sms_not": 99999999999999999999},  # beyond bigint: once an OverflowError
            CLIENT | {"id": 12, "sms_not": 3_000_000_000},  # a bigint, but sms_not is an integer column
            CLIENT | {"id": "abc"},
            CLIENT | {"id": 14, "name": long_text},
            CLIENT | {"id": 15, "sms_not": [1]},
            CLIENT | {"id": 16, "sms_not": "yes"},  # a garbled opt-out flag is not "not opted out"
            CLIENT | {"id": 17, "name": "Вера", "sms_not": 1},
        ],
    )
    change = "2026-01-10T15:00:00+03:00"
    write(
        tmp_path,
        "records",
        [
            record(100, change),
            record(2**63, change),
            record(102, "yesterday"),
            record(103, change, attendance=2**40),
            record(104, change, client={"id": "abc", "phone": "+79160000001"}),
            record(105, change, services=[{"id": 5, "cost": 1500, "amount": 10**30}]),
            record(106, change, client={"id": 10, "name": long_text}),
            record(107, change, staff_id={"id": 3}),
            record(108, change, datetime=["2026-01-10T12:00:00+03:00"]),
            record(109, change, services=[{"id": 5.5, "cost": 1500}]),
            record(110, change, attendance="пришёл"),  # a record's own value: loads, named in invalid_fields
        ],
    )
    report = ingest_dir(warehouse, tmp_path)  # once: OverflowError, nothing loaded for any company
    reasons = {(r.file, r.line): r.reason for r in report.rejects}
    assert reasons == {
        ("companies.jsonl", 2): "name: a list where one value belongs",
        ("services.jsonl", 2): "cost: unusable value 'free' (could not convert string to float: 'free')",
        ("services.jsonl", 3): "cost: inf is not a finite number",
        ("clients.jsonl", 2): "sms_not: 99999999999999999999 is out of range for its integer column",
        ("clients.jsonl", 3): "sms_not: 3000000000 is out of range for its integer column",
        ("clients.jsonl", 4): "unusable id: id: invalid literal for int() with base 10: 'abc'",
        ("clients.jsonl", 5): "name: longer than 1000 characters",
        ("clients.jsonl", 6): "sms_not: a list where one value belongs",
        ("clients.jsonl", 7): "sms_not: unusable value 'yes' (invalid literal for int() with base 10: 'yes')",
        ("records.jsonl", 2): f"unusable id: id: {2**63} is out of range for its bigint column",
        ("records.jsonl", 3): "last_change_date: unusable value 'yesterday' (Invalid isoformat string: 'yesterday')",
        ("records.jsonl", 4): f"attendance: {2**40} is out of range for its integer column",
        ("records.jsonl", 5): "client.id: unusable value 'abc' (invalid literal for int() with base 10: 'abc')",
        ("records.jsonl", 6): f"services[0].amount: {10**30} is out of range for its integer column",
        ("records.jsonl", 7): "client.name: longer than 1000 characters",
        ("records.jsonl", 8): "staff_id: an object where one value belongs",
        ("records.jsonl", 9): "datetime: a list where one value belongs",
        ("records.jsonl", 10): "services[0].id: unusable value 5.5 (not a whole number)",
    }
    assert report.loaded == {"companies": 1, "services": 1, "clients": 2, "records": 2}
    stored = warehouse.fetchall("select file, line, reason from raw_ingest_rejects order by file, line")
    assert {(f, n): r for f, n, r in stored} == reasons
    assert warehouse.fetchall("select id, sms_not from raw_yclients_clients order by id") == [(10, None), (17, 1)]
    assert warehouse.fetchall("select id, attendance, invalid_fields from raw_yclients_records order by id") == [
        (100, 1, None),
        (110, None, "attendance"),
    ]


@pytest.mark.parametrize(
    ("zone", "held"),
    [
        ("Moscow", True),
        ("UTC+3", True),
        ("europe/moscow", True),
        ("localtime", True),
        ("Etc/GMT-3", False),
        ("Asia/Yekaterinburg", False),
        ("", False),
        (None, False),
    ],
)
def test_a_company_whose_time_zone_is_not_an_iana_name_loads_held_with_an_error_naming_it(
    warehouse: Warehouse, tmp_path: Path, zone: str | None, held: bool
) -> None:
    write(tmp_path, "companies", [COMPANY | {"company_id": 7, "timezone": zone}, COMPANY | {"company_id": 8}])
    write(tmp_path, "records", [record(100, "2026-01-10T15:00:00+03:00", company_id=7)])
    report = ingest_dir(warehouse, tmp_path)
    assert report.loaded == {"companies": 2, "records": 1}  # the company and its records are kept
    stored = dict(warehouse.fetchall("select company_id, timezone_error from raw_yclients_companies"))
    if held:
        assert set(report.held) == {7}
        expected = f"time zone {zone!r} is not an IANA time zone name (like Europe/Moscow or Etc/GMT-3)"
        assert report.held[7] == stored[7] == expected
        assert report.summary()["held"] == {"7": report.held[7]}
    else:
        assert report.held == {} and stored[7] is None
    assert stored[8] is None


def test_a_non_iana_time_zone_from_company_settings_holds_only_that_company(warehouse: Warehouse) -> None:
    configured = '{"101": {"timezone": "UTC+3"}, "102": {"timezone": "Etc/GMT-3"}}'
    settings = YClientsSettings.from_env({"REACTIVATION_COMPANY_SETTINGS": configured})
    companies = [company_object({"title": f"Salon {c}"}, c, settings.defaults_for(c)) for c in (101, 102)]
    report = ingest(warehouse, sources_from_objects(companies=companies), "yclients:reference")
    assert report.held == {101: "time zone 'UTC+3' is not an IANA time zone name (like Europe/Moscow or Etc/GMT-3)"}
    assert report.loaded == {"companies": 2}


def test_ensure_tables_adds_only_what_is_missing_and_runs_no_ddl_once_the_warehouse_is_current(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a warehouse from an older release: a runner table without a newer column, a raw table without its index
    warehouse.execute("alter table raw_ingest_batches drop column summary")
    if warehouse.engine == "postgres":
        warehouse.execute("drop index raw_yclients_records_client_idx")
    statements: list[str] = []
    execute = warehouse.execute
    monkeypatch.setattr(warehouse, "execute", lambda sql, params=None: (statements.append(sql), execute(sql, params)))

    warehouse.ensure_tables()
    assert statements == ["alter table raw_ingest_batches add column if not exists summary text"] + (
        ["create index if not exists raw_yclients_records_client_idx on raw_yclients_records (company_id, client_id)"]
        if warehouse.engine == "postgres"
        else []
    )
    columns = warehouse.fetchall(
        "select column_name from information_schema.columns where table_name = 'raw_ingest_batches'"
        " and table_schema = %s", [warehouse.settings.schema])  # fmt: skip
    assert ("summary",) in columns

    statements.clear()
    warehouse.ensure_tables()  # every ingest batch and sync page calls it: no DDL (no lock) once all is there
    assert statements == []
