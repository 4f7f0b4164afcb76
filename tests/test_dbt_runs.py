"""What each dbt invocation costs and checks: the as-of date stays out of dbt's parse; the daily run checks what
guards sending; every check (unit tests included) runs on demand."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from reactivation import dbt
from reactivation.cli import app
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF
from .test_cli import env_for

GUARD_MARTS = {"due_clients", "due_client_exclusions", "message_candidates", "company_health"}


def listed(settings: Settings, *selection: str) -> list[dict]:
    """The nodes a selection picks, as dbt lists them (nothing runs)."""
    outcome = dbt.run_dbt(["ls", *selection, "--output", "json", "--output-keys", "unique_id resource_type depends_on"],
                          settings)  # fmt: skip
    return [json.loads(line) for line in outcome.raw]


def log_tail(settings: Settings, offset: int) -> str:
    log = dbt.target_path(settings) / "logs" / "dbt.log"
    return log.read_text(encoding="utf-8")[offset:] if log.exists() else ""


def log_size(settings: Settings) -> int:
    log = dbt.target_path(settings) / "logs" / "dbt.log"
    return len(log.read_text(encoding="utf-8")) if log.exists() else 0


def test_a_new_as_of_date_keeps_dbt_partial_parsing_and_leaves_no_date_behind(settings: Settings) -> None:
    dbt.run_dbt(["parse"], settings, dbt.dbt_vars(AS_OF))
    offset = log_size(settings)
    dbt.run_dbt(["parse"], settings, dbt.dbt_vars(AS_OF + timedelta(days=1)))
    tail = log_tail(settings, offset)
    assert "Partial parsing enabled" in tail
    assert "Unable to do partial parsing" not in tail
    with Warehouse.connect(settings) as wh:  # a plain `dbt` run afterwards does not inherit the runner's date
        assert wh.fetchall(f"select as_of_date from {dbt.RUN_CONTEXT_TABLE}") == [(None,)]


def test_the_daily_selection_builds_every_model_and_checks_only_what_guards_sending(settings: Settings) -> None:
    everything = listed(settings)
    daily = listed(settings, "--selector", dbt.DAILY_SELECTOR)
    kinds = {kind: {n["unique_id"] for n in everything if n["resource_type"] == kind} for kind in ("model", "seed")}
    chosen = {n["unique_id"] for n in daily}
    assert kinds["model"] <= chosen and kinds["seed"] <= chosen  # every model and seed is built
    assert not [n for n in daily if n["resource_type"] == "unit_test"]
    guard_ids = {f"model.reactivation.{name}" for name in GUARD_MARTS}
    guard_tests = {
        n["unique_id"] for n in everything if n["resource_type"] == "test" and guard_ids & set(n["depends_on"]["nodes"])
    }
    daily_tests = {n["unique_id"] for n in daily if n["resource_type"] == "test"}
    assert guard_tests and guard_tests == daily_tests  # each guard mart's test runs daily, and no other test
    assert any(n["resource_type"] == "unit_test" for n in everything)


def test_refresh_all_checks_runs_the_unit_tests_the_daily_refresh_skips(settings: Settings) -> None:
    runner = CliRunner()
    daily = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat()], env=env_for(settings))
    assert daily.exit_code == 0, daily.output
    assert "unit_test" not in daily.output and " test" in daily.output
    everything = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat(), "--all-checks"], env=env_for(settings))
    assert everything.exit_code == 0, everything.output
    assert "unit_test" in everything.output
