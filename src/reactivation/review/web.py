"""The review page: one company's batch waiting for review, approve all / selected, reject, edit, weekly summary.

Access: `REACTIVATION_REVIEW_TOKEN`, sent as `Authorization: Bearer <token>` or once as `?token=<token>`, which
sets an HttpOnly SameSite=Strict session cookie and redirects to the same URL without the token. Every form
carries the session's CSRF token, checked on POST. Bound to loopback by default; no external assets.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from reactivation.review import model
from reactivation.settings import Settings
from reactivation.warehouse import Warehouse

COOKIE = "review_session"
TEMPLATES = Path(__file__).parent / "templates"


class ReviewConfigError(RuntimeError):
    """The page cannot start safely (no token configured)."""


def _price() -> float:
    raw = os.environ.get("REACTIVATION_PRICE_PER_MESSAGE", "").strip()
    try:
        return float(raw) if raw else 0.0
    except ValueError:
        raise ReviewConfigError(f"REACTIVATION_PRICE_PER_MESSAGE must be a number, not {raw!r}") from None


def create_app(token: str | None = None, settings: Settings | None = None) -> FastAPI:
    """The review app; `token` defaults to `REACTIVATION_REVIEW_TOKEN` and must be set."""
    token = (token if token is not None else os.environ.get("REACTIVATION_REVIEW_TOKEN", "")).strip()
    if not token:
        raise ReviewConfigError("REACTIVATION_REVIEW_TOKEN is not set: the review page will not start without one")
    price = _price()
    # the session cookie is derived from the token: a new token logs every browser out
    session_secret = hmac.new(token.encode(), b"review-session", hashlib.sha256).hexdigest()
    templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    app = FastAPI(title="Reactivation review", docs_url=None, redoc_url=None, openapi_url=None)

    def connect() -> Warehouse:  # one connection per request: DuckDB allows one writer, the CLI and delivery too
        wh = Warehouse.connect(settings or Settings.from_env())
        wh.ensure_tables()
        return wh

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip(), token):
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), session_secret)

    def csrf(request: Request) -> str:
        """The session's CSRF token (a keyed hash of the session: nothing stored server-side)."""
        basis = request.cookies.get(COOKIE) or request.headers.get("authorization", "")
        return hmac.new(token.encode(), b"csrf:" + basis.encode(), hashlib.sha256).hexdigest()

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        given = request.query_params.get("token")
        if given is not None and request.method == "GET":
            if not hmac.compare_digest(given, token):
                return PlainTextResponse("unauthorised", status_code=401)
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(COOKIE, session_secret, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")  # fmt: skip
            return response
        if not authorised(request):
            return PlainTextResponse("unauthorised", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        response = await call_next(request)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def checked_form(request: Request) -> Any:
        """The posted form (URL-encoded, as the page sends it), once its CSRF token matches the session's (403)."""
        form = FormData(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf(request)):
            raise HTTPException(status_code=403, detail="cross-site request refused")
        return form

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, company: int | None = None, notice: str = "") -> HTMLResponse:
        review = model.ReviewSettings.from_env()
        now = datetime.now(UTC)
        with connect() as wh:
            companies = [
                {"id": int(c), "name": n}
                for c, n in wh.fetchall("select company_id, company_name from int_companies_as_of order by 1")
            ] if wh.table_exists("int_companies_as_of") else []  # fmt: skip
            waiting = model.list_batch(wh, now, review.expiry_days)
            counts: dict[int, int] = {}
            for message in waiting:
                counts[message["company_id"]] = counts.get(message["company_id"], 0) + 1
            if company is None:
                company = next(iter(counts), companies[0]["id"] if companies else None)
            batch = [m for m in waiting if m["company_id"] == company]
            summary = model.weekly_summary(wh, company, now) if company is not None else None
        for entry in companies:
            entry["waiting"] = counts.get(entry["id"], 0)
        page = templates.get_template("review.html").render(
            companies=companies,
            company=company,
            company_name=next((c["name"] for c in companies if c["id"] == company), ""),
            batch=batch,
            summary=summary,
            segments=sum(m["sms_segments"] for m in batch),
            price=price,
            policy=review.for_company(company) if company is not None else None,
            csrf=csrf(request),
            notice=notice,
        )
        return HTMLResponse(page)

    @app.post("/approve")
    async def approve(request: Request) -> Response:
        from reactivation.schedule import SendWindow

        form = await checked_form(request)
        company = int(str(form["company"]))
        keys = None if form.get("scope") == "all" else [str(k) for k in form.getlist("key")]
        review = model.ReviewSettings.from_env()
        with connect() as wh:
            _save_edits(wh, form, review.expiry_days)
            result = model.approve(wh, datetime.now(UTC), SendWindow.from_env(), review.expiry_days,
                                   company_id=company, keys=keys)  # fmt: skip
        return _back(company, f"approved {len(result.changed)}" + _refused(result))

    @app.post("/reject")
    async def reject(request: Request) -> Response:
        form = await checked_form(request)
        company = int(str(form["company"]))
        keys = [str(k) for k in form.getlist("key")]
        with connect() as wh:
            result = model.reject(wh, keys, datetime.now(UTC), str(form.get("reason") or ""), company_id=company)
        return _back(company, f"rejected {len(result.changed)}" + _refused(result))

    @app.post("/edit")
    async def edit(request: Request) -> Response:
        form = await checked_form(request)
        company = int(str(form["company"]))
        with connect() as wh:
            failed = _save_edits(wh, form, model.ReviewSettings.from_env().expiry_days)
        return _back(company, "; ".join(failed) or "text saved")

    return app


def _save_edits(wh: Warehouse, form: Any, expiry_days: int) -> list[str]:
    """Texts changed in the form (`text:<key>` fields differing from `orig:<key>`), each through the guardrails."""
    from reactivation.messages import ComposeSettings

    failed = []
    for name, value in form.multi_items():
        if not name.startswith("text:"):
            continue
        key = name[5:]
        if str(value).strip() == str(form.get(f"orig:{key}", "")).strip():
            continue
        try:
            model.edit_text(wh, key, str(value), datetime.now(UTC), ComposeSettings.from_env().max_chars, expiry_days)
        except model.ReviewError as exc:
            failed.append(str(exc))
    return failed


def _refused(result: model.ApproveResult) -> str:
    return f"; refused {len(result.refused)}" if result.refused else ""


def _back(company: int, notice: str) -> RedirectResponse:
    """Post/redirect/get: a reload never repeats the action."""
    return RedirectResponse(f"/?{urlencode({'company': company, 'notice': notice})}", status_code=303)


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the page with uvicorn (refuses to start without a token)."""
    import uvicorn

    app = create_app()
    if host not in ("127.0.0.1", "localhost", "::1"):
        import logging

        logging.getLogger("reactivation.review").warning("the review page listens on %s, not loopback only", host)
    uvicorn.run(app, host=host, port=port, log_level="info")


def new_token() -> str:
    """A token worth setting as REACTIVATION_REVIEW_TOKEN."""
    return secrets.token_urlsafe(32)
