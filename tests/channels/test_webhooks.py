"""Incoming webhooks: the signature scheme (valid, tampered, wrong secret, stale, replayed) and
delivery receipts."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from lodestar.channels.webhooks import (
    DeliveryStatus,
    ReplayGuard,
    parse_receipts,
    receive_webhook,
    sign,
    signature_headers,
    verify,
)
from lodestar.errors import WebhookRejected

SECRET = "whsec-test-1"
NOW = 1_764_806_400.0
BODY = json.dumps(
    {"events": [
        {"message_id": "gw-1", "idempotency_key": "spring:s1:C1", "status": "delivered",
         "at": "2025-12-04T08:00:00+08:00"},
        {"message_id": "gw-2", "status": "clicked", "at": NOW},
    ]}
).encode()


def headers(body: bytes = BODY, secret: str = SECRET, ts: float = NOW) -> dict[str, str]:
    return signature_headers(secret, body, now=ts)


def reason(**kwargs: object) -> str:
    with pytest.raises(WebhookRejected) as info:
        receive_webhook("sms", **kwargs)  # type: ignore[arg-type]
    return info.value.reason


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1764806400." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1764806400", BODY) == f"sha256={expected}"
    assert headers() == {"X-Lodestar-Timestamp": "1764806400",
                         "X-Lodestar-Signature": f"sha256={expected}"}


def test_valid_webhook_is_parsed() -> None:
    lower = {k.lower(): v for k, v in headers().items()}  # header names are case-insensitive
    events = receive_webhook("sms", SECRET, lower, BODY, now=NOW + 60, replay_guard=ReplayGuard())
    assert [e.status for e in events] == [DeliveryStatus.DELIVERED, DeliveryStatus.CLICKED]
    assert events[0].idempotency_key == "spring:s1:C1"
    assert events[0].at == datetime(2025, 12, 4, 0, 0, tzinfo=UTC)
    assert events[1].at == datetime.fromtimestamp(NOW, UTC)
    assert all(e.channel == "sms" for e in events)


def test_tampered_body_is_rejected() -> None:
    tampered = BODY.replace(b"delivered", b"failed")
    assert reason(secret=SECRET, headers=headers(), body=tampered, now=NOW) == "bad_signature"


def test_wrong_secret_is_rejected() -> None:
    h = headers(secret="someone-else")
    assert reason(secret=SECRET, headers=h, body=BODY, now=NOW) == "bad_signature"


def test_missing_headers_are_rejected() -> None:
    assert reason(secret=SECRET, headers={}, body=BODY, now=NOW) == "missing_signature"


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_stale_timestamp_is_rejected(age: float) -> None:
    h = headers(ts=NOW - age)
    assert reason(secret=SECRET, headers=h, body=BODY, now=NOW) == "stale_timestamp"


def test_replay_is_rejected() -> None:
    guard = ReplayGuard()
    h = headers()
    verify(SECRET, h, BODY, now=NOW, replay_guard=guard)
    assert reason(secret=SECRET, headers=h, body=BODY, now=NOW + 5, replay_guard=guard) == (
        "replayed"
    )
    # A new request (new timestamp, so a new signature) is fine.
    verify(SECRET, headers(ts=NOW + 6), BODY, now=NOW + 6, replay_guard=guard)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "not JSON"),
        (b'{"message_id": "m", "status": "bounced", "at": 0}', "(body): field 'status'"),
        (b'[{"status": "opened", "at": 0}]', "[0]: needs 'message_id'"),
        (b'{"events": [{"message_id": "m", "status": "opened", "at": "2025-12-04T08:00"}]}',
         "events[0]: field 'at'"),
        (b'{"message_id": "m", "status": "opened"}', "field 'at' is required"),
    ],
)
def test_bad_receipts_say_where(body: bytes, where: str) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse_receipts("push", body)
    assert info.value.reason == "bad_body"
    assert where in str(info.value)


def test_one_event_or_a_list() -> None:
    one = parse_receipts("voice", b'{"idempotency_key": "k", "status": "replied", "at": 0}')
    many = parse_receipts("voice", b'[{"message_id": "a", "status": "failed", "at": 0,'
                                   b' "reason": "unknown_number"}]')
    assert one[0].status is DeliveryStatus.REPLIED and one[0].provider_message_id is None
    assert many[0].reason == "unknown_number"
