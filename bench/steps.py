"""The benchmark's steps. Each heavy one runs in a fresh spawned process (`in_child`), so the peak resident memory
it reports (`ru_maxrss`, which only ever grows within a process) belongs to that step alone."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd

from bench import pandas_due
from bench.generate import DAY_WINDOW, change_batch, day_counts, generate, realistic_day
from bench.load import Loader, connect, load_batch, load_history
from reactivation.settings import PROJECT_DIR, Settings
from reactivation.warehouse import Warehouse

FLOOR_SQL = Path(__file__).with_name("floor_due_clients.sql")
# PostgreSQL has no cross-column join statistics: it underestimates the records ⋈ lines join on (company_id,
# record_id) ~50× and then every CTE built on it, and picks nested loops that rescan aggregates per row (20 s at
# 100K instead of 0.4 s). Hand tuning turns nested loops off; the one left (keyword matching) then carries
# PostgreSQL's disable_cost, which would trigger JIT compilation at full optimisation (~1 s), so JIT goes too.
FLOOR_SESSION = {"postgres": ("set enable_nestloop = off", "set jit = off")}
_GAP_WINDOW = "over (partition by company_id, client_id, service_id order by visit_date)"
# the floor's {slots}: what DuckDB and PostgreSQL write alike, and Spark SQL's way (instants are UTC in Spark)
FLOOR_DIALECTS = {
    "sql": {
        "as_of_at": "timezone(zone, cast(cast('{as_of}' as date) as timestamp))",
        "local_visit_date": "cast(timezone(companies.zone, records.visit_at) as date)",
        "gap": f"visit_date - lag(visit_date) {_GAP_WINDOW}",
        "days_since": "companies.as_of_date - sized.last_visit_date",
        "text": "varchar",
        "double": "double precision",
        "all_matches": ", 'g'",
    },
    "spark": {
        "as_of_at": "to_utc_timestamp(cast(cast('{as_of}' as date) as timestamp), zone)",
        "local_visit_date": "cast(from_utc_timestamp(records.visit_at, companies.zone) as date)",
        "gap": f"datediff(visit_date, lag(visit_date) {_GAP_WINDOW})",
        "days_since": "datediff(companies.as_of_date, sized.last_visit_date)",
        "text": "string",
        "double": "double",
        "all_matches": "",  # Spark's regexp_replace replaces every match
    },
}
INT_COLUMNS = {"company_id", "client_id", "service_id", "interval_days", "interval_count", "days_since"}
DATE_COLUMNS = {"last_visit_date", "cycle_id"}
FLOAT_COLUMNS = {"overdue_ratio"}

Result = dict[str, Any]


def in_child(step: Callable[..., Result], *args: Any) -> Result:
    """Run one step in a new process and return its result with `peak_mib`, the process's peak RSS."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, step, *args).result()


def _measured(step: Callable[..., Result], *args: Any) -> Result:
    result = step(*args)
    result.setdefault("peak_mib", peak_mib() + _jvm_peak_mib())  # a step running a process tree reports that tree's
    return result


def _jvm_peak_mib() -> float:
    """The peak resident memory of this process's Spark JVM (a child process `ru_maxrss` does not count), or 0."""
    if "pyspark" not in sys.modules:
        return 0.0
    from pyspark import SparkContext

    gateway = getattr(SparkContext, "_gateway", None)
    process = getattr(gateway, "proc", None)
    if process is None:
        return 0.0
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------- data


def generate_and_load(settings: Settings, lines: int, as_of: date, seed: int) -> Result:
    """Generate the history (numpy) and bulk-load it as ingest batch 1."""
    start = perf_counter()
    history = generate(lines, as_of, seed)
    generated, generate_peak = perf_counter(), peak_mib()
    with Warehouse.connect(settings) as wh:
        wh.ensure_tables()
    loader = connect(settings)
    try:
        loading = perf_counter()
        counts = load_history(loader, history)
        loaded = perf_counter()
    finally:
        loader.close()
    return {
        "generate_seconds": generated - start,
        "generate_peak_mib": generate_peak,
        "load_seconds": loaded - loading,
        "counts": counts,
    }


def load_changes(settings: Settings, share: float, as_of: date, seed: int) -> Result:
    """Write `share` of the records as a new ingest batch: a third new, a third changed, a third deleted."""
    loader = connect(settings)
    try:
        records, max_id = (
            int(v) for v in loader.query_df("select count(*), max(id) from raw_yclients_records").iloc[0]
        )
        batch_id = int(loader.scalar("select max(batch_id) from raw_ingest_batches")) + 1
        changed_at = pd.Timestamp(loader.scalar("select max(last_change_at) from raw_yclients_records"))
        rng = np.random.default_rng(seed + batch_id)
        ids = pd.DataFrame({"id": rng.choice(max_id, max(3, round(share * records)), replace=False) + 1})
        start = perf_counter()
        loader.execute("drop table if exists _bench_ids")
        loader.execute("create temp table _bench_ids (id bigint)")
        loader.insert("_bench_ids", "select id from ids", {"ids": ids})
        sample = loader.query_df(
            "select company_id, id, client_id, client_name, client_phone, staff_id, visit_at, attendance, deleted,"
            " visit_id, create_date, last_change_at from raw_yclients_records"
            " where id in (select id from _bench_ids) order by id"
        )
        sample_lines = loader.query_df(
            "select company_id, record_id, position, service_id, title, cost, first_cost, amount"
            " from raw_yclients_record_services where record_id in (select id from _bench_ids)"
        )
        services = loader.query_df("select company_id, id, title from raw_yclients_services")
        batch = change_batch(
            sample.iloc[rng.permutation(len(sample))],
            sample_lines,
            services,
            max_id + 1,
            _utc(changed_at) + pd.Timedelta(minutes=1),
            as_of,
            seed + batch_id,
        )
        counts = load_batch(loader, batch, batch_id)
        return {"seconds": perf_counter() - start, "batch_id": batch_id, "counts": counts}
    finally:
        loader.close()


RECORD_COLUMNS = (
    "company_id, id, client_id, client_name, client_phone, staff_id, visit_at, attendance, deleted, visit_id,"
    " create_date, last_change_at"
)


def read_day_inputs(loader: Loader, day: date, share: float, seed: int) -> dict[str, Any]:
    """The keyword arguments of `bench.generate.realistic_day` for `day`, read from the warehouse as it stands:
    the records within `DAY_WINDOW` days of the day, a sample of older ones, their lines, menus and zones."""
    records, max_id = (int(v) for v in loader.query_df("select count(*), max(id) from raw_yclients_records").iloc[0])
    batch_id = int(loader.scalar("select max(batch_id) from raw_ingest_batches")) + 1
    counts = day_counts(records, share)
    rng = np.random.default_rng(seed + batch_id)
    midnight = pd.Timestamp(day, tz="UTC")
    window = tuple(f"timestamptz '{(midnight + pd.Timedelta(days=d)).isoformat()}'" for d in DAY_WINDOW)
    in_window = f"visit_at >= {window[0]} and visit_at < {window[1]}"
    sampled = 3 * (counts["edit"] + counts["booking"]) + 50
    ids = pd.DataFrame({"id": rng.choice(max_id, min(max_id, sampled), replace=False) + 1})
    loader.execute("drop table if exists _bench_ids")
    loader.execute("create temp table _bench_ids (id bigint)")
    loader.insert("_bench_ids", "select id from ids", {"ids": ids})
    zones = loader.query_df("select company_id, timezone from raw_yclients_companies")
    return {
        "recent": loader.query_df(f"select {RECORD_COLUMNS} from raw_yclients_records where {in_window}"),
        "old": loader.query_df(
            f"select {RECORD_COLUMNS} from raw_yclients_records"
            f" where id in (select id from _bench_ids) and visit_at < {window[0]}"
        ),
        "lines": loader.query_df(
            "select company_id, record_id, position, service_id, title, cost, first_cost, amount"
            # one IN over a union: with `in (...) or in (...)` PostgreSQL probed the window's million ids once per
            # line (a subplan too large to hash) and ran for hours at 10 M
            " from raw_yclients_record_services where record_id in (select id from _bench_ids"
            f" union select id from raw_yclients_records where {in_window})"
        ),
        "services": loader.query_df("select company_id, id, title from raw_yclients_services"),
        "timezones": {int(c): str(z) for c, z in zip(zones["company_id"], zones["timezone"])},
        "counts": counts,
        "first_id": max_id + 1,
        "changed_after": pd.Timestamp(loader.scalar("select max(last_change_at) from raw_yclients_records")),
        "day": day,
        "seed": seed + batch_id,
    }


def load_realistic_day(settings: Settings, day: date, share: float, seed: int) -> Result:
    """Write one realistic salon day (`bench.generate.realistic_day`, ≈ `share` of the records) as a new ingest
    batch: read what the day's changes are drawn from, generate them, load them the way `load_changes` does."""
    loader = connect(settings)
    try:
        start = perf_counter()
        inputs = read_day_inputs(loader, day, share, seed)
        read = perf_counter()
        batch = realistic_day(**inputs)
        generated = perf_counter()
        batch_id = int(loader.scalar("select max(batch_id) from raw_ingest_batches")) + 1
        loaded = load_batch(loader, batch, batch_id)
        kinds = batch.kinds.value_counts()
        return {
            "seconds": perf_counter() - start,
            "read_seconds": read - start,
            "generate_seconds": generated - read,
            "batch_id": batch_id,
            "share": len(batch.records) / (inputs["first_id"] - 1),
            "counts": {**loaded, **{kind: int(kinds.get(kind, 0)) for kind in inputs["counts"]}},
        }
    finally:
        loader.close()


def _utc(moment: pd.Timestamp) -> pd.Timestamp:
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


# ---------- dbt


def dbt_step(settings: Settings, args: list[str], as_of: date, dbt_dirs: tuple[str, str]) -> Result:
    """One dbt command through the project's runner; wall time and each node's time and rows affected."""
    import dbt.cli.main  # noqa: F401 - imported before the clock: a worker imports dbt once, not per refresh

    from reactivation.dbt import run_dbt

    target_path, log_path = dbt_dirs
    start = perf_counter()
    outcome = run_dbt(
        [*args, "--target-path", target_path, "--log-path", log_path], settings, {"as_of_date": as_of.isoformat()}
    )
    seconds = perf_counter() - start
    nodes = [
        {
            "node": result.node.name,
            "seconds": float(result.execution_time or 0.0),
            "rows_affected": (result.adapter_response or {}).get("rows_affected"),
        }
        for result in outcome.raw.results
    ]
    return {"seconds": seconds, "nodes": nodes}


# ---------- the product's own commands, each a fresh process


FLOW_STEPS = ("sync", "retention", "refresh", "companies", "gate", "plan", "compose", "queue", "deliver")  # run order
_STEP_LINE = re.compile(r"step (\w+): ([0-9.]+) s")
_BODY_LINE = re.compile(r"flow body started at unix time ([0-9.]+)")
_QUEUED_LINE = re.compile(r"queued (\d+) messages, (\d+) held out")


def cli_env(settings: Settings, work: Path, dbt_root: Path, log_path: Path) -> dict[str, str]:
    """The environment of a `reactivation` process on the bench warehouse: engine and warehouse from `settings`, the
    `log` channel writing into `log_path`, dbt's artefacts under `dbt_root` (shared with the bench's own dbt calls,
    so partial parsing carries over from one invocation to the next as it does from day to day), Prefect's home in
    the work folder (its SQLite database apart from anyone else's)."""
    env = dict(os.environ)
    env.update(
        {
            "REACTIVATION_TARGET": settings.target,
            "REACTIVATION_DUCKDB_PATH": str(settings.duckdb_path),
            "REACTIVATION_PG_SCHEMA": settings.pg_schema,
            "PGHOST": settings.pg_host,
            "PGPORT": str(settings.pg_port),
            "PGUSER": settings.pg_user,
            "PGDATABASE": settings.pg_database,
            "REACTIVATION_CHANNEL": "log",
            "REACTIVATION_LOG_CHANNEL_PATH": str(log_path),
            "REACTIVATION_DBT_TARGET_ROOT": str(dbt_root),
            "PREFECT_HOME": str(work / "prefect-home"),
            "COLUMNS": "400",  # Prefect's console log wraps at the terminal's width
            "DO_NOT_TRACK": "1",
        }
    )
    if settings.target == "spark":
        env["REACTIVATION_SPARK_SCHEMA"] = settings.spark_schema
        env["REACTIVATION_SPARK_WAREHOUSE"] = str(settings.spark_warehouse)
    env.pop("GEMINI_API_KEY", None)  # templates only: the bench's AI figures come from the loopback server
    env.pop("YCLIENTS_PARTNER_TOKEN", None)  # no sync: the bench loads its own batches
    return env


def reactivation_command() -> str:
    """The venv's `reactivation` entry point (beside this interpreter)."""
    path = Path(sys.executable).with_name("reactivation")
    return str(path) if path.exists() else "reactivation"


def run_process(command: list[str], env: dict[str, str], timeout: float = 24 * 3600) -> Result:
    """Run one command; its wall seconds, output, exit code and the peak resident memory of its process tree:
    `tree_peak_mib` the largest sum over the tree seen by sampling /proc every 0.2 s, `largest_mib` the largest single
    process (`RUSAGE_CHILDREN` of this worker, which ran nothing else)."""
    spawned = time.time()
    start = perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_rss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
    seconds = perf_counter() - start
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "spawned": spawned,
        "returncode": process.returncode,
        "output": output,
        "tree_peak_mib": max(peak[0] / 1024, largest),
        "largest_mib": largest,
    }


def _tree_rss_kib(root: int) -> int:
    """Resident KiB of `root` and all its descendants now (0 once it has exited)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def _failed(what: str, done: Result) -> RuntimeError:
    tail = "\n".join(done["output"].splitlines()[-30:])
    return RuntimeError(f"{what} exited with {done['returncode']}:\n{tail}")


def refresh_process_step(settings: Settings, as_of: date, env: dict[str, str], dbt_folder: Path) -> Result:
    """`reactivation refresh --as-of D` in a fresh process (what the daily flow's refresh runs): wall seconds, the
    process tree's peak memory, and each dbt node's time from the run's `run_results.json` in `dbt_folder`."""
    log = dbt_folder / "logs" / "dbt.log"
    logged = log.stat().st_size if log.exists() else 0
    done = run_process([reactivation_command(), "refresh", "--as-of", as_of.isoformat()], env)
    if done["returncode"] != 0:
        raise _failed("reactivation refresh", done)
    with log.open("rb") as handle:  # what this refresh appended to dbt's log: did it parse the project again?
        handle.seek(logged)
        appended = handle.read().decode("utf-8", "replace")
    full_parse = re.search(r"Unable to do partial parsing because ([^\n]*)", appended)
    path = dbt_folder / "run_results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    if path.stat().st_mtime < done["spawned"] or results.get("args", {}).get("which") != "build":
        raise RuntimeError(f"{path} is not the refresh's (dbt wrote its artefacts elsewhere)")
    nodes = [
        {
            "node": r["unique_id"].split(".")[0] + ":" + r["unique_id"].split(".")[-1]
            if not r["unique_id"].startswith("model.")
            else r["unique_id"].split(".")[-1],
            "kind": r["unique_id"].split(".")[0],
            "seconds": float(r.get("execution_time") or 0.0),
            "rows_affected": (r.get("adapter_response") or {}).get("rows_affected"),
        }
        for r in results["results"]
    ]
    summary = next((line for line in done["output"].splitlines() if line.startswith("dbt build on")), "")
    return {
        "seconds": done["seconds"],
        "peak_mib": done["tree_peak_mib"],
        "dbt_elapsed": float(results.get("elapsed_time") or 0.0),
        "nodes": nodes,
        "summary": summary,
        "parse": f"full parse ({full_parse.group(1).strip().rstrip('.')})" if full_parse else "partial parse",
    }


def daily_flow_step(settings: Settings, as_of: date, env: dict[str, str]) -> Result:
    """`reactivation run --as-of D` in a fresh process: total wall seconds, Prefect's start-up (process start until
    the flow's body begins: interpreter, imports, Prefect's temporary server, the flow run's creation), each step's
    seconds as the flow logs them, and the process tree's peak memory."""
    done = run_process([reactivation_command(), "run", "--as-of", as_of.isoformat()], env)
    if done["returncode"] != 0:
        raise _failed("reactivation run", done)
    output = done["output"]
    body = _BODY_LINE.search(output)
    seconds = {name: float(value) for name, value in _STEP_LINE.findall(output)}
    missing = [name for name in FLOW_STEPS if name not in seconds]
    if body is None or missing:
        raise _failed(f"reactivation run (no timing line for {missing or 'the flow body'})", done)
    queued = _QUEUED_LINE.search(output)
    return {
        "seconds": done["seconds"],
        "peak_mib": done["tree_peak_mib"],
        "largest_mib": done["largest_mib"],
        "startup": float(body.group(1)) - done["spawned"],
        "steps": seconds,
        "queued": int(queued.group(1)) if queued else None,
        "holdout": int(queued.group(2)) if queued else None,
        "output": output[-4000:],
    }


def imports_step() -> Result:
    """Seconds a fresh interpreter takes to import the command line and the daily flow (Prefect, dbt's runner is
    imported later): the part of a run's start-up that is not Prefect's temporary server."""
    done = run_process([sys.executable, "-c", "import reactivation.cli, reactivation.flows.daily"], dict(os.environ))
    return {"seconds": done["seconds"], "peak_mib": done["tree_peak_mib"]}


def prefect_warm_up(env: dict[str, str]) -> Result:
    """One empty flow run, so Prefect's database in the work folder exists before any measured run (a real
    deployment has run yesterday; creating and migrating the database is not a daily cost)."""
    code = "from prefect import flow\nflow(lambda: None, name='bench-warm-up')()"
    done = run_process([sys.executable, "-c", code], env)
    if done["returncode"] != 0:
        raise _failed("Prefect warm-up", done)
    return {"seconds": done["seconds"]}


# ---------- baselines


def floor_step(settings: Settings, as_of: date) -> Result:
    """The hand-written floor query into a temporary table, then compared with `due_clients` row for row."""
    sql = floor_sql(settings, as_of)
    if settings.target == "spark":
        return _spark_floor_step(settings, sql)
    with Warehouse.connect(settings) as wh:
        _require_empty_runner_tables(wh)
        for statement in FLOOR_SESSION.get(settings.target, ()):
            wh.execute(statement)
        wh.execute("drop table if exists bench_floor")
        start = perf_counter()
        wh.execute(f"create temp table bench_floor as {sql}")
        seconds = perf_counter() - start
        diff = table_diff(wh, "bench_floor", "due_clients", pandas_due.COLUMNS)
    return {"seconds": seconds, **diff}


def floor_sql(settings: Settings, as_of: date) -> str:
    """The floor query for the engine of `settings`, as of `as_of`."""
    dialect = FLOOR_DIALECTS["spark" if settings.target == "spark" else "sql"]
    slots = {name: fragment.format(as_of=as_of.isoformat()) for name, fragment in dialect.items()}
    return FLOOR_SQL.read_text(encoding="utf-8").format(as_of=as_of.isoformat(), **slots)


def _spark_floor_step(settings: Settings, sql: str) -> Result:
    """The floor in Spark SQL into a parquet table (Spark's temporary views are lazy), then compared in Spark."""
    from reactivation import spark

    with Warehouse.connect(settings) as wh:  # the runner's tables are in PostgreSQL on this target
        _require_empty_runner_tables(wh)
    session, db = spark.session(settings), settings.spark_schema
    session.sql(f"use {db}")
    session.sql("drop table if exists bench_floor")
    start = perf_counter()
    session.sql(f"create table bench_floor using parquet as {sql}")
    seconds = perf_counter() - start
    diff = _spark_table_diff(session, "bench_floor", "due_clients", pandas_due.COLUMNS)
    session.sql("drop table bench_floor")
    return {"seconds": seconds, **diff}


def pandas_step(settings: Settings, as_of: date) -> Result:
    """Read the raw tables into pandas and compute `due_clients` there; compared with the model afterwards."""
    start = perf_counter()
    raw = pandas_due.read_raw(settings)
    read = perf_counter()
    due = pandas_due.due_clients(raw, as_of)
    seconds = perf_counter() - start
    with Warehouse.connect(settings) as wh:
        expected = wh.query_df(f"select {', '.join(pandas_due.COLUMNS)} from due_clients")
    return {"seconds": seconds, "read_seconds": read - start, **frame_diff(due, expected)}


def _require_empty_runner_tables(wh: Warehouse) -> None:
    """The floor and pandas leave out cooldown, attempts and the opt-out table: only right while they are empty."""
    for table in ("reactivation_opt_outs", "reactivation_messages"):
        if wh.fetchone(f"select count(*) from {table}")[0]:
            raise RuntimeError(f"{table} is not empty; the floor query assumes it is")


def table_diff(wh: Warehouse, left: str, right: str, columns: list[str] | None = None) -> Result:
    """Row counts of two tables and how many rows each has that the other lacks (as multisets)."""
    cols = ", ".join(columns) if columns else "*"

    def missing(a: str, b: str) -> int:
        return wh.fetchone(f"select count(*) from (select {cols} from {a} except all select {cols} from {b}) as d")[0]

    return {
        "rows": wh.fetchone(f"select count(*) from {left}")[0],
        "expected_rows": wh.fetchone(f"select count(*) from {right}")[0],
        "only_here": missing(left, right),
        "only_expected": missing(right, left),
    }


def spark_reset(settings: Settings) -> Result:
    from reactivation import spark

    spark.drop_database(settings)
    return {}


def spark_snapshot(settings: Settings, tables: tuple[str, ...]) -> Result:
    """Copies of `tables` in the Spark database (the incremental result, before the full refresh)."""
    from reactivation import spark

    session = spark.session(settings)
    for table in tables:
        session.sql(f"drop table if exists {settings.spark_schema}.bench_snapshot_{table}")
        session.sql(
            f"create table {settings.spark_schema}.bench_snapshot_{table} using parquet"
            f" as select * from {settings.spark_schema}.{table}"
        )
    return {}


def spark_snapshot_diffs(settings: Settings, tables: tuple[str, ...]) -> Result:
    """`table_diff` of each snapshot against the fully refreshed table, in Spark SQL; the snapshots are dropped."""
    from reactivation import spark

    session, db = spark.session(settings), settings.spark_schema
    diffs = {}
    for table in tables:
        left = f"{db}.bench_snapshot_{table}"
        diffs[table] = _spark_table_diff(session, left, f"{db}.{table}")
        session.sql(f"drop table {left}")
    return {"diffs": diffs}


def _spark_table_diff(session: Any, left: str, right: str, columns: list[str] | None = None) -> Result:
    """`table_diff` in Spark SQL."""
    cols = ", ".join(columns) if columns else "*"

    def count(sql: str) -> int:
        return int(session.sql(sql).collect()[0][0])

    def missing(a: str, b: str) -> int:
        return count(f"select count(*) from (select {cols} from {a} except all select {cols} from {b})")

    return {
        "rows": count(f"select count(*) from {left}"),
        "expected_rows": count(f"select count(*) from {right}"),
        "only_here": missing(left, right),
        "only_expected": missing(right, left),
    }


def frame_diff(frame: pd.DataFrame, expected: pd.DataFrame) -> Result:
    """`table_diff` for pandas frames, after writing every value the same way (types differ by engine)."""
    here, there = _canonical(frame), _canonical(expected)
    merged = here.merge(there, how="outer", indicator=True)
    return {
        "rows": len(frame),
        "expected_rows": len(expected),
        "only_here": int((merged["_merge"] == "left_only").sum()),
        "only_expected": int((merged["_merge"] == "right_only").sum()),
    }


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: [_text(c, v) for v in frame[c]] for c in pandas_due.COLUMNS})


def _text(column: str, value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if column in INT_COLUMNS:
        return str(int(value))
    if column in DATE_COLUMNS:
        return pd.Timestamp(value).date().isoformat()
    if column in FLOAT_COLUMNS:
        return f"{float(value):.12g}"
    return str(value)


# ---------- messages


def templates_step(count: int) -> Result:
    """Compose `count` messages without a Gemini key: Jinja2 templates only."""
    from reactivation.messages import ComposeSettings, compose_messages

    requests = _message_requests(count)
    start = perf_counter()
    _, stats = compose_messages(requests, ComposeSettings())
    seconds = perf_counter() - start
    return {"seconds": seconds, "notes": f"{stats.template} template texts, {count / seconds:,.0f} per second"}


def ai_step(count: int, requests_per_minute: int, clients_per_request: int) -> Result:
    """Compose `count` messages through the real google-genai client against a loopback `generateContent` server,
    under the real rate limiter."""
    from reactivation.messages import ComposeSettings, compose_messages

    requests = _message_requests(count)
    with _gemini_server()() as server:
        settings = ComposeSettings(
            gemini_api_key="bench-key",
            gemini_base_url=server.base_url,
            requests_per_minute=requests_per_minute,
            clients_per_request=clients_per_request,
        )
        start = perf_counter()
        _, stats = compose_messages(requests, settings)
        seconds = perf_counter() - start
    notes = (
        f"{stats.ai} by AI, fallbacks {stats.fallbacks or 'none'}, {stats.requests} requests "
        f"({clients_per_request} clients each, limit {requests_per_minute}/min), "
        f"{count / seconds * 60:,.0f} clients per minute"
    )
    return {"seconds": seconds, "notes": notes}


def _gemini_server() -> type:
    """`tests/gemini_server.py`'s GeminiServer: the repository's tests folder is a package, not installed."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    return importlib.import_module("tests.gemini_server").GeminiServer


def _message_requests(count: int) -> list:
    from reactivation.messages import TONES, VARIANTS, MessageRequest

    people = (
        ("ru", "Анна Смирнова", "Женская стрижка", "Салон «Лаванда»"),
        ("en", "Emma Jones", "Gel manicure", "Bloom Beauty Bar"),
        ("ru", None, "Педикюр", "Барбершоп «Топор»"),
        ("en", "Oliver Brown", "Men's haircut", "Lavender Hair & Beauty"),
    )
    requests = []
    for i in range(count):
        locale, name, service, company = people[i % len(people)]
        requests.append(
            MessageRequest(
                message_key=f"bench:{i}",
                locale=locale,
                tone=TONES[i % len(TONES)],
                variant=VARIANTS[i // len(TONES) % len(VARIANTS)],
                client_name=name,
                service_title=service,
                company_name=company,
                days_since=30 + i % 300,
                booking_url="https://n101.yclients.com" if i % 5 else None,
            )
        )
    return requests
