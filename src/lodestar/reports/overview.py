"""The bank overview: key figures and charts of what a workspace holds.

The engine aggregates (SQL); Python only shapes the small results and does the maths that SQL
makes awkward (Lorenz curve, Gini: :mod:`lodestar.profile.value_tiers`). Every section is
optional: a workspace with customers but no events simply has no funnel section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from lodestar.data.schema import INCOME_BANDS
from lodestar.profile.value_tiers import lorenz, top_share
from lodestar.storage.analytical import AnalyticalEngine

FUNNEL_STEPS = (
    "register", "apply_start", "apply_submit", "credit_granted", "drawdown", "repay", "reborrow",
)  # fmt: skip
AGE_BANDS = ((18, 25), (25, 35), (35, 45), (45, 55), (55, 65), (65, 200))


@dataclass(frozen=True)
class Concentration:
    """How value is spread over customers (the seeds' 80/20 and long tail)."""

    customers: int
    total_value: float
    top20_share: float
    gini: float
    lorenz_x: list[float]
    lorenz_y: list[float]


@dataclass
class Overview:
    as_of: date | None
    kpis: dict[str, float] = field(default_factory=dict)
    age_bands: list[tuple[str, int]] = field(default_factory=list)
    income_bands: list[tuple[str, int]] = field(default_factory=list)
    holdings_by_category: list[tuple[str, int, float]] = field(default_factory=list)
    concentration: Concentration | None = None
    monthly: list[tuple[date, int, float]] = field(default_factory=list)
    funnel: list[tuple[str, int]] = field(default_factory=list)
    consents: list[tuple[str, int, int]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    nps: dict[str, float] = field(default_factory=dict)
    complaints: list[tuple[str, int]] = field(default_factory=list)


def _rows(engine: AnalyticalEngine, sql: str) -> list[dict[str, Any]]:
    return engine.query(sql).to_pylist()


def _offset_minutes(time_zone: str, on: date | None) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.combine(on or date.today(), datetime.min.time())
    offset = ZoneInfo(time_zone).utcoffset(moment)
    return int(offset.total_seconds() // 60) if offset is not None else 0


def build_overview(engine: AnalyticalEngine, time_zone: str = "Asia/Shanghai") -> Overview:
    as_of = engine.scalar("SELECT max(ts)::DATE FROM transactions")
    ov = Overview(as_of=as_of)
    anchor = f"DATE '{as_of}'" if as_of else "current_date"
    k = _rows(
        engine,
        f"""
        SELECT
          (SELECT count(*) FROM customers) AS customers,
          (SELECT count(*) FROM customers WHERE coalesce(status, 'active') <> 'closed')
              AS open_customers,
          (SELECT count(DISTINCT customer_id) FROM transactions
             WHERE ts >= {anchor} - INTERVAL 90 DAY) AS active_90d,
          (SELECT count(*) FROM products) AS products,
          (SELECT count(*) FROM holdings WHERE close_date IS NULL) AS open_holdings,
          (SELECT count(*) FROM transactions) AS transactions,
          (SELECT count(*) FROM events) AS events,
          (SELECT coalesce(sum(h.balance), 0) FROM holdings h JOIN products p USING (product_id)
             WHERE p.category IN ('deposit', 'wealth') AND h.close_date IS NULL) AS deposits_aum,
          (SELECT coalesce(sum(h.balance), 0) FROM holdings h JOIN products p USING (product_id)
             WHERE p.category IN ('credit_card', 'consumer_loan', 'small_business_loan',
                                  'mortgage') AND h.close_date IS NULL) AS loans,
          (SELECT count(*) FROM past_campaigns) AS past_campaigns,
          (SELECT count(*) FROM campaign_contacts) AS campaign_contacts
        """,
    )[0]
    ov.kpis = {key: float(v or 0) for key, v in k.items()}
    if not ov.kpis["customers"]:
        return ov

    bands = " ".join(
        f"WHEN age >= {lo} AND age < {hi} THEN '{lo}-{hi - 1 if hi < 200 else ''}'"
        for lo, hi in AGE_BANDS
    )
    ov.age_bands = [
        (r["band"], r["n"])
        for r in _rows(
            engine,
            f"""
            SELECT CASE {bands} ELSE 'unknown' END AS band, count(*) AS n
            FROM (SELECT date_diff('year', birth_date, {anchor}) AS age FROM customers)
            GROUP BY band ORDER BY band
            """,
        )
    ]
    income = {
        (r["income_band"] or "unknown"): r["n"]
        for r in _rows(engine, "SELECT income_band, count(*) AS n FROM customers GROUP BY 1")
    }
    ov.income_bands = [(b, income[b]) for b in INCOME_BANDS if b in income]
    ov.holdings_by_category = [
        (r["category"], r["n"], float(r["balance"] or 0))
        for r in _rows(
            engine,
            """
            SELECT p.category, count(*) AS n, sum(h.balance) AS balance
            FROM holdings h JOIN products p USING (product_id)
            WHERE h.close_date IS NULL GROUP BY 1 ORDER BY 2 DESC
            """,
        )
    ]
    values = engine.query(
        """
        SELECT c.customer_id,
               coalesce(sum(CASE WHEN p.category IN ('deposit', 'wealth') THEN h.balance END), 0)
                   AS value
        FROM customers c
        LEFT JOIN holdings h ON h.customer_id = c.customer_id AND h.close_date IS NULL
        LEFT JOIN products p ON p.product_id = h.product_id
        GROUP BY 1
        """
    ).column("value")
    arr = np.asarray(values.to_numpy(zero_copy_only=False), dtype=float)
    if len(arr):
        x, y, gini = lorenz(arr)
        ov.concentration = Concentration(
            customers=len(arr),
            total_value=float(np.clip(arr, 0, None).sum()),
            top20_share=top_share(arr, 0.2),
            gini=gini,
            lorenz_x=x,
            lorenz_y=y,
        )
    # Months are counted in the bank's local time (DuckDB here has no time-zone database, so
    # the zone's offset at the as-of date is applied).
    offset_minutes = _offset_minutes(time_zone, as_of)
    ov.monthly = [
        (r["month"], r["n"], float(r["amount"] or 0))
        for r in _rows(
            engine,
            f"""
            SELECT date_trunc('month', ts + INTERVAL {offset_minutes} MINUTE)::DATE AS month,
                   count(*) AS n, sum(amount) AS amount
            FROM transactions GROUP BY 1 ORDER BY 1
            """,
        )
    ]
    steps = ", ".join(f"'{s}'" for s in FUNNEL_STEPS)
    reached = {
        r["event_name"]: r["n"]
        for r in _rows(
            engine,
            f"""
            SELECT event_name, count(DISTINCT customer_id) AS n FROM events_resolved
            WHERE event_name IN ({steps}) AND customer_id IS NOT NULL GROUP BY 1
            """,
        )
    }
    if reached:
        ov.funnel = [(s, int(reached.get(s, 0))) for s in FUNNEL_STEPS]
    ov.consents = [
        (r["channel"], r["in_force"], r["total"])
        for r in _rows(
            engine,
            """
            SELECT channel, count(*) FILTER (WHERE in_force) AS in_force, count(*) AS total
            FROM consents_current WHERE purpose = 'marketing' GROUP BY 1 ORDER BY 1
            """,
        )
    ]
    ov.campaigns = _rows(
        engine,
        """
        WITH arms AS (
            SELECT campaign_id,
                   avg(CASE WHEN arm = 'treatment' THEN converted::INT END) AS treated_rate,
                   avg(CASE WHEN arm = 'control' THEN converted::INT END) AS control_rate,
                   count(*) FILTER (WHERE arm = 'treatment') AS treated,
                   count(*) FILTER (WHERE arm = 'control') AS control
            FROM campaign_contacts GROUP BY 1
        ),
        truth AS (
            SELECT campaign_id, avg(uplift) AS true_uplift FROM campaign_truth GROUP BY 1
        )
        SELECT c.campaign_id, c.name, a.treated, a.control, a.treated_rate, a.control_rate,
               a.treated_rate - a.control_rate AS observed_uplift, t.true_uplift
        FROM past_campaigns c JOIN arms a USING (campaign_id)
        LEFT JOIN truth t USING (campaign_id)
        ORDER BY c.start_date
        """,
    )
    nps = _rows(
        engine,
        """
        SELECT count(*) AS n,
               avg(CASE WHEN score >= 9 THEN 1 WHEN score <= 6 THEN -1 ELSE 0 END) * 100 AS nps
        FROM surveys WHERE survey_type = 'nps'
        """,
    )[0]
    if nps["n"]:
        ov.nps = {"responses": float(nps["n"]), "nps": float(nps["nps"])}
    ov.complaints = [
        (r["category"] or "other", r["n"])
        for r in _rows(
            engine,
            "SELECT category, count(*) AS n FROM complaints GROUP BY 1 ORDER BY 2 DESC",
        )
    ]
    return ov
