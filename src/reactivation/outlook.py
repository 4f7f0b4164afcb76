"""The return outlook's offline part: per company, the rate prior r and the dropout rate μ, by maximum likelihood.

int_return_outlook models an active client's gaps as Erlang(k, λ) whose rate is uncertain: λ ~ Gamma(r, r·m0 / k)
around their service's mean m0, Gamma(a, β) = Gamma(r + k·n, r·m0 / k + Σ intervals) after their n intervals. A
client stops coming at a constant rate μ per day, independent of their rhythm. For one client and service first
seen s days before the last visit and not back t days after it, the likelihood in (r, μ) is
    Γ(a)·β₀^r / (Γ(r)·β^a)                      their intervals, λ integrated out (β₀ = r·m0 / k), times
    e^(-μs)                                     alive through every earlier gap, times
    e^(-μt)·S̃(t) + ∫₀ᵗ μe^(-μu) S(u) du        after the last visit: alive and not back yet, or stopped first.
S̃ is the negative-binomial predictive survival (`p_not_returned_yet`); the integral takes the rate at its estimate
a / β (closed form, `stopped_before_return`). The fit reads what the model holds that depends on neither parameter
and writes the seed the model reads (`python -m reactivation.outlook`, then `dbt seed`). The functions here are the
model's formulas in numpy/scipy, for the fit, the back-test and for pinning the SQL in tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from reactivation import rules

MIN_HISTORIES = 30  # a company with fewer client/service histories uses the default row
SEED_NAME = "outlook_dropout.csv"
PRIOR_SHAPE_BOUNDS = (0.05, 1000.0)  # r: from rates spread over orders of magnitude to all clients alike
RATE_BOUNDS = (1e-6, 0.1)  # μ per day: a mean lifetime between 10 days and 2700 years
MAX_SHAPE = 30


def erlang_survival(shape: np.ndarray | float, rate_times_days: np.ndarray | float) -> np.ndarray:
    """S(t) = P(T > t) for T ~ Erlang(k) given x = rate × t (scipy's gamma with a whole shape)."""
    return stats.gamma.sf(rate_times_days, np.asarray(shape, dtype=float))


def regularity_shape(interval_count: np.ndarray, client_cv2: np.ndarray, pool_cv2: np.ndarray | float) -> np.ndarray:
    """Erlang shape k: the client's cv² shrunk toward the pool, (n·cv² + n0·pool) / (n + n0), from
    `outlook_min_intervals` intervals (else the pool), then 1 / cv² clipped to [1, 30], rounded half up."""
    n = np.asarray(interval_count, dtype=float)
    n0 = float(rules.value("outlook_prior_intervals"))
    pool = np.broadcast_to(np.asarray(pool_cv2, dtype=float), n.shape)
    own = np.nan_to_num(np.asarray(client_cv2, dtype=float))
    shrunk = np.where(n >= rules.value("outlook_min_intervals"), (n * own + n0 * pool) / (n + n0), pool)
    with np.errstate(divide="ignore"):
        k = np.where(shrunk * MAX_SHAPE <= 1, MAX_SHAPE, np.floor(1 / np.maximum(shrunk, 1e-12) + 0.5))
    return np.clip(k, 1, MAX_SHAPE)


def rate_posterior(
    shape: np.ndarray,
    interval_count: np.ndarray,
    interval_sum: np.ndarray,
    prior_mean: np.ndarray,
    prior_shape: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """(a, β) of the rate's Gamma after the client's intervals, from the prior Gamma(r, r·m0 / k):
    a = r + k·n, β = r·m0 / k + Σ intervals."""
    r = np.asarray(prior_shape, dtype=float)
    k = np.asarray(shape, dtype=float)
    a = r + k * np.asarray(interval_count, dtype=float)
    beta = r * np.asarray(prior_mean, dtype=float) / k + np.nan_to_num(np.asarray(interval_sum, dtype=float))
    return a, beta


def predictive_survival(shape: np.ndarray, a: np.ndarray, beta: np.ndarray, days: np.ndarray) -> np.ndarray:
    """S̃(t) = E_λ[S(t)] = P(NB(a, q) < k), q = β / (β + t): no return by t, the rate's uncertainty included."""
    t = np.asarray(days, dtype=float)
    return stats.nbinom.cdf(np.asarray(shape, dtype=float) - 1, a, beta / (beta + t))


def stopped_before_return(
    shape: np.ndarray, a: np.ndarray, beta: np.ndarray, days: np.ndarray, rate: np.ndarray | float
) -> np.ndarray:
    """∫₀ᵗ μe^(-μu) S_λ(u) du = 1 - ρ^k·(1 - S_{λ+μ}(t)) - e^(-μt)·S_λ(t), λ = a / β, ρ = λ / (λ + μ): stopped
    before coming back, by t."""
    k = np.asarray(shape, dtype=float)
    t = np.asarray(days, dtype=float)
    mu = np.asarray(rate, dtype=float)
    lam = a / beta
    rho_k = np.exp(k * np.log(lam / (lam + mu)))
    value = 1 - rho_k * (1 - erlang_survival(k, (lam + mu) * t)) - np.exp(-mu * t) * erlang_survival(k, lam * t)
    return np.maximum(value, 0.0)


def p_active(
    shape: np.ndarray, a: np.ndarray, beta: np.ndarray, days: np.ndarray, rate: np.ndarray | float, survival: np.ndarray
) -> np.ndarray:
    """P(still a client | no return by t) = e^(-μt)·S̃(t) / (e^(-μt)·S̃(t) + stopped_before_return); 1 when μ = 0."""
    mu = np.broadcast_to(np.asarray(rate, dtype=float), np.shape(days))
    alive = np.exp(-mu * np.asarray(days, dtype=float)) * np.asarray(survival, dtype=float)
    stopped = stopped_before_return(shape, a, beta, days, mu)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(alive > 0, alive / (alive + stopped), 0.0)
    return np.where(mu <= 0, 1.0, share)


def dropout_before_next_visit(
    shape: np.ndarray, a: np.ndarray, beta: np.ndarray, rate: np.ndarray | float
) -> np.ndarray:
    """1 - (λ / (λ + μ))^k: the probability a client stops before their next visit, λ = a / β."""
    lam = a / beta
    return 1 - np.exp(np.asarray(shape, dtype=float) * np.log(lam / (lam + np.asarray(rate, dtype=float))))


def log_likelihood(prior_shape: float, rate: float, histories: pd.DataFrame) -> float:
    """Σ over client/service histories of ln Γ(a) - ln Γ(r) + r·ln β₀ - a·ln β - μ·s
    + ln(e^(-μt)·S̃(t) + stopped_before_return(t)); terms free of r and μ left out."""
    h = histories
    k = h["regularity_shape"].to_numpy(float)
    m0 = h["prior_mean_days"].to_numpy(float)
    t = h["days_since"].to_numpy(float)
    a, beta = rate_posterior(k, h["valid_interval_count"], h["interval_sum_days"], m0, prior_shape)
    beta0 = prior_shape * m0 / k
    intervals = special.gammaln(a) - special.gammaln(prior_shape) + prior_shape * np.log(beta0) - a * np.log(beta)
    alive = np.exp(-rate * t) * predictive_survival(k, a, beta, t)
    stopped = stopped_before_return(k, a, beta, t, rate)
    after_last = -rate * h["active_span_days"].to_numpy(float) + np.log(np.maximum(alive + stopped, 1e-300))
    return float(np.sum(intervals + after_last))


def fit_parameters(histories: pd.DataFrame) -> tuple[float, float]:
    """Maximum-likelihood (r, μ) within PRIOR_SHAPE_BOUNDS × RATE_BOUNDS (Nelder–Mead on their logarithms)."""
    low = np.log([PRIOR_SHAPE_BOUNDS[0], RATE_BOUNDS[0]])
    high = np.log([PRIOR_SHAPE_BOUNDS[1], RATE_BOUNDS[1]])

    def loss(point: np.ndarray) -> float:
        r, mu = np.exp(np.clip(point, low, high))
        return -log_likelihood(float(r), float(mu), histories)

    result = optimize.minimize(
        loss, np.log([5.0, 1e-3]), method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-4, "maxiter": 2000}
    )
    r, mu = np.exp(np.clip(result.x, low, high))
    return float(r), float(mu)


def fit_companies(histories: pd.DataFrame, min_histories: int = MIN_HISTORIES) -> pd.DataFrame:
    """The seed's rows: one per company with ≥ `min_histories` histories, and a default (company_id empty)
    fitted on every history. `histories` has the columns `read_histories` returns."""
    groups = [(pd.NA, histories)] + [
        (int(company_id), group)
        for company_id, group in histories.groupby("company_id", sort=True)
        if len(group) >= min_histories
    ]
    rows = []
    for company_id, group in groups:
        r, mu = fit_parameters(group)
        rows.append(
            {"company_id": company_id, "rate_prior_shape": r, "dropout_rate_per_day": mu, "client_count": len(group)}
        )
    frame = pd.DataFrame(rows)
    frame["company_id"] = frame["company_id"].astype("Int64")
    frame["rate_prior_shape"] = frame["rate_prior_shape"].round(4)
    frame["dropout_rate_per_day"] = frame["dropout_rate_per_day"].round(8)
    return frame


def read_histories(warehouse) -> pd.DataFrame:  # noqa: ANN001 - reactivation.warehouse.Warehouse
    """Every client and service the last run scored, with what the likelihood needs (none of it depends on r or μ)."""
    return warehouse.query_df(
        "select company_id, regularity_shape, valid_interval_count, interval_sum_days, prior_mean_days, "
        "active_span_days, days_since from int_return_outlook"
    )


def write_seed(parameters: pd.DataFrame, path: Path) -> None:
    """The seed CSV the model reads (`dbt seed` loads it)."""
    parameters.to_csv(
        path, index=False, columns=["company_id", "rate_prior_shape", "dropout_rate_per_day", "client_count"]
    )


def main(argv: list[str] | None = None) -> None:
    """Fit r and μ per company on the warehouse's last run and rewrite the seed."""
    from reactivation.settings import Settings
    from reactivation.warehouse import Warehouse

    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m reactivation.outlook", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=settings.project_dir / "seeds" / SEED_NAME)
    args = parser.parse_args(argv)
    with Warehouse.connect(settings) as wh:
        parameters = fit_companies(read_histories(wh))
    write_seed(parameters, args.out)
    print(parameters.to_string(index=False))
    print(f"wrote {args.out}; run `dbt seed` (or the next refresh) to use it")


if __name__ == "__main__":
    main()
