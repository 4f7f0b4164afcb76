"""The return outlook's offline part: the per-company dropout probability p, fitted by maximum likelihood.

int_return_outlook models an active client's return time as Erlang(k) with mean the chosen interval, and assumes
that after each visit a client stops coming with probability p (per company, independent of their rhythm). A
client and service with n visits and t days since the last one then has the likelihood
(1 - p)^(n - 1) · (p + (1 - p)·S(t)): they kept coming after each earlier visit, and after the last one either
stopped or have not come back yet. S(t) is the model's own `p_not_returned_yet`, so the fit reads the mart and
writes the seed the model reads (`python -m reactivation.outlook`, then `dbt seed`). The Erlang functions here
are the same formulas in numpy/scipy, for the back-test and for pinning the SQL in tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from reactivation import rules

MIN_HISTORIES = 30  # a company with fewer client/service histories uses the default row
SEED_NAME = "outlook_dropout.csv"
P_BOUNDS = (1e-6, 1 - 1e-6)


def erlang_survival(shape: np.ndarray | float, rate_times_days: np.ndarray | float) -> np.ndarray:
    """S(t) = P(T > t) for T ~ Erlang(k) given x = rate × t (scipy's gamma with a whole shape)."""
    return stats.gamma.sf(rate_times_days, np.asarray(shape, dtype=float))


def p_active(dropout: np.ndarray | float, survival: np.ndarray | float) -> np.ndarray:
    """P(still a client | no return yet) = (1 - p)·S / ((1 - p)·S + p)."""
    kept = (1 - np.asarray(dropout, dtype=float)) * np.asarray(survival, dtype=float)
    return np.where(kept + dropout > 0, kept / np.maximum(kept + dropout, 1e-300), 1.0)


def regularity_shape(interval_count: np.ndarray, client_cv2: np.ndarray, pool_cv2: np.ndarray | float) -> np.ndarray:
    """Erlang shape k: the client's cv² shrunk toward the pool, (n·cv² + n0·pool) / (n + n0), from
    `outlook_min_intervals` intervals (else the pool), then 1 / cv² clipped to [1, 30], rounded half up."""
    n = np.asarray(interval_count, dtype=float)
    n0 = float(rules.value("outlook_prior_intervals"))
    pool = np.broadcast_to(np.asarray(pool_cv2, dtype=float), n.shape)
    own = np.nan_to_num(np.asarray(client_cv2, dtype=float))
    shrunk = np.where(n >= rules.value("outlook_min_intervals"), (n * own + n0 * pool) / (n + n0), pool)
    with np.errstate(divide="ignore"):
        k = np.where(shrunk * 30 <= 1, 30.0, np.floor(1 / np.maximum(shrunk, 1e-12) + 0.5))
    return np.clip(k, 1, 30)


def dropout_log_likelihood(p: float, visit_counts: np.ndarray, survival: np.ndarray) -> float:
    """Σ (n - 1)·ln(1 - p) + ln(p + (1 - p)·S(t)) over client/service histories."""
    return float(np.sum((visit_counts - 1) * np.log1p(-p) + np.log(p + (1 - p) * survival)))


def fit_dropout(visit_counts: np.ndarray, survival: np.ndarray) -> float:
    """Maximum-likelihood p on [1e-6, 1 - 1e-6] (the log-likelihood is concave in p: one bounded 1-D search)."""
    counts = np.asarray(visit_counts, dtype=float)
    surv = np.clip(np.asarray(survival, dtype=float), 0.0, 1.0)
    result = optimize.minimize_scalar(
        lambda p: -dropout_log_likelihood(p, counts, surv), bounds=P_BOUNDS, method="bounded", options={"xatol": 1e-7}
    )
    return float(result.x)


def fit_companies(histories: pd.DataFrame, min_histories: int = MIN_HISTORIES) -> pd.DataFrame:
    """The seed's rows: one per company with ≥ `min_histories` histories, and a default (company_id empty)
    fitted on every history. `histories` has company_id, visit_count, p_not_returned_yet."""
    rows = [
        {
            "company_id": pd.NA,
            "dropout_probability": fit_dropout(histories["visit_count"], histories["p_not_returned_yet"]),
            "client_count": len(histories),
        }
    ]
    for company_id, group in histories.groupby("company_id", sort=True):
        if len(group) >= min_histories:
            rows.append(
                {
                    "company_id": int(company_id),
                    "dropout_probability": fit_dropout(group["visit_count"], group["p_not_returned_yet"]),
                    "client_count": len(group),
                }
            )
    frame = pd.DataFrame(rows)
    frame["company_id"] = frame["company_id"].astype("Int64")
    frame["dropout_probability"] = frame["dropout_probability"].round(6)
    return frame


def read_histories(warehouse) -> pd.DataFrame:  # noqa: ANN001 - reactivation.warehouse.Warehouse
    """Every client and service the last run scored: visit count and S(t) at the run's as-of date."""
    return warehouse.query_df(
        "select company_id, visit_count, p_not_returned_yet from reactivation_intervals "
        "where p_not_returned_yet is not null"
    )


def write_seed(parameters: pd.DataFrame, path: Path) -> None:
    """The seed CSV the model reads (`dbt seed` loads it)."""
    parameters.to_csv(path, index=False, columns=["company_id", "dropout_probability", "client_count"])


def main(argv: list[str] | None = None) -> None:
    """Fit p per company on the warehouse's last run and rewrite the seed."""
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
