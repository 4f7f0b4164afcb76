"""Run the dbt project in-process (dbtRunner) against the configured warehouse and summarise the outcome."""

from __future__ import annotations

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
    """Invoke one dbt command; returns per-node outcomes; raises DbtFailure naming what failed."""
    from dbt.cli.main import dbtRunner

    settings = settings or Settings.from_env()
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
    ]
    if variables:
        argv += ["--vars", json.dumps(variables)]
    with Warehouse.connect(settings) as wh:
        wh.ensure_tables()  # sources must exist before dbt reads them, even on a brand-new warehouse
    with _profile_env(settings):
        result = dbtRunner().invoke(argv)
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
) -> DbtOutcome:
    """Seed, run and test the whole project (dbt build), the way every refresh does."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
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
