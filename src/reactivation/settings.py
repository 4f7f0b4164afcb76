"""Runner settings, read once from the environment (secrets never come from anywhere else)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("REACTIVATION_PROJECT_DIR", Path(__file__).resolve().parents[2]))


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

    @classmethod
    def from_env(cls) -> Settings:
        target = os.environ.get("REACTIVATION_TARGET", "duckdb").strip().lower()
        if target not in ("duckdb", "postgres"):
            raise ValueError(f"REACTIVATION_TARGET must be 'duckdb' or 'postgres', not {target!r}")
        return cls(
            target=target,
            duckdb_path=Path(os.environ.get("REACTIVATION_DUCKDB_PATH", "reactivation.duckdb")),
            pg_host=os.environ.get("PGHOST", "127.0.0.1"),
            pg_port=int(os.environ.get("PGPORT", "5432")),
            pg_user=os.environ.get("PGUSER", "postgres"),
            pg_password=os.environ.get("PGPASSWORD", ""),
            pg_database=os.environ.get("PGDATABASE", "postgres"),
            pg_schema=os.environ.get("REACTIVATION_PG_SCHEMA", "reactivation"),
        )

    @property
    def schema(self) -> str:
        """Schema holding raw tables, models and runner tables alike."""
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
        return f"PostgreSQL {self.pg_user}@{self.pg_host}:{self.pg_port}/{self.pg_database} schema {self.pg_schema}"
