"""Prefect deployments: daily per company time zone at 09:00 local, delivery every 15 minutes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_serve():
    spec = importlib.util.spec_from_file_location("reactivation_flows_serve", ROOT / "flows" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_served_deployments_run_daily_in_each_company_zone_and_deliver_every_15_minutes() -> None:
    serve = load_serve()
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
