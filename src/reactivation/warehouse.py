"""Connections to the warehouse (DuckDB file or PostgreSQL) and the tables the runner owns.

The runner owns the raw tables (filled by ingest) and its own operational tables (outbox, opt-outs);
dbt owns everything built from them. All of them live in one schema so a model never reaches outside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

import pandas as pd

from reactivation.settings import Settings


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; the message says why and where, without secrets."""


# One DDL per table, written in the SQL both engines accept; {json} is the engine's JSON type.
RUNNER_TABLES: dict[str, str] = {
    "raw_ingest_batches": """
        batch_id bigint primary key,
        source text not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        summary text
    """,
    "raw_ingest_rejects": """
        batch_id bigint not null,
        source text not null,
        file text,
        line bigint,
        reason text not null,
        content text,
        rejected_at timestamptz not null
    """,
    "raw_sync_cursors": """
        company_id bigint not null,
        entity text not null,
        cursor_value text,
        updated_at timestamptz not null,
        primary key (company_id, entity)
    """,
    "raw_yclients_companies": """
        company_id bigint primary key,
        name text,
        timezone text,
        timezone_error text,
        locale text,
        country text,
        booking_url text,
        staff_booking_url text,
        payload {json},
        _batch_id bigint not null,
        _loaded_at timestamptz not null
    """,
    "raw_yclients_services": """
        company_id bigint not null,
        id bigint not null,
        title text,
        category_id bigint,
        category_title text,
        cost double precision,
        payload {json},
        _batch_id bigint not null,
        _loaded_at timestamptz not null,
        primary key (company_id, id)
    """,
    "raw_yclients_staff": """
        company_id bigint not null,
        id bigint not null,
        name text,
        specialization text,
        fired boolean,
        payload {json},
        _batch_id bigint not null,
        _loaded_at timestamptz not null,
        primary key (company_id, id)
    """,
    "raw_yclients_clients": """
        company_id bigint not null,
        id bigint not null,
        name text,
        phone text,
        deleted boolean,
        sms_not integer,
        anonymised_at timestamptz,
        payload {json},
        _batch_id bigint not null,
        _loaded_at timestamptz not null,
        primary key (company_id, id)
    """,
    "raw_yclients_records": """
        company_id bigint not null,
        id bigint not null,
        client_id bigint,
        client_name text,
        client_phone text,
        staff_id bigint,
        datetime_raw text,
        visit_at timestamptz,
        attendance integer,
        deleted boolean,
        visit_id bigint,
        create_date timestamptz,
        last_change_at timestamptz,
        invalid_fields text,
        anonymised_at timestamptz,
        payload {json},
        _batch_id bigint not null,
        _loaded_at timestamptz not null,
        primary key (company_id, id)
    """,
    "raw_yclients_record_services": """
        company_id bigint not null,
        record_id bigint not null,
        position integer not null,
        service_id bigint,
        title text,
        cost double precision,
        first_cost double precision,
        amount integer,
        _batch_id bigint not null,
        primary key (company_id, record_id, position)
    """,
    "reactivation_opt_outs": """
        company_id bigint not null,
        opt_out_key text not null,
        client_id bigint,
        phone text,
        source text not null,
        message_text text,
        created_at timestamptz not null,
        removed_at timestamptz,
        primary key (company_id, opt_out_key)
    """,
    "reactivation_messages": """
        message_key text primary key,
        company_id bigint not null,
        client_id bigint not null,
        cycle_id date not null,
        attempt integer not null,
        campaign text not null default 'win_back',
        as_of_date date not null,
        service_id bigint,
        tone text,
        interval_level text,
        variant text,
        is_holdout boolean not null,
        channel text not null,
        locale text,
        phone text,
        message_text text,
        template_params text,
        prompt text,
        composer text,
        fallback_reason text,
        scheduled_at timestamptz,
        first_scheduled_at timestamptz,
        timezone text,
        country text,
        status text not null,
        cancel_reason text,
        provider_message_id text,
        attempts integer not null default 0,
        last_error text,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        sent_at timestamptz,
        claimed_by text,
        claimed_at timestamptz,
        send_started_at timestamptz,
        sms_segments integer,
        predicted_segment text,
        anonymised_at timestamptz,
        reviewed_at timestamptz,
        review_note text,
        unique (company_id, client_id, cycle_id, attempt)
    """,
    "reactivation_quality_reports": """
        run_id text not null,
        company_id bigint not null,
        checked_at timestamptz not null,
        success boolean not null,
        failed_checks text,
        report text,
        primary key (run_id, company_id)
    """,
}

# Secondary indexes on the raw tables, by table: index name -> columns. They make the daily refresh read only
# what changed ("records of batches newer than W", lines of those records) and "bookings from D on" as index
# range scans. PostgreSQL only: DuckDB prunes such ranges with the min-max zone maps it keeps for every column
# anyway, uses its ART indexes only for point lookups, and would have to maintain them on every bulk load.
RAW_INDEXES: dict[str, dict[str, str]] = {
    "raw_yclients_records": {
        "raw_yclients_records_batch_idx": "_batch_id",
        "raw_yclients_records_visit_at_idx": "visit_at",
        "raw_yclients_records_client_idx": "company_id, client_id",
    },
    "raw_yclients_clients": {
        "raw_yclients_clients_batch_idx": "_batch_id",
    },
    "raw_yclients_record_services": {
        "raw_yclients_record_services_service_idx": "company_id, service_id",
    },
}

_PLACEHOLDER = re.compile(r"%s")


class Warehouse:
    """A single connection to the configured warehouse with the few operations the runner needs."""

    def __init__(self, settings: Settings, connection: Any) -> None:
        self.settings = settings
        self.engine = settings.target
        self._con = connection

    # ---------- connecting
    @classmethod
    def connect(cls, settings: Settings | None = None) -> Warehouse:
        settings = settings or Settings.from_env()
        if settings.target == "duckdb":
            import duckdb

            try:
                con = duckdb.connect(str(settings.duckdb_path))
            except duckdb.IOException as exc:
                raise WarehouseError(
                    f"cannot open {settings.describe()}: {exc}. Another process (a second run?) holds it; "
                    "DuckDB allows one writer at a time."
                ) from exc
            con.execute("set TimeZone = 'UTC'")
            return cls(settings, con)
        import psycopg
        from psycopg import sql

        try:
            con = psycopg.connect(
                **settings.pg_connection_args(),
                connect_timeout=5,
                autocommit=True,
            )
        except psycopg.OperationalError as exc:
            raise WarehouseError(f"cannot reach {settings.describe()}: {exc}".strip()) from exc
        schema = sql.Identifier(settings.pg_schema)  # validated by Settings, quoted here all the same
        con.execute(sql.SQL("create schema if not exists {}").format(schema))
        con.execute(sql.SQL("set search_path to {}").format(schema))
        con.execute("set timezone to 'UTC'")
        if settings.target == "spark":  # models in Spark, operational state here (reactivation.spark)
            from reactivation.spark import SparkWarehouse

            return SparkWarehouse(settings, con)
        return cls(settings, con)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------- statements
    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("?", sql) if self.engine == "duckdb" else sql

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._con.execute(self._sql(sql), params or None)

    def changed_rows(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run an insert, update or delete and return how many rows it wrote. Cheaper than `returning` when only
        the count matters: DuckDB reports it as the statement's result, and `returning` doubled the cost of the
        outbox's one-row updates there (~4 -> ~8 ms)."""
        cur = self._con.execute(self._sql(sql), params or None)
        if self.engine == "duckdb":
            row = cur.fetchone()
            return int(row[0]) if row else 0
        return cur.rowcount

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        cur = self._con.execute(self._sql(sql), params or None)
        return cur.fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple | None:
        cur = self._con.execute(self._sql(sql), params or None)
        return cur.fetchone()

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        cur = self._con.execute(self._sql(sql), params or None)
        columns = [d[0] for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)

    def table_exists(self, name: str) -> bool:
        row = self.fetchone(
            "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
            [self.settings.schema, name],
        )
        return bool(row and row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an ingest batch either lands whole or not at all."""
        if self.engine == "duckdb":
            self._con.execute("begin transaction")
            try:
                yield
            except BaseException:
                self._con.execute("rollback")
                raise
            self._con.execute("commit")
        else:
            with self._con.transaction():
                yield

    # ---------- runner-owned tables
    def ensure_tables(self) -> None:
        """Create the raw and runner tables, their newer columns and their indexes when missing (idempotent).

        The catalog is read once and only what is missing runs: an ingest calls this for every batch (the YClients
        sync for every page), and running every `create ... if not exists` / `alter ... add column if not exists`
        each time cost ~130 ms a call on DuckDB and, on PostgreSQL, an exclusive lock on every runner table, the
        outbox included, for each page synced.
        """
        json_type = "json" if self.engine == "duckdb" else "jsonb"
        present: dict[str, set[str]] = {}
        for table, column in self.fetchall(
            "select table_name, column_name from information_schema.columns"
            " where table_catalog = current_database() and table_schema = %s",
            [self.settings.schema],
        ):
            present.setdefault(table, set()).add(column)
        for name, columns in RUNNER_TABLES.items():
            ddl = columns.format(json=json_type)
            if name not in present:
                self.execute(f"create table if not exists {name} ({ddl})")
                continue
            # additive upgrades: a column added in a later release appears in older warehouses too
            for definition in _column_definitions(ddl):
                if definition.split()[0] not in present[name]:
                    self.execute(f"alter table {name} add column if not exists {definition}")
        if self.engine == "postgres":
            indexed = {name for (name,) in self.fetchall(
                "select indexname from pg_indexes where schemaname = %s", [self.settings.schema])}  # fmt: skip
            for table, indexes in RAW_INDEXES.items():
                for index, columns in indexes.items():
                    if index not in indexed:
                        self.execute(f"create index if not exists {index} on {table} ({columns})")

    def load_stage(self, name: str, frame: pd.DataFrame, like: str) -> None:
        """Put a frame into a temporary table shaped like `like` (bulk: DuckDB scan, PostgreSQL COPY)."""
        self.execute(f"drop table if exists {name}")
        columns = list(frame.columns)
        column_list = ", ".join(columns)
        if self.engine == "duckdb":
            self.execute(f"create temp table {name} as select {column_list} from {like} limit 0")
            self._con.register("_frame", frame)
            try:
                self.execute(f"insert into {name} ({column_list}) select {column_list} from _frame")
            finally:
                self._con.unregister("_frame")
            return
        self.execute(f"create temp table {name} as select {column_list} from {like} limit 0")
        with self._con.cursor() as cur, cur.copy(f"copy {name} ({column_list}) from stdin") as copy:
            for row in frame.itertuples(index=False, name=None):
                copy.write_row([None if _is_missing(v) else v for v in row])


def _column_definitions(ddl: str) -> list[str]:
    """Column clauses of a table body, without constraints, keys or defaults (ALTER ADD cannot take them all)."""
    definitions = []
    for line in ddl.strip().splitlines():
        clause = line.strip().rstrip(",")
        if not clause or clause.split()[0] in ("primary", "unique"):
            continue
        definitions.append(" ".join(clause.split()[:2]))
    return definitions


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
