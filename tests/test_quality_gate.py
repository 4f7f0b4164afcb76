"""The quality gate validates all companies at once and still gives each company its own verdict and samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from reactivation import quality

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def due_row(company_id: int, client_id: int, phone: str | None = "+79161234567", **changes: object) -> dict:
    row = {"company_id": company_id, "client_id": client_id, "phone": phone, "service_id": 3, "tone": "offer",
           "interval_level": "personal", "interval_days": 30, "overdue_ratio": 1.5}  # fmt: skip
    return {**row, **changes}


def health(*companies: tuple[int, int, int, float]) -> pd.DataFrame:
    """(company, records, active clients, hours since the last load) per company."""
    rows = [{"company_id": c, "records": r, "active_clients": a, "last_loaded_at": NOW - timedelta(hours=h)}
            for c, r, a, h in companies]  # fmt: skip
    return pd.DataFrame(rows).set_index("company_id")


def test_one_validation_of_all_companies_names_each_company_s_own_failures() -> None:
    due = pd.DataFrame(
        [
            due_row(1, 1), due_row(1, 2),  # clean
            due_row(2, 5, phone="8 916 555-12-34"), due_row(2, 6), due_row(2, 6),  # a raw phone, a duplicate client
            due_row(3, 9, tone="shout", interval_days=400),  # an unknown tone and an interval beyond the bounds
            due_row(4, 1), due_row(4, 2), due_row(4, 3),  # more due clients than 0.8 of 2 active clients
            due_row(6, 1),  # not asked for: ignored
        ]
    )  # fmt: skip
    companies = health((1, 50, 10, 1), (2, 50, 10, 1), (3, 50, 10, 1), (4, 50, 2, 1), (5, 50, 10, 72), (6, 0, 0, 1))
    results = {r.company_id: r for r in quality.check_companies([1, 2, 3, 4, 5, 7], due, companies,
                                                               quality.GateSettings(), NOW)}  # fmt: skip

    assert results[1].success and results[1].failed_checks == [] and results[1].report["due_rows"] == 2
    assert sorted(results[2].failed_checks) == [
        "expect_column_values_to_match_regex(phone)",
        "expect_compound_columns_to_be_unique(company_id, client_id)",
    ]
    assert sorted(results[3].failed_checks) == [
        "expect_column_values_to_be_between(interval_days)",
        "expect_column_values_to_be_in_set(tone)",
    ]
    assert results[4].failed_checks == ["expect_column_pair_values_a_to_be_greater_than_b(max_due_rows, due_rows)"]
    assert results[4].report["due_rows"] == 3 and results[4].report["max_due_rows"] == 1
    # a company with no due client is checked on its health alone: here its records are three days old
    assert results[5].failed_checks == ["expect_column_values_to_be_between(hours_since_load)"]
    assert results[5].report["due_rows"] == 0
    assert not results[7].success and results[7].failed_checks == ["unknown_company"]

    # each company's samples hold its own rows only, and the stored form masks the phone
    checks = {c["check"]: c for c in results[2].report["failed"]}
    regex = checks["expect_column_values_to_match_regex(phone)"]["result"]
    assert regex == {"unexpected_count": 1, "partial_unexpected_list": ["8 916 555-12-34"]}
    unique = checks["expect_compound_columns_to_be_unique(company_id, client_id)"]["result"]
    assert unique["unexpected_count"] == 2 and unique["partial_unexpected_list"][0] == {"company_id": 2, "client_id": 6}
    stored = json.dumps(quality.stored_report(results[2].report))
    assert "555-12-34" not in stored and "5551234" not in stored
    assert results[3].report["failed"][0]["result"]["unexpected_count"] == 1


def test_the_single_company_check_gives_the_same_verdict_as_the_batch() -> None:
    due = pd.DataFrame([due_row(2, 5, phone="8 916 555-12-34"), due_row(2, 6)])
    companies = health((2, 50, 10, 1))
    alone = quality.check_company(2, due, companies.loc[2], quality.GateSettings(), NOW)
    batch = quality.check_companies([2], due, companies, quality.GateSettings(), NOW)[0]
    assert alone.failed_checks == batch.failed_checks == ["expect_column_values_to_match_regex(phone)"]
    assert alone.report == batch.report
