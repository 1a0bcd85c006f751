"""RFM: recency, frequency and monetary value per customer, 5-point scores, and the eight
classic groups (重要价值客户 ... 一般挽留客户).

The engine aggregates (last transaction, count, sum over the window); scoring is numpy on one
row per customer. A score compares a customer with the rest: with ``cut="quantile"`` the four cut
points are the 20/40/60/80% quantiles of the customers who transacted in the window; with
``cut="fixed"`` they are given. Recency scores run the other way (more recent = higher). A group
says whether each score is above the average score (high) or not (low): high R, F and M is
"important value", low R with high F and M is "important to retain", and so on.

>>> cfg = RfmConfig(window_days=365)
>>> cfg.cut
'quantile'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pyarrow as pa

from lodestar.errors import ConfigError
from lodestar.storage.analytical import AnalyticalEngine

#: Transaction types that count as the customer doing business with the bank.
DEFAULT_TYPES = ("card_purchase", "purchase", "bill_payment", "wealth_purchase", "loan_drawdown",
                 "insurance_premium", "deposit", "transfer_out")  # fmt: skip

#: (R high, F high, M high) -> (code, zh-CN, en)
GROUPS: dict[tuple[bool, bool, bool], tuple[str, str, str]] = {
    (True, True, True): ("important_value", "重要价值客户", "important value"),
    (True, False, True): ("important_develop", "重要发展客户", "important to develop"),
    (False, True, True): ("important_retain", "重要保持客户", "important to retain"),
    (False, False, True): ("important_winback", "重要挽留客户", "important to win back"),
    (True, True, False): ("general_value", "一般价值客户", "general value"),
    (True, False, False): ("general_develop", "一般发展客户", "general to develop"),
    (False, True, False): ("general_retain", "一般保持客户", "general to retain"),
    (False, False, False): ("general_winback", "一般挽留客户", "general to win back"),
}
GROUP_ORDER = [v[0] for v in GROUPS.values()]


@dataclass(frozen=True)
class RfmConfig:
    window_days: int = 365
    #: End of the window; default: the day of the latest transaction in the store.
    as_of: date | None = None
    cut: Literal["quantile", "fixed"] = "quantile"
    #: With ``cut="fixed"``: four ascending thresholds each. Recency is in days.
    recency_cuts: tuple[float, ...] = ()
    frequency_cuts: tuple[float, ...] = ()
    monetary_cuts: tuple[float, ...] = ()
    types: tuple[str, ...] = DEFAULT_TYPES
    #: Restrict to one currency (datasets in other currencies live in the same store).
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.window_days <= 0:
            raise ConfigError(f"rfm window_days must be positive, got {self.window_days}")
        if self.cut not in ("quantile", "fixed"):
            raise ConfigError(f"rfm cut must be 'quantile' or 'fixed', got {self.cut!r}")
        if self.cut == "fixed":
            for name in ("recency_cuts", "frequency_cuts", "monetary_cuts"):
                cuts = getattr(self, name)
                if len(cuts) != 4 or list(cuts) != sorted(cuts):
                    raise ConfigError(
                        f"rfm {name}: give four ascending thresholds for 5-point scores",
                        hint="e.g. --recency-cuts 30,90,180,365",
                    )


@dataclass
class RfmResult:
    table: pa.Table  # one row per customer
    as_of: date
    cuts: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> list[dict[str, object]]:
        """Customers, share and mean R/F/M values per group, in the classic order."""
        groups = self.table["group_code"].to_numpy(zero_copy_only=False)
        freq = self.table["frequency"].to_numpy()
        money = self.table["monetary"].to_numpy()
        rec = self.table["recency_days"].to_numpy(zero_copy_only=False).astype(float)
        n = max(len(groups), 1)
        out = []
        for key, (code, zh, en) in GROUPS.items():
            mask = groups == code
            k = int(mask.sum())
            out.append({
                "group_code": code, "group": zh, "group_en": en, "customers": k,
                "share": k / n,
                "mean_recency_days": float(np.nanmean(rec[mask])) if k else None,
                "mean_frequency": float(freq[mask].mean()) if k else None,
                "mean_monetary": float(money[mask].mean()) if k else None,
                "monetary_share": float(money[mask].sum() / money.sum()) if money.sum() else 0.0,
                "r_high": key[0], "f_high": key[1], "m_high": key[2],
            })  # fmt: skip
        return out


def _score(values: np.ndarray, cuts: np.ndarray, *, reverse: bool) -> np.ndarray:
    """1..5 by how many cut points lie below the value (reverse: fewer is better)."""
    above = np.searchsorted(cuts, values, side="left")  # cut points strictly below the value
    return (5 - above if reverse else 1 + above).astype(np.int8)


def compute_rfm(engine: AnalyticalEngine, config: RfmConfig | None = None) -> RfmResult:
    cfg = config or RfmConfig()
    as_of = cfg.as_of or engine.scalar("SELECT max(ts)::DATE FROM transactions")
    if as_of is None:
        raise ConfigError("RFM needs transactions: the workspace has none")
    start = as_of - timedelta(days=cfg.window_days - 1)
    types = ", ".join("'" + t.replace("'", "''") + "'" for t in cfg.types)
    currency = "" if cfg.currency is None else "AND currency = ?"
    params: list[object] = [start, as_of + timedelta(days=1)]
    if cfg.currency is not None:
        params.append(cfg.currency)
    agg = engine.query(
        f"""
        SELECT c.customer_id,
               date_diff('day', max(t.ts)::DATE, ?::DATE) AS recency_days,
               count(t.ts) AS frequency,
               coalesce(sum(t.amount), 0) AS monetary
        FROM customers c
        LEFT JOIN (
            SELECT customer_id, ts, amount FROM transactions
            WHERE ts >= ?::DATE AND ts < ?::DATE AND type IN ({types}) {currency}
        ) t USING (customer_id)
        GROUP BY c.customer_id
        """,
        [as_of, *params],
    )
    freq = agg["frequency"].to_numpy()
    # Cents: sums of the same amounts in another order differ in the last bits, and a customer
    # sitting exactly on a cut point must not change score with the summation order.
    money = np.round(agg["monetary"].to_numpy().astype(float), 2)
    rec = agg["recency_days"].cast(pa.float64()).to_numpy(zero_copy_only=False)
    active = freq > 0
    if cfg.cut == "quantile":
        q = [0.2, 0.4, 0.6, 0.8]
        pick = active if active.any() else np.ones(len(freq), bool)
        r_cuts = np.quantile(rec[pick], q) if active.any() else np.zeros(4)
        f_cuts = np.quantile(freq[pick], q)
        m_cuts = np.quantile(money[pick], q)
    else:
        r_cuts = np.array(cfg.recency_cuts, float)
        f_cuts = np.array(cfg.frequency_cuts, float)
        m_cuts = np.array(cfg.monetary_cuts, float)
    r = np.where(active, _score(np.nan_to_num(rec, nan=np.inf), r_cuts, reverse=True), 1)
    f = np.where(active, _score(freq.astype(float), f_cuts, reverse=False), 1).astype(np.int8)
    m = np.where(active, _score(money, m_cuts, reverse=False), 1).astype(np.int8)
    r = np.clip(r, 1, 5).astype(np.int8)
    hi_r, hi_f, hi_m = r > r.mean(), f > f.mean(), m > m.mean()
    # Group index in GROUPS' order, from the three high/low flags, without a Python loop.
    keys = list(GROUPS)
    lookup = np.empty(8, dtype=np.int32)
    for i, (kr, kf, km) in enumerate(keys):
        lookup[int(kr) * 4 + int(kf) * 2 + int(km)] = i
    group_idx = lookup[hi_r.astype(int) * 4 + hi_f.astype(int) * 2 + hi_m.astype(int)]
    codes = pa.array([GROUPS[k][0] for k in keys])
    names = pa.array([GROUPS[k][1] for k in keys])
    rfm_code = pa.array(r.astype(np.int32) * 100 + f * 10 + m, pa.int32()).cast(pa.string())
    table = pa.table({
        "customer_id": agg["customer_id"],
        "recency_days": pa.array(rec, pa.float64(), from_pandas=True),
        "frequency": pa.array(freq, pa.int64()),
        "monetary": pa.array(money, pa.float64()),
        "r": pa.array(r), "f": pa.array(f), "m": pa.array(m),
        "rfm_code": rfm_code,
        "group_code": pa.DictionaryArray.from_arrays(group_idx, codes).cast(pa.string()),
        "group": pa.DictionaryArray.from_arrays(group_idx, names).cast(pa.string()),
    })  # fmt: skip
    cuts = {"recency_days": r_cuts.tolist(), "frequency": f_cuts.tolist(),
            "monetary": m_cuts.tolist()}  # fmt: skip
    return RfmResult(table=table, as_of=as_of, cuts=cuts)
