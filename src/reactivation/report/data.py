"""The few mart columns the report needs, read once per report (never phones or message texts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from reactivation import rules
from reactivation.messages.model import normalize_locale
from reactivation.warehouse import Warehouse


def snapshot_counts(exclusion_reasons: tuple[str, ...]) -> list[str]:
    """The funnel's day-snapshot columns, one `excluded_<reason>` per var `exclusion_reasons` (as the model has).

    NULL on a day with outbox rows but no snapshot, and kept NULL so "latest day" is honest.
    """
    return [
        "active_clients",
        "due_before_exclusions",
        *(f"excluded_{r}" for r in exclusion_reasons),
        "due_after_exclusions",
    ]


MESSAGE_COUNTS = [
    "holdout",
    "queued",
    "sent",
    "pending",
    "failed",
    "converted",
    "holdout_converted",
    "revenue",
]
CAMPAIGN_COUNTS = [
    "messages",
    "matured_messages",
    "conversions",
    "revenue",
    "holdout_clients",
    "holdout_matured",
    "holdout_conversions",
]
OUTCOME_COLUMNS = ["is_holdout", "is_exposed", "is_converted", "days_to_booking", "attribution_days"]
# the return outlook's calibration (mart outlook_calibration), pooled by decile in SQL
CALIBRATION_COLUMNS = ["probability_decile", "clients", "predicted_sum", "booked_clients"]


@dataclass(frozen=True)
class Company:
    """A salon as the report names it."""

    company_id: int
    name: str
    locale: str
    timezone: str


@dataclass(frozen=True)
class ReportData:
    """Everything one report draws from, already filtered to the company and period."""

    companies: list[Company]
    funnel: pd.DataFrame
    campaign: pd.DataFrame
    outcomes: pd.DataFrame
    attribution_days: int
    exclusion_reasons: tuple[str, ...] = field(default_factory=lambda: rules.current().exclusion_reasons)
    calibration: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CALIBRATION_COLUMNS))
    horizon_days: int = field(default_factory=lambda: int(rules.value("outlook_horizon_days")))


def load_report_data(wh: Warehouse, company_id: int | None, since: date | None) -> ReportData:
    """Read the marts for one company (or all) from `since` on; missing or empty tables give empty frames."""
    companies = _companies(wh, company_id)
    current = rules.current()
    snapshots = snapshot_counts(current.exclusion_reasons)
    funnel_columns = ["company_id", "funnel_date", *snapshots, *MESSAGE_COUNTS]
    funnel = _select(wh, "reactivation_funnel", funnel_columns, "funnel_date", company_id, since)
    campaign_columns = [
        "company_id", "send_week", "campaign", "tone", "interval_level", "variant", "predicted_segment",
        *CAMPAIGN_COUNTS,
    ]  # fmt: skip
    campaign = _select(wh, "campaign_performance", campaign_columns, "send_week", company_id, since)
    outcome_columns = ["company_id", "exposed_date", *OUTCOME_COLUMNS]
    outcomes = _select(wh, "message_outcomes", outcome_columns, "exposed_date", company_id, since)
    window = pd.to_numeric(outcomes["attribution_days"]).max() if len(outcomes) else None
    return ReportData(
        companies=companies,
        funnel=_numeric(funnel, snapshots, MESSAGE_COUNTS, "funnel_date"),
        campaign=_numeric(campaign, [], CAMPAIGN_COUNTS, "send_week"),
        outcomes=_outcomes(outcomes),
        # the window the messages were measured with; without any, the var `attribution_days` as it stands now
        attribution_days=int(window) if window is not None and pd.notna(window) else current.attribution_days,
        exclusion_reasons=current.exclusion_reasons,
        calibration=calibration(wh, company_id, since),
    )


def calibration(wh: Warehouse, company_id: int | None, since: date | None) -> pd.DataFrame:
    """`outlook_calibration` pooled over the company (or all) and the as-of dates from `since` on: per decile of
    the prediction, the clients, the sum of their predicted probabilities and how many booked (summed in SQL)."""
    if not wh.table_exists("outlook_calibration"):
        return pd.DataFrame(columns=CALIBRATION_COLUMNS)
    conditions, params = [], []
    if company_id is not None:
        conditions.append("company_id = %s")
        params.append(company_id)
    if since is not None:
        conditions.append("as_of_date >= %s")
        params.append(since)
    where = f" where {' and '.join(conditions)}" if conditions else ""
    frame = wh.query_df(
        "select probability_decile, sum(clients) as clients, sum(predicted_sum) as predicted_sum,"
        f" sum(booked_clients) as booked_clients from outlook_calibration{where}"
        " group by probability_decile order by probability_decile",
        params,
    )
    return frame.astype(float).astype({"probability_decile": int}) if len(frame) else frame


def _companies(wh: Warehouse, company_id: int | None) -> list[Company]:
    columns = ["company_id", "company_name", "locale", "timezone"]
    frame = _select(wh, "int_companies_as_of", columns, None, company_id, None)
    if company_id is not None and frame.empty:
        raise ValueError(f"company {company_id} is not in int_companies_as_of (has dbt run?)")
    return [
        Company(
            int(row.company_id), row.company_name or f"#{row.company_id}", normalize_locale(row.locale), row.timezone
        )
        for row in frame.sort_values("company_id").itertuples()
    ]


def _select(
    wh: Warehouse, table: str, columns: list[str], date_column: str | None, company_id: int | None, since: date | None
) -> pd.DataFrame:
    """Columns of a mart with the report's filters; an empty frame when dbt has not built the table yet."""
    if not wh.table_exists(table):
        return pd.DataFrame(columns=columns)
    conditions, params = [], []
    if company_id is not None:
        conditions.append("company_id = %s")
        params.append(company_id)
    if since is not None and date_column:
        conditions.append(f"{date_column} >= %s")
        params.append(since)
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return wh.query_df(f"select {', '.join(columns)} from {table}{where}", params)


def _numeric(frame: pd.DataFrame, nullable: list[str], counts: list[str], date_column: str) -> pd.DataFrame:
    """Numbers as floats (PostgreSQL sums arrive as Decimal), NULL counts as 0, the date as a timestamp."""
    frame = frame.copy()
    for column in [*nullable, *counts]:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    frame[counts] = frame[counts].fillna(0.0)
    frame[date_column] = pd.to_datetime(frame[date_column])
    return frame


def _outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in ["is_holdout", "is_exposed", "is_converted"]:
        frame[column] = frame[column].astype("boolean").fillna(False).astype(bool)
    frame["days_to_booking"] = pd.to_numeric(frame["days_to_booking"]).astype(float)
    return frame
