"""The report's charts, each drawn with its plain-language caption from the same numbers.

Charts are drawn on bare `Figure` objects (no pyplot state), so reports can be built side by side.
"""

from __future__ import annotations

import io
import itertools
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from reactivation.report.data import ReportData
from reactivation.report.i18n import Lang
from reactivation.report.stats import MIN_SAMPLE, Comparison, pooled_by, wilson

matplotlib.use("Agg")  # headless: the report runs in flows and CI without a display

DPI = 110
SIZE = (9.6, 4.8)
BAR_WIDTH = 0.36
TREATED = "#1f7a6d"
HOLDOUT = "#a9b1b8"
ACCENT = "#d1495b"
INK = "#2b2d42"
MUTED = "#6c757d"
PALETTE_STEPS = ["#264653", "#2a9d8f", None, "#52b69a"]
PALETTE_MESSAGES = ["#a9b1b8", "#76c893", "#1f7a6d", "#e9a03b"]
PALETTE_REASONS = ["#e76f51", "#f4a261", "#e9c46a", "#b5838d", "#8d99ae", "#6d597a"]
STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 12,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#b0b0b0",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "axes.grid": True,
    "grid.color": "#e9ecef",
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "text.color": INK,
}
DIMENSION_ORDER = {
    "tone": ["gentle", "offer", "win_back", "rebook"],  # rebook: the rebook campaign's one tone
    "interval_level": ["personal", "service", "industry", "fallback"],
    "variant": ["a", "b"],
}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: PNG bytes plus the sentence that explains it."""

    name: str
    title: str
    caption: str
    png: bytes


def render_charts(data: ReportData, lang: Lang) -> list[Chart]:
    """All report charts in page order."""
    drawers: list[tuple[str, Callable[[Figure, ReportData, Lang], tuple[str, str]]]] = [
        ("funnel", funnel),
        ("conversion_by_tone", lambda fig, d, lg: conversion_by(fig, d, lg, "tone")),
        ("conversion_by_level", lambda fig, d, lg: conversion_by(fig, d, lg, "interval_level")),
        ("conversion_by_variant", lambda fig, d, lg: conversion_by(fig, d, lg, "variant")),
        ("time_to_booking", time_to_booking),
        ("revenue", revenue),
        ("due_pipeline", due_pipeline),
        ("calibration", calibration),
    ]
    charts = []
    for name, draw in drawers:
        with matplotlib.rc_context(STYLE):
            fig = Figure(figsize=SIZE, layout="constrained")
            title, caption = draw(fig, data, lang)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", facecolor="white")
        charts.append(Chart(name, title, caption, buffer.getvalue()))
    return charts


# ---------- funnel
def funnel(fig: Figure, data: ReportData, lang: Lang) -> tuple[str, str]:
    """Clients on the latest day (left) and message totals over the period (right), as horizontal bars."""
    title = _title(fig, lang("funnel_title"))
    left, right = fig.subplots(1, 2, width_ratios=[1.15, 1])
    snapshots = data.funnel.dropna(subset=["active_clients"])
    if data.funnel.empty:
        _no_data(left, lang("no_data"))
        _no_data(right, lang("no_data"))
        return title, lang("caption_funnel_empty")
    messages = data.funnel[["holdout", "queued", "sent", "converted"]].sum()
    _message_bars(right, messages, lang)
    if snapshots.empty:
        _no_data(left, lang("no_data"))
        return title, lang("caption_funnel_empty")
    latest = snapshots.sort_values("funnel_date").groupby("company_id").tail(1)
    day = latest["funnel_date"].max().date()
    clients = latest.drop(columns=["company_id", "funnel_date"]).sum()
    _client_bars(left, clients, lang, day, data.exclusion_reasons)
    caption = lang(
        "caption_funnel",
        date=lang.date(day),
        active=lang.num(clients["active_clients"]),
        due=lang.num(clients["due_before_exclusions"]),
        after=lang.num(clients["due_after_exclusions"]),
        sent=lang.num(messages["sent"]),
        converted=lang.num(messages["converted"]),
    )
    return title, caption


def _client_bars(ax: Axes, clients: pd.Series, lang: Lang, day: date, reasons: tuple[str, ...]) -> None:
    """Active → due → excluded, stacked by reason → left after exclusions."""
    steps = ["active_clients", "due_before_exclusions", None, "due_after_exclusions"]
    labels = [lang("step_active"), lang("step_due"), lang("step_excluded"), lang("step_due_after")]
    for y, (step, colour) in enumerate(zip(steps, PALETTE_STEPS)):
        if step is not None:
            ax.barh(y, clients[step], color=colour, height=0.62)
            _bar_value(ax, clients[step], y, lang)
    start = 0.0
    handles = []
    for reason, colour in zip(reasons, itertools.cycle(PALETTE_REASONS)):
        count = clients[f"excluded_{reason}"]
        if count > 0:
            ax.barh(2, count, left=start, color=colour, height=0.62)
            handles.append(Patch(color=colour, label=f"{lang(f'reason_{reason}')}: {lang.num(count)}"))
            start += count
    _bar_value(ax, start, 2, lang)
    _funnel_axes(ax, labels, lang("funnel_clients", date=lang.date(day)), max(clients[steps[0]], start))
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=3, fontsize=8.5)


def _message_bars(ax: Axes, messages: pd.Series, lang: Lang) -> None:
    """Held out, queued, sent and converted over the whole period."""
    steps = ["holdout", "queued", "sent", "converted"]
    for y, (step, colour) in enumerate(zip(steps, PALETTE_MESSAGES)):
        ax.barh(y, messages[step], color=colour, height=0.62)
        _bar_value(ax, messages[step], y, lang)
    labels = [lang(f"step_{step}") for step in steps]
    _funnel_axes(ax, labels, lang("funnel_messages"), messages.max())


def _funnel_axes(ax: Axes, labels: list[str], title: str, widest: float) -> None:
    ax.set_yticks(range(len(labels)), [textwrap.fill(label, 22) for label in labels])
    ax.invert_yaxis()
    ax.set_xlim(0, max(widest, 1) * 1.18)
    ax.set_title(title, fontsize=11, fontweight="normal", color=MUTED)
    ax.grid(False)
    ax.xaxis.set_visible(False)
    ax.spines[["bottom"]].set_visible(False)
    ax.tick_params(axis="y", length=0)


def _bar_value(ax: Axes, value: float, y: float, lang: Lang) -> None:
    ax.annotate(lang.num(value), (value, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9.5)


# ---------- conversion by group
def conversion_by(fig: Figure, data: ReportData, lang: Lang, dimension: str) -> tuple[str, str]:
    """Treated vs holdout booking rate per group with Wilson bars and the uplift written above each group."""
    title = _title(fig, lang(f"title_{dimension}"))
    ax = fig.subplots()
    groups = pooled_by(data.campaign, dimension)
    keys = _ordered(groups, dimension)
    keys = [key for key in keys if groups[key].matured or groups[key].holdout_matured]
    if not keys:
        _no_data(ax, lang("no_data"))
        return title, lang("caption_conv_empty", days=data.attribution_days)
    tops = [_group_bars(ax, i, groups[key], lang) for i, key in enumerate(keys)]
    ax.set_xticks(
        range(len(keys)),
        [
            f"{lang.group(dimension, key)}\n"
            + lang("n_label", treated=lang.num(groups[key].matured), holdout=lang.num(groups[key].holdout_matured))
            for key in keys
        ],
    )
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylim(0, max(max(tops) * 1.45, 5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: lang.pct(v / 100, 0)))
    ax.set_ylabel(lang("conv_axis", days=data.attribution_days, days_word=lang.word(data.attribution_days, "day_gen")))
    ax.set_xlabel(lang("bars_note"), fontsize=8.5, color=MUTED, loc="left", labelpad=8)
    ax.grid(axis="x", visible=False)
    ax.tick_params(axis="x", length=0)
    handles = [Patch(color=TREATED, label=lang("treated")), Patch(color=HOLDOUT, label=lang("holdout"))]
    if any(groups[key].too_small for key in keys):
        handles.append(Patch(facecolor=HOLDOUT, alpha=0.55, edgecolor="white", hatch="///", label=lang("small_sample")))
    _top_legend(ax, handles)
    return title, _conversion_caption({key: groups[key] for key in keys}, dimension, lang)


def _ordered(groups: dict[str, Comparison], dimension: str) -> list[str]:
    known = [key for key in DIMENSION_ORDER[dimension] if key in groups]
    return known + sorted(key for key in groups if key not in known)


def _group_bars(ax: Axes, x: int, group: Comparison, lang: Lang) -> float:
    """Draw one group's two bars and its uplift label; return the top of what was drawn (in %)."""
    offset = BAR_WIDTH / 2 + 0.01
    top = max(
        _rate_bar(ax, x - offset, group.conversions, group.matured, TREATED, group.too_small, lang),
        _rate_bar(ax, x + offset, group.holdout_conversions, group.holdout_matured, HOLDOUT, group.too_small, lang),
    )
    if group.uplift_ci is None:
        label, colour = lang("no_group_data"), MUTED
    else:
        low, high = group.uplift_ci
        bounds = f"{lang.num_signed(low * 100, 1)} … {lang.num_signed(high * 100, 1)}"
        label = f"{lang.pp(group.uplift)}\n{lang('ci_short', bounds=bounds)}"
        colour = INK if low > 0 or high < 0 else MUTED
    if group.too_small:
        label, colour = f"{label}\n{lang('small_sample')}", ACCENT
    ax.annotate(
        label, (x, top), xytext=(0, 18), textcoords="offset points", ha="center", va="bottom", fontsize=9, color=colour
    )
    return top


def _rate_bar(ax: Axes, x: float, successes: int, trials: int, colour: str, faint: bool, lang: Lang) -> float:
    """One rate bar with its Wilson 95 % interval and its value; returns the interval's top in % (0 if empty)."""
    interval = wilson(successes, trials)
    if interval is None:
        return 0.0
    rate = successes / trials * 100
    low, high = interval[0] * 100, interval[1] * 100
    ax.bar(
        x,
        rate,
        width=BAR_WIDTH,
        color=colour,
        alpha=0.55 if faint else 1.0,
        hatch="///" if faint else None,
        edgecolor="white",
        yerr=[[max(rate - low, 0.0)], [max(high - rate, 0.0)]],  # float noise at 0 % must not go negative
        error_kw={"ecolor": INK, "elinewidth": 1, "capsize": 4, "alpha": 0.8},
    )
    ax.annotate(
        lang.pct(rate / 100),
        (x, rate),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        fontsize=8.5,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
    )
    return high


def _conversion_caption(groups: dict[str, Comparison], dimension: str, lang: Lang) -> str:
    judged = {key: group for key, group in groups.items() if not group.too_small and group.uplift_ci}
    if not judged:
        return lang("caption_conv_all_small", min=MIN_SAMPLE)
    key, best = max(judged.items(), key=lambda item: item[1].uplift)
    low, high = best.uplift_ci
    caption = lang(
        "caption_conv",
        group=lang.group(dimension, key),
        rate=lang.pct(best.rate),
        holdout_rate=lang.pct(best.holdout_rate),
        uplift=lang.pp(best.uplift),
        low=lang.pp(low),
        high=lang.pp(high),
    )
    if len(judged) < len(groups):
        caption += " " + lang("caption_conv_small", min=MIN_SAMPLE)
    return caption


# ---------- time to booking
def time_to_booking(fig: Figure, data: ReportData, lang: Lang) -> tuple[str, str]:
    """Days from message to booking for treated clients who booked, with the median marked."""
    title = _title(fig, lang("ttb_title"))
    ax = fig.subplots()
    outcomes = data.outcomes
    booked = outcomes.loc[
        outcomes["is_exposed"] & ~outcomes["is_holdout"] & outcomes["is_converted"], "days_to_booking"
    ].dropna()
    if booked.empty:
        _no_data(ax, lang("no_data"))
        return title, lang("caption_ttb_empty")
    window = data.attribution_days
    ax.hist(booked.clip(0, window), bins=np.arange(window + 2) - 0.5, color=TREATED, edgecolor="white", rwidth=0.9)
    median = float(booked.median())
    median_text = lang.num(median, 0 if median.is_integer() else 1)
    ax.axvline(median, color=ACCENT, linestyle="--", linewidth=1.6)
    median_label = lang("ttb_median", value=median_text, days_word=lang.word(median, "day"))
    _top_legend(ax, [Line2D([], [], color=ACCENT, linestyle="--", label=median_label)])
    ax.set_xlim(-0.6, window + 0.6)
    ax.xaxis.set_major_locator(MultipleLocator(1 if window <= 21 else 7))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: lang.num(v)))
    ax.set_xlabel(lang("ttb_axis_x"))
    ax.set_ylabel(lang("ttb_axis_y"))
    ax.grid(axis="x", visible=False)
    caption = lang(
        "caption_ttb",
        count=lang.num(len(booked)),
        median=median_text,
        days_word=lang.word(median, "day"),
        share_week=lang.pct((booked <= 7).mean(), 0),
    )
    return title, caption


# ---------- revenue
def revenue(fig: Figure, data: ReportData, lang: Lang) -> tuple[str, str]:
    """Revenue credited per send week (bars; hatched while the window is open) and revenue per message (line)."""
    title = _title(fig, lang("revenue_title"))
    ax = fig.subplots()
    weekly = data.campaign.groupby("send_week")[["messages", "matured_messages", "revenue"]].sum().sort_index()
    weekly = weekly[weekly["messages"] > 0]
    if weekly.empty:
        _no_data(ax, lang("no_data"))
        return title, lang("caption_revenue_empty")
    if weekly["revenue"].sum() == 0:
        _no_data(ax, lang("no_revenue"))
        still_open = (weekly["matured_messages"] < weekly["messages"]).any()
        return title, lang(
            "caption_no_revenue_open" if still_open else "caption_no_revenue", days=data.attribution_days
        )
    x = np.arange(len(weekly))
    is_open = (weekly["matured_messages"] < weekly["messages"]).to_numpy()
    bars = ax.bar(x, weekly["revenue"], width=0.6, color=TREATED)
    for bar, open_window in zip(bars, is_open):
        if open_window:
            bar.set(facecolor="#9fd3c7", hatch="///", edgecolor=TREATED)
        ax.annotate(
            lang.num(bar.get_height()),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    per_message = weekly["revenue"] / weekly["messages"]
    ticks = [
        f"{lang.short_date(week.date())}\n{lang('per_message_short', value=lang.num(value))}"
        for week, value in per_message.items()
    ]
    ax.set_xticks(x, ticks, rotation=45 if len(x) > 12 else 0)
    ax.set_ylim(0, weekly["revenue"].max() * 1.18)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: lang.num(v)))
    ax.set_xlabel(lang("week_axis"))
    ax.set_ylabel(lang("revenue_axis"))
    ax.grid(axis="x", visible=False)
    ax.tick_params(axis="x", length=0)
    if is_open.any():
        handles = [
            Patch(color=TREATED, label=lang("revenue_closed")),
            Patch(facecolor="#9fd3c7", hatch="///", edgecolor=TREATED, label=lang("revenue_open")),
        ]
        _top_legend(ax, handles)
    total, messages = weekly["revenue"].sum(), weekly["messages"].sum()
    caption = lang("caption_revenue", revenue=lang.num(total), per_message=lang.num(total / messages, 1))
    if is_open.any():
        caption += " " + lang("caption_revenue_open", days=data.attribution_days)
    return title, caption


# ---------- due pipeline
def due_pipeline(fig: Figure, data: ReportData, lang: Lang) -> tuple[str, str]:
    """Due before and after exclusions, queued and sent per day: is the daily run keeping up?"""
    title = _title(fig, lang("pipeline_title"))
    ax = fig.subplots()
    series = {
        "due_before_exclusions": ("series_due_before", "#264653", "-"),
        "due_after_exclusions": ("series_due_after", "#52b69a", "-"),
        "sent": ("series_sent", ACCENT, "-"),
        "queued": ("series_queued", "#e9a03b", "--"),
    }
    daily = data.funnel.groupby("funnel_date")[list(series)].sum(min_count=1).sort_index()
    if daily.empty:
        _no_data(ax, lang("no_data"))
        return title, lang("caption_pipeline_empty")
    days = [day.date() for day in daily.index]
    marker = "o" if len(days) <= 31 else None
    x = np.arange(len(days))
    for column, (label, colour, style) in series.items():
        ax.plot(x, daily[column], label=lang(label), color=colour, linestyle=style, marker=marker, markersize=4, lw=2)
    step = max(1, len(days) // 10)
    ax.set_xticks(x[::step], [lang.short_date(day) for day in days[::step]])
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: lang.num(v)))
    ax.set_ylabel(lang("pipeline_axis"))
    _top_legend(ax, ax.get_legend_handles_labels()[0])
    last = daily.iloc[-1].fillna(0)
    caption = lang(
        "caption_pipeline",
        date=lang.date(days[-1]),
        due=lang.num(last["due_before_exclusions"]),
        clients=lang.word(last["due_before_exclusions"], "client"),
        after=lang.num(last["due_after_exclusions"]),
        sent=lang.num(daily["sent"].sum()),
    )
    return title, caption


# ---------- return outlook calibration
def calibration(fig: Figure, data: ReportData, lang: Lang) -> tuple[str, str]:
    """Predicted vs observed share booking within the outlook's horizon, one point per decile of the prediction
    (clients no message could have moved; the bins come summed from `outlook_calibration`), Wilson bars."""
    title = _title(fig, lang("calibration_title"))
    ax = fig.subplots()
    days, days_word = data.horizon_days, lang.word(data.horizon_days, "day_gen")
    bins = data.calibration[data.calibration["clients"] > 0] if len(data.calibration) else data.calibration
    if bins.empty:
        _no_data(ax, lang("no_data"))
        return title, lang("caption_calibration_empty", days=days, days_word=days_word)
    clients = bins["clients"].to_numpy(dtype=float)
    booked = bins["booked_clients"].to_numpy(dtype=float)
    predicted = bins["predicted_sum"].to_numpy(dtype=float) / clients * 100
    observed = booked / clients * 100
    intervals = [wilson(int(b), int(n)) or (0.0, 0.0) for b, n in zip(booked, clients)]
    below = observed - np.array([low * 100 for low, _ in intervals])
    above = np.array([high * 100 for _, high in intervals]) - observed
    ax.plot([0, 100], [0, 100], linestyle="--", color=MUTED, lw=1.2, label=lang("calibration_perfect"))
    ax.errorbar(
        predicted, observed, yerr=[below, above], fmt="o", color=TREATED, ecolor=TREATED, elinewidth=1.2, capsize=3,
        markersize=7, label=lang("calibration_observed"),
    )  # fmt: skip
    for x, y, n in zip(predicted, observed, clients):
        ax.annotate(lang.num(n), (x, y), xytext=(7, -3), textcoords="offset points", fontsize=8.5, color=MUTED)
    ax.set_xlim(-1.5, 101.5)  # a little room: points at 0 % or 100 % stay whole
    ax.set_ylim(-3, 103)
    ax.xaxis.set_major_locator(MultipleLocator(10))
    ax.yaxis.set_major_locator(MultipleLocator(10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: lang.pct(v / 100, 0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: lang.pct(v / 100, 0)))
    ax.set_xlabel(lang("calibration_axis_x", days=days, days_word=days_word))
    ax.set_ylabel(lang("calibration_axis_y", days=days, days_word=days_word))
    _top_legend(ax, ax.get_legend_handles_labels()[0])
    total = clients.sum()
    caption = lang(
        "caption_calibration",
        clients=lang.num(total),
        clients_word=lang.word(total, "client"),
        predicted=lang.pct(bins["predicted_sum"].sum() / total),
        observed=lang.pct(booked.sum() / total),
        days=days,
        days_word=days_word,
    )
    return title, caption


def _title(fig: Figure, text: str) -> str:
    """The chart title, top left, above any legend band."""
    fig.suptitle(text, x=0.01, ha="left", fontsize=13, fontweight="bold")
    return text


def _top_legend(ax: Axes, handles: list) -> None:
    """A one-row legend between the title and the plot, where it cannot cover bars or labels."""
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0, 1.02),
        borderaxespad=0,
        ncol=len(handles),
        fontsize=9.5,
        handlelength=1.6,
    )


def _no_data(ax: Axes, text: str) -> None:
    """An empty panel that says so instead of an empty frame."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=15, color=MUTED, transform=ax.transAxes)
