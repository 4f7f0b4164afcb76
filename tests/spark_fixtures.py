"""Fixtures of the spark target's tests: one Spark session (local mode) for the whole test session, a private
Spark database and PostgreSQL schema per test. Registered from conftest.py (`pytest_plugins`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reactivation.settings import Settings
from reactivation.warehouse import Warehouse


@pytest.fixture(scope="session")
def spark_warehouse_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's one Spark warehouse (its parquet files and catalog); each test gets its own database in it."""
    return tmp_path_factory.mktemp("spark-warehouse")


@pytest.fixture
def spark_settings(spark_warehouse_dir: Path) -> Iterator[Settings]:
    """Models in a fresh Spark database, the runner's tables in a fresh PostgreSQL schema of the same name."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    settings = replace(
        Settings.from_env(), target="spark", pg_schema=name, spark_schema=name, spark_warehouse=spark_warehouse_dir
    )
    yield settings
    from reactivation import spark

    spark.drop_database(settings)
    with Warehouse.connect(replace(settings, target="postgres")) as wh:
        wh.execute(f'drop schema if exists "{name}" cascade')


def spark_env(settings: Settings) -> dict[str, str]:
    """The environment that makes the CLI and the flows use `settings` on the spark target."""
    return {
        "REACTIVATION_TARGET": "spark",
        "REACTIVATION_OUTBOX_TARGET": "postgres",
        "REACTIVATION_PG_SCHEMA": settings.pg_schema,
        "REACTIVATION_SPARK_SCHEMA": settings.spark_schema,
        "REACTIVATION_SPARK_WAREHOUSE": str(settings.spark_warehouse),
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spark tests are marked `spark` (`make test` leaves them out: `-m "not spark and not bench"`)."""
    for item in items:
        if "spark_settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
