"""Compose one message per due client: Gemini when configured, the template otherwise or whenever AI falls short."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence

from reactivation.messages.gemini import AIError, GeminiComposer, build_prompt
from reactivation.messages.guardrails import check_guardrails
from reactivation.messages.model import ComposedMessage, ComposeSettings, ComposeStats, MessageRequest
from reactivation.messages.render import render_template
from reactivation.messages.sms import MAX_SEGMENTS, SMS_PROMPT_MAX_CHARS, fits, is_sms_channel

log = logging.getLogger("reactivation.messages")


def compose_messages(
    requests: list[MessageRequest],
    settings: ComposeSettings,
    *,
    channel: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[ComposedMessage], ComposeStats]:
    """One ComposedMessage per request, in order, and the run's counters.

    Without a Gemini key every text is a template (fallback_reason None). With one, clients go to Gemini in batches;
    any client the model does not serve well (error, malformed reply, guardrail, time budget) gets its template and
    the reason. `channel`: an SMS channel (`yclients_sms`) gets the templates' SMS forms, and an AI text longer
    than MAX_SEGMENTS segments falls back to one (reason `sms_too_long`).
    """
    stats = ComposeStats()
    sms = is_sms_channel(channel)
    if settings.ai_enabled and requests:
        with GeminiComposer(settings, clock=clock, sleep=sleep) as gemini:
            messages = _compose_with_ai(requests, settings, gemini, clock, sms)
        stats.requests = gemini.requests
    else:
        messages = [_template(r, None, None, sms) for r in requests]
    for message in messages:
        stats.count(message)
    log.info(
        "Composed %d messages: %d by AI, %d from templates, fallbacks %s, %d AI requests",
        len(messages), stats.ai, stats.template, stats.fallbacks or "none", stats.requests,
    )  # fmt: skip
    return messages, stats


def _compose_with_ai(
    requests: Sequence[MessageRequest],
    settings: ComposeSettings,
    gemini: GeminiComposer,
    clock: Callable[[], float],
    sms: bool = False,
) -> list[ComposedMessage]:
    """Batch by batch until the time budget is spent or the key proves unusable; templates for the rest."""
    deadline = clock() + settings.time_budget_seconds
    messages: list[ComposedMessage] = []
    stopped: str | None = None  # the reason every remaining client gets once AI is off for this run
    for batch in _batches(requests, settings.clients_per_request):
        if stopped is None and gemini.next_start() > deadline:
            stopped = "time_budget"
        if stopped is not None:
            messages.extend(_template(r, stopped, None, sms) for r in batch)
            continue
        # an SMS must fit MAX_SEGMENTS even in Cyrillic (UCS-2): the model is asked for that many characters at most
        prompt = build_prompt(batch, min(settings.max_chars, SMS_PROMPT_MAX_CHARS) if sms else settings.max_chars)
        try:
            texts = gemini.generate(prompt, deadline)
        except AIError as exc:
            messages.extend(_template(r, exc.reason, prompt, sms) for r in batch)
            stopped = exc.reason if exc.fatal else None
            continue
        messages.extend(_checked(r, texts.get(r.message_key), prompt, settings.max_chars, sms) for r in batch)
    return messages


def _batches(requests: Sequence[MessageRequest], size: int) -> Iterator[Sequence[MessageRequest]]:
    for start in range(0, len(requests), size):
        yield requests[start : start + size]


def _checked(request: MessageRequest, text: str | None, prompt: str, max_chars: int, sms: bool) -> ComposedMessage:
    """The model's text if it is there and passes the guardrails (an SMS: and fits MAX_SEGMENTS), else the
    template with the reason."""
    reason = "malformed_response" if text is None else check_guardrails(text, request, max_chars)
    if reason is None and sms and not fits(text or "", MAX_SEGMENTS):
        reason = "sms_too_long"
    if reason is not None:
        return _template(request, reason, prompt, sms)
    return ComposedMessage(request.message_key, text, composer="ai", fallback_reason=None, prompt=prompt)


def _template(request: MessageRequest, reason: str | None, prompt: str | None, sms: bool = False) -> ComposedMessage:
    return ComposedMessage(
        request.message_key, render_template(request, sms), composer="template", fallback_reason=reason, prompt=prompt
    )
