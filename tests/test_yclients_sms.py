"""The yclients_sms channel against the loopback YClients API: SMS per message, errors, crashes, segment counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reactivation import campaign, demo
from reactivation.channels import ChannelSettings, OutgoingMessage, make_channel
from reactivation.channels.yclients_sms import YClientsSmsChannel
from reactivation.messages import (
    LOCALES,
    TONES,
    VARIANTS,
    ComposeSettings,
    MessageRequest,
    check_guardrails,
    compose_messages,
    render_template,
)
from reactivation.messages.gemini import OPT_OUT
from reactivation.messages.sms import GSM7, UCS2, encoding, segments
from reactivation.outbox import PENDING, deliver, enqueue
from reactivation.warehouse import Warehouse
from reactivation.yclients import RequestBudget, YClientsSettings

from .clock import faketime_env
from .conftest import AS_OF, run_models
from .gemini_server import GeminiServer
from .test_cli import env_for
from .test_delivery_faults import DELIVER_SCRIPT, NOW, faked_clock, pending_rows, statuses
from .test_yclients import COMPANIES, DELIVER_AT, PARTNER, PLANNED_AT, USER, FakeClock, sync_into
from .yclients_server import FakeYClients, error, rate_limited, sms_balance_exhausted, sms_service_disabled

URL = "https://n123456.yclients.com/company/101/menu?o=m-1"


# ---------- segment counting


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("a" * 160, GSM7, 1),
        ("a" * 161, GSM7, 2),
        ("a" * 306, GSM7, 2),
        ("a" * 307, GSM7, 3),
        ("a" * 459, GSM7, 3),
        ("a" * 460, GSM7, 4),
        ("я" * 70, UCS2, 1),
        ("я" * 71, UCS2, 2),
        ("я" * 134, UCS2, 2),
        ("я" * 135, UCS2, 3),
        ("a" * 159 + "é", GSM7, 1),  # é is in the GSM-7 basic table
        ("a" * 69 + "я", UCS2, 1),  # one Cyrillic letter makes the whole text UCS-2
        ("a" * 158 + "€", GSM7, 1),  # an extension character takes two septets: 160
        ("a" * 159 + "€", GSM7, 2),  # 161 septets
        ("{" * 80, GSM7, 1),  # 80 extension characters: 160 septets
        ("{" * 81, GSM7, 2),
        ("a" * 152 + "[" + "a" * 8, GSM7, 2),  # the escape pair never straddles segments: "[" moves to the second
        ("a" * 152 + "[" + "a" * 152, GSM7, 3),  # 152 + (2 + 151) + 1 septets: the pair pushed the split by one
        ("Hi — there", UCS2, 1),  # an em dash is not GSM-7
        ("😀" * 35, UCS2, 1),  # 70 UTF-16 units
        ("😀" * 36, UCS2, 2),
        ("", GSM7, 1),
    ],
)
def test_segments_follow_gsm7_and_ucs2_limits(text: str, kind: str, expected: int) -> None:
    assert encoding(text) == kind
    assert segments(text) == expected


# ---------- SMS forms of the templates


def request(locale: str, tone: str, variant: str, **overrides: Any) -> MessageRequest:
    fields: dict[str, Any] = {
        "message_key": "101:900001:2026-10-01:1", "locale": locale, "tone": tone, "variant": variant,
        "client_name": "Анна Смирнова" if locale == "ru" else "Anna Smith",
        "service_title": "Женская стрижка" if locale == "ru" else "Women's haircut",
        "company_name": "Beauty Lab «Лилия»" if locale == "ru" else "Beauty Lab Lily", "days_since": 75,
        "booking_url": URL,
    }  # fmt: skip
    return MessageRequest(**{**fields, **overrides})


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("full", [True, False])
def test_every_sms_form_fits_three_segments_and_passes_guardrails(locale, tone, variant, full) -> None:
    req = request(locale, tone, variant)
    if not full:
        req = replace(req, client_name=None, service_title=None, booking_url=None)
    text = render_template(req, sms=True)
    assert segments(text) <= 3
    assert check_guardrails(text, req, 480) is None
    assert len(text) < len(render_template(req))  # shorter than the messenger text it stands for


def test_sms_form_leaves_out_the_service_when_long_names_would_exceed_three_segments() -> None:
    long_service = "Комплексный уход за волосами с восстановлением и ламинированием по авторской методике"
    req = request("ru", "win_back", "a", service_title=long_service)
    text = render_template(req, sms=True)
    assert segments(text) <= 3 and long_service not in text
    assert URL in text and OPT_OUT["ru"] in text


# ---------- the channel against the loopback API


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(n_clients=60, years=1.5, seed=11, as_of=AS_OF)


@pytest.fixture
def api(data: demo.DemoData) -> Iterator[FakeYClients]:
    with FakeYClients(data, partner_token=PARTNER, user_token=USER) as server:
        yield server


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def channel_for(api: FakeYClients, sleeps: Sleeps | None = None, **overrides: Any) -> YClientsSmsChannel:
    config = YClientsSettings(**{"base_url": api.base_url, "partner_token": PARTNER, "user_token": USER, **overrides})
    clock = FakeClock()
    sleep = sleeps if sleeps is not None else clock.sleep
    return YClientsSmsChannel(
        ChannelSettings(channel="yclients_sms"),
        yclients=config,
        sleep=sleep,
        budget=RequestBudget(5, 200, clock, sleep),
    )


def message(
    client: dict[str, Any], text: str = "Привет! Чтобы не получать сообщения, ответьте СТОП."
) -> OutgoingMessage:
    return OutgoingMessage(
        message_key=f"{client['company_id']}:{client['id']}:2026-10-01:1", company_id=client["company_id"],
        client_id=client["id"], phone=client["phone"], text=text, locale="ru", tone="gentle",
        client_first_name="Анна", service_title="Маникюр", company_name="Салон", booking_url=None,
    )  # fmt: skip


def clients_of(data: demo.DemoData, company_id: int, n: int) -> list[dict[str, Any]]:
    return [c for c in data.clients if c["company_id"] == company_id][:n]


def test_send_posts_one_sms_to_the_company_endpoint_with_the_yclients_headers(api, data) -> None:
    client = clients_of(data, 101, 1)[0]
    channel = channel_for(api)
    result = channel.send(message(client))
    assert result.accepted and result.provider_message_id == f"yclients-sms:101:{client['id']}"
    assert api.sms == [{"company_id": 101, "client_id": client["id"], "phone": client["phone"],
                        "text": "Привет! Чтобы не получать сообщения, ответьте СТОП."}]  # fmt: skip
    [logged] = api.requests("/sms/")
    assert (logged.method, logged.path, logged.body) == (
        "POST", "/sms/clients/by_id/101", {"client_ids": [client["id"]], "text": message(client).text}
    )  # fmt: skip
    # the loopback server speaks the wire format: no v2 Accept header or no user token, no SMS
    body = {"client_ids": [client["id"]], "text": "x"}
    url = api.base_url + "/sms/clients/by_id/101"
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {PARTNER}, User {USER}"}).status_code == 415
    v2 = {"Accept": "application/vnd.yclients.v2+json"}
    assert httpx.post(url, json=body, headers={**v2, "Authorization": f"Bearer {PARTNER}"}).status_code == 401
    assert len(api.sms) == 1
    assert channel.idempotent is False


def test_factory_builds_the_channel_from_the_sync_settings_and_names_a_missing_token(api, monkeypatch) -> None:
    monkeypatch.delenv("YCLIENTS_PARTNER_TOKEN", raising=False)
    with pytest.raises(ValueError, match="YCLIENTS_PARTNER_TOKEN"):
        make_channel("yclients_sms", ChannelSettings.from_env())
    for name, value in {"REACTIVATION_CHANNEL": "yclients_sms", "YCLIENTS_BASE_URL": api.base_url,
                        "YCLIENTS_PARTNER_TOKEN": PARTNER, "YCLIENTS_USER_TOKEN": USER}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = ChannelSettings.from_env()
    channel = make_channel(settings.channel, settings)
    assert channel.name == "yclients_sms" and channel.idempotent is False
    channel.close()


def test_rate_limited_sms_waits_retry_after_then_sends_once(api, data) -> None:
    client = clients_of(data, 101, 1)[0]
    api.fail("POST", "/sms/clients/by_id/101", [rate_limited(3)])
    sleeps = Sleeps()
    result = channel_for(api, sleeps).send(message(client))
    assert result.accepted and 3.0 in sleeps
    assert len(api.sms) == 1 and len(api.requests("/sms/")) == 2


def test_503_is_retried_but_500_and_504_are_outcome_unknown_and_never_repeated(api, data) -> None:
    first, second, third = clients_of(data, 101, 3)
    channel = channel_for(api)
    api.fail("POST", "/sms/clients/by_id/101", [error(503, "Service unavailable")])
    assert channel.send(message(first)).accepted
    for status, client in ((500, second), (504, third)):
        api.fail("POST", "/sms/clients/by_id/101", [error(status, "Internal error")])
        result = channel.send(message(client))
        assert not result.accepted and not result.retryable and "outcome unknown" in (result.error or "")
    assert len(api.requests("/sms/")) == 4  # 503 + retry, one 500, one 504


def test_client_error_fails_only_that_message_with_the_api_text_and_no_phone(api, data) -> None:
    bad, good = clients_of(data, 101, 2)
    api.sms_client_replies[bad["id"]] = error(422, f"Некорректный номер телефона {bad['phone']} ({PARTNER})")
    channel = channel_for(api)
    result = channel.send(message(bad))
    assert not result.accepted and not result.retryable
    assert "Некорректный номер телефона" in (result.error or "")
    digits = bad["phone"].lstrip("+")
    assert digits not in (result.error or "") and PARTNER not in (result.error or "")
    assert channel.fatal_error is None and not channel.blocked_companies
    assert channel.send(message(good)).accepted and [s["client_id"] for s in api.sms] == [good["id"]]


@pytest.mark.parametrize(
    ("overrides", "named", "variable"),
    [({"user_token": "wrong-user"}, "user token", "YCLIENTS_USER_TOKEN"),
     ({"partner_token": "wrong-partner"}, "partner token", "YCLIENTS_PARTNER_TOKEN")],
)  # fmt: skip
def test_refused_token_stops_the_channel_naming_the_token(api, data, overrides, named, variable) -> None:
    first, second = clients_of(data, 101, 2)
    channel = channel_for(api, **overrides)
    result = channel.send(message(first))
    assert not result.accepted and channel.fatal_error == result.error
    assert named in channel.fatal_error and variable in channel.fatal_error
    assert "wrong-" not in channel.fatal_error
    assert channel.send(message(second)).error == channel.fatal_error
    assert len(api.requests("/sms/")) == 1 and not api.sms  # nothing more was tried


@pytest.mark.parametrize("reply", [sms_balance_exhausted(), sms_service_disabled(),
                                   error(422, "Insufficient balance to send SMS")])  # fmt: skip
def test_balance_or_disabled_service_blocks_the_company_not_the_channel(api, data, reply) -> None:
    [a] = clients_of(data, 101, 1)
    [b] = clients_of(data, 102, 1)
    api.sms_replies[101] = reply
    channel = channel_for(api)
    result = channel.send(message(a))
    assert not result.accepted and result.retryable and channel.fatal_error is None
    assert list(channel.blocked_companies) == [101]
    assert channel.send(message(a)).error == channel.blocked_companies[101]  # not asked again this run
    assert channel.send(message(b)).accepted
    assert len(api.requests("/sms/clients/by_id/101")) == 1


# ---------- through the outbox


def rows_for(data: demo.DemoData, company_id: int, n: int) -> list[Any]:
    """Pending outbox rows for real clients of the demo data (the fake API knows their cards)."""
    rows = pending_rows(n, "yclients_sms")
    return [
        replace(row, company_id=company_id, client_id=c["id"], phone=c["phone"],
                message_key=f"{company_id}:{c['id']}:2026-10-01:1")
        for row, c in zip(rows, clients_of(data, company_id, n), strict=True)
    ]  # fmt: skip


def test_balance_error_holds_only_that_company_whose_rows_stay_pending(warehouse, api, data) -> None:
    # two full batches of the blocked company come first: the other company is still reached in the same run
    enqueue(warehouse, rows_for(data, 101, 7) + rows_for(data, 102, 3))
    api.sms_replies[101] = sms_balance_exhausted()
    channel = channel_for(api)
    report = deliver(warehouse, channel, now=lambda: NOW, limit=3)
    assert report.sent == 3 and sorted(s["company_id"] for s in api.sms) == [102, 102, 102]
    assert list(report.blocked_companies) == [101] and "balance" in report.blocked_companies[101]
    assert len(api.requests("/sms/clients/by_id/101")) == 1  # stopped after the first refusal
    left = warehouse.fetchall(
        "select status, claimed_by, send_started_at from reactivation_messages where company_id = 101"
    )
    assert left == [(PENDING, None, None)] * 7  # all wait for a later run, none held by this one
    api.sms_replies.clear()  # the salon topped up its balance
    later = deliver(warehouse, channel_for(api), now=lambda: NOW + timedelta(minutes=20))
    assert later.sent == 7 and len(api.sms) == 10


class KillingYClients(FakeYClients):
    """Accepts the SMS, then kills the sender before answering, once `kill_after` SMS have arrived."""

    kill_after = 0
    victim: subprocess.Popen | None = None

    def handle(self, method: str, target: str, authorization: str, raw: bytes, accept: str = "") -> Any:
        reply = super().handle(method, target, authorization, raw, accept)
        if self.victim is not None and len(self.sms) == self.kill_after:
            os.kill(self.victim.pid, signal.SIGKILL)
        return reply


def test_rerun_after_a_crash_never_sends_a_second_sms(settings, warehouse, data, monkeypatch) -> None:
    rows = rows_for(data, 101, 8)
    enqueue(warehouse, rows)
    warehouse.close()
    with KillingYClients(data, partner_token=PARTNER, user_token=USER) as api:
        api.kill_after = 3
        channel_env = {"REACTIVATION_CHANNEL": "yclients_sms", "YCLIENTS_BASE_URL": api.base_url,
                       "YCLIENTS_PARTNER_TOKEN": PARTNER, "YCLIENTS_USER_TOKEN": USER}  # fmt: skip
        env = {**os.environ, **env_for(settings), **channel_env, **faketime_env(NOW)}
        api.clock = faked_clock()
        process = subprocess.Popen([sys.executable, "-c", DELIVER_SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        api.victim = process
        process.wait(timeout=120)
        api.victim = None
        assert process.returncode == -signal.SIGKILL  # it died mid-run, after YClients took the third SMS
        for name, value in {**env_for(settings), **channel_env, "REACTIVATION_CLAIM_LEASE_SECONDS": "0"}.items():
            monkeypatch.setenv(name, value)
        with Warehouse.connect(settings) as wh:
            report = campaign.deliver_due(wh, campaign.RunSettings.from_env(), now=NOW + timedelta(minutes=1))
        assert report.unknown_outcome == 1 and report.sent == 5
        clients = [s["client_id"] for s in api.sms]
    assert len(clients) == len(set(clients)) == 8  # every client exactly once, nobody twice
    final = statuses(settings)
    unknown = [k for k, (s, e) in final.items() if s == "failed"]
    assert len(unknown) == 1 and "outcome unknown" in final[unknown[0]][1]


def test_wrong_token_stops_delivery_naming_the_token_and_keeps_rows_pending(warehouse, api, data) -> None:
    enqueue(warehouse, rows_for(data, 101, 3))
    report = deliver(warehouse, channel_for(api, user_token="stale-user-token"), now=lambda: NOW)
    assert report.sent == 0 and any("user token" in e and "YCLIENTS_USER_TOKEN" in e for e in report.errors)
    assert {s for (s,) in warehouse.fetchall("select status from reactivation_messages")} == {PENDING}
    assert len(api.requests("/sms/")) == 1


def test_daily_run_on_yclients_sms_sends_one_short_sms_per_treated_message(settings, api, data, tmp_path: Path) -> None:
    clock = FakeClock()
    sync_into(settings, api, clock, data)
    run_models(settings)
    run = campaign.RunSettings(channels=ChannelSettings(channel="yclients_sms"))
    with Warehouse.connect(settings) as wh:
        planned = campaign.plan(wh, COMPANIES, run, PLANNED_AT)
        assert campaign.queue(wh, planned) > 0
        treated = [r for r in planned.rows if not r.is_holdout]
        holdout = [r for r in planned.rows if r.is_holdout]
        assert treated and holdout
        assert all(r.sms_segments == segments(r.message_text) <= 3 for r in treated)
        stored = dict(wh.fetchall("select message_key, sms_segments from reactivation_messages where not is_holdout"))
        assert stored == {r.message_key: r.sms_segments for r in treated}
        report = deliver(wh, channel_for(api), now=lambda: DELIVER_AT, limit=50)
        sent = dict(wh.fetchall("select client_id, message_text from reactivation_messages where status = 'sent'"))
    assert report.sent == len(sent) > 0 and len(api.sms) == report.sent  # one SMS per message sent
    assert {(s["company_id"], s["client_id"]) for s in api.sms}.isdisjoint(
        {(r.company_id, r.client_id) for r in holdout}
    )
    for sms in api.sms:
        assert sms["text"] == sent[sms["client_id"]]
        assert OPT_OUT["ru"] in sms["text"] or OPT_OUT["en"] in sms["text"]
        assert segments(sms["text"]) <= 3


def test_ai_text_over_three_segments_falls_back_to_the_sms_form_only_on_an_sms_channel() -> None:
    business = "Салон красоты и SPA «Лилия» на Патриарших прудах, студия ухода"
    requests = [request("ru", "gentle", "a", company_name=business)]
    with GeminiServer() as gemini:
        ai = ComposeSettings(gemini_api_key="AIzaTEST-key", gemini_base_url=gemini.base_url, request_timeout_seconds=5)
        [as_sms], _ = compose_messages(requests, ai, channel="yclients_sms")
        [as_text], _ = compose_messages(requests, ai, channel="log")
        ai_text = gemini.replies[requests[0].message_key]
    assert segments(ai_text) > 3 and as_text.composer == "ai" and as_text.text == ai_text
    assert (as_sms.composer, as_sms.fallback_reason) == ("template", "sms_too_long")
    assert as_sms.text == render_template(requests[0], sms=True) and segments(as_sms.text) <= 3
