"""Opt-outs: a stop-word reply, a staff command or an import adds the client to `reactivation_opt_outs`.

An active opt-out matches by client id or by phone (the model `due_client_exclusions` applies it), so a reply
from a phone that no client card carries yet still protects whoever gets that number later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from reactivation.outbox import OPTED_OUT, cancel_pending
from reactivation.stopwords import is_stop_reply
from reactivation.warehouse import Warehouse

_NOT_DIGITS = re.compile(r"\D")


def normalise_phone(phone: str | None) -> str | None:
    """Digits only, a Russian trunk 8 of an 11-digit number read as 7 (the same rule as the `normalise_phone` macro)."""
    digits = _NOT_DIGITS.sub("", phone or "")
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits or None


def _key(client_id: int | None, phone: str | None) -> str:
    if client_id is not None:
        return f"client:{client_id}"
    digits = normalise_phone(phone)
    if not digits:
        raise ValueError("an opt-out needs a client id or a phone number")
    return f"phone:{digits}"


def add(
    wh: Warehouse,
    company_id: int,
    client_id: int | None = None,
    phone: str | None = None,
    source: str = "command",
    text: str | None = None,
    at: datetime | None = None,
) -> str:
    """Record (or re-activate) an opt-out and cancel the client's waiting messages at once; returns its key."""
    at = at or datetime.now(UTC)
    key = _key(client_id, phone)
    with wh.transaction():  # the opt-out and the cancellation of what is still waiting land together
        wh.execute(
            "insert into reactivation_opt_outs (company_id, opt_out_key, client_id, phone, source, message_text,"
            " created_at) values (%s, %s, %s, %s, %s, %s, %s)"
            " on conflict (company_id, opt_out_key) do update set removed_at = null"
            " where reactivation_opt_outs.removed_at is not null",
            [company_id, key, client_id, normalise_phone(phone), source, text, at],
        )
        cancel_pending(wh, company_id, OPTED_OUT, at, client_id=client_id, phone=normalise_phone(phone))
    return key


def remove(
    wh: Warehouse, company_id: int, client_id: int | None = None, phone: str | None = None, at: datetime | None = None
) -> bool:
    """Lift an opt-out (staff only, e.g. the client asked to hear from the salon again). True if one was active."""
    key = _key(client_id, phone)
    active = wh.fetchone(
        "select count(*) from reactivation_opt_outs where company_id = %s and opt_out_key = %s and removed_at is null",
        [company_id, key],
    )[0]
    wh.execute(
        "update reactivation_opt_outs set removed_at = %s where company_id = %s and opt_out_key = %s"
        " and removed_at is null",
        [at or datetime.now(UTC), company_id, key],
    )
    return bool(active)


def list_active(wh: Warehouse, company_id: int | None = None) -> pd.DataFrame:
    sql = (
        "select company_id, opt_out_key, client_id, phone, source, created_at from reactivation_opt_outs"
        " where removed_at is null"
    )
    params: list[int] = []
    if company_id is not None:
        sql += " and company_id = %s"
        params.append(company_id)
    return wh.query_df(sql + " order by company_id, created_at, opt_out_key", params)


def record_inbound(
    wh: Warehouse,
    company_id: int,
    text: str | None,
    received_at: datetime | None = None,
    phone: str | None = None,
    client_id: int | None = None,
) -> bool:
    """Handle one inbound reply (call it from any webhook receiver): a stop reply opts the sender out."""
    if not is_stop_reply(text):
        return False
    add(wh, company_id, client_id=client_id, phone=phone, source="inbound", text=text, at=received_at)
    if client_id is not None and phone:
        add(wh, company_id, phone=phone, source="inbound", text=text, at=received_at)
    return True


@dataclass
class InboundReport:
    replies: int = 0
    opted_out: int = 0
    rejects: list[str] = field(default_factory=list)


def record_inbound_file(wh: Warehouse, path: Path) -> InboundReport:
    """JSON Lines of {company_id, phone or client_id, text, received_at}; bad lines are reported and skipped."""
    report = InboundReport()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                reply = json.loads(line)
                company_id = int(reply["company_id"])
                client_id = int(reply["client_id"]) if reply.get("client_id") is not None else None
                phone = reply.get("phone")
                if client_id is None and not normalise_phone(phone):
                    raise ValueError("needs phone or client_id")
                received = reply.get("received_at")
                received_at = datetime.fromisoformat(received) if received else None
                if received_at is not None and received_at.tzinfo is None:
                    raise ValueError("received_at needs a UTC offset")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                report.rejects.append(f"{path.name}:{number}: {exc}")
                continue
            report.replies += 1
            report.opted_out += record_inbound(wh, company_id, reply.get("text"), received_at, phone, client_id)
    return report
