"""The demo's five-week replay: clients answering the campaign, so the outcome marts have something true to show."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from reactivation.demo.generator import DemoData, draw_int

if TYPE_CHECKING:
    from reactivation.warehouse import Warehouse


def exposed_messages(wh: Warehouse, as_of: date) -> list[dict[str, Any]]:
    """The messages of the daily run as of `as_of` that reached their client (sent) or were held out on purpose, of
    every campaign (win-back messages and rebook reminders)."""
    return wh.query_df(
        "select message_key, company_id, client_id, campaign, is_holdout, service_id, phone,"
        " coalesce(sent_at, created_at) as exposed_at from reactivation_messages"
        " where status in ('sent', 'suppressed') and as_of_date = %s",
        [as_of],
    ).to_dict("records")


def simulate_bookings(
    messages: list[dict[str, Any]],
    data: DemoData,
    until: datetime,
    seed: int = 42,
    treated_rate: float = 0.22,
    holdout_rate: float = 0.08,
    rebook_rates: tuple[float, float] = (0.45, 0.30),
) -> list[dict[str, Any]]:
    """Demo only: clients answering the campaign. Each exposed message (sent, or held out) leads to a booking with
    the group's probability, created 6 h to 12 days after exposure (never after `until`), for the messaged
    service, mostly attended. A rebook reminder (`campaign` = rebook) goes to a regular client a few days before
    their usual time, who often books anyway: `rebook_rates` (treated, holdout) instead. Gives the outcome marts
    and the report something true to show.
    """
    rng = random.Random(seed)
    zones = {c["company_id"]: ZoneInfo(c["timezone"]) for c in data.companies}
    services = {(s["company_id"], s["id"]): s for s in data.services}
    next_id = max(r["id"] for r in data.records) + 1_000_000
    bookings = []
    for message in sorted(messages, key=lambda m: m["message_key"]):
        exposed = message["exposed_at"]
        treated, holdout = rebook_rates if message.get("campaign") == "rebook" else (treated_rate, holdout_rate)
        if exposed is None or rng.random() >= (holdout if message["is_holdout"] else treated):
            continue
        created = exposed + timedelta(hours=6 + rng.random() * 282)
        if created >= until:
            continue
        zone = zones[message["company_id"]]
        local_day = (created + timedelta(days=1 + draw_int(rng, 0, 6))).astimezone(zone).date()
        visit = datetime.combine(local_day, datetime.min.time(), zone) + timedelta(
            minutes=600 + 15 * draw_int(rng, 0, 36)
        )
        service = services.get((message["company_id"], message["service_id"]), {})
        attended = visit < until and rng.random() < 0.85
        bookings.append({
            "id": next_id, "company_id": message["company_id"],
            "client": {"id": message["client_id"], "name": message.get("client_name"), "phone": message.get("phone")},
            "staff_id": None, "datetime": visit.isoformat(),
            "services": [{"id": message["service_id"], "title": service.get("title"), "cost": service.get("cost", 0),
                          "first_cost": service.get("cost", 0), "amount": 1}],
            "attendance": (1 if attended else -1) if visit < until else 0, "deleted": False, "visit_id": None,
            "create_date": created.astimezone(zone).isoformat(),
            "last_change_date": min(visit + timedelta(hours=2), until).astimezone(zone).isoformat(),
        })  # fmt: skip
        next_id += 1
    return bookings
