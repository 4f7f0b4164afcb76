"""Keep the raw tables in step with YClients: a resumable backfill once, then only what changed.

Per company and run:

- the company, its services (with category titles), its staff and its clients are read in full and loaded as one
  batch (a staff list YClients refuses or garbles is logged and skipped: the masters are only a nicety of the text);
- first run (no `records` cursor, or `full`): the booking history from `since` (10 years back by default) to a
  year ahead is read in date chunks of `backfill_chunk_days`, page by page. Each page is its own ingest batch;
  the `records_backfill` cursor (end date of the last finished chunk) moves inside the batch of a chunk's last
  page, so a run killed half way resumes at the unfinished chunk (re-reading it is harmless: loading the same
  record twice changes nothing). The last chunk also sets the `records` high-water mark: the newest
  `last_change_date` loaded, taken from the data, never from the clock;
- later runs read records changed after the high-water mark minus `overlap_minutes`, and move the mark in the
  batch of the last page.

The changes mark never passes the moment its read began, so a record stamped far in the future cannot freeze it;
that moment is also kept (`records_read`) as the time of the last complete read, which delivery uses to judge
how fresh a company's bookings are.

A page still malformed after its retries is logged with its URL, stored as a reject and skipped; from then on
the run leaves the records cursors where they were, so the next run reads that page again.

YClients' client list leaves deleted clients out. After a complete read of it, a client it lacks is marked deleted
in `raw_yclients_clients` (a card with `deleted = true`, even for a client known only from records), so no record
revives them; a partial or failed read marks nobody.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from reactivation.ingest import DEFAULT_TIMEZONE, Reject, ingest, sources_from_objects
from reactivation.warehouse import Warehouse
from reactivation.yclients.client import MalformedPage, Page, YClientsAuthError, YClientsClient, YClientsError
from reactivation.yclients.config import YClientsConfigError, YClientsSettings
from reactivation.yclients.mapping import client_object, company_object, record_object, service_objects, staff_object

logger = logging.getLogger("reactivation.yclients")

RECORDS = "records"  # cursor: ISO instant of the newest last_change_date loaded
BACKFILL = "records_backfill"  # cursor: end date (YYYY-MM-DD) of the last backfill chunk fully loaded
READ = "records_read"  # cursor: ISO instant at which the last complete records read began
HISTORY_DAYS = 3652  # default backfill start: ten years back
FUTURE_DAYS = 365  # bookings this far ahead are read too


@dataclass(frozen=True)
class SyncProgress:
    """Where one company's records sync stands: `done` of `total` chunks (backfill) or pages (changes)."""

    company_id: int
    stage: str  # "backfill" or "changes"
    done: int
    total: int | None
    pages: int  # record pages committed so far in this run


ProgressCallback = Callable[[SyncProgress], None]


@dataclass
class SyncReport:
    """What one company's sync did; `skipped_pages` names the malformed pages left for the next run."""

    company_id: int
    mode: str = "incremental"
    pages: int = 0
    records: int = 0
    clients: int = 0
    services: int = 0
    staff: int = 0
    deleted_clients: int = 0  # clients the complete client list no longer has, marked deleted in this run
    skipped_pages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cursor: str | None = None
    error: str | None = None

    def summary(self) -> str:
        if self.error:
            return f"company {self.company_id}: failed: {self.error}"
        text = (
            f"company {self.company_id}: {self.mode}, {self.pages} record page(s), {self.records} record(s), "
            f"{self.clients} client(s), {self.services} service(s); changes read up to {self.cursor or '-'}"
        )
        if self.deleted_clients:
            text += f"; {self.deleted_clients} client(s) gone from the client list marked deleted"
        if self.skipped_pages:
            text += f"; {len(self.skipped_pages)} malformed page(s) skipped, cursor kept for the next run"
        return text


def sync(
    wh: Warehouse,
    company_ids: list[int] | None = None,
    since: date | None = None,
    full: bool = False,
    *,
    client: YClientsClient | None = None,
    progress: ProgressCallback | None = None,
    until: date | None = None,
) -> list[SyncReport]:
    """Sync each company (default: REACTIVATION_YCLIENTS_COMPANIES); one company's failure does not stop the rest."""
    own_client = client is None
    client = client or YClientsClient(YClientsSettings.from_env())
    ids = list(company_ids or client.settings.company_ids)
    if not ids:
        raise YClientsConfigError("no YClients company to sync: pass --company or set REACTIVATION_YCLIENTS_COMPANIES")
    reports = []
    try:
        with _terminal_progress(progress) as callback:
            for company_id in ids:
                try:
                    reports.append(sync_company(wh, client, company_id, since, full, callback, until=until))
                except Exception as exc:  # any failure holds this company only; the others go on
                    reason = str(exc) if isinstance(exc, YClientsError) else f"{type(exc).__name__}: {exc}"
                    logger.error(
                        "YClients company %s: %s", company_id, reason, exc_info=not isinstance(exc, YClientsError)
                    )
                    reports.append(SyncReport(company_id, error=reason))
    finally:
        if own_client:
            client.close()
    return reports


def sync_company(
    wh: Warehouse,
    client: YClientsClient,
    company_id: int,
    since: date | None = None,
    full: bool = False,
    progress: ProgressCallback | None = None,
    *,
    until: date | None = None,
) -> SyncReport:
    """Reference data in full, then records: the (resumed) backfill or the changes since the high-water mark.

    `since` is where a backfill starts (ignored once it has finished); `until` is its last booking date (default:
    a year from today); `full` forgets both records cursors and backfills again.
    """
    wh.ensure_tables()
    report = SyncReport(company_id)
    if full:
        with wh.transaction():
            wh.execute(
                "delete from raw_sync_cursors where company_id = %s and entity in (%s, %s)",
                [company_id, RECORDS, BACKFILL],
            )
    listed_at = datetime.now(UTC)
    zone, listed = _sync_reference(wh, client, company_id, report)
    run = _RecordsRun(wh, client, company_id, report, progress)
    mark = _cursor(wh, company_id, RECORDS)
    if mark is None:
        report.mode = "backfill"
        run.backfill(since, until)
    else:
        run.changes(datetime.fromisoformat(mark), zone)
    if listed is not None:
        report.deleted_clients = _mark_vanished_clients(wh, company_id, listed, listed_at)
    report.cursor = _cursor(wh, company_id, RECORDS)
    logger.info("YClients %s", report.summary())
    return report


# ---------- company, services, clients
def _sync_reference(
    wh: Warehouse, client: YClientsClient, company_id: int, report: SyncReport
) -> tuple[ZoneInfo, set[int] | None]:
    """Load the company, its services and clients as one batch; returns the company's zone for change filters and
    the ids of the client list when it was read completely (None otherwise)."""
    company = company_object(client.company(company_id), company_id, client.settings.defaults_for(company_id))
    services = service_objects(client.services(company_id), client.service_categories(company_id), company_id)
    staff = _staff(client, company_id, report)
    clients, rejects, complete = _clients(client, company_id, report)
    ingest(
        wh,
        sources_from_objects(companies=[company], services=services, staff=staff, clients=clients),
        f"yclients:{company_id}:reference",
        rejects,
    )
    report.clients, report.services, report.staff = len(clients), len(services), len(staff)
    listed = {c["id"] for c in clients} if complete else None
    return _zone(company["timezone"]), listed


def _staff(client: YClientsClient, company_id: int, report: SyncReport) -> list[dict[str, Any]]:
    """The company's masters; a list that cannot be read leaves the stored one as it is (a warning, not a failure:
    without it messages only lose the master's name and link). A refused token still fails the company."""
    try:
        found = client.staff(company_id)
    except YClientsAuthError:
        raise
    except YClientsError as exc:
        report.warnings.append(f"staff list not read: {exc}")
        logger.warning("YClients company %s: staff list not read: %s", company_id, exc)
        return []
    return [staff_object(s, company_id) for s in found if isinstance(s, dict)]


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _clients(
    client: YClientsClient, company_id: int, report: SyncReport
) -> tuple[list[dict[str, Any]], list[Reject], bool]:
    """The client list from the search, and whether it was read completely. YClients documents no sms_not among
    the search's fields, so when the search leaves it out (or refuses to be asked for it) the deprecated full
    list, which has it, is read instead."""
    size = client.settings.page_size
    try:
        found, rejects, complete = _collect(partial(client.clients_search_page, company_id), size, report)
        problem = "returned no sms_not" if found and not any("sms_not" in c for c in found) else None
    except YClientsAuthError:
        raise
    except YClientsError as exc:
        problem = f"failed: {exc}"
    if problem:
        report.warnings.append(f"client search {problem}; read GET /clients/{company_id} instead")
        logger.warning("YClients company %s: client search %s; reading GET /clients instead", company_id, problem)
        found, rejects, complete = _collect(partial(client.clients_legacy_page, company_id), size, report)
    objects = [client_object(c, company_id) for c in found]
    complete = complete and all(isinstance(c["id"], int) for c in objects)
    return objects, rejects, complete


def _collect(
    fetch: Callable[[int], Page], page_size: int, report: SyncReport
) -> tuple[list[dict[str, Any]], list[Reject], bool]:
    """Every object of a paginated list, and whether that is the whole list (no page or item lost, as many
    objects as the API counted); malformed pages and non-objects become rejects."""
    found: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    total = None
    for number, outcome, _ in _pages(fetch, page_size):
        if isinstance(outcome, MalformedPage):
            rejects.append(_skipped(outcome, number, report))
            continue
        total = outcome.total_count if outcome.total_count is not None else total
        objects, bad = _split(outcome, number)
        found.extend(objects)
        rejects.extend(bad)
    return found, rejects, not rejects and (total is None or len(found) >= total)


def _mark_vanished_clients(wh: Warehouse, company_id: int, listed: set[int], listed_at: datetime) -> int:
    """Mark deleted, in one batch, the clients a complete client list lacks: their cards, and a new card for a client
    known only from records. A client whose latest record changed after the list was read may be new, not gone."""
    cards = wh.fetchall(
        "select id, name, phone, sms_not from raw_yclients_clients"
        " where company_id = %s and not coalesce(deleted, false)",
        [company_id],
    )
    record_only = wh.fetchall(
        "select client_id, client_name, client_phone, last_change_at from ("
        " select client_id, client_name, client_phone, last_change_at, row_number() over ("
        "  partition by client_id order by last_change_at desc nulls last, id desc) as recency"
        " from raw_yclients_records as records where company_id = %s and client_id is not null and not exists ("
        "  select 1 from raw_yclients_clients as cards where cards.company_id = records.company_id"
        "  and cards.id = records.client_id)"
        ") as latest where recency = 1",
        [company_id],
    )
    gone = [
        {"id": i, "company_id": company_id, "name": name, "phone": phone, "deleted": True, "sms_not": sms_not}
        for i, name, phone, sms_not in cards
        if i not in listed
    ] + [
        {"id": i, "company_id": company_id, "name": name, "phone": phone, "deleted": True}
        for i, name, phone, changed in record_only
        if i not in listed and (changed is None or changed < listed_at)
    ]
    if gone:
        ingest(wh, sources_from_objects(clients=gone), f"yclients:{company_id}:deleted-clients")
        logger.info("YClients company %s: %d client(s) gone from the client list marked deleted", company_id, len(gone))
    return len(gone)


# ---------- records
class _RecordsRun:
    """One company's records pass; stops moving the cursors once a page had to be skipped."""

    def __init__(
        self,
        wh: Warehouse,
        client: YClientsClient,
        company_id: int,
        report: SyncReport,
        progress: ProgressCallback | None,
    ) -> None:
        self.wh, self.client, self.company_id, self.report, self.progress = wh, client, company_id, report, progress
        self.intact = True
        self.started = datetime.now(
            UTC
        )  # the changes mark never passes this moment (a far-future change cannot freeze it)

    def backfill(self, since: date | None, until: date | None) -> None:
        today = date.today()
        resumed = _cursor(self.wh, self.company_id, BACKFILL)
        if resumed:
            start = date.fromisoformat(resumed) + timedelta(days=1)
            logger.info("YClients company %s: resuming the backfill after %s", self.company_id, resumed)
        else:
            start = since or today - timedelta(days=HISTORY_DAYS)
        end = until or today + timedelta(days=FUTURE_DAYS)
        chunks = _chunks(start, end, self.client.settings.backfill_chunk_days)
        for index, (first, last) in enumerate(chunks):
            final = index == len(chunks) - 1
            self.read(
                {"start_date": first.isoformat(), "end_date": last.isoformat()},
                partial(self._chunk_done, last, start if final else None),
                "backfill",
                (index, len(chunks)),
            )
        if not chunks:  # a backfill killed after its last chunk, before the mark: only the mark is left to set
            with self.wh.transaction():
                self._chunk_done(start - timedelta(days=1), start, self.wh)

    def changes(self, mark: datetime, zone: ZoneInfo) -> None:
        """Records changed after the mark minus the overlap, the instant written in the company's own offset."""
        after = (mark - timedelta(minutes=self.client.settings.overlap_minutes)).astimezone(zone)
        self.read({"changed_after": after.isoformat(timespec="seconds")}, self._mark, "changes", None)

    def read(
        self,
        filters: dict[str, str],
        finish: Callable[[Warehouse], None],
        stage: str,
        chunk: tuple[int, int] | None,
    ) -> None:
        """One paginated query, a batch per page; `finish` commits with the last page if nothing was skipped."""
        size = self.client.settings.page_size
        for number, outcome, last in _pages(partial(self.client.records_page, self.company_id, filters=filters), size):
            if isinstance(outcome, MalformedPage):
                self.intact = False
                ingest(self.wh, [], self._source, [_skipped(outcome, number, self.report)])
            else:
                self._load(outcome, number, finish if last and self.intact else None)
                logger.debug("YClients %s: %d item(s)", outcome.url, len(outcome.data))
            self.report.pages += 1
            if self.progress is None:
                continue
            if chunk is not None:
                done, total = chunk[0] + (1 if last else 0), chunk[1]
            else:
                done, total = number, number if last else _page_total(outcome, size)
            self.progress(SyncProgress(self.company_id, stage, done, total, self.report.pages))

    def _load(self, page: Page, number: int, finish: Callable[[Warehouse], None] | None) -> None:
        records, rejects = _split(page, number)
        self.report.records += len(records)
        if records or rejects:
            objects = [record_object(r, self.company_id) for r in records]
            ingest(self.wh, sources_from_objects(records=objects), self._source, rejects, within_batch=finish)
        elif finish is not None:
            with self.wh.transaction():
                finish(self.wh)

    def _chunk_done(self, last: date, backfill_start: date | None, wh: Warehouse) -> None:
        """A chunk is loaded; after the final one the changes mark is the newest change loaded so far."""
        _set_cursor(wh, self.company_id, BACKFILL, last.isoformat())
        if backfill_start is not None:
            midnight = datetime.combine(backfill_start, datetime.min.time(), UTC)
            newest = _newest_change(wh, self.company_id)
            _set_cursor(wh, self.company_id, RECORDS, min(newest or midnight, self.started).isoformat())
            _set_cursor(wh, self.company_id, READ, self.started.isoformat())

    def _mark(self, wh: Warehouse) -> None:
        newest = _newest_change(wh, self.company_id)
        if newest is not None:
            _set_cursor(wh, self.company_id, RECORDS, min(newest, self.started).isoformat())
        _set_cursor(wh, self.company_id, READ, self.started.isoformat())

    @property
    def _source(self) -> str:
        return f"yclients:{self.company_id}:records"


def _pages(fetch: Callable[[int], Page], page_size: int) -> Iterator[tuple[int, Page | MalformedPage, bool]]:
    """(number, page or its MalformedPage, is_last) until `meta.total_count` is covered or a page comes back short.

    A malformed page is passed over when the total is known; a malformed first page ends the list (its length is
    unknown), which is safe: the caller keeps its cursor and the next run asks again.
    """
    number, total = 1, None
    while True:
        try:
            outcome: Page | MalformedPage = fetch(number)
        except MalformedPage as exc:
            outcome = exc
            last = total is None or number * page_size >= total
        else:
            total = outcome.total_count if outcome.total_count is not None else total
            covered = number * page_size >= total if total is not None else len(outcome.data) < page_size
            last = not outcome.data or covered
        yield number, outcome, last
        if last:
            return
        number += 1


def _split(page: Page, number: int) -> tuple[list[dict[str, Any]], list[Reject]]:
    """A page's objects, and a reject for each item that is not one."""
    objects = [item for item in page.data if isinstance(item, dict)]
    rejects = [
        Reject(page.url, number, "not a JSON object", json.dumps(item, ensure_ascii=False))
        for item in page.data
        if not isinstance(item, dict)
    ]
    return objects, rejects


def _skipped(failure: MalformedPage, number: int, report: SyncReport) -> Reject:
    logger.error("YClients page %d of %s skipped: %s", number, failure.url, failure.reason)
    report.skipped_pages.append(failure.url)
    return Reject(failure.url, number, f"malformed page skipped: {failure.reason}", failure.content)


def _page_total(page: Page | MalformedPage, page_size: int) -> int | None:
    total = page.total_count if isinstance(page, Page) else None
    return None if total is None else -(-total // page_size)


def _chunks(start: date, end: date, days: int) -> list[tuple[date, date]]:
    """[start, end] cut into consecutive inclusive ranges of at most `days` days."""
    chunks = []
    while start <= end:
        last = min(start + timedelta(days=days - 1), end)
        chunks.append((start, last))
        start = last + timedelta(days=1)
    return chunks


# ---------- cursors
def _cursor(wh: Warehouse, company_id: int, entity: str) -> str | None:
    row = wh.fetchone(
        "select cursor_value from raw_sync_cursors where company_id = %s and entity = %s", [company_id, entity]
    )
    return row[0] if row else None


def _set_cursor(wh: Warehouse, company_id: int, entity: str, value: str) -> None:
    wh.execute(
        "insert into raw_sync_cursors (company_id, entity, cursor_value, updated_at) values (%s, %s, %s, %s)"
        " on conflict (company_id, entity) do update"
        " set cursor_value = excluded.cursor_value, updated_at = excluded.updated_at",
        [company_id, entity, value, datetime.now(UTC)],
    )


def _newest_change(wh: Warehouse, company_id: int) -> datetime | None:
    row = wh.fetchone("select max(last_change_at) from raw_yclients_records where company_id = %s", [company_id])
    return row[0].astimezone(UTC) if row and row[0] is not None else None


# ---------- progress
@contextmanager
def _terminal_progress(progress: ProgressCallback | None) -> Iterator[ProgressCallback | None]:
    """The caller's callback, else a rich progress bar per company and stage when stdout is a terminal."""
    if progress is not None or not sys.stdout.isatty():
        yield progress
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as bar:
        tasks: dict[tuple[int, str], TaskID] = {}

        def update(event: SyncProgress) -> None:
            key = (event.company_id, event.stage)
            if key not in tasks:
                unit = "chunks" if event.stage == "backfill" else "pages"
                tasks[key] = bar.add_task(f"YClients {event.company_id} {event.stage} ({unit})", total=event.total)
            bar.update(tasks[key], completed=event.done, total=event.total)

        yield update
