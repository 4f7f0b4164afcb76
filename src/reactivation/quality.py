"""The gate before any message leaves: a Great Expectations (1.x) validation of each company's `due_clients`
and of its raw-data freshness and volume (`company_health`). A failed gate stops that company's sending and the
report is kept in `reactivation_quality_reports`; other companies go on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import pandas as pd

from reactivation import rules
from reactivation.channels.base import mask_phone
from reactivation.privacy import mask_text
from reactivation.warehouse import Warehouse

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

PERSONAL_COLUMNS = {"phone": mask_phone, "client_name": lambda _: None}  # how a sample of each is stored
_SAMPLE_KEYS = ("partial_unexpected_list", "unexpected_list")


@dataclass(frozen=True)
class GateSettings:
    """Thresholds of the gate. The rule values (interval bounds, tones, levels, phone digits) are the dbt vars as
    `reactivation.rules` reads them when the settings are made, so the gate checks what the models were told."""

    max_due_share: float = 0.8  # due clients ≤ this share of active clients
    max_hours_since_load: float = 48.0  # the company's records were loaded at most this long ago
    min_records: int = 1
    interval_min_days: int = field(default_factory=lambda: rules.current().interval_min_days)
    interval_max_days: int = field(default_factory=lambda: rules.current().interval_max_days)
    tones: tuple[str, ...] = field(default_factory=lambda: rules.current().tones)
    interval_levels: tuple[str, ...] = field(default_factory=lambda: rules.current().interval_levels)
    phone_pattern: str = field(default_factory=lambda: rules.current().phone_pattern)

    @classmethod
    def from_env(cls) -> GateSettings:
        return cls(
            max_due_share=float(os.environ.get("REACTIVATION_MAX_DUE_SHARE", cls.max_due_share)),
            max_hours_since_load=float(os.environ.get("REACTIVATION_MAX_HOURS_SINCE_LOAD", cls.max_hours_since_load)),
        )


@dataclass
class GateResult:
    """The gate's verdict for one company."""

    company_id: int
    success: bool
    failed_checks: list[str]
    report: dict[str, Any]


@cache
def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


@cache
def _validation(kind: str, settings: GateSettings, max_due_rows: int | None = None) -> Any:
    """One validation definition per table kind (and row limit), built once per process."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _context()
    name = f"{kind}_{max_due_rows}_{abs(hash(settings))}"
    source = context.data_sources.add_or_update_pandas(f"source_{name}")
    batch = source.add_dataframe_asset(f"asset_{name}").add_batch_definition_whole_dataframe(f"batch_{name}")
    suite = context.suites.add(gx.ExpectationSuite(name=f"suite_{name}"))
    for expectation in _expectations(kind, settings, max_due_rows, gxe):
        suite.add_expectation(expectation)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validation_{name}", data=batch, suite=suite)
    )


def _expectations(kind: str, settings: GateSettings, max_due_rows: int | None, gxe: Any) -> list[Any]:
    if kind == "health":
        return [
            gxe.ExpectColumnValuesToBeBetween(column="records", min_value=settings.min_records),
            gxe.ExpectColumnValuesToBeBetween(column="hours_since_load", max_value=settings.max_hours_since_load),
            gxe.ExpectColumnValuesToBeBetween(column="active_clients", min_value=1),
        ]
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=max_due_rows),
        gxe.ExpectColumnValuesToBeUnique(column="client_id"),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in
          ("company_id", "client_id", "phone", "service_id", "tone", "interval_level", "interval_days")],
        gxe.ExpectColumnValuesToBeInSet(column="tone", value_set=list(settings.tones)),
        gxe.ExpectColumnValuesToBeInSet(column="interval_level", value_set=list(settings.interval_levels)),
        gxe.ExpectColumnValuesToBeBetween(
            column="interval_days", min_value=settings.interval_min_days, max_value=settings.interval_max_days
        ),
        gxe.ExpectColumnValuesToBeBetween(column="overdue_ratio", min_value=1.0),
        gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=settings.phone_pattern),
    ]  # fmt: skip


def _failed(result: Any) -> list[str]:
    failed = []
    for item in result.results:
        if not item.success:
            config = item.expectation_config
            column = config.kwargs.get("column")
            failed.append(f"{config.type}({column})" if column else config.type)
    return failed


def check_company(
    company_id: int, due: pd.DataFrame, health: pd.Series, settings: GateSettings, now: datetime
) -> GateResult:
    """Validate one company's due clients and raw-data health."""
    max_due_rows = int(settings.max_due_share * int(health["active_clients"]))
    loaded = pd.Timestamp(health["last_loaded_at"]) if pd.notna(health["last_loaded_at"]) else None
    health_frame = pd.DataFrame(
        [{
            "records": int(health["records"]),
            "active_clients": int(health["active_clients"]),
            "hours_since_load": (pd.Timestamp(now) - loaded).total_seconds() / 3600 if loaded is not None else 1e9,
        }]
    )  # fmt: skip
    due_result = _validation("due", settings, max_due_rows).run(batch_parameters={"dataframe": due})
    health_result = _validation("health", settings).run(batch_parameters={"dataframe": health_frame})
    failed = _failed(due_result) + _failed(health_result)
    report = {
        "due_rows": len(due),
        "max_due_rows": max_due_rows,
        "health": health_frame.iloc[0].to_dict(),
        "due_validation": due_result.describe_dict(),
        "health_validation": health_result.describe_dict(),
    }
    return GateResult(company_id, not failed, failed, report)


def stored_report(report: Any) -> Any:
    """The report as kept in `reactivation_quality_reports`: counts and samples, phones masked, names removed.

    Samples of a personal column (`partial_unexpected_list`, `..._counts`) are masked by column; any other string
    that holds a phone-like run of digits is masked as well.
    """
    if isinstance(report, dict):
        kwargs = report.get("kwargs")
        column = kwargs.get("column") if isinstance(kwargs, dict) else None
        masked = {key: stored_report(value) for key, value in report.items()}
        if column in PERSONAL_COLUMNS and isinstance(report.get("result"), dict):
            masked["result"] = _masked_samples(report["result"], PERSONAL_COLUMNS[column])
        return masked
    if isinstance(report, list | tuple):
        return [stored_report(item) for item in report]
    if isinstance(report, str):
        return mask_text(report)
    return report


def _masked_samples(result: dict[str, Any], mask: Any) -> dict[str, Any]:
    masked = dict(result)
    for key in _SAMPLE_KEYS:
        if isinstance(result.get(key), list):
            masked[key] = [None if v is None else mask(str(v)) for v in result[key]]
    if isinstance(result.get("partial_unexpected_counts"), list):
        masked["partial_unexpected_counts"] = [
            dict(item, value=None if item.get("value") is None else mask(str(item["value"])))
            if isinstance(item, dict)
            else item
            for item in result["partial_unexpected_counts"]
        ]
    return masked


def run_gate(
    wh: Warehouse, company_ids: list[int], settings: GateSettings, run_id: str, now: datetime, persist: bool = True
) -> list[GateResult]:
    """Check each company; store every report (pass or fail) unless `persist` is off (dry runs)."""
    health = wh.query_df("select * from company_health").set_index("company_id")
    results = []
    for company_id in company_ids:
        due = wh.query_df(
            "select company_id, client_id, phone, service_id, tone, interval_level, interval_days, overdue_ratio"
            " from due_clients where company_id = %s",
            [company_id],
        )
        if company_id not in health.index:
            result = GateResult(company_id, False, ["unknown_company"], {})
        else:
            result = check_company(company_id, due, health.loc[company_id], settings, now)
        results.append(result)
        if persist:
            wh.execute(
                "insert into reactivation_quality_reports (run_id, company_id, checked_at, success, failed_checks,"
                " report) values (%s, %s, %s, %s, %s, %s) on conflict do nothing",
                [run_id, company_id, now, result.success, ", ".join(result.failed_checks),
                 json.dumps(stored_report(result.report), default=str)],
            )  # fmt: skip
    return results
