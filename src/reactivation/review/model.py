"""Review mode's settings and state changes: what waits for a person, and what approving, rejecting, editing and
the review expiry do to the outbox rows. Every change is one set-based statement, conditional on the row still
awaiting review, so two reviewers (or a reviewer and the expiry) never both decide the same row.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from reactivation.messages import MessageRequest
from reactivation.messages.guardrails import check_guardrails
from reactivation.outbox import AWAITING_REVIEW, PENDING, REJECTED, REVIEW_EXPIRED, SENT
from reactivation.schedule import SendWindow, schedule_send
from reactivation.settings import company_settings
from reactivation.warehouse import Warehouse

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MODES = ("off", "required")
GUARDRAIL_REASONS = {
    "empty": "the text is empty",
    "too_long": "the text is longer than the channel allows",
    "placeholder": "the text still holds an unfilled placeholder",
    "no_opt_out": "the text must keep the opt-out sentence word for word",
    "wrong_language": "the text is not in the client's language",
    "no_business_name": "the text must name the business",
}


class ReviewError(ValueError):
    """A review action that cannot be done; the message says why in words a salon owner understands."""


@dataclass(frozen=True)
class ReviewPolicy:
    """One company's review mode: `required` holds its treated rows for a person; the cadence says on which
    days the run proposes a batch at all (`daily`, or `weekly:<weekday>`)."""

    required: bool = False
    cadence: str = "daily"

    def proposes_on(self, day: date) -> bool:
        """True when a run with this as-of day plans messages for the company (weekly: only on its weekday)."""
        if not self.required or self.cadence == "daily":
            return True
        return WEEKDAYS[day.weekday()] == self.cadence.split(":", 1)[1]


@dataclass(frozen=True)
class ReviewSettings:
    """Global defaults (`REACTIVATION_REVIEW`, `REACTIVATION_REVIEW_CADENCE`), per-company overrides
    (`review`, `review_cadence` in `REACTIVATION_COMPANY_SETTINGS`) and the dbt var `review_expiry_days`."""

    default: ReviewPolicy = field(default_factory=ReviewPolicy)
    companies: Mapping[int, ReviewPolicy] = field(default_factory=dict)
    expiry_days: int = 7

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReviewSettings:
        from reactivation.dbt import var_value

        env = os.environ if environ is None else environ
        default = ReviewPolicy(
            required=_mode(env.get("REACTIVATION_REVIEW", ""), "REACTIVATION_REVIEW", False),
            cadence=_cadence(env.get("REACTIVATION_REVIEW_CADENCE", ""), "REACTIVATION_REVIEW_CADENCE", "daily"),
        )
        companies = {}
        for company, fields in company_settings(env.get("REACTIVATION_COMPANY_SETTINGS", "")).items():
            if "review" not in fields and "review_cadence" not in fields:
                continue
            where = f"REACTIVATION_COMPANY_SETTINGS[{company}]"
            companies[company] = ReviewPolicy(
                required=_mode(str(fields.get("review") or ""), f"{where}.review", default.required),
                cadence=_cadence(str(fields.get("review_cadence") or ""), f"{where}.review_cadence", default.cadence),
            )
        return cls(default=default, companies=companies, expiry_days=int(var_value("review_expiry_days")))

    def for_company(self, company_id: int) -> ReviewPolicy:
        return self.companies.get(int(company_id), self.default)


def _mode(raw: str, name: str, default: bool) -> bool:
    value = raw.strip().lower()
    if not value:
        return default
    if value not in MODES:
        raise ValueError(f"{name} must be 'required' or 'off', not {raw!r}")
    return value == "required"


def _cadence(raw: str, name: str, default: str) -> str:
    value = raw.strip().lower()
    if not value:
        return default
    if value == "daily":
        return value
    kind, _, day = value.partition(":")
    day = day.strip()
    short = day[:3]
    if kind.strip() == "weekly" and short in WEEKDAYS and day in (short, _FULL_DAYS[short]):
        return f"weekly:{short}"
    raise ValueError(f"{name} must be 'daily' or 'weekly:<weekday>' like 'weekly:mon', not {raw!r}")


_FULL_DAYS = dict(zip(WEEKDAYS, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")))


def review_params(template_params: str, candidate: Mapping[str, Any]) -> str:
    """Template parameters plus what the reviewer needs to judge a row (full name, last visit, days since).

    Kept in `template_params` so retention scrubs them with the rest of the payload; no channel reads them.
    """
    params = json.loads(template_params)
    last_visit = candidate.get("last_visit_date")
    params["review"] = {
        "client_name": candidate.get("client_name") or "",
        "last_visit_date": None if last_visit is None or pd.isna(last_visit) else str(pd.Timestamp(last_visit).date()),
        "days_since": int(candidate["days_since"]),
    }
    return json.dumps(params, ensure_ascii=False)


def mask_phone(phone: str | None) -> str:
    """All digits hidden but the last four: "+79161234567" → "+•••••••4567"."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) <= 4:
        return "•" * len(digits)
    return "+" + "•" * (len(digits) - 4) + digits[-4:]


# ---------- reading


def _segments_sql(wh: Warehouse) -> str:
    """SMS segments per message: the `sms_segments` column when the outbox has one, else one per message."""
    found = wh.fetchone(
        "select count(*) from information_schema.columns where table_schema = %s and table_name = %s"
        " and column_name = %s",
        [wh.settings.schema, "reactivation_messages", "sms_segments"],
    )
    return "coalesce(sms_segments, 1)" if found and found[0] else "1"


def list_batch(wh: Warehouse, now: datetime, expiry_days: int, company_id: int | None = None) -> list[dict[str, Any]]:
    """The treated rows awaiting review (never a holdout row), oldest company first, in queue order."""
    filters = ["status = %s", "not is_holdout", "created_at >= %s"]
    params: list[Any] = [AWAITING_REVIEW, _cutoff(now, expiry_days)]
    if company_id is not None:
        filters.append("company_id = %s")
        params.append(int(company_id))
    frame = wh.query_df(
        "select message_key, company_id, client_id, phone, tone, interval_level, variant, channel, locale,"
        f" message_text, template_params, created_at, {_segments_sql(wh)} as sms_segments"
        f" from reactivation_messages where {' and '.join(filters)} order by company_id, created_at, message_key",
        params,
    )
    batch = []
    for row in frame.to_dict("records"):
        payload = json.loads(row.pop("template_params") or "{}")
        context = payload.get("review") or {}
        created = _aware(row["created_at"])
        batch.append({
            "message_key": row["message_key"],
            "company_id": int(row["company_id"]),
            "company_name": payload.get("company_name") or "",
            "client": {"name": context.get("client_name") or payload.get("client_first_name") or "",
                       "phone": mask_phone(row.pop("phone"))},
            "service": payload.get("service_title") or "",
            "tone": row["tone"],
            "interval_level": row["interval_level"],
            "last_visit_date": context.get("last_visit_date"),
            "days_since": context.get("days_since"),
            "channel": row["channel"],
            "sms_segments": int(row["sms_segments"]),
            "text": row["message_text"] or "",
            "created_at": created.isoformat(),
            "expires_at": (created + timedelta(days=expiry_days)).isoformat(),
        })  # fmt: skip
    return batch


def weekly_summary(wh: Warehouse, company_id: int, now: datetime) -> dict[str, int]:
    """The last seven days of one company's rows: proposed (due), held out, awaiting, approved, sent, booked back.

    Booked back comes from the `message_outcomes` mart when it has been built (a converted treated row).
    """
    since = now - timedelta(days=7)
    row = wh.fetchone(
        "select count(*),"
        " coalesce(sum(case when is_holdout then 1 else 0 end), 0),"
        " coalesce(sum(case when status = %s then 1 else 0 end), 0),"
        " coalesce(sum(case when reviewed_at is not null and status not in (%s, %s) then 1 else 0 end), 0),"
        " coalesce(sum(case when status = %s then 1 else 0 end), 0)"
        " from reactivation_messages where company_id = %s and created_at >= %s",
        [AWAITING_REVIEW, REJECTED, REVIEW_EXPIRED, SENT, int(company_id), since],
    )
    booked = 0
    if wh.table_exists("message_outcomes"):
        booked = wh.fetchone(
            "select count(*) from message_outcomes o inner join reactivation_messages m on m.message_key ="
            " o.message_key where o.company_id = %s and not o.is_holdout and o.is_converted and m.created_at >= %s",
            [int(company_id), since],
        )[0]
    due, held_out, awaiting, approved, sent = (int(v) for v in row)
    return {"due": due, "held_out": held_out, "awaiting": awaiting, "approved": approved, "sent": sent,
            "booked_back": int(booked)}  # fmt: skip


# ---------- state changes


@dataclass
class ApproveResult:
    """Which keys a review action changed, and why the others were refused (key → reason)."""

    changed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def expire_unreviewed(wh: Warehouse, now: datetime, expiry_days: int, company_ids: Iterable[int] | None = None) -> int:
    """Rows nobody reviewed within `review_expiry_days` become `review_expired`: no attempt, no cooldown."""
    filters, params = _companies(company_ids)
    return wh.changed_rows(
        f"update reactivation_messages set status = %s, updated_at = %s where status = %s and created_at < %s{filters}",
        [REVIEW_EXPIRED, now, AWAITING_REVIEW, _cutoff(now, expiry_days), *params],
    )


def approve(
    wh: Warehouse,
    now: datetime,
    window: SendWindow,
    expiry_days: int,
    company_id: int | None = None,
    keys: Iterable[str] | None = None,
) -> ApproveResult:
    """Approve the company's whole batch (`keys` None) or the given keys: each is scheduled from `now` into its
    next open send window (the queue's jitter rule, seeded by its key) and becomes pending; delivery then runs
    every send-time check as for any row."""
    if company_id is None and keys is None:
        raise ReviewError("approve needs a company (to approve its whole batch) or message keys")
    expire_unreviewed(wh, now, expiry_days, None if company_id is None else [company_id])
    wanted = None if keys is None else list(dict.fromkeys(keys))
    filters, params = ["m.status = %s", "not m.is_holdout"], [AWAITING_REVIEW]
    if company_id is not None:
        filters.append("m.company_id = %s")
        params.append(int(company_id))
    if wanted is not None:
        if not wanted:
            return ApproveResult()
        filters.append(f"m.message_key in ({', '.join(['%s'] * len(wanted))})")
        params.extend(wanted)
    frame = wh.query_df(
        "select m.message_key, coalesce(m.timezone, c.timezone) as timezone, coalesce(m.country, c.country, '')"
        " as country from reactivation_messages m left join raw_yclients_companies c on c.company_id = m.company_id"
        f" where {' and '.join(filters)}",
        params,
    )
    result = ApproveResult(refused=_refusals(wh, wanted, set(frame["message_key"]), company_id))
    if frame.empty:
        return result
    frame["scheduled_at"] = [
        schedule_send(now, zone, country, window, seed=key)
        for key, zone, country in zip(frame["message_key"], frame["timezone"], frame["country"])
    ]
    with wh.transaction():
        wh.load_stage("_review_approved", frame[["message_key", "scheduled_at"]], like="reactivation_messages")
        rows = wh.fetchall(
            "update reactivation_messages set status = %s, scheduled_at = a.scheduled_at,"
            " first_scheduled_at = a.scheduled_at, reviewed_at = %s, updated_at = %s from _review_approved a"
            " where reactivation_messages.message_key = a.message_key and reactivation_messages.status = %s"
            " returning reactivation_messages.message_key",
            [PENDING, now, now, AWAITING_REVIEW],
        )
        wh.execute("drop table _review_approved")
    result.changed = sorted(r[0] for r in rows)
    return result


def reject(
    wh: Warehouse, keys: Iterable[str], now: datetime, reason: str | None = None, company_id: int | None = None
) -> ApproveResult:
    """Reject the given rows (with an optional reason): never sent; the client is in cooldown as if contacted."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return ApproveResult()
    company_sql, company_params = ("", []) if company_id is None else (" and company_id = %s", [int(company_id)])
    rows = wh.fetchall(
        "update reactivation_messages set status = %s, review_note = %s, reviewed_at = %s, updated_at = %s"
        f" where status = %s and not is_holdout and message_key in ({', '.join(['%s'] * len(wanted))})"
        f"{company_sql} returning message_key",
        [REJECTED, (reason or "").strip() or None, now, now, AWAITING_REVIEW, *wanted, *company_params],
    )
    changed = {r[0] for r in rows}
    return ApproveResult(changed=sorted(changed), refused=_refusals(wh, wanted, changed, company_id))


def edit_text(wh: Warehouse, key: str, text: str, now: datetime, max_chars: int, expiry_days: int) -> None:
    """Replace a waiting row's text after the guardrails pass on it again; ReviewError saying why otherwise."""
    text = text.strip()
    found = wh.fetchone(
        "select locale, tone, variant, template_params, status, created_at from reactivation_messages"
        " where message_key = %s and not is_holdout",
        [key],
    )
    if found is None:
        raise ReviewError(f"no message {key}")
    locale, tone, variant, params_json, status, created = found
    if status != AWAITING_REVIEW or _aware(created) < _cutoff(now, expiry_days):
        raise ReviewError(f"message {key} is not awaiting review (it is {status})")
    params = json.loads(params_json or "{}")
    request = MessageRequest(
        message_key=key,
        locale=locale or "ru",
        tone=tone,
        variant=variant,
        client_name=(params.get("review") or {}).get("client_name") or params.get("client_first_name"),
        service_title=params.get("service_title"),
        company_name=params.get("company_name") or "",
        days_since=int((params.get("review") or {}).get("days_since") or 0),
        booking_url=params.get("booking_url"),
    )
    failed = check_guardrails(text, request, max_chars)
    if failed:
        raise ReviewError(f"edit refused: {GUARDRAIL_REASONS.get(failed, failed)} ({failed})")
    changed = wh.changed_rows(
        "update reactivation_messages set message_text = %s, composer = %s, updated_at = %s"
        " where message_key = %s and status = %s",
        [text, "edited", now, key, AWAITING_REVIEW],
    )
    if not changed:
        raise ReviewError(f"message {key} was decided meanwhile")


def _refusals(wh: Warehouse, wanted: list[str] | None, changed: set[str], company_id: int | None) -> dict[str, str]:
    """Why each requested key outside `changed` was not touched: unknown, another company's, or already decided."""
    missing = [k for k in (wanted or []) if k not in changed]
    if not missing:
        return {}
    found = dict(
        (key, (status, int(company), bool(holdout)))
        for key, status, company, holdout in wh.fetchall(
            "select message_key, status, company_id, is_holdout from reactivation_messages"
            f" where message_key in ({', '.join(['%s'] * len(missing))})",
            missing,
        )
    )
    reasons = {}
    for key in missing:
        if key not in found:
            reasons[key] = "no such message"
        elif found[key][2]:
            reasons[key] = "a holdout row is never sent"
        elif company_id is not None and found[key][1] != int(company_id):
            reasons[key] = f"belongs to company {found[key][1]}"
        else:
            reasons[key] = f"not awaiting review (it is {found[key][0]})"
    return reasons


def _companies(company_ids: Iterable[int] | None) -> tuple[str, list[Any]]:
    ids = None if company_ids is None else [int(c) for c in company_ids]
    if not ids:
        return "", []
    return f" and company_id in ({', '.join(['%s'] * len(ids))})", ids


def _cutoff(now: datetime, expiry_days: int) -> datetime:
    return now - timedelta(days=int(expiry_days))


def _aware(moment: Any) -> datetime:
    value = pd.Timestamp(moment).to_pydatetime()
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
