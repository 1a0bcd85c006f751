"""What a plan is expected to earn and spend, where its customers went, and how it compares with
the plans a bank would otherwise make.

The comparison runs the same arbitration under the same limits on the same eligible, reachable
candidates, with two other rankings, and values all three with the plan's effect estimates:

- **untargeted**: candidates in a random order (what "send it to everyone we can afford" earns);
- **response-only**: candidates by the probability of converting with contact times value (the
  classic propensity list, which spends on customers who would have bought anyway).

Figures count the treated arm only (the holdout is tracked, never contacted).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lodestar.decisioning.arbitration import Candidates, arbitrate
from lodestar.decisioning.offers import OfferCatalogue
from lodestar.decisioning.plan import Plan, plan_limits
from lodestar.experiments.assignment import CONTROL


def summarise(plan: Plan, catalogue: OfferCatalogue) -> dict[str, Any]:
    rows = plan.rows
    treated = rows[rows["contact"]]
    spec = plan.spec
    cost = float(treated["expected_cost"].sum())
    budget = spec.budget
    out: dict[str, Any] = {
        "campaign": spec.campaign,
        "name": spec.name,
        "send_on": str(plan.send_on),
        "purpose": spec.purpose,
        "offers": list(plan.meta.get("offers", [])),
        "channels": list(plan.meta.get("channels", [])),
        "customers": int(plan.meta.get("customers", 0)),
        "contacts": len(treated),
        "holdout_tracked": int((rows["arm"] == CONTROL).sum()),
        "expected_cost": round(cost, 2),
        "expected_incremental_conversions": round(float(treated["expected_effect"].sum()), 2),
        "expected_incremental_value": round(float(treated["expected_value"].sum()), 2),
        "expected_net": round(float(treated["expected_net"].sum()), 2),
        "budget": budget,
        "budget_use": None if not budget else round(cost / budget, 4),
        "by_offer": _group(treated, "offer_id"),
        "by_channel": _group(treated, "channel"),
        "by_offer_channel": _mix(treated),
        "by_arm": _group(rows, "arm"),
        "capacity_use": {
            c: {"capacity": cap, "used": int((treated["channel"] == c).sum())}
            for c, cap in spec.capacity.items()
        },
        "funnel": plan.funnel,
        "optimiser": {
            "objective": round(plan.allocation.objective, 2),
            "upper_bound": round(plan.allocation.upper_bound, 2),
            "gap": plan.allocation.gap,
            "binding": list(plan.allocation.binding),
            "iterations": plan.allocation.iterations,
            "multipliers": _plain(plan.allocation.multipliers),
        },
        "sources": plan.meta.get("sources", {}),
        "comparison": compare(plan, catalogue),
    }
    if "segment" in rows.columns:
        out["by_segment"] = _group(treated, "segment")
    return out


def _plain(value: Any) -> Any:
    """Prices as JSON: arrays to lists, infinities and NaN to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _mix(treated: pd.DataFrame) -> list[dict[str, Any]]:
    """Contacts per offer and channel (the stacked chart of the report)."""
    counts = treated.groupby(["offer_id", "channel"]).size().reset_index(name="contacts")
    return [{"offer_id": str(o), "channel": str(c), "contacts": int(k)}
            for o, c, k in zip(counts["offer_id"], counts["channel"],
                               counts["contacts"].to_numpy(np.int64), strict=True)]  # fmt: skip


def _group(frame: pd.DataFrame, by: str) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    grouped = frame.groupby(by, dropna=False).agg(
        contacts=("customer_id", "size"),
        expected_cost=("expected_cost", "sum"),
        expected_incremental_conversions=("expected_effect", "sum"),
        expected_incremental_value=("expected_value", "sum"),
        expected_net=("expected_net", "sum"),
    )
    return [
        {by: str(key), **{str(k): (int(v) if k == "contacts" else round(float(v), 2))
                          for k, v in values.items()}}
        for key, values in grouped.iterrows()
    ]  # fmt: skip


def compare(plan: Plan, catalogue: OfferCatalogue, *, seed: int = 0) -> list[dict[str, Any]]:
    """This plan beside untargeted and response-only plans under the same limits."""
    cand = plan.candidates
    treated = cand[(cand["arm"] != CONTROL).to_numpy()]
    offers = [catalogue.get(i) for i in plan.meta["offers"]]
    limits = plan_limits(plan.spec, offers, plan.meta["channels"], scale=1.0)
    net = (treated["gross"] - treated["cost"]).to_numpy()
    cost = treated["cost"].to_numpy()
    value = np.array([o.value for o in offers])[treated["offer"].to_numpy()]
    rankings: dict[str, np.ndarray | None] = {
        "uplift_plan": None,  # the plan's own choice: no need to solve it again
        "response_only": treated["propensity"].to_numpy() * value,
        # random priorities above cost keep every candidate in play, in a random order
        "untargeted": cost + np.random.default_rng(seed).random(len(treated)) * 1e-3 + 1e-6,
    }
    out: list[dict[str, Any]] = []
    for name, ranked in rankings.items():
        # Each plan is the optimiser's choice by its own estimate of value (so every limit
        # holds), then valued with the plan's effect estimates.
        if ranked is None:
            picked = treated["chosen"].to_numpy(dtype=bool)
        else:
            picked = arbitrate(Candidates(
                customer=treated["row"].to_numpy(np.int64),
                offer=treated["offer"].to_numpy(np.int32),
                channel=treated["channel"].to_numpy(np.int32), value=ranked, cost=cost,
            ), limits).chosen  # fmt: skip
        out.append({
            "plan": name,
            "contacts": int(picked.sum()),
            "expected_cost": round(float(cost[picked].sum()), 2),
            "expected_incremental_conversions": round(float(
                treated["effect"].to_numpy()[picked].sum()), 2),
            "expected_net": round(float(net[picked].sum()), 2),
        })  # fmt: skip
    base = float(out[0]["expected_net"])  # the plan itself comes first
    for row in out:
        net_of_row = float(row["expected_net"])
        row["share_of_plan"] = None if math.isclose(base, 0) else round(net_of_row / base, 4)
    return out
