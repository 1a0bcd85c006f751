"""Customer value, its concentration (the 80/20 rule and the long tail) and value tiers
(私人银行 / 贵宾 / 大众 / 长尾).

What a customer is worth is configurable (:class:`ValueConfig`); the engine computes the parts in
one SQL query, one row per customer:

- ``aum``: balances of the deposit and wealth holdings open at ``as_of`` (assets under
  management, 资产管理规模 / AUM).
- ``revenue_12m``: what the bank earned from the customer over the window (default the last 12
  months), annualised: the product's margin on the balance and its annual fee for the days each
  holding was open inside the window (loans and cards too: their margin is the net interest
  margin), plus transactions of the revenue types (default ``fee``) inside the window.
- ``customer_value``: the chosen measure: ``aum``, ``revenue``, or ``combined`` (an index:
  ``aum_weight * aum / mean(aum) + (1 - aum_weight) * revenue_12m / mean(revenue_12m)``, so an
  average customer scores 1 on each part).

Concentration (numpy): the Lorenz curve (customers from the least to the most valuable), the Gini
index, and the share of value held by the top 1/5/10/20% of customers. Tiers: by amount
(default for AUM, Chinese bank conventions: private banking from 6,000,000 CNY, affluent from
500,000, mass from 50,000, long tail below) or by value percentile.

>>> p = pareto(np.array([0.0, 0.0, 0.0, 10.0]))
>>> round(p.gini, 2), p.top_shares[0.2]
(0.75, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from lodestar.data.schema import PRODUCT_CATEGORIES, TRANSACTION_TYPES
from lodestar.errors import ConfigError
from lodestar.storage.analytical import AnalyticalEngine

#: (code, zh-CN, en), from the most to the least valuable.
TIERS: tuple[tuple[str, str, str], ...] = (
    ("private_banking", "私人银行客户", "private banking"),
    ("affluent", "贵宾客户", "affluent"),
    ("mass", "大众客户", "mass"),
    ("long_tail", "长尾客户", "long tail"),
)
TIER_CODES = tuple(code for code, _, _ in TIERS)
#: Lower AUM bounds (CNY) of private banking, affluent and mass customers.
DEFAULT_AUM_THRESHOLDS = (6_000_000.0, 500_000.0, 50_000.0)
#: Lower value-percentile bounds: top 1% private, next 19% affluent (together the "20%" of the
#: 80/20 rule), next 40% mass, bottom 40% long tail.
DEFAULT_PERCENTILE_THRESHOLDS = (0.99, 0.80, 0.40)
TOP_SHARES = (0.01, 0.05, 0.10, 0.20)
CATEGORIES: tuple[str, ...] = PRODUCT_CATEGORIES

Measure = Literal["aum", "revenue", "combined"]
TierBy = Literal["amount", "percentile"]


@dataclass(frozen=True)
class ValueConfig:
    """How customer value is measured and cut into tiers.

    >>> ValueConfig(measure="revenue", tier_by="percentile").tier_thresholds()
    (0.99, 0.8, 0.4)
    """

    measure: Measure = "aum"
    #: Revenue window in months, ending on ``as_of``; revenue is annualised over it.
    window_months: int = 12
    #: Default: the data date (latest transaction or event), else the latest balance date.
    as_of: date | None = None
    tier_by: TierBy = "amount"
    #: Lower bounds of private banking, affluent and mass, descending: amounts of the measure
    #: with ``tier_by="amount"`` (default for AUM: 6,000,000 / 500,000 / 50,000), value
    #: percentiles in [0, 1) with ``tier_by="percentile"`` (default 0.99 / 0.80 / 0.40).
    thresholds: tuple[float, float, float] | None = None
    #: Product categories whose balances count as AUM.
    aum_categories: tuple[str, ...] = ("deposit", "wealth")
    #: Product categories whose margin and annual fee count as revenue.
    revenue_categories: tuple[str, ...] = CATEGORIES
    #: Transaction types whose amounts count as revenue (``purchase`` for a retailer's log).
    revenue_types: tuple[str, ...] = ("fee",)
    #: Weight of AUM in the ``combined`` index (the rest goes to revenue).
    aum_weight: float = 0.5
    #: Restrict balances and transactions to one currency.
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.measure not in ("aum", "revenue", "combined"):
            raise ConfigError(
                f"value measure must be aum, revenue or combined, got {self.measure!r}",
                hint="e.g. --measure revenue",
            )
        if self.tier_by not in ("amount", "percentile"):
            raise ConfigError(
                f"value tiers: tier_by must be amount or percentile, got {self.tier_by!r}"
            )
        if not 1 <= self.window_months <= 120:
            raise ConfigError(
                f"value window_months must be 1..120, got {self.window_months}",
                hint="e.g. --window-months 12",
            )
        if not 0 <= self.aum_weight <= 1:
            raise ConfigError(f"value aum_weight must be in [0, 1], got {self.aum_weight}")
        for name in ("aum_categories", "revenue_categories"):
            unknown = sorted(set(getattr(self, name)) - set(CATEGORIES))
            if unknown:
                raise ConfigError(
                    f"value {name}: unknown product categories {', '.join(unknown)}",
                    hint=f"choose from {', '.join(CATEGORIES)}",
                )
        unknown_types = sorted(set(self.revenue_types) - set(TRANSACTION_TYPES))
        if unknown_types:
            raise ConfigError(
                f"value revenue_types: unknown transaction types {', '.join(unknown_types)}",
                hint=f"choose from {', '.join(TRANSACTION_TYPES)}",
            )
        if self.thresholds is not None:
            t = tuple(self.thresholds)
            if len(t) != 3 or not t[0] > t[1] > t[2]:
                raise ConfigError(
                    f"value tier thresholds: give three descending lower bounds (private "
                    f"banking, affluent, mass), got {', '.join(map(str, t))}",
                    hint="e.g. --thresholds 6000000,500000,50000 or, by percentile, 0.99,0.8,0.4",
                )
            if self.tier_by == "percentile" and not (t[2] >= 0 and t[0] < 1):
                raise ConfigError(
                    f"value tier thresholds by percentile must lie in [0, 1), got "
                    f"{', '.join(map(str, t))}",
                    hint="e.g. 0.99,0.8,0.4 = top 1%, next 19%, next 40%, bottom 40%",
                )
        elif self.tier_by == "amount" and self.measure != "aum":
            raise ConfigError(
                f"value tiers by amount of {self.measure}: there are no default amounts for "
                "this measure",
                hint="give --thresholds (three descending amounts) or use --tier-by percentile",
            )

    def tier_thresholds(self) -> tuple[float, float, float]:
        if self.thresholds is not None:
            return (float(self.thresholds[0]), float(self.thresholds[1]),
                    float(self.thresholds[2]))  # fmt: skip
        if self.tier_by == "percentile":
            return DEFAULT_PERCENTILE_THRESHOLDS
        return DEFAULT_AUM_THRESHOLDS


@dataclass(frozen=True)
class Pareto:
    """How value is spread over customers.

    ``top_shares[s]``: share of the total held by the ``max(1, round(n * s))`` most valuable
    customers. ``customers_for_80``: the smallest share of customers (most valuable first) that
    holds at least 80% of the value. Negative values count as zero.
    """

    customers: int
    total_value: float
    gini: float
    top_shares: dict[float, float]
    customers_for_80: float
    lorenz_x: list[float]
    lorenz_y: list[float]


@dataclass
class ValueTierResult:
    table: pa.Table  # one row per customer
    summary: list[dict[str, Any]]  # one row per tier, most valuable first
    pareto: Pareto
    as_of: date
    config: ValueConfig
    thresholds: tuple[float, float, float]

    @property
    def gini(self) -> float:
        return self.pareto.gini

    @property
    def top_shares(self) -> dict[float, float]:
        return self.pareto.top_shares

    @property
    def lorenz(self) -> tuple[list[float], list[float]]:
        return self.pareto.lorenz_x, self.pareto.lorenz_y


# -- concentration maths -------------------------------------------------------------------------
def _sorted_nonnegative(values: np.ndarray) -> np.ndarray:
    return np.sort(np.clip(np.asarray(values, dtype=float), 0, None))


def lorenz(values: np.ndarray, points: int = 101) -> tuple[list[float], list[float], float]:
    """Lorenz curve (population share, value share) sampled at ``points`` and the Gini index.

    The curve is piecewise linear between customers, so sampling it on a regular grid by linear
    interpolation is exact at the grid points (a chart needs ~200 of them, not one per customer).

    >>> x, y, g = lorenz(np.array([1.0, 1.0, 1.0, 1.0]))
    >>> round(g, 6)
    0.0
    >>> round(lorenz(np.array([0.0, 0.0, 0.0, 10.0]))[2], 2)
    0.75
    """
    v = _sorted_nonnegative(values)
    n = len(v)
    if n == 0 or v.sum() == 0:
        return [0.0, 1.0], [0.0, 1.0], 0.0
    cum = np.concatenate([[0.0], np.cumsum(v)]) / v.sum()
    pop = np.linspace(0, 1, n + 1)
    # Gini = 1 - 2 * area under the Lorenz curve (trapezoids); equal to the mean absolute
    # difference over twice the mean.
    area = float(np.sum((cum[1:] + cum[:-1]) / 2) / n)
    grid = np.linspace(0, 1, points)
    return grid.tolist(), np.interp(grid, pop, cum).tolist(), 1 - 2 * area


def top_share(values: np.ndarray, share: float) -> float:
    """Share of the total held by the ``max(1, round(n * share))`` most valuable customers."""
    v = _sorted_nonnegative(values)
    total = float(v.sum())
    if not len(v) or total == 0:
        return 0.0
    k = max(1, round(len(v) * share))
    return float(v[-k:].sum() / total)


def pareto(values: np.ndarray, points: int = 201, shares: tuple[float, ...] = TOP_SHARES) -> Pareto:
    """Concentration figures of ``values`` (one per customer)."""
    v = _sorted_nonnegative(values)
    n = len(v)
    x, y, g = lorenz(v, points)
    total = float(v.sum())
    if n and total > 0:
        from_top = np.cumsum(v[::-1])
        # The tolerance keeps an exact 80% (e.g. 4 of 5 equal customers) from losing to rounding.
        k = int(np.searchsorted(from_top, 0.8 * total * (1 - 1e-12), side="left")) + 1
        for80 = min(k, n) / n
    else:
        for80 = 0.0
    return Pareto(
        customers=n,
        total_value=total,
        gini=g,
        top_shares={s: top_share(v, s) for s in shares},
        customers_for_80=for80,
        lorenz_x=x,
        lorenz_y=y,
    )


def value_percentile(values: np.ndarray) -> np.ndarray:
    """Share of customers whose value is strictly lower (equal values, equal percentile; the
    least valuable customers get 0)."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return np.zeros(0)
    return np.searchsorted(np.sort(v), v, side="left") / len(v)


# -- customer value in SQL -----------------------------------------------------------------------
def _in_list(values: tuple[str, ...]) -> str:
    if not values:
        return "(NULL)"  # matches nothing
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def value_as_of(engine: AnalyticalEngine) -> date | None:
    """The data date, else the latest balance date, else the latest account opening."""
    from lodestar.profile.view import data_as_of

    day = data_as_of(engine)
    if day is None:
        day = engine.scalar(
            "SELECT coalesce(max(as_of_date), max(open_date)) FROM holdings"
        )  # fmt: skip
    return day if isinstance(day, date) else None


def customer_values(engine: AnalyticalEngine, cfg: ValueConfig, as_of: date) -> pa.Table:
    """customer_id, aum, revenue_12m for every customer (ordered by id), computed by the engine."""
    end = as_of + timedelta(days=1)
    start = _months_before(end, cfg.window_months)
    annualise = 12 / cfg.window_months
    h_cur = "" if cfg.currency is None else "AND h.currency = ?"
    t_cur = "" if cfg.currency is None else "AND currency = ?"
    cur = [] if cfg.currency is None else [cfg.currency]
    # A holding earns its margin on its balance and its annual fee for the days it was open
    # inside the window. The store keeps the latest balance only, so that balance stands for the
    # whole window. "closed" without a close date counts as closed before the window.
    return engine.query(
        f"""
        WITH h AS (
            SELECT h.customer_id, p.category, coalesce(h.balance, 0) AS balance,
                   coalesce(p.margin, 0) AS margin, coalesce(p.annual_fee, 0) AS fee,
                   (h.close_date IS NULL OR h.close_date > ?::DATE)
                       AND coalesce(h.status, 'active') <> 'closed' AS open_now,
                   CASE WHEN h.close_date IS NULL AND h.status = 'closed' THEN 0
                        ELSE greatest(date_diff('day', greatest(h.open_date, ?::DATE),
                                                least(coalesce(h.close_date, ?::DATE), ?::DATE)),
                                      0)
                   END AS days_in_window
            FROM holdings h JOIN products p USING (product_id)
            WHERE h.open_date <= ?::DATE {h_cur}
        ),
        per_customer AS (
            SELECT customer_id,
                   sum(balance) FILTER (WHERE open_now AND category IN {_in_list(cfg.aum_categories)})
                       AS aum,
                   sum((margin * balance + fee) * days_in_window / 365.0)
                       FILTER (WHERE category IN {_in_list(cfg.revenue_categories)})
                       AS holding_revenue
            FROM h GROUP BY customer_id
        ),
        tx AS (
            SELECT customer_id, sum(amount) AS tx_revenue FROM transactions
            WHERE ts >= ?::DATE AND ts < ?::DATE AND type IN {_in_list(cfg.revenue_types)} {t_cur}
            GROUP BY customer_id
        )
        SELECT c.customer_id,
               coalesce(p.aum, 0)::DOUBLE AS aum,
               ((coalesce(p.holding_revenue, 0) + coalesce(t.tx_revenue, 0)) * {annualise})::DOUBLE
                   AS revenue_12m
        FROM customers c
        LEFT JOIN per_customer p USING (customer_id)
        LEFT JOIN tx t USING (customer_id)
        ORDER BY c.customer_id
        """,
        [as_of, start, end, end, as_of, *cur, start, end, *cur],
    )


def _months_before(day: date, months: int) -> date:
    """``day`` moved back ``months`` calendar months (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# -- tiers ---------------------------------------------------------------------------------------
def _mean_scaled(values: np.ndarray) -> np.ndarray:
    mean = float(values.mean()) if len(values) else 0.0
    return values / mean if mean > 0 else np.zeros_like(values)


def compute_value_tiers(
    engine: AnalyticalEngine, config: ValueConfig | None = None
) -> ValueTierResult:
    cfg = config or ValueConfig()
    if not engine.count("customers"):
        raise ConfigError("value tiers need customers: the workspace has none")
    as_of = cfg.as_of or value_as_of(engine)
    if as_of is None:
        raise ConfigError(
            "value tiers need a data date: the workspace has no transactions, events or holdings",
            hint="load holdings or transactions, or give --as-of YYYY-MM-DD",
        )
    base = customer_values(engine, cfg, as_of)
    aum = np.round(base["aum"].to_numpy().astype(float), 2)
    revenue = np.round(base["revenue_12m"].to_numpy().astype(float), 2)
    if cfg.measure == "aum":
        value = aum
    elif cfg.measure == "revenue":
        value = revenue
    else:
        value = cfg.aum_weight * _mean_scaled(aum) + (1 - cfg.aum_weight) * _mean_scaled(revenue)
    pct = value_percentile(value)
    thresholds = cfg.tier_thresholds()
    basis = pct if cfg.tier_by == "percentile" else value
    # Tier index: 0 private banking .. 3 long tail, by how many lower bounds the basis reaches.
    # Percentiles: a small tolerance so that 0.8 reached by 80 of 100 is not lost to rounding.
    eps = 1e-12 if cfg.tier_by == "percentile" else 0.0
    reached = (basis[:, None] >= np.array(thresholds)[None, :] - eps).sum(axis=1)
    tier_idx = (3 - reached).astype(np.int32)
    codes = pa.array(TIER_CODES)
    names = pa.array([zh for _, zh, _ in TIERS])
    table = pa.table({
        "customer_id": base["customer_id"],
        "customer_value": pa.array(value, pa.float64()),
        "aum": pa.array(aum, pa.float64()),
        "revenue_12m": pa.array(revenue, pa.float64()),
        "value_percentile": pa.array(pct, pa.float64()),
        "value_tier": pa.DictionaryArray.from_arrays(tier_idx, codes).cast(pa.string()),
        "value_tier_name": pa.DictionaryArray.from_arrays(tier_idx, names).cast(pa.string()),
    })  # fmt: skip
    return ValueTierResult(
        table=table,
        summary=tier_summary(tier_idx, value, aum, revenue, thresholds),
        pareto=pareto(value),
        as_of=as_of,
        config=cfg,
        thresholds=thresholds,
    )


def tier_summary(
    tier_idx: np.ndarray,
    value: np.ndarray,
    aum: np.ndarray,
    revenue: np.ndarray,
    thresholds: tuple[float, float, float],
) -> list[dict[str, Any]]:
    """Customers, share of customers, share of value and mean value per tier, with the running
    (cumulative) shares from the top: the "few customers, most of the value" table."""
    n = len(value)
    k = len(TIERS)
    counts = np.bincount(tier_idx, minlength=k)
    positive = np.clip(value, 0, None)
    sums = np.bincount(tier_idx, weights=positive, minlength=k)
    value_sums = np.bincount(tier_idx, weights=value, minlength=k)
    aum_sums = np.bincount(tier_idx, weights=aum, minlength=k)
    rev_sums = np.bincount(tier_idx, weights=revenue, minlength=k)
    total = float(positive.sum())
    lower = [*thresholds, None]
    out: list[dict[str, Any]] = []
    cum_c = cum_v = 0.0
    for i, (code, zh, en) in enumerate(TIERS):
        c_share = float(counts[i] / n) if n else 0.0
        v_share = float(sums[i] / total) if total else 0.0
        cum_c += c_share
        cum_v += v_share
        out.append({
            "value_tier": code, "value_tier_name": zh, "value_tier_en": en,
            "lower_bound": lower[i],
            "customers": int(counts[i]), "customer_share": c_share, "value_share": v_share,
            "cumulative_customer_share": cum_c, "cumulative_value_share": cum_v,
            "mean_value": float(value_sums[i] / counts[i]) if counts[i] else None,
            "aum": float(aum_sums[i]), "revenue_12m": float(rev_sums[i]),
        })  # fmt: skip
    return out
