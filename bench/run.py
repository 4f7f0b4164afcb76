"""`python -m bench`: the command line and the order of the steps for each engine and size."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

from bench import report, steps
from bench.report import (
    DAY_LOAD,
    DAY_REFRESH,
    FLOOR,
    FLOW_FIRST,
    FLOW_NEXT,
    FULL,
    MESSAGES,
    NEXT_DAY_LOAD,
    PANDAS,
    Row,
    size_lines,
)
from reactivation.dbt import target_path
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

AS_OF = date(2026, 11, 25)
CHECKED_TABLES = ("due_clients", "reactivation_intervals")


@dataclass
class Run:
    """What one invocation measured, and which checks failed."""

    args: argparse.Namespace
    work: Path
    command: str
    run_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M"))
    rows: list[Row] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    imports_seconds: float | None = None  # a fresh interpreter importing the CLI and the flow, measured once
    prefect_warm: bool = False

    def add(self, engine: str, size: str, step: str, result: steps.Result, notes: str = "") -> None:
        row = Row(engine, size, step, result.get("seconds"), result.get("peak_mib"), notes)
        row.run_at, row.command = self.run_at, self.command
        self.rows.append(row)
        print(f"{engine:>8} {size:>5}  {step:<28} {result.get('seconds', 0):9.2f} s  {notes}", flush=True)
        for node in result.get("nodes", []):
            self.nodes.append({"engine": engine, "size": size, "step": step, **node})
        publish(self)  # after every step: a run stopped half-way (a long size, a crash) keeps what it measured


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes", default="100k,1m", help="appointment-service rows, e.g. 100k,1m,10m (default 100k,1m)"
    )
    parser.add_argument("--engines", default="duckdb,postgres", help="duckdb, postgres and/or spark")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder for RESULTS.md and the CSVs")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF, help="as-of date of every refresh")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shares", default="0.001,0.01", help="shares of records changed per incremental batch")
    parser.add_argument(
        "--day-share", type=float, default=0.001, help="share of records a realistic day changes (default 0.001)"
    )
    parser.add_argument(
        "--daily-flow",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run `reactivation run` twice (as of the as-of date and the next day) after realistic days (default on)",
    )
    parser.add_argument(
        "--daily-flow-runs", type=int, choices=(1, 2), default=2, help="1: only the first run of the daily flow"
    )
    parser.add_argument(
        "--prefect-warm-up",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one empty flow before the measured runs, so none of them creates Prefect's database (default on)",
    )
    parser.add_argument("--templates", type=int, default=10_000, help="template messages to compose (0: skip)")
    parser.add_argument("--ai-clients", type=int, default=100, help="clients to compose with AI (0: skip)")
    parser.add_argument("--work-dir", type=Path, help="where DuckDB files and dbt artefacts go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses (DuckDB files, PostgreSQL schemas)")
    args = parser.parse_args(argv)
    args.sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    args.engines = [e.strip().lower() for e in args.engines.split(",") if e.strip()]
    args.shares = [float(s) for s in args.shares.split(",") if s.strip()]
    unknown = set(args.engines) - set(report.ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # dbt's artifacts and log as users have them: the bench reads each refresh's run_results.json and dbt.log (a caller
    # such as the test suite may have turned them off in the environment this process inherits)
    os.environ["DBT_WRITE_JSON"] = "true"
    for name in ("DBT_LOG_LEVEL", "DBT_LOG_LEVEL_FILE"):
        os.environ.pop(name, None)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="reactivation-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    run = Run(args, work, command)
    try:
        for size in args.sizes:
            for engine in args.engines:
                try:
                    bench_warehouse(run, engine, size)
                except Exception as exc:  # one engine and size failing must not lose the others' results
                    run.failures.append(f"{engine} {size}: {type(exc).__name__}: {exc}")
                    run.add(engine, size, "failed", {}, f"{type(exc).__name__}: {exc}"[:500])
        bench_messages(run)
        publish(run)
    finally:
        if not (args.keep or args.work_dir):
            shutil.rmtree(work, ignore_errors=True)
    for failure in run.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print(f"results in {args.out / 'RESULTS.md'}")
    return 1 if run.failures else 0


def publish(run: Run) -> None:
    report.write(run.args.out, run.rows, run.nodes, machine(run.args.engines))


def share_label(share: float) -> str:
    return f"{share * 100:g}%"


def bench_warehouse(run: Run, engine: str, size: str) -> None:
    """Every warehouse step for one engine and size, in a fresh warehouse."""
    args, lines = run.args, size_lines(size)
    settings = warehouse_settings(engine, size, run.work)
    reset(settings)
    # dbt's artefacts where `reactivation` puts them under REACTIVATION_DBT_TARGET_ROOT: the bench's dbt calls and the
    # product's commands (`steps.cli_env`) share one partial-parse state, as one day's run shares it with the next
    dbt_root = run.work / f"dbt-{engine}-{size}"
    dbt_folder = target_path(settings, dbt_root)
    dbt_dirs = (str(dbt_folder), str(dbt_folder / "logs"))
    env = steps.cli_env(settings, run.work, dbt_root, run.work / f"sent-{engine}-{size}.jsonl")

    def dbt(step: str, command: list[str]) -> steps.Result:
        result = steps.in_child(steps.dbt_step, settings, command, args.as_of, dbt_dirs)
        run.add(engine, size, step, result, dbt_notes(result))
        return result

    loaded = steps.in_child(steps.generate_and_load, settings, lines, args.as_of, args.seed)
    counts = loaded["counts"]
    run.add(
        engine,
        size,
        "generate",
        {"seconds": loaded["generate_seconds"], "peak_mib": loaded["generate_peak_mib"]},
        f"{counts['raw_yclients_record_services']:,} lines, {counts['raw_yclients_records']:,} records, "
        f"{counts['raw_yclients_clients']:,} client cards, {counts['raw_yclients_companies']} companies",
    )
    run.add(
        engine, size, "load", {"seconds": loaded["load_seconds"], "peak_mib": loaded["peak_mib"]}, load_notes(engine)
    )
    dbt("dbt seed", ["seed"])
    dbt(FULL, ["run", "--full-refresh"])
    for share in args.shares:
        batch = steps.in_child(steps.load_changes, settings, share, args.as_of, args.seed)
        counts = batch["counts"]
        run.add(
            engine,
            size,
            f"batch load {share_label(share)}",
            batch,
            f"batch {batch['batch_id']}: {counts['records']:,} records, {counts['lines']:,} lines",
        )
        dbt(f"incremental {share_label(share)}", ["run"])
    day = args.as_of
    load_day(run, engine, size, settings, day, DAY_LOAD)
    refresh = steps.in_child(steps.refresh_process_step, settings, day, env, dbt_folder)
    run.add(engine, size, DAY_REFRESH, refresh, refresh_notes(refresh, day))
    check_incremental(run, engine, size, settings, dbt)  # the incremental state after the batches and the day
    floor = steps.in_child(steps.floor_step, settings, args.as_of)
    run.add(engine, size, FLOOR, floor, compared(run, floor, f"{FLOOR} {engine} {size}"))
    pandas = steps.in_child(steps.pandas_step, settings, args.as_of)
    notes = f"reading {pandas['read_seconds']:.2f} s; " + compared(run, pandas, f"{PANDAS} {engine} {size}")
    run.add(engine, size, PANDAS, pandas, notes)
    if args.daily_flow:  # after the floor and pandas, which need the outbox empty
        bench_daily_flow(run, engine, size, settings, env, day)
    if not args.keep:
        reset(settings, recreate=False)


def load_day(run: Run, engine: str, size: str, settings: Settings, day: date, step: str) -> None:
    """One realistic day's changes as a new ingest batch (`bench.generate.realistic_day`)."""
    batch = steps.in_child(steps.load_realistic_day, settings, day, run.args.day_share, run.args.seed)
    counts = batch["counts"]
    kinds = ", ".join(f"{counts[k]:,} {k}" for k in ("booking", "attendance", "reschedule", "cancellation", "edit"))
    notes = (
        f"day {day}, batch {batch['batch_id']}: {counts['records']:,} records ({batch['share']:.3%} of all: {kinds}), "
        f"{counts['lines']:,} lines; reading {batch['read_seconds']:.2f} s, "
        f"generating {batch['generate_seconds']:.2f} s"
    )
    run.add(engine, size, step, batch, notes)


def refresh_notes(result: steps.Result, day: date) -> str:
    """What `reactivation refresh` ran: its own summary line, dbt's elapsed time, models and data tests apart."""
    nodes = sorted(result["nodes"], key=lambda n: -n["seconds"])
    by_kind: dict[str, list[float]] = {}
    for node in nodes:
        by_kind.setdefault(node["kind"], []).append(node["seconds"])
    sums = ", ".join(f"{len(v)} {k}s Σ {sum(v):.2f} s" for k, v in sorted(by_kind.items()))
    slowest = ", ".join(f"{n['node']} {n['seconds']:.2f}" for n in nodes[:3])
    return (
        f"`reactivation refresh --as-of {day}` (fresh process, selector daily): {result['summary']}; "
        f"{result['parse']}; dbt elapsed {result['dbt_elapsed']:.2f} s of the wall time; {sums}; slowest: {slowest}"
    )


def bench_daily_flow(run: Run, engine: str, size: str, settings: Settings, env: dict[str, str], day: date) -> None:
    """`reactivation run` as users run it: as of the day just refreshed (the first run: retention's first pass, the
    backlog queued), then after the next realistic day as of that day."""
    if run.imports_seconds is None:
        run.imports_seconds = steps.in_child(steps.imports_step)["seconds"]
    if run.args.prefect_warm_up and not run.prefect_warm:
        steps.in_child(steps.prefect_warm_up, env)
        run.prefect_warm = True
    first = steps.in_child(steps.daily_flow_step, settings, day, env)
    run.add(engine, size, FLOW_FIRST, flow_result(first), flow_notes(run, first, day))
    if run.args.daily_flow_runs < 2:
        return
    following = day + timedelta(days=1)
    load_day(run, engine, size, settings, following, NEXT_DAY_LOAD)
    second = steps.in_child(steps.daily_flow_step, settings, following, env)
    run.add(engine, size, FLOW_NEXT, flow_result(second), flow_notes(run, second, following))


def flow_result(result: steps.Result) -> steps.Result:
    """The flow's steps (and Prefect's start-up, and the messages queued) as nodes of the run's step."""
    nodes = [{"node": name, "seconds": seconds, "rows_affected": None} for name, seconds in result["steps"].items()]
    nodes.append({"node": "prefect start-up", "seconds": result["startup"], "rows_affected": None})
    nodes.append({"node": "queued", "seconds": 0.0, "rows_affected": result["queued"]})
    return {**result, "nodes": nodes}


def flow_notes(run: Run, result: steps.Result, day: date) -> str:
    timed = result["steps"]
    rest = result["seconds"] - result["startup"] - sum(timed.values())
    delivery = next((line for line in result["output"].splitlines() if line.startswith("delivery now:")), "")
    return (
        f"`reactivation run --as-of {day}` (fresh process, log channel); Prefect start-up {result['startup']:.2f} s "
        f"(of which importing the CLI and the flow ≈ {run.imports_seconds or 0:.2f} s, measured apart); steps Σ "
        f"{sum(timed.values()):.2f} s: " + ", ".join(f"{k} {v:.2f}" for k, v in timed.items()) + f"; after the steps "
        f"{rest:.2f} s; queued {result['queued']} (+{result['holdout']} held out); {delivery.strip()}; largest single "
        f"process {result['largest_mib']:,.0f} MiB"
    )


def check_incremental(run: Run, engine: str, size: str, settings: Settings, dbt: Any) -> None:
    """Snapshot the incremental result, refresh fully, and require the same rows."""
    if settings.target == "spark":  # Spark's catalog takes one process at a time: each step in its own child
        steps.in_child(steps.spark_snapshot, settings, CHECKED_TABLES)
        dbt(f"{FULL} (after batches)", ["run", "--full-refresh"])
        start = perf_counter()
        diffs = steps.in_child(steps.spark_snapshot_diffs, settings, CHECKED_TABLES)["diffs"]
        seconds = perf_counter() - start
    else:
        with Warehouse.connect(settings) as wh:
            for table in CHECKED_TABLES:
                wh.execute(f"drop table if exists bench_snapshot_{table}")
                wh.execute(f"create table bench_snapshot_{table} as select * from {table}")
        dbt(f"{FULL} (after batches)", ["run", "--full-refresh"])
        start = perf_counter()
        with Warehouse.connect(settings) as wh:
            diffs = {table: steps.table_diff(wh, f"bench_snapshot_{table}", table) for table in CHECKED_TABLES}
            for table in CHECKED_TABLES:
                wh.execute(f"drop table bench_snapshot_{table}")
        seconds = perf_counter() - start
    notes = "; ".join(
        f"{table}: {compared(run, diff, f'incremental = full, {table}, {engine} {size}')}"
        for table, diff in diffs.items()
    )
    run.add(engine, size, "check incremental = full", {"seconds": seconds}, notes)


def compared(run: Run, diff: steps.Result, what: str) -> str:
    """Describe a row comparison; a difference is recorded as a failure of the run."""
    if diff["only_here"] == 0 and diff["only_expected"] == 0 and diff["rows"] == diff["expected_rows"]:
        return f"{diff['rows']:,} rows, identical to the model"
    run.failures.append(what)
    return (
        f"DIFFERENT: {diff['rows']:,} rows vs {diff['expected_rows']:,} in the model, "
        f"{diff['only_here']:,} only here, {diff['only_expected']:,} only in the model"
    )


def dbt_notes(result: steps.Result, top: int = 3) -> str:
    nodes = sorted(result["nodes"], key=lambda n: -n["seconds"])
    total = sum(n["seconds"] for n in nodes)
    slowest = ", ".join(f"{n['node']} {n['seconds']:.2f}" for n in nodes[:top])
    notes = f"{len(nodes)} nodes, Σ {total:.2f} s; slowest: {slowest}"
    cache = next((n for n in nodes if n["node"] == "appointments_cache"), None)
    if cache and cache["rows_affected"] not in (None, -1):
        notes += f"; appointments_cache rows affected {cache['rows_affected']:,}"
    return notes


def load_notes(engine: str) -> str:
    if engine == "duckdb":
        return "insert ... select from registered frames"
    if engine == "spark":
        return "COPY into PostgreSQL's landing tables; each dbt step publishes them into Spark first (in its time)"
    return "COPY FROM STDIN (CSV rendered by DuckDB, 8 MiB chunks) + ANALYZE"


def bench_messages(run: Run) -> None:
    args = run.args
    if args.templates:
        result = steps.in_child(steps.templates_step, args.templates)
        run.add(MESSAGES, MESSAGES, f"templates {args.templates}", result, result["notes"])
    if args.ai_clients:
        result = steps.in_child(steps.ai_step, args.ai_clients, 15, 10)
        run.add(MESSAGES, MESSAGES, f"AI {args.ai_clients} clients", result, result["notes"])


def warehouse_settings(engine: str, size: str, work: Path) -> Settings:
    """A DuckDB file in the work folder, or the PostgreSQL schema `bench_<size>`."""
    base = Settings.from_env()
    if engine == "duckdb":
        return replace(base, target="duckdb", duckdb_path=work / f"bench_{size}.duckdb")
    if engine == "spark":  # the Spark database bench_spark_<size>; landing in the PostgreSQL schema of that name
        name = f"bench_spark_{size.replace('.', '_')}"
        folder = work / "spark-warehouse"
        return replace(base, target="spark", pg_schema=name, spark_schema=name, spark_warehouse=folder)
    return replace(base, target="postgres", pg_schema=f"bench_{size.replace('.', '_')}")


def reset(settings: Settings, recreate: bool = True) -> None:
    """Throw the bench warehouse away (and start an empty one)."""
    if settings.target == "duckdb":
        for path in (settings.duckdb_path, settings.duckdb_path.with_name(settings.duckdb_path.name + ".wal")):
            path.unlink(missing_ok=True)
        return
    if settings.target == "spark":
        steps.in_child(steps.spark_reset, settings)
    with Warehouse.connect(replace(settings, target="postgres")) as wh:
        wh.execute(f'drop schema if exists "{settings.pg_schema}" cascade')
        if recreate:
            wh.execute(f'create schema "{settings.pg_schema}"')


def machine(engines: list[str]) -> dict[str, str]:
    """Cores, memory and versions of what ran, for the report."""
    import duckdb

    with duckdb.connect() as con:
        limit, threads = con.execute("select current_setting('memory_limit'), current_setting('threads')").fetchone()
    info = {
        "CPUs (os.cpu_count())": str(os.cpu_count()),
        "memory (/proc/meminfo MemTotal)": _mem_total(),
        "load average at the end (1/5/15 min)": " / ".join(f"{v:.2f}" for v in os.getloadavg()),
        "Python": platform.python_version(),
        "DuckDB": f"{duckdb.__version__} (memory_limit {limit}, default 80 % of RAM; threads {threads})",
        "dbt": ", ".join(f"{p} {version(p)}" for p in ("dbt-core", "dbt-duckdb", "dbt-postgres")),
        "pandas / numpy": f"{version('pandas')} / {version('numpy')}",
    }
    if "spark" in engines:
        info["Spark"] = (
            f"pyspark {version('pyspark')}, dbt-spark {version('dbt-spark')}, local[2] in the runner's process "
            "(reactivation.spark.spark_conf); peak memory of a Spark step is the Python process's plus the JVM's"
        )
    if "postgres" in engines or "spark" in engines:
        settings = _postgres_settings(Settings.from_env())
        info["PostgreSQL"] = (
            f"{settings['server_version']} on 127.0.0.1 (shared_buffers {settings['shared_buffers']}, "
            f"work_mem {settings['work_mem']})"
        )
    return info


def _postgres_settings(settings: Settings) -> dict[str, str]:
    import psycopg

    with psycopg.connect(
        **settings.pg_connection_args(),
    ) as con:
        return {
            name: con.execute(f"show {name}").fetchone()[0] for name in ("server_version", "shared_buffers", "work_mem")
        }


def _mem_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"
