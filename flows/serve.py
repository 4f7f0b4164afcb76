"""Serve the reactivation deployments from this process (no work pool needed):

    python flows/serve.py          # with a Prefect server: `prefect server start` in another shell

One daily deployment per company time zone (09:00 local, `REACTIVATION_DAILY_CRON`), each covering the
companies of that zone, plus the delivery deployment every 15 minutes. `prefect.yaml` declares the same
deployments for a work pool (`prefect deploy --all`).
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daily import reactivation_daily  # noqa: E402
from deliver import reactivation_deliver  # noqa: E402

DAILY_CRON = os.environ.get("REACTIVATION_DAILY_CRON", "0 9 * * *")
DELIVER_CRON = os.environ.get("REACTIVATION_DELIVER_CRON", "*/15 * * * *")


def companies_by_timezone() -> dict[str, list[int]]:
    """Company ids grouped by their time zone, read from the warehouse."""
    from reactivation.warehouse import Warehouse

    with Warehouse.connect() as wh:
        wh.ensure_tables()
        rows = wh.fetchall(
            "select company_id, coalesce(nullif(timezone, ''), 'Europe/Moscow') from raw_yclients_companies"
            " order by company_id"
        )
    groups: dict[str, list[int]] = defaultdict(list)
    for company_id, timezone in rows:
        groups[timezone].append(company_id)
    return dict(groups)


def build_deployments(groups: dict[str, list[int]]) -> list[RunnerDeployment]:
    """Daily deployments per time zone (cron in that zone) and the 15-minute delivery deployment."""
    deployments = [
        reactivation_daily.to_deployment(
            name=f"daily-{re.sub(r'[^a-z0-9]+', '-', timezone.lower())}",
            schedules=[Cron(DAILY_CRON, timezone=timezone)],
            parameters={"company_ids": ids},
            tags=["reactivation", "daily"],
            description=f"Daily reactivation at {DAILY_CRON} {timezone} for companies {ids}",
        )
        for timezone, ids in sorted(groups.items())
    ]
    deployments.append(
        reactivation_deliver.to_deployment(
            name="deliver-every-15-minutes",
            schedules=[Cron(DELIVER_CRON, timezone="UTC")],
            tags=["reactivation", "delivery"],
            description="Send outbox messages whose scheduled time has come",
        )
    )
    return deployments


if __name__ == "__main__":
    serve(*build_deployments(companies_by_timezone() or {"Europe/Moscow": []}))
