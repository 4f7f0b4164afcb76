"""A loopback stand-in for the YClients REST API, serving `demo.generate()` data in the real envelope.

    with FakeYClients(data, partner_token="p", user_token="u") as api:   # also login=..., password=..., clock=...
        api.base_url                                  # http://127.0.0.1:<port>/api/v1
        api.fail("GET", "/records/101", [rate_limited(7)], page=2)   # scripted answers, consumed in turn
        api.records[(101, 3000001)]["attendance"] = -1            # mutate the data between syncs
        api.log                                       # every request: method, path, params, body, status, ...

Endpoints (the paths and parameters of the official API description): `POST /auth`, `GET /company/{id}`,
`GET /company/{id}/services`, `GET /company/{id}/service_categories`, `GET /company/{id}/staff` (the masters
the records name, `api.staff[(company_id, staff_id)]`, editable), `POST /company/{id}/clients/search`,
`GET /clients/{id}` (the deprecated full client list) and `GET /records/{id}` with `page`, `count`,
`start_date`/`end_date` (local date of the visit; of its creation when the visit has no usable datetime),
`changed_after` (last change strictly later; a time without offset is read in the company's zone) and
`with_deleted`, and `POST /sms/clients/by_id/{id}` (`{"client_ids": [...], "text": ...}`: one SMS per client
from the company's balance, kept in `api.sms`; it also refuses a request without the v2 Accept header with 415;
`api.sms_replies[company_id]` / `api.sms_client_replies[client_id]` answer every SMS to that company / client,
e.g. `sms_balance_exhausted()`). Answers are `{success, data, meta}`; a bad token gets 401 with `meta.message`.
`/auth` and `/company/{id}` need the partner token only, everything else the user token too. Records are served
in their final version (the demo data may hold older versions first); services and companies in the API's own shapes
(string ids and prices, country names, `timezone_name`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from reactivation.demo import DemoData

from .loopback import BackgroundServer

PREFIX = "/api/v1"
ACCEPT_V2 = "application/vnd.yclients.v2+json"
STAFF_NAMES = ("Анна", "Ольга", "Марина", "Ирина", "Светлана", "Дарья")
COUNTRY_NAMES = {"RU": "Россия", "GB": "Великобритания", "DE": "Германия", "US": "США"}


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, raw body and extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def envelope(data: Any, meta: Any = None, success: bool = True) -> bytes:
    return json.dumps({"success": success, "data": data, "meta": [] if meta is None else meta}).encode()


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, envelope(None, {"message": message}, success=False), headers or {})


def rate_limited(retry_after: int) -> Reply:
    return error(429, "Too many requests", {"Retry-After": str(retry_after)})


def sms_balance_exhausted() -> Reply:
    """What YClients answers an SMS request when the company's SMS balance cannot pay for it."""
    return error(402, "Недостаточно средств на балансе для отправки SMS")


def sms_service_disabled() -> Reply:
    return error(403, "SMS-рассылки отключены для этого филиала")


# Malformed answers with status 200, each a way an answer can break.
NOT_JSON = Reply(200, b"<html><body>502 Bad Gateway</body></html>")
DATA_NOT_A_LIST = Reply(200, envelope({"unexpected": "object"}))
REFUSED_WITH_200 = Reply(200, envelope(None, {"message": "Internal processing error"}, success=False))


@dataclass
class Logged:
    """One request as received, with what it was answered."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    status: int = 0
    record_ids: list[int] = field(default_factory=list)
    at: float | None = None


@dataclass
class _Fault:
    method: str
    path: str
    page: int | None
    replies: list[Reply]


class FakeYClients(BackgroundServer):
    """The API over a mutable copy of the demo data, with scriptable faults and a request log."""

    def __init__(
        self,
        data: DemoData,
        *,
        partner_token: str,
        user_token: str,
        login: str = "",
        password: str = "",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.partner_token, self.user_token, self.login, self.password = partner_token, user_token, login, password
        self.clock = clock
        self.companies = {c["company_id"]: dict(c) for c in data.companies}
        self.services = [dict(s) for s in data.services]
        self.clients = {(c["company_id"], c["id"]): dict(c) for c in data.clients}
        self.records: dict[tuple[int, int], dict[str, Any]] = {}
        for record in data.records:  # older versions come first: the last one is the final version
            self.records[(record["company_id"], record["id"])] = json.loads(json.dumps(record))
        self.staff = {  # every master a record names, working, in the API's shape (string ids and flags)
            (r["company_id"], r["staff_id"]): {
                "id": r["staff_id"],
                "name": f"{STAFF_NAMES[r['staff_id'] % len(STAFF_NAMES)]} {r['staff_id']}",
                "specialization": "мастер",
                "fired": 0,
                "hidden": 0,
                "avatar": "",
            }
            for r in self.records.values()
            if r.get("staff_id") is not None
        }
        self.search_fields = {"id", "name", "phone", "email", "sms_not", "deleted"}  # what the search can return
        self.refuse_unknown_fields = False  # True: asking the search for other fields is a 400, else they are left out
        self.log: list[Logged] = []
        self.sms: list[dict[str, Any]] = []  # every SMS accepted: company_id, client_id, phone (from the card), text
        self.sms_replies: dict[int, Reply] = {}  # company → the answer to each of its SMS requests (nothing sent)
        self.sms_client_replies: dict[int, Reply] = {}  # client → the answer to each SMS request for it
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    # ---------- lifecycle
    @property
    def base_url(self) -> str:
        return self.root_url + PREFIX

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # ---------- scripting and inspection
    def fail(self, method: str, path: str, replies: list[Reply], page: int | None = None) -> None:
        """Answer the next matching requests (path without /api/v1; optionally only that page) with `replies`."""
        with self._lock:
            self._faults.append(_Fault(method, path, page, list(replies)))

    def requests(self, path_prefix: str) -> list[Logged]:
        return [entry for entry in self.log if entry.path.startswith(path_prefix)]

    # ---------- answering
    def handle(self, method: str, target: str, authorization: str, raw: bytes, accept: str = ACCEPT_V2) -> Reply:
        split = urlsplit(target)
        path = split.path.removeprefix(PREFIX).rstrip("/")
        params = dict(parse_qsl(split.query))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry = Logged(method, path, params, body, at=self.clock() if self.clock else None)
        with self._lock:
            self.log.append(entry)
            reply = self._scripted(method, path, params, body)
            if reply is None:
                reply = self._answer(method, path, params, body, authorization, accept)
                if reply.status == 200 and path.startswith("/records/"):
                    entry.record_ids = [r["id"] for r in json.loads(reply.body)["data"]]
            entry.status = reply.status
        return reply

    def _scripted(self, method: str, path: str, params: dict[str, str], body: Any) -> Reply | None:
        page = int(params.get("page") or (body or {}).get("page") or 1)
        for fault in self._faults:
            if fault.replies and fault.method == method and fault.path == path and fault.page in (None, page):
                return fault.replies.pop(0)
        return None

    def _answer(
        self, method: str, path: str, params: dict[str, str], body: Any, authorization: str, accept: str = ACCEPT_V2
    ) -> Reply:
        if path.startswith("/sms/") and accept != ACCEPT_V2:
            return error(415, f"Accept must be {ACCEPT_V2}")
        partner, user = _tokens(authorization)
        if partner != self.partner_token:
            return error(401, "Partner authentication failed")
        if (method, path) == ("POST", "/auth"):
            return self._auth(body or {})
        route = _ROUTES.get((method, re.sub(r"/\d+", "/{id}", path)))
        company_id = int(re.findall(r"\d+", path)[0]) if route else None
        if route is None or company_id not in self.companies:
            return error(404, "Not found")
        if route != "company" and user != self.user_token:
            return error(401, "User authentication failed")
        answer = getattr(self, f"_{route}")(company_id, params, body or {})
        return answer if isinstance(answer, Reply) else Reply(200, answer)

    def _auth(self, body: dict[str, Any]) -> Reply:
        if (body.get("login"), body.get("password")) != (self.login, self.password) or not self.login:
            return error(401, "Неверный логин или пароль")
        return Reply(201, envelope({"id": 1, "user_token": self.user_token, "name": "Администратор"}))

    def _company(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes:
        company = self.companies[company_id]
        zone = ZoneInfo(company["timezone"])
        return envelope(
            {
                "id": company_id,
                "title": company["name"],
                "country_id": 1,
                "country": COUNTRY_NAMES.get(company["country"], company["country"]),
                "city": "",
                "timezone": int(datetime.now(zone).utcoffset().total_seconds() // 3600),
                "timezone_name": company["timezone"],
                "address": "",
                "phone": "",
                "site": company["booking_url"],
            }
        )

    def _services(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes:
        own = [s for s in self.services if s["company_id"] == company_id]
        data = [
            {
                "id": str(s["id"]),
                "salon_service_id": str(s["id"] + 100000),
                "title": s["title"],
                "category_id": str(s["category_id"]),
                "price_min": f"{s['cost']:.2f}",
                "price_max": f"{s['cost']:.2f}",
                "discount": "0",
                "comment": "",
                "weight": "1",
                "active": "1",
                "api_id": "",
                "staff": [],
            }
            for s in own
        ]
        return envelope(data, {"total_count": len(data)})

    def _staff(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes:
        data = [dict(s, id=str(s["id"])) for (cid, _), s in sorted(self.staff.items()) if cid == company_id]
        return envelope(data, {"total_count": len(data)})

    def _service_categories(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes:
        titles = {s["category_id"]: s["category_title"] for s in self.services if s["company_id"] == company_id}
        data = [
            {"id": i, "salon_service_id": i, "title": t, "api_id": "", "weight": 1, "staff": []}
            for i, t in titles.items()
        ]
        return envelope(data, {"total_count": len(data)})

    def _clients_search(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes | Reply:
        asked = body.get("fields", ["id"])
        if self.refuse_unknown_fields and set(asked) - self.search_fields:
            return error(400, "Недопустимое значение поля")
        fields = [f for f in asked if f in self.search_fields]
        own = self._own_clients(company_id)
        page, size = int(body.get("page", 1)), min(int(body.get("page_size", 25)), 200)
        data = [{f: c[f] for f in fields if f in c} for c in own[(page - 1) * size : page * size]]
        return envelope(data, {"total_count": len(own)})

    def _clients_legacy(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes:
        own = self._own_clients(company_id)
        page, count = int(params.get("page", 1)), min(int(params.get("count", 20)), 200)
        cards = [
            {**{k: v for k, v in c.items() if k != "company_id"}, "email": "", "sms_check": 0, "categories": []}
            for c in own[(page - 1) * count : page * count]
        ]
        return envelope(cards, {"page": page, "total_count": len(own)})

    def _records(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes:
        zone = ZoneInfo(self.companies[company_id]["timezone"])
        found = [r for (cid, _), r in sorted(self.records.items()) if cid == company_id]
        if params.get("with_deleted") != "1":
            found = [r for r in found if not r.get("deleted")]
        if "start_date" in params:
            found = [r for r in found if _visit_date(r) >= date.fromisoformat(params["start_date"])]
        if "end_date" in params:
            found = [r for r in found if _visit_date(r) <= date.fromisoformat(params["end_date"])]
        if "changed_after" in params:
            after = _instant(params["changed_after"], zone)
            found = [r for r in found if _instant(r["last_change_date"], zone) > after]
        page, count = int(params.get("page", 1)), min(int(params.get("count", 300)), 300)
        return envelope(found[(page - 1) * count : page * count], {"page": page, "total_count": len(found)})

    def _sms(self, company_id: int, params: dict[str, str], body: dict[str, Any]) -> bytes | Reply:
        client_ids, text = body.get("client_ids"), body.get("text")
        if not isinstance(client_ids, list) or not client_ids or not isinstance(text, str) or not text.strip():
            return error(422, "Не указаны получатели или текст сообщения")
        if company_id in self.sms_replies:
            return self.sms_replies[company_id]
        for client_id in client_ids:
            if client_id in self.sms_client_replies:
                return self.sms_client_replies[client_id]
        for client_id in client_ids:
            card = self.clients.get((company_id, client_id), {})
            self.sms.append(
                {"company_id": company_id, "client_id": client_id, "phone": card.get("phone"), "text": text}
            )
        return envelope(None, {"message": "Сообщения поставлены в очередь на отправку"})

    def _own_clients(self, company_id: int) -> list[dict[str, Any]]:
        return [c for (cid, _), c in sorted(self.clients.items()) if cid == company_id]


_ROUTES = {
    ("GET", "/company/{id}"): "company",
    ("GET", "/company/{id}/services"): "services",
    ("GET", "/company/{id}/service_categories"): "service_categories",
    ("GET", "/company/{id}/staff"): "staff",
    ("POST", "/company/{id}/clients/search"): "clients_search",
    ("GET", "/clients/{id}"): "clients_legacy",
    ("GET", "/records/{id}"): "records",
    ("POST", "/sms/clients/by_id/{id}"): "sms",
}


def _tokens(authorization: str) -> tuple[str | None, str | None]:
    """`Bearer <partner>, User <user>` → (partner, user)."""
    match = re.fullmatch(r"Bearer\s+([^,\s]+)\s*(?:,\s*User\s+(\S+))?", authorization.strip())
    return (match.group(1), match.group(2)) if match else (None, None)


def _instant(text: str, zone: ZoneInfo) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _visit_date(record: dict[str, Any]) -> date:
    """Local date of the visit (the datetime carries the company's offset); of its creation when unusable."""
    try:
        return datetime.fromisoformat(record["datetime"]).date()
    except (KeyError, TypeError, ValueError):
        return datetime.fromisoformat(record["create_date"]).date()


def _handler_for(api: FakeYClients) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = self.headers
            reply = api.handle(
                self.command, self.path, headers.get("Authorization", ""), raw, headers.get("Accept", "")
            )
            self.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """No per-request lines on stderr."""

    return Handler
