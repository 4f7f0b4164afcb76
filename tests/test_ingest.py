"""Ingest from JSON Lines: bad lines reported and skipped, re-ingest idempotent, latest change wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reactivation.ingest import ingest_dir
from reactivation.warehouse import Warehouse

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
