"""Companies in different time zones: local dates, per-company as-of dates, no mixing; a company whose zone is not
an IANA name is held (named by refresh and run) while every other company goes on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from reactivation import demo
from reactivation.cli import app
from reactivation.ingest import ingest, sources_from_objects
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, DUE_MODELS, drop, run_models
from .test_cli import env_for

ZONES = {1: "Europe/Moscow", 2: "America/Los_Angeles"}


def visit(record_id: int, company_id: int, client_id: int, instant: str) -> dict:
    return {
        "id": record_id,
        "company_id": company_id,
        "client": {"id": client_id, "phone": "+79160000000"},
        "datetime": instant,
        "services": [{"id": 50, "title": "Haircut", "cost": 10}],
        "attendance": 1,
        "deleted": False,
        "last_change_date": instant,
    }


def test_same_instant_lands_on_each_company_local_date_and_each_company_gets_its_own_today(settings) -> None:
    companies = [{"company_id": c, "name": f"Salon {c}", "timezone": tz} for c, tz in ZONES.items()]
    # 2026-03-10 21:30 UTC: 11 March in Moscow (00:30), 10 March in Los Angeles (14:30)
    records = [visit(1, 1, 7, "2026-03-10T21:30:00+00:00"), visit(2, 2, 7, "2026-03-10T21:30:00+00:00")]
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(companies=companies, records=records), "tz")
    before = {c: datetime.now(ZoneInfo(tz)).date() for c, tz in ZONES.items()}
    run_models(settings, as_of=None, select="+reactivation_intervals")  # no as-of var: each company's today
    after = {c: datetime.now(ZoneInfo(tz)).date() for c, tz in ZONES.items()}
    with Warehouse.connect(settings) as wh:
        dates = dict(wh.fetchall("select company_id, visit_date from appointments_cache"))
        as_of = dict(wh.fetchall("select company_id, as_of_date from int_companies_as_of"))
        intervals = wh.fetchall("select company_id, client_id, last_visit_date from reactivation_intervals order by 1")
    assert dates[1].isoformat() == "2026-03-11" and dates[2].isoformat() == "2026-03-10"
    for company in ZONES:
        assert as_of[company] in (before[company], after[company])
    # the same client id in two companies stays two clients
    assert [(c, k) for c, k, _ in intervals] == [(1, 7), (2, 7)]


# ---------- a company whose time zone is not an IANA name is held; every other company goes on
BAD_ZONES = {901: "Moscow", 902: "UTC+3"}  # "Moscow" fails in SQL; "UTC+3" passes it, with opposite signs


def with_bad_zone_companies(data: demo.DemoData) -> dict[str, list[dict]]:
    """The demo data plus copies of company 101 under ids 901 and 902, whose time zones are not IANA names."""
    entities = {e: list(getattr(data, e)) for e in ("companies", "services", "clients", "records")}
    for company_id, zone in BAD_ZONES.items():
        for entity, objects in entities.items():
            objects += [
                obj | {"company_id": company_id} | ({"timezone": zone} if entity == "companies" else {})
                for obj in getattr(data, entity)
                if obj["company_id"] == 101
            ]
    return entities


def load(settings: Settings, entities: dict[str, list[dict]]) -> dict[int, str]:
    with Warehouse.connect(settings) as wh:
        return ingest(wh, sources_from_objects(**entities), "tz").held


def due_rows(settings: Settings) -> list[tuple]:
    with Warehouse.connect(settings) as wh:
        return wh.fetchall("select * from due_clients order by company_id, client_id, service_id")


def flat(text: str) -> str:
    return " ".join(text.split())  # the console wraps long lines


def test_refresh_holds_a_company_with_a_non_iana_zone_fails_naming_it_and_the_others_are_unchanged(
    settings: Settings,
) -> None:
    data = demo.generate(n_clients=150, years=2, seed=4, as_of=AS_OF)
    # the baseline first, in the same warehouse (a second one would cost dbt a full parse): the data without them
    load(settings, {e: getattr(data, e) for e in ("companies", "services", "clients", "records")})
    run_models(settings, select=DUE_MODELS)
    baseline = due_rows(settings)
    drop(settings)
    held = load(settings, with_bad_zone_companies(data))
    assert set(held) == set(BAD_ZONES)

    refreshed = CliRunner().invoke(app, ["refresh", "--as-of", AS_OF.isoformat()], env=env_for(settings))
    assert refreshed.exit_code == 1, refreshed.output
    output = flat(refreshed.output)
    assert "dbt build on" in output  # the build itself (models and their tests) went through
    for company_id, zone in BAD_ZONES.items():
        assert f"company {company_id} is held: time zone '{zone}' is not an IANA time zone name" in output
    assert "company 101" not in output

    assert due_rows(settings) == baseline != []
    with Warehouse.connect(settings) as wh:
        health = {r[0]: r[1:] for r in wh.fetchall("select company_id, is_held, timezone_error from company_health")}
        companies = wh.fetchall("select company_id, timezone, as_of_date from int_companies_as_of where is_held")
        intervals = wh.fetchone("select count(*) from reactivation_intervals where company_id in (901, 902)")[0]
    assert {c: h[0] for c, h in health.items()} == {101: False, 102: False, 103: False, 901: True, 902: True}
    assert health[902][1] == held[902] and health[101][1] is None
    assert sorted(companies) == [(901, None, None), (902, None, None)]  # no model converts with the bad zone
    assert intervals == 0


def test_daily_run_sends_for_every_other_company_and_fails_naming_the_held_one(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None
) -> None:
    for name, value in env_for(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REACTIVATION_CHANNEL", "log")
    monkeypatch.setenv("REACTIVATION_LOG_CHANNEL_PATH", str(tmp_path / "sent.jsonl"))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    load(settings, with_bad_zone_companies(demo.generate(n_clients=150, years=2, seed=4, as_of=AS_OF)))

    ran = CliRunner().invoke(app, ["run", "--as-of", AS_OF.isoformat()])
    assert ran.exit_code == 1, ran.output
    output = flat(ran.output)
    assert "company 901 is held: time zone 'Moscow'" in output
    assert "company 902 is held: time zone 'UTC+3'" in output
    with Warehouse.connect(settings) as wh:
        queued = {c for (c,) in wh.fetchall("select distinct company_id from reactivation_messages")}
        gated = {c for (c,) in wh.fetchall("select company_id from reactivation_quality_reports where success")}
    assert queued == gated == {101, 102, 103}  # the others passed their gate and queued their messages
