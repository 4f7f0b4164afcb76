"""The demo data package: split by job (catalogue, generator, replay, `python -m`), same bytes for the same seed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reactivation import demo
from reactivation.demo import catalogue, generator, replay

FILES = ("companies.jsonl", "services.jsonl", "clients.jsonl", "records.jsonl")
# SHA-256 of the four files and of the simulated answers, taken from the single-file `demo.py` before the split:
# a change here changes every test fixture, the benchmark and the demo, so it must be deliberate.
HISTORY_SHA256 = "5cadc019f040f4f5974dd8c84bddeb08cba04c298a6733797e7bf099ba906753"
ANSWERS_SHA256 = "a0c27e35a722d5e452b59e2d6eac05db47c47960c9f95df48f927b6d1bb3ba16"


def history_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()


def test_same_seed_writes_the_same_bytes_as_before_the_split(tmp_path: Path) -> None:
    data = demo.generate(n_clients=200, years=2, seed=42, as_of=date(2026, 11, 25), n_companies=9)
    data.write_jsonl(tmp_path)
    assert history_digest(tmp_path) == HISTORY_SHA256


def test_simulated_answers_are_the_same_as_before_the_split() -> None:
    data = demo.generate(n_clients=200, years=2, seed=42, as_of=date(2026, 11, 25), n_companies=9)
    messages = [
        {
            "message_key": f"k{j:03d}",
            "company_id": client["company_id"],
            "client_id": client["id"],
            "is_holdout": j % 5 == 0,
            "service_id": data.services[j % len(data.services)]["id"],
            "phone": client["phone"],
            "exposed_at": datetime(2026, 11, 1, 9, tzinfo=UTC) + timedelta(hours=j),
        }
        for j, client in enumerate(data.clients[:120])
    ]
    answers = demo.simulate_bookings(messages, data, until=datetime(2026, 11, 25, tzinfo=UTC), seed=3)
    assert len(answers) == 19
    assert hashlib.sha256(json.dumps(answers, ensure_ascii=False).encode()).hexdigest() == ANSWERS_SHA256


def test_python_m_reactivation_demo_writes_the_files_generate_writes(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path / "cli"), "--clients", "200", "--years", "2", "--seed", "42"]
    args += ["--as-of", "2026-11-25", "--companies", "9"]
    done = subprocess.run([sys.executable, "-m", "reactivation.demo", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "records.jsonl:" in done.stdout
    assert history_digest(tmp_path / "cli") == HISTORY_SHA256


def test_demo_is_split_by_job_and_keeps_its_public_names() -> None:
    assert demo.generate is generator.generate and demo.DemoData is generator.DemoData
    assert demo.simulate_bookings is replay.simulate_bookings
    assert len(catalogue.COMPANY_SPECS) == 8 and set(catalogue.MENUS) == {spec.kind for spec in catalogue.COMPANY_SPECS}
    assert not hasattr(generator, "simulate_bookings") and not hasattr(generator, "main")
