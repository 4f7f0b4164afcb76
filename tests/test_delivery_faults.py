"""Never twice, none lost: delivery killed mid-run and rerun, and two delivery runs at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from reactivation import campaign
from reactivation.outbox import PENDING, OutboxRow, enqueue
from reactivation.warehouse import Warehouse

from .clock import faketime_env
from .provider_servers import WebhookReceiver, WhatsAppCloudServer
from .test_cli import env_for

SECRET = "hook-secret"
DELIVER_SCRIPT = (
    "from reactivation import campaign\n"
    "from reactivation.warehouse import Warehouse\n"
    "with Warehouse.connect() as wh:\n"
    "    report = campaign.deliver_due(wh, campaign.RunSettings.from_env())\n"
    "print('sent', report.sent, flush=True)\n"
)


# a Thursday, 12:00 in Moscow: inside the default send window of an open day
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def pending_rows(n: int, channel: str, now: datetime = NOW) -> list[OutboxRow]:
    return [
        OutboxRow(
            message_key=f"101:{900000 + i}:2026-10-01:1", company_id=101, client_id=900000 + i,
            cycle_id=date(2026, 10, 1), attempt=1, as_of_date=date(2026, 11, 25), service_id=5001, tone="gentle",
            interval_level="personal", variant="a", is_holdout=False, channel=channel, locale="ru",
            phone=f"+7916{i:07d}", message_text=f"Сообщение {i}. Чтобы не получать сообщения, ответьте СТОП.",
            template_params='{"client_first_name": "Анна", "service_title": "Маникюр", "company_name": "Салон"}',
            prompt=None, composer="template", fallback_reason=None, scheduled_at=now - timedelta(minutes=5),
            status=PENDING, created_at=now - timedelta(hours=3), updated_at=now, timezone="Europe/Moscow", country="RU",
        )
        for i in range(n)
    ]  # fmt: skip


class KillAfter:
    """Mixin for a loopback provider: processes the message, then kills the sender before answering, once
    `kill_after` messages have arrived (the provider has it, the sender never learns)."""

    kill_after = 0
    victim: subprocess.Popen | None = None

    def _reply(self, path: str, headers: Any, raw: bytes, body: Any) -> Any:
        reply = super()._reply(path, headers, raw, body)
        if self.victim is not None and len(self.delivered) == self.kill_after:
            os.kill(self.victim.pid, signal.SIGKILL)
        return reply


class KillingReceiver(KillAfter, WebhookReceiver):
    pass


class KillingWhatsApp(KillAfter, WhatsAppCloudServer):
    pass


def statuses(settings) -> dict[str, tuple[str, str | None]]:
    with Warehouse.connect(settings) as wh:
        return {
            k: (s, e) for k, s, e in wh.fetchall("select message_key, status, last_error from reactivation_messages")
        }


def faked_clock() -> Any:
    """The clock of a subprocess started under faketime at NOW, for a receiver's replay guard."""
    started = time.monotonic()
    return lambda: NOW.timestamp() + time.monotonic() - started


def run_killed(env: dict[str, str], server: KillingReceiver | KillingWhatsApp) -> None:
    env = {**env, **faketime_env(NOW)}
    server.clock = faked_clock()
    process = subprocess.Popen([sys.executable, "-c", DELIVER_SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
    server.victim = process
    process.wait(timeout=120)
    server.victim = server.clock = None
    assert process.returncode == -signal.SIGKILL  # it died mid-run, not at the end


def test_rerun_after_sigkill_sends_each_webhook_key_exactly_once(settings, warehouse, monkeypatch) -> None:
    rows = pending_rows(30, "webhook")
    enqueue(warehouse, rows)
    warehouse.close()
    with KillingReceiver(SECRET) as hook:
        hook.kill_after = 12
        env = {**os.environ, **env_for(settings), "REACTIVATION_CHANNEL": "webhook",
               "REACTIVATION_WEBHOOK_URL": hook.url, "REACTIVATION_WEBHOOK_SECRET": SECRET,
               "REACTIVATION_DELIVERY_BATCH": "7"}  # fmt: skip
        run_killed(env, hook)
        assert len(hook.delivered) == 12
        before = statuses(settings)
        assert sum(s == "sent" for s, _ in before.values()) == 11  # the 12th was accepted but never confirmed

        # the rerun takes over the dead run's claims once their lease is over (0 s here)
        for name, value in {**env_for(settings), "REACTIVATION_CHANNEL": "webhook", "REACTIVATION_WEBHOOK_URL":
                            hook.url, "REACTIVATION_WEBHOOK_SECRET": SECRET,
                            "REACTIVATION_CLAIM_LEASE_SECONDS": "0"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        with Warehouse.connect(settings) as wh:
            report = campaign.deliver_due(wh, campaign.RunSettings.from_env(), now=NOW + timedelta(minutes=1))
        assert report.sent == 19
        assert sorted(hook.delivered) == sorted(r.message_key for r in rows)  # every key processed exactly once
        assert hook.duplicates == 1  # the one in flight at the kill was re-sent with its key, and deduplicated
        assert {s for s, _ in statuses(settings).values()} == {"sent"}


def test_whatsapp_message_in_flight_at_a_crash_is_never_sent_again(settings, warehouse, monkeypatch) -> None:
    rows = pending_rows(10, "whatsapp")
    enqueue(warehouse, rows)
    warehouse.close()
    with KillingWhatsApp("wa-token", "555000") as wa:
        wa.kill_after = 4
        channel_env = {"REACTIVATION_CHANNEL": "whatsapp", "WHATSAPP_BASE_URL": wa.url, "WHATSAPP_TOKEN": "wa-token",
                       "WHATSAPP_PHONE_NUMBER_ID": "555000"}  # fmt: skip
        run_killed({**os.environ, **env_for(settings), **channel_env}, wa)
        for name, value in {**env_for(settings), **channel_env, "REACTIVATION_CLAIM_LEASE_SECONDS": "0"}.items():
            monkeypatch.setenv(name, value)
        with Warehouse.connect(settings) as wh:
            report = campaign.deliver_due(wh, campaign.RunSettings.from_env(), now=NOW + timedelta(minutes=1))
        assert report.unknown_outcome == 1 and report.sent == 6
        phones = [d["to"] for d in wa.delivered]
        assert len(phones) == len(set(phones)) == 10  # nobody got a second message
        final = statuses(settings)
        unknown = [k for k, (s, e) in final.items() if s == "failed"]
        assert len(unknown) == 1 and "outcome unknown" in final[unknown[0]][1]


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_two_delivery_runs_at_once_send_each_key_once(settings, warehouse) -> None:
    rows = pending_rows(60, "webhook")
    enqueue(warehouse, rows)
    with WebhookReceiver(SECRET) as hook:
        hook.delays.extend([0.03] * 60)
        hook.clock = faked_clock()
        env = {**os.environ, **env_for(settings), "REACTIVATION_CHANNEL": "webhook", "REACTIVATION_WEBHOOK_URL":
               hook.url, "REACTIVATION_WEBHOOK_SECRET": SECRET, "REACTIVATION_DELIVERY_BATCH": "4",
               **faketime_env(NOW)}  # fmt: skip
        runs = [subprocess.Popen([sys.executable, "-c", DELIVER_SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
                for _ in range(2)]  # fmt: skip
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        sent = [int(out.split()[-1]) for out in outputs]
    assert sum(sent) == 60 and min(sent) > 0  # both runs worked, and shared the rows
    assert hook.duplicates == 0 and len(hook.requests) == 60  # no key even reached the receiver twice
    assert sorted(hook.delivered) == sorted(r.message_key for r in rows)
    assert {s for s, _ in statuses(settings).values()} == {"sent"}


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_overlapping_runs_with_a_slow_provider_and_a_short_lease_send_each_whatsapp_once(settings, warehouse) -> None:
    """The lease (1 s) is shorter than a batch (20 sends of 0.1 s) and than one stalled call (1.5 s)."""
    rows = pending_rows(40, "whatsapp")
    enqueue(warehouse, rows)
    with WhatsAppCloudServer("wa-token", "555000") as wa:
        wa.delays.extend([0.1] * 5 + [1.5] + [0.1] * 34)
        env = {**os.environ, **env_for(settings), "REACTIVATION_CHANNEL": "whatsapp", "WHATSAPP_BASE_URL": wa.url,
               "WHATSAPP_TOKEN": "wa-token", "WHATSAPP_PHONE_NUMBER_ID": "555000",
               "REACTIVATION_CLAIM_LEASE_SECONDS": "1", "REACTIVATION_DELIVERY_BATCH": "20",
               **faketime_env(NOW)}  # fmt: skip
        first = subprocess.Popen([sys.executable, "-c", DELIVER_SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the first run is mid-batch; the second starts while claims of the first are older than 1 s
        second = subprocess.Popen([sys.executable, "-c", DELIVER_SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        outputs = [run.communicate(timeout=120)[0] for run in (first, second)]
        assert [run.returncode for run in (first, second)] == [0, 0], outputs
        phones = [d["to"] for d in wa.delivered]
    assert len(phones) == len(set(phones)) == 40  # every client exactly once, nobody twice, none lost
    assert {s for s, _ in statuses(settings).values()} == {"sent"}
