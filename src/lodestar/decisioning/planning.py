"""A plan's inputs, gathered from a workspace: the customers and what eligibility needs of them,
the audiences, the models' effects, the contact policy's verdicts, the credit terms and each
customer's active hours. :func:`make_plan` then hands them to :func:`~.plan.build_plan`.

Everything is read as of the workspace's data date; the plan is for ``send_on`` (default: the
day after the data date).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from lodestar.decisioning.effects import ModelScores, offer_effects, scores_from_frame
from lodestar.decisioning.eligibility import CustomerFacts, risk_number
from lodestar.decisioning.offers import EffectSource, OfferCatalogue
from lodestar.decisioning.plan import ChannelGate, CreditOffer, Plan, PlanInputs, build_plan
from lodestar.decisioning.plan_spec import PlanSpec
from lodestar.decisioning.policy_rules import ContactPolicy
from lodestar.decisioning.send_time import preferred_hours
from lodestar.errors import ConfigError
from lodestar.modeling.registry import ModelError

Progress = Callable[[str, int, int | None], None]
#: Product categories the suitability rule applies to.
INVESTMENT = ("wealth", "insurance")
#: How far back a customer's active hours are counted.
ACTIVITY_DAYS = 90
_PROFILE = ("customer_id", "kyc_status", "risk_tolerance", "time_zone", "phone", "email",
            "app_user_id", "wecom_id", "monthly_income", "loan_balance", "card_balance")  # fmt: skip


def make_plan(ws: Any, spec: PlanSpec, catalogue: OfferCatalogue, policy: ContactPolicy,
              *, progress: Progress | None = None) -> Plan:  # fmt: skip
    """The plan for ``spec`` on ``ws``'s customers (see :mod:`~lodestar.decisioning.plan`)."""
    inputs, send_on = plan_inputs(ws, spec, catalogue, policy, progress=progress)
    plan = build_plan(spec, catalogue, inputs, send_on)
    plan.meta["policy"] = {"name": policy.name}
    plan.meta["data_as_of"] = str(_as_of(ws))
    return plan


def _as_of(ws: Any) -> date:
    value = ws.query("SELECT max(ts)::DATE FROM transactions").column(0)[0].as_py()
    return value or date.today()


def plan_inputs(ws: Any, spec: PlanSpec, catalogue: OfferCatalogue, policy: ContactPolicy,
                *, progress: Progress | None = None,
                open_gate: bool = False) -> tuple[PlanInputs, date]:  # fmt: skip
    """Everything :func:`~.plan.build_plan` needs. ``open_gate`` leaves the contact policy out
    (every channel allowed at all hours): real-time decisions check it per request instead."""
    def step(name: str, i: int) -> None:
        # one progress stage, "plan", in seven steps (``name`` says which, for readers)
        if progress is not None:
            progress("plan", i, 7)

    as_of = _as_of(ws)
    send_on = spec.send_on or as_of + timedelta(days=1)
    index = ws.profile_index()
    ids = np.asarray(index.ids.to_numpy(zero_copy_only=False), dtype=object)
    step("customers", 1)
    profile = _profile(ws, ids, spec.stratify_by)
    holds = _holds(ws, ids)
    facts = CustomerFacts(
        customer_id=ids,
        kyc_verified=(profile["kyc_status"] == "verified").to_numpy(),
        tolerance=np.array([risk_number(v) for v in profile["risk_tolerance"]], dtype=np.int64),
        prescreen_declined=(profile["risk_prescreen"] == "decline").to_numpy(),
        holds=holds,
    )
    step("audiences", 2)
    audience = _mask(ws, index, spec.audience) if spec.audience else None
    offers = [catalogue.get(i) for i in spec.offers] if spec.offers else list(catalogue.offers)
    offer_audiences = {o.id: _mask(ws, index, o.eligibility) if o.eligibility else None
                       for o in offers}  # fmt: skip
    rows = ws.query("SELECT product_id, category, risk_level FROM products").to_pylist()
    catalogue.check_products({r["product_id"]: r for r in rows}, "offers")
    # Suitability is a rule for investment products (wealth, insurance); a loan's or a card's
    # rating is the bank's own and is left to the credit rules.
    products = {r["product_id"]: r["risk_level"] if r["category"] in INVESTMENT else None
                for r in rows}  # fmt: skip
    step("effects", 3)
    frames = FrameCache(ws)
    load = _score_loader(ws, ids, frames)
    channels = list(dict.fromkeys(c for o in offers for c in o.channels))
    if spec.channels:
        channels = [c for c in spec.channels if c in channels]
    response = None
    if any(o.effect.source is EffectSource.UPLIFT for o in offers):
        try:
            response = load("response").columns.get("probability")
        except ModelError:  # no response model: the effect stands in for the propensity
            response = None
    effects = [e for o in offers
               for e in offer_effects(o, channels, load, len(ids), response)]  # fmt: skip
    step("contact policy", 4)
    if open_gate:
        everyone = np.ones(len(ids), dtype=bool)
        gate = ChannelGate({c: everyone for c in channels},
                           {c: np.full(len(ids), None, dtype=object) for c in channels},
                           (), {c: list(range(24)) for c in channels})  # fmt: skip
    else:
        gate = _gate(ws, policy, profile, channels, spec, send_on)
    step("credit terms", 5)
    credit = None
    if any(o.credit for o in offers):
        credit = _credit(ws, ids, profile, frames)
        if credit is None:
            names = ", ".join(o.id for o in offers if o.credit)
            raise ConfigError(f"credit offers ({names}) need a limit and a rate from a "
                              "scorecard, and the workspace has none",
                              hint="lodestar model train scorecard, or set credit: false "
                                   "on the offer")  # fmt: skip
    step("send times", 6)
    hours = preferred_hours(ids, profile["time_zone"].to_numpy(), _activity(ws, as_of),
                            on=send_on, default_hour=spec.default_hour)  # fmt: skip
    strata = None
    if spec.stratify_by:
        strata = profile[spec.stratify_by].astype(str).to_numpy()
    step("plan", 7)
    inputs = PlanInputs(facts=facts, zones=profile["time_zone"].to_numpy(), audience=audience,
                        offer_audiences=offer_audiences, product_risk=products,
                        effects=effects, gate=gate, preferred_hour=hours, credit=credit,
                        strata=strata, contacts=profile)  # fmt: skip
    return inputs, send_on


def _activity(ws: Any, as_of: date) -> pd.DataFrame:
    """Events per customer and UTC hour over the look-back window (epoch arithmetic: the
    engine may have no time-zone library, and the hour is made local in numpy)."""
    since = datetime.combine(as_of - timedelta(days=ACTIVITY_DAYS), time(0))
    table = ws.query(
        "SELECT customer_id, ((epoch_us(ts) // 3600000000) % 24)::INTEGER AS utc_hour, "
        "count(*) AS events FROM events WHERE customer_id IS NOT NULL AND ts >= ?::TIMESTAMP "
        "GROUP BY ALL",
        [since],
    )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _profile(ws: Any, ids: np.ndarray, stratify_by: str | None) -> pd.DataFrame:
    known = {name for name, *_ in ws.segment_fields()}
    wanted = [c for c in _PROFILE if c in known]
    for extra in ("risk_prescreen", stratify_by):
        if extra and extra in known and extra not in wanted:
            wanted.append(extra)
    if stratify_by and stratify_by not in known:
        raise ConfigError(f"stratify_by: no column '{stratify_by}' in the customer profile",
                          hint="lodestar segment fields lists the columns")  # fmt: skip
    columns = ", ".join(f'"{c}"' for c in wanted)
    frame = ws.query(f"SELECT {columns} FROM customer_profile").to_pandas()
    frame = frame.set_index("customer_id").reindex(ids).reset_index(names="customer_id")
    for column in (*_PROFILE, "risk_prescreen"):
        if column not in frame.columns:
            frame[column] = None
    return frame


def _holds(ws: Any, ids: np.ndarray) -> dict[str, np.ndarray]:
    rows = ws.query(
        "SELECT DISTINCT customer_id, product_id FROM holdings "
        "WHERE close_date IS NULL AND coalesce(status, 'active') <> 'closed'"
    ).to_pandas()
    position = pd.Index(ids).get_indexer(rows["customer_id"].to_numpy())
    out = {}
    for product, where in rows.groupby("product_id").groups.items():
        pos = position[np.asarray(where)]
        mask = np.zeros(len(ids), dtype=bool)
        mask[pos[pos >= 0]] = True
        out[str(product)] = mask
    return out


def _mask(ws: Any, index: Any, expr: str) -> np.ndarray:
    from lodestar.segments.index import unpack

    bits = ws._segments.bits(expr)
    return np.asarray(unpack(bits, index.n), dtype=bool)


class FrameCache:
    """The customers' scoring features, built once per plan: every model but next-best-product
    reads the same point-in-time frame (building it is most of a plan's time)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: dict[str, pd.DataFrame] = {}

    def of(self, record: Any) -> pd.DataFrame:
        key = "nbp" if record.kind == "nbp" else "base"
        if key not in self.frames:
            self.frames[key] = self.ws.scoring_frame(record)
        return self.frames[key]


def _score_loader(ws: Any, ids: np.ndarray, frames: FrameCache) -> Callable[[str], ModelScores]:
    from lodestar.modeling.tabular import features_frame

    @cache
    def load(reference: str) -> ModelScores:
        if reference.startswith("campaign:"):
            model_id = uplift_model_of(ws, reference.removeprefix("campaign:"))
        else:
            model_id = ws.model_registry.resolve(reference)
        record = ws.model(model_id)
        frame = frames.of(record)
        estimator = ws.load_model(model_id)
        X = features_frame(frame, record.features)
        keys = frame[["customer_id"]]
        if record.kind == "nbp":
            proba = np.asarray(estimator.predict_proba(X))
            classes = [str(c) for c in estimator.classes_]
            return scores_from_frame(model_id, record.kind, keys, ids, proba=(proba, classes))
        if record.task == "uplift":
            uplift = np.asarray(estimator.predict_uplift(X), dtype=np.float64)
            named = getattr(estimator, "treatments_", None)
            treatments = tuple(str(t) for t in named) if named is not None else ()
            if uplift.ndim == 1:
                scored = keys.assign(uplift=uplift)
            else:
                scored = keys.assign(**{f"uplift_{t}": uplift[:, i]
                                        for i, t in enumerate(treatments)})  # fmt: skip
            return scores_from_frame(model_id, record.kind, scored, ids, treatments)
        probability = np.asarray(estimator.predict_proba(X))[:, 1]
        return scores_from_frame(model_id, record.kind, keys.assign(probability=probability), ids)

    return load


def uplift_model_of(ws: Any, campaign: str) -> str:
    """The uplift model learnt from ``campaign``: the champion if it was, else the latest."""
    models = [r for r in ws.models("uplift")
              if (r.data.get("frame") or {}).get("campaign_id") == campaign]  # fmt: skip
    if not models:
        raise ModelError(f"no uplift model learnt from campaign '{campaign}'",
                         hint=f"lodestar model train uplift --campaign {campaign}")  # fmt: skip
    champion = ws.model_registry.champion("uplift")
    ids = [r.id for r in models]
    return champion if champion in ids else ids[-1]


def _gate(ws: Any, policy: ContactPolicy, profile: pd.DataFrame, channels: list[str],
          spec: PlanSpec, send_on: date) -> ChannelGate:  # fmt: skip
    from lodestar.decisioning.policy_batch import evaluate
    from lodestar.decisioning.policy_rules import RULE_ORDER, Purpose, customer_zone

    at = datetime.combine(send_on, time(spec.default_hour),
                          tzinfo=customer_zone(None, policy.default_time_zone))  # fmt: skip
    frames = policy_frames(ws, at)
    decision = evaluate(policy, profile, channels, spec.purpose, at, **frames)
    result = decision.frame
    ids = profile["customer_id"].to_numpy()
    allowed, reason, hours = {}, {}, {}
    for channel in channels:
        part = result[result["channel"] == channel]
        pos = pd.Index(part["customer_id"].astype(str)).get_indexer(pd.Index(ids.astype(str)))
        allowed[channel] = part["allowed"].to_numpy(dtype=bool)[pos]
        reason[channel] = part["reason"].astype(object).to_numpy()[pos]
        quiet = policy.quiet_hours(channel, Purpose(spec.purpose))
        hours[channel] = [h for h in range(24) if quiet is None or not quiet.contains(time(h))]
    order = tuple(r.value for r in RULE_ORDER)
    reason = {c: pd.Series(r, dtype=object).where(pd.notna(r), None).to_numpy(dtype=object)
              for c, r in reason.items()}  # fmt: skip
    return ChannelGate(allowed, reason, order, hours)


def policy_frames(ws: Any, at: datetime) -> dict[str, pd.DataFrame]:
    """What the contact policy counts and checks, from the workspace: past contacts, consents,
    the do-not-contact list and complaints."""
    history = ws.query(
        "SELECT customer_id, channel, contacted_at, arm, outcome, outcome_at "
        "FROM campaign_contacts WHERE contacted_at >= ?",
        [(at - timedelta(days=120)).replace(tzinfo=None)],
    ).to_pandas()
    consents = ws.query(
        "SELECT customer_id, channel, purpose, granted, ts, withdrawn_at FROM consents"
    ).to_pandas()
    complaints = ws.query("SELECT customer_id, ts FROM complaints").to_pandas()
    return {"history": history, "consents": consents, "complaints": complaints,
            "do_not_contact": ws.do_not_contact_frame()}  # fmt: skip


def _credit(ws: Any, ids: np.ndarray, profile: pd.DataFrame,
            frames: FrameCache) -> CreditOffer | None:  # fmt: skip
    """Limits and rates for everyone from the scorecard champion and the credit policy; the
    existing monthly debt service is estimated from balances (loans amortised at the policy's
    base rate over its term, cards at a 10% minimum payment) because the workspace keeps
    balances, not repayment schedules."""
    from lodestar.modeling.credit_terms import credit_terms_frame

    try:
        model_id = ws.model_registry.resolve("scorecard")
    except ModelError:  # no scorecard: credit offers go out without a limit
        return None
    scored = ws.score_model(model_id, frames.of(ws.model(model_id))).scores
    rules = ws.credit_policy()
    by_id = profile.set_index("customer_id")
    scored_ids = scored["customer_id"].to_numpy()
    income = pd.to_numeric(by_id["monthly_income"].reindex(scored_ids), errors="coerce")
    loans = pd.to_numeric(by_id["loan_balance"].reindex(scored_ids), errors="coerce").fillna(0)
    cards = pd.to_numeric(by_id["card_balance"].reindex(scored_ids), errors="coerce").fillna(0)
    per_unit = float(rules.repayment_per_unit(rules.base_rate))
    debt = loans.clip(lower=0) * per_unit + cards.clip(lower=0) * 0.10
    terms = credit_terms_frame(pd.DataFrame({
        "points": scored["points"].to_numpy(), "monthly_income": income.to_numpy(),
        "monthly_debt": debt.to_numpy()}), rules).reset_index(drop=True)  # fmt: skip
    position = pd.Index(scored_ids).get_indexer(ids)
    found = position >= 0

    def spread(values: pd.Series, fill: Any) -> np.ndarray:
        out = np.full(len(ids), fill, dtype=object if fill is None else np.float64)
        out[found] = values.to_numpy()[position[found]]
        return out

    limit = spread(pd.to_numeric(terms["limit"], errors="coerce"), np.nan)
    rate = spread(pd.to_numeric(terms["rate"], errors="coerce"), np.nan)
    band = spread(terms["band"].astype(object), None)
    ok = np.nan_to_num(limit, nan=0.0) > 0
    return CreditOffer(ok=ok, limit=limit, rate=rate, band=band)

