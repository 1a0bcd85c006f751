"""Channels: one :class:`Channel` interface, adapters for e-mail (SMTP), HTTP gateways (SMS,
push, WeCom, voice robot), the in-app inbox, and a shipped :class:`FakeChannel` for tests.

Adapters are imported from their modules (``lodestar.channels.smtp_email`` ...); this package
only re-exports the light interface types.
"""

from __future__ import annotations

from lodestar.channels.channel import Channel, OutboundMessage, SendResult, SendStatus, mask
from lodestar.channels.fake import FakeChannel

__all__ = ["Channel", "FakeChannel", "OutboundMessage", "SendResult", "SendStatus", "mask"]
