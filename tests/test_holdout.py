"""Holdout and variant assignment: the share matches `holdout_percent` and is stable, on both engines."""

from __future__ import annotations

import hashlib

from reactivation import dbt

RANGE = {"duckdb": "range(200000) as t(i)", "postgres": "generate_series(0, 199999) as t(i)"}


def bucket(text: str) -> int:
    """The same hash as the `stable_bucket` macro, computed independently."""
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16)


def show(settings, sql: str) -> list[dict]:
    outcome = dbt.run_dbt(["show", "--inline", sql, "--limit", "-1"], settings)
    table = outcome.raw.results[0].agate_table
    return [dict(zip(table.column_names, row)) for row in table.rows]


def test_holdout_share_is_within_tolerance_and_matches_an_independent_hash(settings, engine) -> None:
    key = "'101:' || cast(i as varchar) || ':2026-10-01:holdout'"
    rows = show(
        settings,
        f"select count(*) as clients,"
        f" sum(case when mod({{{{ stable_bucket(\"{key}\") }}}}, 10000) < {{{{ var('holdout_percent') * 100 }}}}"
        f" then 1 else 0 end) as held_out,"
        f' sum(case when i < 50 and mod({{{{ stable_bucket("{key}") }}}}, 10000) < 1000 then i + 1 else 0 end)'
        f" as first_held_ids"
        f" from {RANGE[engine]}",
    )
    clients, held_out = int(rows[0]["clients"]), int(rows[0]["held_out"])
    assert clients == 200_000
    assert abs(held_out / clients - 0.10) < 0.003  # 10 % ± 0.3 pp (≈ 4.5 standard deviations)
    expected = sum(bucket(f"101:{i}:2026-10-01:holdout") % 10000 < 1000 for i in range(clients))
    assert held_out == expected  # the SQL hash is exactly the documented MD5 rule, stable across runs and engines
    first = sum(i + 1 for i in range(50) if bucket(f"101:{i}:2026-10-01:holdout") % 10000 < 1000)
    assert int(rows[0]["first_held_ids"]) == first
