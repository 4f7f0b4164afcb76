"""The steps of a daily reactivation run, as plain functions the Prefect flows compose.

select (from the `message_candidates` model) → compose (templates or Gemini) → schedule (send window) →
queue (outbox) → deliver (channel). Every step is idempotent: a rerun the same day queues nothing new, because
the models exclude clients contacted within the cooldown and the outbox refuses an existing key.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from time import perf_counter
from typing import Any

from reactivation.channels import ChannelSettings, make_channel
from reactivation.messages import ComposeSettings, ComposeStats, MessageRequest, compose_messages, first_name
from reactivation.messages.sms import segments
from reactivation.outbox import (
    AWAITING_REVIEW,
    PENDING,
    SUPPRESSED,
    WIN_BACK,
    DeliveryReport,
    OutboxRow,
    SendPolicy,
    deliver,
    enqueue,
    read_candidates,
    template_params,
)
from reactivation.quality import GateSettings
from reactivation.review.model import ReviewSettings, expire_unreviewed, review_params
from reactivation.schedule import SendWindow, schedule_send
from reactivation.warehouse import Warehouse

log = logging.getLogger("reactivation.campaign")


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs besides the warehouse, read once from the environment."""

    channels: ChannelSettings = field(default_factory=ChannelSettings)
    compose: ComposeSettings = field(default_factory=ComposeSettings)
    window: SendWindow = field(default_factory=SendWindow)
    gate: GateSettings = field(default_factory=GateSettings)
    claim_lease: timedelta = timedelta(minutes=10)
    delivery_batch: int = 500
    max_delivery_attempts: int = 5
    expire_after: timedelta = timedelta(days=3)  # a message not sent this long after its first slot is dropped
    refresh_bookings: bool = False  # YClients configured: bookings changed since the sync are read before delivery
    review: ReviewSettings = field(default_factory=ReviewSettings)  # which companies a person reviews, how often

    @classmethod
    def from_env(cls) -> RunSettings:
        return cls(
            channels=ChannelSettings.from_env(),
            compose=ComposeSettings.from_env(),
            window=SendWindow.from_env(),
            gate=GateSettings.from_env(),
            claim_lease=timedelta(seconds=float(os.environ.get("REACTIVATION_CLAIM_LEASE_SECONDS", 600))),
            delivery_batch=int(os.environ.get("REACTIVATION_DELIVERY_BATCH", 500)),
            max_delivery_attempts=int(os.environ.get("REACTIVATION_MAX_DELIVERY_ATTEMPTS", 5)),
            expire_after=timedelta(hours=float(os.environ.get("REACTIVATION_EXPIRE_AFTER_HOURS", 72))),
            refresh_bookings=bool(os.environ.get("YCLIENTS_PARTNER_TOKEN", "").strip()),
            review=ReviewSettings.from_env(),
        )

    @property
    def send_policy(self) -> SendPolicy:
        return SendPolicy(window=self.window, expire_after=self.expire_after)


@dataclass
class PlanReport:
    """What a run queued (or would queue, in a dry run)."""

    rows: list[OutboxRow] = field(default_factory=list)
    compose: ComposeStats = field(default_factory=ComposeStats)
    planned_at: datetime | None = None  # the run's clock: queueing expires unreviewed rows against it
    review_expiry_days: int = 7
    compose_seconds: float = 0.0  # wall time of composing the texts (the daily flow logs it as its own step)

    def counts(self) -> dict[str, Any]:
        treated = [r for r in self.rows if not r.is_holdout]
        return {
            "queued": len(treated),
            "holdout": len(self.rows) - len(treated),
            "by_campaign": dict(Counter(r.campaign for r in treated)),
            "by_tone": dict(Counter(r.tone for r in treated)),
            "by_variant": dict(Counter(r.variant for r in treated)),
            "by_composer": dict(Counter(r.composer for r in treated)),
            "fallbacks": dict(self.compose.fallbacks),
        }


def company_ids(wh: Warehouse, requested: list[int] | None) -> list[int]:
    """The companies a run covers: the requested ones that exist, else all companies in the warehouse."""
    known = [row[0] for row in wh.fetchall("select company_id from int_companies_as_of order by company_id")]
    if requested is None:
        return known
    missing = sorted(set(requested) - set(known))
    if missing:
        raise ValueError(f"unknown company id(s): {', '.join(map(str, missing))}")
    return [c for c in known if c in requested]


def _request(candidate: dict[str, Any]) -> MessageRequest:
    return MessageRequest(
        message_key=candidate["message_key"],
        locale=candidate["locale"] or "ru",
        tone=candidate["tone"],
        variant=candidate["variant"],
        client_name=candidate["client_name"],
        service_title=candidate["service_title"],
        company_name=candidate["company_name"],
        days_since=int(candidate["days_since"]),
        booking_url=candidate["booking_url"],
        master=name if isinstance(name := candidate.get("usual_staff_name"), str) else None,
    )


def plan(wh: Warehouse, companies: list[int], settings: RunSettings, now: datetime) -> PlanReport:
    """Build the outbox rows for the companies' candidates: text for the treated, a placeholder for the holdout.

    Review mode: a company's treated rows wait as `awaiting_review` (unscheduled) until a person approves them,
    and a weekly cadence proposes the company's batch only on its weekday (its as-of day, local).
    """
    review = settings.review
    candidates = [
        c for c in read_candidates(wh, companies)
        if review.for_company(int(c["company_id"])).proposes_on(_as_date(c["as_of_date"]))
    ]  # fmt: skip
    treated = [c for c in candidates if not c["is_holdout"]]
    composing = perf_counter()
    composed, stats = compose_messages(
        [_request(c) for c in treated], settings.compose, channel=settings.channels.channel
    )
    texts = {m.message_key: m for m in composed}
    report = PlanReport(compose=stats, planned_at=now, review_expiry_days=review.expiry_days)
    report.compose_seconds = perf_counter() - composing
    for candidate in candidates:
        key = candidate["message_key"]
        message = texts.get(key)
        holdout = bool(candidate["is_holdout"])
        reviewed = not holdout and review.for_company(int(candidate["company_id"])).required
        params = None if holdout else template_params(
            candidate, first_name(candidate["client_name"], candidate["locale"])
        )  # fmt: skip
        report.rows.append(OutboxRow(
            message_key=key,
            company_id=int(candidate["company_id"]),
            client_id=int(candidate["client_id"]),
            cycle_id=_as_date(candidate["cycle_id"]),
            attempt=int(candidate["attempt"]),
            as_of_date=_as_date(candidate["as_of_date"]),
            service_id=int(candidate["service_id"]),
            tone=candidate["tone"],
            interval_level=candidate["interval_level"],
            variant=candidate["variant"],
            is_holdout=holdout,
            channel=settings.channels.channel,
            locale=candidate["locale"],
            phone=candidate["phone"],
            message_text=None if holdout else message.text,
            template_params=review_params(params, candidate) if reviewed else params,
            prompt=None if holdout else message.prompt,
            composer=None if holdout else message.composer,
            fallback_reason=None if holdout else message.fallback_reason,
            scheduled_at=None if holdout or reviewed else schedule_send(
                now, candidate["timezone"], candidate["country"], settings.window, seed=key
            ),  # a reviewed row is scheduled when approved
            status=SUPPRESSED if holdout else AWAITING_REVIEW if reviewed else PENDING,
            created_at=now,
            updated_at=now,
            timezone=candidate["timezone"],
            country=candidate["country"],
            sms_segments=None if holdout else segments(message.text),
            predicted_segment=candidate.get("predicted_segment"),
            campaign=candidate.get("campaign") or WIN_BACK,
        ))  # fmt: skip
    return report


def _as_date(value: Any) -> date:
    return (
        value
        if isinstance(value, date) and not isinstance(value, datetime)
        else datetime.fromisoformat(str(value)).date()
    )


def queue(wh: Warehouse, report: PlanReport) -> int:
    """Expire rows nobody reviewed in time (their clients may be proposed again), then insert the new rows."""
    if report.planned_at is not None:
        expire_unreviewed(wh, report.planned_at, report.review_expiry_days)
    return enqueue(wh, report.rows)


def deliver_due(
    wh: Warehouse, settings: RunSettings, company_ids: list[int] | None = None, now: datetime | None = None
) -> DeliveryReport:
    """Send every pending message whose scheduled time has come, through the configured channel.

    `now` fixes the clock (tests, backfills); by default the real time is read at each step. `company_ids`: None
    for every company, an empty list for none.
    """
    held: list[int] = []
    if settings.refresh_bookings:  # a visit booked in the salon since the sync must reach the send-time check
        from reactivation import yclients  # only when configured: it brings httpx, tenacity and the ingest

        refresh = yclients.refresh_bookings_before_delivery(wh, company_ids, now or datetime.now(UTC))
        held = list(refresh.held)
        for company_id in held:
            log.warning("company %s: bookings too stale to trust; its messages wait for the next run", company_id)
        company_ids = refresh.deliverable(company_ids)
        if held and not company_ids:
            return DeliveryReport(held_companies=held)
    channel = make_channel(settings.channels.channel, settings.channels)
    try:
        report = deliver(
            wh,
            channel,
            now=(lambda: now) if now is not None else (lambda: datetime.now(UTC)),
            lease=settings.claim_lease,
            limit=settings.delivery_batch,
            max_delivery_attempts=settings.max_delivery_attempts,
            company_ids=company_ids,
            policy=settings.send_policy,
        )
    finally:
        channel.close()
    report.held_companies = held
    return report
