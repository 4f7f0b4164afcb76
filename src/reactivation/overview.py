"""Readable summaries of what the models hold, for the CLI (queries only: the numbers live in the marts)."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from reactivation.warehouse import Warehouse

DUE_COLUMNS = [
    "company_id",
    "client_id",
    "client_name",
    "phone",
    "service_id",
    "service_title",
    "last_visit_date",
    "interval_days",
    "interval_level",
    "days_since",
    "overdue_ratio",
    "tone",
    "as_of_date",
]


def due_clients(wh: Warehouse, company_ids: list[int] | None = None) -> pd.DataFrame:
    sql = f"select {', '.join(DUE_COLUMNS)} from due_clients"
    params: list[int] = []
    if company_ids:
        sql += f" where company_id in ({', '.join(['%s'] * len(company_ids))})"
        params = list(company_ids)
    return wh.query_df(sql + " order by company_id, client_id", params)


def render_table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else str(v) for v in row))
    return table


def print_overview(wh: Warehouse, console: Console) -> None:
    """Due clients by company, tone and level; exclusions by reason; rejects by reason."""
    due = wh.query_df(
        "select d.company_id, max(d.company_name) as company, d.tone, d.interval_level, count(*) as clients"
        " from due_clients d group by d.company_id, d.tone, d.interval_level"
        " order by d.company_id, d.tone, d.interval_level"
    )
    excluded = wh.query_df(
        "select company_id, reason, count(*) as clients from due_client_exclusions"
        " group by company_id, reason order by company_id, reason"
    )
    rejects = wh.query_df(
        "select reason, count(*) as records from record_rejects group by reason order by records desc, reason"
    )
    console.print(render_table("Due clients by company, tone and interval level", due))
    console.print(render_table("Due but excluded, by reason (a client may have several)", excluded))
    console.print(render_table("Rejected records, by reason", rejects))
    total = int(due["clients"].sum()) if len(due) else 0
    console.print(f"[bold]{total}[/bold] clients due across {due['company_id'].nunique() if total else 0} companies.")
