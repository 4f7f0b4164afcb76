"""One home per rule value: the dbt vars, read by SQL and Python alike, and written down in docs/rules.md."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reactivation import dbt, demo, quality, rules
from reactivation.flows import serve
from reactivation.ingest import ingest, sources_from_objects
from reactivation.messages import MessageRequest
from reactivation.messages.model import REBOOK_TONE
from reactivation.report import build_report
from reactivation.report.data import load_report_data
from reactivation.report.i18n import GROUP_LABELS, LABELS
from reactivation.retention import RetentionSettings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, run_models

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def override(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    monkeypatch.setenv("REACTIVATION_DBT_VARS", json.dumps(values))


def request(**changes: object) -> MessageRequest:
    fields = dict(message_key="1:2:2026-01-01:1", locale="ru", tone="gentle", variant="a", client_name="Анна",
                  service_title="Стрижка", company_name="Лаванда", days_since=40, booking_url=None)  # fmt: skip
    return MessageRequest(**{**fields, **changes})


def gate(settings: quality.GateSettings, interval_days: int) -> quality.GateResult:
    due = pd.DataFrame(
        [{"company_id": 1, "client_id": 7, "phone": "+79161234567", "service_id": 3, "tone": "offer",
          "interval_level": "personal", "interval_days": interval_days, "overdue_ratio": 2.0}]
    )  # fmt: skip
    health = pd.Series({"records": 50, "active_clients": 10, "last_loaded_at": NOW - timedelta(hours=1)})
    return quality.check_company(1, due, health, settings, NOW)


def test_rules_read_dbt_project_defaults_and_the_old_dbt_helpers_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REACTIVATION_DBT_VARS", raising=False)
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    current = rules.current()
    assert current.interval_min_days == project["interval_min_days"] == dbt.var_value("interval_min_days")
    assert current.exclusion_reasons == tuple(project["exclusion_reasons"])
    assert current.tones == tuple(project["tones"]) and current.interval_levels == tuple(project["interval_levels"])
    assert current.default_timezone == project["default_timezone"]
    assert current.phone_pattern == rf"^\+[0-9]{{{project['phone_min_digits']},{project['phone_max_digits']}}}$"
    with pytest.raises(KeyError, match="no var 'no_such_rule'"):
        rules.value("no_such_rule")


def test_a_var_changed_in_reactivation_dbt_vars_reaches_dbt_the_gate_retention_and_message_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REACTIVATION_DBT_VARS", raising=False)
    assert gate(quality.GateSettings(), interval_days=8).success  # within the default [7, 365]
    assert RetentionSettings.from_env().lost_after_days == 365
    request(variant="b")

    override(monkeypatch, interval_min_days=10, lost_after_days=200, message_variants=["a"], attribution_days=21)
    assert dbt.dbt_vars()["interval_min_days"] == 10  # what the next dbt run is given
    assert rules.current().attribution_days == 21
    result = gate(quality.GateSettings.from_env(), interval_days=8)
    assert not result.success and result.failed_checks == ["expect_column_values_to_be_between(interval_days)"]
    assert RetentionSettings.from_env().lost_after_days == 200 and RetentionSettings().lost_after_days == 200
    with pytest.raises(ValueError, match="message_variants"):
        request(variant="b")
    override(monkeypatch, tones=["gentle", "win_back"])
    with pytest.raises(ValueError, match="var `tones`"):
        request(tone="offer")
    assert not gate(quality.GateSettings(), interval_days=30).success  # the gate's tone set follows too


def test_exclusion_reasons_var_drives_the_exclusion_model_the_funnel_and_the_report(
    settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = [r for r in rules.current().exclusion_reasons if r != "invalid_phone"]
    override(monkeypatch, exclusion_reasons=kept)
    data = demo.generate(n_clients=150, years=2, seed=4, as_of=AS_OF)
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                        records=data.records), "demo")  # fmt: skip
    run_models(settings)
    with Warehouse.connect(settings) as wh:
        reasons = {reason for (reason,) in wh.fetchall("select distinct reason from due_client_exclusions")}
        funnel = wh.query_df("select * from reactivation_funnel")
        report_data = load_report_data(wh, None, None)
        result = build_report(wh, tmp_path / "report")
    assert reasons and reasons <= set(kept)  # the demo has invalid phones: without the var they would be excluded
    excluded = [c.removeprefix("excluded_") for c in funnel.columns if c.startswith("excluded_")]
    assert excluded == kept
    assert report_data.exclusion_reasons == tuple(kept)
    assert [c for c in report_data.funnel.columns if c.startswith("excluded_")] == [f"excluded_{r}" for r in kept]
    assert result.html_path.exists()


def test_every_exclusion_reason_tone_and_level_has_report_labels_in_both_languages() -> None:
    current = rules.current()
    for lang in ("ru", "en"):
        assert [r for r in current.exclusion_reasons if f"reason_{r}" not in LABELS[lang]] == []
        assert set(GROUP_LABELS[lang]["tone"]) == {*current.tones, REBOOK_TONE}  # + the rebook campaign's tone
        assert set(GROUP_LABELS[lang]["campaign"]) == set(rules.value("campaigns"))
        assert set(GROUP_LABELS[lang]["interval_level"]) == set(current.interval_levels)


def test_prefect_yaml_is_generated_from_the_default_timezone_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REACTIVATION_DBT_VARS", raising=False)
    assert (ROOT / "prefect.yaml").read_text(encoding="utf-8") == serve.prefect_yaml({})
    override(monkeypatch, default_timezone="Asia/Yekaterinburg")
    config = yaml.safe_load(serve.prefect_yaml({}))
    daily = config["deployments"][0]
    assert daily["name"] == "daily-asia-yekaterinburg" and daily["parameters"] == {"company_ids": None}
    assert daily["schedules"] == [{"cron": "0 9 * * *", "timezone": "Asia/Yekaterinburg"}]
    zones = yaml.safe_load(serve.prefect_yaml({"Europe/Berlin": [105], "Asia/Tokyo": [101, 103]}))["deployments"]
    assert [(d["name"], d.get("parameters")) for d in zones] == [
        ("daily-asia-tokyo", {"company_ids": [101, 103]}),
        ("daily-europe-berlin", {"company_ids": [105]}),
        ("deliver-every-15-minutes", None),
    ]


def test_ingest_defaults_to_the_default_timezone_var() -> None:
    from reactivation import ingest as ingest_module

    assert rules.current().default_timezone == ingest_module.DEFAULT_TIMEZONE


def test_docs_rules_names_every_rule_var_with_its_default() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    missing = [name for name in project if f"`{name}`" not in text]
    assert missing == []
    for name in ("interval_min_days", "cooldown_days", "attribution_days", "lost_after_days", "holdout_percent"):
        assert re.search(rf"`{name}`[^\n]*\b{project[name]}\b", text), f"{name} without its default"


def test_nothing_in_the_repository_points_outside_it_for_the_rules() -> None:
    pattern = re.compile(r"\.\./shared|\bSPEC\b")  # "SPEC §1", "SPEC.md", "the SPEC"
    this_file = Path(__file__).resolve()
    offenders = []
    for top in ("README.md", "docs", "src", "models", "macros", "tests", "bench", "dbt_project.yml"):
        path = ROOT / top
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if file == this_file or file.suffix not in {".md", ".py", ".sql", ".yml", ".yaml", ".j2", ".txt"}:
                continue
            if "egg-info" in file.parts or "__pycache__" in file.parts:
                continue
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
