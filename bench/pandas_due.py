"""The "naive pandas" baseline: what a user might write instead of the dbt project, vectorised where it is natural.

It reads the raw tables whole into pandas (DuckDB: `.df()`; PostgreSQL: `COPY ... TO STDOUT` as CSV into
`read_csv`, the fast way to pull a table into pandas), the seeds from their CSV files, and computes `due_clients`
by the rules of docs/rules.md with the vars of dbt_project.yml, read through `reactivation.rules` (the logic of
`tests/reference.py`, in frames instead of dicts).
As in the floor query, the empty outbox and opt-out tables of the bench leave only sms_not among the opt-outs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from reactivation import rules
from reactivation.settings import PROJECT_DIR, Settings

DEFAULT_TIMEZONE = rules.value("default_timezone")
MIN_DAYS, MAX_DAYS = rules.value("interval_min_days"), rules.value("interval_max_days")
PERSONAL_MIN = rules.value("personal_min_intervals")
SERVICE_MIN, SERVICE_MIN_CLIENTS = rules.value("service_min_intervals"), rules.value("service_min_clients")
FALLBACK_DAYS, LOST_AFTER_DAYS = rules.value("fallback_interval_days"), rules.value("lost_after_days")
PAIR = ["company_id", "client_id", "service_id"]
CLIENT = ["company_id", "client_id"]
COLUMNS = [
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
]

# table → (query, its text columns: read as strings, never guessed)
QUERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "companies": ("select company_id, timezone from raw_yclients_companies", ("timezone",)),
    "services": (
        "select company_id, id as service_id, title, category_title from raw_yclients_services",
        ("title", "category_title"),
    ),
    "clients": (
        "select company_id, id as client_id, name, phone, deleted, sms_not from raw_yclients_clients",
        ("name", "phone"),
    ),
    "records": (
        "select company_id, id as record_id, client_id, client_name, client_phone, visit_at, attendance, deleted,"
        " last_change_at from raw_yclients_records",
        ("client_name", "client_phone"),
    ),
    "lines": (
        "select company_id, record_id, position, service_id, title from raw_yclients_record_services",
        ("title",),
    ),
}


@dataclass
class Raw:
    companies: pd.DataFrame
    services: pd.DataFrame
    clients: pd.DataFrame
    records: pd.DataFrame
    lines: pd.DataFrame


def read_raw(settings: Settings) -> Raw:
    """Every raw table the rules need, whole, into pandas."""
    if settings.target == "duckdb":
        import duckdb

        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            frames = {name: con.execute(sql).df() for name, (sql, _) in QUERIES.items()}
    else:
        with psycopg.connect(
            **settings.pg_connection_args(),
        ) as con:
            con.execute(f'set search_path to "{settings.pg_schema}"')
            frames = {name: _copy_frame(con, sql, text) for name, (sql, text) in QUERIES.items()}
    records, lines = frames["records"], frames["lines"]
    for column in ("visit_at", "last_change_at"):
        records[column] = pd.to_datetime(records[column], utc=True, format="ISO8601")
    records["client_id"] = records["client_id"].astype("Int64")
    lines["service_id"] = lines["service_id"].astype("Int64")
    return Raw(**frames)


def _copy_frame(con: psycopg.Connection, sql: str, text: tuple[str, ...]) -> pd.DataFrame:
    buffer = io.BytesIO()
    with con.cursor() as cur, cur.copy(f"copy ({sql}) to stdout (format csv, header)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(
        buffer,
        dtype=dict.fromkeys(text, str),
        true_values=["t"],
        false_values=["f"],
        keep_default_na=False,
        na_values=[""],
    )


def due_clients(raw: Raw, as_of: date) -> pd.DataFrame:
    """One row per due, not excluded client, with the columns of the `due_clients` model that the rules decide."""
    companies = _companies(raw.companies, as_of)
    records = raw.records.merge(companies, on="company_id")
    visits = _visits(records, raw.lines, as_of)
    pairs = _intervals(visits, _categories(raw, _load_rules()))
    candidates = _due(pairs, as_of)
    return _without_exclusions(candidates, raw, records)


def _companies(companies: pd.DataFrame, as_of: date) -> pd.DataFrame:
    zone = companies["timezone"].fillna("").str.strip().replace("", DEFAULT_TIMEZONE)
    moment = {z: pd.Timestamp(as_of).tz_localize(z).tz_convert("UTC") for z in zone.unique()}
    return pd.DataFrame({"company_id": companies["company_id"], "zone": zone, "as_of_at": zone.map(moment)})


def _local_dates(instants: pd.Series, zones: pd.Series) -> pd.Series:
    """Calendar date of each instant in its own zone, as midnight timestamps."""
    parts = [instants[zones == z].dt.tz_convert(z).dt.tz_localize(None).dt.normalize() for z in zones.unique()]
    return pd.concat(parts).reindex(instants.index) if parts else pd.Series(dtype="datetime64[us]")


def _visits(records: pd.DataFrame, lines: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Distinct (company, client, service, local date) attended, not deleted, before D, sorted by pair and date."""
    attended = records[
        (records["attendance"] == 1) & ~records["deleted"].fillna(False).astype(bool) & records["client_id"].notna()
    ]
    attended = attended.assign(visit_date=_local_dates(attended["visit_at"], attended["zone"]))
    attended = attended[attended["visit_date"] < pd.Timestamp(as_of)]
    visits = lines.loc[lines["service_id"].notna(), ["company_id", "record_id", "service_id"]].merge(
        attended[["company_id", "record_id", "client_id", "visit_date"]], on=["company_id", "record_id"]
    )
    visits = visits.astype({"client_id": "int64", "service_id": "int64"}).drop_duplicates([*PAIR, "visit_date"])
    return visits.sort_values([*PAIR, "visit_date"], ignore_index=True)


def _load_rules() -> tuple[pd.DataFrame, dict[str, int]]:
    rules = pd.read_csv(PROJECT_DIR / "seeds" / "service_category_rules.csv", dtype={"keyword": str, "category": str})
    rules = rules.assign(length=rules["keyword"].str.len()).sort_values(
        ["priority", "length", "category"], ascending=[True, False, True]
    )
    standards = pd.read_csv(PROJECT_DIR / "seeds" / "industry_standards.csv")
    return rules, dict(zip(standards["category"], standards["typical_interval_days"]))


def _category(text: object, rules: pd.DataFrame) -> str | None:
    """The best rule whose keyword is in the lower-cased text (rules come sorted best first)."""
    if not isinstance(text, str):
        return None
    lowered = text.lower()
    for keyword, category in zip(rules["keyword"], rules["category"]):
        if keyword in lowered:
            return category
    return None


def _categories(raw: Raw, seeds: tuple[pd.DataFrame, dict[str, int]]) -> pd.DataFrame:
    """Title and category per (company, service): the menu, else the title of the latest appointment."""
    rules, standards = seeds
    menu = raw.services.assign(service_title=_trimmed(raw.services["title"]))
    lines = raw.lines[raw.lines["service_id"].notna()].merge(
        menu[["company_id", "service_id"]], how="left", indicator=True
    )
    unlisted = (
        lines[lines["_merge"] == "left_only"]
        .drop(columns="_merge")
        .merge(
            raw.records[raw.records["client_id"].notna() & raw.records["visit_at"].notna()],
            on=["company_id", "record_id"],
        )
        .sort_values(["visit_at", "record_id", "position"], ascending=[False, False, True])
        .drop_duplicates(["company_id", "service_id"])
    )
    catalogue = pd.concat(
        [
            menu[["company_id", "service_id", "service_title", "category_title"]],
            unlisted.assign(service_title=_trimmed(unlisted["title"]), category_title=None)[
                ["company_id", "service_id", "service_title", "category_title"]
            ],
        ],
        ignore_index=True,
    )
    titles = {t: _category(t, rules) for t in catalogue["service_title"].dropna().unique()}
    by_category = {t: _category(t, rules) for t in _trimmed(catalogue["category_title"]).dropna().unique()}
    category = catalogue["service_title"].map(titles).fillna(_trimmed(catalogue["category_title"]).map(by_category))
    return catalogue.assign(
        service_id=catalogue["service_id"].astype("int64"),
        category=category,
        industry_days=category.map(standards),
    )[["company_id", "service_id", "service_title", "category", "industry_days"]]


def _intervals(visits: pd.DataFrame, categories: pd.DataFrame) -> pd.DataFrame:
    """The waterfall personal → service → industry → fallback per (company, client, service)."""
    keys = visits[PAIR].to_numpy()
    same_pair = np.r_[False, (keys[1:] == keys[:-1]).all(axis=1)]
    gap = visits["visit_date"].diff().dt.days.where(same_pair)
    valid = visits.assign(gap=gap)[gap.between(MIN_DAYS, MAX_DAYS)]
    pairs = visits.groupby(PAIR, as_index=False).agg(last_visit_date=("visit_date", "max"))
    personal = valid.groupby(PAIR).agg(personal_count=("gap", "size"), personal_median=("gap", "median"))
    service = valid.groupby(["company_id", "service_id"]).agg(
        pool_count=("gap", "size"), pool_clients=("client_id", "nunique"), pool_median=("gap", "median")
    )
    pairs = (
        pairs.merge(personal, on=PAIR, how="left")
        .merge(service, on=["company_id", "service_id"], how="left")
        .merge(categories, on=["company_id", "service_id"], how="left")
    )
    conditions = [
        pairs["personal_count"] >= PERSONAL_MIN,
        (pairs["pool_count"] >= SERVICE_MIN) & (pairs["pool_clients"] >= SERVICE_MIN_CLIENTS),
        pairs["industry_days"].notna(),
    ]
    raw_days = np.select(
        conditions, [pairs["personal_median"], pairs["pool_median"], pairs["industry_days"]], FALLBACK_DAYS
    )
    return pairs.assign(
        interval_level=np.select(conditions, ["personal", "service", "industry"], "fallback"),
        interval_days=np.clip(np.floor(raw_days.astype(float) + 0.5), MIN_DAYS, MAX_DAYS).astype("int64"),
        interval_count=np.select(conditions[:2], [pairs["personal_count"], pairs["pool_count"]], 0).astype("int64"),
        cycle_id=pairs.groupby(CLIENT)["last_visit_date"].transform("max"),
    )


def _due(pairs: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Due pairs with their tone; per client the highest ratio, then the latest visit, then the lowest service id."""
    days = (pd.Timestamp(as_of) - pairs["last_visit_date"]).dt.days
    pairs = pairs.assign(days_since=days, overdue_ratio=days / pairs["interval_days"])
    due = pairs[(pairs["days_since"] >= pairs["interval_days"]) & (pairs["days_since"] <= LOST_AFTER_DAYS)]
    current = rules.current()
    gentle, offer, win_back = current.tones
    scaled = [round(current.gentle_max_ratio * 10), round(current.offer_max_ratio * 10)]
    tone = np.select(
        [
            due["days_since"] * 10 < scaled[0] * due["interval_days"],
            due["days_since"] * 10 < scaled[1] * due["interval_days"],
        ],
        [gentle, offer],
        win_back,
    )
    due = due.assign(tone=tone).sort_values(
        [*CLIENT, "overdue_ratio", "last_visit_date", "service_id"], ascending=[True, True, False, False, True]
    )
    return due.drop_duplicates(CLIENT, ignore_index=True)


def _without_exclusions(candidates: pd.DataFrame, raw: Raw, records: pd.DataFrame) -> pd.DataFrame:
    """Drop clients with a booking ahead, an SMS opt-out, a deleted card or no valid phone; attach name and phone."""
    ahead = records[
        records["client_id"].notna()
        & ~records["deleted"].fillna(False).astype(bool)
        & (records["visit_at"] >= records["as_of_at"])
    ][CLIENT].drop_duplicates()
    contacts = _contacts(candidates[CLIENT], raw)
    due = candidates.merge(contacts, on=CLIENT, how="left").merge(
        ahead.astype("int64").assign(ahead=True), on=CLIENT, how="left"
    )
    keep = due["phone"].notna() & ~due["is_deleted"] & (due["sms_not"] != 1) & due["ahead"].isna()
    return due.loc[keep, COLUMNS].sort_values(CLIENT, ignore_index=True)


def _contacts(clients: pd.DataFrame, raw: Raw) -> pd.DataFrame:
    """The card when there is one, else the client object of the most recently changed record."""
    cards = raw.clients.assign(
        client_name=_trimmed(raw.clients["name"]), phone_raw=_trimmed(raw.clients["phone"])
    ).merge(clients, on=CLIENT)
    missing = clients.merge(cards[CLIENT], how="left", indicator=True)
    missing = missing.loc[missing["_merge"] == "left_only", CLIENT]
    from_records = (
        raw.records.merge(missing, on=CLIENT)
        .sort_values(["last_change_at", "record_id"], ascending=False, na_position="last")
        .drop_duplicates(CLIENT)
    )
    from_records = from_records.assign(
        client_name=_trimmed(from_records["client_name"]),
        phone_raw=_trimmed(from_records["client_phone"]),
        deleted=False,
        sms_not=0,
    )
    columns = [*CLIENT, "client_name", "phone_raw", "deleted", "sms_not"]
    contacts = pd.concat([cards[columns], from_records[columns]], ignore_index=True)
    return contacts.assign(
        phone=_normalised_phone(contacts["phone_raw"]),
        is_deleted=contacts["deleted"].fillna(False).astype(bool),
        sms_not=contacts["sms_not"].fillna(0),
    ).drop(columns=["phone_raw", "deleted"])


def _normalised_phone(raw: pd.Series) -> pd.Series:
    """Digits only, a Russian trunk 8 becomes 7, valid with 11-15 digits, shown as +digits."""
    digits = raw.astype(object).where(raw.notna(), "").astype(str).str.replace(r"[^0-9]", "", regex=True)
    trunk = (digits.str.len() == 11) & digits.str.startswith("8")
    digits = digits.where(~trunk, "7" + digits.str[1:])
    return ("+" + digits).where(digits.str.len().between(11, 15))


def _trimmed(values: pd.Series) -> pd.Series:
    """`nullif(trim(x), '')`."""
    stripped = values.astype(object).where(values.notna(), None).str.strip()
    return stripped.where(stripped != "")
