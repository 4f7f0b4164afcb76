"""Retention: personal data older than `retention_days` (90) is anonymised; counts and outcomes stay.

- Outbox rows created before the cut-off lose their message text, prompt, template parameters and phone.
- Clients who can no longer be reactivated (no visit within `lost_after_days`, 365) and whose last activity
  (record or message) is older than the cut-off lose name and phone in the raw client cards and in the client
  object of their records (columns and JSON payload). Ids, dates, attendance and costs stay, so every model and
  outcome is unchanged. Idempotent: anonymised rows carry `anonymised_at` and are skipped.
- Anonymising rewrites raw rows, so it is an ingest batch of its own (source `retention`): the cards and records it
  scrubs (and the records' service lines, which always carry their record's batch) get its `_batch_id`, and every
  incremental model re-reads them instead of keeping the old name and phone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reactivation.ingest import close_batch, register_batch
from reactivation.warehouse import Warehouse

ANONYMOUS = None


@dataclass(frozen=True)
class RetentionSettings:
    retention_days: int = 90
    lost_after_days: int = 365

    @classmethod
    def from_env(cls) -> RetentionSettings:
        return cls(retention_days=int(os.environ.get("REACTIVATION_RETENTION_DAYS", cls.retention_days)))


@dataclass
class RetentionReport:
    messages: int = 0
    clients: int = 0
    records: int = 0


def _stale_clients(wh: Warehouse, cutoff: datetime, lost_before: datetime) -> list[tuple[int, int]]:
    """(company, client) pairs, from cards or records, beyond reactivation and without activity since the cut-off."""
    return wh.fetchall(
        """
        with activity as (
            select company_id, client_id, max(coalesce(last_change_at, visit_at)) as last_seen,
                   max(case when attendance = 1 and not coalesce(deleted, false) then visit_at end) as last_visit,
                   bool_and(anonymised_at is not null) as is_anonymised
            from raw_yclients_records where client_id is not null group by company_id, client_id
        ),
        cards as (
            select company_id, id as client_id, _loaded_at, anonymised_at is not null as is_anonymised
            from raw_yclients_clients
        ),
        messaged as (
            select company_id, client_id, max(created_at) as last_message
            from reactivation_messages group by company_id, client_id
        ),
        known as (
            select company_id, client_id from cards
            union
            select company_id, client_id from activity
        )
        select known.company_id, known.client_id
        from known
        left join cards on cards.company_id = known.company_id and cards.client_id = known.client_id
        left join activity on activity.company_id = known.company_id and activity.client_id = known.client_id
        left join messaged on messaged.company_id = known.company_id and messaged.client_id = known.client_id
        where not (coalesce(cards.is_anonymised, true) and coalesce(activity.is_anonymised, true))
            and coalesce(activity.last_seen, cards._loaded_at) < %s
            and (activity.last_visit is null or activity.last_visit < %s)
            and (messaged.last_message is null or messaged.last_message < %s)
        order by known.company_id, known.client_id
        """,
        [cutoff, lost_before, cutoff],
    )


def _scrub(payload: object, keys: tuple[str, ...]) -> str:
    data = payload if isinstance(payload, dict) else json.loads(payload)
    for key in keys:
        if key in data:
            data[key] = ANONYMOUS
    client = data.get("client")
    if isinstance(client, dict):
        for key in ("name", "phone"):
            if key in client:
                client[key] = ANONYMOUS
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def apply_retention(wh: Warehouse, settings: RetentionSettings, now: datetime | None = None) -> RetentionReport:
    """Anonymise what is past retention, in one transaction."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.retention_days)
    lost_before = now - timedelta(days=settings.lost_after_days)
    report = RetentionReport()
    with wh.transaction():
        report.messages = wh.fetchone(
            "select count(*) from reactivation_messages where created_at < %s and anonymised_at is null", [cutoff]
        )[0]
        wh.execute(
            "update reactivation_messages set message_text = null, prompt = null, template_params = null,"
            " phone = null, anonymised_at = %s where created_at < %s and anonymised_at is null",
            [now, cutoff],
        )
        batch_id = None
        for company_id, client_id in _stale_clients(wh, cutoff, lost_before):
            report.clients += 1
            if batch_id is None:  # only a run that anonymises a client opens a batch
                batch_id = register_batch(wh, "retention", now)
            card = wh.fetchone(
                "select payload from raw_yclients_clients where company_id = %s and id = %s and anonymised_at is null",
                [company_id, client_id],
            )
            if card is not None:
                wh.execute(
                    "update raw_yclients_clients set name = null, phone = null, payload = %s, anonymised_at = %s,"
                    " _batch_id = %s where company_id = %s and id = %s",
                    [_scrub(card[0], ("name", "phone")), now, batch_id, company_id, client_id],
                )
            for record_id, payload in wh.fetchall(
                "select id, payload from raw_yclients_records where company_id = %s and client_id = %s"
                " and anonymised_at is null",
                [company_id, client_id],
            ):
                report.records += 1
                wh.execute(
                    "update raw_yclients_records set client_name = null, client_phone = null, payload = %s,"
                    " anonymised_at = %s, _batch_id = %s where company_id = %s and id = %s",
                    [_scrub(payload, ()), now, batch_id, company_id, record_id],
                )
                wh.execute(
                    "update raw_yclients_record_services set _batch_id = %s where company_id = %s and record_id = %s",
                    [batch_id, company_id, record_id],
                )
        if batch_id is not None:
            close_batch(wh, batch_id, {"anonymised": {"clients": report.clients, "records": report.records}})
    return report
