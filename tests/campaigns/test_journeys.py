"""Journeys run: triggers with re-entry rules, waits cut short by events, branches on events,
responses, attributes and random splits, goals that withdraw waiting sends, schedules (one-off
and cron), pause and cancel, and every send exactly once — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from lodestar.campaigns import event_feed
from lodestar.campaigns.definition import CampaignDefinition
from lodestar.campaigns.delivery import record_events
from lodestar.campaigns.event_feed import FeedEvent
from lodestar.campaigns.journeys import JourneyRunner, split_share
from lodestar.campaigns.lifecycle import Actor, Campaigns
from lodestar.campaigns.monitoring import funnel, journey_counts, step_funnel
from lodestar.campaigns.outbox import Outbox
from lodestar.channels.webhooks import DeliveryEvent, DeliveryStatus

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
MAKER, CHECKER = Actor("wang", "marketer"), Actor("li", "approver")

SEED_JOURNEY = """\
campaign: CMP_TRIGGER
name: 申请未完成挽回
schedule: {event: quota_test, reentry: REENTRY}
goal: {event: drawdown}
journey:
  - send: {channel: app_push}
  - wait: {days: 3, until_event: apply_start}
  - branch:
      if_event: apply_start
      then: [{exit: {goal: true}}]
  - send: {channel: sms}
  - wait: {days: 2}
  - branch:
      if_responded: false
      then: [{send: {channel: voice_robot}}]
"""


class FakeAudience:
    """The workspace's side: a fixed plan and a fixed set of matching customers."""

    def __init__(self, contacts=(), members=None) -> None:
        self.contacts = list(contacts)
        self.members = members
        self.plans = 0

    def plan_contacts(self, definition, at):
        self.plans += 1
        return [dict(c) for c in self.contacts]

    def matching(self, expression, customer_ids):
        return {c for c in customer_ids if self.members is None or c in self.members}


def run(store, text: str, *, action: str = "start") -> Campaigns:
    campaigns = Campaigns(store)
    d = CampaignDefinition.from_text(text, "campaign.yaml")
    campaigns.save(d, MAKER)
    campaigns.act(d.campaign, "submit", MAKER)
    campaigns.act(d.campaign, "approve", CHECKER)
    campaigns.act(d.campaign, action, MAKER)
    return campaigns


def events(store, *items: tuple[str, str, datetime]) -> None:
    event_feed.append(store, [FeedEvent(f"{c}-{n}-{ts.isoformat()}", n, ts, customer_id=c)
                              for c, n, ts in items])  # fmt: skip


def sends(store, customer: str | None = None) -> list[tuple[str, str, str]]:
    return [(r["customer_id"], r["step"].partition("@")[0], r["channel"])
            for r in Outbox(store).rows("CMP_TRIGGER")
            if customer is None or r["customer_id"] == customer]  # fmt: skip


def test_the_seeds_journey_end_to_end(store) -> None:
    run(store, SEED_JOURNEY.replace("REENTRY", "once"))
    runner = JourneyRunner(store, FakeAudience())
    runner.tick(T0)  # arms the trigger: events from before the campaign do not count
    events(store, ("C1", "quota_test", T0), ("C2", "quota_test", T0), ("C3", "quota_test", T0),
           ("C9", "app_open", T0))  # fmt: skip
    got = runner.tick(T0 + timedelta(seconds=1))
    assert got.entered == 3 and got.enqueued == 3
    assert sorted(sends(store)) == [(c, "1", "app_push") for c in ("C1", "C2", "C3")]
    # day 1: C1 starts an application -> the wait ends at once, the branch exits at the goal
    events(store, ("C1", "apply_start", T0 + timedelta(days=1)))
    got = runner.tick(T0 + timedelta(days=1, seconds=1))
    assert got.exited == {"goal": 1}
    # day 3: the others get the SMS; C2 clicks it
    runner.tick(T0 + timedelta(days=3, seconds=2))
    assert sorted(sends(store, "C2")) == [("C2", "1", "app_push"), ("C2", "4", "sms")]
    sms = next(r for r in Outbox(store).rows("CMP_TRIGGER")
               if r["customer_id"] == "C2" and r["step"].startswith("4@"))  # fmt: skip
    record_events(store, [DeliveryEvent("sms", DeliveryStatus.CLICKED, T0 + timedelta(days=4),
                                        idempotency_key=sms["idempotency_key"])])  # fmt: skip
    # day 5: C3 did not respond -> the voice robot calls; C2 responded -> no call
    got = runner.tick(T0 + timedelta(days=5, seconds=3))
    assert got.exited == {"completed": 2}
    assert sends(store, "C1") == [("C1", "1", "app_push")]
    assert ("C3", "6t1", "voice_robot") in sends(store, "C3")
    assert not [s for s in sends(store, "C2") if s[2] == "voice_robot"]
    assert journey_counts(store, "CMP_TRIGGER") == {"entered": 3, "goal": 1, "completed": 2}
    steps = {(s["step"], s["channel"]): s["queued"] for s in step_funnel(store, "CMP_TRIGGER")}
    assert steps == {("1", "app_push"): 3, ("4", "sms"): 2, ("6t1", "voice_robot"): 1}
    assert dict(funnel({"steps": step_funnel(store, "CMP_TRIGGER"),
                        "journeys": journey_counts(store, "CMP_TRIGGER")}))["clicked"] == 1  # fmt: skip


def test_a_goal_withdraws_the_sends_still_waiting(store) -> None:
    run(store, SEED_JOURNEY.replace("REENTRY", "once"))
    runner = JourneyRunner(store, FakeAudience())
    runner.tick(T0)
    events(store, ("C1", "quota_test", T0))
    runner.tick(T0 + timedelta(seconds=1))  # push queued (not sent: no worker here)
    events(store, ("C1", "drawdown", T0 + timedelta(hours=1)))
    got = runner.tick(T0 + timedelta(hours=1, seconds=1))
    assert got.exited == {"goal": 1}
    [row] = Outbox(store).rows("CMP_TRIGGER")
    assert (row["status"], row["last_error"]) == ("skipped", "journey_goal")
    assert runner.tick(T0 + timedelta(days=10)).enqueued == 0  # gone from the journey


@pytest.mark.parametrize(("reentry", "expected"), [
    ("once", 1), ("always", 2), ("after_days\n  reentry_days: 20", 1)])  # fmt: skip
def test_reentry_rules(store, reentry: str, expected: int) -> None:
    text = SEED_JOURNEY.replace("{event: quota_test, reentry: REENTRY}",
                                "\n  event: quota_test\n  reentry: " + reentry)  # fmt: skip
    run(store, text)
    runner = JourneyRunner(store, FakeAudience())
    runner.tick(T0)
    events(store, ("C1", "quota_test", T0))
    runner.tick(T0 + timedelta(seconds=1))
    # a second trigger while still in the journey never enters twice
    events(store, ("C1", "quota_test", T0 + timedelta(days=1)))
    assert runner.tick(T0 + timedelta(days=1, seconds=1)).entered == 0
    runner.tick(T0 + timedelta(days=4))  # the SMS
    runner.tick(T0 + timedelta(days=9))  # the journey ends (no response: voice call)
    assert journey_counts(store, "CMP_TRIGGER") == {"entered": 1, "completed": 1}
    events(store, ("C1", "quota_test", T0 + timedelta(days=10)))
    runner.tick(T0 + timedelta(days=10, seconds=1))
    assert journey_counts(store, "CMP_TRIGGER")["entered"] == expected


def test_the_trigger_audience_and_stale_events(store) -> None:
    text = SEED_JOURNEY.replace("REENTRY", "once") + "plan: {campaign: CMP_TRIGGER, " \
        "audience: \"status = 'active'\"}\n"  # fmt: skip
    run(store, text)
    runner = JourneyRunner(store, FakeAudience(members={"C1"}))
    runner.tick(T0)
    events(store, ("C1", "quota_test", T0), ("C2", "quota_test", T0),
           ("C3", "quota_test", T0 - timedelta(days=3)))  # a late backfill starts nothing
    assert runner.tick(T0 + timedelta(seconds=1)).entered == 1
    assert [s[0] for s in sends(store)] == ["C1"]


def test_repeating_a_tick_or_losing_a_runner_sends_nothing_twice(store) -> None:
    run(store, SEED_JOURNEY.replace("REENTRY", "once"))
    runner = JourneyRunner(store, FakeAudience(), lease_seconds=30)
    runner.tick(T0)
    events(store, *[(f"C{i}", "quota_test", T0) for i in range(20)])
    # a runner that dies after enqueuing, before saving the entries: simulate by running
    # the steps of claimed entries and dropping the save
    dying = JourneyRunner(store, FakeAudience(), lease_seconds=30)
    dying._events(dying.campaigns.get("CMP_TRIGGER"),
                  dying.campaigns.definition("CMP_TRIGGER"), T0, dying_stats := type(
                      "S", (), {"entered": 0, "events": 0, "exited": {}})())  # fmt: skip
    assert dying_stats.entered == 20
    dying._save = lambda group, at: None  # type: ignore[method-assign]
    assert dying._advance_due(T0 + timedelta(seconds=1)).enqueued == 20
    # another runner takes over after the lease: the same sends, recognised, none new
    got = runner.tick(T0 + timedelta(seconds=40))
    assert got.advanced == 20 and got.enqueued == 0
    assert len(Outbox(store).rows("CMP_TRIGGER")) == 20
    assert runner.tick(T0 + timedelta(seconds=41)).enqueued == 0


def test_concurrent_runners_enter_and_send_once(store) -> None:
    run(store, SEED_JOURNEY.replace("REENTRY", "always"))
    JourneyRunner(store, FakeAudience()).tick(T0)
    events(store, *[(f"C{i}", "quota_test", T0) for i in range(60)])
    at = T0 + timedelta(seconds=1)
    runners = [JourneyRunner(store, FakeAudience(), batch=7) for _ in range(4)]
    threads = [threading.Thread(target=r.tick, args=(at,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journey_counts(store, "CMP_TRIGGER") == {"entered": 60, "active": 60}
    assert sorted(sends(store)) == sorted((f"C{i}", "1", "app_push") for i in range(60))


def test_pause_holds_customers_and_cancel_withdraws(store) -> None:
    campaigns = run(store, SEED_JOURNEY.replace("REENTRY", "once"))
    runner = JourneyRunner(store, FakeAudience())
    runner.tick(T0)
    events(store, ("C1", "quota_test", T0))
    runner.tick(T0 + timedelta(seconds=1))
    campaigns.act("CMP_TRIGGER", "pause", MAKER)
    assert runner.tick(T0 + timedelta(days=4)).advanced == 0  # the SMS waits for the resume
    campaigns.act("CMP_TRIGGER", "resume", MAKER)
    assert runner.tick(T0 + timedelta(days=4)).enqueued == 1
    assert Outbox(store).counts("CMP_TRIGGER") == {"pending": 2}
    campaigns.act("CMP_TRIGGER", "cancel", MAKER)
    got = runner.tick(T0 + timedelta(days=4, seconds=1))
    assert got.exited == {"campaign_cancelled": 1}
    assert Outbox(store).counts("CMP_TRIGGER") == {"skipped": 2}


SCHEDULED = """\
campaign: CMP_TRIGGER
name: 定时旅程
plan: {campaign: CMP_TRIGGER}
schedule: SCHEDULE
journey:
  - send: {}
  - branch:
      random_split: 0.5
      then: [{send: {channel: sms}}]
      otherwise: [{wait: {hours: 1}}, {send: {channel: app_push, offer: other}}]
"""
CONTACTS = [{"customer_id": f"C{i}", "channel": "wecom", "offer_id": "card",
             "send_at": T0 + timedelta(hours=2)} for i in range(200)]  # fmt: skip


def test_a_one_off_schedule_starts_the_campaign_and_enters_its_plan_once(store) -> None:
    campaigns = run(store, SCHEDULED.replace("SCHEDULE", '{at: "2026-03-10T10:30:00+08:00"}'),
                    action="schedule")  # fmt: skip
    audience = FakeAudience(CONTACTS)
    runner = JourneyRunner(store, audience)
    assert runner.tick(T0).started == 0  # 10:00 Beijing: not yet
    got = runner.tick(T0 + timedelta(minutes=31))
    assert (got.started, got.entered, got.enqueued) == (1, 200, 0)  # first sends at send_at
    assert campaigns.get("CMP_TRIGGER").state.value == "running"
    runner.tick(T0 + timedelta(hours=2))
    runner.tick(T0 + timedelta(hours=4))
    assert audience.plans == 1
    rows = Outbox(store).rows("CMP_TRIGGER")
    first = [r for r in rows if r["step"].startswith("1@")]
    assert len(first) == 200 and {(r["channel"], r["offer_id"]) for r in first} == {("wecom",
                                                                                     "card")}
    split = [r for r in rows if r["step"].startswith("2t1@")]
    other = [r for r in rows if r["step"].startswith("2o2@")]
    assert len(split) + len(other) == 200 and 70 < len(split) < 130
    assert {r["offer_id"] for r in other} == {"other"}
    # the split is the customer's, not the dice's
    assert all(split_share("CMP_TRIGGER", "2", r["customer_id"]) < 0.5 for r in split)
    assert journey_counts(store, "CMP_TRIGGER") == {"entered": 200, "completed": 200}


def test_a_cron_schedule_enters_a_round_per_firing(store) -> None:
    # every Monday 09:00 in Beijing; 2026-03-09 and 2026-03-16 are Mondays
    run(store, SCHEDULED.replace("SCHEDULE", '{cron: "0 9 * * 1"}'), action="schedule")
    audience = FakeAudience(CONTACTS[:3])
    runner = JourneyRunner(store, audience)
    monday = datetime(2026, 3, 9, 0, 59, 30, tzinfo=UTC)  # 08:59:30 Beijing
    assert runner.tick(monday).started == 1
    assert runner.tick(monday + timedelta(seconds=20)).entered == 0
    assert runner.tick(monday + timedelta(seconds=40)).entered == 3  # 09:00:10
    assert runner.tick(monday + timedelta(minutes=5)).entered == 0
    assert runner.tick(monday + timedelta(days=7, seconds=40)).entered == 3
    assert audience.plans == 2 and journey_counts(store, "CMP_TRIGGER")["entered"] == 6


def test_a_branch_on_an_attribute(store) -> None:
    text = SCHEDULED.replace("SCHEDULE", '{at: "2026-03-10T10:00:00+08:00"}').replace(
        "random_split: 0.5", "if_attribute: \"value_tier = 'high'\"")  # fmt: skip
    run(store, text, action="schedule")
    JourneyRunner(store, FakeAudience(CONTACTS[:4], members={"C1", "C3"})).tick(
        T0 + timedelta(hours=3))  # fmt: skip
    rows = Outbox(store).rows("CMP_TRIGGER")
    assert sorted(r["customer_id"] for r in rows if r["step"].startswith("2t1@")) == ["C1", "C3"]


@pytest.mark.postgres
def test_three_runner_processes_on_postgres_enter_and_send_each_once(pg_schema_url: str) -> None:
    """Three real processes tick the same journeys at once: every triggered customer enters
    once and each step's send is enqueued once (advancing, reading the feed, claiming)."""
    import subprocess
    import sys
    from pathlib import Path

    from lodestar.storage.operational import OperationalStore

    store = OperationalStore(pg_schema_url)
    store.migrate()
    run(store, SEED_JOURNEY.replace("REENTRY", "always"))
    JourneyRunner(store, FakeAudience()).tick(T0)
    events(store, *[(f"C{i:03d}", "quota_test", T0) for i in range(300)])
    script = Path(__file__).resolve().parent / "journey_runner_process.py"

    def wave(at: datetime) -> None:
        procs = [subprocess.Popen([sys.executable, str(script), pg_schema_url, at.isoformat(),
                                   "3", "25"]) for _ in range(3)]  # fmt: skip
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]

    wave(T0 + timedelta(seconds=1))  # enter, push
    wave(T0 + timedelta(days=3, seconds=1))  # the SMS
    counts = journey_counts(store, "CMP_TRIGGER")
    assert counts == {"entered": 300, "active": 300}
    rows = Outbox(store).rows("CMP_TRIGGER")
    assert len(rows) == 600 and len({r["idempotency_key"] for r in rows}) == 600
    assert sorted({r["step"].partition("@")[0] for r in rows}) == ["1", "4"]
    store.dispose()


def test_a_goal_reached_while_a_runner_advances_the_customer_stops_its_new_sends(store) -> None:
    run(store, SEED_JOURNEY.replace("REENTRY", "once"))
    runner = JourneyRunner(store, FakeAudience())
    runner.tick(T0)
    events(store, ("C1", "quota_test", T0))
    runner.tick(T0 + timedelta(seconds=1))
    events(store, ("C1", "drawdown", T0 + timedelta(days=3)))
    at = T0 + timedelta(days=3, seconds=1)
    enqueue = runner.outbox.enqueue

    def goal_first(rows, now=None):  # another runner handles the goal event in between
        JourneyRunner(store, FakeAudience()).tick(at)
        return enqueue(rows, now=now)

    runner.outbox.enqueue = goal_first  # type: ignore[method-assign]
    runner._advance_due(at)  # claims C1, queues the SMS, then finds C1 gone
    by_step = {r["step"].partition("@")[0]: (r["status"], r["last_error"])
               for r in Outbox(store).rows("CMP_TRIGGER")}  # fmt: skip
    assert by_step == {"1": ("skipped", "journey_goal"), "4": ("skipped", "journey_exited")}
