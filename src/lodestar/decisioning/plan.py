"""A campaign plan from its inputs: who gets which offer, through which channel, when, with what
limit and rate, in which arm, and why — under the budget, the caps and the channels' capacity.

The steps, each recorded for the exclusion funnel and ``lodestar explain``:

1. eligibility per customer x offer (:mod:`~lodestar.decisioning.eligibility`);
2. the contact policy per customer x channel (consent, do-not-contact, caps...), given as a
   :class:`ChannelGate`;
3. candidates: every eligible customer x offer x allowed channel, valued as
   ``effect x value x lever`` against ``contact cost + offer cost x take-up``; those that do not
   pay for themselves are dropped (``not_profitable``);
4. arms: the random holdout and A/B arms by hash (:mod:`lodestar.experiments.assignment`);
5. arbitration (:mod:`~lodestar.decisioning.arbitration`) over the treated customers under the
   campaign's limits; the holdout gets the same rule with limits scaled to its size, so the
   control group is who *would* have been contacted (tracked, never contacted);
6. send time from each customer's own active hours, inside the channel's allowed hours.

This module takes arrays and returns tables; :mod:`~lodestar.decisioning.planning` gathers the
inputs from a workspace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from lodestar.decisioning.arbitration import Allocation, Candidates, Limits, arbitrate
from lodestar.decisioning.effects import ChannelEffect
from lodestar.decisioning.eligibility import ELIGIBLE, RULES, CustomerFacts, offer_rules
from lodestar.decisioning.offers import Offer, OfferCatalogue
from lodestar.decisioning.plan_spec import PlanSpec
from lodestar.decisioning.send_time import nearest_allowed, send_instants
from lodestar.experiments.assignment import CONTROL, Arm, assign

NOT_PROFITABLE = "not_profitable"


@dataclass(frozen=True)
class ChannelGate:
    """The contact policy's verdict per channel over the universe: ``allowed`` masks, the first
    failing rule where not allowed (``None`` where allowed), the rule order for the funnel and
    the local hours each channel may be used in."""

    allowed: dict[str, np.ndarray]
    reason: dict[str, np.ndarray]
    rule_order: tuple[str, ...]
    allowed_hours: dict[str, list[int]]


@dataclass(frozen=True)
class CreditOffer:
    """Limits and rates over the universe (NaN where declined), from the scorecard."""

    ok: np.ndarray
    limit: np.ndarray
    rate: np.ndarray
    band: np.ndarray


@dataclass(frozen=True)
class PlanInputs:
    facts: CustomerFacts
    zones: np.ndarray
    audience: np.ndarray | None
    offer_audiences: dict[str, np.ndarray | None]
    product_risk: dict[str, str | None]
    effects: list[ChannelEffect]
    gate: ChannelGate
    preferred_hour: np.ndarray
    credit: CreditOffer | None = None
    strata: np.ndarray | None = None
    #: The customers' zones and addresses (real-time decisions keep them in their snapshot).
    contacts: pd.DataFrame | None = None


@dataclass
class Plan:
    spec: PlanSpec
    send_on: date
    rows: pd.DataFrame  # one row per planned action (treated and holdout)
    candidates: pd.DataFrame  # every profitable candidate, with its value, cost and fate
    offer_codes: pd.DataFrame  # customer x offer first failing eligibility rule (non-eligible)
    channel_reasons: pd.DataFrame  # customer x channel policy reason (not allowed)
    funnel: list[dict[str, Any]]
    allocation: Allocation
    meta: dict[str, Any] = field(default_factory=dict)


def build_plan(spec: PlanSpec, catalogue: OfferCatalogue, inputs: PlanInputs,
               send_on: date) -> Plan:  # fmt: skip
    """The plan for ``spec`` (see the module doc)."""
    facts = inputs.facts
    ids = facts.customer_id
    n = len(ids)
    offers = _offers(spec, catalogue)
    channels = _channels(spec, offers)
    # 1. eligibility
    codes = {}
    for offer in offers:
        codes[offer.id] = offer_rules(
            offer, facts, send_date=send_on, audience=inputs.audience,
            offer_audience=inputs.offer_audiences.get(offer.id),
            product_risk=inputs.product_risk.get(offer.product or ""),
            credit_ok=inputs.credit.ok if inputs.credit is not None else None,
            prescreen=spec.prescreen.enabled,
        )  # fmt: skip
    # 4. arms, for everyone (deterministic: the same customer, the same arm)
    arms = assign(ids, spec.key, arms=[Arm(a.name, a.weight) for a in spec.arms],
                  holdout=spec.holdout, strata=inputs.strata)  # fmt: skip
    # 2-3. candidates
    effects = {(e.offer_id, e.channel): e for e in inputs.effects}
    parts = []
    for o, offer in enumerate(offers):
        eligible = codes[offer.id] == ELIGIBLE
        for channel in channels:
            effect = effects.get((offer.id, channel))
            if effect is None:
                continue
            at = np.nonzero(eligible & inputs.gate.allowed[channel])[0]
            gross = effect.effect[at] * offer.value
            cost = offer.channels[channel].cost + offer.offer_cost * effect.take[at]
            parts.append(pd.DataFrame({
                "row": at, "offer": np.full(len(at), o, dtype=np.int32),
                "channel": np.full(len(at), channels.index(channel), dtype=np.int32),
                "effect": effect.effect[at], "take": effect.take[at],
                "propensity": effect.propensity[at], "gross": gross, "weighted": gross * offer.lever, "cost": cost,
            }))  # fmt: skip
    cand = pd.concat(parts, ignore_index=True) if parts else _empty_candidates()
    cand = cand.sort_values(["row", "offer", "channel"], kind="stable").reset_index(drop=True)
    # Candidates that do not pay for themselves stay on record (the untargeted comparison and
    # explain use them) but never reach the optimiser.
    cand["profitable"] = (cand["weighted"] > cand["cost"]).to_numpy()
    cand["arm"] = arms[cand["row"].to_numpy()] if len(cand) else np.array([], dtype=object)
    # credit offers carry each customer's limit and rate (NaN for the others)
    is_credit = np.array([o.credit for o in offers], dtype=bool)[cand["offer"].to_numpy()]
    at = cand["row"].to_numpy(np.int64)
    credit = inputs.credit
    cand["credit_limit"] = np.where(is_credit, credit.limit[at], np.nan) if credit else np.nan
    cand["credit_rate"] = np.where(is_credit, credit.rate[at], np.nan) if credit else np.nan
    # 5. arbitration: treated under the limits, holdout under limits scaled to its size
    treated = ((cand["arm"] != CONTROL) & cand["profitable"]).to_numpy()
    holdout = ((cand["arm"] == CONTROL) & cand["profitable"]).to_numpy()
    limits = plan_limits(spec, offers, channels, scale=1.0)
    allocation = arbitrate(_candidates(cand[treated]), limits)
    chosen = np.zeros(len(cand), dtype=bool)
    chosen[np.nonzero(treated)[0][allocation.chosen]] = True
    if spec.holdout > 0 and holdout.any():
        shadow = arbitrate(_candidates(cand[holdout]),
                           plan_limits(spec, offers, channels,
                                       scale=spec.holdout / (1 - spec.holdout)))  # fmt: skip
        chosen[np.nonzero(holdout)[0][shadow.chosen]] = True
    cand["chosen"] = chosen
    # how each action ranked among its customer's profitable ones (for the reason codes)
    net = (cand["weighted"] - cand["cost"]).where(cand["profitable"])
    cand["rank"] = net.groupby(cand["row"]).rank(ascending=False, method="first")
    cand["actions"] = cand["profitable"].groupby(cand["row"]).transform("sum")
    rows = _rows(spec, offers, channels, cand[chosen], inputs, ids, send_on)
    if inputs.strata is not None:
        rows["segment"] = pd.Series(inputs.strata, dtype=object).reindex(
            pd.Index(ids).get_indexer(rows["customer_id"].to_numpy())).to_numpy()
    candidates = cand.assign(customer_id=ids[cand["row"].to_numpy()],
                             offer_id=np.array([o.id for o in offers], dtype=object)[
                                 cand["offer"].to_numpy()],
                             channel_name=np.array(channels, dtype=object)[
                                 cand["channel"].to_numpy()])  # fmt: skip
    funnel = _funnel(codes, inputs.gate, channels, cand[cand["profitable"]],
                     chosen[cand["profitable"].to_numpy()], n)
    offer_codes = _long_codes(codes, ids)
    channel_reasons = _long_reasons(inputs.gate, channels, ids)
    meta = {"offers": [o.id for o in offers], "channels": channels, "customers": n,
            "sources": {f"{e.offer_id}/{e.channel}": {"source": e.source, "model": e.model_id}
                        for e in inputs.effects}}  # fmt: skip
    return Plan(spec, send_on, rows, candidates, offer_codes, channel_reasons, funnel,
                allocation, meta)  # fmt: skip


def _offers(spec: PlanSpec, catalogue: OfferCatalogue) -> list[Offer]:
    if spec.offers:
        return [catalogue.get(i) for i in spec.offers]
    return list(catalogue.offers)


def _channels(spec: PlanSpec, offers: list[Offer]) -> list[str]:
    used = list(dict.fromkeys(c for o in offers for c in o.channels))
    if spec.channels:
        return [c for c in spec.channels if c in used]
    return used


def _empty_candidates() -> pd.DataFrame:
    return pd.DataFrame({"row": np.array([], np.int64), "offer": np.array([], np.int32),
                         "channel": np.array([], np.int32), "effect": [], "take": [],
                         "propensity": [], "gross": [], "weighted": [],
                         "cost": []})  # fmt: skip


def _candidates(frame: pd.DataFrame) -> Candidates:
    return Candidates(
        customer=frame["row"].to_numpy(np.int64),
        offer=frame["offer"].to_numpy(np.int32),
        channel=frame["channel"].to_numpy(np.int32),
        value=frame["weighted"].to_numpy(np.float64),
        cost=frame["cost"].to_numpy(np.float64),
    )


def plan_limits(spec: PlanSpec, offers: list[Offer], channels: list[str], *, scale: float) -> Limits:
    """The campaign's limits; the holdout's shadow plan gets them times ``scale``."""
    budget = math.inf if spec.budget is None else spec.budget * scale
    offer_budget = np.array([o.caps.budget if o.caps.budget is not None else math.inf
                             for o in offers]) * scale  # fmt: skip
    offer_count = np.array([o.caps.count if o.caps.count is not None else math.inf
                            for o in offers]) * scale  # fmt: skip
    capacity = np.array([spec.capacity.get(c, math.inf) for c in channels],
                        dtype=np.float64) * scale  # fmt: skip
    return Limits(total_budget=budget, offer_budget=offer_budget,
                  offer_count=np.floor(offer_count), channel_capacity=np.floor(capacity),
                  per_customer=spec.per_customer)  # fmt: skip


def _rows(spec: PlanSpec, offers: list[Offer], channels: list[str], chosen: pd.DataFrame,
          inputs: PlanInputs, ids: np.ndarray, send_on: date) -> pd.DataFrame:  # fmt: skip
    row = chosen["row"].to_numpy(np.int64)
    offer_idx = chosen["offer"].to_numpy()
    channel_idx = chosen["channel"].to_numpy()
    hours = inputs.preferred_hour[row].copy()
    for c, channel in enumerate(channels):
        here = channel_idx == c
        if here.any():
            hours[here] = nearest_allowed(hours[here], inputs.gate.allowed_hours[channel])
    out = pd.DataFrame({
        "customer_id": ids[row],
        "arm": chosen["arm"].to_numpy(),
        "offer_id": np.array([o.id for o in offers], dtype=object)[offer_idx],
        "product_id": np.array([o.product for o in offers], dtype=object)[offer_idx],
        "channel": np.array(channels, dtype=object)[channel_idx],
        "send_at": send_instants(send_on, inputs.zones[row], hours),
        "local_hour": hours,
        "expected_effect": chosen["effect"].to_numpy(),
        "expected_take": chosen["take"].to_numpy(),
        "expected_value": chosen["gross"].to_numpy(),
        "expected_cost": chosen["cost"].to_numpy(),
        "expected_net": (chosen["gross"] - chosen["cost"]).to_numpy(),
    })  # fmt: skip
    credit = inputs.credit
    is_credit = np.array([o.credit for o in offers], dtype=bool)[offer_idx]
    nan = np.full(len(out), np.nan)
    out["credit_limit"] = np.where(is_credit, credit.limit[row], nan) if credit else nan
    out["credit_rate"] = np.where(is_credit, credit.rate[row], nan) if credit else nan
    bands = np.full(len(out), None, dtype=object)
    if credit:
        bands[is_credit] = credit.band[row][is_credit]
    out["risk_band"] = bands
    out["contact"] = out["arm"] != CONTROL
    out["reason_codes"] = _reason_codes(out, chosen, offers, channels, inputs)
    return out.sort_values(["customer_id", "expected_net"], ascending=[True, False],
                           kind="stable").reset_index(drop=True)  # fmt: skip


def _reason_codes(out: pd.DataFrame, chosen: pd.DataFrame, offers: list[Offer],
                  channels: list[str], inputs: PlanInputs) -> np.ndarray:  # fmt: skip
    """A short, stable code per planned action: where its effect came from, how it ranked
    among the customer's profitable actions, the arm and the credit band where there is one,
    e.g. ``effect:uplift|rank:1/4|arm:A|band:B`` (``lodestar explain`` gives the long form)."""
    source = {(e.offer_id, e.channel): e.source for e in inputs.effects}
    codes = []
    for offer_i, channel_i, rank, actions, arm, band in zip(
        chosen["offer"], chosen["channel"], chosen["rank"], chosen["actions"], out["arm"],
        out["risk_band"], strict=True,
    ):  # fmt: skip
        offer_id, channel = offers[int(offer_i)].id, channels[int(channel_i)]
        parts = [f"effect:{source.get((offer_id, channel), 'rate')}",
                 f"rank:{int(rank)}/{int(actions)}", f"arm:{arm}"]  # fmt: skip
        if isinstance(band, str) and band:
            parts.append(f"band:{band}")
        codes.append("|".join(parts))
    return np.array(codes, dtype=object)


def _funnel(codes: dict[str, np.ndarray], gate: ChannelGate, channels: list[str],
            cand: pd.DataFrame, chosen: np.ndarray, n: int) -> list[dict[str, Any]]:  # fmt: skip
    """Customers left after each step, and how many each step dropped (a customer is dropped
    at a step when none of their offers / channels survives it)."""
    steps: list[dict[str, Any]] = [{"step": "universe", "customers": n, "dropped": 0}]
    alive = np.zeros(n, dtype=bool)
    stacked = np.stack(list(codes.values()), axis=1) if codes else np.zeros((n, 0), np.int8)
    left = n
    # a customer survives a rule while at least one offer is not dropped at or before it
    for i, rule in enumerate(RULES):
        alive = (stacked == ELIGIBLE).any(axis=1) | (stacked > i + 1).any(axis=1)
        kept = int(alive.sum())
        steps.append({"step": rule.value, "customers": kept, "dropped": left - kept})
        left = kept
    eligible_any = (stacked == ELIGIBLE).any(axis=1) if stacked.size else alive
    reached = np.zeros(n, dtype=bool)
    for channel in channels:
        reached |= gate.allowed[channel]
    # policy rules in order: a customer is dropped by the first rule that closes their last
    # channel; counted by the reason of their first channel in the rule order
    still = eligible_any.copy()
    ranks = {channel: _rank(gate.reason[channel], gate.rule_order) for channel in channels}
    for position, name in enumerate(gate.rule_order):
        closed = np.ones(n, dtype=bool)
        for channel in channels:
            closed &= ranks[channel] <= position
        kept = int((still & ~closed).sum())
        steps.append({"step": f"policy:{name}", "customers": kept, "dropped": left - kept})
        left = kept
    profitable = np.zeros(n, dtype=bool)
    profitable[cand["row"].to_numpy(np.int64)] = True
    kept = int((still & reached & profitable).sum())
    steps.append({"step": NOT_PROFITABLE, "customers": kept, "dropped": left - kept})
    left = kept
    picked = np.zeros(n, dtype=bool)
    picked[cand["row"].to_numpy(np.int64)[chosen]] = True
    kept = int(picked.sum())
    steps.append({"step": "arbitration", "customers": kept, "dropped": left - kept})
    return steps


def _rank(reason: np.ndarray, order: tuple[str, ...]) -> np.ndarray:
    """Position of each reason in ``order`` (len(order) where allowed, i.e. never closed)."""
    lookup = {r: i for i, r in enumerate(order)}
    ranks = pd.Series(reason, dtype=object).map(lookup)
    return ranks.fillna(len(order)).to_numpy(np.int64)


def _long_codes(codes: dict[str, np.ndarray], ids: np.ndarray) -> pd.DataFrame:
    parts = []
    for offer_id, code in codes.items():
        bad = np.nonzero(code != ELIGIBLE)[0]
        parts.append(pd.DataFrame({"customer_id": ids[bad], "offer_id": offer_id,
                                   "rule": np.array([r.value for r in RULES],
                                                    dtype=object)[code[bad] - 1]}))  # fmt: skip
    if not parts:
        return pd.DataFrame({"customer_id": [], "offer_id": [], "rule": []})
    return pd.concat(parts, ignore_index=True)


def _long_reasons(gate: ChannelGate, channels: list[str], ids: np.ndarray) -> pd.DataFrame:
    parts = []
    for channel in channels:
        bad = np.nonzero(~gate.allowed[channel])[0]
        parts.append(pd.DataFrame({"customer_id": ids[bad], "channel": channel,
                                   "rule": gate.reason[channel][bad]}))  # fmt: skip
    if not parts:
        return pd.DataFrame({"customer_id": [], "channel": [], "rule": []})
    return pd.concat(parts, ignore_index=True)
