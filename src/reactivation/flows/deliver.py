"""reactivation-deliver: send outbox messages whose scheduled time has come (meant to run every 15 minutes)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger

from reactivation import campaign
from reactivation.warehouse import Warehouse


@flow(name="reactivation-deliver", retries=1, retry_delay_seconds=60)
def reactivation_deliver(company_ids: list[int] | None = None, now: datetime | None = None) -> dict:
    """Claim due pending messages and send them through the configured channel, each at most once."""
    with Warehouse.connect() as wh:
        report = campaign.deliver_due(wh, campaign.RunSettings.from_env(), company_ids, now=now)
    summary = report.as_dict()
    get_run_logger().info("delivery: %s", summary)
    return summary


if __name__ == "__main__":
    reactivation_deliver()
