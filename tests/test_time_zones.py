"""Two companies in different time zones: local dates, per-company as-of dates, no mixing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reactivation.ingest import ingest, sources_from_objects
from reactivation.warehouse import Warehouse

from .conftest import run_models

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
    run_models(settings, as_of=None)  # no as-of var: today in each company's zone
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
