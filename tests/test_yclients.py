"""The YClients sync against a loopback API: same models as a file ingest, resumable, incremental, polite, safe."""

from __future__ import annotations

import copy
import email.utils
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from reactivation import campaign, demo
from reactivation.channels import ChannelSettings
from reactivation.ingest import ingest, sources_from_objects
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse
from reactivation.yclients import (
    CompanyDefaults,
    MalformedPage,
    RequestBudget,
    SyncProgress,
    SyncReport,
    YClientsAuthError,
    YClientsClient,
    YClientsConfigError,
    YClientsError,
    YClientsSettings,
    sync,
)

from .conftest import AS_OF, DUE_MODELS, drop, make_settings, prebuilt, run_models
from .yclients_server import (
    DATA_NOT_A_LIST,
    NOT_JSON,
    REFUSED_WITH_200,
    FakeYClients,
    Reply,
    envelope,
    error,
    rate_limited,
)

PARTNER = "partner-7f3a9c-SECRET"
USER = "user-91bc2e-SECRET"
COMPANIES = [101, 102, 103]
SINCE, UNTIL = AS_OF - timedelta(days=730), AS_OF + timedelta(days=365)
RAW_TABLES = {
    "raw_yclients_companies": "company_id, name, timezone, locale, country, booking_url, cast(payload as varchar) p",
    "raw_yclients_services": "company_id, id, title, category_id, category_title, cost, cast(payload as varchar) p",
    "raw_yclients_clients": "company_id, id, name, phone, deleted, sms_not, cast(payload as varchar) p",
    "raw_yclients_records": "company_id, id, last_change_at, cast(payload as varchar) p",
    "raw_yclients_record_services": "company_id, record_id, position, service_id, title, cost, first_cost, amount",
    # `records_read` is the moment a read began: a clock reading, not data
    "raw_sync_cursors": "company_id, entity, case when entity <> 'records_read' then cursor_value end cursor_value",
}


class FakeClock:
    """Time that passes only when something sleeps: retries and the rate limiter cost nothing real."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Killed(BaseException):
    """Stands for the process dying between two pages (a BaseException, like the signals that kill it)."""


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(n_clients=120, years=1.5, seed=11, as_of=AS_OF)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(data: demo.DemoData, clock: FakeClock) -> Iterator[FakeYClients]:
    with FakeYClients(
        data, partner_token=PARTNER, user_token=USER, login="owner@salon.test", password="pw-1"
    ) as server:
        server.clock = clock
        yield server


def client_for(api: FakeYClients, clock: FakeClock, data: demo.DemoData, **overrides: Any) -> YClientsClient:
    """A client of the fake API; YClients has no locale or booking link, so those come from company defaults."""
    defaults = {
        c["company_id"]: CompanyDefaults(locale=c["locale"], booking_url=c["booking_url"]) for c in data.companies
    }
    fields: dict[str, Any] = {"partner_token": PARTNER, "user_token": USER, "company_defaults": defaults, **overrides}
    settings = YClientsSettings(base_url=api.base_url, **fields)
    return YClientsClient(settings, sleep=clock.sleep, budget=RequestBudget(5, 200, clock, clock.sleep))


def sync_into(
    settings: Settings,
    api: FakeYClients,
    clock: FakeClock,
    data: demo.DemoData,
    companies: list[int] = COMPANIES,
    progress: Callable[[SyncProgress], None] | None = None,
    full: bool = False,
    **overrides: Any,
) -> dict[int, SyncReport]:
    with Warehouse.connect(settings) as wh, client_for(api, clock, data, **overrides) as client:
        reports = sync(wh, companies, SINCE, full, client=client, progress=progress, until=UNTIL)
    return {r.company_id: r for r in reports}


def synced_and_built(settings: Settings, api: FakeYClients, clock: FakeClock, data: demo.DemoData) -> None:
    """Every company synced from the fake API (whose data every test starts from) and the models built: the start
    of several tests, made once per engine and copied into each test's warehouse."""

    def build(template: Settings) -> None:
        sync_into(template, api, clock, data)
        run_models(template)

    prebuilt(settings, "yclients_synced", build)


def other_warehouse(settings: Settings, name: str) -> Settings:
    return make_settings(settings.target, name)


def frame(settings: Settings, table: str, columns: str = "*") -> pd.DataFrame:
    with Warehouse.connect(settings) as wh:
        result = wh.query_df(f"select {columns} from {table}")
    return result.sort_values(list(result.columns[:3])).reset_index(drop=True)


def cursors(settings: Settings) -> dict[tuple[int, str], str]:
    with Warehouse.connect(settings) as wh:
        return {(c, e): v for c, e, v in wh.fetchall("select company_id, entity, cursor_value from raw_sync_cursors")}


def later(instant: str, zone: str, minutes: int) -> str:
    """An ISO time `minutes` after `instant`, written in the company's own offset like the API writes it."""
    return (datetime.fromisoformat(instant) + timedelta(minutes=minutes)).astimezone(ZoneInfo(zone)).isoformat()


# ---------- end to end, on both engines
def test_a_full_sync_builds_the_same_due_clients_as_ingesting_the_same_objects(
    settings: Settings, tmp_path: Path, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    reports = sync_into(settings, api, clock, data)
    assert all(r.mode == "backfill" and not r.skipped_pages and not r.error for r in reports.values())
    run_models(settings, select=DUE_MODELS)
    synced = frame(settings, "due_clients")
    synced_records = frame(settings, "raw_yclients_records", "count(*) n").n[0]
    # then the same objects ingested directly, in the same warehouse emptied (a second warehouse would cost dbt a
    # full parse of the project)
    drop(settings)
    with Warehouse.connect(settings) as wh:
        objects = sources_from_objects(
            companies=data.companies, services=data.services, clients=data.clients, records=data.records
        )
        ingest(wh, objects, "demo objects")
    run_models(settings, select=DUE_MODELS)
    expected = frame(settings, "due_clients")
    assert len(expected) > 10
    pd.testing.assert_frame_equal(synced, expected)
    assert synced_records == frame(settings, "raw_yclients_records", "count(*) n").n[0]


def test_a_sync_killed_half_way_resumes_to_the_same_raw_tables(
    settings: Settings, tmp_path: Path, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    whole = other_warehouse(settings, "whole")
    try:
        sync_into(whole, api, clock, data, page_size=50)
        expected = {table: frame(whole, table, columns) for table, columns in RAW_TABLES.items()}
    finally:
        drop(whole)

    done: list[int] = []

    def kill_in_the_middle_of_a_chunk(event: SyncProgress) -> None:
        """A page that did not finish its chunk leaves `done` (finished chunks) where the previous page left it."""
        done.append(event.done)
        if len(done) > 1 and done[-1] == done[-2]:
            raise Killed

    with pytest.raises(Killed):
        sync_into(settings, api, clock, data, progress=kill_in_the_middle_of_a_chunk, page_size=50)
    resume_after = date.fromisoformat(cursors(settings)[(101, "records_backfill")])
    assert (101, "records") not in cursors(settings)
    with Warehouse.connect(settings) as wh:
        loaded = wh.fetchone("select count(*) from raw_yclients_records where company_id = 101")[0]
    finished_chunks = sum(1 for (c, _), r in api.records.items() if c == 101 and _visit_day(r) <= resume_after)
    assert loaded > finished_chunks  # part of the next chunk was committed before the kill

    api.log.clear()
    reports = sync_into(settings, api, clock, data, page_size=50)
    first = api.requests("/records/101")[0]
    assert (first.params["start_date"], first.params["page"]) == ((resume_after + timedelta(1)).isoformat(), "1")
    assert all(r.mode == "backfill" and not r.skipped_pages for r in reports.values())
    for table, columns in RAW_TABLES.items():
        pd.testing.assert_frame_equal(frame(settings, table, columns), expected[table], obj=table)

    reports = sync_into(settings, api, clock, data, full=True)  # reads everything again and changes nothing
    assert all(r.mode == "backfill" and r.records > 0 for r in reports.values())
    for table, columns in RAW_TABLES.items():
        pd.testing.assert_frame_equal(frame(settings, table, columns), expected[table], obj=table)


def test_an_incremental_sync_reads_only_the_changes_and_the_models_follow(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    synced_and_built(settings, api, clock, data)
    due = frame(settings, "due_clients", "company_id, client_id").query("company_id == 101")
    opted_out, booking = int(due.client_id.iloc[0]), int(due.client_id.iloc[1])
    zone = api.companies[101]["timezone"]
    marks = {c: datetime.fromisoformat(v) for (c, entity), v in cursors(settings).items() if entity == "records"}
    mark = marks[101].isoformat()
    window = {  # unchanged records the overlap reads again: changed within 10 minutes before their company's mark
        key for key, r in api.records.items() if _instant(r["last_change_date"]) > marks[key[0]] - timedelta(minutes=10)
    }
    changed_record, deleted_record = _two_unique_visits(api, exclude_clients={opted_out, booking})
    with Warehouse.connect(settings) as wh:
        assert _visit_count(wh, deleted_record) == 1

    changed_record["attendance"] = -1
    changed_record["last_change_date"] = later(mark, zone, 60)
    deleted_record["deleted"] = True
    deleted_record["last_change_date"] = later(mark, zone, 61)
    new_id = max(i for _, i in api.records) + 1
    api.records[(101, new_id)] = _future_booking(api, new_id, booking, later(mark, zone, 62))
    api.clients[(101, opted_out)]["sms_not"] = 1
    api.log.clear()

    reports = sync_into(settings, api, clock, data)
    assert all(r.mode == "incremental" and not r.skipped_pages for r in reports.values())
    records_requests = api.requests("/records/")
    assert records_requests and all(
        "changed_after" in r.params and "start_date" not in r.params for r in records_requests
    )
    returned = {(int(r.path.split("/")[2]), i) for r in records_requests for i in r.record_ids}
    changed = {(101, changed_record["id"]), (101, deleted_record["id"]), (101, new_id)}
    assert returned == changed | window
    assert len(window) < 10  # only the overlap: the few records changed within 10 minutes of each mark
    assert _instant(cursors(settings)[(101, "records")]) == _instant(later(mark, zone, 62))

    run_models(settings, select=DUE_MODELS)
    with Warehouse.connect(settings) as wh:
        assert _visit_count(wh, deleted_record) == 0
        attendance = wh.fetchone(
            "select attendance from appointments_cache where company_id = 101 and record_id = %s",
            [changed_record["id"]],
        )
        assert attendance == (-1,)
        reasons = set(wh.fetchall("select client_id, reason from due_client_exclusions where company_id = 101"))
        still_due = {c for (c,) in wh.fetchall("select client_id from due_clients where company_id = 101")}
    assert {(opted_out, "opted_out"), (booking, "future_booking")} <= reasons
    assert not {opted_out, booking} & still_due


def test_a_malformed_page_is_skipped_with_a_reject_and_the_cursor_is_kept(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    sync_into(settings, api, clock, data, companies=[101])
    before = cursors(settings)
    changed = [r for (c, _), r in sorted(api.records.items()) if c == 101 and r["client"]][:2]
    for minutes, record in enumerate(changed, start=30):
        record["attendance"] = -1
        record["last_change_date"] = later(before[(101, "records")], api.companies[101]["timezone"], minutes)
    api.fail("GET", "/records/101", [NOT_JSON] * 6, page=2)  # the first try and all five retries

    report = sync_into(settings, api, clock, data, companies=[101], page_size=1)[101]
    assert len(report.skipped_pages) == 1 and report.pages >= 3  # the pages after it were still read
    url = report.skipped_pages[0]
    assert "/records/101?page=2&" in url and "changed_after=" in url and PARTNER not in url
    assert cursors(settings) == before
    with Warehouse.connect(settings) as wh:
        rejects = wh.fetchall("select file, line, reason from raw_ingest_rejects")
    assert rejects == [(url, 2, "malformed page skipped: the answer is not a JSON object")]

    report = sync_into(settings, api, clock, data, companies=[101], page_size=1)[101]  # reads the page again
    assert not report.skipped_pages
    assert _instant(cursors(settings)[(101, "records")]) == _instant(changed[1]["last_change_date"])
    with Warehouse.connect(settings) as wh:
        ids = [r["id"] for r in changed]
        loaded = wh.fetchall("select attendance from raw_yclients_records where id in (%s, %s)", ids)
    assert loaded == [(-1,), (-1,)]


def test_a_malformed_backfill_page_holds_the_backfill_cursor_before_its_chunk(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    api.fail("GET", "/records/101", [DATA_NOT_A_LIST] * 6, page=2)
    report = sync_into(settings, api, clock, data, companies=[101], page_size=50)[101]
    assert len(report.skipped_pages) == 1 and "page=2" in report.skipped_pages[0]
    skipped_chunk_start = date.fromisoformat(report.skipped_pages[0].split("start_date=")[1][:10])
    assert (101, "records") not in cursors(settings)  # the backfill is not finished
    assert cursors(settings)[(101, "records_backfill")] == (skipped_chunk_start - timedelta(days=1)).isoformat()
    with Warehouse.connect(settings) as wh:
        assert wh.fetchall("select file, line from raw_ingest_rejects") == [(report.skipped_pages[0], 2)]

    report = sync_into(settings, api, clock, data, companies=[101], page_size=50)[101]
    assert not report.skipped_pages and report.mode == "backfill"
    assert (101, "records") in cursors(settings)


def test_edge_case_objects_arrive_as_the_api_sends_them(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    walk_in = next(r for r in api.records.values() if r["client"] is None)
    no_services = next(r for r in api.records.values() if r["services"] == [] and r["client"])
    opted_out = next(c for c in api.clients.values() if c["sms_not"] == 1)
    sync_into(settings, api, clock, data)
    with Warehouse.connect(settings) as wh:
        assert wh.fetchone("select client_id from raw_yclients_records where id = %s", [walk_in["id"]]) == (None,)
        lines = "select count(*) from raw_yclients_record_services where record_id = %s"
        assert wh.fetchone(lines, [no_services["id"]]) == (0,)
        assert wh.fetchone("select count(*) from raw_yclients_records where id = %s", [no_services["id"]]) == (1,)
        client = "select sms_not, deleted from raw_yclients_clients where company_id = %s and id = %s"
        assert wh.fetchone(client, [opted_out["company_id"], opted_out["id"]]) == (1, False)


@pytest.mark.parametrize("refuse", [False, True], ids=["omits-sms_not", "refuses-sms_not"])
def test_a_client_search_without_sms_not_falls_back_to_the_full_client_list(
    refuse: bool, settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    api.search_fields = {"id", "name", "phone", "email"}  # the fields YClients documents for the search
    api.refuse_unknown_fields = refuse
    report = sync_into(settings, api, clock, data, companies=[101])[101]
    assert not report.error and len(report.warnings) == 1 and api.requests("/clients/101")
    opted = {i for (c, i), client in api.clients.items() if c == 101 and client["sms_not"] == 1}
    with Warehouse.connect(settings) as wh:
        assert {i for (i,) in wh.fetchall("select id from raw_yclients_clients where sms_not = 1")} == opted != set()


def test_a_bad_user_token_names_the_user_token_and_no_token_leaks(
    warehouse: Warehouse, data: demo.DemoData, api: FakeYClients, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with client_for(api, clock, data, user_token="user-WRONG-SECRET") as client:
        reports = sync(warehouse, [101, 102], client=client)
        shown = repr(client) + repr(client.settings)
    assert [r.error for r in reports] == [
        "YClients rejected the user token (401): User authentication failed. Check YCLIENTS_USER_TOKEN."
    ] * 2
    for secret in (PARTNER, "user-WRONG-SECRET", "SECRET"):
        assert secret not in caplog.text + shown + str(reports)
    assert "rejected the user token" in caplog.text


def test_a_bad_partner_token_names_the_partner_token(data: demo.DemoData, api: FakeYClients, clock: FakeClock) -> None:
    with client_for(api, clock, data, partner_token="partner-WRONG") as client, pytest.raises(YClientsAuthError) as bad:
        client.company(101)
    assert str(bad.value) == (
        "YClients rejected the partner token (401): Partner authentication failed. Check YCLIENTS_PARTNER_TOKEN."
    )


def test_a_company_answering_garbage_fails_alone_and_the_other_companies_sync(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    garbage = Reply(200, envelope([{"id": [7], "title": {"ru": "Стрижки"}}]))  # a well-formed envelope, absurd data
    api.fail("GET", "/company/102/service_categories", [garbage])
    reports = sync_into(settings, api, clock, data)
    assert reports[102].error is not None and reports[102].error.startswith("TypeError")
    assert not reports[101].error and not reports[103].error
    assert {(101, "records"), (103, "records")} <= set(cursors(settings)) and (102, "records") not in cursors(settings)


def test_a_far_future_change_date_cannot_freeze_the_changes_cursor(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    sync_into(settings, api, clock, data, companies=[101])
    zone = ZoneInfo(api.companies[101]["timezone"])
    stamped, changed = [r for (c, _), r in sorted(api.records.items()) if c == 101 and r["client"]][:2]
    stamped["last_change_date"] = "2099-01-01T00:00:00+03:00"  # a clock gone wrong somewhere in YClients
    sync_into(settings, api, clock, data, companies=[101])
    assert _instant(cursors(settings)[(101, "records")]) <= datetime.now(UTC)

    changed["attendance"] = -1  # changed in the salon after that read
    changed["last_change_date"] = datetime.now(zone).isoformat(timespec="seconds")
    sync_into(settings, api, clock, data, companies=[101])
    with Warehouse.connect(settings) as wh:
        loaded = wh.fetchone("select attendance from raw_yclients_records where id = %s", [changed["id"]])
    assert loaded == (-1,)


def test_clients_missing_from_the_complete_client_list_are_deleted_not_revived_from_their_records(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    sync_into(settings, api, clock, data, companies=[101])
    run_models(settings, select=DUE_MODELS)
    due = frame(settings, "due_clients", "company_id, client_id").query("company_id == 101")
    with_card, records_only = int(due.client_id.iloc[0]), int(due.client_id.iloc[1])
    for client_id in (with_card, records_only):  # deleted in YClients: the client list no longer has them
        del api.clients[(101, client_id)]
    with Warehouse.connect(settings) as wh:  # a client known only from records (e.g. deleted before any sync)
        wh.execute("delete from raw_yclients_clients where company_id = 101 and id = %s", [records_only])
    card = "select deleted from raw_yclients_clients where company_id = 101 and id = %s"

    api.fail("POST", "/company/101/clients/search", [NOT_JSON] * 6, page=2)  # a partial read marks nobody
    report = sync_into(settings, api, clock, data, companies=[101], page_size=10)[101]
    assert len(report.skipped_pages) == 1 and report.deleted_clients == 0
    with Warehouse.connect(settings) as wh:
        assert (wh.fetchone(card, [with_card]), wh.fetchone(card, [records_only])) == ((False,), None)

    report = sync_into(settings, api, clock, data, companies=[101])[101]
    assert report.deleted_clients == 2 and "2 client(s) gone from the client list marked deleted" in report.summary()
    with Warehouse.connect(settings) as wh:
        assert (wh.fetchone(card, [with_card]), wh.fetchone(card, [records_only])) == ((True,), (True,))
    run_models(settings, select=DUE_MODELS)
    with Warehouse.connect(settings) as wh:
        still_due = {c for (c,) in wh.fetchall("select client_id from due_clients where company_id = 101")}
        reasons = set(wh.fetchall("select client_id, reason from due_client_exclusions where company_id = 101"))
    assert not {with_card, records_only} & still_due
    assert {(with_card, "client_deleted"), (records_only, "client_deleted")} <= reasons
    assert sync_into(settings, api, clock, data, companies=[101])[101].deleted_clients == 0  # marked once


# ---------- bookings read right before delivery
PLANNED_AT = datetime(2026, 11, 25, 9, tzinfo=UTC)
DELIVER_AT = datetime(2026, 11, 26, 11, tzinfo=UTC)  # inside every demo company's send window


def queue_messages(settings: Settings, api: FakeYClients, clock: FakeClock, data: demo.DemoData) -> None:
    """Sync every company, refresh the models and queue today's messages."""
    synced_and_built(settings, api, clock, data)
    with Warehouse.connect(settings) as wh:
        assert campaign.queue(wh, campaign.plan(wh, COMPANIES, campaign.RunSettings(), PLANNED_AT)) > 0


def deliver_with_refresh(
    settings: Settings, api: FakeYClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"YCLIENTS_BASE_URL": api.base_url, "YCLIENTS_PARTNER_TOKEN": PARTNER,
                        "YCLIENTS_USER_TOKEN": USER}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    run = campaign.RunSettings(
        channels=ChannelSettings(channel="log", log_path=tmp_path / "sent.jsonl"), refresh_bookings=True
    )
    with Warehouse.connect(settings) as wh:
        campaign.deliver_due(wh, run, now=DELIVER_AT)


def statuses(settings: Settings) -> dict[tuple[int, int], str]:
    with Warehouse.connect(settings) as wh:
        rows = wh.fetchall("select company_id, client_id, status from reactivation_messages where not is_holdout")
    return {(c, client): status for c, client, status in rows}


def test_a_booking_made_after_queueing_is_read_before_delivery_and_its_message_is_not_sent(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock, tmp_path: Path, monkeypatch
) -> None:
    queue_messages(settings, api, clock, data)
    booked = min(client for (company, client) in statuses(settings) if company == 101)
    mark = cursors(settings)[(101, "records")]
    new_id = max(i for _, i in api.records) + 1
    api.records[(101, new_id)] = _future_booking(api, new_id, booked, later(mark, api.companies[101]["timezone"], 60))
    api.log.clear()

    deliver_with_refresh(settings, api, tmp_path, monkeypatch)
    with Warehouse.connect(settings) as wh:
        assert wh.fetchone("select client_id from raw_yclients_records where company_id = 101 and id = %s", [new_id])
    assert {r.path for r in api.log} == {f"/records/{c}" for c in COMPANIES}  # only the changes, one read each
    assert all("changed_after" in r.params for r in api.log)
    after = statuses(settings)
    assert after[(101, booked)] != "sent"  # the send-time check saw the booking
    assert any(status == "sent" for (company, _), status in after.items() if company == 101)
    assert _instant(cursors(settings)[(101, "records_read")]) > DELIVER_AT  # the read's own moment (real clock)


def test_a_failed_read_holds_a_company_only_when_its_last_read_is_older_than_the_staleness_limit(
    settings: Settings, data: demo.DemoData, api: FakeYClients, clock: FakeClock, tmp_path: Path, monkeypatch
) -> None:
    queue_messages(settings, api, clock, data)
    with Warehouse.connect(settings) as wh:
        for company_id, age in ((101, timedelta(hours=3)), (102, timedelta(minutes=30))):
            wh.execute(
                "update raw_sync_cursors set cursor_value = %s where company_id = %s and entity = 'records_read'",
                [(DELIVER_AT - age).isoformat(), company_id],
            )
    api.fail("GET", "/records/101", [error(400, "Неверный запрос")])
    api.fail("GET", "/records/102", [error(400, "Неверный запрос")])

    deliver_with_refresh(settings, api, tmp_path, monkeypatch)
    after = statuses(settings)
    assert {s for (c, _), s in after.items() if c == 101} == {"pending"}  # 3 h old: held, still pending
    assert {s for (c, _), s in after.items() if c == 102} == {"sent"}  # 30 min old: recent enough
    assert {s for (c, _), s in after.items() if c == 103} == {"sent"}  # read fine


# ---------- the client alone
def test_login_and_password_are_exchanged_once_for_a_user_token(
    data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    with client_for(api, clock, data, user_token="", login="owner@salon.test", password="pw-1") as client:
        client.company(101)
        assert client.services(101) and client.service_categories(101)
    auth = api.requests("/auth")
    assert len(auth) == 1 and auth[0].body == {"login": "owner@salon.test", "password": "pw-1"}
    assert [e.status for e in api.log] == [200, 201, 200, 200]

    with client_for(api, clock, data, user_token="", login="owner@salon.test", password="pw-WRONG") as client:
        client.company(101)
        with pytest.raises(YClientsAuthError) as refused:
            client.services(101)
    assert "rejected the login and password (401)" in str(refused.value) and "pw-WRONG" not in str(refused.value)


def test_429_is_retried_after_the_retry_after_the_api_asked_for(
    data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    in_20_seconds = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    api.fail(
        "GET", "/records/101", [rate_limited(7), rate_limited(3600), error(429, "slow", {"Retry-After": in_20_seconds})]
    )
    with client_for(api, clock, data) as client:
        page = client.records_page(101, 1, {"start_date": "2026-01-01", "end_date": "2026-03-31"})
    assert page.data and [e.status for e in api.log] == [429, 429, 429, 200]
    waits = [s for s in clock.sleeps if s >= 1]
    assert waits[:2] == [7, 60] and 10 < waits[2] <= 20  # 3600 s capped at 60; an HTTP date works too


def test_a_500_streak_is_retried_with_backoff_until_it_recovers_or_attempts_run_out(
    data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    api.fail("GET", "/company/101/services", [error(500, "oops"), error(502, "oops"), error(503, "oops")])
    with client_for(api, clock, data) as client:
        assert client.services(101)
        assert _backoffs(clock) == [0.5, 1, 2]
        api.fail("GET", "/company/101/services", [error(500, "oops")] * 6)
        with pytest.raises(
            YClientsError, match=r"did not answer GET .*/company/101/services after 6 attempts: HTTP 500"
        ):
            client.services(101)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (NOT_JSON, "the answer is not a JSON object"),
        (DATA_NOT_A_LIST, "data is not a JSON array"),
        (REFUSED_WITH_200, "success is not true: Internal processing error"),
    ],
)
def test_a_malformed_answer_is_retried_then_reported_with_its_url(
    reply: Reply, reason: str, data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    api.fail("GET", "/records/101", [reply, reply])
    with client_for(api, clock, data) as client:
        assert client.records_page(101, 1, {}).data  # two malformed answers, then a good one
        api.fail("GET", "/records/101", [reply] * 6)
        with pytest.raises(MalformedPage) as malformed:
            client.records_page(101, 3, {})
    assert malformed.value.reason == reason
    assert malformed.value.url.endswith("/records/101?page=3&count=200&with_deleted=1")


def test_the_request_budget_keeps_to_5_requests_a_second_and_200_a_minute(
    data: demo.DemoData, api: FakeYClients, clock: FakeClock
) -> None:
    with client_for(api, clock, data) as client:
        for number in range(230):
            client.records_page(101, 1 + number % 5, {})
    times = [entry.at for entry in api.log]
    assert len(times) == 230
    assert all(later_one - earlier >= 1.0 for earlier, later_one in zip(times, times[5:]))
    assert all(later_one - earlier >= 60.0 for earlier, later_one in zip(times, times[200:]))
    assert times[199] - times[0] < 40 and times[-1] - times[0] < 66  # and it waits no longer than it must


def test_settings_come_from_the_environment_and_never_show_secrets() -> None:
    env = {
        "YCLIENTS_PARTNER_TOKEN": "p-SECRET",
        "YCLIENTS_USER_TOKEN": "u-SECRET",
        "YCLIENTS_PASSWORD": "pw-SECRET",
        "YCLIENTS_BASE_URL": "http://127.0.0.1:9/api/v1/",
        "YCLIENTS_REQUESTS_PER_SECOND": "3",
        "REACTIVATION_YCLIENTS_COMPANIES": "101, 102",
        "REACTIVATION_COMPANY_SETTINGS": '{"101": {"timezone": "Europe/Samara", "locale": "ru", "booking_url": "b"}}',
    }
    settings = YClientsSettings.from_env(env)
    assert (settings.base_url, settings.company_ids, settings.requests_per_second) == (
        "http://127.0.0.1:9/api/v1",
        (101, 102),
        3,
    )
    assert settings.requests_per_minute == 200
    assert settings.defaults_for(101) == CompanyDefaults(timezone="Europe/Samara", locale="ru", booking_url="b")
    assert settings.defaults_for(102) == CompanyDefaults()
    assert (settings.page_size, settings.backfill_chunk_days, settings.overlap_minutes) == (200, 90, 10)
    assert "SECRET" not in repr(settings)
    with pytest.raises(YClientsConfigError, match="REACTIVATION_COMPANY_SETTINGS"):
        YClientsSettings.from_env({"REACTIVATION_COMPANY_SETTINGS": "{not json"})
    with pytest.raises(YClientsConfigError, match="YCLIENTS_PARTNER_TOKEN is not set"):
        YClientsClient(YClientsSettings.from_env({}))


# ---------- helpers
def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _visit_day(record: dict[str, Any]) -> date:
    """The date the fake API filters a record by (see yclients_server)."""
    return _parsed_day(record) or datetime.fromisoformat(record["create_date"]).date()


def _parsed_day(record: dict[str, Any]) -> date | None:
    try:
        return datetime.fromisoformat(record["datetime"]).date()
    except (KeyError, ValueError):
        return None


def _backoffs(clock: FakeClock) -> list[float]:
    """Sleeps longer than the rate limiter's own (which never waits a whole second here)."""
    return [s for s in clock.sleeps if s >= 0.5]


def _two_unique_visits(api: FakeYClients, exclude_clients: set[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two attended past single-service records of company 101, each the only record of its visit."""
    visits: dict[tuple, list[dict[str, Any]]] = {}
    for (company, _), record in api.records.items():
        day = _parsed_day(record)
        if company != 101 or not record["client"] or record["deleted"] or len(record["services"]) != 1 or not day:
            continue
        visits.setdefault((record["client"]["id"], record["services"][0]["id"], day), []).append(record)
    unique = [
        rs[0]
        for (client, _, day), rs in visits.items()
        if len(rs) == 1 and rs[0]["attendance"] == 1 and day < AS_OF and client not in exclude_clients
    ]
    return unique[0], unique[-1]


def _visit_count(wh: Warehouse, record: dict[str, Any]) -> int:
    return wh.fetchone(
        "select count(*) from int_visits where company_id = 101 and client_id = %s and service_id = %s"
        " and visit_date = %s",
        [record["client"]["id"], record["services"][0]["id"], _visit_day(record)],
    )[0]


def _future_booking(api: FakeYClients, record_id: int, client_id: int, changed: str) -> dict[str, Any]:
    """A new booking three days after the as-of date, for one of the due clients."""
    template = next(r for (c, _), r in api.records.items() if c == 101 and r["client"] and r["services"])
    booking = copy.deepcopy(template)
    client = {
        "id": client_id,
        "name": api.clients[(101, client_id)]["name"],
        "phone": api.clients[(101, client_id)]["phone"],
    }
    start = datetime.combine(AS_OF + timedelta(days=3), datetime.min.time().replace(hour=12), ZoneInfo("Europe/Moscow"))
    booking.update(
        id=record_id,
        client=client,
        datetime=start.isoformat(),
        attendance=0,
        deleted=False,
        visit_id=record_id + 4000000,
        create_date=changed,
        last_change_date=changed,
    )
    return booking


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_a_user_syncs_from_the_command_line_then_the_daily_flow_syncs_and_sends(
    settings: Settings, api: FakeYClients, data: demo.DemoData, tmp_path: Path, monkeypatch, prefect_server
) -> None:
    from typer.testing import CliRunner

    from reactivation.cli import app
    from reactivation.flows.daily import reactivation_daily

    from .test_cli import env_for

    company_settings = {str(c["company_id"]): {"locale": c["locale"]} for c in data.companies}
    # the fake API has no rate limit and the budget has its own test: YClients' 200 a minute slept ~13 s here
    env = {**env_for(settings), "YCLIENTS_REQUESTS_PER_SECOND": "1000", "YCLIENTS_REQUESTS_PER_MINUTE": "100000",
           "YCLIENTS_BASE_URL": api.base_url, "YCLIENTS_PARTNER_TOKEN": PARTNER,
           "YCLIENTS_USER_TOKEN": USER, "REACTIVATION_COMPANY_SETTINGS": json.dumps(company_settings),
           "REACTIVATION_YCLIENTS_COMPANIES": "101,103", "REACTIVATION_CHANNEL": "log",
           "REACTIVATION_LOG_CHANNEL_PATH": str(tmp_path / "sent.jsonl")}  # fmt: skip
    result = CliRunner().invoke(app, ["ingest", "--from-yclients", "--company", "101", "--since",
                                      SINCE.isoformat()], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PARTNER not in result.output and USER not in result.output
    assert cursors(settings)[(101, "records")]
    assert set(frame(settings, "raw_yclients_records", "distinct company_id")["company_id"]) == {101}

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    summary = reactivation_daily(as_of=AS_OF, now=datetime(2026, 11, 25, 9, tzinfo=UTC))
    assert summary["sync_failed"] == [] and summary["companies"] == [101, 103]  # the flow synced 103 first
    changed_after = [r for r in api.requests("/records/101") if "changed_after" in r.params]
    assert changed_after  # 101 had a cursor: the flow read only its changes
    assert summary["queued"] > 0
