"""What each dbt invocation costs and checks: the as-of date stays out of dbt's parse; the daily run checks what
guards sending (`refresh --all-checks`, which runs every check: tests/test_models_match_reference.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from reactivation import dbt
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF

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


def test_a_new_as_of_date_keeps_dbt_partial_parsing_and_leaves_no_date_behind(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")  # the suite logs nothing; this reads dbt's parse notes
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
