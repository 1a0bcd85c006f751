"""The worker that drains the outbox: claim due rows, check each again against the contact
policy *at send time*, book its place under the caps, compose the message, send it through its
channel, record the result.

Per row, in order:

1. the customer's zone and addresses (:class:`Directory`); an unknown customer is dead-lettered;
2. the contact policy now (:func:`~lodestar.decisioning.contact_policy.check`), with consent and
   the do-not-contact list read from the operational store when the batch is claimed — a
   consent withdrawn between the plan and the send stops the send (``skipped``, with the rule);
   inside the quiet hours the row is **held** to the window's end (not an attempt, never
   dropped);
3. the frequency caps and the pressure rule, booked atomically in the contact ledger — once per
   row: a retry of a row whose contact is already booked reuses the booking;
4. the message (:class:`Composer`), then ``channel.send`` with the row's idempotency key;
   ``sent`` / ``duplicate`` close the row, a transient failure backs off (the booking is kept:
   the message is still going out), a permanent one goes to the dead letter and gives the
   booking back.

Channels are rate-limited per worker (``rate_per_second``). Addresses never reach a log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from lodestar.campaigns.outbox import Outbox, OutboxRow
from lodestar.channels.channel import Channel, OutboundMessage
from lodestar.decisioning.contact_ledger import ContactLedger
from lodestar.decisioning.contact_policy import check
from lodestar.decisioning.policy_rules import ADDRESS_FIELD, ContactPolicy
from lodestar.decisioning.policy_rules import Channel as ChannelName
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import consents, contact_ledger, do_not_contact


class Directory(Protocol):
    def contacts(self, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
        """``customer_id`` -> its ``time_zone`` and address columns (and ``name`` for
        templates); customers it does not know are left out."""
        ...


class Composer(Protocol):
    def compose(self, row: OutboxRow, contact: Mapping[str, Any]) -> tuple[str | None, str]:
        """The (subject, body) of ``row``'s message for this customer."""
        ...


@dataclass
class SendStats:
    claimed: int = 0
    sent: int = 0
    duplicate: int = 0
    held: int = 0
    skipped: int = 0
    retried: int = 0
    dead: int = 0
    lost_lease: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: SendStats) -> None:
        for name in ("claimed", "sent", "duplicate", "held", "skipped", "retried", "dead",
                     "lost_lease"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v


class SendWorker:
    def __init__(
        self,
        store: OperationalStore,
        channels: Mapping[str, Channel],
        policy: ContactPolicy,
        directory: Directory,
        composer: Composer,
        *,
        name: str = "worker",
        batch: int = 100,
        lease_seconds: float = 60.0,
        rate_per_second: Mapping[str, float] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.policy = policy
        self.directory = directory
        self.composer = composer
        self.name = name
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.outbox = outbox or Outbox(store)
        self.ledger = ContactLedger(store)
        self._interval = {c: 1.0 / r for c, r in (rate_per_second or {}).items() if r > 0}
        self._last_send: dict[str, float] = {}
        self._lock = threading.Lock()

    def run_once(self, now: datetime | None = None) -> SendStats:
        """Claim one batch and process it."""
        stats = SendStats()
        rows = self.outbox.claim(self.name, limit=self.batch, lease_seconds=self.lease_seconds,
                                 now=now)  # fmt: skip
        stats.claimed = len(rows)
        if not rows:
            return stats
        ids = sorted({r.customer_id for r in rows})
        people = self.directory.contacts(ids)
        # consent and the do-not-contact list, read once for the batch just claimed: fresh
        # to within the batch (a few hundred milliseconds), one round trip instead of two a row
        given, blocked = self._live_rows(ids)
        for row in rows:
            self._one(row, people.get(row.customer_id), now, stats,
                      given.get(row.customer_id, []), blocked.get(row.customer_id, []))  # fmt: skip
        return stats

    def run(self, *, stop: threading.Event | None = None, idle_sleep: float = 1.0,
            until_empty: bool = False) -> SendStats:  # fmt: skip
        """Process batches until ``stop`` is set (or, with ``until_empty``, nothing is due)."""
        total = SendStats()
        while stop is None or not stop.is_set():
            got = self.run_once()
            total.add(got)
            if got.claimed == 0:
                if until_empty:
                    return total
                time.sleep(idle_sleep)
        return total

    def _one(self, row: OutboxRow, person: dict[str, Any] | None, now: datetime | None,
             stats: SendStats, given: list[dict[str, Any]],
             blocked: list[dict[str, Any]]) -> None:  # fmt: skip
        at = now or datetime.now(UTC)
        channel = self.channels.get(row.channel)
        if person is None or channel is None:
            why = "unknown_customer" if person is None else f"no_channel:{row.channel}"
            self._count(stats, "dead", why, self.outbox.dead(row, self.name, why))
            return
        verdict = check(self.policy, person, row.channel, row.purpose, at, consents=given,
                        do_not_contact=blocked)  # fmt: skip
        if not verdict.allowed:
            why = verdict.reason.value if verdict.reason else "refused"
            self._count(stats, "skipped", why, self.outbox.skip(row, self.name, why))
            return
        if verdict.held:
            self._count(stats, "held", "quiet_hours",
                        self.outbox.hold(row, self.name, verdict.send_at, "quiet_hours"))  # fmt: skip
            return
        booking = self._booking(row)
        if booking is None:
            booked = self.ledger.try_reserve(self.policy, row.customer_id, person.get("time_zone"),
                                             row.channel, row.purpose, row.campaign_id, at)  # fmt: skip
            if not booked.allowed:
                why = booked.reason.value if booked.reason else "caps"
                self._count(stats, "skipped", why, self.outbox.skip(row, self.name, why))
                return
            booking = int(booked.detail.get("reservation_id") or 0)
        address = str(person.get(ADDRESS_FIELD[ChannelName(row.channel)]) or "")
        subject, body = self.composer.compose(row, person)
        message = OutboundMessage(row.idempotency_key, row.channel, row.customer_id, address, body,
                                  subject, campaign_id=row.campaign_id)  # fmt: skip
        self._pace(row.channel)
        result = channel.send(message)
        if result.ok:
            kind = "duplicate" if result.status.value == "duplicate" else "sent"
            self._count(stats, kind, None,
                        self.outbox.sent(row, self.name, result.provider_message_id, now=at))  # fmt: skip
        elif result.retryable:
            error = f"{result.error_code}: {result.error_message or ''}".strip()
            done = self.outbox.retry(row, self.name, error, retry_after=result.retry_after,
                                     now=at)  # fmt: skip
            self._count(stats, "retried", result.error_code, done)
        else:
            self.ledger.release(booking)
            error = f"{result.error_code}: {result.error_message or ''}".strip()
            self._count(stats, "dead", result.error_code, self.outbox.dead(row, self.name, error))

    def _booking(self, row: OutboxRow) -> int | None:
        """The ledger booking an earlier attempt of this row made (same customer, campaign and
        channel), so a retry does not count the contact twice."""
        if row.attempts <= 1:
            return None
        with self.store.engine.connect() as conn:
            found = conn.execute(sa.select(contact_ledger.c.id).where(
                (contact_ledger.c.customer_id == row.customer_id)
                & (contact_ledger.c.campaign_id == row.campaign_id)
                & (contact_ledger.c.channel == row.channel))
                .order_by(contact_ledger.c.id.desc()).limit(1)).scalar_one_or_none()  # fmt: skip
        return None if found is None else int(found)

    def _live_rows(self, customer_ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]],
                                                           dict[str, list[dict[str, Any]]]]:  # fmt: skip
        """Consent and do-not-contact rows of ``customer_ids``, by customer."""
        given: dict[str, list[dict[str, Any]]] = {}
        blocked: dict[str, list[dict[str, Any]]] = {}
        with self.store.engine.connect() as conn:
            for table, out in ((consents, given), (do_not_contact, blocked)):
                rows = conn.execute(sa.select(table).where(table.c.customer_id.in_(customer_ids)))
                for r in rows.mappings():
                    out.setdefault(str(r["customer_id"]), []).append(dict(r))
        return given, blocked

    def _pace(self, channel: str) -> None:
        interval = self._interval.get(channel)
        if interval is None:
            return
        with self._lock:
            wait = self._last_send.get(channel, 0.0) + interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_send[channel] = time.monotonic()

    def _count(self, stats: SendStats, kind: str, reason: str | None, recorded: bool) -> None:
        if not recorded:  # another worker took the row over when our lease ran out
            stats.lost_lease += 1
            return
        setattr(stats, kind, getattr(stats, kind) + 1)
        if reason:
            stats.reasons[reason] = stats.reasons.get(reason, 0) + 1
