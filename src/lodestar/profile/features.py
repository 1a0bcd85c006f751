"""A per-customer feature matrix computed in SQL: demographics, balances by product family,
product breadth, credit use, recent transactions and app activity, campaign history.

Personas cluster on it and models will reuse it. Every feature is one SQL expression over the
canonical tables; the engine does all the aggregation (one pass over transactions, one over
events), and the result is one Arrow row per customer.

Real datasets fill only some tables (bank-churn: customers and holdings; bank-marketing:
customers, holdings and one past campaign). A feature whose source table is empty comes back
all-null instead of all-zero, so callers can tell "nobody has any" from "we do not know" and drop
it with a note (:func:`usable_features`).

Windows end on the *feature date* (:func:`feature_as_of`): the data date (latest transaction or
event) when there is activity, else the latest balance date of the holdings, else the latest
campaign contact, else the latest join date.

>>> sorted(FEATURES)[:3]
['age', 'annual_income', 'app_opens_30d']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pyarrow as pa

from lodestar.errors import ConfigError
from lodestar.storage.analytical import AnalyticalEngine

Kind = Literal["money", "count", "share", "flag", "years", "days"]


@dataclass(frozen=True)
class Feature:
    name: str
    kind: Kind  # money and count are log1p-transformed before scaling (heavy right tails)
    label: str  # zh-CN
    label_en: str
    source: str  # the canonical table it needs


#: Digital channels: app, web banking, mini-program and the two wallets.
DIGITAL_CHANNELS = ("mobile_app", "online_banking", "mini_program", "wechat_pay", "alipay")
#: Monthly-income band -> a representative monthly amount (CNY), when annual_income is missing.
INCOME_BAND_MONTHLY = {"lt5k": 3_000.0, "5k_10k": 7_500.0, "10k_20k": 15_000.0,
                       "20k_50k": 35_000.0, "ge50k": 75_000.0}  # fmt: skip

FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("age", "years", "年龄", "age", "customers"),
    Feature("tenure_months", "count", "客龄（月）", "tenure (months)", "customers"),
    Feature("annual_income", "money", "年收入", "annual income", "customers"),
    Feature("aum", "money", "存款与理财余额", "deposits and wealth (AUM)", "holdings"),
    Feature("wealth_balance", "money", "理财余额", "wealth balance", "holdings"),
    Feature("card_balance", "money", "信用卡欠款", "card balance", "holdings"),
    Feature("loan_balance", "money", "消费与经营贷余额", "consumer / business loans", "holdings"),
    Feature("mortgage_balance", "money", "房贷余额", "mortgage balance", "holdings"),
    Feature("products_held", "count", "持有产品数", "products held", "holdings"),
    Feature("credit_utilisation", "share", "信用卡额度使用率", "card utilisation", "holdings"),
    Feature("has_card", "flag", "持有信用卡", "holds a credit card", "holdings"),
    Feature("has_loan", "flag", "持有贷款", "holds a loan", "holdings"),
    Feature("txn_count_90d", "count", "近 90 天交易笔数", "transactions (90 days)",
            "transactions"),
    Feature("txn_amount_90d", "money", "近 90 天交易金额", "amount transacted (90 days)",
            "transactions"),
    Feature("digital_share_90d", "share", "近 90 天线上渠道占比", "digital share (90 days)",
            "transactions"),
    Feature("app_opens_30d", "count", "近 30 天打开 App 次数", "app opens (30 days)", "events"),
    Feature("days_since_active", "days", "距上次活跃天数", "days since last activity",
            "activity"),
    Feature("campaign_contacts", "count", "历史营销触达次数", "past campaign contacts",
            "campaign_contacts"),
    Feature("campaign_conversion", "share", "历史营销转化率", "past campaign conversion",
            "campaign_contacts"),
)}  # fmt: skip


def feature_as_of(engine: AnalyticalEngine) -> date | None:
    """The date features are computed at: the data date, else the latest holdings balance
    date, else the latest campaign contact, else the latest join date (None: no customers)."""
    value = engine.scalar(
        """
        SELECT coalesce(
            greatest((SELECT max(ts) FROM transactions), (SELECT max(ts) FROM events))::DATE,
            (SELECT max(as_of_date) FROM holdings),
            (SELECT max(contacted_at) FROM campaign_contacts)::DATE,
            (SELECT max(join_date) FROM customers))
        """
    )
    return value if isinstance(value, date) else None


def _populated(engine: AnalyticalEngine) -> dict[str, bool]:
    has = {
        name: bool(engine.scalar(f"SELECT EXISTS (SELECT 1 FROM {name})"))
        for name in ("customers", "holdings", "transactions", "events", "campaign_contacts")
    }
    has["activity"] = has["transactions"] or has["events"]
    return has


def customer_features(
    engine: AnalyticalEngine,
    as_of: date | None = None,
    *,
    include_closed: bool = False,
    customer_ids: list[str] | None = None,
) -> tuple[pa.Table, date]:
    """One row per customer: ``customer_id`` and every feature of :data:`FEATURES`.

    Customers whose relationship is ``closed`` are left out unless ``include_closed``; with
    ``customer_ids`` only those customers are computed (for scoring new ones).
    Returns the table and the date it was computed at.
    """
    day = as_of or feature_as_of(engine)
    if day is None:
        raise ConfigError(
            "customer features need customers: the workspace has none",
            hint="load data first, e.g. lodestar generate 5000 or lodestar ingest customers ...",
        )
    has = _populated(engine)
    # A source table with no rows gives NULL (unknown) rather than 0 (nobody has any).
    zero = {src: "0" if ok else "NULL" for src, ok in has.items()}
    digital = ", ".join(f"'{c}'" for c in DIGITAL_CHANNELS)
    band_monthly = " ".join(f"WHEN '{k}' THEN {v}" for k, v in INCOME_BAND_MONTHLY.items())
    where = ["TRUE"]
    params: list[object] = []
    if not include_closed:
        where.append("coalesce(c.status, 'active') <> 'closed'")
    if customer_ids is not None:
        where.append("list_contains(?, c.customer_id)")
        params.append(list(customer_ids))
    start90 = day - timedelta(days=89)
    start30 = day - timedelta(days=29)
    end = day + timedelta(days=1)
    sql = f"""
        WITH h AS (
            SELECT h.customer_id,
                   sum(h.balance) FILTER (WHERE p.category IN ('deposit', 'wealth')) AS aum,
                   sum(h.balance) FILTER (WHERE p.category = 'wealth') AS wealth_balance,
                   sum(h.balance) FILTER (WHERE p.category = 'credit_card') AS card_balance,
                   sum(h.credit_limit) FILTER (WHERE p.category = 'credit_card') AS card_limit,
                   sum(h.balance) FILTER (
                       WHERE p.category IN ('consumer_loan', 'small_business_loan'))
                       AS loan_balance,
                   sum(h.balance) FILTER (WHERE p.category = 'mortgage') AS mortgage_balance,
                   count(DISTINCT h.product_id) AS products_held,
                   bool_or(p.category = 'credit_card') AS has_card,
                   bool_or(p.category IN ('consumer_loan', 'small_business_loan', 'mortgage'))
                       AS has_loan
            FROM holdings h LEFT JOIN products p USING (product_id)
            WHERE h.open_date <= $as_of
              AND (h.close_date IS NULL OR h.close_date > $as_of)
              AND coalesce(h.status, 'active') <> 'closed'
            GROUP BY h.customer_id
        ),
        t AS (
            SELECT customer_id,
                   max(ts) AS last_ts,
                   count(*) FILTER (WHERE ts >= $start90) AS txn_count_90d,
                   sum(amount) FILTER (WHERE ts >= $start90) AS txn_amount_90d,
                   avg(CASE WHEN channel IN ({digital}) THEN 1.0 ELSE 0.0 END)
                       FILTER (WHERE ts >= $start90 AND channel IS NOT NULL) AS digital_share_90d
            FROM transactions
            WHERE ts < $end
            GROUP BY customer_id
        ),
        e AS (
            SELECT customer_id,
                   max(ts) AS last_ts,
                   count(*) FILTER (WHERE ts >= $start30 AND event_name = 'app_open')
                       AS app_opens_30d
            FROM events_resolved
            WHERE ts < $end AND customer_id IS NOT NULL
            GROUP BY customer_id
        ),
        k AS (
            SELECT customer_id, count(*) AS campaign_contacts,
                   avg(CASE WHEN converted THEN 1.0 ELSE 0.0 END) AS campaign_conversion
            FROM campaign_contacts
            WHERE contacted_at < $end
            GROUP BY customer_id
        )
        SELECT c.customer_id,
               CAST(date_diff('year', c.birth_date, $as_of)
                    - CASE WHEN strftime(c.birth_date, '%m%d') > strftime($as_of, '%m%d')
                           THEN 1 ELSE 0 END AS DOUBLE) AS age,
               CAST(greatest(date_diff('month', c.join_date, $as_of), 0) AS DOUBLE)
                   AS tenure_months,
               coalesce(c.annual_income,
                        12 * CASE c.income_band {band_monthly} ELSE NULL END) AS annual_income,
               coalesce(h.aum, {zero["holdings"]}) AS aum,
               coalesce(h.wealth_balance, {zero["holdings"]}) AS wealth_balance,
               coalesce(h.card_balance, {zero["holdings"]}) AS card_balance,
               coalesce(h.loan_balance, {zero["holdings"]}) AS loan_balance,
               coalesce(h.mortgage_balance, {zero["holdings"]}) AS mortgage_balance,
               CAST(coalesce(h.products_held, {zero["holdings"]}) AS DOUBLE) AS products_held,
               CASE WHEN h.card_limit > 0 THEN least(h.card_balance / h.card_limit, 2.0) END
                   AS credit_utilisation,
               CAST(coalesce(h.has_card, {zero["holdings"]}::BOOLEAN) AS DOUBLE) AS has_card,
               CAST(coalesce(h.has_loan, {zero["holdings"]}::BOOLEAN) AS DOUBLE) AS has_loan,
               CAST(coalesce(t.txn_count_90d, {zero["transactions"]}) AS DOUBLE)
                   AS txn_count_90d,
               coalesce(t.txn_amount_90d, {zero["transactions"]}) AS txn_amount_90d,
               t.digital_share_90d,
               CAST(coalesce(e.app_opens_30d, {zero["events"]}) AS DOUBLE) AS app_opens_30d,
               CAST(CASE WHEN {str(has["activity"]).upper()} THEN date_diff('day',
                   coalesce(greatest(t.last_ts, e.last_ts)::DATE, c.join_date), $as_of) END
                   AS DOUBLE) AS days_since_active,
               CAST(coalesce(k.campaign_contacts, {zero["campaign_contacts"]}) AS DOUBLE)
                   AS campaign_contacts,
               k.campaign_conversion
        FROM customers c
        LEFT JOIN h USING (customer_id)
        LEFT JOIN t USING (customer_id)
        LEFT JOIN e USING (customer_id)
        LEFT JOIN k USING (customer_id)
        WHERE {" AND ".join(where)}
        ORDER BY c.customer_id
    """
    named = {"as_of": day, "start90": start90, "start30": start30, "end": end}
    # DuckDB takes either positional or named parameters, not both: inline the dates (they are
    # our own values, not user text) and keep the one list parameter positional.
    for key, value in named.items():
        sql = sql.replace(f"${key}", f"DATE '{value.isoformat()}'")
    table = engine.query(sql, params or None)
    cast = {f.name: pa.float64() for f in FEATURES.values()}
    fields = [pa.field("customer_id", pa.string())] + [pa.field(n, t) for n, t in cast.items()]
    return table.cast(pa.schema(fields)), day


@dataclass(frozen=True)
class Dropped:
    feature: str
    reason: Literal["all_null", "constant", "not_requested"]


def usable_features(
    table: pa.Table, names: list[str] | None = None
) -> tuple[list[str], list[Dropped]]:
    """Features with at least two distinct known values, and the ones dropped with why."""
    keep: list[str] = []
    dropped: list[Dropped] = []
    wanted = list(names) if names is not None else list(FEATURES)
    for name in FEATURES:
        if name not in wanted:
            continue
        col = table[name].to_numpy(zero_copy_only=False).astype(float)
        known = col[~np.isnan(col)]
        if len(known) == 0:
            dropped.append(Dropped(name, "all_null"))
        elif np.ptp(known) == 0:
            dropped.append(Dropped(name, "constant"))
        else:
            keep.append(name)
    return keep, dropped
