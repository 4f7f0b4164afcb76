"""The SQL models equal an independent pandas computation of docs/rules.md on generated data, on both engines."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reactivation import demo
from reactivation.cli import app
from reactivation.ingest import ingest, sources_from_objects
from reactivation.warehouse import Warehouse

from .conftest import AS_OF
from .reference import DUE_COLUMNS, EXCLUSION_COLUMNS, INTERVAL_COLUMNS, compute
from .test_cli import env_for

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def normalised(frame: pd.DataFrame, columns: list[str], keys: list[str]) -> pd.DataFrame:
    out = frame[columns].copy()
    for column in out.columns:
        if column.endswith("_date") or column == "cycle_id":
            out[column] = pd.to_datetime(out[column]).dt.date
        elif column == "overdue_ratio":
            out[column] = out[column].astype(float).round(9)
        elif column.endswith(("_id", "_days", "_count")) or column == "days_since":
            out[column] = out[column].astype("int64")
        else:
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.sort_values(keys).reset_index(drop=True)


@pytest.fixture
def demo_data() -> demo.DemoData:
    return demo.generate(n_clients=700, years=3, seed=11, as_of=AS_OF)


def test_due_clients_and_intervals_equal_independent_pandas_computation(settings, demo_data, engine) -> None:
    with Warehouse.connect(settings) as wh:
        ingest(
            wh,
            sources_from_objects(
                companies=demo_data.companies,
                services=demo_data.services,
                clients=demo_data.clients,
                records=demo_data.records,
            ),
            "demo",
        )
    # every check the daily run skips, as a user asks for it: every data test and the dbt unit tests
    refresh = ["refresh", "--as-of", AS_OF.isoformat(), "--all-checks"]
    everything = CliRunner().invoke(app, refresh, env=env_for(settings))
    assert everything.exit_code == 0, everything.output
    assert "unit_test" in everything.output
    data_tests = re.search(r"(\d+) test\b", everything.output)  # "(3 seed, 49 model, 255 test, 11 unit_test)"
    assert data_tests and int(data_tests.group(1)) > 150, everything.output

    expected = compute(
        demo_data.companies,
        demo_data.services,
        demo_data.clients,
        demo_data.records,
        str(SEEDS / "industry_standards.csv"),
        str(SEEDS / "service_category_rules.csv"),
        AS_OF,
    )
    with Warehouse.connect(settings) as wh:
        intervals = wh.query_df("select * from reactivation_intervals")
        due = wh.query_df("select * from due_clients")
        exclusions = wh.query_df("select * from due_client_exclusions")

    # the generated data exercises every level, tone and most reasons, or the comparison proves little
    assert set(intervals["interval_level"]) == {"personal", "service", "industry", "fallback"}
    assert set(due["tone"]) == {"gentle", "offer", "win_back"}
    assert {"future_booking", "invalid_phone", "client_deleted", "opted_out"} <= set(exclusions["reason"])
    assert len(due) > 50

    keys3 = ["company_id", "client_id", "service_id"]
    pd.testing.assert_frame_equal(
        normalised(intervals, INTERVAL_COLUMNS, keys3), normalised(expected.intervals, INTERVAL_COLUMNS, keys3)
    )
    pd.testing.assert_frame_equal(
        normalised(due, DUE_COLUMNS, ["company_id", "client_id"]),
        normalised(expected.due, DUE_COLUMNS, ["company_id", "client_id"]),
    )
    pd.testing.assert_frame_equal(
        normalised(exclusions, EXCLUSION_COLUMNS, ["company_id", "client_id", "reason"]),
        normalised(expected.exclusions, EXCLUSION_COLUMNS, ["company_id", "client_id", "reason"]),
    )
    assert set(due["as_of_date"].astype(str)) == {date(2026, 11, 25).isoformat()}
