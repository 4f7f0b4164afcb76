"""Load YClients-shaped objects into the raw tables: typed key columns plus each object's own JSON.

Rules kept here (and nowhere else): a line that is not JSON, not an object, lacks its ids, or holds a value its
column cannot take (an id that is not a whole number, a number outside its SQL type, a string over
`MAX_TEXT_CHARS`, a list or object where one value belongs, an unparsable change or creation date) is rejected
with file, line and reason; a record id keeps only its latest `last_change_date`; re-loading the same
objects changes nothing. A record's own values that fail to parse (attendance, deleted, datetime, a line's cost
or amount) are kept as NULL and named in `invalid_fields`, so the dbt rejects model can report them with the
record. A company whose time zone is not an IANA name is loaded with `timezone_error` set: the models hold it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pandas as pd

from reactivation import rules
from reactivation.outbox import cancel_for_cards_of_batch
from reactivation.privacy import CARD_KEYS, CLIENT_KEYS, mask_content, scrub_payload_sql
from reactivation.warehouse import Warehouse

ENTITY_FILES = ("companies", "services", "staff", "clients", "records")
DEFAULT_TIMEZONE = rules.current().default_timezone  # var `default_timezone`: a company without a zone
# the SQL types of the raw columns a value must fit (warehouse.RUNNER_TABLES): ids are bigint, counts integer
BIGINT = (-(2**63), 2**63 - 1)
INTEGER = (-(2**31), 2**31 - 1)
# names, titles, phones and the raw datetime: far above any real value, low enough that a runaway field
# (a whole HTML page pasted into a name) is refused instead of stored and copied into every model
MAX_TEXT_CHARS = 1000
_NOT_IANA = {"localtime", "posixrules"}  # files of the host's zone database, not zone names


class LineError(ValueError):
    """A value that makes its whole line unusable: the line is rejected with this reason, nothing of it loads."""


def timezone_error(name: Any) -> str | None:
    """Why `name` cannot be a company's time zone, or None when it can (absent means the default zone).

    Only IANA names are accepted: "UTC+3" or a bare "Moscow" are read differently (or not at all) by DuckDB,
    PostgreSQL and Python, while "Etc/GMT-3" means the same everywhere.
    """
    if name is None or (isinstance(name, str) and not name.strip()):
        return None
    text = str(name).strip()
    if text not in _NOT_IANA and text in available_timezones():
        with suppress(ZoneInfoNotFoundError, ValueError):
            ZoneInfo(text)
            return None
    return f"time zone {text!r} is not an IANA time zone name (like Europe/Moscow or Etc/GMT-3)"


@dataclass
class Reject:
    """A line or object that could not be loaded, and why."""

    file: str
    line: int | None
    reason: str
    content: str


@dataclass
class IngestReport:
    """What one ingest batch did."""

    batch_id: int
    loaded: dict[str, int] = field(default_factory=dict)  # rows inserted or updated per entity
    seen: dict[str, int] = field(default_factory=dict)  # valid objects offered per entity
    rejects: list[Reject] = field(default_factory=list)
    held: dict[int, str] = field(default_factory=dict)  # company id -> why the models hold it (its time zone)

    def summary(self) -> dict[str, Any]:
        summary = {"batch_id": self.batch_id, "loaded": self.loaded, "seen": self.seen, "rejected": len(self.rejects)}
        if self.held:
            summary["held"] = {str(k): v for k, v in self.held.items()}
        return summary


@dataclass
class Source:
    """Objects of one entity with where each came from (file and line) for error reports."""

    entity: str
    objects: list[tuple[str, int | None, dict[str, Any]]] = field(default_factory=list)


# ---------- reading
def read_jsonl(path: Path, entity: str, rejects: list[Reject]) -> Source:
    """Parse a JSON Lines file; bad lines become rejects, good ones objects."""
    source = Source(entity)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                rejects.append(Reject(path.name, number, f"invalid JSON: {exc.msg} at column {exc.colno}", text))
                continue
            if not isinstance(obj, dict):
                rejects.append(Reject(path.name, number, "not a JSON object", text))
                continue
            source.objects.append((path.name, number, obj))
    return source


def sources_from_dir(directory: Path, rejects: list[Reject]) -> list[Source]:
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    found = [
        read_jsonl(directory / f"{e}.jsonl", e, rejects) for e in ENTITY_FILES if (directory / f"{e}.jsonl").exists()
    ]
    if not found:
        raise FileNotFoundError(f"{directory} holds none of {', '.join(e + '.jsonl' for e in ENTITY_FILES)}")
    return found


def sources_from_objects(**entities: Iterable[dict[str, Any]]) -> list[Source]:
    """Objects already in memory (the demo generator, the API sync) go through the same path as files."""
    return [
        Source(name, [(f"<{name}>", i, obj) for i, obj in enumerate(objs, start=1)]) for name, objs in entities.items()
    ]


# ---------- parsing helpers: None when absent, ValueError when present but unusable, LineError when the value
# cannot be stored at all (outside its column's SQL type)
def _int(value: Any, bounds: tuple[int, int] = BIGINT) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("boolean where a number was expected")
    if isinstance(value, float) and not math.isfinite(value):
        raise LineError(f"{value} is not a finite number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not a whole number")
    number = int(value)
    if not bounds[0] <= number <= bounds[1]:
        kind = "integer" if bounds == INTEGER else "bigint"
        raise LineError(f"{number} is out of range for its {kind} column")
    return number


def _int32(value: Any) -> int | None:
    """Counts and flags stored as SQL `integer` (sms_not, attendance, amount)."""
    return _int(value, INTEGER)


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("boolean where a number was expected")
    number = float(value)
    if not math.isfinite(number):
        raise LineError(f"{value} is not a finite number")
    return number


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError("not a boolean")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _instant(value: Any, tz: ZoneInfo) -> datetime | None:
    """An ISO 8601 instant; a value without an offset is read in the company's own zone."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo(DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


class _Fields:
    """Collects typed values of one object, remembering which ones failed to parse.

    A value that cannot be stored at all (a list or object for one value, an over-long string, a number outside its
    column) raises LineError naming the field. So does any unparsable value when `strict` (entities without an
    `invalid_fields` column to report it) or when the field is asked for with `required_type` (ids, change dates).
    """

    def __init__(self, obj: dict[str, Any], strict: bool = False) -> None:
        self.obj = obj
        self.strict = strict
        self.invalid: list[str] = []

    def get(
        self,
        key: str,
        parse: Any,
        *args: Any,
        source: dict[str, Any] | None = None,
        name: str | None = None,
        required_type: bool = False,
    ) -> Any:
        name = name or key
        raw = (self.obj if source is None else source).get(key)
        if isinstance(raw, dict | list):
            raise LineError(f"{name}: {'an object' if isinstance(raw, dict) else 'a list'} where one value belongs")
        if isinstance(raw, str) and len(raw) > MAX_TEXT_CHARS:
            raise LineError(f"{name}: longer than {MAX_TEXT_CHARS} characters")
        try:
            return parse(raw, *args)
        except LineError as exc:
            raise LineError(f"{name}: {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            if self.strict or required_type:
                raise LineError(f"{name}: unusable value {raw!r} ({exc})") from None
            self.invalid.append(name)
            return None


def _payload(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


# ---------- flattening each entity
def _id(obj: dict[str, Any], key: str, fallback: str | None = None) -> int | None:
    """A key column: anything but a whole number within bigint makes the line unusable."""
    name = key if fallback is None or key in obj else fallback
    try:
        return _int(obj.get(name))
    except (TypeError, ValueError, OverflowError) as exc:
        raise LineError(f"unusable id: {name}: {exc}") from None


def _company_row(obj: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(obj, strict=True)
    timezone = f.get("timezone", _text)
    return {
        "company_id": _id(obj, "company_id", fallback="id"),
        "name": f.get("name", _text) or f.get("title", _text),
        "timezone": timezone,
        "timezone_error": timezone_error(timezone),
        "locale": f.get("locale", _text),
        "country": f.get("country", _text),
        "booking_url": f.get("booking_url", _text),
        "staff_booking_url": f.get("staff_booking_url", _text),
    }


def _service_row(obj: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(obj, strict=True)
    return {
        "company_id": _id(obj, "company_id"),
        "id": _id(obj, "id"),
        "title": f.get("title", _text),
        "category_id": f.get("category_id", _int),
        "category_title": f.get("category_title", _text),
        "cost": f.get("cost", _float),
    }


def _staff_row(obj: dict[str, Any]) -> dict[str, Any]:
    """A master of the company (`GET /company/{id}/staff`); a garbled `fired` must not pass for "still working"."""
    f = _Fields(obj, strict=True)
    return {
        "company_id": _id(obj, "company_id"),
        "id": _id(obj, "id"),
        "name": f.get("name", _text),
        "specialization": f.get("specialization", _text),
        "fired": f.get("fired", _bool),
    }


def _client_row(obj: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(obj, strict=True)  # a garbled sms_not must not pass for "not opted out"
    return {
        "company_id": _id(obj, "company_id"),
        "id": _id(obj, "id"),
        "name": f.get("name", _text),
        "phone": f.get("phone", _text),
        "deleted": f.get("deleted", _bool),
        "sms_not": f.get("sms_not", _int32),
    }


def _record_rows(obj: dict[str, Any], tz: ZoneInfo) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    f = _Fields(obj)
    client = obj.get("client")
    if not isinstance(client, dict):
        client = {}  # walk-in: YClients sends null (or an empty list)
    company_id, record_id = _id(obj, "company_id"), _id(obj, "id")
    row = {
        "company_id": company_id,
        "id": record_id,
        "client_id": f.get("id", _int, source=client, name="client.id", required_type=True),
        "client_name": f.get("name", _text, source=client, name="client.name"),
        "client_phone": f.get("phone", _text, source=client, name="client.phone"),
        "staff_id": f.get("staff_id", _int, required_type=True),
        "datetime_raw": f.get("datetime", _text),
        "visit_at": f.get("datetime", _instant, tz),
        "attendance": f.get("attendance", _int32),
        "deleted": f.get("deleted", _bool),
        "visit_id": f.get("visit_id", _int, required_type=True),
        "create_date": f.get("create_date", _instant, tz, required_type=True),
        # the version key: a record whose change date cannot be read could neither win nor lose against another
        "last_change_at": f.get("last_change_date", _instant, tz, required_type=True),
    }
    services = obj.get("services") or []
    if not isinstance(services, list):
        f.invalid.append("services")
        services = []
    service_rows = []
    for position, service in enumerate(services):
        if not isinstance(service, dict):
            f.invalid.append(f"services[{position}]")
            continue
        sf = _Fields(service)
        try:
            service_rows.append(
                {
                    "company_id": company_id,
                    "record_id": record_id,
                    "position": position,
                    "service_id": sf.get("id", _int, required_type=True),
                    "title": sf.get("title", _text),
                    "cost": sf.get("cost", _float),
                    "first_cost": sf.get("first_cost", _float),
                    "amount": sf.get("amount", _int32),
                }
            )
        except LineError as exc:
            raise LineError(f"services[{position}].{exc}") from None
        f.invalid.extend(f"services[{position}].{name}" for name in sf.invalid)
    # an unparsable datetime is reported from `datetime_raw` (reason unparsable_datetime), not twice
    row["invalid_fields"] = ", ".join(name for name in f.invalid if name != "datetime") or None
    return row, service_rows


# ---------- loading
_KEYS = {
    "companies": ("company_id",),
    "services": ("company_id", "id"),
    "staff": ("company_id", "id"),
    "clients": ("company_id", "id"),
    "records": ("company_id", "id"),
}
_TABLES = {e: f"raw_yclients_{e}" for e in ENTITY_FILES}
_INTS = {
    "company_id",
    "id",
    "category_id",
    "sms_not",
    "client_id",
    "staff_id",
    "attendance",
    "visit_id",
    "record_id",
    "position",
    "service_id",
    "amount",
    "_batch_id",
}
_TIMES = {"visit_at", "create_date", "last_change_at", "_loaded_at"}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column in _INTS:
            frame[column] = frame[column].astype("Int64")
        elif column in _TIMES:
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif column in ("deleted", "fired"):
            frame[column] = frame[column].astype("boolean")
        elif column in ("cost", "first_cost"):
            frame[column] = frame[column].astype("Float64")
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _company_zones(wh: Warehouse, companies: Source | None) -> dict[int, ZoneInfo]:
    zones = {cid: _zone(tz) for cid, tz in wh.fetchall("select company_id, timezone from raw_yclients_companies")}
    for _, _, obj in companies.objects if companies else []:
        with suppress(TypeError, ValueError):  # a company without a usable id is rejected when loaded
            zones[_int(obj.get("company_id", obj.get("id")))] = _zone(obj.get("timezone"))
    return zones


def register_batch(wh: Warehouse, source_name: str, started: datetime) -> int:
    """Open a new batch (the next id of the one sequence all raw rows share); call inside the writer's transaction.

    Every raw row a batch writes carries its id, and incremental models re-read rows of batches newer than they hold.
    """
    batch_id = (wh.fetchone("select coalesce(max(batch_id), 0) + 1 from raw_ingest_batches") or (1,))[0]
    wh.execute(
        "insert into raw_ingest_batches (batch_id, source, started_at) values (%s, %s, %s)",
        [batch_id, source_name, started],
    )
    return batch_id


def close_batch(wh: Warehouse, batch_id: int, summary: dict[str, Any]) -> None:
    """Mark a batch opened by `register_batch` finished, with what it did; inside the same transaction."""
    wh.execute(
        "update raw_ingest_batches set finished_at = %s, summary = %s where batch_id = %s",
        [datetime.now(UTC), json.dumps(summary), batch_id],
    )


def ingest(
    wh: Warehouse,
    sources: list[Source],
    source_name: str,
    rejects: list[Reject] | None = None,
    within_batch: Callable[[Warehouse], None] | None = None,
) -> IngestReport:
    """Load the given objects as one batch, in one transaction.

    `within_batch` runs inside that transaction, so a caller's bookkeeping (an API sync's cursor) commits
    together with the rows, or not at all.
    """
    wh.ensure_tables()
    rejects = list(rejects or [])
    started = datetime.now(UTC)
    with wh.transaction():
        batch_id = register_batch(wh, source_name, started)
        report = IngestReport(batch_id=batch_id, rejects=rejects)
        by_entity = {s.entity: s for s in sources}
        zones = _company_zones(wh, by_entity.get("companies"))
        for entity in ENTITY_FILES:
            if entity in by_entity:
                _load_entity(wh, by_entity[entity], zones, report, started)
        # an opt-out or a deletion on a card takes effect with the load, not at the next refresh
        cancel_for_cards_of_batch(wh, batch_id, started)
        for reject in report.rejects:
            content = mask_content(reject.content)[:2000]  # names removed, phones masked; file, line, reason kept
            wh.execute(
                "insert into raw_ingest_rejects (batch_id, source, file, line, reason, content, rejected_at)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                [batch_id, source_name, reject.file, reject.line, reject.reason, content, started],
            )
        if within_batch is not None:
            within_batch(wh)
        close_batch(wh, batch_id, report.summary())
    # planner statistics for the refresh are renewed by dbt's on-run-start (macros/refresh_raw_statistics.sql)
    return report


def _load_entity(
    wh: Warehouse, source: Source, zones: dict[int, ZoneInfo], report: IngestReport, loaded_at: datetime
) -> None:
    entity, keys = source.entity, _KEYS[source.entity]
    latest: dict[tuple, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for file, line, obj in source.objects:
        try:
            if entity == "records":
                tz = zones.get(_id(obj, "company_id"), _zone(None))
                row, children = _record_rows(obj, tz)
            else:
                flatten = {"companies": _company_row, "services": _service_row, "staff": _staff_row}
                row, children = ({**flatten, "clients": _client_row}[entity](obj), [])
        except LineError as exc:
            report.rejects.append(Reject(file, line, str(exc), _payload(obj)))
            continue
        missing = [k for k in keys if row.get(k) is None]
        if missing:
            report.rejects.append(Reject(file, line, f"missing {' and '.join(missing)}", _payload(obj)))
            continue
        row["payload"] = _payload(obj)
        key = tuple(row[k] for k in keys)
        previous = latest.get(key)
        # Within one batch the same rule holds as across batches: the latest change wins, ties go to the later line.
        if previous is None or _not_older(row, previous[0]):
            latest[key] = (row, children)
    report.seen[entity] = len(latest)
    if entity == "companies":
        held = {row["company_id"]: row["timezone_error"] for row, _ in latest.values() if row["timezone_error"]}
        report.held.update(held)
    if not latest:
        report.loaded[entity] = 0
        return
    rows = [dict(r, _batch_id=report.batch_id, _loaded_at=loaded_at) for r, _ in latest.values()]
    table = _TABLES[entity]
    wh.load_stage("_stage", _frame(rows), like=table)
    columns = list(rows[0].keys())
    updates = ", ".join(f"{c} = {_kept_anonymous(wh, table, entity, c)}" for c in columns if c not in keys)
    if entity == "records":
        newer = f"{table}.last_change_at is null or excluded.last_change_at > {table}.last_change_at"
    else:
        newer = f"{table}.payload is distinct from {_kept_anonymous(wh, table, entity, 'payload')}"
    wh.execute(
        f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from _stage "
        f"on conflict ({', '.join(keys)}) do update set {updates} where {newer}"
    )
    report.loaded[entity] = wh.fetchone(f"select count(*) from {table} where _batch_id = %s", [report.batch_id])[0]
    if entity == "records":
        _replace_record_services(wh, [c for _, cs in latest.values() for c in cs], report.batch_id)
    wh.execute("drop table if exists _stage")


# What retention erases (columns, payload keys, keys of the payload's client object): a row already anonymised
# keeps them erased, and keeps `anonymised_at`, when its source is read again.
_PERSONAL = {
    "clients": (("name", "phone"), CARD_KEYS, CLIENT_KEYS),
    "records": (("client_name", "client_phone"), (), CLIENT_KEYS),
}


def _kept_anonymous(wh: Warehouse, table: str, entity: str, column: str) -> str:
    """The value an upsert writes into `column`: the incoming one, or for an anonymised row its scrubbed form."""
    if entity not in _PERSONAL:
        return f"excluded.{column}"
    columns, keys, client_keys = _PERSONAL[entity]
    if column in columns:
        return f"case when {table}.anonymised_at is null then excluded.{column} end"
    if column == "payload":
        scrubbed = scrub_payload_sql(wh.engine, "excluded.payload", keys, client_keys)
        return f"case when {table}.anonymised_at is null then excluded.payload else {scrubbed} end"
    return f"excluded.{column}"


def _not_older(row: dict[str, Any], previous: dict[str, Any]) -> bool:
    new, old = row.get("last_change_at"), previous.get("last_change_at")
    return old is None or (new is not None and new >= old)


def _replace_record_services(wh: Warehouse, children: list[dict[str, Any]], batch_id: int) -> None:
    """A record that changed gets its service lines replaced whole (a service may have been removed)."""
    changed = "(company_id, record_id) in (select company_id, id from raw_yclients_records where _batch_id = %s)"
    wh.execute(f"delete from raw_yclients_record_services where {changed}", [batch_id])
    if not children:
        return
    wh.load_stage(
        "_stage_services", _frame([dict(c, _batch_id=batch_id) for c in children]), like="raw_yclients_record_services"
    )
    columns = "company_id, record_id, position, service_id, title, cost, first_cost, amount, _batch_id"
    wh.execute(
        f"insert into raw_yclients_record_services ({columns}) select {columns} from _stage_services where {changed}",
        [batch_id],
    )
    wh.execute("drop table if exists _stage_services")


def ingest_dir(wh: Warehouse, directory: Path) -> IngestReport:
    rejects: list[Reject] = []
    sources = sources_from_dir(directory, rejects)
    return ingest(wh, sources, f"dir:{directory}", rejects)
