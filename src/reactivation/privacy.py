"""What personal data may be kept where: JSON payload scrubbing in SQL (retention, re-ingest of anonymised rows)
and masking of phones and names in what the runner keeps for diagnosis (ingest rejects, quality reports).

Names are removed (set to null), phones masked like `reactivation.channels.mask_phone` ("+7916*****67").
"""

from __future__ import annotations

import json
import re
from typing import Any

from reactivation.channels.base import mask_phone

NAME_KEYS = ("name", "surname", "patronymic", "email")  # removed wherever they appear in a rejected object
PHONE_KEYS = ("phone",)  # masked
CARD_KEYS = ("name", "phone")  # what retention erases in a client card's payload
CLIENT_KEYS = ("name", "phone")  # ... and in the client object of a record's payload

# 10 or more digits, optionally "+"-prefixed and split by spaces, dashes or parentheses: a phone in free text.
# Dates and times ("2026-11-25 10:00", 10 digits split by ':') stay readable: ':' and 'T' are not separators.
_PHONE_IN_TEXT = re.compile(r"(?<![\w+])\+?\d(?:[ \-()]{0,2}\d){9,}")
_NAME_IN_TEXT = re.compile(r'("(?:' + "|".join(NAME_KEYS) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"')
_SENTINEL = "\u0000anonymised\u0000"  # DuckDB: json_merge_patch cannot write a JSON null, so a marker is replaced


def scrub_payload_sql(engine: str, column: str, keys: tuple[str, ...], client_keys: tuple[str, ...]) -> str:
    """A SQL expression: `column` (a JSON object) with `keys` and `client.<client_keys>` set to null where present.

    The same visible result on both engines and as the Python retention had: keys that exist become null, absent
    keys stay absent, a client that is not an object (a walk-in's null or []) is left alone.
    """
    if engine == "postgres":
        expr = column
        for key in keys:
            expr = f"jsonb_set({expr}, '{{{key}}}', 'null'::jsonb, false)"
        nested = expr
        for key in client_keys:
            nested = f"jsonb_set({nested}, '{{client,{key}}}', 'null'::jsonb, false)"
        if not client_keys:
            return expr
        return f"(case when jsonb_typeof({column} -> 'client') = 'object' then {nested} else {expr} end)"
    marker = "'" + json.dumps(_SENTINEL).replace("'", "''") + "'"  # the JSON string literal, as a SQL literal

    def patch(prefix: str, names: tuple[str, ...]) -> str:
        parts = [
            f"case when json_exists({column}, '$.{prefix}{name}') then json_object('{name}', {marker}::json)"
            " else '{}'::json end"
            for name in names
        ]
        merged = parts[0] if parts else "'{}'::json"
        for part in parts[1:]:
            merged = f"json_merge_patch({merged}, {part})"
        return merged

    top = patch("", keys)
    if client_keys:
        client = patch("client.", client_keys)
        top = (
            f"json_merge_patch({top}, case when json_type({column}, '$.client') = 'OBJECT'"
            f" then json_object('client', {client}) else '{{}}'::json end)"
        )
    return f"cast(replace(cast(json_merge_patch({column}, {top}) as varchar), {marker}, 'null') as json)"


def mask_text(text: str) -> str:
    """Phones in free text masked, `"name": "..."`-like pairs nulled: for lines that are not valid JSON."""
    text = _NAME_IN_TEXT.sub(r"\1null", text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


def mask_value(value: Any) -> Any:
    """A JSON value with names removed and phones masked, at any depth."""
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            if key in NAME_KEYS:
                masked[key] = None
            elif key in PHONE_KEYS and item is not None:
                masked[key] = mask_phone(str(item))
            else:
                masked[key] = mask_value(item)
        return masked
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_content(content: str) -> str:
    """A rejected line or object as it may be stored: the JSON structure kept, names removed, phones masked."""
    try:
        parsed = json.loads(content)
    except (json.JSONDecodeError, RecursionError):
        return mask_text(content)
    return json.dumps(mask_value(parsed), ensure_ascii=False, sort_keys=True)
