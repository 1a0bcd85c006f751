"""Atomic cap counting: a real-time decision or a send reserves its place under the caps.

:meth:`ContactLedger.try_reserve` reads the customer's reservations, checks the frequency caps
and the pressure rule (with the same code as :func:`~lodestar.decisioning.contact_policy.check`)
and inserts the reservation, all in :meth:`OperationalStore.locked` for the customer (SQLite:
one writer at a time; PostgreSQL: an advisory lock on ``contact:<customer_id>``), so concurrent
callers — threads or processes — never reserve more than a cap allows.

A reservation's ``ts`` is the send time after any quiet-hours hold, and ``local_day`` its date in
the customer's zone. Consent, do-not-contact and cool-off are not checked here: call
:func:`~lodestar.decisioning.contact_policy.check` first.

>>> # ledger = ContactLedger(store)
>>> # verdict = ledger.try_reserve(policy, "C1", "Asia/Shanghai", "sms", "marketing", "CMP1", now)
>>> # verdict.allowed, verdict.detail.get("reservation_id")
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lodestar.decisioning.contact_policy import Rows, Verdict, customer_rows, history_contacts
from lodestar.decisioning.contact_windows import (
    Contact,
    cap_breach,
    hold_until,
    local_day,
    periods,
    require_aware,
    to_utc,
)
from lodestar.decisioning.policy_rules import Channel, ContactPolicy, Purpose, customer_zone
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import contact_ledger

#: The customer's reservations since a time; built once, bound per call.
_BOOKED = (
    sa.select(contact_ledger.c.ts, contact_ledger.c.channel, contact_ledger.c.purpose)
    .where(contact_ledger.c.customer_id == sa.bindparam("customer_id"))
    .where(contact_ledger.c.ts >= sa.bindparam("since", type_=contact_ledger.c.ts.type))
)


class ContactLedger:
    """Reservations against the contact caps, in the operational store."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def try_reserve(
        self,
        policy: ContactPolicy,
        customer_id: str,
        tz: str | None,
        channel: str,
        purpose: str,
        campaign_id: str | None,
        at: datetime,
        history: Rows | None = None,
    ) -> Verdict:
        """Reserve one ``channel`` / ``purpose`` contact for the customer at ``at`` (held past
        the quiet hours) if the frequency caps and the pressure rule allow it; otherwise insert
        nothing. ``history`` adds contacts not made through the ledger (``campaign_contacts``
        columns, see :func:`~lodestar.decisioning.contact_policy.evaluate`); do not pass
        contacts that were also reserved here, or they count twice.

        An allowed verdict carries ``detail["reservation_id"]``.
        """
        at = require_aware(at)
        ch, pu = Channel(channel), Purpose(purpose)
        zone = customer_zone(tz, policy.default_time_zone)
        send_at = hold_until(policy.quiet_hours(ch, pu), at, zone)
        since = periods(send_at, zone).month[0]
        if policy.pressure is not None:
            since = min(since, send_at - timedelta(days=policy.pressure.window_days))
        past = history_contacts(customer_rows(history, customer_id))
        with self.store.locked(f"contact:{customer_id}") as conn:
            booked = conn.execute(_BOOKED, {"customer_id": customer_id,
                                            "since": _db_time(since)}).all()  # fmt: skip
            contacts = past + [Contact(to_utc(ts) or since, str(c), str(p)) for ts, c, p in booked]
            breach = cap_breach(policy, ch, pu, send_at, zone, contacts)
            if breach is not None:
                return Verdict(customer_id, ch, pu, False, breach.reason, send_at,
                               send_at > at, breach.detail)  # fmt: skip
            result = conn.execute(
                sa.insert(contact_ledger).values(
                    customer_id=customer_id,
                    channel=ch.value,
                    purpose=pu.value,
                    campaign_id=campaign_id,
                    weight=policy.pressure_weight(pu, ch),
                    ts=_db_time(send_at),
                    local_day=local_day(send_at, zone),
                )
            )
            pk = result.inserted_primary_key
            reservation = int(pk[0]) if pk else 0
        return Verdict(customer_id, ch, pu, True, None, send_at, send_at > at,
                       {"reservation_id": reservation})  # fmt: skip

    def release(self, reservation_id: int) -> bool:
        """Give back a reservation whose contact was not made (the send failed or was
        cancelled); True when there was one."""
        with self.store.begin() as conn:
            result = conn.execute(
                sa.delete(contact_ledger).where(contact_ledger.c.id == reservation_id)
            )
        return bool(result.rowcount)

    def reservations(self, customer_id: str | None = None) -> pd.DataFrame:
        """Reservations (of one customer, or all) as a frame with ``history``'s columns
        (``contacted_at`` = the reserved send time, UTC) plus ``id``, ``campaign_id``,
        ``weight`` and ``local_day``."""
        q = sa.select(contact_ledger).order_by(contact_ledger.c.id)
        if customer_id is not None:
            q = q.where(contact_ledger.c.customer_id == customer_id)
        with self.store.engine.connect() as conn:
            rows: Any = conn.execute(q).mappings().all()
        frame = pd.DataFrame(rows, columns=[c.name for c in contact_ledger.columns])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame.rename(columns={"ts": "contacted_at"})


def _db_time(value: datetime) -> datetime:
    # SQLite stores datetimes as text without the offset: always write and compare UTC.
    return value.astimezone(UTC)
