"""Runner settings, read once from the environment (secrets never come from anywhere else)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("REACTIVATION_PROJECT_DIR", Path(__file__).resolve().parents[2]))

# A schema name that means the same to every tool, quoted or not (PostgreSQL folds unquoted names to lower case):
# at most 63 bytes (PostgreSQL silently truncates longer names), and not pg_* (reserved for system schemas).
PG_SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
PG_IDENTIFIER_MAX_LENGTH = 63


@dataclass(frozen=True)
class Settings:
    """Where the warehouse is and which engine runs it."""

    target: str = "duckdb"
    duckdb_path: Path = Path("reactivation.duckdb")
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: str = field(default="", repr=False)
    pg_database: str = "postgres"
    pg_schema: str = "reactivation"
    project_dir: Path = PROJECT_DIR
    # target 'spark': the models run in Spark (local mode through dbt-spark's session method, or a cluster); the
    # operational state (raw landing tables, outbox, opt-outs, review) stays in PostgreSQL (`outbox_target`)
    spark_warehouse: Path = Path("spark-warehouse")
    spark_schema: str = "reactivation"
    outbox_target: str = "postgres"

    def __post_init__(self) -> None:
        check_pg_schema(self.pg_schema)

    @classmethod
    def from_env(cls) -> Settings:
        target = os.environ.get("REACTIVATION_TARGET", "duckdb").strip().lower()
        if target not in ("duckdb", "postgres", "spark"):
            raise ValueError(f"REACTIVATION_TARGET must be 'duckdb', 'postgres' or 'spark', not {target!r}")
        outbox_target = os.environ.get("REACTIVATION_OUTBOX_TARGET", "postgres").strip().lower()
        if target == "spark" and outbox_target != "postgres":
            raise ValueError(
                f"REACTIVATION_OUTBOX_TARGET must be 'postgres' when the models run on Spark, not {outbox_target!r}"
            )
        return cls(
            target=target,
            duckdb_path=Path(os.environ.get("REACTIVATION_DUCKDB_PATH", "reactivation.duckdb")),
            pg_host=os.environ.get("PGHOST", "127.0.0.1"),
            pg_port=int(os.environ.get("PGPORT", "5432")),
            pg_user=os.environ.get("PGUSER", "postgres"),
            pg_password=os.environ.get("PGPASSWORD", ""),
            pg_database=os.environ.get("PGDATABASE", "postgres"),
            pg_schema=os.environ.get("REACTIVATION_PG_SCHEMA", "").strip() or cls.pg_schema,
            spark_warehouse=Path(os.environ.get("REACTIVATION_SPARK_WAREHOUSE", "").strip() or "spark-warehouse"),
            spark_schema=check_pg_schema(
                os.environ.get("REACTIVATION_SPARK_SCHEMA", "").strip() or cls.spark_schema, "REACTIVATION_SPARK_SCHEMA"
            ),
            outbox_target=outbox_target,
        )

    @property
    def schema(self) -> str:
        """Schema holding raw tables, models and runner tables alike (on Spark: the PostgreSQL schema of the runner's
        tables; the models live in the Spark database `spark_schema`)."""
        return "main" if self.target == "duckdb" else self.pg_schema

    def pg_connection_args(self) -> dict[str, object]:
        """Keyword arguments for `psycopg.connect` (the password only when one is set)."""
        return {
            "host": self.pg_host,
            "port": self.pg_port,
            "user": self.pg_user,
            "password": self.pg_password or None,
            "dbname": self.pg_database,
        }

    def describe(self) -> str:
        """Where the warehouse lives, without secrets."""
        if self.target == "duckdb":
            return f"DuckDB file {self.duckdb_path}"
        if self.target == "spark":
            return (
                f"Spark database {self.spark_schema} (warehouse {self.spark_warehouse}), operational state in "
                f"PostgreSQL {self.pg_user}@{self.pg_host}:{self.pg_port}/{self.pg_database} schema {self.pg_schema}"
            )
        return f"PostgreSQL {self.pg_user}@{self.pg_host}:{self.pg_port}/{self.pg_database} schema {self.pg_schema}"


def check_pg_schema(name: str, variable: str = "REACTIVATION_PG_SCHEMA") -> str:
    """`name` when it is a valid schema name, else ValueError naming the variable (`variable`) and the value only."""
    if not PG_SCHEMA_PATTERN.fullmatch(name):
        problem = "must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits and _, not starting with a digit)"
        if PG_SCHEMA_PATTERN.fullmatch(name.lower()):
            problem += f"; use {name.lower()!r}"
    elif len(name) > PG_IDENTIFIER_MAX_LENGTH:
        problem = f"must be at most {PG_IDENTIFIER_MAX_LENGTH} characters"
    elif name.startswith("pg_"):
        problem = "must not start with pg_ (PostgreSQL reserves those names)"
    else:
        return name
    raise ValueError(f"{variable} {problem}, not {name!r}")


def company_settings(raw: str) -> dict[int, dict[str, object]]:
    """`REACTIVATION_COMPANY_SETTINGS` parsed once for every reader: `{"101": {...}}` → {101: {...}}.

    ValueError (naming the variable, not its value) when it is not a JSON object of objects keyed by company id.
    """
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
        return {int(company): dict(fields) for company, fields in parsed.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            'REACTIVATION_COMPANY_SETTINGS must be JSON like {"101": {"timezone": "Europe/Moscow", "locale": "ru"}}'
            f": {exc}"
        ) from None
