"""Run the dbt project in-process (dbtRunner) against the configured warehouse and summarise the outcome."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from reactivation import rules
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

RUN_CONTEXT_TABLE = "reactivation_run_context"
TARGET_ROOT_ENV = "REACTIVATION_DBT_TARGET_ROOT"
DAILY_SELECTOR = "daily"  # selectors.yml: every model, only the data tests guarding sending


class DbtFailure(RuntimeError):
    """dbt ran and something in it failed: the message names each failing node and why."""


@dataclass
class NodeOutcome:
    unique_id: str
    resource_type: str
    status: str
    message: str
    seconds: float


@dataclass
class DbtOutcome:
    command: str
    success: bool
    nodes: list[NodeOutcome] = field(default_factory=list)
    raw: Any = field(default=None, repr=False)  # dbt's own result object (e.g. the table of `dbt show`)

    def counts(self) -> dict[str, int]:
        tally: dict[str, int] = {}
        for node in self.nodes:
            tally[node.status] = tally.get(node.status, 0) + 1
        return tally

    def resource_counts(self) -> dict[str, int]:
        """Nodes run by kind: model, seed, test (data tests), unit_test, operation."""
        tally: dict[str, int] = {}
        for node in self.nodes:
            tally[node.resource_type] = tally.get(node.resource_type, 0) + 1
        return tally

    def failures(self) -> list[NodeOutcome]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]


@cache
def _bundled_profiles_dir() -> Path:
    """A folder holding profiles.example.yml as profiles.yml, for users without a profile of their own."""
    folder = Path(tempfile.mkdtemp(prefix="reactivation-profiles-"))
    shutil.copy(Settings().project_dir / "profiles.example.yml", folder / "profiles.yml")
    return folder


def profiles_dir() -> Path:
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"])
    return _bundled_profiles_dir()


def dbt_vars(as_of: date | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Vars for a run: `REACTIVATION_DBT_VARS`, then `extra`, then as-of (`reactivation.rules.run_vars`)."""
    return rules.run_vars(as_of, extra)


def var_value(name: str) -> Any:
    """A rule's var as the next dbt run sees it (`reactivation.rules.value`)."""
    return rules.value(name)


def run_dbt(
    args: list[str],
    settings: Settings | None = None,
    variables: dict[str, Any] | None = None,
    raise_on_failure: bool = True,
) -> DbtOutcome:
    """Invoke one dbt command; returns per-node outcomes; raises DbtFailure naming what failed.

    The var `as_of_date` never reaches dbt's `--vars`: it goes to the run-context table for this one call, so a
    new date each day keeps dbt's parsed manifest (partial parsing) instead of re-parsing the whole project.
    """
    from dbt.cli.main import dbtRunner

    settings = settings or Settings.from_env()
    variables = dict(variables or {})
    as_of = variables.pop("as_of_date", None)
    argv = [
        *args,
        "--project-dir",
        str(settings.project_dir),
        "--profiles-dir",
        str(profiles_dir()),
        "--target",
        settings.target,
        "--quiet",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
        *_artifact_paths(settings, variables),
    ]
    if variables:
        argv += ["--vars", json.dumps(variables)]
    with Warehouse.connect(settings) as wh:
        wh.ensure_tables()  # sources must exist before dbt reads them, even on a brand-new warehouse
        _write_run_context(wh, as_of)
        if settings.target == "spark":  # the models' inputs, copied from PostgreSQL (reactivation.spark)
            from reactivation import spark

            spark.publish(wh)
    try:
        with _profile_env(settings):
            result = dbtRunner().invoke(argv)
    finally:  # a plain `dbt` run later must not inherit this run's date
        _release_duckdb_file(settings)
        with Warehouse.connect(settings) as wh:
            _write_run_context(wh, None)
            if settings.target == "spark":
                from reactivation import spark

                spark.publish(wh, raw=False)
    outcome = DbtOutcome(command=" ".join(args), success=bool(result.success), raw=result.result)
    for item in getattr(result.result, "results", None) or []:
        node = getattr(item, "node", None)
        outcome.nodes.append(
            NodeOutcome(
                unique_id=getattr(node, "unique_id", "?"),
                resource_type=str(getattr(node, "resource_type", "?")),
                status=str(getattr(item.status, "value", item.status)),
                message=str(item.message or ""),
                seconds=float(getattr(item, "execution_time", 0.0) or 0.0),
            )
        )
    if raise_on_failure and not outcome.success:
        raise DbtFailure(_describe_failure(outcome, result.exception))
    return outcome


def _release_duckdb_file(settings: Settings) -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an invocation.

    dbt-duckdb caches one open database per process for as long as the connection settings stay the same. Kept
    open, it holds DuckDB's file lock (another process, say the review page or a CLI call, cannot write) and it
    keeps reading a file that was replaced on disk under the same path.
    """
    if settings.target != "duckdb":
        return
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV  # noqa: SLF001 - the adapter exposes no public close
    DuckDBConnectionManager.close_all_connections()  # forgets the cached environment
    if environment is not None:
        environment.close()


def _write_run_context(wh: Warehouse, as_of: Any) -> None:
    """The run context the models read (`stg_runner__run_context`): one row holding the as-of date, or NULL."""
    wh.execute(f"create table if not exists {RUN_CONTEXT_TABLE} (as_of_date date)")
    wh.execute(f"delete from {RUN_CONTEXT_TABLE}")
    wh.execute(f"insert into {RUN_CONTEXT_TABLE} (as_of_date) values (%s)", [_as_date(as_of)])


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def target_path(settings: Settings, root: str | Path | None = None) -> Path:
    """Where dbt writes its artifacts (manifest, run results, catalog) for this warehouse's engine.

    `target/` of the project, unless a root folder is given (`root`, else `REACTIVATION_DBT_TARGET_ROOT`): then one
    sub-folder per engine and warehouse (DuckDB file, PostgreSQL or Spark schema). dbt hashes the connection into its
    parsed manifest, so alternating warehouses (a test's second one, parallel test workers) each keep their
    partial-parse state.
    """
    root = root or os.environ.get(TARGET_ROOT_ENV)
    if not root:
        return settings.project_dir / "target"
    if settings.target == "duckdb":
        warehouse = hashlib.sha1(str(settings.duckdb_path.resolve()).encode()).hexdigest()[:12]
    else:
        warehouse = settings.spark_schema if settings.target == "spark" else settings.pg_schema
    return Path(root) / settings.target / warehouse


def _artifact_paths(settings: Settings, variables: dict[str, Any]) -> list[str]:
    """Under `REACTIVATION_DBT_TARGET_ROOT`, runs with other `--vars` (which dbt re-parses for) get their own folder."""
    if not os.environ.get(TARGET_ROOT_ENV):
        return []
    folder = target_path(settings)
    if variables:
        folder = folder / f"vars-{hashlib.sha1(json.dumps(variables, sort_keys=True).encode()).hexdigest()[:12]}"
    return ["--target-path", str(folder), "--log-path", str(folder / "logs")]


@contextmanager
def _profile_env(settings: Settings) -> Iterator[None]:
    """The bundled profile reads the environment; point it at exactly these settings for one call."""
    values = {
        "REACTIVATION_TARGET": settings.target,
        "REACTIVATION_DUCKDB_PATH": str(settings.duckdb_path),
        "PGHOST": settings.pg_host,
        "PGPORT": str(settings.pg_port),
        "PGUSER": settings.pg_user,
        "PGDATABASE": settings.pg_database,
        "REACTIVATION_PG_SCHEMA": settings.pg_schema,
    }
    if settings.target == "spark":
        from reactivation.spark import warehouse_dir

        values["REACTIVATION_SPARK_WAREHOUSE"] = str(warehouse_dir(settings))
        values["REACTIVATION_SPARK_SCHEMA"] = settings.spark_schema
    if settings.pg_password:
        values["PGPASSWORD"] = settings.pg_password
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _describe_failure(outcome: DbtOutcome, exception: BaseException | None) -> str:
    lines = [f"dbt {outcome.command} failed"]
    for node in outcome.failures():
        lines.append(f"  {node.status}: {node.unique_id}: {node.message.strip()}")
    if exception is not None:
        lines.append(f"  {type(exception).__name__}: {exception}")
    if len(lines) == 1:
        lines.append("  (no node failed; see target/run_results.json and logs/dbt.log)")
    return "\n".join(lines)


def build(
    settings: Settings | None = None,
    as_of: date | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    variables: dict[str, Any] | None = None,
    all_checks: bool = False,
) -> DbtOutcome:
    """Seed and build every model (dbt build) with the data tests that guard sending (selector `daily`).

    `all_checks` runs every data test and every dbt unit test too (the suite and `refresh --all-checks`);
    `select` narrows the build (unit tests excluded unless `all_checks`).
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
        if not all_checks:
            args += ["--exclude-resource-type", "unit_test"]
    elif not all_checks:
        args += ["--selector", DAILY_SELECTOR]
    return run_dbt(args, settings, dbt_vars(as_of, variables))


def held_companies(settings: Settings | None = None) -> dict[int, str]:
    """Companies the last build holds (`company_health.is_held`: an unusable time zone), with why.

    The build itself succeeds for every other company; the refresh and the daily run then fail naming these.
    """
    with Warehouse.connect(settings or Settings.from_env()) as wh:
        rows = wh.fetchall("select company_id, timezone_error from company_health where is_held order by company_id")
    return {int(company_id): str(error) for company_id, error in rows}


def describe_held(held: dict[int, str]) -> str:
    """One line per held company, saying where to fix it."""
    return "\n".join(
        f"company {company_id} is held: {error}; fix it in YClients or REACTIVATION_COMPANY_SETTINGS and ingest again"
        for company_id, error in sorted(held.items())
    )
