"""Plans kept in the workspace, one folder per version, never changed once written::

    plans/<campaign>/v<N>/
        plan.parquet              one row per planned action (treated and holdout)
        candidates.parquet        every eligible, reachable customer x offer x channel, valued
        offer_rules.parquet       customer x offer pairs eligibility dropped, with the rule
        channel_rules.parquet     customer x channel pairs the contact policy refused, and why
        summary.json              figures, funnel, comparison, optimiser
        spec.json                 the campaign plan as asked

A plan is named ``<campaign>-v<N>``; :func:`explain` answers "why did this customer get this
(or nothing)" from these files alone.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lodestar.decisioning.plan import Plan
from lodestar.errors import NotFound

#: A plan id: the campaign id (the offer-catalogue id pattern: no slashes, no dots first, so
#: never a path outside plans/) and the version.
_NAME = re.compile(r"(?P<campaign>[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63})-v(?P<version>\d+)")


@dataclass(frozen=True)
class SavedPlan:
    plan_id: str
    path: Path
    summary: dict[str, Any]

    def rows(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "plan.parquet")


def save_plan(root: Path, plan: Plan, summary: dict[str, Any]) -> SavedPlan:
    """Write ``plan`` as the next version of its campaign under ``root`` (``plans/``); files go
    to a temporary folder first and are renamed into place, so a failed write leaves nothing."""
    campaign_dir = root / plan.spec.campaign
    campaign_dir.mkdir(parents=True, exist_ok=True)
    versions = [int(p.name[1:]) for p in campaign_dir.glob("v*") if p.name[1:].isdigit()]
    version = max(versions, default=0) + 1
    plan_id = f"{plan.spec.campaign}-v{version}"
    staging = campaign_dir / f".v{version}.partial"
    staging.mkdir(exist_ok=False)
    _parquet(plan.rows, staging / "plan.parquet")
    keep = ["customer_id", "offer_id", "channel_name", "arm", "effect", "propensity", "take",
            "gross", "weighted", "cost", "credit_limit", "credit_rate", "profitable",
            "chosen"]  # fmt: skip
    _parquet(plan.candidates[[c for c in keep if c in plan.candidates.columns]]
             .rename(columns={"channel_name": "channel"}), staging / "candidates.parquet")
    _parquet(plan.offer_codes, staging / "offer_rules.parquet")
    _parquet(plan.channel_reasons, staging / "channel_rules.parquet")
    body = {"plan_id": plan_id, "version": version, **summary}
    (staging / "summary.json").write_text(
        json.dumps(body, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    (staging / "spec.json").write_text(plan.spec.model_dump_json(indent=2), encoding="utf-8")
    final = campaign_dir / f"v{version}"
    staging.rename(final)
    return SavedPlan(plan_id, final, body)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    pq.write_table(table, path)


def plan_path(root: Path, plan_id: str) -> Path:
    match = _NAME.fullmatch(plan_id)
    path = root / match["campaign"] / f"v{match['version']}" if match else None
    if path is None or not (path / "summary.json").is_file():
        known = ", ".join(p.plan_id for p in list_plans(root)[-5:]) or "none yet"
        raise NotFound(f"no plan '{plan_id}'",
                          hint=f"plans are named CAMPAIGN-vN; recent: {known}")  # fmt: skip
    return path


def load_plan(root: Path, plan_id: str) -> SavedPlan:
    path = plan_path(root, plan_id)
    summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    return SavedPlan(plan_id, path, summary)


def list_plans(root: Path) -> list[SavedPlan]:
    out = []
    for summary in sorted(root.glob("*/v*/summary.json")):
        body = json.loads(summary.read_text(encoding="utf-8"))
        out.append(SavedPlan(body["plan_id"], summary.parent, body))
    return sorted(out, key=lambda p: (p.summary.get("created_at", ""), p.plan_id))


def explain(saved: SavedPlan, customer_id: str) -> dict[str, Any]:
    """Everything the plan decided about one customer, and why."""

    def rows_of(name: str) -> list[dict[str, Any]]:
        table = pq.read_table(saved.path / name, filters=[("customer_id", "=", customer_id)])
        return [{k: _plain(v) for k, v in r.items() if k != "customer_id"}
                for r in table.to_pylist()]  # fmt: skip

    actions = rows_of("plan.parquet")
    candidates = rows_of("candidates.parquet")
    offer_rules = rows_of("offer_rules.parquet")
    channel_rules = rows_of("channel_rules.parquet")
    in_universe = bool(actions or candidates or offer_rules or channel_rules)
    if not in_universe:
        raise NotFound(f"customer '{customer_id}' is not in plan {saved.plan_id}",
                          hint="the plan covers the customers of the profile when it was made; "
                               "check the id (lodestar profile show ID)")  # fmt: skip
    candidates.sort(key=lambda r: -(r.get("weighted", 0) - r.get("cost", 0)))
    prices = saved.summary.get("optimiser", {}).get("multipliers", {}) or {}
    for c in candidates:
        c["price_charges"] = _charges(c, prices, saved.summary)
        c["priced_net"] = c["weighted"] - c["cost"] - sum(c["price_charges"].values())
    verdict = "contact" if any(a.get("contact") for a in actions) else (
        "holdout" if actions else "none")  # fmt: skip
    return {
        "plan_id": saved.plan_id,
        "customer_id": customer_id,
        "decision": verdict,
        "actions": actions,
        "offers_not_eligible": offer_rules,
        "channels_refused": channel_rules,
        "candidates": candidates,
        "prices": saved.summary.get("optimiser", {}).get("multipliers", {}),
        "why": _why(verdict, actions, candidates, offer_rules, channel_rules),
    }


def _why(verdict: str, actions: list[dict[str, Any]], candidates: list[dict[str, Any]],
         offer_rules: list[dict[str, Any]], channel_rules: list[dict[str, Any]]) -> list[str]:  # fmt: skip
    """Reason codes, most decisive first."""
    if verdict == "holdout":
        return ["holdout: in the random control group; tracked, never contacted"]
    if verdict == "contact":
        a = actions[0]
        return [f"chosen: {a['offer_id']} by {a['channel']}, expected net "
                f"{a['expected_net']:.2f} (value {a['expected_value']:.2f} - cost "
                f"{a['expected_cost']:.2f})"]  # fmt: skip
    if not candidates:
        reasons = sorted({f"offer {r['offer_id']}: {r['rule']}" for r in offer_rules})
        reasons += sorted({f"channel {r['channel']}: {r['rule']}" for r in channel_rules})
        return reasons or ["no offer and channel could be combined"]
    best = candidates[0]
    if not best.get("profitable"):
        return [f"not profitable: best action {best['offer_id']} by {best['channel']} is "
                f"worth {best['weighted']:.2f} against a cost of {best['cost']:.2f}"]  # fmt: skip
    charges = best.get("price_charges") or {}
    if best.get("priced_net", 0) <= 0 and charges:
        limit = max(charges, key=lambda k: charges[k])
        return [f"priced out: best action {best['offer_id']} by {best['channel']} nets "
                f"{best['weighted'] - best['cost']:.2f}, less than the price of the limits it "
                f"uses ({', '.join(f'{k} {v:.2f}' for k, v in charges.items())}); "
                f"{limit} binds"]  # fmt: skip
    return [f"not chosen by arbitration: best action {best['offer_id']} by {best['channel']} "
            f"(net {best['weighted'] - best['cost']:.2f}) did not fit in a limit that was "
            "already full when the allocation was repaired"]  # fmt: skip


def _charges(candidate: dict[str, Any], prices: dict[str, Any],
             summary: dict[str, Any]) -> dict[str, float]:  # fmt: skip
    """What the optimiser's prices charge this candidate for each limit it uses (the shadow
    prices of the budget, its offer's budget and count, and its channel's capacity)."""
    offers, channels = summary.get("offers", []), summary.get("channels", [])
    o = offers.index(candidate["offer_id"]) if candidate["offer_id"] in offers else None
    c = channels.index(candidate["channel"]) if candidate["channel"] in channels else None

    def at(name: str, index: int | None) -> float:
        values = prices.get(name)
        if values is None or index is None or index >= len(values):
            return 0.0
        return float(values[index] or 0.0)

    cost = float(candidate["cost"])
    out = {
        "budget": float(prices.get("budget") or 0.0) * cost,
        f"offer_budget:{candidate['offer_id']}": at("offer_budget", o) * cost,
        f"offer_count:{candidate['offer_id']}": at("offer_count", o),
        f"capacity:{candidate['channel']}": at("channel", c),
    }
    return {k: round(v, 4) for k, v in out.items() if v > 0}


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
