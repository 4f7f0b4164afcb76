"""Shared fixtures: one warehouse per engine, built from the demo generator.

PostgreSQL tests never skip: when the server is unreachable they fail with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from reactivation import dbt
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

pytest_plugins = ["tests.spark_fixtures"]  # the spark target's fixtures (tests/test_spark.py)

ENGINES = ["duckdb", "postgres"]
AS_OF = date(2026, 11, 25)
SEEDS = sorted(path.stem for path in (Path(__file__).resolve().parents[1] / "seeds").glob("*.csv"))


# One folder and one schema prefix per test process. A test's warehouse reuses the same DuckDB path or PostgreSQL
# schema name as the previous test's (emptied first): dbt hashes the connection settings into its parsed manifest,
# so a new path or schema for every test would cost a full re-parse of the project (~5 s) on every invocation.
_RUN = {"folder": Path(tempfile.gettempdir()), "prefix": "test"}


def make_settings(engine: str, slot: str = "main") -> Settings:
    """Settings for an empty, private warehouse: this process's DuckDB file or PostgreSQL schema named `slot`.

    Whatever a previous test left there is dropped first; a test needing two warehouses at once names a second slot.
    """
    base = Settings.from_env()
    if engine == "duckdb":
        folder = _RUN["folder"] / slot
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        settings = replace(base, target="duckdb", duckdb_path=folder / "warehouse.duckdb")
    else:
        settings = replace(base, target="postgres", pg_schema=f"{_RUN['prefix']}_{slot}")
    drop(settings)
    return settings


def drop(settings: Settings) -> None:
    if settings.target == "postgres":
        with Warehouse.connect(settings) as wh:
            wh.execute(f'drop schema if exists "{settings.pg_schema}" cascade')
    else:
        for path in settings.duckdb_path.parent.glob(settings.duckdb_path.name + "*"):  # the file and its WAL
            path.unlink()


_PREBUILT: dict[tuple[str, str], Settings] = {}


def prebuilt(settings: Settings, name: str, build: Callable[[Settings], None]) -> None:
    """Fill the empty warehouse `settings` with what `build` makes, building it only once per process and engine.

    The first call builds into `settings` and keeps a copy (slot `prebuilt_<name>`); later calls copy that into
    `settings`, so tests sharing a starting point pay for its ingest and dbt build once instead of each time. The
    build runs in the test's own warehouse because dbt's parsed project is kept per warehouse: a warehouse dbt has
    not met before costs a full parse (~4 s), the test's own one usually does not.
    """
    key = (settings.target, name)
    if key in _PREBUILT:
        copy_warehouse(_PREBUILT[key], settings)
        return
    build(settings)
    template = make_settings(settings.target, f"prebuilt_{name}")
    copy_warehouse(settings, template)
    _PREBUILT[key] = template


def copy_warehouse(source: Settings, dest: Settings) -> None:
    """Copy every table and view of warehouse `source` into the empty warehouse `dest` (same engine)."""
    if source.target == "duckdb":
        for path in source.duckdb_path.parent.glob(source.duckdb_path.name + "*"):  # the file and any WAL
            suffix = path.name.removeprefix(source.duckdb_path.name)
            shutil.copyfile(path, dest.duckdb_path.with_name(dest.duckdb_path.name + suffix))
        return
    src, dst = source.pg_schema, dest.pg_schema
    with Warehouse.connect(source) as wh:
        wh.execute(f'create schema if not exists "{dst}"')
        tables = [t for (t,) in wh.fetchall(
            "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE'",
            [src])]  # fmt: skip
        for table in tables:
            wh.execute(f'create table "{dst}"."{table}" (like "{src}"."{table}" including all)')
            wh.execute(f'insert into "{dst}"."{table}" select * from "{src}"."{table}"')
        wh.execute("set search_path to pg_catalog")  # view definitions then name every relation with its schema
        views = wh.fetchall(
            "select c.relname, pg_get_viewdef(c.oid) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind = 'v' order by c.oid", [src])  # fmt: skip
        for view, definition in views:
            body = definition.replace(f"{src}.", f"{dst}.").replace(f'"{src}".', f'"{dst}".')
            wh.execute(f'create view "{dst}"."{view}" as {body}')


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(engine: str) -> Iterator[Settings]:
    """A private, empty warehouse on the engine under test."""
    s = make_settings(engine)
    yield s
    drop(s)


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    with Warehouse.connect(settings) as wh:
        wh.ensure_tables()
        yield wh


# the models a test reading only due clients and exclusions needs: 26 of the 49, about half a build's dbt time
DUE_MODELS = "+due_clients +due_client_exclusions"


def run_models(settings: Settings, as_of: date = AS_OF, full_refresh: bool = False, select: str | None = None) -> None:
    """Build the models without their data tests (the build test runs those): cheaper in a loop.

    One dbt invocation: `build` of seeds and models on a warehouse not seeded yet, `run` once it is. `select` (dbt
    syntax, e.g. DUE_MODELS) builds only those models; give their parents too (`+model`), seeds included.
    """
    with Warehouse.connect(settings) as wh:
        seeded = all(wh.table_exists(seed) for seed in SEEDS)
    args = ["run"] if seeded else ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select.split()]
    dbt.run_dbt(args, settings, dbt.dbt_vars(as_of))


def record_dbt_commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """From now on in this test, every dbt invocation still runs, and its arguments are appended to the list."""
    commands: list[list[str]] = []
    run_dbt = dbt.run_dbt
    monkeypatch.setattr(
        dbt, "run_dbt", lambda args, *rest, **kw: (commands.append(args), run_dbt(args, *rest, **kw))[1]
    )
    return commands


# Property tests (Hypothesis) draw 300 examples each in the whole suite (`make check`, CI) and 60 in `make test`
# (`--hypothesis-profile=dev`): the loop still finds a broken rule, CI searches five times harder
hypothesis_settings.register_profile("ci", max_examples=300, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=60, deadline=None)


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("hypothesis_profile", None):
        hypothesis_settings.load_profile("ci")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # dbt writes manifest.json (twice) and run_results.json after every command, ~1 s of a 4 s invocation here. No
    # test reads them: `docs generate` writes its manifest and catalog whatever this says, and the bench (a process
    # of its own) turns them back on because it reads run_results.json
    os.environ["DBT_WRITE_JSON"] = "false"
    # No dbt log lines, to the file or the console: dbt formats every event of every node (and scans the environment
    # for secrets to scrub from it) before its level filter drops it, ~8 % of a warm build. A failing dbt run still
    # names its node and error in the DbtFailure; a test reading dbt's log turns the file log back on for itself
    os.environ["DBT_LOG_LEVEL_FILE"] = "none"
    os.environ["DBT_LOG_LEVEL"] = "none"
    # dbt's artifacts (per engine, see dbt.target_path) and the warehouses live in a folder of this process: partial
    # parsing survives from one invocation to the next, and two sessions at once (or two xdist workers) never share
    # a manifest, a DuckDB file or a schema name
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
    _RUN["folder"] = Path(tempfile.mkdtemp(prefix=f"reactivation-tests-{worker}-"))
    _RUN["prefix"] = f"test_{run}_{worker}"
    os.environ[dbt.TARGET_ROOT_ENV] = str(_RUN["folder"] / "dbt")


def pytest_unconfigure(config: pytest.Config) -> None:
    for template in _PREBUILT.values():
        drop(template)
    shutil.rmtree(_RUN["folder"], ignore_errors=True)
    if _SHARED_PREFECT:
        server, database = _SHARED_PREFECT.pop()
        server.stop()
        shutil.rmtree(database.parent, ignore_errors=True)


# Under pytest-xdist the controller starts one temporary Prefect server for every worker, in the background while
# the workers collect; each worker's `prefect_server` then waits for it instead of starting its own (~12 s of CPU
# each). The URL reaches the workers in this variable, not in PREFECT_API_URL, so only `prefect_server` uses it.
SHARED_PREFECT_URL_ENV = "REACTIVATION_TEST_PREFECT_API_URL"
_SHARED_PREFECT: list = []


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return  # a worker, or no xdist: `prefect_server` starts a server in this process when a test needs one
    import socket
    import threading

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    with socket.socket() as probe:  # a free port now, so the URL is known before the server is up
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SubprocessASGIServer(port=port)
    database = Path(tempfile.mkdtemp(prefix="reactivation-tests-prefect-")) / "prefect.db"

    def start() -> None:
        with temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{database}"}):
            server.start(timeout=180)

    threading.Thread(target=start, daemon=True).start()
    _SHARED_PREFECT.append((server, database))
    os.environ[SHARED_PREFECT_URL_ENV] = server.api_url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest test (the spark target's, minutes of Spark) starts first, so under `pytest -n N` the other
    workers share the rest instead of waiting for it at the end. Prefect tests are not grouped: every worker uses
    the one temporary server the controller started (`pytest_sessionstart`).
    (Sorting every warehouse test first was measured slower: xdist hands out the first quarter of the tests round
    robin, so one worker got every DuckDB case and the other every slower PostgreSQL one.)"""
    items.sort(key=lambda item: "spark_settings" not in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A temporary Prefect server for this test process: the one the xdist controller started, else its own."""
    import httpx
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness
    from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

    # no flow-run heartbeats (they let a server spot crashed runs; a test's run is watched by the test): the
    # heartbeat thread sleeps in one-second steps and each flow run waits for it to stop, ~1 s per run
    no_heartbeats = temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    shared = os.environ.get(SHARED_PREFECT_URL_ENV)
    if not shared:
        with prefect_test_harness(server_startup_timeout=180), no_heartbeats:
            yield
        return

    @retry(
        retry=retry_if_exception_type(httpx.HTTPError), stop=stop_after_delay(180), wait=wait_fixed(0.2), reraise=True
    )
    def wait_until_healthy() -> None:
        httpx.get(f"{shared}/health", timeout=5).raise_for_status()

    wait_until_healthy()
    with temporary_settings({PREFECT_API_URL: shared}), no_heartbeats:
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
