"""The command line as a user runs it: ingest, refresh, due --format csv, clear errors."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from reactivation import dbt, demo
from reactivation.cli import app
from reactivation.overview import DUE_COLUMNS
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse, WarehouseError

from .conftest import AS_OF


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "REACTIVATION_TARGET": settings.target,
        "REACTIVATION_DUCKDB_PATH": str(settings.duckdb_path),
        "REACTIVATION_PG_SCHEMA": settings.pg_schema,
    }


def test_ingest_refresh_and_due_csv_from_the_command_line(settings: Settings, tmp_path: Path) -> None:
    demo.generate(n_clients=300, years=2, seed=3, as_of=AS_OF).write_jsonl(tmp_path / "data")
    (tmp_path / "data" / "records.jsonl").open("a", encoding="utf-8").write("{broken\n")
    runner = CliRunner()
    env = env_for(settings)

    ingested = runner.invoke(app, ["ingest", "--from-dir", str(tmp_path / "data")], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert "1 line(s) rejected" in ingested.output and "records.jsonl:" in ingested.output

    refreshed = runner.invoke(app, ["refresh", "--as-of", AS_OF.isoformat()], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert "dbt build on" in refreshed.output and "error" not in refreshed.output
    # the daily refresh runs the data tests that guard sending and no unit test (`--all-checks`: the reference test)
    assert "unit_test" not in refreshed.output and " test" in refreshed.output

    due = runner.invoke(app, ["due", "--as-of", AS_OF.isoformat(), "--format", "csv", "--no-refresh"], env=env)
    assert due.exit_code == 0, due.output
    rows = list(csv.reader(io.StringIO(due.stdout)))
    assert rows[0] == DUE_COLUMNS
    with Warehouse.connect(settings) as wh:
        expected = wh.fetchone("select count(*) from due_clients")[0]
    assert len(rows) - 1 == expected > 0
    assert {r[DUE_COLUMNS.index("as_of_date")] for r in rows[1:]} == {AS_OF.isoformat()}

    one_company = runner.invoke(app, ["due", "--company", rows[1][0], "--format", "json", "--no-refresh"], env=env)
    assert one_company.exit_code == 0
    assert one_company.stdout.count('"company_id":' + rows[1][0]) == sum(1 for r in rows[1:] if r[0] == rows[1][0])


def test_bad_as_of_date_is_rejected_with_a_clear_message() -> None:
    result = CliRunner().invoke(app, ["refresh", "--as-of", "25.11.2026"])
    assert result.exit_code == 2
    assert "is not a date like" in result.output


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    settings = replace(Settings.from_env(), target="postgres", pg_port=1, pg_password="s3cret-pass")
    with pytest.raises(WarehouseError) as failure:
        Warehouse.connect(settings)
    assert "cannot reach PostgreSQL postgres@127.0.0.1:1/postgres" in str(failure.value)
    assert "s3cret-pass" not in str(failure.value)


def test_second_duckdb_writer_gets_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(30)"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError, match="one writer at a time"):
            Warehouse.connect(replace(Settings.from_env(), target="duckdb", duckdb_path=path))
    finally:
        holder.kill()


def test_a_failing_dbt_test_names_the_model_and_the_test(settings: Settings, warehouse: Warehouse) -> None:
    warehouse.execute(
        "insert into raw_yclients_companies (company_id, name, timezone, locale, _batch_id, _loaded_at)"
        " values (1, 'Salon', 'Europe/Moscow', 'fr', 1, current_timestamp)"
    )
    # a staging test, which only `refresh --all-checks` runs; the model and its tests are enough to see it named
    with pytest.raises(dbt.DbtFailure) as failure:
        dbt.build(settings, as_of=AS_OF, all_checks=True, select="stg_yclients__companies")
    message = str(failure.value)
    assert "accepted_values_stg_yclients__companies_locale" in message
    assert "fail" in message


def test_inbound_file_and_optout_commands(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    replies = tmp_path / "inbound.jsonl"
    replies.write_text(
        "\n".join([
            '{"company_id": 101, "phone": "8 (916) 111-22-33", "text": "СТОП",'
            ' "received_at": "2026-11-25T12:00:00+03:00"}',
            '{"company_id": 101, "client_id": 7, "text": "Отписаться!"}',
            '{"company_id": 101, "client_id": 8, "text": "А можно на пятницу?"}',
            '{"company_id": 101, "text": "stop"}',
            "not json",
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, ["inbound", "--from-file", str(replies)], env=env)
    assert result.exit_code == 0, result.output
    assert "3 replies, 2 opted out" in result.output
    assert "inbound.jsonl:4" in result.output and "inbound.jsonl:5" in result.output

    assert runner.invoke(app, ["optout", "add", "--company", "101", "--client", "9"], env=env).exit_code == 0
    listed = runner.invoke(app, ["optout", "list", "--company", "101"], env=env)
    assert "3 active opt-outs" in listed.output
    assert "79161112233" not in listed.output and "+7916" in listed.output  # phones masked
    removed = runner.invoke(app, ["optout", "remove", "--company", "101", "--client", "9"], env=env)
    assert "removed" in removed.output
    again = runner.invoke(app, ["optout", "remove", "--company", "101", "--client", "9"], env=env)
    assert "no active opt-out matched" in again.output
    with Warehouse.connect(settings) as wh:
        keys = {k for (k,) in wh.fetchall("select opt_out_key from reactivation_opt_outs where removed_at is null")}
    assert keys == {"phone:79161112233", "client:7"}


def table_rows(output: str) -> list[dict[str, str]]:
    """The rows of the one rich table in `output`, as {column: cell text}."""
    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    cells = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines if line.startswith("│")]
    return [dict(zip(columns, row, strict=True)) for row in cells]


def test_optout_list_shows_client_ids_as_integers_and_blank_without_one(settings: Settings, monkeypatch) -> None:
    env = env_for(settings)
    # the CLI's console measured its width when imported (80 without a terminal): one line per row needs more
    monkeypatch.setattr("reactivation.cli.console", Console(width=200))
    runner = CliRunner()
    for option in (["--client", "123456789"], ["--phone", "+79161112233"]):
        added = runner.invoke(app, ["optout", "add", "--company", "101", *option], env=env)
        assert added.exit_code == 0, added.output

    listed = runner.invoke(app, ["optout", "list", "--company", "101"], env=env)
    assert listed.exit_code == 0, listed.output
    client_ids = {row["opt_out_key"]: row["client_id"] for row in table_rows(listed.output)}
    assert client_ids == {"client:123456789": "123456789", "phone:…": ""}


def test_the_command_line_loads_the_gemini_sdk_only_to_compose_with_ai() -> None:
    """Every command (the 15-minute deliver included) used to pay ~0.3 s importing google-genai."""
    probe = "import sys, reactivation.cli; print('google.genai' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"
    probe = (
        "import sys; from reactivation.messages.gemini import GeminiComposer; "
        "from reactivation.messages.model import ComposeSettings; "
        "GeminiComposer(ComposeSettings(gemini_api_key='AIzaTEST', gemini_base_url='http://127.0.0.1:9'), "
        "clock=lambda: 0.0, sleep=lambda s: None); print('google.genai' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "True\n"
