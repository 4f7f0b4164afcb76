"""Independent plain-Python/pandas reference implementation of the reactivation rules.

The dbt models are checked against this module: given the same raw YClients-shaped
objects, seeds and as-of date, ``compute`` must produce exactly the same
``reactivation_intervals`` (``Reference.intervals``), ``due_clients``
(``Reference.due``) and ``due_client_exclusions`` (``Reference.exclusions``).

It is written straight from the business rules, deliberately simply, without any
attempt to mirror the SQL.

Decisions where the rules leave room (kept in one place so the tests can rely on them):

* A record ``datetime`` / ``last_change_date`` without a UTC offset is read as wall-clock
  time in the company's time zone.  Missing, ``None``, empty or unparsable values are
  "no datetime".  A version without a parsable ``last_change_date`` loses to any version
  that has one; between versions with equal (or both missing) change dates the later one
  in the input list wins.
* A record ``client`` that is not a dict (YClients sends ``[]`` for "no client") or has
  no ``id`` means "no client".
* ``attendance`` missing/unparsable counts as 0; ``deleted`` missing counts as false.
* ``service_title`` in the appointments frame is the title of the first entry in the
  record's services list with that service id.
* For a service absent from the services table, the "latest appointment" (whose title is
  used for matching and as ``service_title``) is the appointment row with the greatest
  ``visit_at``, ties broken by the greatest ``record_id``; all appointment rows count
  (deleted or not, any attendance, any date).
* The fallback source for a client's phone/name is the client object of the client's
  *winning* record version with the greatest ``last_change_date`` (ties: later in the
  list).  If the client exists in the clients table, that table is used even if its
  phone is empty (-> invalid_phone).
* Opt-out phone matching compares normalised phones and only matches when both the
  opt-out phone and the client's phone are valid.
* ``cooldown`` cut-off is the as-of moment minus exactly 14 x 24 hours.
* ``max_attempts`` counts messages of the same company and client.
"""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

DEFAULT_TIMEZONE = "Europe/Moscow"

DEFAULT_PARAMS: dict[str, int] = {
    "interval_min_days": 7,
    "interval_max_days": 365,
    "personal_min_intervals": 2,
    "service_min_intervals": 10,
    "service_min_clients": 3,
    "fallback_interval_days": 35,
    "lost_after_days": 365,
    "cooldown_days": 14,
    "max_attempts_per_cycle": 2,
}

COUNTING_STATUSES = {"pending", "sent", "suppressed"}

APPOINTMENT_COLUMNS = [
    "company_id",
    "record_id",
    "client_id",
    "service_id",
    "service_title",
    "visit_at",
    "visit_date",
    "attendance",
    "is_deleted",
    "cost",
]
INTERVAL_COLUMNS = [
    "company_id",
    "client_id",
    "service_id",
    "last_visit_date",
    "visit_count",
    "interval_days",
    "interval_level",
    "interval_count",
    "category",
]
DUE_COLUMNS = [
    "company_id",
    "client_id",
    "client_name",
    "phone",
    "service_id",
    "service_title",
    "category",
    "last_visit_date",
    "interval_days",
    "interval_level",
    "interval_count",
    "days_since",
    "overdue_ratio",
    "tone",
    "cycle_id",
    "as_of_date",
]
EXCLUSION_COLUMNS = ["company_id", "client_id", "service_id", "reason"]


@dataclass
class Reference:
    appointments: pd.DataFrame  # the appointments cache (rule 2)
    intervals: pd.DataFrame  # reactivation_intervals (rule 3)
    due: pd.DataFrame  # due_clients (rule 4)
    exclusions: pd.DataFrame  # due_client_exclusions


# --------------------------------------------------------------------------- helpers


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "t", "yes", "y"}
    return bool(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _tz(name: Any) -> ZoneInfo:
    return ZoneInfo(name if name else DEFAULT_TIMEZONE)


def _parse_instant(value: Any, tz: ZoneInfo) -> datetime | None:
    """Parse an ISO 8601 string (or datetime) to an aware UTC datetime, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def normalise_phone(raw: Any) -> str | None:
    """Digits only; 11 digits starting with 8 -> 7...; valid iff 11..15 digits -> '+digits'."""
    if raw is None:
        return None
    digits = "".join(ch for ch in str(raw) if ch.isdigit())
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    if 11 <= len(digits) <= 15:
        return "+" + digits
    return None


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _frame(rows: list[dict], columns: list[str], keys: list[str], int_columns: Iterable[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in int_columns:
        df[col] = df[col].astype("int64")
    if len(df):
        df = df.sort_values(keys, kind="mergesort")
    return df.reset_index(drop=True)


def _dedupe_later_wins(items: Iterable[dict], key) -> dict:
    out: dict = {}
    for item in items:
        out[key(item)] = item  # later one in the list overwrites
    return out


def _load_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- rules


def _categorise(text: Any, rules: list[tuple[str, str, int]]) -> str | None:
    if not text:
        return None
    lowered = str(text).lower()
    matches = [
        (priority, -len(keyword), category) for keyword, category, priority in rules if keyword and keyword in lowered
    ]
    if not matches:
        return None
    return min(matches)[2]


def compute(
    companies: list[dict],
    services: list[dict],
    clients: list[dict],
    records: list[dict],
    industry_standards_csv: str,
    category_rules_csv: str,
    as_of: date,
    opt_outs: list[dict] = (),
    messages: list[dict] = (),
    params: dict | None = None,
) -> Reference:
    p = {**DEFAULT_PARAMS, **(params or {})}
    D = as_of

    # ---- reference tables (later duplicates win)
    company_by_id = _dedupe_later_wins(companies, lambda c: _int_or_none(c.get("company_id")))
    service_by_key = _dedupe_later_wins(
        services, lambda s: (_int_or_none(s.get("company_id")), _int_or_none(s.get("id")))
    )
    client_by_key = _dedupe_later_wins(
        clients, lambda c: (_int_or_none(c.get("company_id")), _int_or_none(c.get("id")))
    )

    def company_tz(company_id: int) -> ZoneInfo:
        return _tz((company_by_id.get(company_id) or {}).get("timezone"))

    def as_of_moment(company_id: int) -> datetime:
        return datetime.combine(D, time(0, 0), tzinfo=company_tz(company_id)).astimezone(UTC)

    standards = {row["category"]: int(row["typical_interval_days"]) for row in _load_csv(industry_standards_csv)}
    rules = [(row["keyword"].lower(), row["category"], int(row["priority"])) for row in _load_csv(category_rules_csv)]

    # ---- winning record versions: latest last_change_date, ties -> later in the list
    best: dict[tuple[int, int], tuple[tuple, dict]] = {}
    for position, rec in enumerate(records):
        company_id = _int_or_none(rec.get("company_id"))
        record_id = _int_or_none(rec.get("id"))
        changed = _parse_instant(rec.get("last_change_date"), company_tz(company_id))
        rank = (changed is not None, changed or datetime.min.replace(tzinfo=UTC), position)
        key = (company_id, record_id)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, rec)
    winners = [(rank, rec) for rank, rec in best.values()]

    def record_client_id(rec: dict) -> int | None:
        client = rec.get("client")
        return _int_or_none(client.get("id")) if isinstance(client, dict) else None

    # ---- rule 2: appointments
    appointment_rows: list[dict] = []
    for _, rec in winners:
        company_id = _int_or_none(rec.get("company_id"))
        client_id = record_client_id(rec)
        tz = company_tz(company_id)
        visit_at = _parse_instant(rec.get("datetime"), tz)
        if client_id is None or visit_at is None:
            continue
        per_service: dict[int, dict] = {}
        for entry in rec.get("services") or []:
            service_id = _int_or_none(entry.get("id"))
            if service_id is None:
                continue
            if service_id not in per_service:
                per_service[service_id] = {"title": entry.get("title"), "cost": 0.0}
            per_service[service_id]["cost"] += _number(entry.get("cost"))
        for service_id, info in per_service.items():
            appointment_rows.append(
                {
                    "company_id": company_id,
                    "record_id": _int_or_none(rec.get("id")),
                    "client_id": client_id,
                    "service_id": service_id,
                    "service_title": info["title"],
                    "visit_at": pd.Timestamp(visit_at),
                    "visit_date": visit_at.astimezone(tz).date(),
                    "attendance": _int_or_none(rec.get("attendance")) or 0,
                    "is_deleted": _truthy(rec.get("deleted")),
                    "cost": info["cost"],
                }
            )
    appointments = _frame(
        appointment_rows,
        APPOINTMENT_COLUMNS,
        ["company_id", "record_id", "service_id"],
        ["company_id", "record_id", "client_id", "service_id", "attendance"],
    )
    appointments["is_deleted"] = appointments["is_deleted"].astype(bool)
    appointments["cost"] = appointments["cost"].astype(float)
    appointments["visit_at"] = pd.to_datetime(appointments["visit_at"], utc=True)

    # ---- service title + category per (company, service)
    latest_appointment_title: dict[tuple[int, int], tuple] = {}
    for row in appointment_rows:
        key = (row["company_id"], row["service_id"])
        rank = (row["visit_at"], row["record_id"])
        if key not in latest_appointment_title or rank > latest_appointment_title[key][0]:
            latest_appointment_title[key] = (rank, row["service_title"])

    def service_title(company_id: int, service_id: int) -> str | None:
        service = service_by_key.get((company_id, service_id))
        if service is not None:
            return service.get("title")
        found = latest_appointment_title.get((company_id, service_id))
        return found[1] if found else None

    def service_category(company_id: int, service_id: int) -> str | None:
        service = service_by_key.get((company_id, service_id))
        if service is not None:
            return _categorise(service.get("title"), rules) or _categorise(service.get("category_title"), rules)
        return _categorise(service_title(company_id, service_id), rules)

    # ---- rule 3: visits and intervals
    visit_dates: dict[tuple[int, int, int], set[date]] = {}
    for row in appointment_rows:
        if row["attendance"] == 1 and not row["is_deleted"] and row["visit_date"] < D:
            key = (row["company_id"], row["client_id"], row["service_id"])
            visit_dates.setdefault(key, set()).add(row["visit_date"])

    def is_valid(days: int) -> bool:
        return p["interval_min_days"] <= days <= p["interval_max_days"]

    valid_by_pair: dict[tuple[int, int, int], list[int]] = {}
    for key, dates in visit_dates.items():
        ordered = sorted(dates)
        gaps = [(b - a).days for a, b in itertools.pairwise(ordered)]
        valid_by_pair[key] = [g for g in gaps if is_valid(g)]

    service_intervals: dict[tuple[int, int], list[int]] = {}
    service_clients: dict[tuple[int, int], set[int]] = {}
    for (company_id, client_id, service_id), valid in valid_by_pair.items():
        if valid:
            service_intervals.setdefault((company_id, service_id), []).extend(valid)
            service_clients.setdefault((company_id, service_id), set()).add(client_id)

    interval_rows: list[dict] = []
    for (company_id, client_id, service_id), dates in visit_dates.items():
        valid = valid_by_pair[(company_id, client_id, service_id)]
        pool = service_intervals.get((company_id, service_id), [])
        pool_clients = service_clients.get((company_id, service_id), set())
        category = service_category(company_id, service_id)
        if len(valid) >= p["personal_min_intervals"]:
            level, value, count = "personal", statistics.median(valid), len(valid)
        elif len(pool) >= p["service_min_intervals"] and len(pool_clients) >= p["service_min_clients"]:
            level, value, count = "service", statistics.median(pool), len(pool)
        elif category is not None and category in standards:
            level, value, count = "industry", standards[category], 0
        else:
            level, value, count = "fallback", p["fallback_interval_days"], 0
        interval_days = min(max(round_half_up(value), p["interval_min_days"]), p["interval_max_days"])
        interval_rows.append(
            {
                "company_id": company_id,
                "client_id": client_id,
                "service_id": service_id,
                "last_visit_date": max(dates),
                "visit_count": len(dates),
                "interval_days": interval_days,
                "interval_level": level,
                "interval_count": count,
                "category": category,
            }
        )
    intervals = _frame(
        interval_rows,
        INTERVAL_COLUMNS,
        ["company_id", "client_id", "service_id"],
        ["company_id", "client_id", "service_id", "visit_count", "interval_days", "interval_count"],
    )

    # ---- rule 4: due candidates (one per client)
    candidates: dict[tuple[int, int], dict] = {}
    for row in interval_rows:
        days_since = (D - row["last_visit_date"]).days
        interval_days = row["interval_days"]
        if not (days_since >= interval_days and days_since <= p["lost_after_days"]):
            continue
        if 2 * days_since < 3 * interval_days:
            tone = "gentle"
        elif days_since < 3 * interval_days:
            tone = "offer"
        else:
            tone = "win_back"
        candidate = {
            **row,
            "days_since": days_since,
            "overdue_ratio": days_since / interval_days,
            "tone": tone,
            "_ratio": Fraction(days_since, interval_days),
        }
        key = (row["company_id"], row["client_id"])
        current = candidates.get(key)

        def better(a: dict, b: dict) -> bool:
            # highest ratio, then most recent last visit, then lowest service id
            return (a["_ratio"], a["last_visit_date"], -a["service_id"]) > (
                b["_ratio"],
                b["last_visit_date"],
                -b["service_id"],
            )

        if current is None or better(candidate, current):
            candidates[key] = candidate

    # cycle: the client's latest visit date over any service
    cycle_of: dict[tuple[int, int], date] = {}
    for (company_id, client_id, _), dates in visit_dates.items():
        key = (company_id, client_id)
        cycle_of[key] = max(max(dates), cycle_of.get(key, date.min))

    # future bookings: winning, not deleted, parsable datetime >= as-of moment
    has_future_booking: set[tuple[int, int]] = set()
    for _, rec in winners:
        company_id = _int_or_none(rec.get("company_id"))
        client_id = record_client_id(rec)
        if client_id is None or _truthy(rec.get("deleted")):
            continue
        at = _parse_instant(rec.get("datetime"), company_tz(company_id))
        if at is not None and at >= as_of_moment(company_id):
            has_future_booking.add((company_id, client_id))

    # fallback name/phone: the client's winning record version with the latest change date
    latest_record_client: dict[tuple[int, int], tuple[tuple, dict]] = {}
    for rank, rec in winners:
        client_id = record_client_id(rec)
        if client_id is None:
            continue
        key = (_int_or_none(rec.get("company_id")), client_id)
        if key not in latest_record_client or rank > latest_record_client[key][0]:
            latest_record_client[key] = (rank, rec["client"])

    def client_contact(company_id: int, client_id: int) -> dict:
        row = client_by_key.get((company_id, client_id))
        if row is not None:
            return row
        found = latest_record_client.get((company_id, client_id))
        return found[1] if found else {}

    active_opt_outs = [o for o in opt_outs if o.get("removed_at") is None]

    def is_opted_out(company_id: int, client_id: int, phone: str | None) -> bool:
        client_row = client_by_key.get((company_id, client_id))
        if client_row is not None and _int_or_none(client_row.get("sms_not")) == 1:
            return True
        for o in active_opt_outs:
            if _int_or_none(o.get("company_id")) != company_id:
                continue
            if o.get("client_id") is not None and _int_or_none(o.get("client_id")) == client_id:
                return True
            opt_phone = normalise_phone(o.get("phone"))
            if phone is not None and opt_phone is not None and opt_phone == phone:
                return True
        return False

    def counting_messages(company_id: int, client_id: int) -> list[dict]:
        return [
            m
            for m in messages
            if _int_or_none(m.get("company_id")) == company_id
            and _int_or_none(m.get("client_id")) == client_id
            and m.get("status") in COUNTING_STATUSES
        ]

    due_rows: list[dict] = []
    exclusion_rows: list[dict] = []
    for (company_id, client_id), cand in candidates.items():
        contact = client_contact(company_id, client_id)
        phone = normalise_phone(contact.get("phone"))
        cycle_id = cycle_of[(company_id, client_id)]
        client_row = client_by_key.get((company_id, client_id))
        msgs = counting_messages(company_id, client_id)
        cooldown_from = as_of_moment(company_id) - timedelta(days=p["cooldown_days"])

        reasons = []
        if (company_id, client_id) in has_future_booking:
            reasons.append("future_booking")
        if is_opted_out(company_id, client_id, phone):
            reasons.append("opted_out")
        if client_row is not None and _truthy(client_row.get("deleted")):
            reasons.append("client_deleted")
        if phone is None:
            reasons.append("invalid_phone")
        message_times = [_parse_instant(m.get("sent_at") or m.get("created_at"), company_tz(company_id)) for m in msgs]
        if any(t is not None and t >= cooldown_from for t in message_times):
            reasons.append("cooldown")
        if sum(1 for m in msgs if _to_date(m.get("cycle_id")) == cycle_id) >= p["max_attempts_per_cycle"]:
            reasons.append("max_attempts")

        for reason in reasons:
            exclusion_rows.append(
                {"company_id": company_id, "client_id": client_id, "service_id": cand["service_id"], "reason": reason}
            )
        if reasons:
            continue
        due_rows.append(
            {
                "company_id": company_id,
                "client_id": client_id,
                "client_name": contact.get("name"),
                "phone": phone,
                "service_id": cand["service_id"],
                "service_title": service_title(company_id, cand["service_id"]),
                "category": cand["category"],
                "last_visit_date": cand["last_visit_date"],
                "interval_days": cand["interval_days"],
                "interval_level": cand["interval_level"],
                "interval_count": cand["interval_count"],
                "days_since": cand["days_since"],
                "overdue_ratio": cand["overdue_ratio"],
                "tone": cand["tone"],
                "cycle_id": cycle_id,
                "as_of_date": D,
            }
        )

    due = _frame(
        due_rows,
        DUE_COLUMNS,
        ["company_id", "client_id"],
        ["company_id", "client_id", "service_id", "interval_days", "interval_count", "days_since"],
    )
    due["overdue_ratio"] = due["overdue_ratio"].astype(float)
    exclusions = _frame(
        exclusion_rows,
        EXCLUSION_COLUMNS,
        ["company_id", "client_id", "reason"],
        ["company_id", "client_id", "service_id"],
    )
    return Reference(appointments=appointments, intervals=intervals, due=due, exclusions=exclusions)
