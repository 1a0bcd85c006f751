"""Holdings of the synthetic bank: which products each customer holds, with balances and limits.

Take-up depends on age, income, wealth, digital affinity, employment and risk tolerance, as a
bank's book does: young digital customers hold cards and consumer loans, affluent mid-life ones
hold wealth products and mortgages, business owners hold small-business loans. Wealth products
stay within the customer's risk tolerance except for a rare mis-sold few (suitability breaches a
compliance check should find).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.catalogue import DEFAULT_PRODUCTS
from lodestar.data.schema import HOLDINGS
from lodestar.data.synthetic.calendar import Calendar, ids, sigmoid, take
from lodestar.data.synthetic.people import Population

PRODUCT_IDS = [p.product_id for p in DEFAULT_PRODUCTS]
P = {pid: i for i, pid in enumerate(PRODUCT_IDS)}
CATEGORY = np.array([p.category for p in DEFAULT_PRODUCTS])
RISK = np.array([int(p.risk_level[1]) for p in DEFAULT_PRODUCTS])
LAUNCH = np.array([np.datetime64(p.launch_date) for p in DEFAULT_PRODUCTS])
RATE = np.array([p.interest_rate for p in DEFAULT_PRODUCTS])
#: Share of a customer's liquid wealth each deposit / wealth product tends to take.
WEALTH_WEIGHT = {"DEP_CURRENT": 0.25, "DEP_TERM_1Y": 0.25, "DEP_TERM_3Y": 0.2,
                 "DEP_LARGE_CD": 0.45, "WM_CASH": 0.15, "WM_FIXED": 0.3, "WM_MIXED": 0.25,
                 "WM_EQUITY": 0.2, "WM_ALT": 0.5}  # fmt: skip
CREDIT = ("CC_STANDARD", "CC_GOLD", "CC_PLATINUM", "LOAN_CONSUMER", "LOAN_SB", "LOAN_MORTGAGE")


@dataclass
class Book:
    table: pa.Table
    held: np.ndarray  # (n customers, n products) bool
    current_account: pa.Array  # account id of each customer's current account
    card_account: pa.Array  # account id of the card, null where none


def take_up(rng: np.random.Generator, pop: Population) -> np.ndarray:
    """(n, products) matrix: does customer i hold product j."""
    n = pop.n
    age, income, wealth = pop.age, pop.monthly_income, pop.wealth
    lw = np.log(wealth / 1e5 + 1e-9)
    tol = pop.risk_tolerance
    emp = pop.employment
    p = np.zeros((n, len(PRODUCT_IDS)))
    p[:, P["DEP_CURRENT"]] = 1.0
    p[:, P["DEP_TERM_1Y"]] = sigmoid(-0.6 + 0.6 * lw)
    p[:, P["DEP_TERM_3Y"]] = sigmoid(-1.8 + 0.5 * lw + 0.03 * (age - 50))
    p[:, P["DEP_LARGE_CD"]] = sigmoid(-3.2 + 1.1 * (lw - 1))
    p[:, P["WM_CASH"]] = sigmoid(-1.8 + 0.5 * lw + 1.5 * pop.digital)
    # Suitability: a product above the customer's tolerance is (almost) never sold.
    breach = 0.004
    p[:, P["WM_FIXED"]] = np.where(tol >= 2, sigmoid(-1.6 + 0.6 * lw), breach)
    p[:, P["WM_MIXED"]] = np.where(tol >= 3, sigmoid(-2.0 + 0.6 * lw), breach)
    p[:, P["WM_EQUITY"]] = np.where(tol >= 4, sigmoid(-2.2 + 0.5 * lw + 0.6 * pop.digital), breach)
    p[:, P["WM_ALT"]] = np.where(tol >= 5, sigmoid(-4.0 + 1.0 * (lw - 2)), breach / 4)
    card = sigmoid(0.9 - 0.035 * (age - 35) + 0.4 * np.log(income / 8000) + 0.4 * pop.digital)
    card = np.where(emp == 6, card * 0.4, card)
    tier = np.digitize(income, [18_000, 40_000])
    for t, pid in enumerate(("CC_STANDARD", "CC_GOLD", "CC_PLATINUM")):
        p[:, P[pid]] = np.where(tier == t, card, 0.0)
    working_age = (age >= 22) & (age <= 58)
    p[:, P["LOAN_CONSUMER"]] = np.where(
        working_age, sigmoid(-2.1 + 0.35 * (pop.credit_risk + 3.2) + 0.8 * pop.digital), 0.0
    )
    p[:, P["LOAN_SB"]] = np.select([emp == 3, emp == 2, emp == 4], [0.38, 0.14, 0.06], 0.003)
    p[:, P["LOAN_MORTGAGE"]] = np.where(
        (age >= 27) & (age <= 60), sigmoid(-1.7 + 0.9 * np.log(income / 15_000)), 0.0
    )
    p[:, P["INS_HEALTH"]] = np.where(age >= 28, 0.06 + 0.08 * sigmoid(lw), 0.02)
    p[:, P["INS_ANNUITY"]] = np.where(age >= 45, 0.03 + 0.1 * sigmoid(lw - 1), 0.0)
    p[:, P["PAY_QUICKPAY"]] = np.where(pop.app_user, 0.75, 0.05)
    return rng.random(p.shape) < p


def make_book(rng: np.random.Generator, pop: Population, cal: Calendar) -> Book:
    held = take_up(rng, pop)
    cust, prod = np.nonzero(held)
    m = len(cust)
    income = pop.monthly_income[cust]
    category = CATEGORY[prod]

    # Balances: each customer's liquid wealth spread over the deposit / wealth products held.
    weight = np.zeros(m)
    for pid, w in WEALTH_WEIGHT.items():
        weight[prod == P[pid]] = w
    weight *= np.exp(rng.normal(0, 0.5, m))
    per_customer = np.bincount(cust, weights=weight, minlength=pop.n)
    share = np.divide(weight, per_customer[cust], out=np.zeros(m), where=per_customer[cust] > 0)
    balance = np.round(pop.wealth[cust] * share, 2)

    limit = np.full(m, np.nan)
    is_card = category == "credit_card"
    card_limit = np.clip(np.round(income * 2.5 * np.exp(rng.normal(0, 0.35, m)), -3), 3000, 500_000)
    limit = np.where(is_card, card_limit, limit)
    util = np.clip(rng.beta(1.6, 4.0, m) + 0.08 * sigmoid(pop.credit_risk[cust] + 2), 0, 1)
    balance = np.where(is_card, np.round(card_limit * util, 2), balance)
    loan_amount = np.select(
        [prod == P["LOAN_CONSUMER"], prod == P["LOAN_SB"], prod == P["LOAN_MORTGAGE"]],
        [income * rng.uniform(1.5, 8, m),
         np.exp(rng.normal(12.6, 0.7, m)),
         income * rng.uniform(40, 140, m)],
        np.nan,
    )  # fmt: skip
    is_loan = ~np.isnan(loan_amount)
    balance = np.where(is_loan, np.round(loan_amount * rng.uniform(0.2, 1.0, m), -2), balance)
    limit = np.where(is_loan, np.round(loan_amount, -2), limit)
    is_ins = category == "insurance"
    balance = np.where(is_ins, np.round(pop.wealth[cust] * 0.05 * (prod == P["INS_ANNUITY"]), 2),
                       balance)  # fmt: skip
    balance = np.where(category == "payment", 0.0, balance)

    # Delinquency on credit products follows the latent risk.
    is_credit = is_card | is_loan
    p_late = sigmoid(pop.credit_risk[cust] + 0.4)
    late = is_credit & (rng.random(m) < p_late)
    dpd = np.where(late, np.minimum(rng.geometric(1 / 25, m), 360), 0)

    # Opened between joining (or launch) and the end of the history.
    launch_day = cal.day_of(LAUNCH[prod].astype("datetime64[D]"))
    launch_day = np.where(LAUNCH[prod] < np.datetime64(cal.start), -10_000, launch_day)
    lo = np.maximum(pop.join_day[cust], launch_day)
    hi = np.maximum(lo, np.minimum(pop.churn_day[cust], cal.days) - 1)
    open_day = lo + (rng.random(m) * (hi - lo + 1)).astype(int)
    # Closed customers closed everything on their last day.
    status_c = pop.table.column("status").to_numpy(zero_copy_only=False)[cust]
    closed = status_c == "closed"
    close_day = np.where(closed, pop.churn_day[cust], 0)
    status = np.where(closed, "closed", np.where(dpd > 30, "delinquent",
                      np.where(status_c == "dormant", "dormant", "active")))  # fmt: skip
    balance = np.where(closed, 0.0, balance)

    account_number = pop.number[cust] * 100 + prod
    account_id = ids("A", account_number, 10)
    open_date = np.datetime64(cal.start) + open_day.astype("timedelta64[D]")
    close_date = np.where(
        closed, np.datetime64(cal.start) + close_day.astype("timedelta64[D]"), np.datetime64("NaT")
    )
    table = pa.Table.from_arrays(
        [
            account_id,
            pop.customer_id.take(pa.array(cust)),
            take(PRODUCT_IDS, prod),
            pa.array(open_date.astype("datetime64[D]"), pa.date32()),
            pa.array(close_date.astype("datetime64[D]"), pa.date32(), from_pandas=True),
            pa.array(status),
            pa.array(balance, pa.float64()),
            pa.array(limit, pa.float64(), from_pandas=True),
            pa.array(RATE[prod], pa.float64()),
            # Days past due applies to credit products only.
            pa.array(np.where(is_credit, dpd, 0), pa.int64(), mask=~is_credit),
            pa.array(np.full(m, "CNY")),
            pa.array(np.full(m, np.datetime64(cal.as_of)), pa.date32()),
        ],
        schema=HOLDINGS.arrow_schema,
    )

    current = np.full(pop.n, -1)
    current[cust[prod == P["DEP_CURRENT"]]] = account_number[prod == P["DEP_CURRENT"]]
    card = np.full(pop.n, -1)
    card[cust[is_card]] = account_number[is_card]
    card_ids = pc.if_else(
        pa.array(card >= 0), ids("A", np.maximum(card, 0), 10), pa.scalar(None, pa.string())
    )
    return Book(table=table, held=held, current_account=ids("A", current, 10),
                card_account=card_ids)  # fmt: skip
