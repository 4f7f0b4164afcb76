"""The default channel: append each message to a local JSON Lines file (demos, dry runs, audits).

Writing the line and fsyncing it is the "delivery". Keys already in the file are never written again, so the
channel is idempotent across runs. One process should own a file at a time (the outbox serialises sends).
The file keeps no personal data, so retention has nothing to scrub in it: the phone is masked and the client's
first name in the text replaced by "{name}".
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reactivation.channels.base import ChannelSettings, OutgoingMessage, SendResult, iso_utc, logger, mask_phone


class LogChannel:
    """Appends one JSON line per message key to `settings.log_path`."""

    name = "log"
    idempotent = True

    def __init__(self, settings: ChannelSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._path = settings.log_path
        self._clock = clock
        self._lock = threading.Lock()
        self._keys, self._needs_newline = _load_keys(self._path)
        self.fatal_error: str | None = None

    def send(self, message: OutgoingMessage) -> SendResult:
        accepted = SendResult(accepted=True, provider_message_id=f"log:{message.message_key}")
        label = f"log {message.message_key} to {mask_phone(message.phone)}"
        with self._lock:
            if message.message_key in self._keys:
                logger.info("%s: already in %s, not written again", label, self._path)
                return accepted
            try:
                self._append(_line(message, self._clock()))
            except OSError as exc:
                self._needs_newline = True  # a partial line may be there; start the next one on its own line
                result = SendResult(accepted=False, error=f"write failed: {exc.strerror}", retryable=True)
                logger.warning("%s: %s", label, result.error)
                return result
            self._keys.add(message.message_key)
        logger.info("%s: written to %s", label, self._path)
        return accepted

    def close(self) -> None:
        """Nothing stays open between sends."""

    def _append(self, line: bytes) -> None:
        created = not self._path.exists()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("ab") as handle:
            handle.write((b"\n" if self._needs_newline else b"") + line)
            handle.flush()
            os.fsync(handle.fileno())
        self._needs_newline = False
        if created:
            _fsync_dir(self._path.parent)


def _line(message: OutgoingMessage, now: float) -> bytes:
    record = {
        "message_key": message.message_key,
        "company_id": message.company_id,
        "client_id": message.client_id,
        "phone": mask_phone(message.phone),
        "text": _without_name(message.text, message.client_first_name),
        "sent_at": iso_utc(now),
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def _without_name(text: str, first_name: str) -> str:
    """The text as the file keeps it: the client's name replaced by "{name}" (the file outlives retention)."""
    name = first_name.strip() if first_name else ""
    return text.replace(name, "{name}") if name else text


def _load_keys(path: Path) -> tuple[set[str], bool]:
    """Keys already written, and whether the file ends mid-line (a write cut short by a crash)."""
    if not path.exists():
        return set(), False
    data = path.read_bytes()
    keys: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            keys.add(json.loads(raw)["message_key"])
        except (ValueError, TypeError, KeyError):
            logger.warning("%s line %d is not a complete record; ignored", path, number)
    return keys, bool(data) and not data.endswith(b"\n")


def _fsync_dir(directory: Path) -> None:
    """Make a newly created file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
