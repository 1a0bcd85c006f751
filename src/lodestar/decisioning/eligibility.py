"""Eligibility -> applicability -> suitability: which customers may be offered what.

The rules run in a fixed order and each customer x offer pair records the *first* rule that
drops it, so the plan's exclusion funnel adds up (every pair is counted once) and
``lodestar explain`` can say why an offer was not made:

1. ``offer_not_valid``  the offer is outside its validity window on the send date
2. ``audience``         outside the campaign's audience
3. ``offer_audience``   outside the offer's own eligibility expression
4. ``kyc``              know-your-customer not verified (where the offer requires it)
5. ``prescreen``        declined by the risk pre-screen (high risk is dropped before marketing)
6. ``holds_product``    already holds the product, or a conflicting one
7. ``suitability``      the product's risk level exceeds the customer's risk tolerance, or the
                        tolerance was never assessed (a regulatory rule for investment
                        products: the caller passes a risk level only for those)
8. ``credit_declined``  a credit offer for which the scorecard and credit policy give no limit

Contact-policy rules (consent, do-not-contact, caps, quiet hours...) come after these, per
channel (:mod:`lodestar.decisioning.contact_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np

from lodestar.decisioning.offers import Offer


class Rule(StrEnum):
    OFFER_NOT_VALID = "offer_not_valid"
    AUDIENCE = "audience"
    OFFER_AUDIENCE = "offer_audience"
    KYC = "kyc"
    PRESCREEN = "prescreen"
    HOLDS_PRODUCT = "holds_product"
    SUITABILITY = "suitability"
    CREDIT_DECLINED = "credit_declined"


RULES: tuple[Rule, ...] = tuple(Rule)
#: Code stored per customer x offer: 0 eligible, i + 1 dropped by RULES[i].
ELIGIBLE = 0


@dataclass(frozen=True)
class CustomerFacts:
    """What eligibility needs of every customer, as arrays in one order (the plan's universe).

    ``tolerance`` is the risk tolerance as a number 1..5 (R1..R5), 0 when never assessed;
    ``holds`` maps a product id to who holds it (an active account).
    """

    customer_id: np.ndarray
    kyc_verified: np.ndarray
    tolerance: np.ndarray
    prescreen_declined: np.ndarray
    holds: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.customer_id)
        for name in ("kyc_verified", "tolerance", "prescreen_declined"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"CustomerFacts.{name} has {len(getattr(self, name))} values "
                                 f"for {n} customers")  # fmt: skip

    def __len__(self) -> int:
        return len(self.customer_id)

    def holding(self, products: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(len(self), dtype=bool)
        for product in products:
            held = self.holds.get(product)
            if held is not None:
                out |= held
        return out


def risk_number(level: str | None) -> int:
    """``R3`` -> 3; None or anything else -> 0 (not rated)."""
    if level and len(level) == 2 and level[0] == "R" and level[1] in "12345":
        return int(level[1])
    return 0


def offer_rules(
    offer: Offer,
    facts: CustomerFacts,
    *,
    send_date: date,
    audience: np.ndarray | None,
    offer_audience: np.ndarray | None,
    product_risk: str | None,
    credit_ok: np.ndarray | None = None,
    prescreen: bool = True,
) -> np.ndarray:
    """The first failing rule of every customer for ``offer``, as codes (0 = eligible; see
    :data:`ELIGIBLE`), int8.

    ``audience`` / ``offer_audience`` are membership masks (None: everyone); ``product_risk``
    the product's risk level (the offer's own ``risk_level`` wins); ``credit_ok`` who gets a
    limit (credit offers only).
    """
    n = len(facts)
    code = np.zeros(n, dtype=np.int8)

    def drop(rule: Rule, mask: np.ndarray) -> None:
        # Only customers still eligible take this rule's code: the first failing rule wins.
        code[(code == ELIGIBLE) & mask] = RULES.index(rule) + 1

    if not offer.valid_on(send_date):
        code[:] = RULES.index(Rule.OFFER_NOT_VALID) + 1
        return code
    if audience is not None:
        drop(Rule.AUDIENCE, ~audience)
    if offer_audience is not None:
        drop(Rule.OFFER_AUDIENCE, ~offer_audience)
    if offer.kyc_required:
        drop(Rule.KYC, ~facts.kyc_verified)
    if prescreen:
        drop(Rule.PRESCREEN, facts.prescreen_declined)
    conflicts = ((offer.product,) if offer.product else ()) + offer.conflicts
    if conflicts:
        drop(Rule.HOLDS_PRODUCT, facts.holding(conflicts))
    level = risk_number(offer.risk_level or product_risk)
    if level > 1:
        # R1 products suit everyone; above that the customer's assessed tolerance must reach
        # the product's level, and an unassessed customer may not be sold the product.
        drop(Rule.SUITABILITY, facts.tolerance < level)
    if offer.credit and credit_ok is not None:
        drop(Rule.CREDIT_DECLINED, ~credit_ok)
    return code


def rule_counts(codes: np.ndarray) -> dict[str, int]:
    """How many pairs each rule dropped, in rule order, and how many stayed eligible."""
    counts = np.bincount(codes.astype(np.int64), minlength=len(RULES) + 1)
    out = {rule.value: int(counts[i + 1]) for i, rule in enumerate(RULES)}
    out["eligible"] = int(counts[ELIGIBLE])
    return out


def rule_of(code: int) -> str | None:
    """The rule a stored code stands for (None: eligible)."""
    return None if code == ELIGIBLE else RULES[code - 1].value
