"""The durable outbox `reactivation_messages`: queue once, claim safely, re-check at the moment of sending.

Guarantees, each tested with crashes, reruns, overlapping runs and clocks set explicitly:
- a key (company, client, cycle, attempt) is inserted at most once (unique constraints; the bulk insert leaves out
  taken keys and attempts, and on PostgreSQL also skips a row a concurrent run inserted meanwhile);
- a row is claimed by one delivery run at a time (PostgreSQL: `for update skip locked`; DuckDB: one writer per
  file) with a lease that the run renews while it works through its batch;
- fencing: every state change after the claim is conditional on the claim (`claimed_by` = this run), so a run
  that lost a row to another run (its lease ran out) never sends it nor overwrites what the other run recorded;
- right before the provider call, one conditional update marks the row in flight (`send_started_at`) only if,
  at that moment, the client is not opted out (reply, staff, YClients `sms_not`), the card is not deleted and the
  client holds no booking from the as-of day on, and no other message (any campaign) reached the client within
  `min_days_between_messages` days; otherwise the row is `cancelled` with the reason. The moment must
  also lie inside the company's send window on an open day (not a closed weekday, not a public holiday):
  otherwise the row is rescheduled into the next open window with the same jitter rule, or `expired` once it is
  older than `expire_after` past its first scheduled time;
- after a crash, an expired claim that was never tried is simply claimed again; one that was in flight is re-sent
  with the same key on an idempotent channel (log, webhook: the receiver deduplicates), while on a channel
  without idempotency (WhatsApp) its outcome is unknown, so it is marked failed rather than risk a second message
  and no other run ever claims it;
- rows queued for another channel than the configured one are re-routed to it when not in flight (and failed
  as "outcome unknown" when they were in flight), so a channel change strands nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from reactivation import rules
from reactivation.channels import Channel, OutgoingMessage, mask_phone
from reactivation.schedule import SendWindow, is_sendable, schedule_send
from reactivation.warehouse import Warehouse

log = logging.getLogger("reactivation.outbox")

PENDING, SENT, FAILED, SUPPRESSED = "pending", "sent", "failed", "suppressed"
CANCELLED, EXPIRED = "cancelled", "expired"
# review mode (reactivation.review): treated rows wait for a person; approval turns them pending (then the usual
# send-time checks), a rejection or the review expiry ends them. Delivery only ever claims pending rows.
AWAITING_REVIEW, REJECTED, REVIEW_EXPIRED = "awaiting_review", "rejected", "review_expired"
# rows an opt-out or a deleted card cancels at once: queued to send, or still waiting for a reviewer
WAITING = (PENDING, AWAITING_REVIEW)
# why a message was cancelled at send time (kept in `cancel_reason`; the outcome marts read them)
OPTED_OUT, CLIENT_DELETED, BOOKED = "opted_out", "client_deleted", "booked"
FREQUENCY_CAP = "frequency_cap"  # another message reached the client within `min_days_between_messages` days
# the campaigns that queue rows (dbt var `campaigns`); a row without one is a win-back message
WIN_BACK, REBOOK = "win_back", "rebook"
UNKNOWN_OUTCOME = "outcome unknown after an interrupted run; not re-sent to avoid a duplicate"
# how a row is cancelled, wherever that happens (send time, opt-out, an ingested card): params status, reason, moment
_CANCEL_SET = "status = %s, cancel_reason = %s, updated_at = %s, claimed_by = null"
CANDIDATE_COLUMNS = [
    "message_key", "company_id", "client_id", "cycle_id", "attempt", "is_holdout", "variant", "priority_rank",
    "client_name", "phone", "service_id", "service_title", "interval_level", "days_since", "overdue_ratio", "tone",
    "company_name", "locale", "timezone", "country", "booking_url", "as_of_date",
    "last_visit_date",  # shown to a reviewer (review mode)
    "usual_staff_name",  # the client's usual master, named by templates when known (NULL when fired or unknown)
    "predicted_segment",  # the return outlook's segment: kept with the row so results split by it
    "campaign",  # win_back or rebook: kept with the row so outcomes split by it
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
    timezone: str | None = None  # the company's zone and country when queued: the send-time window check uses them
    country: str | None = None
    first_scheduled_at: datetime | None = None  # set to scheduled_at when queued; expiry counts from it
    sms_segments: int | None = None  # SMS segments the text takes (messages/sms.py), set when queued
    predicted_segment: str | None = None  # the return outlook's segment when queued: campaign results split by it
    campaign: str = WIN_BACK  # which campaign queued it (win_back | rebook): part of the key, outcomes split by it


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retry_later: int = 0
    unknown_outcome: int = 0
    cancelled: int = 0
    rescheduled: int = 0
    expired: int = 0
    lost_claims: int = 0
    rerouted: int = 0
    held_companies: list[int] = field(default_factory=list)
    blocked_companies: dict[int, str] = field(default_factory=dict)  # company → why its SMS stopped (yclients_sms)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The counts a flow reports (errors are logged, not returned: they may name keys)."""
        return {k: v for k, v in asdict(self).items() if k != "errors"}


@dataclass(frozen=True)
class SendPolicy:
    """What the moment of sending must satisfy besides the client checks: the window, and how stale is too stale."""

    window: SendWindow = field(default_factory=SendWindow)
    expire_after: timedelta = timedelta(days=3)
    # the cross-campaign frequency cap (dbt var `min_days_between_messages`), checked again when a row leaves
    min_days_between_messages: int = field(default_factory=lambda: int(rules.value("min_days_between_messages")))


def read_candidates(wh: Warehouse, company_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Due clients within the run cap of the given companies, in priority order (from `message_candidates`)."""
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
            # the usual master's name; NULL (NaN in the frame) when there is none or they were fired
            "master": master if isinstance(master := candidate.get("usual_staff_name"), str) and master else None,
        },
        ensure_ascii=False,
    )


def enqueue(wh: Warehouse, rows: list[OutboxRow]) -> int:
    """Insert rows whose key is new, in one bulk statement; an existing key (a rerun) is left as it is.

    Returns rows inserted.
    """
    seen: set[object] = set()
    unique_rows = []
    for row in rows:  # the first of rows sharing a key or an attempt, as the unique constraints would keep
        attempt = (row.company_id, row.client_id, row.cycle_id, row.attempt)
        if row.message_key not in seen and attempt not in seen:
            seen.update((row.message_key, attempt))
            unique_rows.append(row)
    rows = unique_rows
    if not rows:
        return 0
    for row in rows:
        if row.first_scheduled_at is None:
            row.first_scheduled_at = row.scheduled_at
    # a shallow read of each row: dataclasses.asdict deep-copies every value, ~0.4 ms a row (2 s for 5 000)
    columns = [column.name for column in fields(OutboxRow)]
    # object columns keep each value as given: an integer column with a gap must not turn into floats ("4.0")
    frame = pd.DataFrame([[getattr(row, c) for c in columns] for row in rows], columns=columns, dtype=object)
    column_list = ", ".join(columns)
    # rows whose key or (company, client, cycle, attempt) is taken are left out by anti-joins; PostgreSQL also
    # skips a row a concurrent run inserted meanwhile (on conflict). DuckDB's ON CONFLICT costs ~20 s for 50 000
    # rows whatever they hold (0.6 s as anti-joins), and its single writer process leaves no such race.
    insert = (
        f"insert into reactivation_messages ({column_list}) select {column_list} from _outbox_new as new"
        " where not exists (select 1 from reactivation_messages as m where m.message_key = new.message_key)"
        " and not exists (select 1 from reactivation_messages as m where m.company_id = new.company_id"
        " and m.client_id = new.client_id and m.cycle_id = new.cycle_id and m.attempt = new.attempt)"
        + (" on conflict do nothing" if wh.engine == "postgres" else "")
    )
    with wh.transaction():
        wh.load_stage("_outbox_new", frame, like="reactivation_messages")
        inserted = wh.changed_rows(insert)
        wh.execute("drop table _outbox_new")
    return inserted


# ---------- delivery


def expire_unknown_outcomes(wh: Warehouse, channel: Channel, now: datetime, lease: timedelta) -> int:
    """Rows in flight in a run whose claim ran out: on a non-idempotent channel (or one no longer configured)
    their outcome is unknown, so they are failed, never re-sent. The claim stays, so the run that still holds
    the call (a slow provider) can record the real outcome when it learns it."""
    channel_filter = "channel <> %s" if channel.idempotent else "true or channel = %s"
    return wh.changed_rows(
        "update reactivation_messages set status = %s, last_error = %s, updated_at = %s"
        f" where status = %s and send_started_at is not null and claimed_at < %s and ({channel_filter})",
        [FAILED, UNKNOWN_OUTCOME, now, PENDING, now - lease, channel.name],
    )


def reroute(wh: Warehouse, channel: Channel, now: datetime, company_ids: list[int] | None) -> int:
    """Pending rows queued for another channel, not in flight, go out through the configured one."""
    filters, params = _company_filter(company_ids)
    rerouted = wh.changed_rows(
        "update reactivation_messages set channel = %s, updated_at = %s"
        " where status = %s and channel <> %s and send_started_at is null" + filters,
        [channel.name, now, PENDING, channel.name, *params],
    )
    if rerouted:
        log.warning("re-routed %d pending message(s) to the %s channel", rerouted, channel.name)
    return rerouted


def _company_filter(company_ids: list[int] | None) -> tuple[str, list[Any]]:
    if not company_ids:
        return "", []
    return f" and company_id in ({', '.join(['%s'] * len(company_ids))})", list(company_ids)


def claim(
    wh: Warehouse,
    channel: Channel,
    run_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    company_ids: list[int] | None = None,
    exclude: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Claim up to `limit` pending rows whose time has come and that no live run holds (`exclude`: not these
    companies). A row that was in flight is claimed again only on an idempotent channel (the receiver deduplicates).
    """
    filters = ["status = %s", "channel = %s", "scheduled_at <= %s", "(claimed_at is null or claimed_at < %s)"]
    if not channel.idempotent:
        filters.append("send_started_at is null")
    company_sql, company_params = _company_filter(company_ids)
    if exclude:
        company_sql += f" and company_id not in ({', '.join(['%s'] * len(exclude))})"
        company_params += [int(c) for c in exclude]
    params: list[Any] = [PENDING, channel.name, now, now - lease, *company_params]
    lock = " for update skip locked" if wh.engine == "postgres" else ""
    with wh.transaction():
        rows = wh.query_df(
            f"update reactivation_messages set claimed_by = %s, claimed_at = %s, updated_at = %s"
            f" where message_key in (select message_key from reactivation_messages where {' and '.join(filters)}"
            f"{company_sql} order by scheduled_at, message_key limit %s{lock}) returning *",
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


# Each blocker is a predicate over the outbox row being sent, read from the runner's own tables at the moment of
# sending (never from the models, which may be a day old). The row's company, client, phone and key come in as
# parameters (`_blocker_params`, in order), not as references to the outer row: a correlated subquery inside an
# UPDATE cost DuckDB ~17 ms a message even on a small warehouse; with constants each is a filtered scan.
_BLOCKERS: dict[str, str] = {
    OPTED_OUT: """
        exists (
            select 1 from reactivation_opt_outs o
            where o.company_id = %s and o.removed_at is null
                and (o.client_id = %s or (o.phone is not null and '+' || o.phone = %s))
        )
        or exists (
            select 1 from raw_yclients_clients c
            where c.company_id = %s and c.id = %s and coalesce(c.sms_not, 0) = 1
        )""",
    CLIENT_DELETED: """
        exists (
            select 1 from raw_yclients_clients c
            where c.company_id = %s and c.id = %s and coalesce(c.deleted, false)
        )""",
    BOOKED: """
        exists (
            select 1 from raw_yclients_records r
            where r.company_id = %s and r.client_id = %s
                and not coalesce(r.deleted, false) and r.visit_at >= %s
        )""",
    # any campaign: another row to the client sent since the cut-off, or in flight right now (a concurrent run)
    FREQUENCY_CAP: f"""
        exists (
            select 1 from reactivation_messages o
            where o.company_id = %s and o.client_id = %s and o.message_key <> %s
                and ((o.status = '{SENT}' and o.sent_at >= %s) or (o.status = '{PENDING}' and o.send_started_at >= %s))
        )""",
}


def _blocker_params(row: dict[str, Any], stamp: datetime, policy: SendPolicy) -> list[Any]:
    """The blockers' parameters in `_BLOCKERS` order: the row's company, client, phone and key; BOOKED from the
    start of the row's as-of day (local time), FREQUENCY_CAP from `min_days_between_messages` days before the
    moment of sending."""
    company, client = int(row["company_id"]), int(row["client_id"])
    cap_from = stamp - timedelta(days=policy.min_days_between_messages)
    params = {
        OPTED_OUT: [company, client, row["phone"], company, client],
        CLIENT_DELETED: [company, client],
        BOOKED: [company, client, _booked_from(row)],
        FREQUENCY_CAP: [company, client, row["message_key"], cap_from, cap_from],
    }
    return [value for name in _BLOCKERS for value in params[name]]


def _booked_from(row: dict[str, Any]) -> datetime:
    """The as-of moment: a booking from the start of the as-of day on (local time) means the client is coming."""
    created = _aware(row["created_at"])
    try:
        zone = ZoneInfo(row.get("timezone") or "")
    except (ValueError, ZoneInfoNotFoundError):
        return created
    day = row["as_of_date"]
    day = day if isinstance(day, date) and not isinstance(day, datetime) else pd.Timestamp(day).date()
    return min(created, datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC))


def _mark_in_flight(wh: Warehouse, row: dict[str, Any], run_id: str, stamp: datetime, policy: SendPolicy) -> bool:
    """The fence and the send-time checks in one statement: true when this run still owns the row and no blocker
    holds, and the row is now marked in flight."""
    blockers = " or ".join(f"({sql})" for sql in _BLOCKERS.values())
    marked = wh.changed_rows(
        "update reactivation_messages as m set send_started_at = %s, claimed_at = %s"
        f" where m.message_key = %s and m.claimed_by = %s and m.status = %s and not ({blockers})",
        [stamp, stamp, row["message_key"], run_id, PENDING, *_blocker_params(row, stamp, policy)],
    )
    return marked > 0


def _blocker(wh: Warehouse, row: dict[str, Any], stamp: datetime, policy: SendPolicy) -> str | None:
    """Which send-time check refuses the row (None: none does)."""
    checks = ", ".join(f"case when {sql} then 1 else 0 end as {name}" for name, sql in _BLOCKERS.items())
    found = wh.fetchone(
        f"select {checks} from reactivation_messages as m where m.message_key = %s",
        [*_blocker_params(row, stamp, policy), row["message_key"]],
    )
    return next((name for name, hit in zip(_BLOCKERS, found or ()) if hit), None)


def _update_owned(wh: Warehouse, row: dict[str, Any], run_id: str, assignments: str, params: list[Any]) -> bool:
    """A state change conditional on the claim: false (and nothing written) when another run took the row."""
    changed = wh.changed_rows(
        f"update reactivation_messages set {assignments} where message_key = %s and claimed_by = %s",
        [*params, row["message_key"], run_id],
    )
    return changed > 0


def _outside_window(
    wh: Warehouse, row: dict[str, Any], run_id: str, stamp: datetime, policy: SendPolicy, report: DeliveryReport
) -> bool:
    """Handle a row whose moment is wrong: too old (expired) or outside the window (rescheduled). True if handled."""
    first = _aware(row.get("first_scheduled_at") or row["scheduled_at"])
    if stamp > first + policy.expire_after:
        hours = policy.expire_after.total_seconds() / 3600
        stale = f"not sent within {hours:g} h of its first scheduled time"
        if _update_owned(wh, row, run_id, "status = %s, last_error = %s, updated_at = %s, claimed_by = null",
                         [EXPIRED, stale, stamp]):  # fmt: skip
            report.expired += 1
        return True
    timezone, country = _place(wh, row)
    if is_sendable(stamp, timezone, country, policy.window):
        return False
    later = schedule_send(stamp, timezone, country, policy.window, seed=row["message_key"])
    if _update_owned(wh, row, run_id, "scheduled_at = %s, updated_at = %s, claimed_by = null, claimed_at = null",
                     [later, stamp]):  # fmt: skip
        report.rescheduled += 1
        log.info("%s is outside its send window now; rescheduled to %s", row["message_key"], later.isoformat())
    return True


def _place(wh: Warehouse, row: dict[str, Any]) -> tuple[str, str]:
    """The zone and country the row was scheduled in; rows queued before they were stored read the company's."""
    if row.get("timezone"):
        return row["timezone"], row.get("country") or ""
    found = wh.fetchone(
        "select timezone, country from raw_yclients_companies where company_id = %s", [int(row["company_id"])]
    )
    if not found or not found[0]:
        raise ValueError(f"company {row['company_id']} has no time zone: its messages cannot be timed")
    row["timezone"], row["country"] = found[0], found[1] or ""
    return row["timezone"], row["country"]


def _deliver_one(
    wh: Warehouse,
    channel: Channel,
    row: dict[str, Any],
    run_id: str,
    stamp: datetime,
    max_attempts: int,
    policy: SendPolicy,
    report: DeliveryReport,
) -> None:
    if _outside_window(wh, row, run_id, stamp, policy, report):
        return
    # marks the row as in flight: after a crash this tells "maybe sent" from "claimed but never tried"
    if not _mark_in_flight(wh, row, run_id, stamp, policy):
        reason = _blocker(wh, row, stamp, policy)
        if reason is None:  # another run took it: not ours to send or record
            report.lost_claims += 1
            return
        if _update_owned(wh, row, run_id, _CANCEL_SET, [CANCELLED, reason, stamp]):
            report.cancelled += 1
            log.info("cancelled %s at send time: %s", row["message_key"], reason)
        return
    result = channel.send(_outgoing(row))
    attempts = int(row["attempts"] or 0) + 1
    if result.accepted:
        # recorded even if the lease ran out meanwhile (the truth beats "outcome unknown"), but only by this run
        _update_owned(
            wh, row, run_id,
            "status = %s, provider_message_id = %s, attempts = %s, sent_at = %s, updated_at = %s, last_error = null,"
            " claimed_by = null, send_started_at = null",
            [SENT, result.provider_message_id, attempts, stamp, stamp],
        )  # fmt: skip
        report.sent += 1
        log.info("sent %s to %s via %s", row["message_key"], mask_phone(row["phone"]), channel.name)
        return
    give_up = not result.retryable or attempts >= max_attempts
    # a row to retry keeps its claim time, so it waits out the lease instead of looping within this run
    _update_owned(
        wh, row, run_id,
        "status = %s, attempts = %s, last_error = %s, updated_at = %s, claimed_by = null, send_started_at = null",
        [FAILED if give_up else PENDING, attempts, result.error, stamp],
    )  # fmt: skip
    report.failed += give_up
    report.retry_later += not give_up
    report.errors.append(f"{row['message_key']}: {result.error}")
    log.warning("not sent %s to %s: %s", row["message_key"], mask_phone(row["phone"]), result.error)


def _renew(wh: Warehouse, run_id: str, now: datetime) -> None:
    """Keep this run's untried rows claimed while it works: a long batch does not fall to a second run."""
    wh.execute(
        "update reactivation_messages set claimed_at = %s where claimed_by = %s and status = %s"
        " and send_started_at is null",
        [now, run_id, PENDING],
    )


def _release(wh: Warehouse, run_id: str) -> None:
    """Hand back this run's claimed rows that were not tried (a fatal channel error stopped the run)."""
    wh.execute(
        "update reactivation_messages set claimed_by = null, claimed_at = null"
        " where claimed_by = %s and status = %s and send_started_at is null",
        [run_id, PENDING],
    )


def deliver(
    wh: Warehouse,
    channel: Channel,
    now: Callable[[], datetime],
    lease: timedelta = timedelta(minutes=10),
    limit: int = 500,
    max_delivery_attempts: int = 5,
    company_ids: list[int] | None = None,
    policy: SendPolicy | None = None,
) -> DeliveryReport:
    """Send what is due: claim a batch, re-check and send one by one, record each outcome as soon as it is known.

    Small batches keep claims short, so concurrent runs share the work and a crash strands few rows; the run
    renews its claim on the rest of its batch whenever a third of the lease has passed since the last renewal,
    so no untried row of a working run ever looks abandoned.
    """
    policy = policy or SendPolicy()
    run_id = uuid.uuid4().hex
    report = DeliveryReport()
    if company_ids is not None and not company_ids:  # no company may send (all held): nothing to do
        return report
    report.unknown_outcome = expire_unknown_outcomes(wh, channel, now(), lease)
    report.rerouted = reroute(wh, channel, now(), company_ids)
    # yclients_sms: a company whose SMS balance ran out (or SMS service is off) sends nothing more this run: its
    # rows are no longer claimed, those already claimed are skipped and released untouched (still pending) at the end
    blocked: dict[int, str] = getattr(channel, "blocked_companies", {})
    while True:
        renewed_at = now()  # the claim stamps its rows with this moment
        rows = claim(wh, channel, run_id, renewed_at, lease, limit, company_ids, exclude=list(blocked))
        if not rows:
            break
        report.claimed += len(rows)
        for row in rows:
            if int(row["company_id"]) in blocked:
                continue
            stamp = now()
            if stamp - renewed_at >= lease / 3:
                _renew(wh, run_id, stamp)
                renewed_at = stamp
            _deliver_one(wh, channel, row, run_id, stamp, max_delivery_attempts, policy, report)
            if getattr(channel, "fatal_error", None):
                report.errors.append(f"stopped: {channel.fatal_error}")
                _release(wh, run_id)
                return report
    if stopped := getattr(channel, "blocked_companies", None):  # (yclients_sms) hand their rows back, report them
        _release(wh, run_id)
        report.blocked_companies = dict(stopped)
    return report


def cancel_pending(
    wh: Warehouse, company_id: int, reason: str, now: datetime, client_id: int | None = None, phone: str | None = None
) -> int:
    """Cancel a client's waiting (pending or awaiting review), not-in-flight messages, matched by client id or
    normalised phone digits.

    Called in the same transaction that records an opt-out or a deletion, so it takes effect at once.
    """
    matches, params = [], []
    if client_id is not None:
        matches.append("client_id = %s")
        params.append(client_id)
    if phone:
        matches.append("phone = %s")
        params.append("+" + phone.lstrip("+"))
    if not matches:
        return 0
    return wh.changed_rows(
        f"update reactivation_messages set {_CANCEL_SET}"
        f" where company_id = %s and status in (%s, %s) and send_started_at is null and ({' or '.join(matches)})",
        [CANCELLED, reason, now, company_id, *WAITING, *params],
    )


def _aware(moment: Any) -> datetime:
    value = pd.Timestamp(moment).to_pydatetime()
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def cancel_for_cards_of_batch(wh: Warehouse, batch_id: int, now: datetime) -> int:
    """Cancel waiting messages of clients whose card, as loaded in this ingest batch, opts out of SMS or is deleted.

    Runs inside the ingest transaction, so a `sms_not` or a deletion seen by a sync takes effect with the load.
    """
    cancelled = 0
    for reason, condition in (
        (OPTED_OUT, "coalesce(c.sms_not, 0) = 1"),
        (CLIENT_DELETED, "coalesce(c.deleted, false)"),
    ):
        cancelled += wh.changed_rows(
            f"update reactivation_messages set {_CANCEL_SET}"
            " where status in (%s, %s) and send_started_at is null and exists (select 1 from raw_yclients_clients c"
            " where c.company_id = reactivation_messages.company_id and c.id = reactivation_messages.client_id"
            f" and c._batch_id = %s and {condition})",
            [CANCELLED, reason, now, *WAITING, batch_id],
        )
    return cancelled
