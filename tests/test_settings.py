"""REACTIVATION_PG_SCHEMA: refused unless it is a plain lower-case name, and quoted wherever it reaches SQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reactivation import dbt
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse


@pytest.mark.parametrize(
    "value",
    [
        'x"; drop table y; --',
        "reactivation; drop table reactivation_messages",
        "Reactivation",
        "1st_schema",
        "my-schema",
        "схема",
        "a" * 64,
        "pg_reactivation",
    ],
)
def test_a_pg_schema_that_is_not_a_plain_lower_case_name_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("REACTIVATION_PG_SCHEMA", value)
    with pytest.raises(ValueError, match="^REACTIVATION_PG_SCHEMA ") as refused:
        Settings.from_env()
    assert str(refused.value).endswith(f", not {value!r}")  # the value, and nothing more from the environment


def test_a_mixed_case_pg_schema_is_refused_with_the_lower_case_name_to_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACTIVATION_PG_SCHEMA", "Reactivation")
    with pytest.raises(ValueError, match=r"\^\[a-z_\]\[a-z0-9_\]\*\$.*use 'reactivation'"):
        Settings.from_env()


def test_a_schema_set_in_code_is_checked_like_one_from_the_environment() -> None:
    with pytest.raises(ValueError, match="REACTIVATION_PG_SCHEMA"):
        replace(Settings(), pg_schema='x"; drop table y; --')


@pytest.mark.parametrize(("value", "expected"), [("salon_2", "salon_2"), ("_x", "_x"), (" ", "reactivation")])
def test_a_plain_lower_case_pg_schema_is_accepted_and_a_blank_one_means_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("REACTIVATION_PG_SCHEMA", value)
    assert Settings.from_env().pg_schema == expected


def test_a_schema_named_like_a_sql_keyword_works_for_the_runner_and_dbt() -> None:
    """`order` is a valid name, but unquoted it is a keyword: the runner and dbt's hooks must quote it."""
    settings = replace(Settings.from_env(), target="postgres", pg_schema="order")
    try:
        outcome = dbt.run_dbt(["run", "--select", "stg_yclients__companies"], settings, raise_on_failure=False)
        assert outcome.success, [(n.unique_id, n.message) for n in outcome.failures()]
        with Warehouse.connect(settings) as wh:
            assert wh.table_exists("raw_yclients_companies") and wh.table_exists("stg_yclients__companies")
    finally:
        with Warehouse.connect(settings) as wh:
            wh.execute('drop schema if exists "order" cascade')
