"""Running journeys: schedules fire, events trigger, customers step through send / wait /
branch / exit, and every send becomes an outbox row.

One :meth:`JourneyRunner.tick` does three things, each safe to repeat and to run in several
processes at once:

1. **Schedules and starts**: a *scheduled* campaign is started by the system when its schedule
   comes due (``at`` passed, the first ``cron`` firing, at once for an ``event`` trigger); a
   running one-off campaign enters its plan's contacts once, a cron campaign once per firing
   (a fresh plan each time: today's scores, consents and caps).
2. **Events** (the live feed, :mod:`lodestar.campaigns.event_feed`), read per campaign from a
   cursor kept in the same transaction as what they cause: the trigger event enters the
   customer (under the re-entry rule), the goal event ends their journey at the goal and
   withdraws their sends still waiting in the outbox, a wait's ``until_event`` ends the wait.
3. **Steps**: due entries are claimed with a lease (as outbox rows are) and advanced through
   the compiled program (:mod:`lodestar.campaigns.journey_program`) until they wait or end.

Exactly once per (campaign, step, customer entry): a send's outbox key is the campaign, the
step's label with the entry's id, and the customer, so advancing the same entry twice — a
runner killed between enqueuing and saving the entry — enqueues nothing new. Entries are keyed
by (campaign, customer, round or n-th entry), so a firing or a trigger processed twice enters
nobody twice.

Branches: ``if_event`` — did the customer do it since the last wait began (since entering when
there was no wait); ``if_responded`` — a click or reply receipt for one of this entry's
messages (a goal event ends the journey before any branch can ask); ``if_attribute`` — the
audience expression on the profile; ``random_split`` — a salted hash of the campaign, step and
customer, so the same customer always takes the same side.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from lodestar.campaigns import cron, event_feed
from lodestar.campaigns.definition import CampaignDefinition, SendStep, Step
from lodestar.campaigns.journey_program import Instruction, Program, compile_journey
from lodestar.campaigns.lifecycle import Actor, CampaignRecord, Campaigns, State
from lodestar.campaigns.outbox import Outbox
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import (
    campaigns as campaigns_table,
)
from lodestar.storage.operational_tables import (
    delivery_events,
    journey_cursors,
    journey_entries,
    outbox,
)
from lodestar.storage.operational_tables import (
    event_feed as feed_table,
)

ACTIVE, DONE = "active", "done"
SYSTEM = Actor("scheduler", "system")
#: delivery statuses that count as the customer responding to a message
RESPONSES = ("clicked", "replied")
#: a trigger event older than this (a backfill, a late batch) starts no journey
TRIGGER_FRESHNESS = timedelta(hours=24)
_LIVE = (State.SCHEDULED, State.RUNNING, State.PAUSED, State.COMPLETED, State.CANCELLED)


class Audience(Protocol):
    """What the runner needs from the workspace: who a plan contacts, who matches an
    expression."""

    def plan_contacts(self, definition: CampaignDefinition, at: datetime) -> list[dict[str, Any]]:
        """The contacts of a fresh plan: ``customer_id``, ``channel``, ``offer_id``, ``send_at``,
        ``purpose``."""
        ...

    def matching(self, expression: str, customer_ids: Sequence[str]) -> set[str]:
        """Which of ``customer_ids`` the audience expression selects."""
        ...


@dataclass
class JourneyStats:
    started: int = 0
    entered: int = 0
    advanced: int = 0
    enqueued: int = 0
    waiting: int = 0
    exited: dict[str, int] = field(default_factory=dict)
    events: int = 0

    def add(self, other: JourneyStats) -> None:
        for name in ("started", "entered", "advanced", "enqueued", "waiting", "events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.exited.items():
            self.exited[reason] = self.exited.get(reason, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Entry:
    id: int
    campaign_id: str
    customer_id: str
    version: int
    pc: int
    wake_at: datetime | None
    waiting_since: datetime | None
    until_event: str | None
    channel: str | None
    offer_id: str | None
    purpose: str
    entered_at: datetime
    changes: dict[str, Any] = field(default_factory=dict)


class JourneyRunner:
    def __init__(self, store: OperationalStore, audience: Audience, *, name: str | None = None,
                 batch: int = 500, lease_seconds: float = 60.0,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.store = store
        self.audience = audience
        self.campaigns = Campaigns(store)
        self.outbox = Outbox(store)
        # unique per runner: a lease is only ever released by the runner that holds it
        self.name = name or f"journeys:{uuid.uuid4().hex[:12]}"
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self._programs: dict[tuple[str, int], tuple[CampaignDefinition, Program]] = {}

    # -- the tick -----------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> JourneyStats:
        # one zone for everything written: SQLite keeps no zone, and compares the text
        at = (now or self.clock()).astimezone(UTC)
        stats = JourneyStats()
        for record in self.campaigns.all():
            if record.state not in _LIVE:
                continue
            definition = self._definition(record.campaign_id, record.version)
            if definition.schedule is None and not definition.journey:
                continue  # a plan sent by hand (lodestar campaign send)
            if record.state in (State.COMPLETED, State.CANCELLED):
                self._close(record, at, stats)
                continue
            if record.state is State.SCHEDULED:
                if not self._due_to_start(definition, at):
                    continue
                self.campaigns.act(record.campaign_id, "start", SYSTEM,
                                   comment="the schedule came due")  # fmt: skip
                stats.started += 1
                record = self.campaigns.get(record.campaign_id)
            self._schedule(record, definition, at, stats)
            self._events(record, definition, at, stats)
        while True:
            got = self._advance_due(at)
            stats.add(got)
            if got.advanced < self.batch:
                break
        return stats

    # -- 1. schedules -------------------------------------------------------------------------
    @staticmethod
    def _due_to_start(definition: CampaignDefinition, at: datetime) -> bool:
        """A one-off campaign starts at its time; a cron or event campaign at once (running
        is what arms it: rounds come at the firings, entries with the events)."""
        schedule = definition.schedule
        return schedule is None or schedule.at is None or schedule.at <= at

    def _schedule(self, record: CampaignRecord, definition: CampaignDefinition, at: datetime,
                  stats: JourneyStats) -> None:  # fmt: skip
        schedule = definition.schedule
        if record.state is not State.RUNNING or (schedule is not None and schedule.event):
            return
        cursor = self._cursor(record.campaign_id, at)
        fire: datetime | None
        if schedule is None or schedule.at is not None:
            # a one-off round: at its time, or at once for a journey started by hand
            fire = None if cursor["rounds"] else (schedule.at if schedule else at)
            if fire is not None and fire > at:
                return
        else:
            assert schedule.cron is not None
            since = cursor["checked_until"] or (at - timedelta(minutes=1))
            fire = cron.last_fire(schedule.cron, schedule.timezone, since, at)
        if fire is None:
            if schedule is not None and schedule.cron is not None:
                self._save_cursor(record.campaign_id, checked_until=at)
            return
        contacts = self.audience.plan_contacts(definition, at)
        tag = "R" + fire.astimezone(UTC).strftime("%Y%m%d%H%M")
        rows = [self._entry_row(record, c["customer_id"], f"{tag}", at, c.get("send_at"),
                                channel=c.get("channel"), offer_id=c.get("offer_id"),
                                purpose=c.get("purpose") or _purpose(definition))
                for c in contacts]  # fmt: skip
        with self.store.locked(f"journey:{record.campaign_id}") as conn:
            added = _insert_new(conn, self.store, rows)
            conn.execute(sa.update(journey_cursors)
                         .where(journey_cursors.c.campaign_id == record.campaign_id)
                         .values(checked_until=at, rounds=journey_cursors.c.rounds + 1))  # fmt: skip
            self.store.audit(conn, actor=SYSTEM.name, action="journey.round", entity="campaign",
                             entity_id=record.campaign_id,
                             after={"round": tag, "contacts": len(rows), "entered": added})  # fmt: skip
        stats.entered += added

    # -- 2. events ----------------------------------------------------------------------------
    def _events(self, record: CampaignRecord, definition: CampaignDefinition, at: datetime,
                stats: JourneyStats) -> None:  # fmt: skip
        names = sorted(definition.listened_events())
        if not names:
            return
        cid = record.campaign_id
        self._cursor(cid, at)  # created at the feed's end the first time
        schedule = definition.schedule
        trigger = schedule.event if schedule is not None else None
        goal = definition.goal.event
        limit = self.batch * 4
        while True:
            # read under the campaign's lock, from the cursor as committed: two runners never
            # handle the same events, and neither skips any
            with self.store.locked(f"journey:{cid}") as conn:
                seq = conn.execute(sa.select(journey_cursors.c.event_seq)
                                   .where(journey_cursors.c.campaign_id == cid)).scalar_one()  # fmt: skip
                got = event_feed.read_after(self.store, seq, names=names, limit=limit, conn=conn)
                for e in got:
                    if e.customer_id is None:
                        continue  # an anonymous event cannot enter or end a journey
                    if goal and e.event_name == goal:
                        n = self._exit_customer(conn, cid, e.customer_id, "goal", e.ts, at)
                        stats.exited["goal"] = stats.exited.get("goal", 0) + n
                    if record.state is not State.RUNNING:
                        continue  # paused: goals still count, nobody enters, no wait ends
                    self._end_waits(conn, cid, e.customer_id, e.event_name, at)
                    if trigger and e.event_name == trigger and e.ts >= at - TRIGGER_FRESHNESS:
                        stats.entered += self._trigger(conn, record, definition, e, at)
                if got:
                    conn.execute(sa.update(journey_cursors)
                                 .where(journey_cursors.c.campaign_id == cid)
                                 .values(event_seq=got[-1].seq))  # fmt: skip
            stats.events += len(got)
            if len(got) < limit:
                return

    def _trigger(self, conn: sa.Connection, record: CampaignRecord,
                 definition: CampaignDefinition, e: event_feed.StoredEvent, at: datetime) -> int:  # fmt: skip
        assert definition.schedule is not None and e.customer_id is not None
        schedule = definition.schedule
        past = conn.execute(sa.select(journey_entries.c.status, journey_entries.c.entered_at)
                            .where((journey_entries.c.campaign_id == record.campaign_id)
                                   & (journey_entries.c.customer_id == e.customer_id))
                            .order_by(journey_entries.c.id)).all()  # fmt: skip
        if past:
            if schedule.reentry == "once" or any(s == ACTIVE for s, _ in past):
                return 0
            if schedule.reentry == "after_days":
                assert schedule.reentry_days is not None
                last = _aware(past[-1][1])
                if e.ts < last + timedelta(days=schedule.reentry_days):
                    return 0
        audience = definition.plan.audience if definition.plan is not None else None
        if audience and e.customer_id not in self.audience.matching(audience, [e.customer_id]):
            return 0
        row = self._entry_row(record, e.customer_id, f"E{len(past) + 1}", at, None,
                              channel=None, offer_id=None, purpose=_purpose(definition),
                              trigger_event_id=e.event_id)  # fmt: skip
        return _insert_new(conn, self.store, [row])

    def _exit_customer(self, conn: sa.Connection, cid: str, customer_id: str, reason: str,
                       when: datetime, at: datetime) -> int:  # fmt: skip
        """End the customer's active entries (the goal reached) and withdraw their sends
        still waiting in the outbox."""
        ids = [r[0] for r in conn.execute(sa.select(journey_entries.c.id).where(
            (journey_entries.c.campaign_id == cid) & (journey_entries.c.customer_id == customer_id)
            & (journey_entries.c.status == ACTIVE)
            & (journey_entries.c.entered_at <= when)))]  # fmt: skip
        if not ids:
            return 0
        conn.execute(sa.update(journey_entries).where(journey_entries.c.id.in_(ids)).values(
            status=DONE, exit_reason=reason, exited_at=at, updated_at=at, wake_at=None,
            claimed_by=None, lease_until=None))  # fmt: skip
        _withdraw(conn, cid, customer_id, ids, f"journey_{reason}")
        return len(ids)

    @staticmethod
    def _end_waits(conn: sa.Connection, cid: str, customer_id: str, name: str,
                   at: datetime) -> None:  # fmt: skip
        conn.execute(sa.update(journey_entries).where(
            (journey_entries.c.campaign_id == cid) & (journey_entries.c.customer_id == customer_id)
            & (journey_entries.c.status == ACTIVE) & (journey_entries.c.until_event == name)
            & (journey_entries.c.wake_at > at)).values(wake_at=at, until_event=None))  # fmt: skip

    def _close(self, record: CampaignRecord, at: datetime, stats: JourneyStats) -> None:
        """A completed or cancelled campaign: its customers leave, its waiting sends are
        withdrawn."""
        reason = "cancelled" if record.state is State.CANCELLED else "completed"
        cid = record.campaign_id
        with self.store.locked(f"journey:{cid}") as conn:
            active = conn.execute(sa.select(journey_entries.c.id, journey_entries.c.customer_id)
                                  .where((journey_entries.c.campaign_id == cid)
                                         & (journey_entries.c.status == ACTIVE))).all()  # fmt: skip
            if not active:
                return
            conn.execute(sa.update(journey_entries).where(
                (journey_entries.c.campaign_id == cid) & (journey_entries.c.status == ACTIVE))
                .values(status=DONE, exit_reason=f"campaign_{reason}", exited_at=at,
                        updated_at=at, wake_at=None, claimed_by=None, lease_until=None))  # fmt: skip
            if reason == "cancelled":
                conn.execute(sa.update(outbox).where(
                    (outbox.c.campaign_id == cid) & (outbox.c.status == "pending"))
                    .values(status="skipped", last_error="campaign_cancelled"))  # fmt: skip
        key = f"campaign_{reason}"
        stats.exited[key] = stats.exited.get(key, 0) + len(active)

    # -- 3. steps -----------------------------------------------------------------------------
    def _advance_due(self, at: datetime) -> JourneyStats:
        stats = JourneyStats()
        entries = self._claim(at)
        if not entries:
            return stats
        stats.advanced = len(entries)
        by_campaign: dict[str, list[_Entry]] = defaultdict(list)
        for e in entries:
            by_campaign[e.campaign_id].append(e)
        for cid, group in by_campaign.items():
            record = self.campaigns.get(cid)
            if record.state is not State.RUNNING:
                self._release(group)  # paused: they wait where they are
                continue
            facts = _Facts(self.store, self.audience, cid, group, at)
            sends: list[dict[str, Any]] = []
            for entry in group:
                definition, program = self._program(cid, entry.version)
                sends += self._run(entry, definition, program, facts, at)
            stats.enqueued += self.outbox.enqueue(sends, now=at)
            for entry in group:
                reason = entry.changes.get("exit_reason")
                if reason:
                    stats.exited[reason] = stats.exited.get(reason, 0) + 1
                elif entry.changes.get("wake_at"):
                    stats.waiting += 1
            self._save(group, at)
        return stats

    def _run(self, entry: _Entry, definition: CampaignDefinition, program: Program,
             facts: _Facts, at: datetime) -> list[dict[str, Any]]:  # fmt: skip
        sends: list[dict[str, Any]] = []
        pc = entry.pc
        for _ in range(len(program) + 1):  # the program only jumps forward
            if pc >= len(program):
                entry.changes.update(status=DONE, exit_reason="completed", exited_at=at,
                                     wake_at=None, pc=pc)  # fmt: skip
                return sends
            ins = program.code[pc]
            if ins.op == "send":
                assert ins.send is not None
                channel = ins.send.channel or entry.channel
                if channel is not None:
                    sends.append({"campaign_id": entry.campaign_id,
                                  "step": f"{ins.label}@{entry.id}",
                                  "customer_id": entry.customer_id, "channel": channel,
                                  "offer_id": ins.send.offer or entry.offer_id,
                                  "purpose": entry.purpose, "send_at": at})  # fmt: skip
                pc += 1
            elif ins.op == "wait":
                assert ins.wait is not None
                span = timedelta(days=ins.wait.days or 0, hours=ins.wait.hours or 0)
                entry.changes.update(pc=pc + 1, wake_at=at + span, waiting_since=at,
                                     until_event=ins.wait.until_event)  # fmt: skip
                return sends
            elif ins.op == "branch":
                pc = pc + 1 if facts.test(entry, ins, definition) else _target(ins)
            elif ins.op == "jump":
                pc = _target(ins)
            else:  # exit
                entry.changes.update(status=DONE, exit_reason="goal" if ins.goal else "exit",
                                     exit_label=ins.label, exited_at=at, wake_at=None, pc=pc)  # fmt: skip
                return sends
        raise AssertionError("a journey program jumped backwards")  # compile_journey cannot

    def _definition(self, cid: str, version: int) -> CampaignDefinition:
        return self._program(cid, version)[0]

    def _program(self, cid: str, version: int) -> tuple[CampaignDefinition, Program]:
        key = (cid, version)
        if key not in self._programs:
            definition = self.campaigns.definition(cid, version)
            # no journey: one send of the plan's action (channel and offer per customer)
            steps = definition.journey or (Step(send=SendStep()),)
            self._programs[key] = (definition, compile_journey(steps))
        return self._programs[key]

    def _claim(self, at: datetime) -> list[_Entry]:
        running = sa.select(campaigns_table.c.campaign_id).where(
            campaigns_table.c.state == State.RUNNING.value)  # paused entries wait where they are
        due = sa.and_(journey_entries.c.status == ACTIVE, journey_entries.c.wake_at <= at,
                      journey_entries.c.campaign_id.in_(running),
                      sa.or_(journey_entries.c.lease_until.is_(None),
                             journey_entries.c.lease_until < at))  # fmt: skip
        pick = (sa.select(journey_entries.c.id).where(due)
                .order_by(journey_entries.c.wake_at, journey_entries.c.id).limit(self.batch))  # fmt: skip
        with self.store.locked() as conn:
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = [r[0] for r in conn.execute(pick)]
            if not ids:
                return []
            conn.execute(sa.update(journey_entries).where(journey_entries.c.id.in_(ids)).values(
                claimed_by=self.name,
                lease_until=at + timedelta(seconds=self.lease_seconds)))  # fmt: skip
            rows = conn.execute(sa.select(journey_entries).where(journey_entries.c.id.in_(ids))
                                .order_by(journey_entries.c.id)).mappings().all()  # fmt: skip
        return [_Entry(int(r["id"]), r["campaign_id"], r["customer_id"], int(r["version"]),
                       int(r["pc"]), _aware(r["wake_at"]), _aware(r["waiting_since"]),
                       r["until_event"], r["channel"], r["offer_id"], r["purpose"],
                       _aware(r["entered_at"]))
                for r in rows]  # fmt: skip

    def _save(self, group: list[_Entry], at: datetime) -> None:
        with self.store.begin() as conn:
            for entry in group:
                values = {"claimed_by": None, "lease_until": None, "updated_at": at,
                          **entry.changes}  # fmt: skip
                # only while this runner still holds the entry, and it has not left meanwhile
                saved = conn.execute(sa.update(journey_entries).where(
                    (journey_entries.c.id == entry.id) & (journey_entries.c.status == ACTIVE)
                    & (journey_entries.c.claimed_by == self.name)).values(**values))  # fmt: skip
                if saved.rowcount:
                    continue
                status = conn.execute(sa.select(journey_entries.c.status)
                                      .where(journey_entries.c.id == entry.id)).scalar_one()  # fmt: skip
                if status == DONE:
                    # it reached the goal (or the campaign closed) while we advanced it: what
                    # we just enqueued for it must not go out. (A lease lost to another runner
                    # is not this case: that runner's sends are these same keys.)
                    _withdraw(conn, entry.campaign_id, entry.customer_id, [entry.id],
                              "journey_exited")  # fmt: skip

    def _release(self, group: list[_Entry]) -> None:
        with self.store.begin() as conn:
            conn.execute(sa.update(journey_entries)
                         .where(journey_entries.c.id.in_([e.id for e in group])
                                & (journey_entries.c.claimed_by == self.name))
                         .values(claimed_by=None, lease_until=None))  # fmt: skip

    # -- bookkeeping --------------------------------------------------------------------------
    def _entry_row(self, record: CampaignRecord, customer_id: str, tag: str, at: datetime,
                   send_at: datetime | None, *, channel: str | None, offer_id: str | None,
                   purpose: str, trigger_event_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        # the plan's best send time starts the journey, when it is still ahead
        start = max(at, send_at) if send_at is not None else at
        return {"campaign_id": record.campaign_id, "customer_id": customer_id,
                "entry_key": f"{record.campaign_id}:{customer_id}:{tag}",
                "version": record.version, "status": ACTIVE, "pc": 0, "wake_at": start,
                "waiting_since": None, "until_event": None, "channel": channel,
                "offer_id": offer_id, "purpose": purpose, "trigger_event_id": trigger_event_id,
                "entered_at": at, "updated_at": at}  # fmt: skip

    def _cursor(self, cid: str, at: datetime) -> dict[str, Any]:
        """The campaign's cursor, created at the feed's end: events from before a campaign
        was first seen running do not trigger it."""
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(journey_cursors)
                               .where(journey_cursors.c.campaign_id == cid)).mappings().first()  # fmt: skip
        if row is not None:
            return {**row, "checked_until": _aware(row["checked_until"])}
        start = {"campaign_id": cid, "event_seq": event_feed.last_seq(self.store),
                 "checked_until": None, "rounds": 0}  # fmt: skip
        with self.store.begin() as conn:
            conn.execute(self.store.insert_new(journey_cursors, "campaign_id"), [start])
        return self._cursor(cid, at)

    def _save_cursor(self, cid: str, **values: Any) -> None:
        with self.store.begin() as conn:
            conn.execute(sa.update(journey_cursors).where(journey_cursors.c.campaign_id == cid)
                         .values(**values))  # fmt: skip


class _Facts:
    """What the branches of one batch of entries ask, fetched once for the batch."""

    def __init__(self, store: OperationalStore, audience: Audience, cid: str,
                 entries: list[_Entry], at: datetime) -> None:  # fmt: skip
        self.store, self.audience, self.cid, self.at = store, audience, cid, at
        self.customers = sorted({e.customer_id for e in entries})
        self._events: dict[str, list[tuple[str, datetime]]] | None = None
        self._responded: set[int] | None = None
        self._matching: dict[str, set[str]] = {}
        self._since = min((e.waiting_since or e.entered_at) for e in entries)

    def test(self, entry: _Entry, ins: Instruction, definition: CampaignDefinition) -> bool:
        b = ins.branch
        assert b is not None
        if b.if_event is not None:
            since = entry.waiting_since or entry.entered_at
            return any(name == b.if_event and since <= ts <= self.at
                       for name, ts in self.events().get(entry.customer_id, []))  # fmt: skip
        if b.if_responded is not None:
            return (entry.id in self.responded()) == b.if_responded
        if b.if_attribute is not None:
            if b.if_attribute not in self._matching:
                self._matching[b.if_attribute] = self.audience.matching(b.if_attribute,
                                                                        self.customers)  # fmt: skip
            return entry.customer_id in self._matching[b.if_attribute]
        assert b.random_split is not None
        return split_share(self.cid, ins.label, entry.customer_id) < b.random_split

    def events(self) -> dict[str, list[tuple[str, datetime]]]:
        if self._events is None:
            found: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
            for chunk in _chunks(self.customers, 900):
                q = sa.select(feed_table.c.customer_id, feed_table.c.event_name, feed_table.c.ts
                              ).where(feed_table.c.customer_id.in_(chunk)
                                      & (feed_table.c.ts >= self._since))  # fmt: skip
                with self.store.engine.connect() as conn:
                    for customer, name, ts in conn.execute(q):
                        found[customer].append((name, _aware(ts)))
            self._events = found
        return self._events

    def responded(self) -> set[int]:
        """Ids of the entries one of whose messages was clicked or replied to."""
        if self._responded is None:
            by_key = delivery_events.c.idempotency_key == outbox.c.idempotency_key
            out: set[int] = set()
            for chunk in _chunks(self.customers, 900):
                q = (sa.select(outbox.c.step).select_from(outbox.join(delivery_events, by_key))
                     .where((outbox.c.campaign_id == self.cid) & outbox.c.customer_id.in_(chunk)
                            & delivery_events.c.status.in_(RESPONSES)))  # fmt: skip
                with self.store.engine.connect() as conn:
                    for (step,) in conn.execute(q):
                        _, _, entry_id = str(step).partition("@")
                        if entry_id.isdigit():
                            out.add(int(entry_id))
            self._responded = out
        return self._responded


def split_share(campaign_id: str, label: str, customer_id: str) -> float:
    """A customer's place in [0, 1) for a random split: the same every time it is asked."""
    digest = hashlib.sha256(f"{campaign_id}|{label}|{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _withdraw(conn: sa.Connection, cid: str, customer_id: str, entry_ids: Iterable[int],
              reason: str) -> None:  # fmt: skip
    steps = [outbox.c.step.like(f"%@{i}") for i in entry_ids]
    conn.execute(sa.update(outbox).where(
        (outbox.c.campaign_id == cid) & (outbox.c.customer_id == customer_id)
        & (outbox.c.status == "pending") & sa.or_(*steps))
        .values(status="skipped", last_error=reason))  # fmt: skip


def _insert_new(conn: sa.Connection, store: OperationalStore, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    statement = store.insert_new(journey_entries, "entry_key").returning(journey_entries.c.id)
    added = 0
    for start in range(0, len(rows), 5000):
        added += len(conn.execute(statement, rows[start : start + 5000]).fetchall())
    return added


def _purpose(definition: CampaignDefinition) -> str:
    return definition.plan.purpose if definition.plan is not None else "marketing"


def _target(ins: Instruction) -> int:
    assert ins.target is not None
    return ins.target


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite keeps no zone: the store writes UTC
    return value
