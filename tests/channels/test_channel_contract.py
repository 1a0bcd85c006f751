"""The one contract every channel keeps, run against every implementation (see conftest.py):
the fake, the inbox on SQLite and PostgreSQL, e-mail through a real local SMTP server, and the
SMS / push / WeCom / voice gateways through a real local HTTP server."""

from __future__ import annotations

import logging

import pytest
from channel_peers import Harness

from lodestar.channels.channel import Channel, OutboundMessage, SendStatus


def message(h: Harness, key: str = "spring:step1:C0042", **changes: object) -> OutboundMessage:
    values: dict[str, object] = {
        "idempotency_key": key,
        "channel": h.channel.name,
        "customer_id": "C0042",
        "address": h.address,
        "subject": "春季理财节 — 专属利率",
        "body": "尊敬的客户：您的专属年化利率 2.35% 将于 3 月 31 日截止。\n回复 TD 退订 🌸",
        "campaign_id": "spring",
        "metadata": {"offer": "td-3m"},
    }
    values.update(changes)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def test_is_a_channel(harness: Harness) -> None:
    assert isinstance(harness.channel, Channel)
    assert harness.channel.name


def test_send_delivers_exactly_the_content(harness: Harness) -> None:
    m = message(harness)
    result = harness.channel.send(m)
    assert result.status is SendStatus.SENT, result
    assert result.ok and result.provider_message_id
    [got] = harness.received()
    assert got.body == m.body
    assert got.subject == m.subject
    if got.address is not None:
        assert got.address == m.address


def test_idempotency_key_reaches_the_peer(harness: Harness) -> None:
    keys = ["spring:step1:C0042", "spring:step2:C0042"]
    for key in keys:
        assert harness.channel.send(message(harness, key)).status is SendStatus.SENT
    assert [r.idempotency_key for r in harness.received()] == keys


def test_repeat_with_the_same_key(harness: Harness) -> None:
    first = harness.channel.send(message(harness))
    again = harness.channel.send(message(harness, body="changed text, same key"))
    if harness.deduplicates:
        assert again.status is SendStatus.DUPLICATE, again
        assert again.ok and not again.retryable
        assert again.provider_message_id == first.provider_message_id
        assert len(harness.received()) == 1
    else:
        # SMTP has no idempotency: the repeat goes out, with the same Message-ID, so the
        # receiving side can recognise it.
        assert again.status is SendStatus.SENT
        assert again.provider_message_id == first.provider_message_id
        a, b = harness.received()
        assert a.raw["Message-ID"] == b.raw["Message-ID"] == first.provider_message_id


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("throttle", SendStatus.TRANSIENT_FAILURE),
        ("server_error", SendStatus.TRANSIENT_FAILURE),
        ("hang", SendStatus.TRANSIENT_FAILURE),
        ("reject", SendStatus.PERMANENT_FAILURE),
    ],
)
def test_failures_are_classified(harness: Harness, mode: str, expected: SendStatus) -> None:
    if harness.set_mode is None:
        pytest.skip(f"{harness.channel.name}: the peer cannot be made to fail on request")
    harness.set_mode(mode)
    result = harness.channel.send(message(harness))
    assert result.status is expected, result
    assert not result.ok
    assert result.error_code
    assert result.retryable == (expected is SendStatus.TRANSIENT_FAILURE)
    if mode == "throttle" and harness.retry_after:
        assert result.retry_after == 7
    if mode == "hang":
        assert result.error_code == "timeout"
    assert harness.received() == []
    # The adapter recovers: the next attempt (the outbox's retry) goes through.
    harness.set_mode("ok")
    retry = harness.channel.send(message(harness))
    assert retry.status is SendStatus.SENT, retry
    assert len(harness.received()) == 1


def test_addresses_never_in_logs_or_reprs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    m = message(harness)
    results = [harness.channel.send(m), harness.channel.send(m)]
    if harness.set_mode is not None:
        harness.set_mode("reject")  # the HTTP peer echoes the address in its error
        results.append(harness.channel.send(message(harness, "spring:step9:C0042")))
        assert results[-1].status is SendStatus.PERMANENT_FAILURE
    texts = [repr(m), str(m), repr(harness.channel), str(harness.channel)]
    texts += [repr(r) for r in results] + [str(r.error_message) for r in results]
    texts += [
        r.getMessage() for r in caplog.records
        if not r.name.startswith(harness.peer_loggers or ("\0",))
    ]
    for text in texts:
        assert harness.address not in text
        if harness.secret:
            assert harness.secret not in text
    assert m.address == harness.address  # the message itself still carries it
