"""Past randomised campaigns with known, heterogeneous treatment effects.

Each customer in a campaign's audience has a latent response type — persuadable, sure thing,
lost cause or do-not-disturb — drawn at random from probabilities that depend on their traits
(age, digital affinity, activity, income, wealth, satisfaction, credit risk, holdings), so an
uplift model can learn who is moved by contact. Arms are assigned at random; outcomes are drawn
from the arm's true probability. ``campaign_truth`` records two truths per customer and
treatment: the realised draw (``p_control``, ``p_treated``, ``uplift``, type), which includes
the luck of the type and effect draws, and its expectation given the traits
(``expected_p_control``, ``expected_p_treated``, ``expected_uplift``, in closed form by
:func:`expected_effect`): the conditional average treatment effect, the best a targeting policy
that knew every trait could rank by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import ndtr

from lodestar.data.schema import CAMPAIGN_CONTACTS, CAMPAIGN_TRUTH, PAST_CAMPAIGNS
from lodestar.data.synthetic.accounts import CATEGORY, Book, P
from lodestar.data.synthetic.calendar import Calendar, ids, sigmoid, take, timestamps
from lodestar.data.synthetic.people import Population

TYPES = ("persuadable", "sure_thing", "lost_cause", "do_not_disturb")


@dataclass(frozen=True)
class CampaignSpec:
    campaign_id: str
    name: str
    objective: str
    product_id: str
    channel: str
    treatments: tuple[str, ...]
    control_share: float
    start_offset_days: int  # days before as_of
    reach: float  # share of the eligible audience included
    revenue: float  # typical revenue of a conversion, CNY


SPECS = (
    CampaignSpec("CMP2024_CC_ACT", "信用卡激活返现短信", "credit-card activation and first spend",
                 "CC_STANDARD", "sms", ("sms_cashback",), 0.3, 560, 0.6, 180.0),
    CampaignSpec("CMP2025_LOAN_PUSH", "消费贷利率优惠推送", "consumer-loan applications",
                 "LOAN_CONSUMER", "app_push", ("push_rate_discount", "push_plain"), 0.34, 330,
                 0.5, 1600.0),
    CampaignSpec("CMP2025_WEALTH_TM", "理财产品电话营销", "fixed-income wealth subscriptions",
                 "WM_FIXED", "telemarketing", ("telemarketing",), 0.2, 200, 0.4, 900.0),
    CampaignSpec("CMP2026_SB_WECOM", "普惠小微企业微信触达", "small-business loan drawdowns",
                 "LOAN_SB", "wecom", ("wecom_manager",), 0.5, 90, 0.8, 2600.0),
)  # fmt: skip


def past_campaigns_table(cal: Calendar) -> pa.Table:
    rows = []
    for s in SPECS:
        start = cal.as_of - timedelta(days=s.start_offset_days)
        rows.append({
            "campaign_id": s.campaign_id, "name": s.name, "objective": s.objective,
            "product_id": s.product_id, "start_date": start,
            "end_date": start + timedelta(days=30), "randomised": True,
            "control_share": s.control_share, "channels": s.channel,
        })  # fmt: skip
    return pa.Table.from_pylist(rows, schema=PAST_CAMPAIGNS.arrow_schema)


def _eligible(spec: CampaignSpec, pop: Population, book: Book, day: int) -> np.ndarray:
    alive = (pop.join_day <= day) & (pop.churn_day > day)
    held = book.held
    if spec.product_id == "CC_STANDARD":
        return alive & held[:, [P["CC_STANDARD"], P["CC_GOLD"]]].any(axis=1)
    if spec.product_id == "LOAN_CONSUMER":
        return alive & pop.app_user & (pop.age >= 22) & (pop.age <= 55)
    if spec.product_id == "WM_FIXED":
        return alive & (pop.wealth > 50_000) & (pop.risk_tolerance >= 2)
    return alive & np.isin(pop.employment, (2, 3)) & pop.has_wecom | (alive & (pop.employment == 3))


#: Persuadables' lift is uniform on this range (times 0.6 for a weaker second variant); a
#: do-not-disturb's loss is uniform on ``DND_LOSS`` (at most their conversion rate).
PERSUADABLE_LIFT = (0.04, 0.16)
DND_LOSS = (0.01, 0.05)
NOISE_SD = 0.002  # sure things and lost causes: effects that are nearly zero


def _type_probabilities(
    spec: CampaignSpec, pop: Population, book: Book, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """P(type | traits), one row per customer in ``TYPES`` order, and the base conversion rate
    without contact that each type's rate is derived from."""
    age, dig = pop.age[idx], pop.digital[idx]
    lw = np.log(pop.wealth[idx] / 1e5 + 1e-9)
    li = np.log(pop.monthly_income[idx] / 10_000)
    act = np.log(pop.activity[idx])
    wealth_held = book.held[idx][:, CATEGORY == "wealth"].any(axis=1)
    # Scores for each type; the softmax picks one per customer. Coefficients differ by campaign
    # so uplift models have a different story to learn in each.
    z_pers = 0.4 + 0.9 * dig + 0.5 * act - 0.02 * np.abs(age - 38)
    z_sure = -0.6 + 0.8 * act + 0.6 * lw
    z_lost = -0.1 - 0.7 * act - 0.5 * dig
    z_dnd = -1.6 + 0.035 * (age - 40) - 0.8 * dig + 0.4 * (pop.satisfaction[idx] < -0.5)
    if spec.channel == "telemarketing":
        z_pers += 0.5 * lw - 0.6 * wealth_held
        z_dnd += 0.8  # phone calls annoy more people
    if spec.channel == "app_push":
        z_pers += 0.4 * (pop.credit_risk[idx] > -3.3) - 0.3 * li
    if spec.channel == "wecom":
        z_pers += 0.8
    z = np.stack([z_pers, z_sure, z_lost, z_dnd], axis=1)
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    base = sigmoid(-3.2 + 0.5 * act + 0.2 * lw)
    return prob, base


def _control_by_type(base: np.ndarray) -> np.ndarray:
    """(n, 4): the response probability without contact of each type, given the base rate."""
    return np.stack([base, np.clip(base * 6, 0.15, 0.6), base * 0.4, base * 0.4], axis=1)


def _latent(
    rng: np.random.Generator, prob: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's latent type, drawn from ``prob``, and true response probability without
    contact."""
    kind = (rng.random(len(prob))[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    kind = np.minimum(kind, 3)
    p_control = np.take_along_axis(_control_by_type(base), kind[:, None], axis=1)[:, 0]
    return kind, p_control


def _variant_factor(variant: int) -> float:
    return 1.0 if variant == 0 else 0.6


def _treated(
    rng: np.random.Generator, kind: np.ndarray, p_control: np.ndarray, variant: int
) -> np.ndarray:
    """True response probability with contact by treatment ``variant`` (the first is strongest)."""
    n = len(kind)
    lift = np.select(
        [kind == 0, kind == 3],
        [rng.uniform(*PERSUADABLE_LIFT, n) * _variant_factor(variant),
         -np.minimum(p_control, rng.uniform(*DND_LOSS, n))],
        rng.normal(0, NOISE_SD, n),
    )  # fmt: skip
    return np.clip(p_control + lift, 0, 1)


def _mean_min_uniform(low: float, high: float, cap: np.ndarray) -> np.ndarray:
    """E[min(U, cap)] for U ~ Uniform(low, high)."""
    c = np.clip(cap, low, high)
    inside = ((c * c - low * low) / 2 + (high - c) * c) / (high - low)
    return np.where(cap < low, cap, inside)


def expected_effect(prob: np.ndarray, base: np.ndarray, variant: int) -> tuple[np.ndarray, ...]:
    """Expected ``(p_control, p_treated, uplift)`` given the traits behind ``prob`` and ``base``:
    the average over the latent type and the effect draws of :func:`_latent` and
    :func:`_treated`, in closed form (the conditional average treatment effect, which is the most
    a targeting policy that knew every trait could know before contacting anyone)."""
    p0 = _control_by_type(base)
    f = _variant_factor(variant)
    lo, hi = PERSUADABLE_LIFT
    # persuadable: min(f U, 1 - p0) = f min(U, (1 - p0) / f)
    pers = f * _mean_min_uniform(lo, hi, (1 - p0[:, 0]) / f)
    # sure thing, lost cause: E[max(N(0, s), -p0)] - the clip at zero (the one at one needs
    # p0 > 0.99, and their p0 is at most 0.6)
    c = -p0[:, 1:3] / NOISE_SD
    near_zero = NOISE_SD * (c * ndtr(c) + np.exp(-c * c / 2) / np.sqrt(2 * np.pi))
    dnd = -_mean_min_uniform(*DND_LOSS, p0[:, 3])
    lift = np.column_stack([pers, near_zero, dnd])
    uplift = (prob * lift).sum(axis=1)
    p_control = (prob * p0).sum(axis=1)
    return p_control, p_control + uplift, uplift


def make_contacts(
    rng: np.random.Generator, pop: Population, book: Book, cal: Calendar
) -> tuple[pa.Table, pa.Table]:
    contacts: list[pa.Table] = []
    truths: list[pa.Table] = []
    for c, spec in enumerate(SPECS):
        start_day = cal.days - 1 - spec.start_offset_days
        eligible = np.nonzero(_eligible(spec, pop, book, start_day))[0]
        idx = eligible[rng.random(len(eligible)) < spec.reach]
        k = len(idx)
        if k == 0:
            continue
        # Random assignment: control, or one of the treatment variants in equal shares.
        is_control = rng.random(k) < spec.control_share
        variant = rng.integers(0, len(spec.treatments), k)
        prob, base = _type_probabilities(spec, pop, book, idx)
        kind, p0 = _latent(rng, prob, base)
        treated = [_treated(rng, kind, p0, v) for v in range(len(spec.treatments))]
        p1 = np.choose(variant, treated)
        p = np.where(is_control, p0, p1)
        converted = rng.random(k) < p
        responded = converted | (rng.random(k) < np.where(is_control, 0.02, 0.12))
        opted_out = ~converted & ~is_control & (rng.random(k) < 0.01)
        revenue = np.where(
            converted, np.round(spec.revenue * np.exp(rng.normal(0, 0.6, k)), 2), 0.0
        )
        contacted = cal.sample_times(rng, np.full(k, start_day) + rng.integers(0, 7, k))
        outcome_at = contacted + (rng.exponential(4, k) * 86_400_000_000).astype(np.int64)
        outcome = np.select([converted, opted_out, responded], [2, 3, 1], 0)
        treatment_name = take(spec.treatments, variant)
        contacts.append(
            pa.Table.from_arrays(
                [
                    ids(f"K{c}", pop.number[idx], 9),
                    pa.array(np.full(k, spec.campaign_id)),
                    pop.customer_id.take(pa.array(idx)),
                    take(("treatment", "control"), is_control.astype(int)),
                    pc.if_else(pa.array(is_control), pa.scalar(None, pa.string()), treatment_name),
                    take((spec.channel,), np.zeros(k), mask=is_control),
                    take((f"OFFER_{spec.product_id}",), np.zeros(k), mask=is_control),
                    timestamps(contacted),
                    take(("no_response", "responded", "converted", "opted_out"), outcome),
                    pa.array(responded),
                    pa.array(converted),
                    pa.array(revenue),
                    timestamps(outcome_at),
                ],
                schema=CAMPAIGN_CONTACTS.arrow_schema,
            )
        )
        for v, t1 in enumerate(treated):
            e0, e1, e_uplift = expected_effect(prob, base, v)
            truths.append(
                pa.Table.from_arrays(
                    [
                        pa.array(np.full(k, spec.campaign_id)),
                        pop.customer_id.take(pa.array(idx)),
                        pa.array(np.full(k, spec.treatments[v])),
                        take(TYPES, kind),
                        pa.array(p0),
                        pa.array(t1),
                        pa.array(t1 - p0),
                        pa.array(np.full(k, spec.revenue)),
                        pa.array(e0),
                        pa.array(e1),
                        pa.array(e_uplift),
                    ],
                    schema=CAMPAIGN_TRUTH.arrow_schema,
                )
            )
    empty_c = CAMPAIGN_CONTACTS.arrow_schema.empty_table()
    empty_t = CAMPAIGN_TRUTH.arrow_schema.empty_table()
    return (pa.concat_tables(contacts) if contacts else empty_c,
            pa.concat_tables(truths) if truths else empty_t)  # fmt: skip
