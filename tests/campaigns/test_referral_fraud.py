"""The anti-fraud rules on SQLite and PostgreSQL: self-referral (same customer, shared phone,
ID number or device), one device or phone across many referees, velocity; flagged referrals
earn nothing until a reviewer clears them, and evidence holds digests, never the values."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from referral_fixtures import T0, Identities, ev, programme_text

from lodestar.campaigns.referrals.engine import ReferralEngine
from lodestar.campaigns.referrals.programme import Programme
from lodestar.campaigns.referrals.review import flags, review
from lodestar.errors import CampaignError

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def people() -> Identities:
    return Identities()


@pytest.fixture
def engine(store, catalogue, clock, people) -> ReferralEngine:  # type: ignore[no-untyped-def]
    return ReferralEngine(store, Programme.from_text(programme_text(per_hour=3)), catalogue,
                          identities=people, clock=clock)  # fmt: skip


def refer(engine: ReferralEngine, referrer: str, referee: str, ts, device: str,
          *, quota: bool = True) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    code = engine.code_for(referrer)
    events = [ev(f"c-{referee}", "referral_click", ts, None, device, referral_code=code),
              ev(f"r-{referee}", "register", ts + M, referee, device)]  # fmt: skip
    if quota:
        events.append(ev(f"q-{referee}", "quota_test", ts + 2 * M, referee, device))
    engine.handle(events)


def rules_of(engine: ReferralEngine, referee: str) -> list[str]:
    rid = engine.referral(referee).referral_id
    return sorted(f["rule"] for f in flags(engine, open_only=False) if f["referral_id"] == rid)


def test_a_customer_cannot_refer_themselves(engine):  # type: ignore[no-untyped-def]
    refer(engine, "C1", "C1", T0, "dev-1")
    assert engine.referral("C1").status == "flagged"
    [flag] = flags(engine)
    assert (flag["rule"], flag["evidence"]) == ("self_referral", {"match": "customer"})
    assert engine.ledger.coupons("C1") == [] and engine.ledger.points("C1") == 0


@pytest.mark.parametrize("shared", ["phone", "id_number", "device"])
def test_referrer_and_referee_sharing_phone_id_or_device_is_self_referral(
        engine, people, shared):  # type: ignore[no-untyped-def]  # fmt: skip
    values = {"phone": ("13812345678", "+86 138-1234-5678"),
              "id_number": ("11010119900307123x", "11010119900307123X"),
              "device": ("dev-home", "dev-home")}[shared]  # fmt: skip
    if shared == "device":
        people.add("C1", devices=[values[0]])
        people.add("N1", devices=[values[1]])
    else:
        people.add("C1", **{shared: values[0]})
        people.add("N1", **{shared: values[1]})
    refer(engine, "C1", "N1", T0, "dev-click")
    [flag] = flags(engine)
    assert flag["rule"] == "self_referral" and flag["evidence"]["match"] == [shared]
    text = json.dumps(flag["evidence"])
    assert "1381234" not in text and "1101011990" not in text and "dev-home" not in text
    assert len(flag["evidence"]["digests"][0]) == 12
    assert engine.ledger.coupons("C1") == []


def test_a_device_behind_many_referees_is_flagged_from_the_limit_on(engine):  # type: ignore[no-untyped-def]
    for i in range(4):  # different referrers, one handset
        refer(engine, f"C{i}", f"N{i}", T0 + i * H, "dev-farm", quota=False)
    assert [engine.referral(f"N{i}").status for i in range(4)] == [
        "active", "active", "flagged", "flagged"]  # fmt: skip
    assert rules_of(engine, "N2") == ["shared_device"]
    evidence = [f["evidence"] for f in flags(engine) if f["rule"] == "shared_device"]
    assert [e["other_referees"] for e in evidence] == [2, 3] and evidence[0]["limit"] == 2


def test_a_phone_behind_two_referees_is_flagged(engine, people):  # type: ignore[no-untyped-def]
    people.add("N1", phone="13900000001")
    people.add("N2", phone="139 0000 0001")
    refer(engine, "C1", "N1", T0, "d1", quota=False)
    refer(engine, "C2", "N2", T0 + H, "d2", quota=False)
    assert rules_of(engine, "N2") == ["shared_phone"]
    assert engine.referral("N1").status == "active"


def test_velocity_flags_the_referee_past_the_hourly_limit(engine):  # type: ignore[no-untyped-def]
    for i in range(4):  # per_hour: 3
        refer(engine, "C1", f"N{i}", T0 + i * 10 * M, f"d{i}", quota=False)
    assert [engine.referral(f"N{i}").status for i in range(4)] == [
        "active", "active", "active", "flagged"]  # fmt: skip
    [flag] = flags(engine)
    assert flag["evidence"] == {"window": "hour", "referees": 4, "limit": 3}
    # an hour later the window has room again
    refer(engine, "C1", "N9", T0 + 2 * H, "d9", quota=False)
    assert engine.referral("N9").status == "active"


def test_flagged_earns_nothing_until_cleared_then_the_withheld_rewards_are_issued(engine):  # type: ignore[no-untyped-def]
    refer(engine, "C1", "C1", T0, "dev-1")
    rid = engine.referral("C1").referral_id
    assert [s["reward_status"] for s in engine.steps_of(rid)] == ["none", "withheld"]
    done = review(engine, rid, "clear", reviewer="risk.li", note="family phone, checked")
    assert done == {"referral_id": rid, "status": "cleared", "steps_issued": 1,
                    "steps_refused": 0}  # fmt: skip
    assert [s["reward_status"] for s in engine.steps_of(rid)] == ["none", "issued"]
    assert len(engine.ledger.coupons("C1")) == 1 and engine.ledger.points("C1") == Decimal(100)
    assert flags(engine) == []
    [reviewed] = flags(engine, open_only=False)
    assert (reviewed["review"], reviewed["reviewer"]) == ("cleared", "risk.li")
    # a cleared referral earns its later steps as usual
    engine.handle([ev("d", "loan_drawdown", T0 + H, "C1", amount=600000)])
    assert sorted(c.right_id for c in engine.ledger.coupons("C1")) == ["cashback_20", "voucher"]
    with pytest.raises(CampaignError, match="not flagged"):
        review(engine, rid, "confirm", reviewer="risk.li")


def test_confirmed_fraud_forfeits_and_earns_nothing_later(engine):  # type: ignore[no-untyped-def]
    refer(engine, "C1", "C1", T0, "dev-1")
    rid = engine.referral("C1").referral_id
    assert review(engine, rid, "confirm", reviewer="risk.li")["status"] == "fraud"
    engine.handle([ev("d", "loan_drawdown", T0 + H, "C1", amount=600000)])
    assert [s["reward_status"] for s in engine.steps_of(rid)] == ["none", "forfeited",
                                                                  "forfeited"]  # fmt: skip
    assert engine.ledger.coupons("C1") == [] and engine.ledger.points("C1") == 0
