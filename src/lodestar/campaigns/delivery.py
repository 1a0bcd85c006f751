"""Delivery receipts and responses: what happened to a message after the gateway took it.

The gateways report ``delivered``, ``failed``, ``opened``, ``clicked`` and ``replied`` events by
webhook (``POST /v1/webhooks/{channel}``, signature checked by
:func:`lodestar.channels.webhooks.receive_webhook`). :func:`record_events` keeps each event
once — gateways resend webhooks they think were lost — and :func:`delivery_counts` ties them to
a campaign through the outbox (by idempotency key, or the gateway's message id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from lodestar.channels.webhooks import DeliveryEvent
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import delivery_events, outbox


def _event_key(e: DeliveryEvent) -> str:
    parts = (e.channel, e.idempotency_key or "", e.provider_message_id or "", e.status.value,
             e.at.isoformat())  # fmt: skip
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def record_events(store: OperationalStore, events: Iterable[DeliveryEvent]) -> int:
    """Store the events not stored before (one transaction); returns how many were new."""
    now = datetime.now(UTC)
    values = [{"channel": e.channel, "idempotency_key": e.idempotency_key,
               "provider_message_id": e.provider_message_id, "status": e.status.value,
               "reason": e.reason, "at": e.at, "received_at": now, "event_key": _event_key(e)}
              for e in events]  # fmt: skip
    if not values:
        return 0
    statement = store.insert_new(delivery_events, "event_key")
    with store.begin() as conn:
        result = conn.execute(statement.returning(delivery_events.c.id), values)
        return len(result.fetchall())


def delivery_counts(store: OperationalStore, campaign_id: str) -> dict[str, int]:
    """Messages of ``campaign_id`` with each delivery status (a message counts once per
    status, however often the gateway reported it)."""
    by_key = sa.and_(delivery_events.c.idempotency_key.is_not(None),
                     delivery_events.c.idempotency_key == outbox.c.idempotency_key)  # fmt: skip
    by_id = sa.and_(delivery_events.c.provider_message_id.is_not(None),
                    delivery_events.c.provider_message_id == outbox.c.provider_message_id)  # fmt: skip
    q = (sa.select(delivery_events.c.status, sa.func.count(sa.distinct(outbox.c.id)))
         .select_from(outbox.join(delivery_events, sa.or_(by_key, by_id)))
         .where(outbox.c.campaign_id == campaign_id).group_by(delivery_events.c.status))  # fmt: skip
    with store.engine.connect() as conn:
        return {str(s): int(n) for s, n in conn.execute(q)}
