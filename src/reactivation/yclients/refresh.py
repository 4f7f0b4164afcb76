"""Bookings read right before delivery, so a visit booked or cancelled in the salon an hour ago is seen at send time.

For each company with messages due, the records changed since its last sync are read (the sync's own incremental
path and request budget) and loaded. When that read fails, the company's messages wait for this run unless its
last complete read is recent enough (`REACTIVATION_BOOKINGS_STALENESS_MINUTES`, 120 by default). A company
without a changes cursor is fed by file ingest and relies on its latest ingest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reactivation.outbox import PENDING
from reactivation.warehouse import Warehouse
from reactivation.yclients.client import YClientsClient, YClientsError
from reactivation.yclients.config import YClientsConfigError, YClientsSettings
from reactivation.yclients.sync import READ, RECORDS, SyncReport, _cursor, _RecordsRun, _zone

logger = logging.getLogger("reactivation.yclients")


@dataclass
class BookingsRefresh:
    """Which companies with messages due had their bookings read, which are held, and why."""

    due: list[int] = field(default_factory=list)  # companies with pending messages whose time has come
    read: list[int] = field(default_factory=list)  # their changes were read and loaded
    file_fed: list[int] = field(default_factory=list)  # no YClients cursor: their latest ingest stands
    held: list[int] = field(default_factory=list)  # the read failed and the last complete one is too old
    errors: dict[int, str] = field(default_factory=dict)  # company → why its read failed (held or not)

    def deliverable(self, company_ids: list[int] | None) -> list[int] | None:
        """The companies delivery may send for: `company_ids` (None: all) without the held ones."""
        if not self.held:
            return company_ids
        return [c for c in (self.due if company_ids is None else company_ids) if c not in self.held]


def refresh_bookings_before_delivery(
    wh: Warehouse,
    company_ids: list[int] | None,
    now: datetime,
    *,
    client: YClientsClient | None = None,
) -> BookingsRefresh:
    """Read and load the records changed since the last sync of each company (of `company_ids`, None: all) that has
    messages due at `now`; hold a company whose read failed and whose last complete read is older than allowed."""
    wh.ensure_tables()
    refresh = BookingsRefresh(due=_companies_due(wh, company_ids, now))
    marks = {c: mark for c in refresh.due if (mark := _cursor(wh, c, RECORDS)) is not None}
    refresh.file_fed = [c for c in refresh.due if c not in marks]
    if not marks:
        return refresh
    settings = client.settings if client is not None else YClientsSettings.from_env()
    api, failure = client, ""
    if api is None:
        try:
            api = YClientsClient(settings)
        except YClientsConfigError as exc:  # e.g. no user token: nothing can be read, staleness decides
            failure = str(exc)
    try:
        for company_id, mark in marks.items():
            error = failure if api is None else _read_changes(wh, api, company_id, datetime.fromisoformat(mark))
            if error is None:
                refresh.read.append(company_id)
                continue
            refresh.errors[company_id] = error
            last = _last_read(wh, company_id)
            if last is None or now - last > timedelta(minutes=settings.bookings_staleness_minutes):
                refresh.held.append(company_id)
                logger.error(
                    "YClients company %s: bookings not read before delivery (%s), last complete read %s;"
                    " its messages are held",
                    company_id,
                    error,
                    last.isoformat() if last else "never",
                )
            else:
                logger.warning(
                    "YClients company %s: bookings not read before delivery (%s); the read of %s is recent enough",
                    company_id,
                    error,
                    last.isoformat(),
                )
    finally:
        if client is None and api is not None:
            api.close()
    return refresh


def _companies_due(wh: Warehouse, company_ids: list[int] | None, now: datetime) -> list[int]:
    sql = "select distinct company_id from reactivation_messages where status = %s and scheduled_at <= %s"
    params: list[object] = [PENDING, now]
    if company_ids is not None:
        if not company_ids:
            return []
        sql += f" and company_id in ({', '.join(['%s'] * len(company_ids))})"
        params += company_ids
    return sorted(int(c) for (c,) in wh.fetchall(sql, params))


def _read_changes(wh: Warehouse, client: YClientsClient, company_id: int, mark: datetime) -> str | None:
    """The sync's changes read for one company; None when it completed, else why not."""
    row = wh.fetchone("select timezone from raw_yclients_companies where company_id = %s", [company_id])
    report = SyncReport(company_id)
    run = _RecordsRun(wh, client, company_id, report, None)
    try:
        run.changes(mark, _zone(row[0] if row else None))
    except Exception as exc:  # any failure counts as an unread company, never as a failed delivery run
        return str(exc) if isinstance(exc, YClientsError) else f"{type(exc).__name__}: {exc}"
    if report.skipped_pages:
        return f"{len(report.skipped_pages)} malformed page(s) skipped"
    logger.info("YClients company %s: %d booking change(s) read before delivery", company_id, report.records)
    return None


def _last_read(wh: Warehouse, company_id: int) -> datetime | None:
    """When the last complete records read began (before `records_read` existed: when the changes mark moved)."""
    read = _cursor(wh, company_id, READ)
    if read is not None:
        return datetime.fromisoformat(read)
    row = wh.fetchone(
        "select updated_at from raw_sync_cursors where company_id = %s and entity = %s", [company_id, RECORDS]
    )
    return row[0] if row else None
