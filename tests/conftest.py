"""Shared fixtures: one warehouse per engine, built from the demo generator.

PostgreSQL tests never skip: when the server is unreachable they fail with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from reactivation import dbt
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

pytest_plugins = ["tests.spark_fixtures"]  # the spark target's fixtures (tests/test_spark.py)

ENGINES = ["duckdb", "postgres"]
AS_OF = date(2026, 11, 25)
SEEDS = sorted(path.stem for path in (Path(__file__).resolve().parents[1] / "seeds").glob("*.csv"))


def make_settings(engine: str, tmp_path: Path) -> Settings:
    """Settings for a fresh, private warehouse: a new DuckDB file or a new PostgreSQL schema."""
    base = Settings.from_env()
    if engine == "duckdb":
        return replace(base, target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    return replace(base, target="postgres", pg_schema=f"test_{uuid.uuid4().hex[:12]}")


def drop(settings: Settings) -> None:
    if settings.target == "postgres":
        with Warehouse.connect(settings) as wh:
            wh.execute(f'drop schema if exists "{settings.pg_schema}" cascade')


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(engine: str, tmp_path: Path) -> Iterator[Settings]:
    """A private, empty warehouse on the engine under test."""
    s = make_settings(engine, tmp_path)
    yield s
    drop(s)


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    with Warehouse.connect(settings) as wh:
        wh.ensure_tables()
        yield wh


def run_models(settings: Settings, as_of: date = AS_OF, full_refresh: bool = False) -> None:
    """Build the models without their data tests (the build test runs those): cheaper in a loop.

    One dbt invocation: `build` of seeds and models on a warehouse not seeded yet, `run` once it is.
    """
    with Warehouse.connect(settings) as wh:
        seeded = all(wh.table_exists(seed) for seed in SEEDS)
    args = ["run"] if seeded else ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    dbt.run_dbt(args, settings, dbt.dbt_vars(as_of))


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # dbt's artifacts per xdist worker (and, in dbt.target_path, per engine): partial parsing then survives from
    # one invocation to the next instead of every test re-parsing the project
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ[dbt.TARGET_ROOT_ENV] = str(config.rootpath / "target" / f"pytest-{worker}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup`, the Prefect tests share one worker: one server start, not N."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("prefect"))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for the whole session (starting one costs ~20 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001 - pytest's hook
    """Say how many tests ran on each engine, so a run shows both were exercised."""
    counts: dict[str, dict[str, int]] = {engine: {} for engine in ENGINES}
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            for engine in ENGINES:
                if f"[{engine}" in report.nodeid or f"-{engine}]" in report.nodeid or f"-{engine}-" in report.nodeid:
                    counts[engine][outcome] = counts[engine].get(outcome, 0) + 1
    line = "; ".join(
        f"{engine}: " + (", ".join(f"{n} {o}" for o, n in sorted(c.items())) or "none") for engine, c in counts.items()
    )
    terminalreporter.write_line(f"warehouse tests by engine: {line}")
