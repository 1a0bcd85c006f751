"""Referrals on SQLite and PostgreSQL: codes and links, attribution inside and outside the
window, one referrer per referee, multi-step rewards exactly once, budget exhaustion, and the
funnel and leaderboard on a hand-checked example."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from referral_fixtures import T0, Identities, ev, programme_text

from lodestar.campaigns.referrals.engine import ReferralEngine
from lodestar.campaigns.referrals.programme import ALPHABET, Programme
from lodestar.campaigns.referrals.reporting import costs, funnel, leaderboard
from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.errors import ConfigError, DefinitionError, NotFound
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import referral_rewards, rights_entries

H = timedelta(hours=1)
D = timedelta(days=1)


def make(store: OperationalStore, catalogue: RightsCatalogue, clock: object, *,
         identities: Identities | None = None, **kw: int) -> ReferralEngine:  # fmt: skip
    programme = Programme.from_text(programme_text(**kw), "referrals.yaml")  # type: ignore[arg-type]
    return ReferralEngine(store, programme, catalogue, identities=identities or Identities(),
                          clock=clock)  # type: ignore[arg-type]  # fmt: skip


def click(engine: ReferralEngine, eid: str, referrer: str, ts, anon: str | None = None,
          customer: str | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    return ev(eid, "referral_click", ts, customer, anon, referral_code=engine.code_for(referrer))


def journey(engine: ReferralEngine, referrer: str, referee: str, start, *, device: str,
            amount: int = 600_000) -> list:  # type: ignore[no-untyped-def,type-arg]  # fmt: skip
    """Click -> register -> quota test -> drawdown, an hour apart."""
    return [click(engine, f"c-{referee}", referrer, start, anon=device),
            ev(f"r-{referee}", "register", start + H, referee, device),
            ev(f"q-{referee}", "quota_test", start + 2 * H, referee, device),
            ev(f"d-{referee}", "loan_drawdown", start + 3 * H, referee, device, amount=amount)]


def test_codes_are_stable_unique_and_unguessable_and_links_carry_them(store, catalogue, clock):
    engine = make(store, catalogue, clock)
    a, b = engine.code_for("C1"), engine.code_for("C2")
    assert a == engine.code_for("C1") and a != b
    assert a.startswith("LQ") and len(a) == 10 and set(a[2:]) <= set(ALPHABET)
    assert engine.link_for("C1") == f"https://m.bank.example/mgm?from=app&ref={a}"
    assert engine.touch("LQNOSUCH22", event_id="x", ts=T0) == "unknown_code"
    assert engine.touch(a.lower(), event_id="x", ts=T0, anonymous_id="d") == "recorded"
    assert engine.touch(a, event_id="x", ts=T0, anonymous_id="d") == "duplicate"


def test_attribution_inside_the_window_and_not_outside(store, catalogue, clock):
    engine = make(store, catalogue, clock)
    s = engine.handle([click(engine, "c1", "C1", T0, anon="dev-a"),
                       click(engine, "c2", "C1", T0, anon="dev-b"),
                       ev("r1", "register", T0 + 6 * D, "N1", "dev-a"),     # inside 7 days
                       ev("r2", "register", T0 + 8 * D, "N2", "dev-b"),     # outside
                       ev("r3", "register", T0 + D, "N3", "dev-zzz")])  # fmt: skip  # no touch
    assert s.attributed == 1 and s.skipped["not_referred"] == 2
    r = engine.referral("N1")
    assert (r.referrer_id, r.how, r.touched_at, r.attributed_at) == ("C1", "click", T0,
                                                                     T0 + 6 * D)  # fmt: skip
    with pytest.raises(NotFound):
        engine.referral("N2")
    # a step of a customer nobody referred is not an attribution
    assert engine.handle([ev("q9", "quota_test", T0, "N3")]).skipped["not_referred"] == 1


def test_one_referrer_per_referee_first_touch_wins(store, catalogue, clock):
    engine = make(store, catalogue, clock)
    engine.handle([click(engine, "c1", "C2", T0 + H, anon="dev"),
                   click(engine, "c0", "C1", T0, anon="dev"),      # earlier, arrives later
                   ev("r1", "register", T0 + 2 * H, "N1", "dev")])  # fmt: skip
    assert engine.referral("N1").referrer_id == "C1"
    # a code typed later, or a second registration, changes nothing
    again = engine.attribute("N1", at=T0 + 3 * H, code=engine.code_for("C3"))
    assert again is not None and again.referrer_id == "C1"
    engine.handle([ev("r1b", "register", T0 + 4 * H, "N1", "dev")])
    assert engine.referral("N1").referrer_id == "C1"
    # a typed code attributes directly
    typed = engine.attribute("N2", at=T0, code=engine.code_for("C3"))
    assert typed is not None and (typed.referrer_id, typed.how) == ("C3", "code")
    with pytest.raises(NotFound):
        engine.attribute("N3", at=T0, code="LQWRONG222")


def test_each_step_rewarded_once_even_when_events_repeat(store, catalogue, clock):
    engine = make(store, catalogue, clock)
    events = journey(engine, "C1", "N1", T0, device="dev-1")
    s = engine.handle(events + events + [ev("q-again", "quota_test", T0 + 5 * H, "N1")])
    assert (s.attributed, s.steps, s.rewards) == (1, 3, 2)
    assert s.skipped["duplicate"] == 5  # the click, 3 repeated steps, the second quota test
    steps = {r["step_id"]: r["reward_status"] for r in engine.steps_of(engine.referral("N1")
                                                                       .referral_id)}  # fmt: skip
    assert steps == {"register": "none", "quota_test": "issued", "drawdown": "issued"}
    rights = sorted(c.right_id for c in engine.ledger.coupons("C1"))
    assert rights == ["cashback_20", "voucher"]
    assert engine.ledger.points("N1") == Decimal("100.00")
    assert engine.ledger.coupons("N1") == []


def test_steps_count_in_order_and_only_when_their_condition_holds(store, catalogue, clock):
    engine = make(store, catalogue, clock)
    s = engine.handle([click(engine, "c", "C1", T0, anon="d"),
                       ev("r", "register", T0 + H, "N1", "d"),
                       ev("d0", "loan_drawdown", T0 + 2 * H, "N1", amount=900_000),  # too early
                       ev("q", "quota_test", T0 + 3 * H, "N1"),
                       ev("d1", "loan_drawdown", T0 + 4 * H, "N1", amount=499_999.99),
                       ev("d2", "loan_drawdown", T0 + 5 * H, "N1", amount="500000")])  # fmt: skip
    assert s.skipped["out_of_order"] == 1 and s.skipped["condition_not_met"] == 1
    assert [r["event_id"] for r in engine.steps_of(engine.referral("N1").referral_id)] == \
        ["r", "q", "d2"]


def test_concurrent_duplicates_from_threads_reward_once(store, catalogue, clock):
    engine = make(store, catalogue, clock)
    engine.handle(journey(engine, "C1", "N1", T0, device="dev")[:2])
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            engine.handle([ev(f"q{i % 2}", "quota_test", T0 + 2 * H, "N1")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(referral_rewards.c.role)).scalars().all()
        keys = conn.execute(sa.select(rights_entries.c.idempotency_key)
                            .where(rights_entries.c.idempotency_key.like("referral:%"))).all()  # fmt: skip
    assert sorted(rows) == ["referee", "referrer"] and len(keys) == 2
    assert len(engine.ledger.coupons("C1")) == 1


def test_budget_exhaustion_refuses_the_whole_step_with_a_reason(store, catalogue, clock):
    engine = make(store, catalogue, clock)  # cashback_20: budget CNY 100 = five issues
    events = []
    for i in range(6):
        events += journey(engine, f"C{i}", f"N{i}", T0 + i * D, device=f"dev-{i}")[:3]
    s = engine.handle(events)
    assert (s.attributed, s.rewards, s.refused) == (6, 5, 1)
    step = engine.steps_of(engine.referral("N5").referral_id)[1]
    assert step["reward_status"] == "refused"
    assert "cashback_20" in step["reason"] and "nothing was issued" in step["reason"]
    # all or nothing: the referee's points of the refused step were not granted either
    assert engine.ledger.points("N5") == 0 and engine.ledger.points("N4") == 100
    assert engine.ledger.budget_left("cashback_20") == 0
    with store.engine.connect() as conn:
        n5 = conn.execute(sa.select(sa.func.count()).select_from(rights_entries)
                          .where(rights_entries.c.idempotency_key.like("referral:%:6:%"))).scalar()  # fmt: skip
    assert n5 == 0
    c = costs(engine)
    assert c["cny"] == Decimal("100.00") and c["points"] == 500 and c["rewards"] == 10
    assert c["steps"] == {"none": 6, "issued": 5, "refused": 1}
    assert c["rights"][0] == {"right_id": "cashback_20", "issued": 5, "cost": Decimal("100.00"),
                              "budget_left": Decimal("0.00")}  # fmt: skip


def test_the_programme_points_cap_holds_too(store, catalogue, clock):
    engine = make(store, catalogue, clock, points_budget=150)
    events = []
    for i in range(2):
        events += journey(engine, f"C{i}", f"N{i}", T0 + i * D, device=f"dev-{i}")[:3]
    s = engine.handle(events)
    assert (s.rewards, s.refused) == (1, 1)
    reason = engine.steps_of(engine.referral("N1").referral_id)[1]["reason"]
    assert "100 of its 150 budget points are granted" in reason
    assert len(engine.ledger.coupons("C1")) == 0  # the referrer's right rolled back with it


def test_funnel_leaderboard_and_costs_on_a_hand_checked_example(store, catalogue, clock):
    engine = make(store, catalogue, clock, per_hour=50)
    for c in ("C1", "C2", "C3", "C4"):
        engine.code_for(c)                                  # 4 codes
    events = journey(engine, "C1", "N1", T0, device="d1")               # full
    events += journey(engine, "C1", "N2", T0 + D, device="d2")          # full
    events += journey(engine, "C2", "N3", T0 + D, device="d3")[:3]      # up to quota test
    events += journey(engine, "C2", "N4", T0 + D, device="d4")[:2]      # registered only
    events += [click(engine, "c-x", "C3", T0, anon="d5")]               # click, nothing more
    events += [click(engine, "c-y", "C3", T0, anon="d6"),
               ev("r-y", "register", T0 + 9 * D, "N6", "d6")]  # fmt: skip  # too late
    engine.handle(events)
    got = [(r.stage, r.count, None if r.rate is None else round(r.rate, 4))
           for r in funnel(engine)]  # fmt: skip
    assert got == [("codes", 4, None), ("touches", 6, 1.5), ("attributed", 4, 0.6667),
                   ("register", 4, 1.0), ("quota_test", 3, 0.75), ("drawdown", 2, 0.6667)]
    board = leaderboard(engine, names={"C1": "王小明", "C2": "李四"})
    assert [(b["referrer_id"], b["name"], b["referees"], b["completed"], b["reward_cny"])
            for b in board] == [("C1", "王**", 2, 2, Decimal("65.00")),
                                ("C2", "李*", 2, 0, Decimal("20.00"))]  # fmt: skip


def test_a_programme_that_rewards_an_unknown_right_is_refused(store, catalogue):
    text = programme_text().replace("right: voucher", "right: no_such_right")
    with pytest.raises(ConfigError, match="no_such_right"):
        ReferralEngine(store, Programme.from_text(text), catalogue)


def test_programme_errors_name_the_line_and_field() -> None:
    bad = programme_text().replace("points: 100}", "points: 100, right: cashback_20}")
    with pytest.raises(DefinitionError) as info:
        Programme.from_text(bad.replace("attribution_window_days: 7", "attribution_window_days: 0"),
                            "referrals.yaml")  # fmt: skip
    text = str(info.value)
    assert "referrals.yaml:3: field 'attribution_window_days'" in text
    assert "referrals.yaml:10" in text and "exactly one" in text


def test_a_step_past_its_within_days_does_not_count_and_reach_records_from_python(
        store, catalogue, clock):  # type: ignore[no-untyped-def]  # fmt: skip
    text = programme_text().replace("    where: {property: amount, at_least: 500000}\n",
                                    "    where: {property: amount, at_least: 500000}\n"
                                    "    within_days: 30\n")
    engine = ReferralEngine(store, Programme.from_text(text), catalogue, clock=clock)
    engine.handle(journey(engine, "C1", "N1", T0, device="d1")[:3])
    big = {"amount": 800000}
    assert engine.reach("N1", "drawdown", at=T0 + 31 * D, properties=big) == "too_late"
    assert engine.reach("N1", "drawdown", at=T0 + 29 * D) == "condition_not_met"
    assert engine.reach("N1", "drawdown", at=T0 + 29 * D, properties=big) == "issued"
    assert engine.reach("N1", "drawdown", at=T0 + 29 * D, event_id="other",
                        properties=big) == "duplicate"  # fmt: skip
    assert engine.reach("N9", "quota_test", at=T0) == "not_referred"
    with pytest.raises(NotFound, match="no step 'nope'"):
        engine.reach("N1", "nope", at=T0)
