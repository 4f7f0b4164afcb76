"""The `spark` target: the dbt models run in Spark, the runner's operational state stays in PostgreSQL.

- `session(settings)` is the one SparkSession of the process (local mode by default). dbt-spark's `session` method
  calls `SparkSession.builder.getOrCreate()` in this same process, so dbt and the runner share it.
- `publish(wh)` copies what the models read from PostgreSQL into Spark before each dbt run: the raw tables
  (`raw_*`, written by ingest and the YClients sync in one transaction per batch, as on the other targets) and the
  runner's snapshot (messages and opt-outs with the columns the staging models read, and the run context). Raw
  rows never leave PostgreSQL's transactions half-written: only committed batches are copied. Big raw tables
  (records, their service lines, clients) are parquet tables partitioned by company and a key bucket, and only
  the partitions holding a row of a batch newer than Spark's copy are rewritten (insert overwrite); the small
  ones are replaced whole.
- `SparkWarehouse` is the runner's `Warehouse` on this target: a PostgreSQL connection (outbox, claims, opt-outs,
  review, raw landing) whose reads of dbt models (`due_clients`, `message_candidates`, ...) go to Spark. Sending
  never touches Spark.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from reactivation import rules
from reactivation.settings import Settings
from reactivation.warehouse import RUNNER_TABLES, Warehouse

# big raw tables: rewritten by (company_id, key_bucket) partition; the column whose value picks the bucket
BUCKETED_TABLES = {
    "raw_yclients_records": "id",
    "raw_yclients_record_services": "record_id",
    "raw_yclients_clients": "id",
}
# a record's service lines are replaced with the record: its changed buckets rewrite the lines' buckets too
BUCKETS_ALSO_FROM = {"raw_yclients_record_services": "raw_yclients_records"}
# the runner's own tables the models read (staging/runner), without the personal and free-text columns no model reads
RUNNER_SNAPSHOT: dict[str, set[str]] = {
    "reactivation_messages": {
        "phone",
        "message_text",
        "template_params",
        "prompt",
        "review_note",
        "last_error",
        "fallback_reason",
        "provider_message_id",
        "claimed_by",
    },  # fmt: skip
    "reactivation_opt_outs": {"message_text"},
}
RUN_CONTEXT_COLUMNS = {"as_of_date": "date"}
_SPARK_TYPES = {
    "bigint": "bigint",
    "integer": "int",
    "text": "string",
    "double": "double",
    "boolean": "boolean",
    "timestamptz": "timestamp",
    "date": "date",
}


def key_buckets() -> int:
    """Partitions per company of the big raw tables (key mod this): var `spark_key_buckets`, shared with the models."""
    return int(rules.value("spark_key_buckets"))


# ---------- the session


def warehouse_dir(settings: Settings) -> Path:
    """`REACTIVATION_SPARK_WAREHOUSE` as an absolute path (relative: under the project)."""
    folder = Path(settings.spark_warehouse)
    return folder if folder.is_absolute() else (settings.project_dir / folder).resolve()


def spark_conf(settings: Settings) -> dict[str, str]:
    """The session's configuration: the same values the `spark` output of profiles.example.yml gives dbt."""
    folder = warehouse_dir(settings)
    return {
        "spark.master": "local[2]",
        "spark.app.name": "reactivation",
        "spark.sql.warehouse.dir": str(folder),
        # the catalog (Hive metastore, embedded Derby) persists next to the data, so a later process sees the tables
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.ansi.enabled": "false",  # what dbt-spark sets for its sessions
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


@cache
def _session(frozen_conf: tuple[tuple[str, str], ...]) -> Any:
    from pyspark.sql import SparkSession

    Path(dict(frozen_conf)["spark.sql.warehouse.dir"]).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in frozen_conf:
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def session(settings: Settings) -> Any:
    """The process's SparkSession (created on first use; the first settings fix its warehouse for the process)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return _session(tuple(sorted(spark_conf(settings).items())))


def use_database(spark: Any, settings: Settings) -> None:
    spark.sql(f"create database if not exists {settings.spark_schema}")


# ---------- publishing PostgreSQL's state into Spark


def table_columns(name: str) -> dict[str, str]:
    """Column name → Spark type of a runner table, read from its DDL in warehouse.RUNNER_TABLES (no JSON payload)."""
    columns: dict[str, str] = {}
    for line in RUNNER_TABLES[name].strip().splitlines():
        parts = line.strip().rstrip(",").split()
        if not parts or parts[0] in ("primary", "unique") or parts[1] == "{json}":
            continue
        columns[parts[0]] = _SPARK_TYPES[parts[1]]
    return columns


def publish(wh: Warehouse, raw: bool = True) -> dict[str, int]:
    """Copy the models' inputs from PostgreSQL into Spark; rows copied per table. `raw=False`: the run context only."""
    settings = wh.settings
    spark = session(settings)
    use_database(spark, settings)
    copied: dict[str, int] = {}
    if raw:
        tables = [name for name in RUNNER_TABLES if name.startswith("raw_")]
        watermarks = {name: _spark_watermark(spark, settings, name) for name in BUCKETED_TABLES}
        for name in tables:
            if name in BUCKETED_TABLES:
                copied[name] = _publish_buckets(wh, spark, name, watermarks)
            else:
                copied[name] = _publish_whole(wh, spark, name, table_columns(name))
        for name, left_out in RUNNER_SNAPSHOT.items():
            columns = {c: t for c, t in table_columns(name).items() if c not in left_out}
            copied[name] = _publish_whole(wh, spark, name, columns)
    copied["reactivation_run_context"] = _publish_whole(wh, spark, "reactivation_run_context", RUN_CONTEXT_COLUMNS)
    return copied


def _qualified(settings: Settings, name: str) -> str:
    return f"{settings.spark_schema}.{name}"


def _spark_columns(spark: Any, qualified: str) -> list[str] | None:
    if not spark.catalog.tableExists(qualified):
        return None
    return [field.name for field in spark.table(qualified).schema.fields]


def _spark_watermark(spark: Any, settings: Settings, name: str) -> int:
    """The newest batch Spark's copy holds; 0 when there is none or its columns are not the current ones."""
    qualified = _qualified(settings, name)
    expected = [*table_columns(name), "key_bucket"]
    present = _spark_columns(spark, qualified)
    if present is None or sorted(present) != sorted(expected):
        return 0
    found = spark.sql(f"select coalesce(max(_batch_id), 0) from {qualified}").collect()[0][0]
    return int(found)


def _ensure_spark_table(spark: Any, qualified: str, columns: dict[str, str], partitioned: bool) -> None:
    expected = [*columns, "key_bucket"] if partitioned else list(columns)
    present = _spark_columns(spark, qualified)
    if present is not None and sorted(present) == sorted(expected):
        return
    spark.sql(f"drop table if exists {qualified}")  # a new column in RUNNER_TABLES: copied again, whole
    body = ", ".join(f"{c} {t}" for c, t in columns.items())
    if partitioned:
        spark.sql(
            f"create table {qualified} ({body}, key_bucket int) using parquet partitioned by (company_id, key_bucket)"
        )
    else:
        spark.sql(f"create table {qualified} ({body}) using parquet")


def _select_list(columns: dict[str, str], alias: str = "") -> str:
    """PostgreSQL expressions that CSV carries without loss: instants as epoch microseconds, booleans as words."""
    out = []
    prefix = f"{alias}." if alias else ""
    for column, kind in columns.items():
        if kind == "timestamp":
            out.append(f"cast(round(extract(epoch from {prefix}{column}) * 1000000) as bigint) as {column}")
        elif kind == "boolean":
            out.append(f"cast({prefix}{column} as text) as {column}")
        else:
            out.append(f"{prefix}{column}")
    return ", ".join(out)


def _read_copy(wh: Warehouse, spark: Any, query: str, columns: dict[str, str], params: Sequence[Any] = ()) -> Any:
    """Run `query` in PostgreSQL and read its rows into a Spark DataFrame through a CSV file (COPY, then Spark's
    parser: no row passes through Python objects)."""
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's convention
    from pyspark.sql.types import StructType

    folder = warehouse_dir(wh.settings) / "_publish"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.csv"
    import psycopg

    rendered = psycopg.ClientCursor(wh._con).mogrify(query, list(params)) if params else query  # noqa: SLF001
    with path.open("wb") as out, wh._con.cursor() as cur:  # noqa: SLF001
        with cur.copy(f"copy ({rendered}) to stdout with (format csv)") as copy:
            for chunk in copy:
                out.write(chunk)
        rows = cur.rowcount
    csv_types = {c: ("bigint" if t == "timestamp" else t) for c, t in columns.items()}
    schema = StructType.fromDDL(", ".join(f"{c} {t}" for c, t in csv_types.items()))
    frame = spark.read.csv(str(path), schema=schema, multiLine=True, escape='"', mode="FAILFAST")
    for column, kind in columns.items():
        if kind == "timestamp":
            frame = frame.withColumn(column, F.expr(f"timestamp_micros({column})"))
    return frame, path, rows


def _publish_whole(wh: Warehouse, spark: Any, name: str, columns: dict[str, str]) -> int:
    qualified = _qualified(wh.settings, name)
    _ensure_spark_table(spark, qualified, columns, partitioned=False)
    frame, path, rows = _read_copy(wh, spark, f"select {_select_list(columns)} from {name}", columns)
    try:
        if rows or spark.table(qualified).take(1):  # an empty table stays as it is: no Spark job
            frame.select(*_spark_columns(spark, qualified)).write.insertInto(qualified, overwrite=True)
        return rows
    finally:
        path.unlink(missing_ok=True)


def _publish_buckets(wh: Warehouse, spark: Any, name: str, watermarks: dict[str, int]) -> int:
    """Rewrite the (company, key bucket) partitions holding a row of a batch newer than Spark's copy."""
    settings = wh.settings
    qualified = _qualified(settings, name)
    columns = table_columns(name)
    key = BUCKETED_TABLES[name]
    _ensure_spark_table(spark, qualified, columns, partitioned=True)
    buckets = key_buckets()
    changed = [f"select distinct company_id, mod({key}, {buckets}) as key_bucket from {name} where _batch_id > %s"]
    params: list[Any] = [watermarks[name]]
    other = BUCKETS_ALSO_FROM.get(name)
    if other:
        other_key = BUCKETED_TABLES[other]
        changed.append(f"select distinct company_id, mod({other_key}, {buckets}) from {other} where _batch_id > %s")
        params.append(watermarks[other])
    changed_buckets = wh.fetchall(" union ".join(changed), params)
    if not changed_buckets:
        return 0
    query = (
        f"select {_select_list(columns, 'source')}, cast(mod(source.{key}, {buckets}) as integer) as key_bucket"
        f" from {name} as source inner join ({' union '.join(changed)}) as changed"
        f" on changed.company_id = source.company_id and changed.key_bucket = mod(source.{key}, {buckets})"
    )
    frame, path, rows = _read_copy(wh, spark, query, {**columns, "key_bucket": "int"}, params)
    try:
        frame.select(*_spark_columns(spark, qualified)).write.insertInto(qualified, overwrite=True)
        kept = _buckets_with_rows(wh, name, key, buckets, changed, params)
        emptied = {(int(c), int(b)) for c, b in changed_buckets} - kept
        for company_id, bucket in emptied:  # every row of the partition went: nothing overwrote it
            partition = f"company_id={company_id}, key_bucket={bucket}"
            spark.sql(f"alter table {qualified} drop if exists partition ({partition})")
        return rows
    finally:
        path.unlink(missing_ok=True)


def _buckets_with_rows(
    wh: Warehouse, name: str, key: str, buckets: int, changed: list[str], params: list[Any]
) -> set[tuple[int, int]]:
    """The changed (company, bucket) partitions that still hold a row in PostgreSQL (the others were emptied)."""
    rows = wh.fetchall(
        f"select distinct source.company_id, mod(source.{key}, {buckets}) from {name} as source"
        f" inner join ({' union '.join(changed)}) as changed"
        f" on changed.company_id = source.company_id and changed.key_bucket = mod(source.{key}, {buckets})",
        params,
    )
    return {(int(c), int(b)) for c, b in rows}


def drop_database(settings: Settings) -> None:
    """Drop the Spark database of `settings` with every table (tests' private databases)."""
    spark = session(settings)
    spark.sql(f"drop database if exists {settings.spark_schema} cascade")
    shutil.rmtree(warehouse_dir(settings) / f"{settings.spark_schema}.db", ignore_errors=True)


# ---------- the runner's warehouse on this target


@cache
def model_names(project_dir: Path) -> frozenset[str]:
    """Relations dbt builds (models and seeds): these live in Spark."""
    names = {p.stem for p in (project_dir / "models").rglob("*.sql")}
    names |= {p.stem for p in (project_dir / "seeds").glob("*.csv")}
    return frozenset(names - set(RUNNER_TABLES))


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"%s")


class SparkWarehouse(Warehouse):
    """PostgreSQL for everything the runner writes; a statement naming a dbt model is run in Spark instead.

    A statement joining models with the runner's tables (retention's due-clients guard, the review page's outcome
    counts) runs in PostgreSQL on temporary copies of those models, taken from Spark for that statement.
    """

    def __init__(self, settings: Settings, connection: Any) -> None:
        super().__init__(settings, connection)
        self.engine = "postgres"  # the SQL the runner writes for its own tables is PostgreSQL's
        self._spark: Any = None

    @property
    def spark(self) -> Any:
        if self._spark is None:
            self._spark = session(self.settings)
            use_database(self._spark, self.settings)
        return self._spark

    def _in_spark(self, sql: str) -> bool:
        names = set(_IDENTIFIER.findall(sql))
        models = names & model_names(self.settings.project_dir)
        if not models:
            return False
        if names & set(RUNNER_TABLES):
            for model in sorted(models):
                self._copy_to_postgres(model)
            return False
        return True

    def _copy_to_postgres(self, model: str) -> None:
        """The model's rows from Spark into a PostgreSQL temporary table of its name (it shadows nothing: models
        never live in PostgreSQL on this target), replaced on every use."""
        frame = self.spark.sql(f"select * from {self.settings.spark_schema}.{model}")
        columns = ", ".join(f"{f.name} {_pg_type(f.dataType.simpleString())}" for f in frame.schema.fields)
        super().execute(f"drop table if exists pg_temp.{model}")
        super().execute(f"create temp table {model} ({columns})")
        names = ", ".join(frame.columns)
        with self._con.cursor() as cur, cur.copy(f"copy pg_temp.{model} ({names}) from stdin") as copy:
            for row in _rows(frame, frame.collect()):
                copy.write_row(row)

    def _spark_sql(self, sql: str, params: Sequence[Any] | None) -> Any:
        text = _PLACEHOLDER.sub("?", sql)
        for model in model_names(self.settings.project_dir):
            text = re.sub(rf"(?<![\w.]){model}(?![\w.(])", f"{self.settings.spark_schema}.{model}", text)
        return self.spark.sql(text, args=[_spark_value(v) for v in params] if params else None)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self._in_spark(sql):
            self._spark_sql(sql, params).collect()
        else:
            super().execute(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        if self._in_spark(sql):
            frame = self._spark_sql(sql, params)
            return _rows(frame, frame.collect())
        return super().fetchall(sql, params)

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple | None:
        if self._in_spark(sql):
            frame = self._spark_sql(sql, params)
            rows = _rows(frame, frame.take(1))
            return rows[0] if rows else None
        return super().fetchone(sql, params)

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        if self._in_spark(sql):
            frame = self._spark_sql(sql, params)
            return pd.DataFrame(_rows(frame, frame.collect()), columns=frame.columns)
        return super().query_df(sql, params)

    def table_exists(self, name: str) -> bool:
        if name in model_names(self.settings.project_dir):
            return bool(self.spark.catalog.tableExists(f"{self.settings.spark_schema}.{name}"))
        return super().table_exists(name)


def _pg_type(spark_type: str) -> str:
    simple = {
        "int": "integer", "string": "text", "double": "double precision", "float": "real", "timestamp": "timestamptz",
    }  # fmt: skip
    if spark_type.startswith("decimal"):
        return "numeric"
    return simple.get(spark_type, spark_type)  # bigint, boolean, date, smallint: the same names


def _rows(frame: Any, rows: list[Any]) -> list[tuple]:
    """Rows as tuples, instants as aware UTC datetimes like PostgreSQL's (pyspark gives naive local times)."""
    from pyspark.sql.types import TimestampType

    instants = [i for i, f in enumerate(frame.schema.fields) if isinstance(f.dataType, TimestampType)]
    out = []
    for row in rows:
        values = list(row)
        for i in instants:
            if values[i] is not None:
                values[i] = datetime.fromtimestamp(values[i].timestamp(), UTC)
        out.append(tuple(values))
    return out


def _spark_value(value: Any) -> Any:
    if isinstance(value, datetime | date | int | float | str | bool) or value is None:
        return value
    return str(value)
