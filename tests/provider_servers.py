"""Loopback stand-ins for the message providers, for channel tests and for subprocess crash/concurrency tests.

Both are ThreadingHTTPServer instances on 127.0.0.1 with an ephemeral port, served from a daemon thread.
Use them as context managers, or call `start()` / `stop()`. All state is guarded by a lock, so requests from
several threads or processes are fine; read the recorded lists once the senders are done.

    with WebhookReceiver("secret") as hook:          # POST hook.url (any path) with the webhook channel's headers
        hook.fail_statuses.extend([500, 500])        # answered in turn before the receiver starts succeeding
        hook.retry_after = 7                         # Retry-After header sent with scripted 429 answers
        hook.delays.append(0.5)                      # per-request delays, consumed in turn (see below)
        ...
        hook.delivered    # message_keys processed exactly once, in order
        hook.duplicates   # how many requests repeated an already processed Idempotency-Key
        hook.requests     # every request: Recorded(path, headers, body) -- body parsed JSON or None

    with WhatsAppCloudServer("token", "1234567890") as wa:   # api_version="v21.0"; channel base URL = wa.url
        wa.errors_by_to["79160000002"] = 131049      # every send to that number fails with this Graph error code
        wa.server_errors.extend([500, 503])          # answered in turn (with a Graph error body) before success
        wa.delays.append(0.5)
        ...
        wa.delivered      # accepted messages: {"to", "template", "language", "parameters", "id"}
        wa.requests

The webhook receiver checks `X-Reactivation-Signature` over the timestamp, `Idempotency-Key` and raw body with
`verify_signature` (401 when bad), then answers a
scripted failure status if one is queued, then processes the message once per `Idempotency-Key`: a repeated key
gets the first answer again (200) and counts in `duplicates`. The WhatsApp server checks the path, the Bearer
token (401, Graph code 190), queued 5xx, the template payload shape (400, code 100) and `errors_by_to`
(rate-limit codes answer 429, others 400), then accepts with a unique `wamid.` id.

A delay is applied after the request is processed and before the answer is written: the "response lost"
case, where the provider has the message but the client times out. Both servers record a request on arrival.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import httpx

from reactivation.channels import verify_signature

from .loopback import BackgroundServer

Reply = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


class Recorded(NamedTuple):
    """One request as received; `headers` look-ups ignore case."""

    path: str
    headers: httpx.Headers
    body: Any


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins requests still in progress

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timed out) before a delayed answer is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _LoopbackServer(BackgroundServer):
    """Serving, recording and delays; subclasses decide the answer in `_reply`."""

    server_class = _QuietServer

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.delays: list[float] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.root_url

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _receive(self, path: str, headers: httpx.Headers, raw: bytes) -> tuple[Reply, float]:
        """Record the request, decide the answer, and take the next queued delay."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(path, headers, body))
            delay = self.delays.pop(0) if self.delays else 0.0
            return self._reply(path, headers, raw, body), delay

    def _reply(self, path: str, headers: httpx.Headers, raw: bytes, body: Any) -> Reply:
        raise NotImplementedError


def _handler_for(owner: _LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = httpx.Headers(dict(self.headers.items()))
            (status, payload, extra), delay = owner._receive(self.path, headers, raw)
            if delay:
                time.sleep(delay)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """No per-request lines on stderr."""

    return Handler


class WebhookReceiver(_LoopbackServer):
    """A webhook endpoint that verifies signatures and processes each Idempotency-Key once."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.fail_statuses: list[int] = []
        self.retry_after: int | None = None
        self.delivered: list[str] = []
        self.duplicates = 0
        self._answers: dict[str, Reply] = {}
        self.clock: Any = None  # the senders' clock (a faked one) for the replay guard; None: the real time

    @property
    def url(self) -> str:
        return super().url + "/hook"

    def _reply(self, path: str, headers: httpx.Headers, raw: bytes, body: Any) -> Reply:
        timestamp = headers.get("X-Reactivation-Timestamp", "")
        key = headers.get("Idempotency-Key")
        if not verify_signature(
            self.secret,
            timestamp,
            key,
            raw,
            headers.get("X-Reactivation-Signature"),
            now=self.clock() if self.clock else None,
        ):
            return 401, {"error": "bad signature"}, {}
        if self.fail_statuses:
            status = self.fail_statuses.pop(0)
            extra = {"Retry-After": str(self.retry_after)} if status == 429 and self.retry_after is not None else {}
            return status, {"error": f"scripted {status}"}, extra
        if not key or not isinstance(body, dict):
            return 400, {"error": "Idempotency-Key header and a JSON object body are required"}, {}
        if key in self._answers:
            self.duplicates += 1
            return self._answers[key]
        self.delivered.append(key)
        self._answers[key] = (200, {"id": f"hook-{len(self.delivered)}", "message_key": key}, {})
        return self._answers[key]


class WhatsAppCloudServer(_LoopbackServer):
    """The `POST /{version}/{phone_number_id}/messages` endpoint of the WhatsApp Cloud API, for templates."""

    RATE_LIMIT_CODES = frozenset({130429, 131056, 80007})

    def __init__(self, token: str, phone_number_id: str, api_version: str = "v21.0") -> None:
        super().__init__()
        self.token = token
        self.messages_path = f"/{api_version}/{phone_number_id}/messages"
        self.errors_by_to: dict[str, int] = {}
        self.server_errors: list[int] = []
        self.delivered: list[dict[str, Any]] = []

    def _reply(self, path: str, headers: httpx.Headers, raw: bytes, body: Any) -> Reply:
        if path != self.messages_path:
            return _graph_error(404, 100, "Unsupported post request")
        if headers.get("Authorization") != f"Bearer {self.token}":
            return _graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if self.server_errors:
            return _graph_error(self.server_errors.pop(0), 131000, "Something went wrong")
        problem = _template_problem(body)
        if problem:
            return _graph_error(400, 100, f"Invalid parameter: {problem}")
        if body["to"] in self.errors_by_to:
            code = self.errors_by_to[body["to"]]
            return _graph_error(429 if code in self.RATE_LIMIT_CODES else 400, code, f"scripted error {code}")
        return self._accept(body)

    def _accept(self, body: dict[str, Any]) -> Reply:
        message_id = f"wamid.{uuid.uuid4().hex}"
        template = body["template"]
        self.delivered.append(
            {
                "to": body["to"],
                "template": template["name"],
                "language": template["language"]["code"],
                "parameters": [p["text"] for p in template["components"][0]["parameters"]],
                "id": message_id,
            }
        )
        contacts = [{"input": body["to"], "wa_id": body["to"]}]
        return 200, {"messaging_product": "whatsapp", "contacts": contacts, "messages": [{"id": message_id}]}, {}


def _graph_error(status: int, code: int, message: str) -> Reply:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": uuid.uuid4().hex[:12]}
    return status, {"error": error}, {}


def _template_problem(body: Any) -> str | None:
    """What is wrong with a template message body, or None when its shape is right."""
    if not isinstance(body, dict):
        return "body is not a JSON object"
    expected = {"messaging_product": "whatsapp", "recipient_type": "individual", "type": "template"}
    if any(body.get(k) != v for k, v in expected.items()):
        return "messaging_product, recipient_type or type"
    if not (isinstance(body.get("to"), str) and body["to"].isdigit()):
        return "to must be digits without +"
    template = body.get("template")
    if not isinstance(template, dict) or not template.get("name") or not template.get("language", {}).get("code"):
        return "template name and language code are required"
    components = template.get("components")
    if not (isinstance(components, list) and len(components) == 1 and components[0].get("type") == "body"):
        return "exactly one body component is expected"
    parameters = components[0].get("parameters")
    if not (isinstance(parameters, list) and len(parameters) == 4):
        return "the body takes 4 parameters"
    if not all(p.get("type") == "text" and isinstance(p.get("text"), str) and p["text"].strip() for p in parameters):
        return "every parameter must be non-empty text"
    return None
