"""Smoke test of the benchmark harness (`python -m bench`) at a tiny size on DuckDB, into a temporary folder, and of
its realistic day of changes."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bench import steps
from bench.generate import BOOKING_DAYS, RECENT_DAYS, realistic_day
from bench.load import connect
from reactivation.settings import PROJECT_DIR, Settings

STEPS = [
    "generate",
    "load",
    "dbt seed",
    "full refresh",
    "batch load 1%",
    "incremental 1%",
    "batch load realistic day",
    "refresh realistic day",
    "full refresh (after batches)",
    "check incremental = full",
    "floor SQL",
    "pandas",
    "daily flow, first run",
]
FLOW_STEPS = {"sync", "refresh", "companies", "gate", "plan", "compose", "queue", "deliver", "retention"}
AS_OF = date(2026, 11, 25)


@pytest.mark.bench
def test_bench_runs_every_step_and_checks_pass(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "bench",
        "--sizes",
        "20k",
        "--engines",
        "duckdb",
        "--shares",
        "0.01",
        "--templates",
        "1000",
        "--ai-clients",
        "20",
        "--daily-flow-runs",  # one run of the daily flow (~40 s here): the next day's run is the same code again
        "1",
        "--no-prefect-warm-up",  # the run creates Prefect's database itself (a few seconds instead of a warm-up flow)
        "--out",
        str(out),
        "--work-dir",
        str(tmp_path / "work"),
    ]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    with (out / "results.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    measured = {r["step"]: r for r in rows if (r["engine"], r["size"]) == ("duckdb", "20k")}
    assert list(measured) == STEPS
    assert all(float(r["seconds"]) >= 0 for r in measured.values())
    assert float(measured["full refresh"]["peak_mib"]) > 0
    for step in ("check incremental = full", "floor SQL", "pandas"):
        assert "identical to the model" in measured[step]["notes"], measured[step]
        assert "DIFFERENT" not in measured[step]["notes"]
    messages = {r["step"]: r for r in rows if r["engine"] == "-"}
    assert set(messages) == {"templates 1000", "AI 20 clients"}
    assert "20 by AI" in messages["AI 20 clients"]["notes"]
    assert {r["size"] for r in rows if r["step"] == "not run"} == {"100k", "1m", "10m"}
    results = (out / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Targets" in results and "## Targets of issue #11" in results

    # the realistic day: ≈ 0.1 % of the records, refreshed by `reactivation refresh` in its own process
    assert "% of all: " in measured["batch load realistic day"]["notes"]
    assert "reactivation refresh --as-of 2026-11-25" in measured["refresh realistic day"]["notes"]
    assert float(measured["refresh realistic day"]["peak_mib"]) > 0

    # the daily flow: a fresh `reactivation run`, every step timed by the flow itself, messages queued and logged
    flow = measured["daily flow, first run"]
    assert float(flow["seconds"]) > 0 and float(flow["peak_mib"]) > 100
    with (out / "nodes.csv").open(encoding="utf-8") as handle:
        nodes = {r["node"]: r for r in csv.DictReader(handle) if r["step"] == "daily flow, first run"}
    assert FLOW_STEPS | {"prefect start-up", "queued"} == set(nodes)
    assert all(float(nodes[name]["seconds"]) >= 0 for name in FLOW_STEPS)
    assert float(nodes["refresh"]["seconds"]) > 0 and float(nodes["prefect start-up"]["seconds"]) > 0
    assert int(nodes["queued"]["rows_affected"]) > 0
    sent = (tmp_path / "work" / "sent-duckdb-20k.jsonl").read_text(encoding="utf-8").splitlines()
    assert sent, "the log channel wrote nothing"
    assert "## Daily flow" in results and "| duckdb | 20k | first run |" in results


def test_realistic_day_is_a_salon_day_and_deterministic(tmp_path: Path) -> None:
    settings = replace(Settings(), target="duckdb", duckdb_path=tmp_path / "day.duckdb")
    steps.generate_and_load(settings, 20_000, AS_OF, 7)
    loader = connect(settings)
    try:
        inputs = steps.read_day_inputs(loader, AS_OF, 0.001, 7)
        again = steps.read_day_inputs(loader, AS_OF, 0.001, 7)
    finally:
        loader.close()
    day, other = realistic_day(**inputs), realistic_day(**again)
    pd.testing.assert_frame_equal(day.records, other.records)
    pd.testing.assert_frame_equal(day.lines, other.lines)
    assert not day.records.equals(realistic_day(**{**inputs, "seed": inputs["seed"] + 1}).records)

    records, kinds = day.records, day.kinds
    total = inputs["first_id"] - 1
    assert 0.0007 <= len(records) / total <= 0.0013  # ≈ 0.1 % of the records
    assert records["id"].is_unique
    counts = kinds.value_counts()
    assert counts.idxmax() == "booking" and set(counts.index) == {
        "booking", "attendance", "reschedule", "cancellation", "edit"
    }  # fmt: skip
    assert (records["last_change_at"] > inputs["changed_after"]).all()
    zones = inputs["timezones"]

    def local_date(row: pd.Series) -> date:
        return row["visit_at"].tz_convert(zones[int(row["company_id"])]).date()

    bookings = records[(kinds == "booking").to_numpy()]
    assert (bookings["id"] >= inputs["first_id"]).all() and bookings["attendance"].isin([0, 2]).all()
    ahead = bookings.apply(lambda r: (local_date(r) - AS_OF).days, axis=1)
    assert ahead.between(*BOOKING_DAYS).all()  # one to six weeks ahead
    recent = inputs["recent"]
    attended = recent[(recent["attendance"] == 1) & ~recent["deleted"].astype(bool) & recent["client_id"].notna()]
    since = AS_OF - timedelta(days=RECENT_DAYS)
    active = {int(r["client_id"]) for _, r in attended.iterrows() if since <= local_date(r) < AS_OF}
    assert bookings["client_id"].astype(int).isin(active).mean() >= 0.8  # mostly recently active clients

    marked = records[(kinds == "attendance").to_numpy()]
    assert marked["attendance"].isin([1, -1]).all()
    assert all(local_date(r) == AS_OF for _, r in marked.iterrows())  # the day's own visits
    assert records[(kinds == "cancellation").to_numpy()]["deleted"].all()
    moved = records[(kinds == "reschedule").to_numpy()]
    assert all(local_date(r) > AS_OF for _, r in moved.iterrows())
    edited = records[(kinds == "edit").to_numpy()]
    assert (edited["id"] < inputs["first_id"]).all()
    assert set(day.lines["record_id"]) == set(records["id"])  # every changed record comes with all its lines


def test_report_keeps_the_hand_written_tail(tmp_path: Path) -> None:
    from bench import report

    (tmp_path / "RESULTS.md").write_text(f"old generated part\n{report.KEPT}\n## By hand\n\nkept\n", encoding="utf-8")
    report.write(tmp_path, [], [], {})
    text = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results") and "old generated part" not in text
    assert text.endswith(f"\n{report.KEPT}\n## By hand\n\nkept\n")


def test_queue_target_is_judged_at_the_size_that_queued_about_5000_messages() -> None:
    from bench import report

    def first_run(engine: str, size: str, plan: float, queued: int) -> list[dict[str, str]]:
        steps = {"plan": plan, "compose": 0.2, "queue": 0.3}
        nodes = [{"engine": engine, "size": size, "step": report.FLOW_FIRST, "node": name, "seconds": str(seconds),
                  "rows_affected": ""} for name, seconds in steps.items()]  # fmt: skip
        return [*nodes, {"engine": engine, "size": size, "step": report.FLOW_FIRST, "node": "queued",
                         "seconds": "0", "rows_affected": str(queued)}]  # fmt: skip

    nodes = first_run("duckdb", "1m", 0.5, 4511) + first_run("duckdb", "10m", 5.0, 44972)
    measure, _, _, measured, verdict = report._messages_target([], nodes)
    assert measure.startswith("plan + compose + queue")
    assert verdict == "met (judged at 1m)"
    assert "duckdb 1m: 1.00 s for 4,511 messages" in measured and "duckdb 10m: 5.50 s for 44,972" in measured

    slow = first_run("duckdb", "1m", 1.8, 4511)
    assert report._messages_target([], slow)[4] == "**missed** (judged at 1m)"


def test_each_measured_step_is_in_the_results_before_the_run_ends(tmp_path: Path, monkeypatch) -> None:
    """A run stopped half-way (a long size killed, a crash in a later step) keeps every step it measured."""
    from bench import run

    monkeypatch.setattr(run, "machine", lambda engines: {"CPUs": "2"})  # no server needed for the report
    args = run.parse_args(["--sizes", "1m", "--engines", "duckdb", "--out", str(tmp_path)])
    bench_run = run.Run(args, tmp_path, "python -m bench --sizes 1m")
    bench_run.add("duckdb", "1m", "full refresh", {"seconds": 12.5, "nodes": [{"node": "due_clients", "seconds": 1.5,
                                                                          "rows_affected": 7}]})  # fmt: skip

    with (tmp_path / "results.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r["engine"], r["size"]) == ("duckdb", "1m")]
    assert [(r["step"], float(r["seconds"])) for r in rows] == [("full refresh", 12.5)]
    with (tmp_path / "nodes.csv").open(encoding="utf-8") as handle:
        assert [r["node"] for r in csv.DictReader(handle)] == ["due_clients"]
    assert "| duckdb | 1m | full refresh | 12.50 |" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
