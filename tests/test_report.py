"""The owner-facing report: built from a small hand-made warehouse whose right answers pandas can compute directly."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from reactivation.report import ReportResult, build_report
from reactivation.report.build import verdict
from reactivation.report.i18n import Lang
from reactivation.report.stats import Comparison, wilson
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

AS_OF = date(2026, 11, 5)
WEEKS = [date(2026, 10, 5) + timedelta(weeks=i) for i in range(4)]
WINDOW = 14
RU, EN = 1, 2
COMPANIES = [
    (RU, "Салон «Лаванда»", "Europe/Moscow", "ru", "RU"),
    (EN, "Lavender Hair & Beauty", "Europe/London", "en", "GB"),
]
CHARTS = [
    "funnel",
    "conversion_by_tone",
    "conversion_by_level",
    "conversion_by_variant",
    "time_to_booking",
    "revenue",
    "due_pipeline",
    "calibration",  # the return outlook's, from outlook_calibration (tests/test_outlook_calibration.py)
]
DDL = {
    "int_companies_as_of": """company_id bigint, company_name text, timezone text, locale text, country text,
        booking_url text, as_of_date date, as_of_at timestamptz""",
    "message_outcomes": """message_key text, company_id bigint, client_id bigint, cycle_id date, attempt integer,
        campaign text, status text, is_holdout boolean, experiment_group text, tone text, interval_level text,
        variant text,
        predicted_segment text, channel text, composer text, as_of_date date, exposed_at timestamptz,
        exposed_date date, is_exposed boolean,
        is_converted boolean, converting_record_id bigint, converting_booked_at timestamptz, days_to_booking integer,
        credited_bookings integer, attended_revenue double, attribution_days integer, is_window_complete boolean""",
    "campaign_performance": """company_id bigint, send_week date, campaign text, tone text, interval_level text,
        variant text,
        predicted_segment text, channel text, composer text, messages bigint, matured_messages bigint,
        conversions bigint,
        conversion_rate double, revenue double, revenue_per_message double, avg_days_to_booking double,
        holdout_clients bigint, holdout_matured bigint, holdout_conversions bigint, holdout_rate double,
        uplift double, uplift_ci_low double, uplift_ci_high double, is_sample_too_small boolean""",
    "reactivation_funnel": """company_id bigint, funnel_date date, active_clients bigint,
        due_before_exclusions bigint, excluded_future_booking bigint, excluded_opted_out bigint,
        excluded_client_deleted bigint, excluded_invalid_phone bigint, excluded_cooldown bigint,
        excluded_max_attempts bigint, due_after_exclusions bigint, holdout bigint, queued bigint, sent bigint,
        pending bigint, failed bigint, converted bigint, holdout_converted bigint, revenue double""",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------- synthetic warehouse
def make_outcomes() -> pd.DataFrame:
    """Per company 4 weeks × 50 treated (~18 % book) and 6–7 holdout (~6 %) messages, plus a few still pending.

    Holdout rows copy tone, level and variant from a treated row of the same week, so every holdout cell has a
    treated counterpart (as in the mart, which joins holdout onto treated cells).
    """
    rng = np.random.default_rng(6)
    rows: list[dict] = []
    for company_id, *_ in COMPANIES:
        for w, week in enumerate(WEEKS):
            treated = [_message(rng, company_id, week, False, None) for _ in range(50)]
            holdout = [_message(rng, company_id, week, True, treated[int(rng.integers(50))]) for _ in range(7 - w % 2)]
            rows += treated + holdout
        rows += [_pending(company_id, n) for n in range(3)]
    frame = pd.DataFrame(rows)
    frame.insert(0, "message_key", [f"{r.company_id}:{i}:{r.cycle_id}:1" for i, r in enumerate(frame.itertuples())])
    frame.insert(2, "client_id", range(1000, 1000 + len(frame)))
    # the low segment stands in for the rebook campaign: a holdout row copies its treated twin's cell, campaign too
    frame.insert(3, "campaign", np.where(frame["predicted_segment"] == "low", "rebook", "win_back"))
    return frame


def _message(rng: np.random.Generator, company_id: int, week: date, holdout: bool, like: dict | None) -> dict:
    exposed = week + timedelta(days=int(rng.integers(7)))
    days = min(int(rng.geometric(0.3)) - 1, WINDOW)
    converted = rng.random() < (0.06 if holdout else 0.18) and exposed + timedelta(days=days) < AS_OF
    attended = converted and rng.random() < 0.8
    return {
        "company_id": company_id,
        "cycle_id": exposed - timedelta(days=60),
        "attempt": 1,
        "status": "suppressed" if holdout else "sent",
        "is_holdout": holdout,
        "experiment_group": "holdout" if holdout else "treated",
        "tone": like["tone"] if like else str(rng.choice(["gentle", "offer", "win_back"])),
        "interval_level": like["interval_level"] if like else str(rng.choice(["personal", "service", "fallback"])),
        "variant": like["variant"] if like else str(rng.choice(["a", "b"])),
        "predicted_segment": like["predicted_segment"] if like else str(rng.choice(["low", "medium", "high"])),
        "channel": "log",
        "composer": None if holdout else str(rng.choice(["ai", "template"])),
        "as_of_date": exposed,
        "exposed_at": datetime(exposed.year, exposed.month, exposed.day, 10, tzinfo=UTC),
        "exposed_date": exposed,
        "is_exposed": True,
        "is_converted": bool(converted),
        "converting_record_id": int(rng.integers(10**6)) if converted else None,
        "converting_booked_at": (
            datetime(exposed.year, exposed.month, exposed.day, 12, tzinfo=UTC) + timedelta(days=days)
            if converted
            else None
        ),
        "days_to_booking": days if converted else None,
        "credited_bookings": int(converted),
        "attended_revenue": float(rng.integers(15, 45) * 100) if attended else 0.0,
        "attribution_days": WINDOW,
        "is_window_complete": exposed + timedelta(days=WINDOW) < AS_OF,
    }


def _pending(company_id: int, n: int) -> dict:
    """A treated message still waiting for its send window: not exposed, so in no rate."""
    return {
        "company_id": company_id,
        "cycle_id": AS_OF - timedelta(days=50 + n),
        "attempt": 1,
        "status": "pending",
        "is_holdout": False,
        "experiment_group": "treated",
        "tone": "offer",
        "interval_level": "service",
        "variant": "a",
        "predicted_segment": "high",
        "channel": "log",
        "composer": "template",
        "as_of_date": AS_OF,
        "exposed_at": None,
        "exposed_date": None,
        "is_exposed": False,
        "is_converted": False,
        "converting_record_id": None,
        "converting_booked_at": None,
        "days_to_booking": None,
        "credited_bookings": 0,
        "attended_revenue": 0.0,
        "attribution_days": WINDOW,
        "is_window_complete": False,
    }


def campaign_from(outcomes: pd.DataFrame) -> pd.DataFrame:
    """campaign_performance as the dbt model shapes it: the holdout cell repeats on each channel × composer row."""
    exposed = outcomes[outcomes["is_exposed"]].copy()
    exposed["send_week"] = [d - timedelta(days=d.weekday()) for d in exposed["exposed_date"]]
    exposed["matured_conversion"] = exposed["is_window_complete"] & exposed["is_converted"]
    cell = ["company_id", "send_week", "campaign", "tone", "interval_level", "variant", "predicted_segment"]
    treated = (
        exposed[~exposed["is_holdout"]]
        .groupby([*cell, "channel", "composer"])
        .agg(
            messages=("message_key", "size"),
            matured_messages=("is_window_complete", "sum"),
            conversions=("matured_conversion", "sum"),
            revenue=("attended_revenue", "sum"),
            avg_days_to_booking=("days_to_booking", "mean"),
        )
        .reset_index()
    )
    holdout = (
        exposed[exposed["is_holdout"]]
        .groupby(cell)
        .agg(
            holdout_clients=("message_key", "size"),
            holdout_matured=("is_window_complete", "sum"),
            holdout_conversions=("matured_conversion", "sum"),
        )
        .reset_index()
    )
    frame = treated.merge(holdout, on=cell, how="left")
    frame[["holdout_clients", "holdout_matured", "holdout_conversions"]] = frame[
        ["holdout_clients", "holdout_matured", "holdout_conversions"]
    ].fillna(0)
    frame["conversion_rate"] = frame["conversions"] / frame["matured_messages"].replace(0, np.nan)
    frame["holdout_rate"] = frame["holdout_conversions"] / frame["holdout_matured"].replace(0, np.nan)
    frame["revenue_per_message"] = frame["revenue"] / frame["messages"]
    frame["uplift"] = frame["conversion_rate"] - frame["holdout_rate"]
    se = np.sqrt(
        frame["conversion_rate"] * (1 - frame["conversion_rate"]) / frame["matured_messages"]
        + frame["holdout_rate"] * (1 - frame["holdout_rate"]) / frame["holdout_matured"]
    )
    frame["uplift_ci_low"] = frame["uplift"] - 1.96 * se
    frame["uplift_ci_high"] = frame["uplift"] + 1.96 * se
    frame["is_sample_too_small"] = (frame["matured_messages"] < 30) | (frame["holdout_matured"] < 30)
    return frame


def funnel_from(outcomes: pd.DataFrame) -> pd.DataFrame:
    """reactivation_funnel: a client snapshot per day joined to the day's outbox counts."""
    days = pd.date_range(WEEKS[0], AS_OF).date
    snapshots = []
    for company_id, *_ in COMPANIES:
        for i, day in enumerate(days):
            excluded = [4 + i % 3, 2, 1, 1 + i % 2, 20 + i % 5, i % 2]
            snapshots.append([company_id, day, 420 + i, 130 + i % 7, *excluded, 130 + i % 7 - sum(excluded)])
    snapshot_columns = ["company_id", "funnel_date", "active_clients", "due_before_exclusions"]
    snapshot_columns += [f"excluded_{r}" for r in ["future_booking", "opted_out", "client_deleted", "invalid_phone"]]
    snapshot_columns += ["excluded_cooldown", "excluded_max_attempts", "due_after_exclusions"]
    treated = ~outcomes["is_holdout"]
    counts = (
        outcomes.assign(
            holdout=outcomes["is_holdout"].astype(int),
            queued=treated.astype(int),
            sent=(outcomes["status"] == "sent").astype(int),
            pending=(outcomes["status"] == "pending").astype(int),
            failed=(outcomes["status"] == "failed").astype(int),
            converted=(treated & outcomes["is_converted"]).astype(int),
            holdout_converted=(outcomes["is_holdout"] & outcomes["is_converted"]).astype(int),
            revenue=outcomes["attended_revenue"].where(treated, 0.0),
            funnel_date=outcomes["as_of_date"],
        )
        .groupby(["company_id", "funnel_date"])[
            ["holdout", "queued", "sent", "pending", "failed", "converted", "holdout_converted", "revenue"]
        ]
        .sum()
        .reset_index()
    )
    frame = pd.DataFrame(snapshots, columns=snapshot_columns).merge(
        counts, on=["company_id", "funnel_date"], how="outer"
    )
    return frame.fillna({c: 0 for c in counts.columns})


def companies_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            [cid, name, tz, locale, country, f"https://n{cid}.yclients.com/", AS_OF, datetime(2026, 11, 4, 21)]
            for cid, name, tz, locale, country in COMPANIES
        ],
        columns=[
            "company_id",
            "company_name",
            "timezone",
            "locale",
            "country",
            "booking_url",
            "as_of_date",
            "as_of_at",
        ],
    )


def create_warehouse(path: Path, tables: dict[str, pd.DataFrame]) -> Settings:
    """Create the four marts (CREATE TABLE + INSERT) in a DuckDB file and return settings pointing at it."""
    con = duckdb.connect(str(path))
    for name, ddl in DDL.items():
        con.execute(f"create table {name} ({ddl})")
        frame = tables.get(name)
        if frame is not None and len(frame):
            columns = [line.split()[0] for line in ddl.replace("\n", " ").split(", ")]
            con.register("frame", frame[columns])
            con.execute(f"insert into {name} select * from frame")
            con.unregister("frame")
    con.close()
    return replace(Settings.from_env(), target="duckdb", duckdb_path=path)


@pytest.fixture(scope="module")
def outcomes() -> pd.DataFrame:
    return make_outcomes()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, outcomes: pd.DataFrame) -> Settings:
    tables = {
        "int_companies_as_of": companies_frame(),
        "message_outcomes": outcomes,
        "campaign_performance": campaign_from(outcomes),
        "reactivation_funnel": funnel_from(outcomes),
    }
    return create_warehouse(tmp_path_factory.mktemp("wh") / "report.duckdb", tables)


def build(settings: Settings, out_dir: Path, **kwargs: object) -> tuple[ReportResult, str]:
    with Warehouse.connect(settings) as wh:
        result = build_report(wh, out_dir, **kwargs)
    return result, result.html_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ru_report(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportResult, str]:
    return build(settings, tmp_path_factory.mktemp("ru"), company_id=RU)


@pytest.fixture(scope="module")
def en_report(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportResult, str]:
    return build(settings, tmp_path_factory.mktemp("en"), company_id=EN)


# ---------- expectations computed straight from the inserted rows
def expected(outcomes: pd.DataFrame, company_id: int | None = None, since: date | None = None) -> dict[str, float]:
    rows = outcomes[outcomes["is_exposed"]]
    if company_id is not None:
        rows = rows[rows["company_id"] == company_id]
    if since is not None:
        rows = rows[rows["exposed_date"] >= since]
    treated, holdout = rows[~rows["is_holdout"]], rows[rows["is_holdout"]]
    matured, holdout_matured = treated[treated["is_window_complete"]], holdout[holdout["is_window_complete"]]
    rate, holdout_rate = matured["is_converted"].mean(), holdout_matured["is_converted"].mean()
    se = math.sqrt(rate * (1 - rate) / len(matured) + holdout_rate * (1 - holdout_rate) / len(holdout_matured))
    return {
        "messages_sent": len(treated),
        "conversions": int(matured["is_converted"].sum()),
        "conversion_rate": rate,
        "holdout_rate": holdout_rate,
        "uplift": rate - holdout_rate,
        "ci_low": rate - holdout_rate - 1.96 * se,
        "ci_high": rate - holdout_rate + 1.96 * se,
        "revenue": treated["attended_revenue"].sum(),
    }


def metric(html: str, key: str) -> float:
    match = re.search(rf'data-metric="{key}" data-value="([^"]*)"', html)
    assert match, f"headline metric {key} missing"
    return float(match.group(1))


def ru_pp(value: float) -> str:
    return f"{value * 100:+.1f}".replace(".", ",").replace("-", "\u2212") + "\u00a0п.\u00a0п."


def visible_text(html: str) -> str:
    """The HTML without the embedded images, whose base64 may hold any run of characters."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


# ---------- tests
def test_every_chart_is_a_real_png(ru_report: tuple[ReportResult, str]) -> None:
    result, _ = ru_report
    assert list(result.charts) == CHARTS
    for name, path in result.charts.items():
        assert path == result.html_path.parent / f"{name}.png"
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) > 5_000, name
        image = matplotlib.image.imread(path)
        height, width = image.shape[:2]
        assert 800 <= width <= 1400 and 400 <= height <= 900, (name, width, height)


def test_html_embeds_every_chart_and_names_the_company(ru_report: tuple[ReportResult, str]) -> None:
    result, html = ru_report
    assert result.html_path.name == "index.html"
    assert html.count("data:image/png;base64,") == len(CHARTS)
    assert "Салон «Лаванда»" in html
    assert "<script" not in html and "http" not in visible_text(html)  # offline: no CDN, no links out


def test_labels_follow_the_company_locale(
    ru_report: tuple[ReportResult, str], en_report: tuple[ReportResult, str]
) -> None:
    _, ru = ru_report
    _, en = en_report
    assert "Как читать этот отчёт" in ru and "Контрольная группа" in ru and "Записи по тону сообщения" in ru
    assert "How to read this report" in en and "Control group" in en and "Bookings by message tone" in en
    assert "Lavender Hair &amp; Beauty" in en
    assert not re.search("[а-яА-ЯёЁ]", en), "Russian text in the English report"


def test_no_phone_numbers(ru_report: tuple[ReportResult, str], en_report: tuple[ReportResult, str]) -> None:
    for _, html in (ru_report, en_report):
        text = visible_text(html)
        assert not re.search(r"\d{10,}", text)
        assert not re.search(r"\+\d[\d\s()\-\u00a0]{8,}\d", text)


@pytest.mark.parametrize("company_id", [RU, EN])
def test_headline_matches_a_direct_computation(
    company_id: int,
    outcomes: pd.DataFrame,
    ru_report: tuple[ReportResult, str],
    en_report: tuple[ReportResult, str],
) -> None:
    _, html = ru_report if company_id == RU else en_report
    want = expected(outcomes, company_id)
    assert 150 <= want["messages_sent"] <= 250 and 0.08 < want["conversion_rate"] < 0.3  # the data is as intended
    for key in ["messages_sent", "conversions", "conversion_rate", "holdout_rate", "uplift", "revenue"]:
        assert metric(html, key) == pytest.approx(want[key], abs=1e-6), key
    if company_id == RU:
        shown = f"{want['conversion_rate'] * 100:.1f}".replace(".", ",") + "\u00a0%"
        assert re.search(rf'data-metric="conversion_rate" data-value="[0-9.]+">{shown}<', html)
        assert f"{ru_pp(want['ci_low'])} … {ru_pp(want['ci_high'])}" in html


@pytest.mark.parametrize("campaign", ["win_back", "rebook"])
def test_each_campaign_is_compared_with_its_own_holdout(
    campaign: str, outcomes: pd.DataFrame, ru_report: tuple[ReportResult, str]
) -> None:
    _, html = ru_report
    want = expected(outcomes[outcomes["campaign"] == campaign], RU)
    for key in ["messages_sent", "conversions", "conversion_rate", "holdout_rate", "uplift"]:
        match = re.search(rf'data-campaign-metric="{campaign}:{key}" data-value="([^"]*)"', html)
        assert match and float(match.group(1)) == pytest.approx(want[key], abs=1e-6), key
    labels = {"win_back": "Возврат (после срока)", "rebook": "Напоминание записаться"}
    assert "По кампаниям" in html and labels[campaign] in html


def test_all_companies_pool_counts_and_list_each_company(
    settings: Settings, outcomes: pd.DataFrame, tmp_path: Path
) -> None:
    result, html = build(settings, tmp_path)
    want = expected(outcomes)
    for key in ["messages_sent", "conversion_rate", "holdout_rate", "uplift"]:
        assert metric(html, key) == pytest.approx(want[key], abs=1e-6), key
    assert "Все салоны" in html and "По салонам" in html  # the first company is Russian
    assert "Салон «Лаванда»" in html and "Lavender Hair &amp; Beauty" in html
    assert set(result.charts) == set(CHARTS)


def test_since_filters_every_input(settings: Settings, outcomes: pd.DataFrame, tmp_path: Path) -> None:
    since = WEEKS[2]
    _, html = build(settings, tmp_path, company_id=EN, since=since)
    want = expected(outcomes, EN, since)
    assert want["messages_sent"] < expected(outcomes, EN)["messages_sent"]
    for key in ["messages_sent", "conversions", "conversion_rate", "holdout_rate", "uplift", "revenue"]:
        assert metric(html, key) == pytest.approx(want[key], abs=1e-6), key
    assert "19 Oct 2026 — " in html


@pytest.mark.parametrize("with_companies", [True, False])
def test_empty_tables_say_no_data(with_companies: bool, tmp_path: Path) -> None:
    tables = {"int_companies_as_of": companies_frame()} if with_companies else {}
    settings = create_warehouse(tmp_path / "empty.duckdb", tables)
    result, html = build(settings, tmp_path / "out", company_id=RU if with_companies else None)
    assert all(path.read_bytes().startswith(PNG_SIGNATURE) for path in result.charts.values())
    assert html.count("data:image/png;base64,") == len(CHARTS)
    assert visible_text(html).count("Данных пока нет:") == len(CHARTS)
    assert "Пока рано делать выводы" in html


def test_a_warehouse_without_marts_still_reports(tmp_path: Path) -> None:
    settings = replace(Settings.from_env(), target="duckdb", duckdb_path=tmp_path / "fresh.duckdb")
    result, html = build(settings, tmp_path / "out")
    assert set(result.charts) == set(CHARTS) and "Данных пока нет" in html


def test_unknown_company_is_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="company 99"):
        build(settings, tmp_path, company_id=99)


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 20)[0] == 0.0 and wilson(0, 0) is None


@pytest.mark.parametrize(
    ("comparison", "opening"),
    [
        (Comparison(messages=10), "Пока рано делать выводы"),
        (Comparison(messages=50, matured=50, conversions=9), "Сравнивать пока не с чем"),
        (Comparison(400, 400, 80, 60, 3), "Сообщения работают"),
        (Comparison(200, 200, 40, 20, 1), "Похоже, сообщения помогают"),
        (Comparison(400, 400, 8, 60, 12), "Сообщения пока не помогают"),
        (Comparison(400, 400, 40, 60, 5), "Пока нельзя сказать, что сообщения работают лучше"),
    ],
)
def test_verdict_is_honest_about_uncertainty(comparison: Comparison, opening: str) -> None:
    text = verdict(comparison, Lang("ru"), WINDOW)
    assert text.startswith(opening)
    assert ("Данных пока мало" in text) == (
        comparison.matured > 0 and comparison.too_small and comparison.holdout_matured > 0
    )
