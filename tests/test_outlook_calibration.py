"""The return outlook's calibration: predictions kept per day, compared with who booked within the horizon without a
message, binned in SQL (`outlook_calibration`) and drawn in the outcomes report."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reactivation import dbt, demo, rules
from reactivation.ingest import ingest, sources_from_objects
from reactivation.report import build_report
from reactivation.report.charts import render_charts
from reactivation.report.data import load_report_data
from reactivation.report.i18n import Lang
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, run_models

PREDICTED_ON = AS_OF - timedelta(days=40)  # the day the outlook predicts; the history ends there
CHECKED_ON = PREDICTED_ON + timedelta(days=20)  # a later run: the 14-day horizon of PREDICTED_ON has ended


def booking(record_id: int, company_id: int, client_id: int, service_id: int, created: datetime, deleted: bool) -> dict:
    """A record made after the prediction day, for a visit three days after it was booked."""
    return {
        "id": record_id,
        "company_id": company_id,
        "client": {"id": client_id},
        "staff_id": None,
        "datetime": (created + timedelta(days=3)).isoformat(),
        "services": [{"id": service_id, "title": "услуга", "cost": 1000, "first_cost": 1000, "amount": 1}],
        "attendance": 0,
        "deleted": deleted,
        "create_date": created.isoformat(),
        "last_change_date": created.isoformat(),
    }


def test_calibration_bins_each_prediction_with_what_the_client_did_within_the_horizon(
    settings: Settings, tmp_path: Path
) -> None:
    data = demo.generate(n_clients=240, years=1.5, seed=3, as_of=PREDICTED_ON)
    with Warehouse.connect(settings) as wh:
        objects = sources_from_objects(
            companies=data.companies, services=data.services, clients=data.clients, records=data.records
        )
        ingest(wh, objects, "history")
    run_models(settings, as_of=PREDICTED_ON)
    with Warehouse.connect(settings) as wh:
        predicted = wh.fetchall(
            "select company_id, client_id, service_id, as_of_at, p_return_in_horizon from int_outlook_snapshots"
        )
    assert len(predicted) > 30
    horizon = int(rules.value("outlook_horizon_days"))
    records, booked = [], set()
    next_id = 50_000_000
    for i, (company, client, service, as_of_at, _) in enumerate(sorted(predicted)):
        start = as_of_at if isinstance(as_of_at, datetime) else datetime.fromisoformat(str(as_of_at))
        start = start.astimezone(UTC)
        if i % 3 == 0:  # booked inside the horizon (the very first instant counts)
            created, deleted = start + timedelta(hours=0 if i % 2 else 30), False
            booked.add((company, client))
        elif i % 3 == 1 and i % 2 == 0:  # booked, then cancelled
            created, deleted = start + timedelta(days=2), True
        elif i % 5 == 1:  # booked only once the horizon had passed
            created, deleted = start + timedelta(days=horizon), False
        else:
            continue
        next_id += 1
        records.append(booking(next_id, company, client, service, created, deleted))
    with Warehouse.connect(settings) as wh:
        ingest(wh, sources_from_objects(records=records), "after the prediction")
    run_models(settings, as_of=CHECKED_ON)

    expected: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for company, client, _, _, p in predicted:
        decile = min(max(math.floor(p * 10), 0), 9) + 1
        expected[decile][0] += 1
        expected[decile][1] += p
        expected[decile][2] += (company, client) in booked
    with Warehouse.connect(settings) as wh:
        rows = wh.fetchall(
            "select as_of_date, probability_decile, sum(clients), sum(predicted_sum), sum(booked_clients),"
            " min(observed_share), max(observed_share) from outlook_calibration"
            " group by as_of_date, probability_decile order by probability_decile"
        )
        assert wh.fetchone("select count(distinct as_of_date) from int_outlook_snapshots")[0] == 2
        data_for_report = load_report_data(wh, None, None)
        single = load_report_data(wh, int(predicted[0][0]), CHECKED_ON)  # a later `since`: nothing matured
    assert {str(r[0]) for r in rows} == {PREDICTED_ON.isoformat()}  # the later day's horizon is still open
    got = {int(r[1]): [int(r[2]), float(r[3]), int(r[4])] for r in rows}
    assert sorted(got) == sorted(expected)
    for decile, (clients, p_sum, n_booked) in expected.items():
        assert got[decile][0] == clients and got[decile][2] == n_booked
        assert math.isclose(got[decile][1], p_sum, rel_tol=1e-9, abs_tol=1e-9)
    assert sum(v[2] for v in expected.values()) == len(booked) > 5

    frame = data_for_report.calibration
    assert list(frame["probability_decile"]) == sorted(expected)
    assert list(frame["clients"]) == [expected[d][0] for d in sorted(expected)]
    assert list(frame["booked_clients"]) == [expected[d][2] for d in sorted(expected)]
    assert single.calibration.empty
    charts = {chart.name: chart for chart in render_charts(data_for_report, Lang("en"))}
    caption = charts["calibration"].caption
    total = sum(v[0] for v in expected.values())
    assert f"For {total} due clients" in caption
    assert f"{100 * len(booked) / total:.1f}%" in caption
    empty = {chart.name: chart for chart in render_charts(single, Lang("ru"))}
    assert empty["calibration"].caption.startswith("Данных пока нет")
    with Warehouse.connect(settings) as wh:
        result = build_report(wh, tmp_path / "report")
    assert 'id="calibration"' in result.html_path.read_text(encoding="utf-8")
    assert result.charts["calibration"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checks = dbt.run_dbt(["test", "--select", "outlook_calibration int_outlook_snapshots"], settings, dbt.dbt_vars())
    assert sum(n.resource_type == "unit_test" for n in checks.nodes) == 1  # the binning's edge cases, this engine
    assert all(n.status == "pass" for n in checks.nodes if n.resource_type in ("unit_test", "test"))
