"""HTTP gateway specifics beyond the contract: what goes on the wire, connection reuse,
unreachable gateways."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from channel_peers import GatewayPeer

from lodestar.channels.channel import OutboundMessage, SendStatus
from lodestar.channels.http_gateway import HttpGatewayChannel
from lodestar.channels.webhooks import verify
from lodestar.errors import ChannelError

SECRET = b"wire-secret"


@pytest.fixture
def peer() -> Iterator[GatewayPeer]:
    p = GatewayPeer(SECRET)
    yield p
    p.close()


def msg(key: str = "c:s:1") -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, channel="wecom", customer_id="C1",
                           address="wecom-zhang", body="你好", metadata={"agent": "a1"})


def test_the_wire_format(peer: GatewayPeer) -> None:
    ch = HttpGatewayChannel("wecom", peer.url, secret=SECRET)
    try:
        assert ch.send(msg()).status is SendStatus.SENT
    finally:
        ch.close()
    [got] = peer.received
    assert got.raw == {
        "idempotency_key": "c:s:1", "channel": "wecom", "customer_id": "C1",
        "to": "wecom-zhang", "subject": None, "body": "你好", "locale": "zh-CN",
        "campaign_id": None, "metadata": {"agent": "a1"},
    }
    headers = peer.headers[0]
    assert headers["X-Lodestar-Idempotency-Key"] == "c:s:1"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    # The receiving side of the same scheme accepts what the adapter signs.
    verify(SECRET, headers, ch.payload(msg()), now=float(headers["X-Lodestar-Timestamp"]))


def test_connections_are_reused(peer: GatewayPeer) -> None:
    ports: set[int] = set()
    original = peer.handle

    def spy(h, body):  # type: ignore[no-untyped-def]
        ports.add(h.client_address[1])
        original(h, body)

    peer.handle = spy  # type: ignore[method-assign]
    ch = HttpGatewayChannel("sms", peer.url, secret=SECRET)
    try:
        for i in range(5):
            assert ch.send(msg(f"c:s:{i}")).status is SendStatus.SENT
    finally:
        ch.close()
    assert len(ports) == 1


def test_unreachable_gateway_is_transient() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = HttpGatewayChannel("sms", f"http://127.0.0.1:{port}/send", secret=SECRET,
                            connect_retries=1)
    try:
        result = ch.send(msg())
    finally:
        ch.close()
    assert result.status is SendStatus.TRANSIENT_FAILURE
    assert result.error_code == "connection_error"


def test_closed_adapter_and_empty_secret() -> None:
    with pytest.raises(ChannelError):
        HttpGatewayChannel("sms", "http://127.0.0.1:1/", secret="")
    ch = HttpGatewayChannel("sms", "http://127.0.0.1:1/", secret="k")
    ch.close()
    with pytest.raises(ChannelError):
        ch.send(msg())
