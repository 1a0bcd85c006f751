"""Referrals from the live event feed: ``process`` with its cursor, two real worker processes
on PostgreSQL handling the same events at once, and a property test of the invariant "rewards
issued == reached non-fraud steps with rewards, each once"."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referral_fixtures import T0, ev, programme_text

from lodestar.campaigns import event_feed
from lodestar.campaigns.event_feed import FeedEvent
from lodestar.campaigns.referrals.engine import ReferralEngine, ReferralEvent
from lodestar.campaigns.referrals.programme import Programme
from lodestar.campaigns.referrals.reporting import costs
from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import (
    referral_rewards,
    referral_steps,
    referrals,
    rights_entries,
)

H = timedelta(hours=1)


def feed_events(engine: ReferralEngine, n: int, *, repeats: int = 2) -> list[FeedEvent]:
    """n referees of n // 2 referrers through all steps; each step event sent ``repeats``
    times under new ids (a gateway resending), each click once."""
    out: list[FeedEvent] = []
    for i in range(n):
        start = T0 + i * H
        dev = f"dev-{i}"
        code = engine.code_for(f"C{i // 2}")
        out.append(FeedEvent(f"c{i}", "referral_click", start, None, dev,
                             {"referral_code": code}))  # fmt: skip
        for k in range(repeats):
            out += [FeedEvent(f"r{i}.{k}", "register", start + H, f"N{i}", dev),
                    FeedEvent(f"q{i}.{k}", "quota_test", start + 2 * H, f"N{i}", dev),
                    FeedEvent(f"d{i}.{k}", "loan_drawdown", start + 3 * H, f"N{i}", dev,
                              {"amount": 800000})]  # fmt: skip
    return out


def test_process_reads_the_feed_once_and_keeps_its_cursor(store, catalogue, clock):
    engine = ReferralEngine(store, Programme.from_text(programme_text(per_hour=50)), catalogue,
                            clock=clock)  # fmt: skip
    event_feed.append(store, [*feed_events(engine, 2), FeedEvent("other", "app_open", T0, "N0")])
    first = engine.process()
    assert (first.events, first.attributed, first.steps, first.rewards) == (14, 2, 6, 4)
    assert first.skipped["duplicate"] == 6
    again = engine.process()
    assert again.events == 0 and again.last_seq == first.last_seq
    event_feed.append(store, [FeedEvent("late", "loan_drawdown", T0 + 9 * H, "N0",
                                        properties={"amount": 900000})])  # fmt: skip
    assert engine.process().skipped["duplicate"] == 1


@pytest.mark.postgres
def test_two_worker_processes_on_postgres_reward_each_step_once(pg_schema_url, catalogue):
    store = OperationalStore(pg_schema_url)
    store.migrate()
    pid = "two_workers"
    engine = ReferralEngine(store, Programme.from_text(programme_text(pid, per_hour=50)),
                            catalogue)  # fmt: skip
    n = 12
    event_feed.append(store, feed_events(engine, n, repeats=3))
    script = Path(__file__).resolve().parent / "referral_worker_process.py"
    try:
        workers = [subprocess.Popen([sys.executable, str(script), pg_schema_url, pid],
                                    stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        outputs = [w.communicate(timeout=180)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0]
        handled = [tuple(map(int, out.split())) for out in outputs]
        # both workers read events, and the steps they recorded add up to one per step
        assert all(events > 0 for events, _ in handled), handled
        assert sum(steps for _, steps in handled) == 3 * n, handled
        with store.engine.connect() as conn:
            n_referrals = conn.execute(sa.select(sa.func.count()).select_from(referrals)).scalar()
            steps = conn.execute(sa.select(referral_steps.c.step_id, referral_steps.c.reward_status,
                                           sa.func.count())
                                 .group_by(referral_steps.c.step_id, referral_steps.c.reward_status)
                                 ).all()  # fmt: skip
            rewards = conn.execute(sa.select(referral_rewards.c.step_id, referral_rewards.c.role,
                                             sa.func.count())
                                   .group_by(referral_rewards.c.step_id, referral_rewards.c.role)
                                   ).all()  # fmt: skip
            ledger_keys = conn.execute(sa.select(sa.func.count()).select_from(rights_entries)
                                       .where(rights_entries.c.idempotency_key
                                              .like(f"referral:{pid}:%"))).scalar()  # fmt: skip
        assert n_referrals == n
        # cashback_20 (CNY 100 budget) pays five quota tests; the voucher (3 issues) three
        # drawdowns; the rest are refused with their reason, whoever handled them
        assert sorted(steps) == sorted([("register", "none", n), ("quota_test", "issued", 5),
                                        ("quota_test", "refused", n - 5),
                                        ("drawdown", "issued", 3),
                                        ("drawdown", "refused", n - 3)])  # fmt: skip
        assert sorted(rewards) == [("drawdown", "referrer", 3), ("quota_test", "referee", 5),
                                   ("quota_test", "referrer", 5)]  # fmt: skip
        assert ledger_keys == 13
        assert engine.ledger.budget_left("cashback_20") == 0
        assert engine.ledger.issued_count("voucher") == 3
        assert costs(engine)["cny"] == 100 + 3 * 12.5
    finally:
        store.dispose()


_STEPS = ["register", "quota_test", "loan_drawdown"]
_CATALOGUE = RightsCatalogue.from_text("""\
rights:
  - {id: cashback_20, name: {zh: 返现, en: cashback}, kind: cashback, face_value: 20, cost: 20,
     validity_days: 30, budget_cny: 200}
  - {id: voucher, name: {zh: 券, en: voucher}, kind: coupon, face_value: 30, cost: 12.5,
     validity_days: 30, budget_count: 4}
""")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    s = OperationalStore(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'ops.sqlite'}")
    s.migrate()
    yield s
    s.dispose()


_counter = iter(range(10**9))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 2),
                          st.integers(0, 200), st.booleans()), max_size=40))
def test_rewards_issued_equal_reached_eligible_steps_with_rewards(shared_store, script):  # type: ignore[no-untyped-def]
    """Random clicks and steps (repeats, out of order, self-referrals, budgets running out):
    every reward row has its ledger entry, and the rewards are exactly those of the steps
    recorded as issued."""
    pid = f"p{next(_counter)}"  # a fresh programme per example: no state leaks between them
    engine = ReferralEngine(shared_store, Programme.from_text(programme_text(pid, per_hour=4)),
                            _CATALOGUE)  # fmt: skip
    events: list[ReferralEvent] = []
    for n, (referee, referrer, step, minutes, click) in enumerate(script):
        ts = T0 + timedelta(minutes=minutes)
        if click:
            events.append(ev(f"{pid}-{n}", "referral_click", ts, None, f"dev{referee}",
                             referral_code=engine.code_for(f"N{referrer}")))  # fmt: skip
        else:
            events.append(ev(f"{pid}-{n}", _STEPS[step], ts, f"N{referee}", f"dev{referee}",
                             amount=600000))  # fmt: skip
    engine.handle(events)
    per_step = {s.id: len(s.rewards) for s in engine.programme.steps}
    with shared_store.engine.connect() as conn:
        rows = conn.execute(sa.select(referral_steps.c.step_id, referral_steps.c.reward_status,
                                      referrals.c.status)
                            .join(referrals, referrals.c.referral_id == referral_steps.c.referral_id)
                            .where(referrals.c.programme_id == pid)).all()  # fmt: skip
        rewards = conn.execute(sa.select(referral_rewards.c.entry_id)
                               .where(referral_rewards.c.programme_id == pid)).scalars().all()
        keys = conn.execute(sa.select(sa.func.count()).select_from(rights_entries)
                            .where(rights_entries.c.idempotency_key.like(f"referral:{pid}:%"))
                            ).scalar()  # fmt: skip
    expected = sum(per_step[s] for s, status, _ in rows if status == "issued")
    assert len(rewards) == len(set(rewards)) == keys == expected
    # flagged referrals got nothing; refusals only where a step has rewards
    for step, status, referral_status in rows:
        if referral_status == "flagged":
            assert status in ("withheld", "none")
        assert status != "refused" or per_step[step] > 0


def test_a_click_that_reaches_the_feed_after_the_registration_still_attributes(
        store, catalogue, clock):  # type: ignore[no-untyped-def]  # fmt: skip
    engine = ReferralEngine(store, Programme.from_text(programme_text(per_hour=50)), catalogue,
                            clock=clock)  # fmt: skip
    code = engine.code_for("C1")
    # the app's back end reports the registration and the quota test before the H5 click
    event_feed.append(store, [
        FeedEvent("r1", "register", T0 + H, "N1", "dev-1"),
        FeedEvent("q1", "quota_test", T0 + 2 * H, "N1", "dev-1"),
        FeedEvent("c1", "referral_click", T0, None, "dev-1", {"referral_code": code}),
        FeedEvent("r2", "register", T0 + 9 * 24 * H, "N2", "dev-2"),  # outside the window
        FeedEvent("c2", "referral_click", T0, None, "dev-2", {"referral_code": code})])  # fmt: skip
    s = engine.process()
    assert (s.attributed, s.steps, s.rewards) == (1, 2, 1)
    assert engine.referral("N1").touched_at == T0
    assert [r["step_id"] for r in engine.steps_of(engine.referral("N1").referral_id)] == [
        "register", "quota_test"]  # fmt: skip
    assert len(engine.ledger.coupons("C1")) == 1
    assert engine.process().events == 0
