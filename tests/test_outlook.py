"""The return outlook: the SQL predictive survival, its horizon ratio, P(active) and the dropout before the next
visit equal scipy on a grid, on both engines; the closed forms equal numerical integrals; the model's columns follow
the documented formulas on generated data; the offline fit recovers known parameters."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from reactivation import dbt, demo, outlook
from reactivation.ingest import ingest, sources_from_objects
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

from .conftest import AS_OF, prebuilt

SHAPES = [1, 2, 3, 5, 8, 13, 21, 30]
INTERVALS = [7, 35, 90, 365]
DAYS = [0, 1, 6, 30, 59, 200, 1095]
RATES = [0.0, 0.0005, 0.01]
PRIORS = [(0.3, 0), (2.0, 1), (20.0, 12)]  # (r, n): a wide prior alone, a little history, a long one
HORIZON = 14


def grid() -> pd.DataFrame:
    """k, the rate posterior (a, β) of a client with n intervals at the mean, days t and dropout rate μ."""
    rows = []
    for k, interval, t, mu, (r, n) in itertools.product(SHAPES, INTERVALS, DAYS, RATES, PRIORS):
        a, beta = outlook.rate_posterior(k, n, n * interval, interval, r)
        rows.append((k, float(a), float(beta), t, mu))
    return pd.DataFrame(rows, columns=["k", "a", "beta", "days", "mu"])


def compiled_sql(settings, inline: str) -> str:
    """The SQL dbt compiles from an inline query using the project's macros."""
    outcome = dbt.run_dbt(["compile", "--inline", inline], settings)
    return outcome.raw.results[0].node.compiled_code


def grid_query(frame: pd.DataFrame) -> str:
    values = ",\n".join(f"({r.k}, {r.a!r}, {r.beta!r}, {r.days}, {r.mu!r})" for r in frame.itertuples())
    return f"""
with grid as (
    select
        cast(k as integer) as k,
        cast(a as double precision) as a,
        cast(beta as double precision) as beta,
        cast(days as integer) as days,
        cast(mu as double precision) as mu
    from (values {values}) as g(k, a, beta, days, mu)
),
survival as (
    select
        *,
        {{{{ outlook_predictive_survival('k', 'a', 'beta', 'days') }}}} as s,
        {{{{ outlook_predictive_survival_ratio('k', 'a', 'beta', 'days', 'days + {HORIZON}') }}}} as ratio
    from grid
)
select
    k, a, beta, days, mu, s, ratio,
    {{{{ outlook_p_active('k', 'a', 'beta', 'days', 'mu', 's') }}}} as p_active,
    {{{{ outlook_dropout_before_next_visit('k', 'a', 'beta', 'mu') }}}} as dropout
from survival
order by k, a, beta, days, mu
"""


def test_sql_outlook_formulas_equal_scipy_on_a_grid(settings, warehouse) -> None:
    frame = grid()
    sql = compiled_sql(settings, grid_query(frame))
    got = warehouse.query_df(sql).astype(float)
    assert len(got) == len(frame)
    k, a, beta = got["k"], got["a"], got["beta"]
    t, mu = got["days"], got["mu"]

    survival = stats.nbinom.cdf(k - 1, a, beta / (beta + t))
    later = stats.nbinom.cdf(k - 1, a, beta / (beta + t + HORIZON))
    lam = a / beta
    stopped = np.maximum(
        1
        - (lam / (lam + mu)) ** k * (1 - stats.gamma.sf(t, k, scale=1 / (lam + mu)))
        - np.exp(-mu * t) * stats.gamma.sf(t, k, scale=1 / lam),
        0,
    )
    alive = np.exp(-mu * t) * survival
    with np.errstate(invalid="ignore", divide="ignore"):
        active = np.where(mu == 0, 1.0, np.where(alive > 0, alive / (alive + stopped), 0.0))
        ratio = later / survival

    np.testing.assert_allclose(got["s"], survival, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(got["p_active"], active, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(got["dropout"], 1 - (lam / (lam + mu)) ** k, rtol=1e-9, atol=1e-15)
    assert ((got["p_active"] >= 0) & (got["p_active"] <= 1)).all()
    # the horizon ratio stays finite where S̃(t) underflows; compare it where scipy can still divide
    assert np.isfinite(got["ratio"]).all() and ((got["ratio"] > 0) & (got["ratio"] <= 1 + 1e-12)).all()
    comparable = survival > 1e-290
    assert comparable.sum() > 0.8 * len(frame)
    np.testing.assert_allclose(got["ratio"][comparable], ratio[comparable], rtol=1e-8)
    # the grid reaches the underflow the SQL must survive (exponents floored, no PostgreSQL underflow error)
    assert (survival < 1e-300).any()


def test_closed_forms_equal_their_integrals() -> None:
    """S̃ is the Erlang survival averaged over the rate's Gamma; the stopped share is ∫₀ᵗ μe^(-μu) S(u) du; with
    μ = 0 every silent client is active; the dropout before the next visit is P(death before an Erlang gap)."""
    for k, a, beta, t, mu in [
        (1, 0.7, 20.0, 45.0, 0.002),
        (4, 24.0, 180.0, 30.0, 0.001),
        (30, 380.0, 400.0, 20.0, 0.01),
    ]:
        averaged, _ = integrate.quad(
            lambda lam, k=k, a=a, beta=beta, t=t: (
                stats.gamma.sf(t, k, scale=1 / lam) * stats.gamma.pdf(lam, a, scale=1 / beta)
            ),
            0,
            np.inf,
            epsabs=1e-12,
        )
        assert outlook.predictive_survival(k, a, beta, t) == pytest.approx(averaged, rel=1e-7)
        lam = a / beta
        stopped, _ = integrate.quad(
            lambda u, k=k, lam=lam, mu=mu: mu * np.exp(-mu * u) * stats.gamma.sf(u, k, scale=1 / lam),
            0,
            t,
            epsabs=1e-14,
        )
        assert outlook.stopped_before_return(k, a, beta, t, mu) == pytest.approx(stopped, rel=1e-7)
        before, _ = integrate.quad(
            lambda u, k=k, lam=lam, mu=mu: (1 - np.exp(-mu * u)) * stats.gamma.pdf(u, k, scale=1 / lam), 0, np.inf
        )
        assert outlook.dropout_before_next_visit(k, a, beta, mu) == pytest.approx(before, rel=1e-6)
    assert outlook.p_active(3, 30.0, 300.0, np.array([0.0, 500.0]), 0.0, np.array([1.0, 1e-9]))[1] == 1.0


def simulated_histories(prior_shape: float, rate: float, clients: int = 5000, seed: int = 7) -> pd.DataFrame:
    """Clients with Erlang(4) gaps around a 30-day mean, rates Gamma(r) across clients, who stop at rate μ per
    day, observed at day 1000: what read_histories returns."""
    rng = np.random.default_rng(seed)
    k, mean = 4, 30.0
    rows = []
    for _ in range(clients):
        lam = rng.gamma(prior_shape, k / mean / prior_shape)
        first = rng.uniform(0, 950)
        end = min(first + rng.exponential(1 / rate), 1000.0)
        day, gaps = first, []
        while True:
            gap = rng.gamma(k, 1 / lam)
            if day + gap > end:
                break
            day += gap
            gaps.append(gap)
        rows.append((1, k, len(gaps), sum(gaps), mean, day - first, 1000.0 - day))
    columns = ["company_id", "regularity_shape", "valid_interval_count", "interval_sum_days", "prior_mean_days"]
    return pd.DataFrame(rows, columns=columns + ["active_span_days", "days_since"])


def test_joint_fit_recovers_rate_spread_and_dropout_rate_of_simulated_histories() -> None:
    histories = simulated_histories(prior_shape=6.0, rate=0.002)
    r, mu = outlook.fit_parameters(histories)
    assert r == pytest.approx(6.0, rel=0.25)
    assert mu == pytest.approx(0.002, rel=0.15)


def build_outlook_warehouse(settings: Settings) -> None:
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


@pytest.fixture
def built(settings: Settings) -> Settings:
    """The models up to due clients on generated data; both tests only read it, so it is built once per engine."""
    prebuilt(settings, "outlook", build_outlook_warehouse)
    return settings


def test_outlook_columns_follow_the_documented_formulas_on_generated_data(built) -> None:
    with Warehouse.connect(built) as wh:
        rows = wh.query_df("select * from reactivation_intervals")
        raw = wh.query_df("select * from int_return_outlook")
        seed = wh.query_df("select * from outlook_dropout where company_id is null")
        due = wh.query_df("select tone, p_winback_needed, predicted_segment from due_clients")
    assert rows["p_active"].notna().all() and len(rows) > 300
    assert set(rows["regularity_shape"]) - {1} and rows["regularity_shape"].between(1, 30).all()

    outlook_rows = rows.merge(raw, on=["company_id", "client_id", "service_id"], suffixes=("", "_raw"))
    assert len(outlook_rows) == len(rows)
    o = outlook_rows.astype({c: float for c in ["regularity_shape", "valid_interval_count", "days_since"]})
    r = float(seed["rate_prior_shape"].iloc[0])
    mu = float(seed["dropout_rate_per_day"].iloc[0])
    np.testing.assert_allclose(o["rate_prior_shape"].astype(float), r)
    np.testing.assert_allclose(o["dropout_rate_per_day"].astype(float), mu)
    np.testing.assert_allclose(o["dropout_probability"].astype(float), o["dropout_probability_raw"].astype(float))
    a, beta = outlook.rate_posterior(
        o["regularity_shape"], o["valid_interval_count"], o["interval_sum_days"], o["prior_mean_days"].astype(float), r
    )
    np.testing.assert_allclose(o["rate_shape"].astype(float), a, rtol=1e-12)
    np.testing.assert_allclose(o["rate_scale_days"].astype(float), beta, rtol=1e-12)
    np.testing.assert_allclose(o["mean_return_days"].astype(float), o["regularity_shape"] * beta / a, rtol=1e-12)
    k, t = o["regularity_shape"].to_numpy(), o["days_since"].to_numpy()
    span = (pd.to_datetime(o["last_visit_date"]) - pd.to_datetime(o["first_visit_date"])).dt.days
    assert (o["active_span_days"].astype(int) == span).all()

    s = stats.nbinom.cdf(k - 1, a, beta / (beta + t))
    active = outlook.p_active(k, a, beta, t, mu, s)
    np.testing.assert_allclose(o["p_not_returned_yet"].astype(float), s, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(o["p_active"].astype(float), active, rtol=1e-7, atol=1e-12)
    later = stats.nbinom.cdf(k - 1, a, beta / (beta + t + HORIZON))
    ok = s > 1e-200
    np.testing.assert_allclose(
        o["p_winback_needed"][ok].astype(float), (active * later / s)[ok], rtol=1e-8, atol=1e-150
    )
    expected_next = pd.to_datetime(o["last_visit_date"]) + pd.to_timedelta(o["interval_days"], unit="D")
    assert (pd.to_datetime(o["expected_next_visit_date"]) == expected_next).all()

    shapes = outlook.regularity_shape(o["valid_interval_count"], o["client_cv2"], o["pool_cv2"])
    assert (o["regularity_shape"] == shapes).all()
    # the prior mean: the company and service's mean valid interval when the waterfall's service level holds
    service_level = o["interval_level"] == "service"
    assert (
        service_level.any() and (o.loc[service_level, "prior_mean_days"] != o.loc[service_level, "interval_days"]).any()
    )

    bounds = dbt.var_value("predicted_segment_bounds")
    segment = np.select(
        [due["p_winback_needed"] < bounds[0], due["p_winback_needed"] < bounds[1]], ["low", "medium"], "high"
    )
    assert (due["predicted_segment"] == segment).all() and len(due) > 20


def test_fit_reads_the_model_and_gives_each_large_company_a_row(built) -> None:
    with Warehouse.connect(built) as wh:
        histories = outlook.read_histories(wh)
    fitted = outlook.fit_companies(histories, min_histories=50)
    assert fitted["company_id"].isna().sum() == 1  # the default row
    assert set(fitted["company_id"].dropna()) == {
        c for c, n in histories.groupby("company_id").size().items() if n >= 50
    }
    assert fitted["rate_prior_shape"].between(*outlook.PRIOR_SHAPE_BOUNDS).all()
    assert fitted["dropout_rate_per_day"].between(1e-5, 0.05).all()
    # the fit is a maximum: moving either parameter lowers the likelihood
    row = fitted[fitted["company_id"].isna()].iloc[0]
    best = outlook.log_likelihood(row["rate_prior_shape"], row["dropout_rate_per_day"], histories)
    for dr, dmu in [(1.2, 1.0), (1 / 1.2, 1.0), (1.0, 1.2), (1.0, 1 / 1.2)]:
        assert outlook.log_likelihood(row["rate_prior_shape"] * dr, row["dropout_rate_per_day"] * dmu, histories) < best
