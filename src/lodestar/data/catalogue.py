"""The default product catalogue of a Chinese retail bank, used by the synthetic bank and by the
public-dataset connectors so every workspace starts from the same product codes.

Margins are annual net margins on balance (deposits: spread earned by the bank; loans: net interest
margin after expected funding cost); fees are annual fee income per holding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import pyarrow as pa

from lodestar.data.schema import PRODUCTS


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    name_en: str
    category: str
    risk_level: str
    margin: float
    annual_fee: float
    interest_rate: float
    term_months: int | None
    min_amount: float
    launch_date: date
    active: bool = True


DEFAULT_PRODUCTS: tuple[Product, ...] = (
    Product("DEP_CURRENT", "活期存款", "Current account", "deposit", "R1", 0.018, 0, 0.0015, None, 0, date(2000, 1, 1)),
    Product("DEP_TERM_1Y", "一年期定期存款", "1-year term deposit", "deposit", "R1", 0.008, 0, 0.0145, 12, 50, date(2000, 1, 1)),
    Product("DEP_TERM_3Y", "三年期定期存款", "3-year term deposit", "deposit", "R1", 0.006, 0, 0.0195, 36, 50, date(2000, 1, 1)),
    Product("DEP_LARGE_CD", "大额存单", "Large certificate of deposit", "deposit", "R1", 0.005, 0, 0.021, 36, 200000, date(2015, 6, 15)),
    Product("WM_CASH", "现金管理类理财", "Cash-management wealth product", "wealth", "R1", 0.004, 0, 0.022, None, 1, date(2019, 1, 1)),
    Product("WM_FIXED", "固收类理财", "Fixed-income wealth product", "wealth", "R2", 0.006, 0, 0.032, 12, 10000, date(2018, 1, 1)),
    Product("WM_MIXED", "混合类理财", "Mixed wealth product", "wealth", "R3", 0.009, 0, 0.045, 12, 10000, date(2018, 1, 1)),
    Product("WM_EQUITY", "权益类基金", "Equity fund", "wealth", "R4", 0.012, 0, 0.0, None, 1000, date(2016, 1, 1)),
    Product("WM_ALT", "结构性存款与另类投资", "Structured and alternative investments", "wealth", "R5", 0.015, 0, 0.0, 24, 1000000, date(2020, 1, 1)),
    Product("CC_STANDARD", "标准信用卡", "Standard credit card", "credit_card", "R2", 0.06, 0, 0.1825, None, 0, date(2005, 1, 1)),
    Product("CC_GOLD", "金卡信用卡", "Gold credit card", "credit_card", "R2", 0.07, 300, 0.1825, None, 0, date(2008, 1, 1)),
    Product("CC_PLATINUM", "白金信用卡", "Platinum credit card", "credit_card", "R2", 0.08, 2000, 0.1825, None, 0, date(2012, 1, 1)),
    Product("LOAN_CONSUMER", "信用消费贷", "Unsecured consumer loan", "consumer_loan", "R3", 0.035, 0, 0.068, 36, 5000, date(2017, 1, 1)),
    Product("LOAN_SB", "普惠小微经营贷", "Inclusive small-business loan", "small_business_loan", "R3", 0.022, 0, 0.042, 12, 10000, date(2019, 1, 1)),
    Product("LOAN_MORTGAGE", "个人住房贷款", "Residential mortgage", "mortgage", "R2", 0.012, 0, 0.039, 360, 100000, date(2000, 1, 1)),
    Product("INS_HEALTH", "代销健康险", "Health insurance (agency)", "insurance", "R1", 0.0, 180, 0.0, 12, 0, date(2014, 1, 1)),
    Product("INS_ANNUITY", "代销年金险", "Annuity insurance (agency)", "insurance", "R2", 0.01, 0, 0.0, 120, 10000, date(2014, 1, 1)),
    Product("PAY_QUICKPAY", "快捷支付", "Quick-pay (wallet binding)", "payment", "R1", 0.0, 0, 0.0, None, 0, date(2014, 1, 1)),
)  # fmt: skip


def products_table(products: tuple[Product, ...] = DEFAULT_PRODUCTS) -> pa.Table:
    """The catalogue as a table in the canonical ``products`` layout."""
    rows = [asdict(p) for p in products]
    return pa.Table.from_pylist(rows, schema=PRODUCTS.arrow_schema)
