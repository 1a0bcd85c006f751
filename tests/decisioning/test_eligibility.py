"""Eligibility: each rule, and the first failing rule wins."""

from __future__ import annotations

from datetime import date

import numpy as np

from lodestar.decisioning.eligibility import (
    ELIGIBLE,
    RULES,
    CustomerFacts,
    Rule,
    offer_rules,
    rule_counts,
    rule_of,
)
from lodestar.decisioning.offers import OfferCatalogue

CATALOGUE = OfferCatalogue.from_text("""\
offers:
  - {id: EQ, name: 权益基金, product: WM_EQUITY, value: 100, channels: {app_push: {}},
     effect: {source: rate, rate: 0.01}, conflicts: [WM_ALT]}
  - {id: CASH, name: 现金理财, product: WM_CASH, value: 10, kyc_required: false,
     channels: {app_push: {}}, effect: {source: rate, rate: 0.01},
     valid_from: 2026-01-01, valid_to: 2026-06-30}
  - {id: LOAN, name: 消费贷, product: LOAN_CONSUMER, value: 1000, credit: true,
     channels: {sms: {}}, effect: {source: rate, rate: 0.01}}
""")
RULE = {rule: RULES.index(rule) + 1 for rule in RULES}


def facts() -> CustomerFacts:
    # customers: 0 fine R4; 1 KYC pending; 2 declined by pre-screen; 3 holds WM_EQUITY;
    # 4 tolerance R3; 5 never assessed; 6 holds the conflicting WM_ALT
    return CustomerFacts(
        customer_id=np.array([f"C{i}" for i in range(7)], dtype=object),
        kyc_verified=np.array([1, 0, 1, 1, 1, 1, 1], dtype=bool),
        tolerance=np.array([4, 4, 4, 4, 3, 0, 5]),
        prescreen_declined=np.array([0, 0, 1, 0, 0, 0, 0], dtype=bool),
        holds={"WM_EQUITY": np.array([0, 0, 0, 1, 0, 0, 0], dtype=bool),
               "WM_ALT": np.array([0, 0, 0, 0, 0, 0, 1], dtype=bool)},
    )


def test_each_rule_drops_whom_it_should() -> None:
    codes = offer_rules(CATALOGUE.get("EQ"), facts(), send_date=date(2026, 3, 1), audience=None,
                        offer_audience=None, product_risk="R4")  # fmt: skip
    assert [rule_of(int(c)) for c in codes] == [
        None, "kyc", "prescreen", "holds_product", "suitability", "suitability", "holds_product",
    ]


def test_the_first_failing_rule_wins() -> None:
    audience = np.array([1, 0, 0, 1, 1, 1, 1], dtype=bool)  # 1 and 2 are also outside
    codes = offer_rules(CATALOGUE.get("EQ"), facts(), send_date=date(2026, 3, 1),
                        audience=audience, offer_audience=None, product_risk="R4")  # fmt: skip
    assert codes[1] == RULE[Rule.AUDIENCE] and codes[2] == RULE[Rule.AUDIENCE]
    counts = rule_counts(codes)
    assert sum(counts.values()) == 7 and counts["eligible"] == 1


def test_low_risk_products_suit_everyone_and_validity_is_by_date() -> None:
    cash = CATALOGUE.get("CASH")
    inside = offer_rules(cash, facts(), send_date=date(2026, 6, 30), audience=None,
                         offer_audience=None, product_risk="R1")  # fmt: skip
    # KYC is not required and R1 needs no assessment: only the pre-screen drops someone
    assert [rule_of(int(c)) for c in inside] == [None, None, "prescreen", None, None, None, None]
    outside = offer_rules(cash, facts(), send_date=date(2026, 7, 1), audience=None,
                          offer_audience=None, product_risk="R1")  # fmt: skip
    assert (outside == RULE[Rule.OFFER_NOT_VALID]).all()
    no_prescreen = offer_rules(cash, facts(), send_date=date(2026, 6, 1), audience=None,
                               offer_audience=None, product_risk="R1", prescreen=False)  # fmt: skip
    assert (no_prescreen == ELIGIBLE).all()


def test_credit_offers_need_a_limit() -> None:
    ok = np.array([1, 1, 1, 1, 0, 1, 1], dtype=bool)
    codes = offer_rules(CATALOGUE.get("LOAN"), facts(), send_date=date(2026, 3, 1),
                        audience=None, offer_audience=None, product_risk="R3", credit_ok=ok)  # fmt: skip
    # suitability is for investment products: a loan's rating is left to the credit rules
    codes_no_rating = offer_rules(CATALOGUE.get("LOAN"), facts(), send_date=date(2026, 3, 1),
                                  audience=None, offer_audience=None, product_risk=None,
                                  credit_ok=ok)  # fmt: skip
    assert rule_of(int(codes_no_rating[5])) is None  # never assessed, and it does not matter
    assert rule_of(int(codes[4])) == "credit_declined"
    assert rule_of(int(codes[0])) is None
    ok[0] = False
    codes = offer_rules(CATALOGUE.get("LOAN"), facts(), send_date=date(2026, 3, 1),
                        audience=None, offer_audience=None, product_risk="R3", credit_ok=ok)  # fmt: skip
    assert rule_of(int(codes[0])) == "credit_declined"
