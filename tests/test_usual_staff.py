"""The master a client likes: staff read from YClients and from files, the usual master chosen in SQL, and messages
that name them (never a fired one) and book with them when the company has a per-master booking link."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reactivation import campaign, dbt, demo, outbox
from reactivation.ingest import ingest, ingest_dir, sources_from_objects
from reactivation.messages import render
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, prebuilt, run_models
from .test_yclients import PARTNER, USER, FakeClock, client_for
from .yclients_server import NOT_JSON, FakeYClients

PATTERN = "https://n{company_id}.yclients.com/company/{company_id}/record-type?o=m{staff_id}"
WINDOW_DAYS = 365  # the var usual_staff_window_days as dbt_project.yml sets it


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(n_clients=90, years=1.5, seed=5, as_of=AS_OF)


def staff_of(data: demo.DemoData) -> list[dict[str, Any]]:
    """A staff list naming every master the records name; every third one (by id) fired."""
    ids = sorted({(r["company_id"], r["staff_id"]) for r in data.records if r.get("staff_id") is not None})
    return [
        {"company_id": c, "id": s, "name": f"Мастер {s}", "specialization": "стилист", "fired": int(s % 3 == 0)}
        for c, s in ids
    ]


def usual_masters(data: demo.DemoData, as_of: date) -> dict[tuple[int, int], int]:
    """The rule recomputed from the JSON: most attended visits (distinct local dates) in the window, ties to the
    latest visit, then the lowest staff id."""
    final: dict[tuple[int, int], dict[str, Any]] = {}
    for record in data.records:  # older versions first
        final[(record["company_id"], record["id"])] = record
    visits: dict[tuple[int, int, int], set[date]] = defaultdict(set)
    for record in final.values():
        client, staff = (record.get("client") or {}).get("id"), record.get("staff_id")
        if client is None or staff is None or record.get("attendance") != 1 or record.get("deleted"):
            continue
        try:
            day = datetime.fromisoformat(record["datetime"]).date()  # written in the company's own offset
        except (KeyError, TypeError, ValueError):
            continue
        if 1 <= (as_of - day).days <= WINDOW_DAYS:
            visits[(record["company_id"], client, staff)].add(day)
    best: dict[tuple[int, int], tuple[int, date, int]] = {}
    for (company, client, staff), days in visits.items():
        score = (len(days), max(days), -staff)
        if (company, client) not in best or score > best[(company, client)]:
            best[(company, client)] = score
    return {key: -score[2] for key, score in best.items()}


@pytest.fixture
def built(settings: Settings, data: demo.DemoData) -> Settings:
    """The demo objects plus a staff list and a per-master booking pattern, models built (once per engine)."""

    def build(target: Settings) -> None:
        companies = [dict(c, staff_booking_url=PATTERN) for c in data.companies]
        with Warehouse.connect(target) as wh:
            objects = sources_from_objects(
                companies=companies, services=data.services, staff=staff_of(data), clients=data.clients,
                records=data.records,
            )  # fmt: skip
            ingest(wh, objects, "usual staff test")
        run_models(target, select="+message_candidates")  # what the tests read: the candidates and their parents

    prebuilt(settings, "usual_staff", build)
    return settings


def candidates(settings: Settings) -> list[dict[str, Any]]:
    with Warehouse.connect(settings) as wh:
        found = wh.fetchall(
            "select company_id, client_id, usual_staff_id, usual_staff_name, booking_url from message_candidates"
        )
        companies = {c: url for c, url in wh.fetchall("select company_id, booking_url from stg_yclients__companies")}
        read = outbox.read_candidates(wh, sorted(companies))
    by_key = {(r["company_id"], r["client_id"]): r for r in read}
    rows = []
    for values in found:
        row = dict(zip(("company_id", "client_id", "usual_staff_id", "usual_staff_name", "booking_url"), values))
        row["general_url"] = companies[row["company_id"]]
        row["candidate"] = by_key.get((row["company_id"], row["client_id"]))
        rows.append(row)
    return rows


def test_message_candidates_carry_the_usual_master_as_the_rule_picks_them(built: Settings, data: demo.DemoData) -> None:
    expected = usual_masters(data, AS_OF)
    rows = candidates(built)
    assert len(rows) > 10
    fired = {s["id"] for s in staff_of(data) if s["fired"]}
    for row in rows:
        key = (row["company_id"], row["client_id"])
        master = row["usual_staff_id"]
        assert master == expected.get(key), key
        if master is None or master in fired:
            assert row["usual_staff_name"] is None
            assert row["booking_url"] == row["general_url"]
        else:
            assert row["usual_staff_name"] == f"Мастер {master}"
            assert row["booking_url"] == PATTERN.format(company_id=row["company_id"], staff_id=master)
    named = [r for r in rows if r["usual_staff_name"]]
    unnamed_fired = [r for r in rows if r["usual_staff_name"] is None and r["usual_staff_id"] in fired]
    assert named and unnamed_fired  # both cases are exercised


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_message_names_the_usual_master_and_books_with_them_but_never_names_a_fired_one(
    built: Settings, locale: str
) -> None:
    rows = [r for r in candidates(built) if r["candidate"] is not None]
    fired = [r for r in rows if r["usual_staff_id"] is not None and r["usual_staff_name"] is None]
    named = [r for r in rows if r["usual_staff_name"]]
    assert named and fired
    for variant_a in (True, False):
        for row in (named[0], fired[0]):
            candidate = dict(row["candidate"], locale=locale, variant="a" if variant_a else "b")
            for tone in ("gentle", "offer", "win_back", "rebook"):  # rebook: the reminder campaign's templates
                text = render.render_template(campaign._request(dict(candidate, tone=tone)))
                assert candidate["booking_url"] in text
                assert "None" not in text
                master = row["usual_staff_name"]
                if master and variant_a:  # every tone's variant a names the master
                    assert master in text
                    marker = "к вашему мастеру" if locale == "ru" else f"with {master}"
                    assert (marker in text) or (f"вашего мастера ({master})" in text), text
                if not master:  # nobody named: not the fired master, no "к вашему мастеру", no "with None"
                    assert f"Мастер {row['usual_staff_id']}" not in text and "вашему мастеру" not in text, text
                    assert "вашего мастера" not in text and " with " not in text, text
    params = json.loads(outbox.template_params(named[0]["candidate"], "Анна"))
    assert params["master"] == named[0]["usual_staff_name"]
    assert params["booking_url"] == named[0]["booking_url"] != named[0]["general_url"]
    assert json.loads(outbox.template_params(fired[0]["candidate"], "Анна"))["master"] is None


def test_the_usual_master_unit_test_passes_on_both_engines(built: Settings) -> None:
    outcome = dbt.run_dbt(
        ["test", "--select", "int_client_usual_staff,resource_type:unit_test"], built, dbt.dbt_vars(AS_OF)
    )
    ran = [n for n in outcome.nodes if n.resource_type == "unit_test"]
    assert len(ran) == 1 and ran[0].status == "pass"


def test_the_sync_reads_the_staff_list_and_keeps_it_when_a_later_read_fails(
    settings: Settings, data: demo.DemoData
) -> None:
    clock = FakeClock()
    with FakeYClients(data, partner_token=PARTNER, user_token=USER) as api:
        api.clock = clock
        first = next(iter(api.staff))
        api.staff[first]["fired"] = 1
        own = {s: v for (c, s), v in api.staff.items() if c == 101}
        with Warehouse.connect(settings) as wh, client_for(api, clock, data) as client:
            report = campaign_sync(wh, client)
            assert report.error is None and report.staff == len(own) > 0
            calls = api.requests("/company/101/staff")
            assert [c.status for c in calls] == [200]
            rows = wh.fetchall("select id, name, specialization, fired from raw_yclients_staff where company_id = 101")
            assert {r[0]: (r[1], r[2], r[3]) for r in rows} == {
                s: (v["name"], "мастер", bool(v["fired"])) for s, v in own.items()
            }
            api.fail("GET", "/company/101/staff", [NOT_JSON] * 6)  # malformed after every retry
            again = campaign_sync(wh, client)
            assert again.error is None and any("staff list not read" in w for w in again.warnings)
            assert wh.fetchone("select count(*) from raw_yclients_staff where company_id = 101")[0] == len(own)


def campaign_sync(wh: Warehouse, client: Any) -> Any:
    from reactivation.yclients import sync_company

    return sync_company(wh, client, 101, AS_OF - timedelta(days=400), until=AS_OF + timedelta(days=30))


def test_file_ingest_loads_staff_and_reports_each_bad_line(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "companies.jsonl").write_text(
        json.dumps({"company_id": 7, "name": "Лаванда", "timezone": "Europe/Moscow", "staff_booking_url": PATTERN})
        + "\n",
        encoding="utf-8",
    )
    lines = [
        json.dumps({"id": 1, "company_id": 7, "name": "Анна", "specialization": "парикмахер", "fired": 0}),
        '{"id": 2, "company_id": 7, "name": "Ольга"',  # not JSON
        json.dumps({"id": 3, "company_id": 7, "name": "Ирина", "fired": "maybe"}),
        json.dumps({"company_id": 7, "name": "без id"}),
        json.dumps({"id": 5, "company_id": 7, "name": "Дарья", "fired": 1}),
        json.dumps(["not", "an", "object"]),
    ]
    (folder / "staff.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Warehouse.connect(settings) as wh:
        report = ingest_dir(wh, folder)
        rows = wh.fetchall("select id, name, specialization, fired from raw_yclients_staff order by id")
        stored = wh.fetchall("select file, line, reason from raw_ingest_rejects order by line")
        pattern = wh.fetchone("select staff_booking_url from raw_yclients_companies where company_id = 7")[0]
    assert rows == [(1, "Анна", "парикмахер", False), (5, "Дарья", None, True)]
    assert report.loaded["staff"] == 2
    reasons = {(r.file, r.line): r.reason for r in report.rejects}
    assert set(reasons) == {("staff.jsonl", 2), ("staff.jsonl", 3), ("staff.jsonl", 4), ("staff.jsonl", 6)}
    assert reasons[("staff.jsonl", 2)].startswith("invalid JSON")
    assert "fired" in reasons[("staff.jsonl", 3)]
    assert reasons[("staff.jsonl", 4)] == "missing id"
    assert reasons[("staff.jsonl", 6)] == "not a JSON object"
    assert [(f, line) for f, line, _ in stored] == sorted(reasons)
    assert pattern == PATTERN


def test_the_reference_counts_same_day_records_as_one_visit() -> None:
    """The Python reference above counts distinct local dates, like the model (same-day records are one visit)."""
    data = replace(demo.generate(n_clients=5, years=0.5, seed=1, as_of=AS_OF, n_companies=1), records=[])
    stub = {"id": 1, "name": "A", "phone": "+79990000000"}
    base = {"company_id": 101, "client": stub, "attendance": 1, "deleted": False}
    data.records.extend(
        [
            {**base, "id": 1, "staff_id": 10, "datetime": "2026-11-01T10:00:00+03:00"},
            {**base, "id": 2, "staff_id": 10, "datetime": "2026-11-01T15:00:00+03:00"},
            {**base, "id": 3, "staff_id": 20, "datetime": "2026-10-01T10:00:00+03:00"},
            {**base, "id": 4, "staff_id": 20, "datetime": "2026-09-01T10:00:00+03:00"},
        ]
    )
    assert usual_masters(data, AS_OF) == {(101, 1): 20}
    assert Counter(usual_masters(data, date(2026, 9, 2)).values()) == Counter({20: 1})
