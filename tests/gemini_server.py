"""A loopback stand-in for Gemini's `generateContent`, scripted per test, recording every request it receives.

Behaviours, taken one per request from the script (then "ok"):
- ok: a valid message for each client in the prompt's JSON block; wrapped: the same inside {"messages": [...]};
- partial: like ok but without the first client; malformed: reply text that is not JSON;
- missing_opt_out: valid JSON whose texts lack the opt-out sentence;
- status:<code>: an error reply with that HTTP status; retry_after:<s>: a 429 with a Retry-After header;
- retry_info:<s>: a 429 carrying Gemini's google.rpc.RetryInfo `retryDelay` in the error details;
- slow: hold the reply until the server stops (longer than any client timeout in the tests).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import BackgroundServer

PATH = re.compile(r"^/(v1|v1beta)/models/(?P<model>[^/:]+):generateContent$")
CLIENTS_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    at: float  # on the server's clock (the tests' fake clock)

    @property
    def prompt(self) -> str:
        return "".join(part.get("text", "") for c in self.body.get("contents", []) for part in c.get("parts", []))

    @property
    def clients(self) -> list[dict[str, Any]]:
        """The clients listed in the prompt's JSON block."""
        match = CLIENTS_BLOCK.search(self.prompt)
        return json.loads(match.group(1)) if match else []


class GeminiServer(BackgroundServer):
    """The Gemini `generateContent` endpoint on loopback, scriptable per request; use as a context manager."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.replies: dict[str, str] = {}  # message_key → text last sent for it
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return self.root_url

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def script(self, *behaviours: str) -> None:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def stop(self) -> None:
        self._stopping.set()  # releases requests parked by the `slow` behaviour
        super().stop()

    def handle(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """Status, extra headers and body for one request."""
        recorded = RecordedRequest(path, headers, body, self.clock())
        with self._lock:
            self.requests.append(recorded)
            behaviour = self._script.popleft() if self._script else "ok"
        match = PATH.match(path)
        if not match:
            return _error(404, "NOT_FOUND")
        kind, _, arg = behaviour.partition(":")
        if kind == "status":
            return _error(int(arg), "SCRIPTED")
        if kind == "retry_after":
            status, extra, payload = _error(429, "RESOURCE_EXHAUSTED")
            return status, {**extra, "Retry-After": arg}, payload
        if kind == "retry_info":
            return _error(429, "RESOURCE_EXHAUSTED", retry_delay=f"{arg}s")
        if kind == "slow":
            self._stopping.wait(10)
        if kind == "malformed":
            return _reply("Sorry, here are your messages: first one, second one", match["model"])
        clients = recorded.clients[1:] if kind == "partial" else recorded.clients
        items = [{"message_key": c["message_key"], "text": self._text(c, kind != "missing_opt_out")} for c in clients]
        text = json.dumps({"messages": items} if kind == "wrapped" else items, ensure_ascii=False)
        return _reply(text, match["model"])

    def _text(self, client: dict[str, Any], opt_out: bool) -> str:
        """A plausible model message in the client's language, from the prompt's data only."""
        name, service, url = client.get("first_name"), client.get("service"), client.get("booking_url")
        if client["locale"] == "en":
            text = f"Hey {name or 'there'}! {client['business']} has missed you"
            text += f" and your {service.lower()}." if service else "."
            text += f" Grab a time: {url}" if url else " Reply to this message to book."
        else:
            text = f"{name or 'Здравствуйте'}, {client['business']} очень ждёт вас"
            text += f" на «{service}»." if service else " снова."
            text += f" Выберите время: {url}" if url else " Ответьте на это сообщение, чтобы записаться."
        if opt_out:
            text += "\n" + client["opt_out_sentence"]
        with self._lock:
            self.replies[client["message_key"]] = text
        return text


def _reply(text: str, model: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50, "totalTokenCount": 150},
        "modelVersion": model,
    }
    return 200, {}, json.dumps(body, ensure_ascii=False).encode()


def _error(code: int, status: str, retry_delay: str | None = None) -> tuple[int, dict[str, str], bytes]:
    error: dict[str, Any] = {"code": code, "message": f"scripted error {code}", "status": status}
    if retry_delay:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    body = {"error": error}
    return code, {}, json.dumps(body).encode()


def _handler_for(server: GeminiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = server.handle(self.path, headers, json.loads(raw or b"{}"))
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `GeminiServer.requests` instead."""

    return Handler
