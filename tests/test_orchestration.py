"""Prefect deployments: daily per company time zone at 09:00 local, delivery every 15 minutes."""

from __future__ import annotations

from pathlib import Path

import yaml

from reactivation.flows import serve

ROOT = Path(__file__).resolve().parents[1]


def test_served_deployments_run_daily_in_each_company_zone_and_deliver_every_15_minutes() -> None:
    deployments = serve.build_deployments({"Europe/Moscow": [101, 104], "Asia/Yekaterinburg": [102]})
    by_name = {d.name: d for d in deployments}
    assert set(by_name) == {"daily-europe-moscow", "daily-asia-yekaterinburg", "deliver-every-15-minutes"}
    moscow = by_name["daily-europe-moscow"]
    assert moscow.parameters == {"company_ids": [101, 104]}
    assert moscow.entrypoint.endswith("daily.py:reactivation_daily")
    (schedule,) = moscow.schedules
    assert schedule.schedule.cron == "0 9 * * *" and schedule.schedule.timezone == "Europe/Moscow"
    assert by_name["daily-asia-yekaterinburg"].schedules[0].schedule.timezone == "Asia/Yekaterinburg"
    (deliver,) = by_name["deliver-every-15-minutes"].schedules
    assert deliver.schedule.cron == "*/15 * * * *"


def test_prefect_yaml_declares_both_flows_with_zoned_cron_schedules() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in config["deployments"]}
    daily, deliver = deployments["daily-europe-moscow"], deployments["deliver-every-15-minutes"]
    for deployment in (daily, deliver):
        path, name = deployment["entrypoint"].split(":")
        assert f"def {name}(" in (ROOT / path).read_text()
        assert deployment["work_pool"]["name"] == "reactivation"
    assert daily["schedules"] == [{"cron": "0 9 * * *", "timezone": "Europe/Moscow"}]
    assert deliver["schedules"][0]["cron"] == "*/15 * * * *"


def test_committed_prefect_yaml_is_what_serve_generates_for_an_empty_warehouse() -> None:
    assert (ROOT / "prefect.yaml").read_text(encoding="utf-8") == serve.prefect_yaml({})


def test_prefect_yaml_entrypoints_load_the_packaged_flows() -> None:
    from prefect.flows import load_flow_from_entrypoint

    from reactivation.flows.daily import reactivation_daily
    from reactivation.flows.deliver import reactivation_deliver

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    entrypoints = {d["name"]: d["entrypoint"] for d in config["deployments"]}
    daily, deliver = entrypoints["daily-europe-moscow"], entrypoints["deliver-every-15-minutes"]
    assert daily == "src/reactivation/flows/daily.py:reactivation_daily"
    assert load_flow_from_entrypoint(str(ROOT / daily)).name == reactivation_daily.name
    assert load_flow_from_entrypoint(str(ROOT / deliver)).name == reactivation_deliver.name


def test_the_command_line_imports_the_flows_instead_of_loading_files_by_path() -> None:
    from reactivation import cli

    assert not hasattr(cli, "load_flow")
    assert not (ROOT / "flows").exists()
