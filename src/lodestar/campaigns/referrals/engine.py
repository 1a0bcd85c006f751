"""The referral engine of one programme: codes and links, touches, attribution, steps and
their rewards, from customer events.

Events come from the live event feed (:meth:`ReferralEngine.process`, which keeps a cursor per
programme in the operational store) or straight from Python (:meth:`ReferralEngine.handle`).
Every write happens in ``OperationalStore.locked`` on the programme's key (plus the budget and
points locks of its rewards), so the same event arriving twice — a retry, two threads, two
worker processes — is counted once: one referrer per referee (a unique index too), each step
once per referral (the primary key too), each reward once (the ledger's idempotency key too).

>>> # engine = ReferralEngine(store, programme, catalogue)
>>> # engine.link_for("C1")            # 'https://m.bank.example/mgm?ref=LQ7KX2M9QD'
>>> # engine.handle([ReferralEvent("e1", "referral_click", ts, anonymous_id="dev-9",
>>> #                              properties={"referral_code": "LQ7KX2M9QD"}), ...])
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.campaigns import event_feed
from lodestar.campaigns.referrals import codes, fraud, rewards
from lodestar.campaigns.referrals.fingerprints import (
    DEMO_KEY,
    Fingerprint,
    IdentityLookup,
    no_identities,
)
from lodestar.campaigns.referrals.programme import Programme, Step
from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.campaigns.rights.ledger import RightsLedger
from lodestar.errors import ConfigError, NotFound
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import (
    event_feed as event_feed_table,
)
from lodestar.storage.operational_tables import (
    referral_cursors,
    referral_fingerprints,
    referral_flags,
    referral_steps,
    referral_touches,
    referrals,
)

#: referral states in which reached steps earn their rewards
ELIGIBLE = ("active", "cleared")


@dataclass(frozen=True)
class ReferralEvent:
    """A customer event as the engine reads it (from the feed, or built by a caller)."""

    event_id: str
    event_name: str
    ts: datetime
    customer_id: str | None = None
    anonymous_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    #: its place in the live event feed, when it came from there
    seq: int | None = None


@dataclass(frozen=True)
class Referral:
    referral_id: int
    programme_id: str
    referee_id: str
    referrer_id: str
    code: str
    how: str
    touched_at: datetime
    attributed_at: datetime
    status: str


@dataclass
class Summary:
    """What a batch of events did."""

    events: int = 0
    touches: int = 0
    attributed: int = 0
    flagged: int = 0
    steps: int = 0
    rewards: int = 0
    refused: int = 0
    withheld: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    last_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "touches": self.touches, "attributed": self.attributed,
                "flagged": self.flagged, "steps": self.steps, "rewards": self.rewards,
                "refused": self.refused, "withheld": self.withheld,
                "skipped": dict(self.skipped), "last_seq": self.last_seq}  # fmt: skip


class ReferralEngine:
    """Referrals of one programme in one operational store."""

    def __init__(self, store: OperationalStore, programme: Programme,
                 catalogue: RightsCatalogue | None = None, *,
                 identities: IdentityLookup = no_identities, time_zone: str = "Asia/Shanghai",
                 clock: Callable[[], datetime] | None = None, actor: str = "system",
                 fingerprint_key: bytes = DEMO_KEY) -> None:  # fmt: skip
        """``identities`` must hash with ``fingerprint_key`` too (the engine hashes the
        devices it finds in the event feed with it)."""
        missing = [r for r in programme.right_ids
                   if catalogue is None or r not in {x.id for x in catalogue.rights}]  # fmt: skip
        if missing:
            raise ConfigError(f"referral programme '{programme.programme}' rewards right(s) "
                              f"{', '.join(missing)}, which the rights catalogue does not have",
                              hint="add them to rights.yaml or change the rewards in "
                                   "referrals.yaml")  # fmt: skip
        self.store = store
        self.programme = programme
        self.catalogue = catalogue
        self.identities = identities
        self.key = fingerprint_key
        self.clock = clock or (lambda: datetime.now(UTC))
        self.ledger = RightsLedger(store, time_zone=time_zone, clock=self.clock)
        self.actor = actor
        self.window = timedelta(days=programme.attribution_window_days)

    @property
    def pid(self) -> str:
        return self.programme.programme

    # -- codes and links ----------------------------------------------------------------------
    def code_for(self, customer_id: str) -> str:
        """The customer's referral code (created on first ask, the same ever after)."""
        with self.store.engine.connect() as conn:
            existing = codes.code_of(conn, self.pid, customer_id)
        if existing is not None:
            return existing
        with self.store.locked(rewards.programme_lock(self.pid)) as conn:
            return codes.ensure_code(conn, self.programme, customer_id, self.clock())

    def link_for(self, customer_id: str) -> str:
        return codes.link_with_code(self.programme.link, self.programme.code_parameter,
                                    self.code_for(customer_id))  # fmt: skip

    # -- events -------------------------------------------------------------------------------
    def process(self, *, limit: int = 10_000) -> Summary:
        """Read the event feed after the programme's cursor, handle the events and move the
        cursor. Safe to run in several processes at once (each event counts once)."""
        with self.store.engine.connect() as conn:
            after = conn.execute(sa.select(referral_cursors.c.last_seq)
                                 .where(referral_cursors.c.programme_id == self.pid)).scalar()  # fmt: skip
        stored = event_feed.read_after(self.store, int(after or 0),
                                       names=self.programme.event_names, limit=limit)  # fmt: skip
        summary = self.handle(ReferralEvent(e.event_id, e.event_name, e.ts, e.customer_id,
                                            e.anonymous_id, e.properties, e.seq)
                              for e in stored)  # fmt: skip
        if stored:
            summary.last_seq = stored[-1].seq
            self._move_cursor(stored[-1].seq)
        else:
            summary.last_seq = int(after or 0)
        return summary

    def _move_cursor(self, seq: int) -> None:
        with self.store.locked(rewards.programme_lock(self.pid)) as conn:
            now = self.clock()
            current = conn.execute(sa.select(referral_cursors.c.last_seq)
                                   .where(referral_cursors.c.programme_id == self.pid)).scalar()  # fmt: skip
            if current is None:
                conn.execute(sa.insert(referral_cursors).values(
                    programme_id=self.pid, last_seq=seq, updated_at=now))  # fmt: skip
            elif int(current) < seq:  # another process may have read further already
                conn.execute(sa.update(referral_cursors)
                             .where(referral_cursors.c.programme_id == self.pid)
                             .values(last_seq=seq, updated_at=now))  # fmt: skip

    def handle(self, events: Iterable[ReferralEvent]) -> Summary:
        """Handle events in order: touches, attributions, steps and their rewards."""
        summary = Summary()
        touch_names = set(self.programme.touch_events)
        for event in events:
            summary.events += 1
            ts = _utc(event.ts)
            if event.event_name in touch_names:
                self._touch_event(event, ts, summary)
                continue
            steps = self.programme.steps_for(event.event_name)
            if not steps:
                summary.skipped["not_in_programme"] += 1
                continue
            if not event.customer_id:
                summary.skipped["no_customer"] += 1
                continue
            for step in steps:
                self._step_event(step, event, ts, summary)
        return summary

    def _touch_event(self, event: ReferralEvent, ts: datetime, summary: Summary) -> None:
        code = event.properties.get(self.programme.code_property)
        if not isinstance(code, str) or not code.strip():
            summary.skipped["no_code"] += 1
            return
        how = "code" if event.event_name.endswith("entered") else "click"
        result = self.touch(code, event_id=event.event_id, ts=ts, customer_id=event.customer_id,
                            anonymous_id=event.anonymous_id, how=how)  # fmt: skip
        if result == "recorded":
            summary.touches += 1
            self._earlier_first_steps(event, ts, summary)
        else:
            summary.skipped[result] += 1

    def _earlier_first_steps(self, touch: ReferralEvent, ts: datetime, summary: Summary) -> None:
        """A click can reach the feed after the registration it led to (an H5 page and the
        app's back end report separately): look in the feed, before the click, for first-step
        events by the touch's customer or device inside the window after it; a customer nobody
        referred yet is attributed now, and their step events up to the click are replayed in
        feed order (each step still counts once). Events after the click are the cursor's."""
        if touch.seq is None:
            return  # not from the feed: nothing in it to look back at
        first = self.programme.steps[0]
        who = []
        if touch.customer_id:
            who.append(event_feed_table.c.customer_id == touch.customer_id)
        if touch.anonymous_id:
            who.append(event_feed_table.c.anonymous_id == touch.anonymous_id)
        if not who:
            return
        q = (sa.select(event_feed_table.c.customer_id).where(sa.or_(*who))
             .where(event_feed_table.c.event_name == first.event)
             .where(event_feed_table.c.customer_id.is_not(None))
             .where(event_feed_table.c.ts >= ts).where(event_feed_table.c.ts <= ts + self.window)
             .where(event_feed_table.c.seq < touch.seq)
             .order_by(event_feed_table.c.seq).limit(20))  # fmt: skip
        with self.store.engine.connect() as conn:
            customers = list(dict.fromkeys(str(c) for c in conn.execute(q).scalars()))
            done = {r.referee_id for r in _referrals_of(conn, self.pid, customers)}  # fmt: skip
            later = (sa.select(event_feed_table)
                     .where(event_feed_table.c.customer_id.in_(
                         [c for c in customers if c not in done] or [""]))
                     .where(event_feed_table.c.event_name.in_([s.event
                                                               for s in self.programme.steps]))
                     .where(event_feed_table.c.ts >= ts)
                     .where(event_feed_table.c.seq < touch.seq)
                     .order_by(event_feed_table.c.seq))  # fmt: skip
            replay = [_feed_event(r) for r in conn.execute(later).mappings()]
        for event in replay:
            for step in self.programme.steps_for(event.event_name):
                self._step_event(step, event, _utc(event.ts), summary)

    def touch(self, code: str, *, event_id: str, ts: datetime, customer_id: str | None = None,
              anonymous_id: str | None = None, how: str = "click") -> str:  # fmt: skip
        """Record a click on a referral link or a code typed in: ``recorded``,
        ``duplicate`` (event seen before) or ``unknown_code``."""
        with self.store.locked(rewards.programme_lock(self.pid)) as conn:
            referrer = codes.owner_of(conn, self.pid, code)
            if referrer is None:
                return "unknown_code"
            seen = conn.execute(sa.select(referral_touches.c.touch_id)
                                .where(referral_touches.c.programme_id == self.pid)
                                .where(referral_touches.c.event_id == event_id)).first()  # fmt: skip
            if seen is not None:
                return "duplicate"
            conn.execute(sa.insert(referral_touches).values(
                programme_id=self.pid, code=code.strip().upper(), referrer_id=referrer,
                customer_id=customer_id, anonymous_id=anonymous_id, event_id=event_id,
                how=how, ts=_utc(ts)))  # fmt: skip
            return "recorded"

    def attribute(self, referee_id: str, *, at: datetime, anonymous_ids: Iterable[str] = (),
                  code: str | None = None, event_id: str | None = None) -> Referral | None:  # fmt: skip
        """Attribute ``referee_id`` (who reached the first step at ``at``) to a referrer: the
        first touch inside the window before ``at`` by the referee or one of their devices
        wins. With ``code`` (typed at registration) that is recorded as a touch first. An
        existing attribution is returned unchanged (one referrer per referee); None when no
        touch qualifies."""
        at = _utc(at)
        if code is not None:
            result = self.touch(code, event_id=event_id or f"attribute:{referee_id}:{code}",
                                ts=at, customer_id=referee_id, how="code")  # fmt: skip
            if result == "unknown_code":
                raise NotFound(f"no referral code '{code}' in programme '{self.pid}'",
                               hint="codes are case-blind; lodestar referral code CUSTOMER "
                                    "shows a customer's code")  # fmt: skip
        devices = {d for d in anonymous_ids if d} | self._feed_devices(referee_id)
        known = self.identities([referee_id])
        with self.store.locked(rewards.programme_lock(self.pid)) as conn:
            return self._attribute_locked(conn, referee_id, at, devices, known)[0]

    def _attribute_locked(self, conn: Connection, referee_id: str, at: datetime,
                          devices: set[str], known: dict[str, Fingerprint]
                          ) -> tuple[Referral | None, list[fraud.Hit], bool]:  # fmt: skip
        """The referee's referral, made now if new: (referral or None, rules hit, made)."""
        existing = _referral_of(conn, self.pid, referee_id)
        if existing is not None:
            return existing, [], False
        who = referral_touches.c.customer_id == referee_id
        if devices:
            who = who | referral_touches.c.anonymous_id.in_(sorted(devices))
        touch = conn.execute(sa.select(referral_touches)
                             .where(referral_touches.c.programme_id == self.pid).where(who)
                             .where(referral_touches.c.ts >= at - self.window)
                             .where(referral_touches.c.ts <= at)
                             .order_by(referral_touches.c.ts, referral_touches.c.touch_id)
                             .limit(1)).mappings().first()  # fmt: skip
        if touch is None:
            return None, [], False
        referrer_id = str(touch["referrer_id"])
        fps = self.identities([referrer_id]) | known
        referee_fp = fps.get(referee_id, Fingerprint(referee_id)).with_devices(
            devices | ({touch["anonymous_id"]} if touch["anonymous_id"] else set()), self.key)
        referrer_fp = fps.get(referrer_id, Fingerprint(referrer_id)).with_devices(
            self._feed_devices(referrer_id), self.key)
        hits = fraud.check(conn, self.pid, self.programme.fraud, referrer_fp, referee_fp, at)
        status = "flagged" if hits else "active"
        result = conn.execute(sa.insert(referrals).values(
            programme_id=self.pid, referee_id=referee_id, referrer_id=referrer_id,
            code=touch["code"], how=touch["how"], touch_event_id=touch["event_id"],
            touched_at=_utc(touch["ts"]), attributed_at=at, status=status))  # fmt: skip
        referral_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        rows = [{"referral_id": referral_id, "kind": k, "digest": d, "programme_id": self.pid}
                for k, d in referee_fp.items()]  # fmt: skip
        if rows:
            conn.execute(sa.insert(referral_fingerprints), rows)
        now = self.clock()
        for hit in hits:
            conn.execute(sa.insert(referral_flags).values(
                referral_id=referral_id, rule=hit.rule.value,
                evidence=json.dumps(hit.evidence, sort_keys=True), flagged_at=now,
                review="open"))  # fmt: skip
        self.store.audit(conn, actor=self.actor, action="referral.attribute", entity="referral",
                         entity_id=str(referral_id),
                         after={"programme": self.pid, "status": status,
                                "rules": [h.rule.value for h in hits]})  # fmt: skip
        return _referral_of(conn, self.pid, referee_id), hits, True

    def _feed_devices(self, customer_id: str) -> set[str]:
        """Devices the customer's events in the feed came from."""
        q = (sa.select(event_feed_table.c.anonymous_id).distinct()
             .where(event_feed_table.c.customer_id == customer_id)
             .where(event_feed_table.c.anonymous_id.is_not(None)).limit(100))  # fmt: skip
        with self.store.engine.connect() as conn:
            return {str(d) for d in conn.execute(q).scalars()}

    # -- steps --------------------------------------------------------------------------------
    def _step_event(self, step: Step, event: ReferralEvent, ts: datetime,
                    summary: Summary) -> str:  # fmt: skip
        """Handle one step event; returns the outcome (see :meth:`_reach`) or why it was
        skipped (condition_not_met, not_referred)."""
        if step.where is not None and not _meets(event.properties, step.where.property,
                                                  step.where.at_least):  # fmt: skip
            summary.skipped["condition_not_met"] += 1
            return "condition_not_met"
        customer = str(event.customer_id)
        with self.store.engine.connect() as conn:
            referral = _referral_of(conn, self.pid, customer)
        if referral is None:
            if step.id != self.programme.steps[0].id:
                summary.skipped["not_referred"] += 1
                return "not_referred"
            devices = ({event.anonymous_id} if event.anonymous_id else set()) | \
                self._feed_devices(customer)
            known = self.identities([customer])
            with self.store.locked(rewards.programme_lock(self.pid)) as conn:
                referral, hits, created = self._attribute_locked(conn, customer, ts, devices,
                                                                 known)  # fmt: skip
            if referral is None:
                summary.skipped["not_referred"] += 1
                return "not_referred"
            summary.attributed += int(created)
            summary.flagged += int(created and bool(hits))
        # the referrer is known now: lock both customers' points with the budgets
        with self.store.locked(*rewards.locks(self.programme, referral.referee_id,
                                              referral.referrer_id)) as conn:  # fmt: skip
            current = _referral_of(conn, self.pid, customer)
            assert current is not None  # referrals are never deleted
            outcome = self._reach(conn, current, step, event.event_id, ts)
        _count(summary, outcome)
        return outcome

    def _reach(self, conn: Connection, referral: Referral, step: Step, event_id: str,
               ts: datetime) -> str:  # fmt: skip
        """Record that ``referral`` reached ``step`` (once) and grant or withhold its rewards.
        Returns what happened: duplicate, out_of_order, too_late, before_touch (not
        recorded), or the step's reward status: issued, none, refused, withheld, forfeited."""
        done = conn.execute(sa.select(referral_steps.c.step_id)
                            .where(referral_steps.c.referral_id == referral.referral_id)).scalars()  # fmt: skip
        reached = set(done)
        if step.id in reached:
            return "duplicate"
        index = [s.id for s in self.programme.steps].index(step.id)
        if index > 0 and self.programme.steps[index - 1].id not in reached:
            return "out_of_order"
        if step.within_days is not None and ts > referral.attributed_at + timedelta(
                days=step.within_days):  # fmt: skip
            return "too_late"
        if ts < referral.touched_at:
            return "before_touch"
        if referral.status in ELIGIBLE:
            outcome = rewards.grant(conn, self.ledger, self.catalogue, self.programme, step,
                                    referral_id=referral.referral_id,
                                    referrer_id=referral.referrer_id,
                                    referee_id=referral.referee_id, at=self.clock(),
                                    actor=self.actor)  # fmt: skip
            status, reason = outcome.status, outcome.reason
        else:
            # flagged: kept until a review clears it; confirmed fraud: never paid
            held = "forfeited" if referral.status == "fraud" else "withheld"
            status = held if step.rewards else "none"
            reason = f"referral is {referral.status}" if step.rewards else None
        conn.execute(sa.insert(referral_steps).values(
            referral_id=referral.referral_id, step_id=step.id, event_id=event_id,
            reached_at=ts, reward_status=status, reason=reason))  # fmt: skip
        return status

    def reach(self, referee_id: str, step_id: str, *, at: datetime, event_id: str | None = None,
              properties: dict[str, Any] | None = None) -> str:  # fmt: skip
        """Record a step for a referee from Python (e.g. a back-office drawdown feed): the
        same as the step's event with these ``properties`` (its ``where`` still applies).
        Returns the outcome: the step's reward status, or why it did not count."""
        step = self.programme.step(step_id)
        event = ReferralEvent(event_id or f"reach:{referee_id}:{step_id}", step.event, at,
                              customer_id=referee_id, properties=properties or {})  # fmt: skip
        return self._step_event(step, event, _utc(at), Summary())

    # -- reading ------------------------------------------------------------------------------
    def referral(self, referee_id: str) -> Referral:
        with self.store.engine.connect() as conn:
            found = _referral_of(conn, self.pid, referee_id)
        if found is None:
            raise NotFound(f"customer {referee_id} was not referred in programme '{self.pid}'")
        return found

    def steps_of(self, referral_id: int) -> list[dict[str, Any]]:
        q = (sa.select(referral_steps).where(referral_steps.c.referral_id == referral_id))
        order = {s.id: i for i, s in enumerate(self.programme.steps)}
        with self.store.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        return sorted(rows, key=lambda r: order.get(r["step_id"], 99))


def _count(summary: Summary, outcome: str) -> None:
    if outcome in ("duplicate", "out_of_order", "too_late", "before_touch"):
        summary.skipped[outcome] += 1
        return
    summary.steps += 1
    if outcome == "issued":
        summary.rewards += 1
    elif outcome == "refused":
        summary.refused += 1
    elif outcome in ("withheld", "forfeited"):
        summary.withheld += 1


def _meets(properties: dict[str, Any], name: str, at_least: Decimal) -> bool:
    value = properties.get(name)
    if isinstance(value, bool) or value is None:
        return False
    try:
        return Decimal(str(value)) >= at_least
    except InvalidOperation:
        return False


def _feed_event(row: Any) -> ReferralEvent:
    return ReferralEvent(row["event_id"], row["event_name"], _utc(row["ts"]), row["customer_id"],
                         row["anonymous_id"],
                         json.loads(row["properties"]) if row["properties"] else {},
                         int(row["seq"]))  # fmt: skip


def _referrals_of(conn: Connection, programme_id: str,
                  referee_ids: Sequence[str | None]) -> list[Referral]:  # fmt: skip
    ids = sorted({r for r in referee_ids if r})
    if not ids:
        return []
    rows = conn.execute(sa.select(referrals).where(referrals.c.programme_id == programme_id)
                        .where(referrals.c.referee_id.in_(ids))).mappings()  # fmt: skip
    return [referral_from(r) for r in rows]


def _referral_of(conn: Connection, programme_id: str, referee_id: str) -> Referral | None:
    row = conn.execute(sa.select(referrals).where(referrals.c.programme_id == programme_id)
                       .where(referrals.c.referee_id == referee_id)).mappings().first()  # fmt: skip
    return None if row is None else referral_from(row)


def referral_from(row: Any) -> Referral:
    return Referral(int(row["referral_id"]), row["programme_id"], row["referee_id"],
                    row["referrer_id"], row["code"], row["how"], _utc(row["touched_at"]),
                    _utc(row["attributed_at"]), row["status"])  # fmt: skip


def _utc(value: datetime) -> datetime:
    # SQLite keeps datetimes without their offset: everything is written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
