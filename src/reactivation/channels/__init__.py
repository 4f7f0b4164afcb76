"""Delivery channels for reactivation messages, behind one small interface used by the outbox.

`make_channel(name, settings)` builds one: `log` (a local JSON Lines file, the default), `webhook` (signed JSON
POST) or `whatsapp` (Cloud API template message). `send()` never raises for delivery failures: it returns a
`SendResult` saying whether the provider accepted the message and whether a later run may retry it. The built-in
channels also expose `fatal_error` (None, or why no further send can succeed, e.g. a rejected token).
"""

from reactivation.channels.base import Channel, ChannelSettings, OutgoingMessage, SendResult, mask_phone
from reactivation.channels.factory import make_channel
from reactivation.channels.log import LogChannel
from reactivation.channels.webhook import WebhookChannel, verify_signature
from reactivation.channels.whatsapp import WhatsAppChannel

__all__ = [
    "Channel",
    "ChannelSettings",
    "LogChannel",
    "OutgoingMessage",
    "SendResult",
    "WebhookChannel",
    "WhatsAppChannel",
    "make_channel",
    "mask_phone",
    "verify_signature",
]
