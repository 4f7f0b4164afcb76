"""The return outlook: the SQL Erlang survival and P(active) equal scipy on a grid, on both engines; the model's
columns follow the documented formulas on generated data; the offline dropout fit recovers a known p."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reactivation import dbt, demo, outlook
from reactivation.ingest import ingest, sources_from_objects
from reactivation.warehouse import Warehouse

from .conftest import AS_OF

SHAPES = [1, 2, 3, 5, 8, 13, 21, 30]
INTERVALS = [7, 21, 35, 90, 365]
DAYS = [0, 1, 6, 30, 59, 200, 365, 1095]
DROPOUTS = [0.0, 0.03, 0.3]
HORIZON = 14


def grid() -> pd.DataFrame:
    rows = itertools.product(SHAPES, INTERVALS, DAYS, DROPOUTS)
    return pd.DataFrame(rows, columns=["k", "interval_days", "days", "p"])


def compiled_sql(settings, inline: str) -> str:
    """The SQL dbt compiles from an inline query using the project's macros."""
    outcome = dbt.run_dbt(["compile", "--inline", inline], settings)
    return outcome.raw.results[0].node.compiled_code


def grid_query(frame: pd.DataFrame) -> str:
    values = ",\n".join(f"({r.k}, {r.interval_days}, {r.days}, {r.p})" for r in frame.itertuples())
    return f"""
with grid as (
    select * from (values {values}) as g(k, interval_days, days, p)
),
scaled as (
    select
        *,
        cast(k as double precision) * days / interval_days as x,
        cast(k as double precision) * (days + {HORIZON}) / interval_days as x_horizon
    from grid
),
survival as (
    select
        *,
        {{{{ erlang_survival('k', 'x') }}}} as s,
        {{{{ erlang_survival_ratio('k', 'x', 'x_horizon') }}}} as ratio
    from scaled
)
select k, interval_days, days, p, s, ratio, {{{{ outlook_p_active('p', 's') }}}} as p_active
from survival
order by k, interval_days, days, p
"""


def test_sql_erlang_survival_and_p_active_equal_scipy_on_a_grid(settings, warehouse) -> None:
    frame = grid()
    sql = compiled_sql(settings, grid_query(frame))
    got = warehouse.query_df(sql).astype(float)
    assert len(got) == len(frame)

    scale = got["interval_days"] / got["k"]
    survival = stats.gamma.sf(got["days"], got["k"], scale=scale)
    later = stats.gamma.sf(got["days"] + HORIZON, got["k"], scale=scale)
    p = got["p"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        active = np.where(p == 0, 1.0, (1 - p) * survival / ((1 - p) * survival + p))
        ratio = later / survival

    np.testing.assert_allclose(got["s"], survival, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(got["p_active"], active, rtol=1e-9, atol=1e-300)
    # the conditional survival stays finite where S(t) underflows; compare it where scipy can still divide
    assert np.isfinite(got["ratio"]).all() and ((got["ratio"] > 0) & (got["ratio"] <= 1 + 1e-12)).all()
    comparable = survival > 1e-290
    assert comparable.sum() > 0.8 * len(frame)
    np.testing.assert_allclose(got["ratio"][comparable], ratio[comparable], rtol=1e-8)
    # the grid reaches the underflow the SQL must survive (e^-x floored, no PostgreSQL underflow error)
    assert (survival < 1e-300).any()


def test_scipy_helpers_match_the_documented_formulas() -> None:
    """outlook.erlang_survival is the Poisson sum; p_active is 1 when nobody drops out."""
    x = np.array([0.0, 0.5, 3.0, 40.0])
    for k in (1, 4, 30):
        poisson = sum(np.exp(-x) * x**i / math.factorial(i) for i in range(k))
        np.testing.assert_allclose(outlook.erlang_survival(k, x), poisson, rtol=1e-12)
    assert outlook.p_active(0.0, np.array([0.0, 0.5]))[1] == 1.0
    np.testing.assert_allclose(outlook.p_active(0.2, 0.5), 0.8 * 0.5 / (0.8 * 0.5 + 0.2))


def test_dropout_fit_recovers_the_per_visit_probability_of_simulated_histories() -> None:
    """Clients with Erlang gaps who stop after each visit with p = 0.12, observed at a cut: the MLE finds p."""
    rng = np.random.default_rng(7)
    true_p, k, mean, clients = 0.12, 4, 30.0, 6000
    counts, since = np.empty(clients), np.empty(clients)
    for i in range(clients):
        start = rng.uniform(0, 900)
        day, n = start, 1
        while True:
            if rng.random() < true_p:
                break
            gap = rng.gamma(k, mean / k)
            if day + gap > 1000:
                break
            day, n = day + gap, n + 1
        counts[i], since[i] = n, 1000 - day
    survival = outlook.erlang_survival(k, k * since / mean)
    assert outlook.fit_dropout(counts, survival) == pytest.approx(true_p, abs=0.01)


@pytest.fixture
def built(settings) -> Warehouse:
    data = demo.generate(n_clients=300, years=3, seed=5, as_of=AS_OF)
    with Warehouse.connect(settings) as wh:
        ingest(
            wh,
            sources_from_objects(
                companies=data.companies, services=data.services, clients=data.clients, records=data.records
            ),
            "demo",
        )
    dbt.run_dbt(["seed"], settings)
    dbt.run_dbt(["run", "--select", "+reactivation_intervals", "+due_clients"], settings, dbt.dbt_vars(AS_OF))
    return settings


def test_outlook_columns_follow_the_erlang_and_activity_formulas_on_generated_data(built) -> None:
    with Warehouse.connect(built) as wh:
        rows = wh.query_df("select * from reactivation_intervals")
        raw = wh.query_df(
            "select company_id, client_id, service_id, valid_interval_count, client_cv2, pool_cv2 "
            "from int_return_outlook"
        )
        due = wh.query_df("select tone, p_winback_needed, predicted_segment from due_clients")
    assert rows["p_active"].notna().all() and len(rows) > 300
    assert set(rows["regularity_shape"]) - {1} and rows["regularity_shape"].between(1, 30).all()

    k = rows["regularity_shape"].astype(float)
    scale = rows["interval_days"].astype(float) / k
    t = rows["days_since"].astype(float)
    s = stats.gamma.sf(t, k, scale=scale)
    p = rows["dropout_probability"].astype(float)
    active = (1 - p) * s / ((1 - p) * s + p)
    np.testing.assert_allclose(rows["p_not_returned_yet"].astype(float), s, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(rows["p_active"].astype(float), active, rtol=1e-9, atol=1e-300)
    later = stats.gamma.sf(t + HORIZON, k, scale=scale)
    ok = s > 1e-200
    np.testing.assert_allclose(
        rows["p_winback_needed"][ok].astype(float), (active * later / s)[ok], rtol=1e-8, atol=1e-150
    )
    expected_next = pd.to_datetime(rows["last_visit_date"]) + pd.to_timedelta(rows["interval_days"], unit="D")
    assert (pd.to_datetime(rows["expected_next_visit_date"]) == expected_next).all()

    shapes = outlook.regularity_shape(raw["valid_interval_count"], raw["client_cv2"], raw["pool_cv2"])
    merged = rows.merge(raw.assign(expected_shape=shapes), on=["company_id", "client_id", "service_id"])
    assert (merged["regularity_shape"].astype(float) == merged["expected_shape"]).all()

    bounds = dbt.var_value("predicted_segment_bounds")
    segment = np.select(
        [due["p_winback_needed"] < bounds[0], due["p_winback_needed"] < bounds[1]], ["low", "medium"], "high"
    )
    assert (due["predicted_segment"] == segment).all() and len(due) > 20


def test_dropout_fit_reads_the_mart_and_gives_each_large_company_a_row(built) -> None:
    with Warehouse.connect(built) as wh:
        histories = outlook.read_histories(wh)
    fitted = outlook.fit_companies(histories, min_histories=50)
    assert fitted["company_id"].isna().sum() == 1  # the default row
    assert set(fitted["company_id"].dropna()) == {
        c for c, n in histories.groupby("company_id").size().items() if n >= 50
    }
    assert fitted["dropout_probability"].between(0.001, 0.5).all()
