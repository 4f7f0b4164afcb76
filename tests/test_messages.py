"""Message composition: templates, guardrails, and the Gemini path against a real loopback server.

The Gemini tests drive the real google-genai SDK over HTTP to `tests/gemini_server.py`; time is a fake clock whose
`sleep` advances it, so backoff and rate limiting cost no wall time.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import asdict, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactivation.messages import (
    LOCALES,
    TONES,
    VARIANTS,
    ComposedMessage,
    ComposeSettings,
    ComposeStats,
    MessageRequest,
    check_guardrails,
    compose_messages,
    first_name,
    render_template,
)
from reactivation.messages.gemini import OPT_OUT as gemini_opt_out
from reactivation.messages.gemini import AIError, GeminiComposer, build_prompt, parse_reply
from reactivation.messages.model import REBOOK_TONE
from reactivation.messages.render import TEMPLATES_DIR, lower_first, ru_plural

from .gemini_server import GeminiServer

KEY = "AIzaTEST-secret-key-0123456789abcdef"
URL = "https://n123456.yclients.com/company/101/menu?o=m-1"
OPT_OUT = {"ru": "Чтобы не получать сообщения, ответьте СТОП.", "en": "Reply STOP to opt out."}
NAMES = {"ru": "Анна Смирнова", "en": "Anna Smith"}
SERVICES = {"ru": "Женская стрижка", "en": "Women's haircut"}
BUSINESS = "Beauty Lab «Лилия»"


class FakeTime:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def gemini(fake_time: FakeTime) -> Iterator[GeminiServer]:
    with GeminiServer(clock=fake_time.clock) as server:
        yield server


def request(
    key: str = "101:900001:2026-10-01:1",
    locale: str = "ru",
    tone: str = "gentle",
    variant: str = "a",
    client_name: str | None = "Анна Смирнова",
    service_title: str | None = "Женская стрижка",
    company_name: str = BUSINESS,
    days_since: int = 75,
    booking_url: str | None = URL,
) -> MessageRequest:
    return MessageRequest(
        key, locale, tone, variant, client_name, service_title, company_name, days_since, booking_url
    )  # fmt: skip


def clients(n: int) -> list[MessageRequest]:
    """n varied requests: both locales, every tone and variant, with and without name, service and link."""
    combos = itertools.cycle(itertools.product(LOCALES, TONES, VARIANTS))
    out = []
    for i, (locale, tone, variant) in zip(range(n), combos):
        out.append(
            request(
                key=f"101:{900000 + i}:2026-10-01:1",
                locale=locale,
                tone=tone,
                variant=variant,
                client_name=NAMES[locale] if i % 3 else None,
                service_title=SERVICES[locale] if i % 4 else None,
                booking_url=URL if i % 2 else None,
                days_since=60 + i,
            )
        )
    return out


def ai_settings(server: GeminiServer, **overrides: object) -> ComposeSettings:
    base = ComposeSettings(gemini_api_key=KEY, gemini_base_url=server.base_url, request_timeout_seconds=5.0)
    return replace(base, **overrides)


def run(
    reqs: list[MessageRequest], settings_: ComposeSettings, fake_time: FakeTime
) -> tuple[list[ComposedMessage], ComposeStats]:
    return compose_messages(reqs, settings_, clock=fake_time.clock, sleep=fake_time.sleep)


# --- templates ---------------------------------------------------------------------------------------------------

TEMPLATE_TONES = (*TONES, REBOOK_TONE)  # the win-back's tones and the rebook campaign's one


def test_there_is_one_template_per_locale_tone_variant() -> None:
    files = sorted(p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.txt.j2"))
    expected = sorted(f"{loc}/{tone}_{var}.txt.j2" for loc in LOCALES for tone in TEMPLATE_TONES for var in VARIANTS)
    assert files == expected


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TEMPLATE_TONES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("booking_url", [URL, None])
@pytest.mark.parametrize("named", [True, False])
@pytest.mark.parametrize("with_service", [True, False])
def test_every_template_is_complete_and_passes_guardrails(
    locale: str, tone: str, variant: str, booking_url: str | None, named: bool, with_service: bool
) -> None:
    req = request(
        locale=locale,
        tone=tone,
        variant=variant,
        client_name=NAMES[locale] if named else None,
        service_title=SERVICES[locale] if with_service else None,
        booking_url=booking_url,
    )
    text = render_template(req)
    folded = text.casefold()

    assert BUSINESS.casefold() in folded
    if with_service:
        assert SERVICES[locale].casefold() in folded
    assert ("анна" if locale == "ru" else "anna") in folded if named else "анна" not in folded and "anna" not in folded
    if booking_url:
        assert booking_url in text
    else:
        assert ("ответьте на это сообщение" if locale == "ru" else "reply to this message") in folded
    assert text.endswith("\n" + OPT_OUT[locale])
    assert "{{" not in text and "}}" not in text and "None" not in text and "«»" not in text
    assert all(line == line.strip() and line for line in text.splitlines())
    assert len(text) <= 300
    assert check_guardrails(text, req, max_chars=480) is None


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TEMPLATE_TONES)
def test_variants_differ_in_wording(locale: str, tone: str) -> None:
    a, b = (render_template(request(locale=locale, tone=tone, variant=v)) for v in VARIANTS)
    assert a.splitlines()[:-1] != b.splitlines()[:-1]


def test_unknown_locale_falls_back_to_russian() -> None:
    assert render_template(request(locale="de")) == render_template(request(locale="ru"))
    assert request(locale=" EN ").language == "en"


def test_unknown_tone_or_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="tone"):
        request(tone="pushy")
    with pytest.raises(ValueError, match="variant"):
        request(variant="c")


def test_win_back_counts_days_in_russian_grammar() -> None:
    assert [ru_plural(n, "день", "дня", "дней") for n in (1, 2, 5, 11, 12, 21, 22, 25, 111, 104)] == [
        "день", "дня", "дней", "дней", "дней", "день", "дня", "дней", "дней", "дня",
    ]  # fmt: skip
    assert "прошло уже 121 день" in render_template(request(tone="win_back", variant="a", days_since=121))
    assert "It's been 1 day since" in render_template(request(locale="en", tone="win_back", days_since=1))


@pytest.mark.parametrize(
    ("name", "locale", "expected"),
    [
        ("Анна Смирнова", "ru", "Анна"),
        ("  Анна  ", "ru", "Анна"),
        ("анна-мария петрова", "ru", "Анна-Мария"),
        ("г-жа Анна", "ru", "Анна"),
        ("Mrs. Anna Smith", "en", "Anna"),
        ("ANNA", "en", "Anna"),
        ("McKenzie", "en", "McKenzie"),
        ("Анна,", "ru", "Анна"),
        ("+7 999 123-45-67", "ru", ""),
        ("", "ru", ""),
        (None, "en", ""),
    ],
)
def test_first_name(name: str | None, locale: str, expected: str) -> None:
    assert first_name(name, locale) == expected


def test_lower_first_keeps_acronyms() -> None:
    assert lower_first("Women's haircut") == "women's haircut"
    assert lower_first("SPA ritual") == "SPA ritual"
    assert lower_first("") == ""


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(alphabet="абвгдеёжзиклмнопрстуфхцчшщэюяАБВГДЕЖЗabcdefgXYZ -", max_size=30),
    business=st.text(alphabet="абвгдеёжзиклмнопрстуфхABCDEFxyz «»&.-", min_size=1, max_size=40).filter(str.strip),
    tone=st.sampled_from(TONES),
    variant=st.sampled_from(VARIANTS),
    days=st.integers(min_value=1, max_value=2000),
)
def test_ru_templates_pass_guardrails_for_any_names(name: str, business: str, tone: str, variant: str, days: int):
    req = request(tone=tone, variant=variant, client_name=name, company_name=business, days_since=days)
    assert check_guardrails(render_template(req), req, max_chars=480) is None


def test_no_key_means_templates_only() -> None:
    reqs = clients(7)
    messages, stats = compose_messages(reqs, ComposeSettings(), sleep=pytest.fail)
    assert [m.message_key for m in messages] == [r.message_key for r in reqs]
    assert [m.text for m in messages] == [render_template(r) for r in reqs]
    assert {(m.composer, m.fallback_reason, m.prompt) for m in messages} == {("template", None, None)}
    assert stats == ComposeStats(ai=0, template=7, fallbacks={}, requests=0)


# --- guardrails --------------------------------------------------------------------------------------------------

GOOD_RU = f"Анна, {BUSINESS} ждёт вас на «Женская стрижка». Запись: {URL}\n{OPT_OUT['ru']}"
GOOD_EN = f"Anna, {BUSINESS} would love to see you for your women's haircut. Book: {URL}\n{OPT_OUT['en']}"


@pytest.mark.parametrize(
    ("text", "locale", "max_chars", "reason"),
    [
        (GOOD_RU, "ru", 480, None),
        (GOOD_EN, "en", 480, None),
        ("   \n", "ru", 480, "empty"),
        (GOOD_RU, "ru", 50, "too_long"),
        (GOOD_RU.replace("Анна", "{{ first_name }}"), "ru", 480, "placeholder"),
        (GOOD_RU.replace("Анна", "{first_name}"), "ru", 480, "placeholder"),
        (GOOD_RU.replace("Анна", "{name}"), "ru", 480, "placeholder"),
        (GOOD_EN.replace("Anna", "[Client name]"), "en", 480, "placeholder"),
        (GOOD_EN.replace("Anna", "<name>"), "en", 480, "placeholder"),
        (GOOD_EN.replace("Anna", "%s"), "en", 480, "placeholder"),
        (GOOD_RU.replace(OPT_OUT["ru"], ""), "ru", 480, "no_opt_out"),
        (GOOD_EN.replace(OPT_OUT["en"], "Reply NO to unsubscribe."), "en", 480, "no_opt_out"),
        (GOOD_RU.replace("СТОП", "STOP"), "ru", 480, "no_opt_out"),  # only the exact sentence of the language
        (GOOD_RU.replace("СТОП", "стоп"), "ru", 480, "no_opt_out"),
        (GOOD_RU.replace(OPT_OUT["ru"], "Ответьте СТОП."), "ru", 480, "no_opt_out"),
        (GOOD_RU.replace(OPT_OUT["ru"], OPT_OUT["en"]), "ru", 480, "no_opt_out"),
        (GOOD_EN.replace(OPT_OUT["en"], OPT_OUT["ru"]), "en", 480, "no_opt_out"),
        (GOOD_EN.replace(OPT_OUT["en"], "Reply stop to opt out."), "en", 480, "no_opt_out"),
        (GOOD_RU.replace(OPT_OUT["ru"], "Чтобы не получать\n  сообщения, ответьте СТОП."), "ru", 480, None),
        (GOOD_EN.replace("would love", "очень ждёт"), "en", 480, "wrong_language"),
        (f"Anna, {BUSINESS} misses you, book again soon please, we would love that. {OPT_OUT['ru']}", "ru", 480,
         "wrong_language"),
        (GOOD_RU.replace(BUSINESS, "наш салон"), "ru", 480, "no_business_name"),
        (GOOD_EN.replace(BUSINESS, BUSINESS.upper()), "en", 480, None),  # case-insensitive
    ],
)  # fmt: skip
def test_guardrails(text: str, locale: str, max_chars: int, reason: str | None) -> None:
    req = request(locale=locale, client_name=NAMES[locale], service_title=SERVICES[locale])
    assert check_guardrails(text, req, max_chars) == reason


@pytest.mark.parametrize(
    ("locale", "service", "text"),
    [
        pytest.param(
            "ru",
            "Стоп-целлюлит массаж",
            f"Анна, {BUSINESS} ждёт вас на «Стоп-целлюлит массаж». Запись: {URL}",
            id="ru-стоп",
        ),
        pytest.param(
            "ru",
            "Массаж STOP-стресс",
            f"Анна, {BUSINESS} ждёт вас на «Массаж STOP-стресс». Запись: {URL}",
            id="ru-STOP",
        ),
        pytest.param(
            "en",
            "Stop-smoking session",
            f"Anna, {BUSINESS} would love to see you for a stop-smoking session. {URL}",
            id="en-stop",
        ),
    ],
)
def test_stop_in_the_service_title_does_not_stand_in_for_the_opt_out_sentence(
    locale: str, service: str, text: str
) -> None:
    req = request(locale=locale, client_name=NAMES[locale], service_title=service)
    assert check_guardrails(text, req, 480) == "no_opt_out"
    assert check_guardrails(f"{text}\n{OPT_OUT[locale]}", req, 480) is None


def test_guardrail_requires_the_sentence_the_templates_end_with() -> None:
    for locale in LOCALES:
        req = request(locale=locale, client_name=NAMES[locale], service_title=SERVICES[locale])
        sentence = render_template(req).splitlines()[-1]
        assert sentence == gemini_opt_out[locale]
        assert check_guardrails(render_template(req).replace(sentence, ""), req, 480) == "no_opt_out"


def test_english_text_may_keep_cyrillic_names() -> None:
    req = request(locale="en", client_name="Мария Иванова", service_title="Маникюр", company_name="Салон Лилия")
    text = f"Hi Мария, Салон Лилия misses you and your маникюр.\n{OPT_OUT['en']}"
    assert check_guardrails(text, req, 480) is None


# --- prompt and reply parsing ------------------------------------------------------------------------------------


def test_prompt_carries_every_instruction_and_client() -> None:
    reqs = clients(4)
    prompt = build_prompt(reqs, max_chars=400)
    for phrase in ("no invented discounts or prices", "400", "JSON", "opt_out_sentence", "Russian", "English"):
        assert phrase.casefold() in prompt.casefold()
    block = json.loads(re.search(r"```json\n(.*?)\n```", prompt, re.DOTALL).group(1))
    assert [c["message_key"] for c in block] == [r.message_key for r in reqs]
    first = block[1]
    assert first["first_name"] == "Анна" and first["business"] == BUSINESS and first["locale"] == "ru"
    assert first["opt_out_sentence"] == OPT_OUT["ru"] and first["max_chars"] == 400
    assert first["tone"] == reqs[1].tone and first["tone_meaning"] and first["days_since_last_visit"] == 61
    assert "Смирнова" not in prompt and "Smith" not in prompt  # first names only


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('[{"message_key": "k1", "text": " hi "}]', {"k1": "hi"}),
        ('{"messages": [{"message_key": "k1", "text": "hi"}]}', {"k1": "hi"}),
        ('[{"message_key": "k1"}, {"text": "x"}, 5, {"message_key": "k2", "text": "ok"}]', {"k2": "ok"}),
        ("not json", {}),
        ('{"other": 1}', {}),
        (None, {}),
    ],
)
def test_parse_reply(reply: str | None, expected: dict[str, str]) -> None:
    assert parse_reply(reply) == expected


# --- Gemini over HTTP --------------------------------------------------------------------------------------------


def test_success_in_batches(gemini: GeminiServer, fake_time: FakeTime) -> None:
    reqs = clients(25)
    messages, stats = run(reqs, ai_settings(gemini, clients_per_request=10), fake_time)

    assert len(gemini.requests) == 3 and stats.requests == 3
    assert [len(r.clients) for r in gemini.requests] == [10, 10, 5]
    assert [m.message_key for m in messages] == [r.message_key for r in reqs]
    assert all(m.composer == "ai" and m.fallback_reason is None for m in messages)
    assert [m.text for m in messages] == [gemini.replies[r.message_key] for r in reqs]
    for i, m in enumerate(messages):
        assert m.prompt == gemini.requests[i // 10].prompt
    assert stats == ComposeStats(ai=25, template=0, fallbacks={}, requests=3)
    assert fake_time.sleeps == []

    sent = gemini.requests[0]
    assert re.fullmatch(r"/v1(beta)?/models/gemini-2\.5-flash:generateContent", sent.path)
    config = sent.body["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["temperature"] == 0.7
    assert config["responseSchema"]["type"] == "ARRAY"


def test_wrapped_reply_is_accepted(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("wrapped")
    messages, _ = run(clients(3), ai_settings(gemini), fake_time)
    assert {m.composer for m in messages} == {"ai"}


def test_429_is_retried_after_backoff(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("status:429")
    messages, stats = run(clients(5), ai_settings(gemini), fake_time)
    assert {m.composer for m in messages} == {"ai"}
    assert stats.requests == 2 and len(gemini.requests) == 2
    assert fake_time.sleeps == [1.0]


@pytest.mark.parametrize("behaviour", ["retry_after:7", "retry_info:7"])
def test_server_retry_hint_is_honoured(behaviour: str, gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script(behaviour)
    messages, stats = run(clients(2), ai_settings(gemini), fake_time)
    assert {m.composer for m in messages} == {"ai"} and stats.requests == 2
    assert fake_time.sleeps == [7.0]


def test_server_errors_until_retries_run_out(gemini: GeminiServer, fake_time: FakeTime) -> None:
    reqs = clients(4)
    gemini.script(*["status:500"] * 3)
    messages, stats = run(reqs, ai_settings(gemini, max_retries=2), fake_time)

    assert stats.requests == 3 == len(gemini.requests)
    assert fake_time.sleeps == [1.0, 2.0]
    assert [m.text for m in messages] == [render_template(r) for r in reqs]
    assert {(m.composer, m.fallback_reason) for m in messages} == {("template", "ai_error:500")}
    assert all(m.prompt == gemini.requests[0].prompt for m in messages)
    assert stats.fallbacks == {"ai_error:500": 4} and stats.template == 4


def test_no_retry_is_started_past_the_time_budget(gemini: GeminiServer, fake_time: FakeTime) -> None:
    # Attempts at 0, 1 and 3 s; the next would start at 7 s, after the 5 s budget, so it is not waited for.
    gemini.script(*["status:503"] * 5)
    messages, stats = run(clients(2), ai_settings(gemini, max_retries=4, time_budget_seconds=5), fake_time)
    assert {m.fallback_reason for m in messages} == {"ai_error:503"}
    assert stats.requests == 3 and fake_time.sleeps == [1.0, 2.0]


def test_malformed_reply_falls_back(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("malformed")
    messages, stats = run(clients(3), ai_settings(gemini), fake_time)
    assert {(m.composer, m.fallback_reason) for m in messages} == {("template", "malformed_response")}
    assert all(m.prompt for m in messages)
    assert stats.fallbacks == {"malformed_response": 3} and stats.requests == 1


def test_client_missing_from_reply_falls_back_alone(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("partial")
    messages, stats = run(clients(3), ai_settings(gemini), fake_time)
    assert [(m.composer, m.fallback_reason) for m in messages] == [
        ("template", "malformed_response"), ("ai", None), ("ai", None),
    ]  # fmt: skip
    assert stats == ComposeStats(ai=2, template=1, fallbacks={"malformed_response": 1}, requests=1)


def test_text_without_opt_out_falls_back(gemini: GeminiServer, fake_time: FakeTime) -> None:
    reqs = clients(4)
    gemini.script("missing_opt_out")
    messages, stats = run(reqs, ai_settings(gemini), fake_time)
    assert {(m.composer, m.fallback_reason) for m in messages} == {("template", "no_opt_out")}
    assert [m.text for m in messages] == [render_template(r) for r in reqs]
    assert stats.fallbacks == {"no_opt_out": 4}


def test_rate_limit_holds_in_every_rolling_minute(gemini: GeminiServer, fake_time: FakeTime) -> None:
    start = fake_time.now
    settings_ = ai_settings(gemini, requests_per_minute=15, clients_per_request=1, time_budget_seconds=1_000)
    messages, stats = run(clients(40), settings_, fake_time)

    assert stats.requests == 40 and stats.ai == 40
    times = [r.at for r in gemini.requests]
    assert times[:15] == [start] * 15  # the first ones go immediately
    assert all(later - earlier >= 60 for earlier, later in zip(times, times[15:]))
    assert fake_time.now - start >= 120


def test_time_budget_sends_the_rest_to_templates(gemini: GeminiServer, fake_time: FakeTime) -> None:
    # 2 requests a minute: batches start at 0, 0, 60, 60; the fifth could start only at 120 > 90.
    settings_ = ai_settings(gemini, requests_per_minute=2, clients_per_request=1, time_budget_seconds=90)
    messages, stats = run(clients(10), settings_, fake_time)

    assert [m.composer for m in messages] == ["ai"] * 4 + ["template"] * 6
    assert all(m.fallback_reason == "time_budget" and m.prompt is None for m in messages[4:])
    assert stats.fallbacks == {"time_budget": 6} and stats.requests == 4
    assert fake_time.now - 1_000 == 60


def test_bad_key_stops_ai_for_the_run(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("status:401")
    messages, stats = run(clients(5), ai_settings(gemini, clients_per_request=2), fake_time)
    assert stats.requests == 1 and fake_time.sleeps == []
    assert {m.fallback_reason for m in messages} == {"ai_error:401"}
    assert [m.prompt is not None for m in messages] == [True, True, False, False, False]


def test_bad_request_fails_only_its_batch(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("status:400")
    messages, stats = run(clients(4), ai_settings(gemini, clients_per_request=2), fake_time)
    assert [m.fallback_reason for m in messages] == ["ai_error:400", "ai_error:400", None, None]
    assert stats.requests == 2 and fake_time.sleeps == []


def test_timeout_is_retried_then_falls_back(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("slow", "slow")
    settings_ = ai_settings(gemini, request_timeout_seconds=0.3, max_retries=1)
    messages, stats = run(clients(2), settings_, fake_time)
    assert {m.fallback_reason for m in messages} == {"ai_error:timeout"}
    assert stats.requests == 2 and fake_time.sleeps == [1.0]


def test_unreachable_server_is_a_connection_error(fake_time: FakeTime) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings_ = ComposeSettings(gemini_api_key=KEY, gemini_base_url=f"http://127.0.0.1:{port}", max_retries=1)
    messages, stats = run(clients(2), settings_, fake_time)
    assert {m.fallback_reason for m in messages} == {"ai_error:connection"}
    assert stats.requests == 2


@pytest.mark.parametrize("behaviour", ["ok", "status:500", "status:401", "status:403", "malformed", "slow"])
def test_api_key_never_leaks(
    behaviour: str, gemini: GeminiServer, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gemini.script(*[behaviour] * 2)
    settings_ = ai_settings(gemini, max_retries=1, request_timeout_seconds=0.3)
    messages, stats = run(clients(3), settings_, fake_time)

    assert gemini.requests and all(r.headers.get("x-goog-api-key") == KEY for r in gemini.requests)
    assert all(KEY not in r.path for r in gemini.requests)
    assert KEY not in repr(messages) + repr([asdict(m) for m in messages]) + repr(stats) + repr(settings_)
    for record in caplog.records:
        assert KEY not in record.getMessage() and KEY not in (record.exc_text or "")
    assert KEY not in caplog.text


def test_errors_raised_by_the_adapter_do_not_carry_the_key(gemini: GeminiServer, fake_time: FakeTime) -> None:
    gemini.script("status:403")
    composer = GeminiComposer(ai_settings(gemini), clock=fake_time.clock, sleep=fake_time.sleep)
    with composer, pytest.raises(AIError) as caught:
        composer.generate(build_prompt(clients(1), 480), deadline=fake_time.now + 60)
    assert caught.value.reason == "ai_error:403" and caught.value.fatal
    assert KEY not in str(caught.value) and caught.value.__cause__ is None
    assert KEY not in repr(caught.value.__context__)


# --- settings ----------------------------------------------------------------------------------------------------


ENV_NAMES = (
    "GEMINI_API_KEY",
    "REACTIVATION_GEMINI_MODEL",
    "REACTIVATION_GEMINI_BASE_URL",
    "REACTIVATION_AI_REQUESTS_PER_MINUTE",
    "REACTIVATION_AI_CLIENTS_PER_REQUEST",
    "REACTIVATION_AI_TIME_BUDGET_SECONDS",
    "REACTIVATION_MESSAGE_MAX_CHARS",
)


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("REACTIVATION_GEMINI_MODEL", "gemini-2.5-flash-lite")
    monkeypatch.setenv("REACTIVATION_GEMINI_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("REACTIVATION_AI_REQUESTS_PER_MINUTE", "30")
    monkeypatch.setenv("REACTIVATION_AI_CLIENTS_PER_REQUEST", "5")
    monkeypatch.setenv("REACTIVATION_AI_TIME_BUDGET_SECONDS", "45.5")
    monkeypatch.setenv("REACTIVATION_MESSAGE_MAX_CHARS", "300")
    s = ComposeSettings.from_env()
    assert (s.gemini_api_key, s.gemini_model, s.gemini_base_url) == (KEY, "gemini-2.5-flash-lite", "http://127.0.0.1:1")
    assert (s.requests_per_minute, s.clients_per_request, s.time_budget_seconds, s.max_chars) == (30, 5, 45.5, 300)
    assert KEY not in repr(s)


def test_settings_from_empty_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", " ")
    monkeypatch.setenv("REACTIVATION_AI_REQUESTS_PER_MINUTE", "")
    assert ComposeSettings.from_env() == ComposeSettings()
    monkeypatch.setenv("REACTIVATION_AI_REQUESTS_PER_MINUTE", "lots")
    with pytest.raises(ValueError, match="REACTIVATION_AI_REQUESTS_PER_MINUTE"):
        ComposeSettings.from_env()
