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

_NAME = re.compile(r"(?P<campaign>.+)-v(?P<version>\d+)")


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
    return [f"not chosen by arbitration: best action {best['offer_id']} by {best['channel']} "
            f"(net {best['weighted'] - best['cost']:.2f}) lost to others under the budget, "
            "caps or channel capacity"]  # fmt: skip


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
