"""Build the configured channel by name."""

from __future__ import annotations

from reactivation.channels.base import CHANNEL_NAMES, Channel, ChannelSettings
from reactivation.channels.log import LogChannel
from reactivation.channels.webhook import WebhookChannel
from reactivation.channels.whatsapp import WhatsAppChannel


def make_channel(name: str, settings: ChannelSettings) -> Channel:
    """The channel called `name`; a missing required setting raises ValueError naming its env var."""
    if name == "log":
        return LogChannel(settings)
    if name == "webhook":
        return WebhookChannel(settings)
    if name == "whatsapp":
        return WhatsAppChannel(settings)
    if name == "yclients_sms":
        # imported here: the YClients package imports the outbox, which imports this package
        from reactivation.channels.yclients_sms import YClientsSmsChannel

        return YClientsSmsChannel(settings)
    raise ValueError(f"unknown channel {name!r}; expected one of {', '.join(CHANNEL_NAMES)}")
