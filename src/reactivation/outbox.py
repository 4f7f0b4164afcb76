"""The durable outbox `reactivation_messages`: queue once, claim safely, mark sent only after the provider accepted.

Guarantees, each tested with crashes, reruns and concurrent runs:
- a key (company, client, cycle, attempt) is inserted at most once (unique constraints, `on conflict do nothing`);
- a row is claimed by one delivery run at a time (PostgreSQL: `for update skip locked`; DuckDB: one writer per
  file) with a lease; a run that dies leaves its claim to expire;
- a row is marked in flight (`send_started_at`) just before the provider call; after a crash, an expired claim
  that was never tried is simply claimed again; one that was in flight is re-sent with the same key on an
  idempotent channel (log, webhook: the receiver deduplicates), while on a channel without idempotency
  (WhatsApp) its outcome is unknown, so it is marked failed rather than risk a second message.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from reactivation.channels import Channel, OutgoingMessage, mask_phone
from reactivation.warehouse import Warehouse

log = logging.getLogger("reactivation.outbox")

PENDING, SENT, FAILED, SUPPRESSED = "pending", "sent", "failed", "suppressed"
CANDIDATE_COLUMNS = [
    "message_key", "company_id", "client_id", "cycle_id", "attempt", "is_holdout", "variant", "priority_rank",
    "client_name", "phone", "service_id", "service_title", "interval_level", "days_since", "overdue_ratio", "tone",
    "company_name", "locale", "timezone", "country", "booking_url", "as_of_date",
]  # fmt: skip


@dataclass
class OutboxRow:
    """One message (or holdout placeholder) as stored in the outbox."""

    message_key: str
    company_id: int
    client_id: int
    cycle_id: date
    attempt: int
    as_of_date: date
    service_id: int | None
    tone: str
    interval_level: str
    variant: str
    is_holdout: bool
    channel: str
    locale: str
    phone: str
    message_text: str | None
    template_params: str | None
    prompt: str | None
    composer: str | None
    fallback_reason: str | None
    scheduled_at: datetime | None
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retry_later: int = 0
    unknown_outcome: int = 0
    errors: list[str] = field(default_factory=list)


def read_candidates(wh: Warehouse, company_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Due clients within the run cap of the given companies, most overdue first (from `message_candidates`)."""
    ids = list(company_ids)
    if not ids:
        return []
    marks = ", ".join(["%s"] * len(ids))
    frame = wh.query_df(
        f"select {', '.join(CANDIDATE_COLUMNS)} from message_candidates"
        f" where is_within_run_cap and company_id in ({marks}) order by company_id, priority_rank",
        ids,
    )
    return frame.to_dict("records")


def template_params(candidate: dict[str, Any], first_name: str) -> str:
    """Parameters a provider template (WhatsApp) needs, kept with the row so delivery needs no other table."""
    return json.dumps(
        {
            "client_first_name": first_name,
            "service_title": candidate.get("service_title") or "",
            "company_name": candidate["company_name"],
            "booking_url": candidate.get("booking_url"),
        },
        ensure_ascii=False,
    )


def enqueue(wh: Warehouse, rows: list[OutboxRow]) -> int:
    """Insert rows whose key is new; an existing key (a rerun) is left as it is. Returns rows inserted."""
    if not rows:
        return 0
    columns = list(asdict(rows[0]).keys())
    before = wh.fetchone("select count(*) from reactivation_messages")[0]
    sql = (
        f"insert into reactivation_messages ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))})"
        " on conflict do nothing"
    )
    with wh.transaction():
        for row in rows:
            wh.execute(sql, list(asdict(row).values()))
    return wh.fetchone("select count(*) from reactivation_messages")[0] - before


def expire_unknown_outcomes(wh: Warehouse, channel: Channel, now: datetime, lease: timedelta) -> int:
    """Rows claimed by a run that died: on a non-idempotent channel they are failed, never re-sent."""
    if channel.idempotent:
        return 0
    stale = wh.fetchall(
        "select message_key from reactivation_messages where status = %s and channel = %s"
        " and send_started_at is not null and claimed_at < %s",
        [PENDING, channel.name, now - lease],
    )
    for (key,) in stale:
        wh.execute(
            "update reactivation_messages set status = %s, last_error = %s, updated_at = %s, claimed_by = null,"
            " send_started_at = null where message_key = %s and status = %s",
            [FAILED, "outcome unknown after an interrupted run; not re-sent to avoid a duplicate", now, key, PENDING],
        )
    return len(stale)


def claim(
    wh: Warehouse,
    channel_name: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    company_ids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Claim up to `limit` pending rows whose time has come and that no live run holds."""
    run_id = uuid.uuid4().hex
    filters = ["status = %s", "channel = %s", "scheduled_at <= %s", "(claimed_at is null or claimed_at < %s)"]
    params: list[Any] = [PENDING, channel_name, now, now - lease]
    if company_ids:
        filters.append(f"company_id in ({', '.join(['%s'] * len(company_ids))})")
        params += company_ids
    lock = " for update skip locked" if wh.engine == "postgres" else ""
    with wh.transaction():
        rows = wh.query_df(
            f"update reactivation_messages set claimed_by = %s, claimed_at = %s, updated_at = %s"
            f" where message_key in (select message_key from reactivation_messages where {' and '.join(filters)}"
            f" order by scheduled_at, message_key limit %s{lock}) returning *",
            [run_id, now, now, *params, limit],
        )
    return rows.sort_values(["scheduled_at", "message_key"]).to_dict("records") if len(rows) else []


def _outgoing(row: dict[str, Any]) -> OutgoingMessage:
    params = json.loads(row["template_params"] or "{}")
    return OutgoingMessage(
        message_key=row["message_key"],
        company_id=int(row["company_id"]),
        client_id=int(row["client_id"]),
        phone=row["phone"],
        text=row["message_text"] or "",
        locale=row["locale"] or "ru",
        tone=row["tone"],
        client_first_name=params.get("client_first_name") or "",
        service_title=params.get("service_title") or "",
        company_name=params.get("company_name") or "",
        booking_url=params.get("booking_url"),
    )


def _deliver_one(
    wh: Warehouse, channel: Channel, row: dict[str, Any], stamp: datetime, max_attempts: int, report: DeliveryReport
) -> None:
    # marks the row as in flight: after a crash this tells "maybe sent" from "claimed but never tried"
    wh.execute(
        "update reactivation_messages set send_started_at = %s where message_key = %s", [stamp, row["message_key"]]
    )
    result = channel.send(_outgoing(row))
    attempts = int(row["attempts"] or 0) + 1
    if result.accepted:
        wh.execute(
            "update reactivation_messages set status = %s, provider_message_id = %s, attempts = %s, sent_at = %s,"
            " updated_at = %s, last_error = null, claimed_by = null, send_started_at = null where message_key = %s",
            [SENT, result.provider_message_id, attempts, stamp, stamp, row["message_key"]],
        )
        report.sent += 1
        log.info("sent %s to %s via %s", row["message_key"], mask_phone(row["phone"]), channel.name)
        return
    give_up = not result.retryable or attempts >= max_attempts
    # a row to retry keeps its claim time, so it waits out the lease instead of looping within this run
    wh.execute(
        "update reactivation_messages set status = %s, attempts = %s, last_error = %s, updated_at = %s,"
        " claimed_by = null, send_started_at = null where message_key = %s",
        [FAILED if give_up else PENDING, attempts, result.error, stamp, row["message_key"]],
    )
    report.failed += give_up
    report.retry_later += not give_up
    report.errors.append(f"{row['message_key']}: {result.error}")
    log.warning("not sent %s to %s: %s", row["message_key"], mask_phone(row["phone"]), result.error)


def _release(wh: Warehouse, keys: list[str]) -> None:
    """Hand back claimed rows that were not tried (a fatal channel error stopped the run)."""
    for key in keys:
        wh.execute(
            "update reactivation_messages set claimed_by = null, claimed_at = null"
            " where message_key = %s and status = %s",
            [key, PENDING],
        )


def deliver(
    wh: Warehouse,
    channel: Channel,
    now: Callable[[], datetime],
    lease: timedelta = timedelta(minutes=10),
    limit: int = 500,
    max_delivery_attempts: int = 5,
    company_ids: list[int] | None = None,
) -> DeliveryReport:
    """Send what is due: claim a batch, send one by one, record each outcome as soon as it is known; repeat.

    Small batches keep claims short, so concurrent runs share the work and a crash strands few rows.
    """
    report = DeliveryReport()
    report.unknown_outcome = expire_unknown_outcomes(wh, channel, now(), lease)
    while rows := claim(wh, channel.name, now(), lease, limit, company_ids):
        report.claimed += len(rows)
        for row in rows:
            _deliver_one(wh, channel, row, now(), max_delivery_attempts, report)
            if getattr(channel, "fatal_error", None):
                report.errors.append(f"stopped: {channel.fatal_error}")
                _release(wh, [r["message_key"] for r in rows])
                return report
    return report
