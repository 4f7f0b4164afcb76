"""API objects → the shapes `reactivation.ingest` loads (docs/rules.md, Inputs): companies, services, staff, clients,
records.

YClients returns ids and prices as strings ("79067", "1000.00"), the company's country as a name ("Россия"), no
locale and no booking link; records already have that shape and pass through untouched.
"""

from __future__ import annotations

import math
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reactivation.yclients.config import CompanyDefaults

# Country names YClients uses (Russian or English) → ISO 3166 codes, which pick the public-holiday calendar.
COUNTRY_CODES = {
    "россия": "RU",
    "russia": "RU",
    "казахстан": "KZ",
    "kazakhstan": "KZ",
    "беларусь": "BY",
    "belarus": "BY",
    "украина": "UA",
    "ukraine": "UA",
    "узбекистан": "UZ",
    "uzbekistan": "UZ",
    "кыргызстан": "KG",
    "kyrgyzstan": "KG",
    "армения": "AM",
    "armenia": "AM",
    "грузия": "GE",
    "georgia": "GE",
    "азербайджан": "AZ",
    "azerbaijan": "AZ",
    "молдова": "MD",
    "moldova": "MD",
    "латвия": "LV",
    "latvia": "LV",
    "литва": "LT",
    "lithuania": "LT",
    "эстония": "EE",
    "estonia": "EE",
    "германия": "DE",
    "germany": "DE",
    "великобритания": "GB",
    "united kingdom": "GB",
    "сша": "US",
    "united states": "US",
    "израиль": "IL",
    "israel": "IL",
    "турция": "TR",
    "turkey": "TR",
    "оаэ": "AE",
    "united arab emirates": "AE",
    "кипр": "CY",
    "cyprus": "CY",
}


def company_object(api: dict[str, Any], company_id: int, defaults: CompanyDefaults) -> dict[str, Any]:
    """GET /company/{id} → a company; what the API lacks (or gives unusably) comes from the company's defaults."""
    return {
        "company_id": company_id,
        "name": _text(api.get("title")),
        "timezone": _zone_name(api.get("timezone_name")) or _zone_name(api.get("timezone")) or defaults.timezone,
        "locale": defaults.locale,
        "country": country_code(api.get("country")) or defaults.country,
        "booking_url": defaults.booking_url,
        "staff_booking_url": defaults.staff_booking_url,
    }


def service_objects(
    services: list[dict[str, Any]], categories: list[dict[str, Any]], company_id: int
) -> list[dict[str, Any]]:
    """GET /company/{id}/services joined with its categories by `category_id`; the cost is the minimum price."""
    titles = {_number(c.get("id")): _text(c.get("title")) for c in categories if isinstance(c, dict)}
    objects = []
    for service in services:
        if not isinstance(service, dict):
            continue
        category_id = _number(service.get("category_id"))
        price = _number(service.get("price_min"))
        objects.append(
            {
                "id": _number(service.get("id")),
                "company_id": company_id,
                "title": _text(service.get("title")),
                "category_id": category_id,
                "category_title": titles.get(category_id),
                "cost": price if price is not None else _number(service.get("price_max")),
            }
        )
    return objects


def staff_object(api: dict[str, Any], company_id: int) -> dict[str, Any]:
    """A master of GET /company/{id}/staff: id, name, specialization and whether they were fired (0/1)."""
    return {
        "id": _number(api.get("id")),
        "company_id": company_id,
        "name": _text(api.get("name")),
        "specialization": _text(api.get("specialization")),
        "fired": _number(api.get("fired")),
    }


def client_object(api: dict[str, Any], company_id: int) -> dict[str, Any]:
    """A client of the search (or legacy) list; `sms_not` stays None when the API did not say."""
    return {
        "id": _number(api.get("id")),
        "company_id": company_id,
        "name": _text(api.get("name")),
        "phone": _text(api.get("phone")),
        "deleted": str(api.get("deleted", "")).strip().lower() in ("1", "true"),
        "sms_not": _number(api.get("sms_not")),
    }


def record_object(api: dict[str, Any], company_id: int) -> dict[str, Any]:
    """Records keep the API's shape; only a missing `company_id` is filled in from the request."""
    return api if api.get("company_id") is not None else {**api, "company_id": company_id}


def country_code(value: Any) -> str | None:
    """An ISO code as given, or the code of a known country name; None otherwise."""
    text = (_text(value) or "").strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return COUNTRY_CODES.get(text.lower())


def _zone_name(value: Any) -> str | None:
    """An IANA zone name, or None for anything else (YClients also sends the offset in hours as `timezone`)."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value.strip()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> Any:
    """ "79067" → 79067, "1000.00" → 1000, "12.5" → 12.5; anything unparsable is kept for ingest to judge."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(number):
        return value
    return int(number) if number.is_integer() else number
