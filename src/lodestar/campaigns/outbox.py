"""The durable outbox: every send is a row in the operational store before anything is sent.

Exactly once per (campaign, step, customer):

- **enqueue** is one transaction and ignores a key it already holds, so enqueuing a plan twice,
  or half a plan after a crash, never doubles a send and never writes half a batch;
- **claim** takes due rows with a lease — PostgreSQL ``FOR UPDATE SKIP LOCKED`` (several workers
  never take the same row and never wait for each other), SQLite one writer at a time
  (``BEGIN IMMEDIATE``) — and counts the attempt when it claims, so a worker killed mid-send has
  still used the attempt;
- a row whose lease ran out (its worker died) is claimed again, and sent again **with the same
  idempotency key**: the gateway recognises it and answers ``duplicate``, which closes the row
  as sent;
- **finish** only touches a row its worker still holds, so a slow worker whose lease was taken
  over cannot overwrite the new holder's result.

Statuses: ``pending`` (due at ``next_attempt_at``), ``claimed``, ``sent``, ``skipped`` (the
contact policy refused it at send time: consent withdrawn, do-not-contact, caps...), ``dead``
(a permanent failure, or the attempts ran out; the reason in ``last_error``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import outbox

PENDING, CLAIMED, SENT, SKIPPED, DEAD = "pending", "claimed", "sent", "skipped", "dead"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    idempotency_key: str
    campaign_id: str
    step: str
    customer_id: str
    channel: str
    offer_id: str | None
    purpose: str
    attempts: int
    next_attempt_at: datetime


def key_of(campaign_id: str, step: str, customer_id: str) -> str:
    return f"{campaign_id}:{step}:{customer_id}"


class Outbox:
    def __init__(self, store: OperationalStore, *, max_attempts: int = 5,
                 base_backoff: float = 30.0, max_backoff: float = 3600.0) -> None:  # fmt: skip
        self.store = store
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff

    def enqueue(self, rows: Iterable[dict[str, Any]], *, now: datetime | None = None) -> int:
        """Add sends (``campaign_id``, ``step``, ``customer_id``, ``channel``, optional
        ``offer_id``, ``purpose``, ``send_at``) in one transaction; returns how many were new."""
        at = (now or datetime.now(UTC)).astimezone(UTC)  # SQLite compares the stored text
        values = [{
            "idempotency_key": key_of(r["campaign_id"], str(r["step"]), r["customer_id"]),
            "campaign_id": r["campaign_id"], "step": str(r["step"]),
            "customer_id": r["customer_id"], "channel": r["channel"],
            "offer_id": r.get("offer_id"), "purpose": r.get("purpose", "marketing"),
            "status": PENDING, "attempts": 0,
            "next_attempt_at": (r.get("send_at") or at).astimezone(UTC),
            "created_at": at,
        } for r in rows]  # fmt: skip
        if not values:
            return 0
        statement = self.store.insert_new(outbox, "idempotency_key")
        with self.store.begin() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
            for start in range(0, len(values), 5000):
                conn.execute(statement, values[start : start + 5000])
            after = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
        return int(after - before)

    def claim(self, worker: str, *, limit: int = 100, lease_seconds: float = 60.0,
              now: datetime | None = None) -> list[OutboxRow]:  # fmt: skip
        """Take up to ``limit`` due rows (pending and due, or claimed with an expired lease)."""
        at = (now or datetime.now(UTC)).astimezone(UTC)
        due = sa.or_(
            sa.and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= at),
            sa.and_(outbox.c.status == CLAIMED, outbox.c.lease_until < at),
        )
        pick = (sa.select(outbox.c.id).where(due)
                .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit))  # fmt: skip
        with self.store.locked() as conn:
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = [r[0] for r in conn.execute(pick)]
            if not ids:
                return []
            conn.execute(sa.update(outbox).where(outbox.c.id.in_(ids)).values(
                status=CLAIMED, claimed_by=worker,
                lease_until=at + timedelta(seconds=lease_seconds),
                attempts=outbox.c.attempts + 1))  # fmt: skip
            rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids))
                                .order_by(outbox.c.id)).mappings().all()  # fmt: skip
        return [_row(r) for r in rows]

    def sent(self, row: OutboxRow, worker: str, provider_message_id: str | None, *,
             now: datetime | None = None) -> bool:  # fmt: skip
        return self._finish(row, worker, status=SENT, sent_at=now or datetime.now(UTC),
                            provider_message_id=provider_message_id, last_error=None)  # fmt: skip

    def retry(self, row: OutboxRow, worker: str, error: str, *,
              retry_after: float | None = None, now: datetime | None = None) -> bool:  # fmt: skip
        """A transient failure: back off exponentially (with jitter, at least the peer's
        ``retry_after``), or the dead letter once the attempts are used up."""
        if row.attempts >= self.max_attempts:
            return self.dead(row, worker, f"{error} (after {row.attempts} attempts)")
        wait = min(self.max_backoff, self.base_backoff * 2 ** (row.attempts - 1))
        wait = max(wait * random.uniform(0.8, 1.2), retry_after or 0.0)
        return self._finish(row, worker, status=PENDING, last_error=error,
                            next_attempt_at=(now or datetime.now(UTC)) + timedelta(seconds=wait))  # fmt: skip

    def hold(self, row: OutboxRow, worker: str, until: datetime, reason: str) -> bool:
        """Not now (quiet hours): due again at ``until``; holding is not an attempt."""
        return self._finish(row, worker, status=PENDING, next_attempt_at=until,
                            attempts=max(row.attempts - 1, 0), last_error=reason)  # fmt: skip

    def skip(self, row: OutboxRow, worker: str, reason: str) -> bool:
        return self._finish(row, worker, status=SKIPPED, last_error=reason)

    def dead(self, row: OutboxRow, worker: str, reason: str) -> bool:
        return self._finish(row, worker, status=DEAD, last_error=reason)

    def counts(self, campaign_id: str | None = None) -> dict[str, int]:
        q = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
        if campaign_id is not None:
            q = q.where(outbox.c.campaign_id == campaign_id)
        with self.store.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(q)}

    def rows(self, campaign_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(outbox).order_by(outbox.c.id)
        if campaign_id is not None:
            q = q.where(outbox.c.campaign_id == campaign_id)
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- internals ----------------------------------------------------------------------------
    def _finish(self, row: OutboxRow, worker: str, **values: Any) -> bool:
        """Record a result only while ``worker`` still holds the row (True if it did)."""
        values.setdefault("claimed_by", None)
        values.setdefault("lease_until", None)
        for name, value in values.items():  # a hold "until" may be in the customer's zone
            if isinstance(value, datetime) and value.tzinfo is not None:
                values[name] = value.astimezone(UTC)
        with self.store.begin() as conn:
            done = conn.execute(sa.update(outbox).where(
                (outbox.c.id == row.id) & (outbox.c.status == CLAIMED)
                & (outbox.c.claimed_by == worker)).values(**values))  # fmt: skip
        return bool(done.rowcount)


def _row(r: Any) -> OutboxRow:
    at = r["next_attempt_at"]
    return OutboxRow(int(r["id"]), r["idempotency_key"], r["campaign_id"], r["step"],
                     r["customer_id"], r["channel"], r["offer_id"], r["purpose"],
                     int(r["attempts"]), at if at.tzinfo else at.replace(tzinfo=UTC))  # fmt: skip
