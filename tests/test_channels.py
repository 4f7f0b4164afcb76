"""Delivery channels against loopback providers: signatures, in-call retries, idempotency, error mapping."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from reactivation.channels import (
    ChannelSettings,
    LogChannel,
    OutgoingMessage,
    WebhookChannel,
    WhatsAppChannel,
    make_channel,
    mask_phone,
    verify_signature,
)
from reactivation.channels.webhook import sign
from tests.provider_servers import WebhookReceiver, WhatsAppCloudServer

SECRET = "hook-secret-d41d8cd9"
TOKEN = "EAAG-test-token-3f9a1c"
PHONE_NUMBER_ID = "106540352242922"

MESSAGE = OutgoingMessage(
    message_key="c7:client42:2026-11-25",
    company_id=7,
    client_id=42,
    phone="+79161234567",
    text="Анна, давно не виделись! Запишитесь на маникюр: https://book.example/7",
    locale="ru",
    tone="gentle",
    client_first_name="Анна",
    service_title="Маникюр",
    company_name="Салон Лето",
    booking_url="https://book.example/7",
)


class FakeSleep:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as server:
        yield server


@pytest.fixture
def cloud() -> Iterator[WhatsAppCloudServer]:
    with WhatsAppCloudServer(TOKEN, PHONE_NUMBER_ID) as server:
        yield server


def webhook(url: str, sleep: FakeSleep, **overrides: object) -> WebhookChannel:
    settings = ChannelSettings(channel="webhook", webhook_url=url, webhook_secret=SECRET, timeout_seconds=2.0)
    return WebhookChannel(replace(settings, **overrides), sleep=sleep)


def whatsapp(url: str, sleep: FakeSleep, **overrides: object) -> WhatsAppChannel:
    settings = ChannelSettings(
        channel="whatsapp",
        whatsapp_base_url=url,
        whatsapp_phone_number_id=PHONE_NUMBER_ID,
        whatsapp_token=TOKEN,
        timeout_seconds=2.0,
    )
    return WhatsAppChannel(replace(settings, **overrides), sleep=sleep)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------- signatures
def test_signature_verifies_and_rejects_tampering_and_stale_timestamps() -> None:
    body = json.dumps({"message_key": "k1", "text": "Привет"}, ensure_ascii=False).encode()
    ts = 1_760_000_000
    header = sign(SECRET, ts, "k1", body)

    assert header.startswith("sha256=")
    assert verify_signature(SECRET, str(ts), "k1", body, header, now=ts + 10)
    assert not verify_signature(SECRET, ts, "k1", body.replace("Привет".encode(), "Пока".encode()), header, now=ts)
    assert not verify_signature("other-secret", ts, "k1", body, header, now=ts)
    assert not verify_signature(SECRET, ts, "k1", body, header, now=ts + 301)
    assert not verify_signature(SECRET, ts, "k1", body, header, now=ts - 301)
    assert verify_signature(SECRET, ts, "k1", body, header, tolerance_seconds=600, now=ts + 301)
    assert not verify_signature(SECRET, "not-a-number", "k1", body, header, now=ts)
    assert not verify_signature(SECRET, ts, "k1", body, None, now=ts)
    assert not verify_signature(SECRET, ts, "k1", body, header.removeprefix("sha256="), now=ts)


def test_signature_covers_the_idempotency_key() -> None:
    body = b'{"message_key":"c7:client42:2026-11-25"}'
    ts = 1_760_000_000
    header = sign(SECRET, ts, "c7:client42:2026-11-25", body)

    assert verify_signature(SECRET, ts, "c7:client42:2026-11-25", body, header, now=ts)
    assert not verify_signature(SECRET, ts, "c7:client43:2026-11-25", body, header, now=ts)  # key swapped
    assert not verify_signature(SECRET, ts, "", body, header, now=ts)
    assert not verify_signature(SECRET, ts, None, body, header, now=ts)
    # the documented string, so a receiver in any language can check it: timestamp, key and body, line-fed
    signed = b"1760000000\nc7:client42:2026-11-25\n" + body
    assert header == "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    # a key cannot end early and take part of the body: line breaks are refused, not signed
    with pytest.raises(ValueError, match="line break"):
        sign(SECRET, ts, "c7\nx", body)
    assert not verify_signature(SECRET, ts, "c7\nx", body, header, now=ts)


def test_receiver_refuses_a_request_whose_idempotency_key_was_swapped(receiver: WebhookReceiver) -> None:
    body = b'{"message_key":"c7:client42:2026-11-25"}'
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Reactivation-Timestamp": str(ts),
        "X-Reactivation-Signature": sign(SECRET, ts, "c7:client42:2026-11-25", body),
    }
    swapped = httpx.post(receiver.url, content=body, headers={**headers, "Idempotency-Key": "c7:client43:2026-11-25"})
    genuine = httpx.post(receiver.url, content=body, headers={**headers, "Idempotency-Key": "c7:client42:2026-11-25"})

    assert swapped.status_code == 401 and genuine.status_code == 200
    assert receiver.delivered == ["c7:client42:2026-11-25"]


# ---------- webhook
def test_webhook_posts_signed_json_once(receiver: WebhookReceiver, sleep: FakeSleep) -> None:
    channel = webhook(receiver.url, sleep)
    result = channel.send(MESSAGE)
    channel.close()

    assert result.accepted and result.provider_message_id == "hook-1" and result.error is None
    assert receiver.delivered == [MESSAGE.message_key]
    (request,) = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == MESSAGE.message_key
    assert abs(int(request.headers["x-reactivation-timestamp"]) - time.time()) < 60
    assert {k: v for k, v in request.body.items() if k != "sent_at"} == {
        "message_key": MESSAGE.message_key,
        "company_id": 7,
        "client_id": 42,
        "phone": "+79161234567",
        "text": MESSAGE.text,
        "locale": "ru",
        "tone": "gentle",
    }
    assert request.body["sent_at"].endswith("+00:00")
    assert channel.idempotent and not sleep.waits


def test_webhook_retries_5xx_with_same_key_and_body_but_fresh_signatures(
    receiver: WebhookReceiver, sleep: FakeSleep
) -> None:
    receiver.fail_statuses.extend([500, 500])
    ticks = itertools.count(int(time.time()))
    channel = WebhookChannel(
        ChannelSettings(webhook_url=receiver.url, webhook_secret=SECRET), sleep=sleep, clock=lambda: next(ticks)
    )
    result = channel.send(MESSAGE)

    assert result.accepted
    assert len(receiver.requests) == 3
    assert receiver.delivered == [MESSAGE.message_key] and receiver.duplicates == 0
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {MESSAGE.message_key}
    assert all(r.body == receiver.requests[0].body for r in receiver.requests)
    timestamps = [r.headers["x-reactivation-timestamp"] for r in receiver.requests]
    assert len(set(timestamps)) == 3  # every attempt signed anew (the receiver checked each signature)
    assert sleep.waits == [0.5, 1.0]


@pytest.mark.parametrize(("retry_after", "expected_wait"), [(7, 7.0), (3600, 30.0)])
def test_webhook_honours_retry_after_capped(
    receiver: WebhookReceiver, sleep: FakeSleep, retry_after: int, expected_wait: float
) -> None:
    receiver.fail_statuses.append(429)
    receiver.retry_after = retry_after
    result = webhook(receiver.url, sleep).send(MESSAGE)

    assert result.accepted
    assert sleep.waits == [expected_wait]
    assert receiver.delivered == [MESSAGE.message_key]


def test_webhook_exhausted_attempts_are_retryable(receiver: WebhookReceiver, sleep: FakeSleep) -> None:
    receiver.fail_statuses.extend([500, 502, 503, 500, 200])
    result = webhook(receiver.url, sleep, max_attempts=4).send(MESSAGE)

    assert not result.accepted and result.retryable
    assert result.error == "http 500 after 4 attempts"
    assert len(receiver.requests) == 4 and receiver.delivered == []


def test_webhook_client_error_is_not_retried(receiver: WebhookReceiver, sleep: FakeSleep) -> None:
    receiver.fail_statuses.append(400)
    result = webhook(receiver.url, sleep).send(MESSAGE)

    assert not result.accepted and not result.retryable and result.error == "http 400"
    assert len(receiver.requests) == 1 and not sleep.waits


def test_webhook_timeout_is_retried_and_the_receiver_processes_it_once(
    receiver: WebhookReceiver, sleep: FakeSleep
) -> None:
    receiver.delays.append(0.6)  # the first answer is lost to the client's timeout
    result = webhook(receiver.url, sleep, timeout_seconds=0.2).send(MESSAGE)

    assert result.accepted and result.provider_message_id == "hook-1"  # the first processing's answer
    assert [r.headers["idempotency-key"] for r in receiver.requests] == [MESSAGE.message_key] * 2
    assert receiver.delivered == [MESSAGE.message_key] and receiver.duplicates == 1


def test_webhook_connection_refused_is_retryable(sleep: FakeSleep) -> None:
    result = webhook(closed_port_url() + "/hook", sleep, max_attempts=3).send(MESSAGE)

    assert not result.accepted and result.retryable
    assert result.error == "connection error (ConnectError) after 3 attempts"
    assert len(sleep.waits) == 2


def test_webhook_bad_secret_is_fatal_and_not_leaked(
    receiver: WebhookReceiver, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = webhook(receiver.url, sleep, webhook_secret="wrong-secret-77")
    first, second = channel.send(MESSAGE), channel.send(MESSAGE)

    assert not first.accepted and first.retryable
    assert channel.fatal_error == first.error == second.error == "auth failed (check REACTIVATION_WEBHOOK_SECRET)"
    assert len(receiver.requests) == 1  # the second send stops before the network
    assert "wrong-secret-77" not in caplog.text


# ---------- whatsapp
def test_whatsapp_sends_the_template_payload(cloud: WhatsAppCloudServer, sleep: FakeSleep) -> None:
    channel = whatsapp(cloud.url, sleep)
    result = channel.send(MESSAGE)
    channel.close()

    assert result.accepted and result.provider_message_id == cloud.delivered[0]["id"]
    assert result.provider_message_id.startswith("wamid.")
    (request,) = cloud.requests
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "79161234567",
        "type": "template",
        "template": {
            "name": "reactivation_gentle",
            "language": {"code": "ru"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Анна"},
                        {"type": "text", "text": "Маникюр"},
                        {"type": "text", "text": "Салон Лето"},
                        {"type": "text", "text": "https://book.example/7"},
                    ],
                }
            ],
        },
    }
    assert not channel.idempotent


@pytest.mark.parametrize("tone", ["gentle", "offer", "win_back"])
def test_whatsapp_template_per_tone_and_locale(cloud: WhatsAppCloudServer, sleep: FakeSleep, tone: str) -> None:
    message = replace(MESSAGE, tone=tone, locale="en", client_first_name="Anna\nMarie", booking_url=None)
    result = whatsapp(cloud.url, sleep, whatsapp_template_prefix="winback").send(message)

    assert result.accepted
    (delivered,) = cloud.delivered
    assert delivered["template"] == f"winback_{tone}" and delivered["language"] == "en"
    assert delivered["parameters"] == ["Anna Marie", "Маникюр", "Салон Лето", "reply to this message"]


@pytest.mark.parametrize("code", [131049, 130429, 131056, 80007])
def test_whatsapp_per_client_limits_are_not_retried(cloud: WhatsAppCloudServer, sleep: FakeSleep, code: int) -> None:
    cloud.errors_by_to["79160000002"] = code
    channel = whatsapp(cloud.url, sleep)
    capped = channel.send(replace(MESSAGE, phone="+79160000002"))
    other = channel.send(MESSAGE)

    assert not capped.accepted and not capped.retryable and str(code) in capped.error
    assert other.accepted and channel.fatal_error is None
    assert len(cloud.requests) == 2 and not sleep.waits


def test_whatsapp_bad_token_is_fatal_and_never_logged(
    cloud: WhatsAppCloudServer, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_token = "EAAG-bad-token-0e1f"
    channel = whatsapp(cloud.url, sleep, whatsapp_token=bad_token)
    first, second = channel.send(MESSAGE), channel.send(MESSAGE)

    assert not first.accepted and first.retryable
    assert channel.fatal_error == first.error == second.error == "auth failed (check WHATSAPP_TOKEN)"
    assert len(cloud.requests) == 1
    assert bad_token not in caplog.text
    assert "+79161234567" not in caplog.text and "+7916*****67" in caplog.text


def test_whatsapp_read_timeout_is_not_retried(cloud: WhatsAppCloudServer, sleep: FakeSleep) -> None:
    cloud.delays.append(0.6)  # Meta accepted the message, but its answer comes too late
    result = whatsapp(cloud.url, sleep, timeout_seconds=0.2).send(MESSAGE)

    assert not result.accepted and not result.retryable
    assert result.error == "timeout: outcome unknown, not retried to avoid a duplicate"
    assert len(cloud.requests) == 1 and not sleep.waits
    assert len(cloud.delivered) == 1  # a retry would have been a second message to the client


def test_whatsapp_retries_5xx_then_succeeds(cloud: WhatsAppCloudServer, sleep: FakeSleep) -> None:
    cloud.server_errors.extend([500, 503])
    result = whatsapp(cloud.url, sleep).send(MESSAGE)

    assert result.accepted and len(cloud.requests) == 3 and len(cloud.delivered) == 1


def test_whatsapp_exhausted_5xx_is_retryable(cloud: WhatsAppCloudServer, sleep: FakeSleep) -> None:
    cloud.server_errors.extend([500] * 3)
    result = whatsapp(cloud.url, sleep, max_attempts=3).send(MESSAGE)

    assert not result.accepted and result.retryable and result.error == "http 500 after 3 attempts"
    assert cloud.delivered == []


def test_whatsapp_connection_refused_is_retried(sleep: FakeSleep) -> None:
    result = whatsapp(closed_port_url(), sleep, max_attempts=3).send(MESSAGE)

    assert not result.accepted and result.retryable
    assert result.error == "connection error (ConnectError) after 3 attempts"
    assert len(sleep.waits) == 2


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ru", ["клиент", "услуга", "наш салон", "ответьте на это сообщение"]),
        ("en", ["there", "your service", "our salon", "reply to this message"]),
        ("de", ["there", "your service", "our salon", "reply to this message"]),
    ],
)
@pytest.mark.parametrize("blank", ["", " \n\t "])
def test_whatsapp_never_sends_an_empty_template_parameter(
    cloud: WhatsAppCloudServer, sleep: FakeSleep, locale: str, expected: list[str], blank: str
) -> None:
    message = replace(
        MESSAGE, locale=locale, client_first_name=blank, service_title=blank, company_name=blank, booking_url=None
    )
    result = whatsapp(cloud.url, sleep).send(message)

    assert result.accepted, result.error  # the loopback server answers 400 to an empty parameter, as WhatsApp does
    (delivered,) = cloud.delivered
    assert delivered["parameters"] == expected and all(p.strip() for p in delivered["parameters"])


def test_whatsapp_keeps_the_given_values_and_fills_only_the_empty_ones(
    cloud: WhatsAppCloudServer, sleep: FakeSleep
) -> None:
    result = whatsapp(cloud.url, sleep).send(replace(MESSAGE, client_first_name=""))

    assert result.accepted
    assert cloud.delivered[0]["parameters"] == ["клиент", "Маникюр", "Салон Лето", "https://book.example/7"]


def test_whatsapp_rejected_payload_is_not_retried(cloud: WhatsAppCloudServer, sleep: FakeSleep) -> None:
    result = whatsapp(cloud.url, sleep).send(replace(MESSAGE, locale=""))  # no language code: Graph error 100

    assert not result.accepted and not result.retryable
    assert result.error.startswith("http 400 whatsapp error 100:")
    assert len(cloud.requests) == 1


def test_whatsapp_rejects_a_non_e164_phone_without_calling(cloud: WhatsAppCloudServer, sleep: FakeSleep) -> None:
    result = whatsapp(cloud.url, sleep).send(replace(MESSAGE, phone="89161234567"))

    assert not result.accepted and not result.retryable and "E.164" in result.error
    assert cloud.requests == []


# ---------- log
def test_log_channel_writes_each_key_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reactivation.channels")
    path = tmp_path / "out" / "outbox_log.jsonl"
    channel = LogChannel(ChannelSettings(log_path=path))
    first = channel.send(MESSAGE)
    again = channel.send(MESSAGE)
    other = channel.send(replace(MESSAGE, message_key="c7:client43:2026-11-25", client_id=43))

    assert first == again and first.accepted and first.provider_message_id == f"log:{MESSAGE.message_key}"
    assert other.accepted
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["message_key"] for line in lines] == [MESSAGE.message_key, "c7:client43:2026-11-25"]
    assert lines[0]["phone"] == "+7916*****67" and lines[0]["text"] == MESSAGE.text.replace("Анна", "{name}")
    assert set(lines[0]) == {"message_key", "company_id", "client_id", "phone", "text", "sent_at"}
    assert "+79161234567" not in caplog.text and "+7916*****67" in caplog.text

    reopened = LogChannel(ChannelSettings(log_path=path))  # keys survive a restart
    assert reopened.send(MESSAGE) == first
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_log_channel_recovers_from_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "outbox_log.jsonl"
    path.write_text('{"message_key": "done"}\n{"message_key": "tor', encoding="utf-8")
    channel = LogChannel(ChannelSettings(log_path=path))
    channel.send(replace(MESSAGE, message_key="done"))
    channel.send(replace(MESSAGE, message_key="tor"))

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["message_key"] == "tor"


# ---------- helpers and settings
@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+79161234567", "+7916*****67"),
        ("+442071838750", "+4420******50"),
        ("+7 (916) 123-45-67", "+7916*****67"),
        ("89161234567", "8916*****67"),
        ("+1234567", "+*****67"),
        ("1234", "****"),
        ("", "<none>"),
        (None, "<none>"),
        ("n/a", "***"),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


WEBHOOK_ENV = {
    "REACTIVATION_WEBHOOK_URL": "https://crm.example/hook?token=s3cr3t",
    "REACTIVATION_WEBHOOK_SECRET": "env-hook-secret",
}
WHATSAPP_ENV = {"WHATSAPP_PHONE_NUMBER_ID": "1065", "WHATSAPP_TOKEN": "EAAG-env-token"}
ALL_ENV = [
    "REACTIVATION_CHANNEL",
    "REACTIVATION_LOG_CHANNEL_PATH",
    "WHATSAPP_BASE_URL",
    "WHATSAPP_API_VERSION",
    "REACTIVATION_WHATSAPP_TEMPLATE_PREFIX",
    *WEBHOOK_ENV,
    *WHATSAPP_ENV,
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ALL_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("channel", "env", "missing"),
    [("webhook", WEBHOOK_ENV, name) for name in WEBHOOK_ENV]
    + [("whatsapp", WHATSAPP_ENV, name) for name in WHATSAPP_ENV],
)
def test_make_channel_names_the_missing_env_var(
    clean_env: pytest.MonkeyPatch, channel: str, env: dict[str, str], missing: str
) -> None:
    for name, value in env.items():
        if name != missing:
            clean_env.setenv(name, value)
    clean_env.setenv("REACTIVATION_CHANNEL", channel)
    settings = ChannelSettings.from_env()

    with pytest.raises(ValueError, match=missing) as caught:
        make_channel(settings.channel, settings)
    assert not any(value in str(caught.value) for value in env.values())


def test_settings_from_env_and_factory(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert ChannelSettings.from_env() == ChannelSettings()
    for name, value in {**WEBHOOK_ENV, **WHATSAPP_ENV}.items():
        clean_env.setenv(name, value)
    clean_env.setenv("REACTIVATION_CHANNEL", " WhatsApp ")
    clean_env.setenv("REACTIVATION_LOG_CHANNEL_PATH", str(tmp_path / "log.jsonl"))
    clean_env.setenv("REACTIVATION_WHATSAPP_TEMPLATE_PREFIX", "salon")
    settings = ChannelSettings.from_env()

    assert settings.channel == "whatsapp" and settings.whatsapp_template_prefix == "salon"
    assert settings.log_path == tmp_path / "log.jsonl"
    assert "EAAG-env-token" not in repr(settings) and "env-hook-secret" not in repr(settings)
    for name, cls in [("log", LogChannel), ("webhook", WebhookChannel), ("whatsapp", WhatsAppChannel)]:
        channel = make_channel(name, settings)
        assert isinstance(channel, cls) and channel.name == name
        channel.close()
    with pytest.raises(ValueError, match="unknown channel"):
        make_channel("sms", settings)
    clean_env.setenv("REACTIVATION_CHANNEL", "sms")
    with pytest.raises(ValueError, match="REACTIVATION_CHANNEL"):
        ChannelSettings.from_env()


def test_webhook_url_must_be_http_and_is_not_echoed() -> None:
    with pytest.raises(ValueError, match="REACTIVATION_WEBHOOK_URL") as caught:
        WebhookChannel(ChannelSettings(webhook_url="ftp://crm.example/?token=s3cr3t", webhook_secret=SECRET))
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example/hook?token=s3cr3t",
        "http://10.0.0.5/hook?token=s3cr3t",
        "http://[2001:db8::1]/hook?token=s3cr3t",
        "http://127.0.0.1.nip.io/hook?token=s3cr3t",  # a name is not resolved: only literal loopback counts
        "http://localhost.crm.example/hook?token=s3cr3t",
    ],
)
def test_webhook_refuses_plain_http_to_a_host_that_is_not_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="REACTIVATION_WEBHOOK_URL must be https://") as caught:
        WebhookChannel(ChannelSettings(webhook_url=url, webhook_secret=SECRET))
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example/hook",
        "https://10.0.0.5:8443/hook",
        "http://127.0.0.1:8080/hook",
        "http://127.8.9.10/hook",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",
        "http://LocalHost/hook",
    ],
)
def test_webhook_accepts_https_anywhere_and_plain_http_to_loopback(url: str) -> None:
    WebhookChannel(ChannelSettings(webhook_url=url, webhook_secret=SECRET)).close()


def test_webhook_over_plain_http_to_127_0_0_1_delivers(receiver: WebhookReceiver, sleep: FakeSleep) -> None:
    assert receiver.url.startswith("http://127.0.0.1:")
    result = webhook(receiver.url, sleep).send(MESSAGE)

    assert result.accepted and receiver.delivered == [MESSAGE.message_key]
