"""The local gateway behaves as a carrier's: signatures checked, repeated idempotency keys
recognised, receipts reported as signed webhooks that the webhook route's own path accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lodestar.channels.channel import OutboundMessage, SendStatus
from lodestar.channels.http_gateway import HttpGatewayChannel
from lodestar.channels.local_gateway import LocalGateway
from lodestar.channels.webhooks import DeliveryStatus, receive_webhook

SECRET = "s3cret-for-sms"
AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def message(key: str) -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, channel="sms", customer_id="C1",
                           address="13800138000", body="您好")  # fmt: skip


def test_sends_are_accepted_once_and_receipts_verified() -> None:
    got = []

    def respond(channel, msg):
        return [{"status": "delivered", "at": AT.isoformat()},
                {"status": "clicked", "at": AT.isoformat()}]  # fmt: skip

    def sink(channel, headers, body):
        got.extend(receive_webhook(channel, SECRET, headers, body))

    with LocalGateway({"sms": SECRET}, respond=respond, on_receipts=sink) as gateway:
        channel = HttpGatewayChannel("sms", gateway.url("sms"), secret=SECRET)
        first = channel.send(message("CMP:1@7:C1"))
        again = channel.send(message("CMP:1@7:C1"))  # a worker's retry after a crash
        gateway.drain()
        channel.close()
    assert first.status is SendStatus.SENT and again.status is SendStatus.DUPLICATE
    assert again.provider_message_id == first.provider_message_id
    assert len(gateway.accepted) == 1
    assert [(e.status, e.idempotency_key) for e in got] == [
        (DeliveryStatus.DELIVERED, "CMP:1@7:C1"), (DeliveryStatus.CLICKED, "CMP:1@7:C1")]


@pytest.mark.parametrize("secret", ["wrong", SECRET])
def test_a_bad_signature_is_refused(secret: str) -> None:
    with LocalGateway({"sms": SECRET}) as gateway:
        channel = HttpGatewayChannel("sms", gateway.url("sms"), secret=secret)
        result = channel.send(message("k1"))
        channel.close()
    expected = SendStatus.SENT if secret == SECRET else SendStatus.PERMANENT_FAILURE
    assert result.status is expected
    assert len(gateway.accepted) == (1 if secret == SECRET else 0)
