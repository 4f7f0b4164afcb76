"""Retention: personal data older than `retention_days` (90) is anonymised; counts and outcomes stay.

- Outbox rows created before the cut-off lose their message text, prompt, template parameters and phone;
  opt-outs recorded before it lose the reply text (the phone or client id that protects the client stays).
- Clients who can no longer be reactivated (no visit within the dbt var `lost_after_days`, 365, and not due in
  the last refresh) and whose last activity (record or message) is older than the cut-off lose name and phone in
  the raw client cards and in the client object of their records (columns and JSON payload). Ids, dates,
  attendance and costs stay, so every model and outcome is unchanged. Idempotent: anonymised rows carry
  `anonymised_at` and are skipped; ingest keeps them anonymised when the same source is read again.
- Set-based: the stale clients are chosen by one query, then each table gets one `update … from` them, the JSON
  payloads scrubbed in SQL (`reactivation.privacy.scrub_payload_sql`).
- Anonymising rewrites raw rows, so it is an ingest batch of its own (source `retention`): the cards and records it
  scrubs get its `_batch_id`, and every incremental model re-reads them. The records' service lines hold no
  personal data and stay as ingest wrote them: every model finds a changed record's lines through the record
  (their own `_batch_id` drives nothing), and rewriting them was a third of the first run's time on PostgreSQL.
  `run_retention` (`reactivation retention`) refreshes `int_client_contacts` (the one model that keeps names and
  phones of clients who are not due) right after, so no copy outlives the retention step; the daily flow runs
  `anonymise` just before its refresh instead, whose one dbt build re-reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from reactivation import dbt, rules
from reactivation.ingest import close_batch, register_batch
from reactivation.privacy import CARD_KEYS, CLIENT_KEYS, scrub_payload_sql
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

CONTACT_MODELS = ("int_client_contacts",)  # materialised models holding names/phones of clients who are not due


@dataclass(frozen=True)
class RetentionSettings:
    """How long personal data stays; `lost_after_days` is the dbt var as `reactivation.rules` reads it."""

    retention_days: int = 90
    lost_after_days: int = field(default_factory=lambda: rules.current().lost_after_days)

    @classmethod
    def from_env(cls) -> RetentionSettings:
        """`REACTIVATION_RETENTION_DAYS`; `lost_after_days` is the dbt var (`REACTIVATION_DBT_VARS` or its default)."""
        return cls(retention_days=int(os.environ.get("REACTIVATION_RETENTION_DAYS", cls.retention_days)))


@dataclass
class RetentionReport:
    messages: int = 0
    clients: int = 0
    records: int = 0
    opt_out_texts: int = 0


def _select_stale_clients(wh: Warehouse) -> str:
    """(company, client) pairs, from cards or records, beyond reactivation and without activity since the cut-off.

    Parameters: cut-off, lost-before, cut-off. A client the last refresh still found due is not lost yet (the
    model counts days in the company's calendar, this query in instants: at the boundary day they may disagree).
    """
    not_due = (
        "and not exists (select 1 from due_clients where due_clients.company_id = known.company_id"
        " and due_clients.client_id = known.client_id)"
        if wh.table_exists("due_clients")
        else ""
    )
    return f"""
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
            {not_due}
    """


def apply_retention(wh: Warehouse, settings: RetentionSettings, now: datetime | None = None) -> RetentionReport:
    """Anonymise what is past retention, in one transaction, one statement per table."""
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
            " phone = null, review_note = null, anonymised_at = %s where created_at < %s and anonymised_at is null",
            [now, cutoff],
        )
        report.opt_out_texts = wh.fetchone(
            "select count(*) from reactivation_opt_outs where created_at < %s and message_text is not null", [cutoff]
        )[0]
        wh.execute(
            "update reactivation_opt_outs set message_text = null where created_at < %s and message_text is not null",
            [cutoff],
        )
        wh.execute("drop table if exists _retention_stale")
        wh.execute("create temp table _retention_stale (company_id bigint not null, client_id bigint not null)")
        wh.execute(
            f"insert into _retention_stale (company_id, client_id) {_select_stale_clients(wh)}",
            [cutoff, lost_before, cutoff],
        )
        report.clients = wh.fetchone("select count(*) from _retention_stale")[0]
        if report.clients:  # only a run that anonymises a client opens a batch
            batch_id = register_batch(wh, "retention", now)
            _anonymise_stale(wh, batch_id, now)
            report.records = wh.fetchone("select count(*) from raw_yclients_records where _batch_id = %s", [batch_id])[
                0
            ]
            close_batch(wh, batch_id, {"anonymised": {"clients": report.clients, "records": report.records}})
        wh.execute("drop table if exists _retention_stale")
    return report


def _anonymise_stale(wh: Warehouse, batch_id: int, now: datetime) -> None:
    """Cards and records of the clients in `_retention_stale`: one update each."""
    card_payload = scrub_payload_sql(wh.engine, "payload", CARD_KEYS, CLIENT_KEYS)
    record_payload = scrub_payload_sql(wh.engine, "payload", (), CLIENT_KEYS)
    wh.execute(
        f"update raw_yclients_clients set name = null, phone = null, payload = {card_payload}, anonymised_at = %s,"
        " _batch_id = %s from _retention_stale"
        " where raw_yclients_clients.company_id = _retention_stale.company_id"
        " and raw_yclients_clients.id = _retention_stale.client_id and raw_yclients_clients.anonymised_at is null",
        [now, batch_id],
    )
    wh.execute(
        f"update raw_yclients_records set client_name = null, client_phone = null, payload = {record_payload},"
        " anonymised_at = %s, _batch_id = %s from _retention_stale"
        " where raw_yclients_records.company_id = _retention_stale.company_id"
        " and raw_yclients_records.client_id = _retention_stale.client_id"
        " and raw_yclients_records.anonymised_at is null",
        [now, batch_id],
    )


def refresh_contacts(settings: Settings) -> None:
    """Re-read retention's batch into the models that keep names and phones (incremental: only that batch)."""
    with Warehouse.connect(settings) as wh:
        built = [model for model in CONTACT_MODELS if wh.table_exists(model)]
    if built:  # a model not built yet is built from scrubbed rows by the first refresh
        dbt.run_dbt(["run", "--select", *built], settings, dbt.dbt_vars())


def run_retention(settings: Settings, retention: RetentionSettings, now: datetime | None = None) -> RetentionReport:
    """The retention step: anonymise the raw and runner tables, then refresh the contact model, so none keeps a copy.

    A crash between the two leaves the copy only until the next refresh (every refresh re-reads the batch). A day
    that anonymises no client opens no batch and leaves the contact model as the day's refresh built it: no dbt run.
    """
    report = anonymise(settings, retention, now)
    if report.clients:
        refresh_contacts(settings)
    return report


def anonymise(settings: Settings, retention: RetentionSettings, now: datetime | None = None) -> RetentionReport:
    """Anonymise what is past retention, on a warehouse that may not have the runner's tables yet; no dbt run.

    The daily flow calls this just before its refresh, whose dbt build re-reads the batch into the contact model.
    """
    with Warehouse.connect(settings) as wh:
        wh.ensure_tables()
        return apply_retention(wh, retention, now)
