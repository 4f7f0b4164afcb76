"""Smoke test of the benchmark harness (`python -m bench`) at a tiny size on DuckDB, into a temporary folder."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from reactivation.settings import PROJECT_DIR

STEPS = [
    "generate",
    "load",
    "dbt seed",
    "full refresh",
    "batch load 1%",
    "incremental 1%",
    "full refresh (after batches)",
    "check incremental = full",
    "floor SQL",
    "pandas",
]


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
    assert "## Targets" in (out / "RESULTS.md").read_text(encoding="utf-8")
