"""The daily flow end to end on both engines: opt-outs, reruns, cooldown, attempts, dry run, the gate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reactivation import demo, optout
from reactivation.flows.daily import reactivation_daily
from reactivation.flows.deliver import reactivation_deliver
from reactivation.ingest import ingest, sources_from_objects
from reactivation.report import build_report
from reactivation.schedule import SendWindow, is_sendable
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, record_dbt_commands
from .reference import compute
from .test_cli import env_for
from .test_models_match_reference import SEEDS
from .test_retention import contacts_of_anonymised_clients

NOON = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 12:00 in Moscow: inside the send window


@pytest.fixture
def flow_env(settings, tmp_path, monkeypatch, prefect_server) -> Path:
    for name, value in env_for(settings).items():
        monkeypatch.setenv(name, value)
    log_path = tmp_path / "sent.jsonl"
    monkeypatch.setenv("REACTIVATION_CHANNEL", "log")
    monkeypatch.setenv("REACTIVATION_LOG_CHANNEL_PATH", str(log_path))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    return log_path


def load(settings, data: demo.DemoData) -> None:
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=data.companies, services=data.services, clients=data.clients,
                                        records=data.records), "demo")  # fmt: skip


def outbox(settings) -> list[dict]:
    with Warehouse.connect(settings) as wh:
        return wh.query_df("select * from reactivation_messages order by message_key").to_dict("records")


def sent_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_opted_out_clients_get_nothing_and_reruns_respect_cooldown_and_attempts(
    settings, flow_env, monkeypatch
) -> None:
    # the data stands still while the as-of date moves a month on, so most clients fall due: let the gate allow it
    monkeypatch.setenv("REACTIVATION_MAX_DUE_SHARE", "1.0")
    daily, deliver = reactivation_daily, reactivation_deliver
    data = demo.generate(n_clients=240, years=2, seed=21, as_of=AS_OF)
    seeds = (str(SEEDS / "industry_standards.csv"), str(SEEDS / "service_category_rules.csv"))
    expected = compute(data.companies, data.services, data.clients, data.records, *seeds, AS_OF)
    due = expected.due[expected.due["company_id"] == 101].head(3).to_dict("records")
    by_stop_word, by_command, by_sms_not = due
    for client in data.clients:  # YClients' own flag, arriving with the next client sync
        if client["id"] == by_sms_not["client_id"]:
            client["sms_not"] = 1
    load(settings, data)
    with Warehouse.connect(settings) as wh:
        assert optout.record_inbound(wh, 101, "Отписаться!", NOON, phone=by_stop_word["phone"])
        assert not optout.record_inbound(wh, 101, "Спасибо, запишусь в пятницу", NOON, phone=due[1]["phone"])
        optout.add(wh, 101, client_id=by_command["client_id"])
    opted_out = {c["client_id"] for c in due}

    dbt_commands = record_dbt_commands(monkeypatch)
    first = daily(as_of=AS_OF.isoformat(), now=NOON)
    # retention comes before the refresh: the run's one dbt invocation also drops the erased names and phones
    assert [command[0] for command in dbt_commands] == ["build"]
    assert first["anonymised"]["clients"] > 5
    with Warehouse.connect(settings) as wh:
        kept = contacts_of_anonymised_clients(wh)
    assert kept[0] >= first["anonymised"]["clients"] and kept[1:] == (0, 0)
    rows = outbox(settings)
    assert first["inserted"] == len(rows) > 20
    assert not opted_out & {r["client_id"] for r in rows}
    assert {r["status"] for r in rows} <= {"pending", "sent", "suppressed"}
    window = SendWindow()
    for row in rows:
        if not row["is_holdout"]:
            assert is_sendable(row["scheduled_at"], "Europe/Moscow" if row["company_id"] == 101 else
                               {102: "Asia/Yekaterinburg", 103: "Europe/London"}[row["company_id"]],
                               {103: "GB"}.get(row["company_id"], "RU"), window)  # fmt: skip

    again = daily(as_of=AS_OF.isoformat(), now=NOON + timedelta(hours=2))
    assert again["inserted"] == 0 and len(outbox(settings)) == len(rows)  # a second run the same day adds nothing
    deliver(now=NOON + timedelta(hours=30))  # next day: everything scheduled has gone out
    delivered = sent_lines(flow_env)
    assert len(delivered) == len({d["message_key"] for d in delivered}) == sum(not r["is_holdout"] for r in rows)
    assert not opted_out & {d["client_id"] for d in delivered}

    daily(as_of=(AS_OF + timedelta(days=1)).isoformat(), now=NOON + timedelta(days=1))
    first_keys = {r["message_key"] for r in rows}
    contacted = {r["client_id"] for r in rows}
    newly_due = [r for r in outbox(settings) if r["message_key"] not in first_keys]
    assert not contacted & {r["client_id"] for r in newly_due}  # cooldown: nobody contacted yesterday again
    later = daily(as_of=(AS_OF + timedelta(days=15)).isoformat(), now=NOON + timedelta(days=15))
    second = [r for r in outbox(settings) if r["attempt"] == 2]
    assert later["inserted"] > 0 and second and {r["client_id"] for r in second} <= contacted
    daily(as_of=(AS_OF + timedelta(days=30)).isoformat(), now=NOON + timedelta(days=30))
    final = outbox(settings)
    assert max(r["attempt"] for r in final) == 2  # max_attempts_per_cycle
    keys = [(r["company_id"], r["client_id"], r["cycle_id"], r["attempt"]) for r in final]
    assert len(keys) == len(set(keys))
    assert not opted_out & {r["client_id"] for r in final}
    # stable group: a client keeps theirs across attempts of a campaign in a cycle (each campaign draws its own)
    groups: dict[tuple, set[bool]] = {}
    for r in final:
        groups.setdefault((r["client_id"], r["cycle_id"], r["campaign"]), set()).add(bool(r["is_holdout"]))
    assert all(len(drawn) == 1 for drawn in groups.values())
    assert any(r["campaign"] == "win_back" and r["attempt"] == 2 for r in second)

    # the owner's report renders from what the runs left behind, every chart present
    with Warehouse.connect(settings) as wh:
        report = build_report(wh, flow_env.parent / "report")
    assert set(report.charts) == {"funnel", "conversion_by_tone", "conversion_by_level", "conversion_by_variant",
                                  "time_to_booking", "revenue", "due_pipeline", "calibration"}  # fmt: skip
    for chart in report.charts.values():
        assert chart.read_bytes().startswith(b"\x89PNG") and chart.stat().st_size > 5000
    html = report.html_path.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 7 and "Салон «Лаванда»" in html


def test_dry_run_writes_nothing(settings, flow_env) -> None:
    load(settings, demo.generate(n_clients=150, years=2, seed=4, as_of=AS_OF))
    summary = reactivation_daily(as_of=AS_OF.isoformat(), dry_run=True, now=NOON)
    assert summary["queued"] > 0 and summary["samples"]
    assert outbox(settings) == [] and not flow_env.exists()
    with Warehouse.connect(settings) as wh:
        assert wh.fetchone("select count(*) from reactivation_quality_reports")[0] == 0


def test_failed_quality_gate_holds_that_company_and_fails_the_run_visibly(settings, flow_env) -> None:
    load(settings, demo.generate(n_clients=150, years=2, seed=4, as_of=AS_OF))
    with Warehouse.connect(settings) as wh:  # company 102's records stopped arriving four days ago
        wh.execute("update raw_yclients_records set _loaded_at = %s where company_id = 102",
                   [datetime.now(UTC) - timedelta(days=4)])  # fmt: skip
    state = reactivation_daily(as_of=AS_OF.isoformat(), now=NOON, return_state=True)
    assert state.is_failed()
    assert "quality gate failed for companies [102]" in str(state.result(raise_on_failure=False))
    companies = {r["company_id"] for r in outbox(settings)}
    assert companies == {101, 103}
    with Warehouse.connect(settings) as wh:
        reports = dict(wh.fetchall("select company_id, failed_checks from reactivation_quality_reports"))
    assert "expect_column_values_to_be_between(hours_since_load)" in reports[102]
    assert reports[101] == "" and reports[103] == ""


def test_max_messages_per_run_caps_each_company_and_rule_vars_come_from_the_environment(
    settings, flow_env, monkeypatch
) -> None:
    load(settings, demo.generate(n_clients=150, years=2, seed=4, as_of=AS_OF))
    monkeypatch.setenv("REACTIVATION_DBT_VARS", '{"max_messages_per_run": 4, "holdout_percent": 0}')
    summary = reactivation_daily(as_of=AS_OF.isoformat(), now=NOON)
    rows = outbox(settings)
    per_company = {c: sum(r["company_id"] == c for r in rows) for c in {r["company_id"] for r in rows}}
    assert per_company == {101: 4, 102: 4, 103: 4} and summary["holdout"] == 0
    with Warehouse.connect(settings) as wh:  # the four most overdue of each company went first
        ranks = wh.fetchall(
            "select count(*) from message_candidates c join reactivation_messages m using (message_key)"
            " where c.priority_rank > 4"
        )
    assert ranks == [(0,)]
