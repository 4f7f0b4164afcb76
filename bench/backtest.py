"""Back-test of the return outlook: who books within 30 days without a message, at several past as-of dates.

`python -m bench.backtest` draws visit histories like bench.generate (its menu rhythms and popularity, clients who
start at random and lapse after an exponential lifetime of LIFETIME_DAYS, skipped visits) in two kinds: regular
clients (gamma gaps of shape 8, cv ≈ 0.35) and irregular ones (shape 1.2, cv ≈ 0.9). bench.generate has one gap
shape only, so the knob lives here. Lifetimes end in time, not after a visit: the outlook's per-visit dropout is
an assumption the data do not share. At each as-of date every client with a visit in the past year is scored by
  (a) the overdue ratio days_since / interval, made a probability by a logistic fit on a separate earlier date;
  (b) BG/NBD (Fader, Hardie & Lee 2005), its likelihood fitted per company on the history before the date;
  (c) the outlook: p_active × (1 - S(t + 30) / S(t)), shape and dropout fitted on the history before the date
      with reactivation.outlook (the formulas int_return_outlook computes; tests/test_outlook.py pins them).
The interval is the waterfall's personal median (≥ 2 valid intervals), else the company/service median, else the
fallback; the same for (a) and (c). Writes bench/BACKTEST.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from bench.generate import LIFETIME_DAYS, MENU_SIZE, POPULARITY, RHYTHM
from reactivation import outlook, rules

HORIZON_DAYS = 30
CALIBRATION_DAY = 1000  # the logistic fit of (a) is made here; evaluation dates follow
EVALUATION_DAYS = (1120, 1240, 1360, 1480)
END_DAY = 1520
COMPANIES = 4
SHAPES = {"regular": 8.0, "irregular": 1.2}
OUT = Path(__file__).resolve().parent / "BACKTEST.md"


def histories(kind: str, clients: int = 8000, seed: int = 3) -> pd.DataFrame:
    """Visit days (client, company, service) on a 0…END_DAY axis for one kind of client."""
    rng = np.random.default_rng(seed)
    shape = SHAPES[kind]
    service = rng.choice(MENU_SIZE, clients, p=POPULARITY)
    rhythm = RHYTHM[service] * rng.lognormal(0.0, 0.25, clients)
    start = rng.uniform(0, END_DAY, clients)
    end = start + rng.exponential(LIFETIME_DAYS, clients)
    rows = []
    for i in range(clients):
        day = start[i]
        while day <= min(end[i], END_DAY):
            rows.append((i, day))
            skip = 2.5 if rng.random() < 0.04 else 1.0
            day += rhythm[i] * rng.gamma(shape, 1 / shape) * skip
    frame = pd.DataFrame(rows, columns=["client_id", "day"])
    frame["day"] = np.floor(frame["day"]).astype(int)
    frame["company_id"] = frame["client_id"] % COMPANIES
    frame["service_id"] = service[frame["client_id"]]
    return frame.drop_duplicates(["client_id", "day"])


def summarise(visits: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """Per client: visits before the date, intervals, the chosen interval and whether they book within 30 days."""
    past = visits[visits["day"] < as_of].sort_values(["client_id", "day"])
    gaps = past.groupby("client_id")["day"].diff()
    valid = gaps.between(rules.value("interval_min_days"), rules.value("interval_max_days"))
    past = past.assign(gap=gaps.where(valid))
    per = past.groupby("client_id").agg(
        company_id=("company_id", "first"),
        service_id=("service_id", "first"),
        visits=("day", "size"),
        first_day=("day", "min"),
        last_day=("day", "max"),
        valid_intervals=("gap", "count"),
        median_gap=("gap", "median"),
        mean_gap=("gap", "mean"),
        var_gap=("gap", "var"),
    )
    service_gaps = past.dropna(subset=["gap"]).groupby(["company_id", "service_id"])
    pool = service_gaps["gap"].agg(["median", "count"]).join(service_gaps["client_id"].nunique().rename("clients"))
    per = per.join(pool, on=["company_id", "service_id"])
    service_ok = (per["count"] >= rules.value("service_min_intervals")) & (
        per["clients"] >= rules.value("service_min_clients")
    )
    raw = np.where(
        per["valid_intervals"] >= rules.value("personal_min_intervals"),
        per["median_gap"],
        np.where(service_ok, per["median"], rules.value("fallback_interval_days")),
    )
    per["interval"] = np.clip(np.floor(raw + 0.5), rules.value("interval_min_days"), rules.value("interval_max_days"))
    per["days_since"] = as_of - per["last_day"]
    per = per[per["days_since"] <= rules.value("lost_after_days")].copy()
    ahead = visits[(visits["day"] >= as_of) & (visits["day"] < as_of + HORIZON_DAYS)]["client_id"].unique()
    per["booked"] = per.index.isin(ahead).astype(float)
    per["client_cv2"] = per["var_gap"] / per["mean_gap"] ** 2
    return per


def overdue_ratio(per: pd.DataFrame) -> np.ndarray:
    return (per["days_since"] / per["interval"]).to_numpy()


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope maximising the Bernoulli likelihood of y on x."""

    def loss(theta: np.ndarray) -> float:
        z = theta[0] + theta[1] * x
        return float(np.sum(np.logaddexp(0, z) - y * z))

    return tuple(optimize.minimize(loss, np.zeros(2), method="BFGS").x)


def outlook_probability(per: pd.DataFrame) -> np.ndarray:
    """(c): shape pooled per company and service then shrunk, dropout fitted per company, both on the history."""
    with_two = per[per["valid_intervals"] >= 2]
    weights = with_two["valid_intervals"] - 1
    pooled = (
        (with_two["client_cv2"] * weights).groupby([with_two["company_id"], with_two["service_id"]]).sum()
        / weights.groupby([with_two["company_id"], with_two["service_id"]]).sum()
    ).rename("pool_cv2")
    company = (
        (with_two["client_cv2"] * weights).groupby(with_two["company_id"]).sum()
        / weights.groupby(with_two["company_id"]).sum()
    ).rename("company_cv2")
    joined = per.join(pooled, on=["company_id", "service_id"]).join(company, on="company_id")
    pool = joined["pool_cv2"].fillna(joined["company_cv2"]).fillna(1 / rules.value("outlook_default_shape"))
    k = outlook.regularity_shape(per["valid_intervals"], per["client_cv2"], pool)
    x = k * per["days_since"] / per["interval"]
    survival = outlook.erlang_survival(k, x)
    dropout = pd.Series(0.0, index=per.index)
    for _, group in per.groupby("company_id"):
        dropout[group.index] = outlook.fit_dropout(group["visits"], survival[per.index.get_indexer(group.index)])
    active = outlook.p_active(dropout.to_numpy(), survival)
    later = stats.gamma.logsf(x + k * HORIZON_DAYS / per["interval"], k) - stats.gamma.logsf(x, k)
    return np.clip(active * (1 - np.exp(later)), 1e-6, 1 - 1e-6)


def bgnbd_fit(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """r, α, a, b maximising the BG/NBD likelihood (parameters in log space)."""

    def negative_ll(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        alive = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + big_t)
        dead = np.where(
            x > 0,
            special.betaln(a + 1, b + np.maximum(x, 1) - 1) - special.betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
        return -float(np.sum(common + np.logaddexp(alive, dead)))

    result = optimize.minimize(
        negative_ll, np.log([1.0, 5.0, 1.0, 3.0]), method="Nelder-Mead", options={"maxiter": 4000}
    )
    return np.exp(result.x)


def bgnbd_probability(per: pd.DataFrame) -> np.ndarray:
    """(b): P(alive) × P(≥ 1 visit in the horizon | alive), BG/NBD fitted per company; time in weeks."""
    out = pd.Series(0.0, index=per.index)
    for _, group in per.groupby("company_id"):
        x = (group["visits"] - 1).to_numpy(float)
        t_x = ((group["last_day"] - group["first_day"]) / 7).to_numpy(float)
        big_t = ((group["last_day"] + group["days_since"] - group["first_day"]) / 7).to_numpy(float)
        r, alpha, a, b = bgnbd_fit(x, t_x, big_t)
        ratio = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0)
        alive = 1 / (1 + ratio)
        stay = ((alpha + big_t) / (alpha + big_t + HORIZON_DAYS / 7)) ** (r + x)
        out[group.index] = alive * (1 - stay)
    return np.clip(out.to_numpy(), 1e-6, 1 - 1e-6)


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    ranks = stats.rankdata(p)
    positives = y.sum()
    auc = (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives))
    return {
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "brier": float(np.mean((p - y) ** 2)),
        "auc": float(auc),
    }


def evaluate(kind: str) -> pd.DataFrame:
    visits = histories(kind)
    calibration = summarise(visits, CALIBRATION_DAY)
    intercept, slope = fit_logistic(overdue_ratio(calibration), calibration["booked"].to_numpy())
    predictions: dict[str, list[np.ndarray]] = {"(a) overdue ratio, logistic": [], "(b) BG/NBD": [], "(c) outlook": []}
    outcomes, due = [], []
    for as_of in EVALUATION_DAYS:
        per = summarise(visits, as_of)
        ratio = overdue_ratio(per)
        predictions["(a) overdue ratio, logistic"].append(special.expit(intercept + slope * ratio))
        predictions["(b) BG/NBD"].append(bgnbd_probability(per))
        predictions["(c) outlook"].append(outlook_probability(per))
        outcomes.append(per["booked"].to_numpy())
        due.append(ratio >= 1)
    y, is_due = np.concatenate(outcomes), np.concatenate(due)
    rows = []
    for method, parts in predictions.items():
        p = np.concatenate(parts)
        every, only_due = metrics(y, p), metrics(y[is_due], p[is_due])
        rows.append(
            {"data": kind, "method": method, "rows": len(y), "booked": y.mean(), **every}
            | {f"due_{k}": v for k, v in only_due.items()}
        )
    return pd.DataFrame(rows)


def render(table: pd.DataFrame) -> str:
    lines = [
        "# Back-test: who books within 30 days without a message",
        "",
        "`python -m bench.backtest` (see its docstring for the data and the methods). Rows: every client with a "
        f"visit in the past year at as-of days {', '.join(map(str, EVALUATION_DAYS))} (pooled); the logistic of "
        f"(a) is fitted at day {CALIBRATION_DAY}. Lower log-loss and Brier are better, higher AUC is better. "
        "`due_*`: the same metrics on due clients only (overdue ratio ≥ 1), the rows the run cap orders.",
        "",
        "| data | method | rows | booked | log-loss | Brier | AUC | due log-loss | due Brier | due AUC |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.data} | {r.method} | {r.rows} | {r.booked:.3f} | {r.log_loss:.4f} | {r.brier:.4f} | {r.auc:.3f} "
            f"| {r.due_log_loss:.4f} | {r.due_brier:.4f} | {r.due_auc:.3f} |"
        )
    lines += ["", "## Reading", ""]
    for kind, group in table.groupby("data", sort=False):
        best = group.loc[group["log_loss"].idxmin(), "method"]
        ours = group[group["method"] == "(c) outlook"].iloc[0]
        others = group[group["method"] != "(c) outlook"]
        verdict = "beats" if (ours["log_loss"] < others["log_loss"]).all() else "does not beat"
        lines.append(f"- {kind}: lowest log-loss {best}; the outlook {verdict} both baselines on log-loss.")
    lines += [
        "",
        "Known limits, stated rather than tuned away: the outlook takes the waterfall's interval (a median) as the",
        "Erlang mean, so for skewed (irregular) gaps it expects clients back too early; the generator ends lifetimes",
        "in time while the outlook assumes a per-visit dropout; an irregular client's k rounds to 1 (memoryless).",
        "On irregular histories the outlook over-predicts returns and loses on log-loss; its ranking (AUC) stays",
        "between the two baselines.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    table = pd.concat([evaluate(kind) for kind in SHAPES], ignore_index=True)
    text = render(table)
    OUT.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
