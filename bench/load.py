"""Bulk writes into the raw tables: DuckDB scans registered frames in-process, PostgreSQL takes `COPY ... FROM
STDIN` in CSV. Never row by row.

Every write is a DuckDB `select` over registered pandas frames. On DuckDB it runs in the warehouse itself
(`insert into ... by name select ...`); on PostgreSQL an in-memory DuckDB renders it to a CSV file (fast and
multi-threaded) that is streamed to COPY in large chunks. So the shaping SQL below serves both engines.
"""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bench.generate import Batch, History
from reactivation.settings import Settings

COPY_CHUNK = 8 << 20  # bytes per COPY write

_SHAPES: dict[str, str] = {
    "raw_yclients_companies": """
        select company_id, name, timezone, locale, country, booking_url,
            json_object('company_id', company_id, 'title', name, 'timezone', timezone)::varchar as payload
        from h_companies""",
    "raw_yclients_services": """
        select company_id, id, title, category_id, category_title, cost,
            json_object('id', id, 'company_id', company_id, 'title', title)::varchar as payload
        from h_services""",
    "raw_yclients_clients": """
        select company_id, id, name, phone, deleted, sms_not,
            json_object('id', id, 'company_id', company_id, 'name', name)::varchar as payload
        from h_clients
        where has_card""",
    "raw_yclients_records": """
        select r.company_id, r.id, nullif(r.client_id, 0) as client_id, c.name as client_name,
            c.phone as client_phone, r.staff_id, strftime(r.visit_local, '%Y-%m-%dT%H:%M:%S') as datetime_raw,
            timezone(co.timezone, r.visit_local) as visit_at, r.attendance, r.deleted, r.visit_id,
            timezone(co.timezone, r.create_local) as create_date,
            timezone(co.timezone, r.change_local) as last_change_at,
            json_object('id', r.id, 'company_id', r.company_id, 'attendance', r.attendance)::varchar as payload
        from h_records as r
        inner join h_companies as co on co.company_id = r.company_id
        left join h_clients as c on c.company_id = r.company_id and c.id = r.client_id""",
    "raw_yclients_record_services": """
        select company_id, record_id, position, service_id, title, cost, cost as first_cost, amount
        from h_lines""",
}

_BATCH_SHAPES: dict[str, str] = {
    "_stage_records": """
        select *, strftime(visit_at, '%Y-%m-%dT%H:%M:%S+00:00') as datetime_raw,
            json_object('id', id, 'company_id', company_id, 'attendance', attendance)::varchar as payload
        from b_records""",
    "_stage_lines": "select * from b_lines",
}

_PLACEHOLDER = re.compile(r"%s")
_PG_INTEGER_TYPES = {20, 21, 23}  # int8, int2, int4 type OIDs


class Loader:
    """One connection to a bench warehouse that can bulk-insert a DuckDB `select` over pandas frames."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def insert(self, table: str, select: str, frames: dict[str, pd.DataFrame], extra: str = "") -> int:
        """Insert the rows of `select` (DuckDB SQL over `frames`) plus `extra` columns; returns the row count."""
        raise NotImplementedError

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        raise NotImplementedError

    def query_df(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def scalar(self, sql: str) -> Any:
        return self.query_df(sql).iat[0, 0]


class DuckDBLoader(Loader):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.con = duckdb.connect(str(settings.duckdb_path))
        self.con.execute("set TimeZone = 'UTC'")

    def insert(self, table: str, select: str, frames: dict[str, pd.DataFrame], extra: str = "") -> int:
        for name, frame in frames.items():
            self.con.register(name, frame)
        try:
            sql = f"insert into {table} by name select *{extra} from ({select})"
            return int(self.con.execute(sql).fetchone()[0])
        finally:
            for name in frames:
                self.con.unregister(name)

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.con.execute(_PLACEHOLDER.sub("?", sql), params)

    def query_df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def close(self) -> None:
        self.con.close()


class PostgresLoader(Loader):
    def __init__(self, settings: Settings) -> None:
        import psycopg

        super().__init__(settings)
        self.con = psycopg.connect(
            **settings.pg_connection_args(),
            autocommit=True,
        )
        self.con.execute(f'set search_path to "{settings.pg_schema}"')
        self.con.execute("set timezone to 'UTC'")

    def insert(self, table: str, select: str, frames: dict[str, pd.DataFrame], extra: str = "") -> int:
        render = duckdb.connect()
        render.execute("set TimeZone = 'UTC'")
        for name, frame in frames.items():
            render.register(name, frame)
        sql = f"select *{extra} from ({select})"
        columns = ", ".join(d[0] for d in render.execute(f"{sql} limit 0").description)
        with tempfile.TemporaryDirectory(prefix="bench-copy-") as folder:
            path = Path(folder) / "rows.csv"
            render.execute(f"copy ({sql}) to '{path}' (format csv, header false)")
            render.close()
            with self.con.cursor() as cur, path.open("rb") as handle:
                with cur.copy(f"copy {table} ({columns}) from stdin (format csv)") as copy:
                    while chunk := handle.read(COPY_CHUNK):
                        copy.write(chunk)
                return cur.rowcount

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.con.execute(sql, params)

    def query_df(self, sql: str) -> pd.DataFrame:
        """Rows as a frame; integer columns stay integers when they hold NULLs (nullable Int64, not float)."""
        cur = self.con.execute(sql)
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
        integers = [d.name for d in cur.description if d.type_code in _PG_INTEGER_TYPES]
        return frame.astype(dict.fromkeys(integers, "Int64"))

    def close(self) -> None:
        self.con.close()


def connect(settings: Settings) -> Loader:
    return DuckDBLoader(settings) if settings.target == "duckdb" else PostgresLoader(settings)


def _batch_columns(batch_id: int, loaded_at: datetime) -> str:
    return f", {batch_id} as _batch_id, timestamptz '{loaded_at.isoformat()}' as _loaded_at"


def load_history(loader: Loader, history: History) -> dict[str, int]:
    """Batch 1: every raw table from the generated frames; rows per table."""
    loaded_at = datetime.now(UTC)
    frames = {
        "h_companies": history.companies.drop(columns=["phone_code", "weight", "price_factor"]),
        "h_services": history.services,
        "h_clients": history.clients,
        "h_records": history.records,
        "h_lines": history.lines,
    }
    counts = {}
    for table, select in _SHAPES.items():
        extra = ", 1 as _batch_id" if table == "raw_yclients_record_services" else _batch_columns(1, loaded_at)
        counts[table] = loader.insert(table, select, frames, extra)
    _register_batch(loader, 1, loaded_at, "bench:history")
    if loader.settings.target == "postgres":
        # fresh statistics, as autovacuum would give them shortly after a big load
        loader.execute(f"analyze {', '.join(_SHAPES)}")
    return counts


def load_batch(loader: Loader, batch: Batch, batch_id: int) -> dict[str, int]:
    """A later batch the way ingest writes one: records upserted (a newer change wins), their lines replaced."""
    loaded_at = datetime.now(UTC)
    for stage, like in (("_stage_records", "raw_yclients_records"), ("_stage_lines", "raw_yclients_record_services")):
        loader.execute(f"drop table if exists {stage}")
        loader.execute(f"create temp table {stage} as select * from {like} limit 0")
    frames = {"b_records": batch.records, "b_lines": batch.lines}
    loader.insert("_stage_records", _BATCH_SHAPES["_stage_records"], frames, _batch_columns(batch_id, loaded_at))
    loader.insert("_stage_lines", _BATCH_SHAPES["_stage_lines"], frames, f", {batch_id} as _batch_id")
    columns = list(loader.query_df("select * from _stage_records limit 0").columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("company_id", "id"))
    loader.execute(
        f"insert into raw_yclients_records ({', '.join(columns)}) select {', '.join(columns)} from _stage_records "
        f"on conflict (company_id, id) do update set {updates} "
        "where excluded.last_change_at > raw_yclients_records.last_change_at"
    )
    changed = "(company_id, record_id) in (select company_id, id from raw_yclients_records where _batch_id = %s)"
    loader.execute(f"delete from raw_yclients_record_services where {changed}", [batch_id])
    loader.execute("insert into raw_yclients_record_services select * from _stage_lines")
    _register_batch(loader, batch_id, loaded_at, "bench:changes")
    return {"records": len(batch.records), "lines": len(batch.lines)}


def _register_batch(loader: Loader, batch_id: int, loaded_at: datetime, source: str) -> None:
    loader.execute(
        "insert into raw_ingest_batches (batch_id, source, started_at, finished_at) values (%s, %s, %s, %s)",
        [batch_id, source, loaded_at, datetime.now(UTC)],
    )
