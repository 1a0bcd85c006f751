"""The signature scheme shared by outgoing gateway calls and incoming webhooks, and delivery
receipts.

A request is signed with a secret shared between Lodestar and the gateway::

    X-Lodestar-Timestamp: 1764806400
    X-Lodestar-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The receiver recomputes the HMAC over the raw bytes it got, compares in constant time, refuses a
timestamp further than ``tolerance`` seconds from its clock (a captured request cannot be played
back later) and, within that window, refuses a signature it has already
seen (a replay right away).

>>> sign(b"s3cret", "1764806400", b'{"a":1}')
'sha256=4b526e21c182ef82d20e1b45f6dc40cada82ec955fe3a49d4842b81a812c53e6'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lodestar.errors import WebhookRejected

SIGNATURE_HEADER = "X-Lodestar-Signature"
TIMESTAMP_HEADER = "X-Lodestar-Timestamp"
IDEMPOTENCY_HEADER = "X-Lodestar-Idempotency-Key"
#: Seconds a signed request stays acceptable (both ways, for clocks that drift).
DEFAULT_TOLERANCE = 300


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    mac = hmac.new(_secret_bytes(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_headers(
    secret: str | bytes, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The two headers that sign ``body`` at ``now`` (default: the current time)."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


class ReplayGuard:
    """Remembers the signatures accepted within the tolerance window, in this process.

    Several API processes each keep their own memory, so a replay sent to another process within
    the window is not caught here; the timestamp window still bounds it and receipts are
    idempotent on (message, status) downstream.
    """

    def __init__(self, window: float = DEFAULT_TOLERANCE, *, max_entries: int = 100_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float) -> bool:
        """True the first time ``signature`` is offered; False for a replay."""
        with self._lock:
            # Forget what has left the window (entries are in arrival order).
            while self._seen and (
                len(self._seen) >= self.max_entries
                or next(iter(self._seen.values())) < now - 2 * self.window
            ):
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now
            return True


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
) -> None:
    """Raise :class:`~lodestar.errors.WebhookRejected` unless ``body`` is signed by ``secret``,
    recently, and (with a ``replay_guard``) for the first time."""
    now = time.time() if now is None else now
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRejected(
            "missing_signature", f"the request has no {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}"
        )
    try:
        ts = int(timestamp)
    except ValueError:
        raise WebhookRejected(
            "bad_signature", f"{TIMESTAMP_HEADER} is not whole seconds since 1970"
        ) from None
    expected = sign(secret, timestamp, body)
    # Compare before looking at the time: an unsigned request learns nothing from the order.
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8")):
        raise WebhookRejected("bad_signature", "the signature does not match the body")
    if abs(now - ts) > tolerance:
        raise WebhookRejected(
            "stale_timestamp",
            f"the request was signed {int(now - ts)} s from now; at most {int(tolerance)} s "
            "is accepted (check the sender's clock)",
        )
    if replay_guard is not None and not replay_guard.first_time(signature, now):
        raise WebhookRejected("replayed", "this signed request was already received")


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"


@dataclass(frozen=True)
class DeliveryEvent:
    """A delivery receipt or a customer's response, as a gateway reported it."""

    channel: str
    status: DeliveryStatus
    at: datetime
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    #: The gateway's reason for a failure (e.g. ``"unknown_number"``); never an address.
    reason: str | None = None


def parse_receipts(channel: str, body: bytes) -> list[DeliveryEvent]:
    """Delivery events from a webhook body: one event object, a list of them, or
    ``{"events": [...]}``. Each event has ``status``, ``at`` (ISO 8601 or seconds since 1970)
    and at least one of ``message_id`` / ``idempotency_key``; ``reason`` is optional.

    >>> parse_receipts("sms", b'{"message_id": "m1", "status": "delivered", "at": 0}')[0].status
    <DeliveryStatus.DELIVERED: 'delivered'>
    """
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("bad_body", f"the body is not JSON: {exc}") from None
    if isinstance(data, dict) and "events" in data:
        data, where = data["events"], "events"
    else:
        where = ""
    items = data if isinstance(data, list) else [data]
    events = []
    for i, item in enumerate(items):
        at_where = f"{where}[{i}]" if where or isinstance(data, list) else "(body)"
        events.append(_event(channel, item, at_where))
    return events


def _event(channel: str, item: Any, where: str) -> DeliveryEvent:
    def bad(message: str) -> WebhookRejected:
        return WebhookRejected("bad_body", f"{where}: {message}")

    if not isinstance(item, dict):
        raise bad("an event must be an object")
    raw_status = item.get("status")
    try:
        status = DeliveryStatus(str(raw_status))
    except ValueError:
        allowed = ", ".join(s.value for s in DeliveryStatus)
        raise bad(f"field 'status': {raw_status!r} is not one of {allowed}") from None
    message_id, key = item.get("message_id"), item.get("idempotency_key")
    if not message_id and not key:
        raise bad("needs 'message_id' or 'idempotency_key' to find the message")
    raw_at = item.get("at")
    at: datetime
    if isinstance(raw_at, int | float) and not isinstance(raw_at, bool):
        at = datetime.fromtimestamp(raw_at, UTC)
    elif isinstance(raw_at, str):
        try:
            at = datetime.fromisoformat(raw_at)
        except ValueError:
            raise bad(f"field 'at': {raw_at!r} is not an ISO 8601 time") from None
        if at.tzinfo is None:
            raise bad(f"field 'at': {raw_at!r} has no time zone offset")
    else:
        raise bad("field 'at' is required (ISO 8601 with offset, or seconds since 1970)")
    reason = item.get("reason")
    return DeliveryEvent(
        channel=channel,
        status=status,
        at=at,
        provider_message_id=None if message_id is None else str(message_id),
        idempotency_key=None if key is None else str(key),
        reason=None if reason is None else str(reason)[:200],
    )


def receive_webhook(
    channel: str,
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
) -> list[DeliveryEvent]:
    """What ``POST /v1/webhooks/{channel}`` calls: verify, then parse. Raises
    :class:`~lodestar.errors.WebhookRejected` (the route answers 401 for a signature, timestamp
    or replay problem and 400 for ``bad_body``)."""
    verify(secret, headers, body, now=now, tolerance=tolerance, replay_guard=replay_guard)
    return parse_receipts(channel, body)


