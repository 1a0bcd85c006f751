"""Plan assembly on arrays: limits hold, the holdout is never contacted, the funnel adds up, the
plan beats response-only and untargeted plans on its own estimates, and explanations hold."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lodestar.decisioning.effects import ChannelEffect
from lodestar.decisioning.eligibility import CustomerFacts
from lodestar.decisioning.offers import OfferCatalogue
from lodestar.decisioning.plan import ChannelGate, Plan, PlanInputs, build_plan
from lodestar.decisioning.plan_spec import PlanSpec
from lodestar.decisioning.plan_store import explain, list_plans, load_plan, save_plan
from lodestar.decisioning.plan_summary import summarise
from lodestar.errors import ConfigError

CATALOGUE = OfferCatalogue.from_text("""\
offers:
  - {id: ACT, name: 激活返现, value: 180, offer_cost: 50, kyc_required: false,
     channels: {sms: {cost: 0.05}, app_push: {cost: 0.01}},
     effect: {source: uplift, treatments: {sms: t, app_push: t}}}
  - {id: INS, name: 健康险, product: INS_HEALTH, value: 400, caps: {count: 150},
     channels: {app_push: {cost: 0.01}}, effect: {source: rate, rate: 0.01}}
""")
N = 3000
SEND_ON = date(2026, 12, 1)


def inputs(seed: int = 0) -> PlanInputs:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:05d}" for i in range(N)], dtype=object)
    facts = CustomerFacts(
        customer_id=ids,
        kyc_verified=rng.random(N) < 0.95,
        tolerance=rng.integers(0, 6, N),
        prescreen_declined=rng.random(N) < 0.05,
        holds={"INS_HEALTH": rng.random(N) < 0.1},
    )
    uplift = rng.normal(0.03, 0.04, N)  # some customers are put off by contact
    response = np.clip(uplift + rng.uniform(0.05, 0.4, N), 0, 1)  # converts with contact
    rate = rng.uniform(0.002, 0.03, N)
    effects = [
        ChannelEffect("ACT", "sms", "uplift", "uplift-v1", uplift, response, response),
        ChannelEffect("ACT", "app_push", "uplift", "uplift-v1", uplift * 0.8, response, response),
        ChannelEffect("INS", "app_push", "rate", None, rate, rate, rate),
    ]
    allowed = {"sms": rng.random(N) < 0.8, "app_push": rng.random(N) < 0.6}
    reason = {c: np.where(a, None, "no_consent").astype(object) for c, a in allowed.items()}
    gate = ChannelGate(allowed, reason, ("no_address", "no_consent"),
                       {"sms": list(range(8, 21)), "app_push": list(range(8, 22))})  # fmt: skip
    return PlanInputs(
        facts=facts, zones=np.array(["Asia/Shanghai"] * N, dtype=object), audience=None,
        offer_audiences={"ACT": rng.random(N) < 0.9, "INS": None},
        product_risk={"INS_HEALTH": "R1"}, effects=effects, gate=gate,
        preferred_hour=rng.integers(0, 24, N), strata=rng.integers(0, 3, N).astype(str),
    )  # fmt: skip


def spec(**overrides: object) -> PlanSpec:
    body = {"campaign": "CMP_T", "budget": 6000.0, "capacity": {"sms": 400}, "holdout": 0.2,
            "arms": [{"name": "A"}, {"name": "B"}], "stratify_by": "tier"} | overrides  # fmt: skip
    return PlanSpec.model_validate(body)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_plan(spec(), CATALOGUE, inputs(), SEND_ON)


def test_limits_hold_and_the_holdout_is_never_contacted(plan: Plan) -> None:
    rows = plan.rows
    contacts = rows[rows["contact"]]
    assert not rows.loc[rows["arm"] == "control", "contact"].any()
    assert set(contacts["arm"]) == {"A", "B"}
    assert contacts["expected_cost"].sum() <= 6000.0 + 1e-6
    assert (contacts["channel"] == "sms").sum() <= 400
    assert (contacts["offer_id"] == "INS").sum() <= 150
    assert contacts["customer_id"].is_unique  # one action per customer
    assert (contacts["expected_net"] > 0).all() and (contacts["expected_effect"] > 0).all()
    # the holdout got the same rule under limits scaled to its size (0.2 / 0.8 of them)
    held = rows[rows["arm"] == "control"]
    assert len(held) > 0 and held["expected_cost"].sum() <= 6000.0 * 0.25 + 1e-6
    # every action says where its effect came from and how it ranked for its customer
    assert contacts["reason_codes"].str.match(r"effect:(uplift|rate)\|rank:\d+/\d+\|arm:(A|B)$").all()
    assert (contacts.loc[contacts["offer_id"] == "ACT", "reason_codes"]
            .str.startswith("effect:uplift").all())  # fmt: skip
    # send times are inside the channel's hours
    assert contacts.loc[contacts["channel"] == "sms", "local_hour"].between(8, 20).all()


def test_the_funnel_adds_up(plan: Plan) -> None:
    steps = plan.funnel
    assert steps[0] == {"step": "universe", "customers": N, "dropped": 0}
    for before, after in itertools.pairwise(steps):
        assert after["customers"] == before["customers"] - after["dropped"]
        assert after["dropped"] >= 0
    assert steps[-1]["customers"] == plan.rows["customer_id"].nunique()
    by_step = {s["step"]: s["dropped"] for s in steps}
    assert by_step["prescreen"] > 0 and by_step["policy:no_consent"] > 0
    assert by_step["not_profitable"] > 0  # the customers a contact would put off


def test_the_plan_beats_response_only_and_untargeted_on_its_own_estimates(plan: Plan) -> None:
    summary = summarise(plan, CATALOGUE)
    by = {row["plan"]: row for row in summary["comparison"]}
    assert by["uplift_plan"]["expected_net"] == pytest.approx(summary["expected_net"], abs=0.05)
    gap = summary["optimiser"]["gap"]
    best = by["uplift_plan"]["expected_net"] * (1 + gap) + 1e-6
    assert by["response_only"]["expected_net"] <= best
    assert by["untargeted"]["expected_net"] < by["response_only"]["expected_net"]
    assert summary["budget_use"] <= 1.0 and gap <= 0.01
    assert {r["arm"] for r in summary["by_arm"]} == {"A", "B", "control"}


def test_the_same_inputs_give_the_same_plan() -> None:
    a = build_plan(spec(), CATALOGUE, inputs(), SEND_ON).rows
    b = build_plan(spec(), CATALOGUE, inputs(), SEND_ON).rows
    pd.testing.assert_frame_equal(a, b)


def test_saved_plans_explain_every_kind_of_customer(plan: Plan, tmp_path: Path) -> None:
    summary = summarise(plan, CATALOGUE)
    saved = save_plan(tmp_path, plan, summary)
    assert saved.plan_id == "CMP_T-v1" and load_plan(tmp_path, "CMP_T-v1").summary["contacts"]
    again = save_plan(tmp_path, plan, summary)
    assert again.plan_id == "CMP_T-v2" and [p.plan_id for p in list_plans(tmp_path)] == [
        "CMP_T-v1", "CMP_T-v2"]  # fmt: skip
    rows = plan.rows
    contacted = rows.loc[rows["contact"], "customer_id"].iloc[0]
    held = rows.loc[~rows["contact"], "customer_id"].iloc[0]
    got = explain(saved, contacted)
    assert got["decision"] == "contact" and got["why"][0].startswith("chosen:")
    assert any(c["chosen"] for c in got["candidates"])
    assert explain(saved, held)["decision"] == "holdout"
    declined = str(plan.offer_codes.loc[plan.offer_codes["rule"] == "prescreen",
                                        "customer_id"].iloc[0])  # fmt: skip
    nothing = explain(saved, declined)
    assert nothing["decision"] == "none"
    assert any("prescreen" in line for line in nothing["why"]) or nothing["candidates"]
    # a profitable customer the limits left out: priced out, or no room left
    cand = plan.candidates
    treated_ids = set(rows.loc[rows["contact"], "customer_id"])
    left_out = cand[cand["profitable"] & (cand["arm"] != "control")
                    & ~cand["customer_id"].isin(treated_ids)]  # fmt: skip
    assert len(left_out), "a limit binds, so someone profitable is left out"
    why = explain(saved, str(left_out["customer_id"].iloc[0]))
    assert why["decision"] == "none"
    assert why["why"][0].startswith(("priced out", "not chosen by arbitration")), why["why"]
    assert summary["optimiser"]["binding"]  # some limit binds (here the offer count)
    with pytest.raises(ConfigError, match="not in plan"):
        explain(saved, "NOBODY")
    with pytest.raises(ConfigError, match="no plan"):
        load_plan(tmp_path, "CMP_T-v9")


@pytest.mark.parametrize("bad", ["../../etc-v1", "CMP_T/../../x-v1", "/abs-v1", "..-v1", ""])
def test_plan_ids_cannot_leave_the_plans_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="no plan"):
        load_plan(tmp_path / "plans", bad)
