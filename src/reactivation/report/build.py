"""Build the owner-facing outcomes report: one self-contained index.html plus a PNG per chart."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reactivation import rules
from reactivation.messages.model import DEFAULT_LOCALE
from reactivation.report.charts import Chart, render_charts
from reactivation.report.data import Company, ReportData, load_report_data
from reactivation.report.i18n import Lang
from reactivation.report.stats import MIN_SAMPLE, Comparison, pooled, pooled_by
from reactivation.warehouse import Warehouse

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportResult:
    """Where the report was written."""

    html_path: Path
    charts: dict[str, Path]  # chart name -> PNG path


@dataclass(frozen=True)
class Metric:
    """One headline number: its display text and the exact value behind it (kept in the HTML for checking)."""

    key: str
    label: str
    text: str
    value: float | None
    note: str = ""

    @property
    def data_value(self) -> str:
        """The value for the HTML attribute, to 6 decimals (a float's full repr could read like a phone number)."""
        return "" if self.value is None else f"{self.value:.6f}".rstrip("0").rstrip(".")


def build_report(
    wh: Warehouse, out_dir: Path, company_id: int | None = None, since: date | None = None
) -> ReportResult:
    """Write index.html and <chart>.png into `out_dir` for one company, or all companies pooled together.

    With `company_id` None the numbers are pooled across companies (counts summed, rates recomputed) in the
    locale of the first company, with a per-company table under the headline. `since` keeps funnel days, send
    weeks (by their Monday) and exposure dates on or after it.
    """
    data = load_report_data(wh, company_id, since)
    lang = Lang(data.companies[0].locale if data.companies else DEFAULT_LOCALE)
    charts = render_charts(data, lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for chart in charts:
        paths[chart.name] = out_dir / f"{chart.name}.png"
        paths[chart.name].write_bytes(chart.png)
    html_path = out_dir / "index.html"
    html_path.write_text(_render_html(data, lang, charts, company_id, since), encoding="utf-8")
    return ReportResult(html_path=html_path, charts=paths)


def _render_html(data: ReportData, lang: Lang, charts: list[Chart], company_id: int | None, since: date | None) -> str:
    overall = pooled(data.campaign)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["j2"]), undefined=StrictUndefined
    )
    return env.get_template("report.html.j2").render(
        lang=lang.code,
        t=lang,
        title=data.companies[0].name if company_id is not None else lang("all_companies"),
        period=_period(data, lang, since),
        generated=_generated_at(data.companies),
        metrics=headline(overall, lang),
        verdict=verdict(overall, lang, data.attribution_days),
        matured_note=_matured_note(overall, lang, data.attribution_days),
        companies=_company_rows(data, lang) if company_id is None else [],
        campaigns=_campaign_rows(data, lang),
        charts=[
            {"name": c.name, "title": c.title, "caption": c.caption, "b64": base64.b64encode(c.png).decode("ascii")}
            for c in charts
        ],
        how=[
            lang("how_holdout"),
            lang("how_uplift"),
            lang("how_interval", min=MIN_SAMPLE),
            lang("how_attribution", days=data.attribution_days),
            lang("how_bars"),
        ],
    )


def headline(overall: Comparison, lang: Lang) -> list[Metric]:
    """Messages, bookings, both rates, uplift with its interval, and revenue."""
    ci = overall.uplift_ci
    return [
        Metric("messages_sent", lang("hl_sent"), lang.num(overall.messages), overall.messages),
        Metric(
            "conversions",
            lang("hl_conversions"),
            lang.num(overall.conversions),
            overall.conversions,
            lang("hl_conversions_note", matured=lang.num(overall.matured)),
        ),
        Metric("conversion_rate", lang("hl_rate"), lang.pct(overall.rate), overall.rate),
        Metric("holdout_rate", lang("hl_holdout_rate"), lang.pct(overall.holdout_rate), overall.holdout_rate),
        Metric(
            "uplift",
            lang("hl_uplift"),
            lang.pp(overall.uplift) if overall.uplift is not None else "—",
            overall.uplift,
            lang("hl_uplift_ci", low=lang.pp(ci[0]), high=lang.pp(ci[1])) if ci else "",
        ),
        Metric("revenue", lang("hl_revenue"), lang.num(overall.revenue), overall.revenue),
    ]


def verdict(overall: Comparison, lang: Lang, days: int) -> str:
    """One honest sentence: does the interval clear zero, and is there enough data to say so?"""
    if not overall.matured:
        return lang("verdict_no_matured", days=days)
    if overall.uplift_ci is None:
        return lang("verdict_no_holdout")
    low, high = overall.uplift_ci
    bounds = {"low": lang.pp(low), "high": lang.pp(high)}
    hedge = "_small" if overall.too_small else ""
    if low > 0:
        text = lang(f"verdict_positive{hedge}", uplift=lang.pp(overall.uplift).lstrip("+"), **bounds)
    elif high < 0:
        text = lang(f"verdict_negative{hedge}", uplift=lang.pp(-overall.uplift).lstrip("+"), **bounds)
    else:
        text = lang("verdict_unclear", uplift=lang.pp(overall.uplift), **bounds)
    if overall.too_small:
        text += " " + lang("verdict_small", min=MIN_SAMPLE)
    return text


def _matured_note(overall: Comparison, lang: Lang, days: int) -> str:
    """Which messages the rates rest on; nothing to add to the verdict before the first window closes."""
    if not overall.matured:
        return ""
    return lang(
        "hl_matured",
        matured=lang.num(overall.matured),
        sent=lang.num(overall.messages),
        days=days,
        holdout=lang.num(overall.holdout_matured),
        clients=lang.word(overall.holdout_matured, "client"),
    )


def _company_rows(data: ReportData, lang: Lang) -> list[tuple[str, list[Metric]]]:
    """The headline per company, for the all-companies report."""
    by_company = pooled_by(data.campaign, "company_id")
    return [
        (company.name, headline(by_company.get(str(company.company_id), Comparison()), lang))
        for company in data.companies
    ]


def _campaign_rows(data: ReportData, lang: Lang) -> list[tuple[str, str, list[Metric]]]:
    """The headline per campaign (win-back, rebook), each against its own holdout, in the var `campaigns` order."""
    by_campaign = pooled_by(data.campaign, "campaign")
    known = [str(c) for c in rules.value("campaigns")]
    order = [c for c in known if c in by_campaign] + sorted(c for c in by_campaign if c not in known)
    return [(c, lang.group("campaign", c), headline(by_campaign[c], lang)) for c in order]


def _period(data: ReportData, lang: Lang, since: date | None) -> str:
    """First to last day with a run or a message (or `since` onwards); send weeks' Mondays may predate both."""
    days = pd.concat([data.funnel["funnel_date"], pd.to_datetime(data.outcomes["exposed_date"])]).dropna()
    if days.empty:
        return lang("period_empty")
    start = since or days.min().date()
    return f"{lang.date(start)} — {lang.date(days.max().date())}"


def _generated_at(companies: list[Company]) -> str:
    """Now, in the (first) company's time zone so the owner reads their own clock."""
    name = companies[0].timezone if companies and companies[0].timezone else "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, name = ZoneInfo("UTC"), "UTC"
    return f"{datetime.now(zone):%Y-%m-%d %H:%M} ({name})"
