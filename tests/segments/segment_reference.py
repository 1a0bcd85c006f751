"""A plain reference evaluator of the audience language: Python over lists of dicts.

Written from docs/segments.md, independently of the compiler and the index, and slow on
purpose: one customer at a time, SQL's three-valued logic spelled out with None.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from lodestar.segments.nodes import (
    And,
    Between,
    Compare,
    Condition,
    Consent,
    Did,
    Flag,
    Holds,
    InList,
    InSegment,
    IsNull,
    Node,
    Not,
    Or,
    TextMatch,
    Transacted,
    Window,
)


@dataclass
class Bank:
    """Everything the reference needs: one dict per customer (profile fields) and the raw rows
    of events, transactions, holdings, products and consents."""

    profile: list[dict[str, Any]]
    as_of: date
    events: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    holdings: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    segments: dict[str, Node] = field(default_factory=dict)


def first_day(window: Window | None, as_of: date) -> date | None:
    if window is None:
        return None
    if window.unit == "d":
        return as_of - timedelta(days=window.n - 1)
    if window.unit == "w":
        return as_of - timedelta(days=7 * window.n - 1)
    months = window.n * (1 if window.unit == "m" else 12)
    y, m = as_of.year, as_of.month - months
    while m < 1:
        m += 12
        y -= 1
    d = min(as_of.day, calendar.monthrange(y, m)[1])
    return date(y, m, d) + timedelta(days=1)


def _day(ts: datetime) -> date:
    return ts.date()  # timestamps are UTC


def _inside(ts: datetime, window: Window | None, as_of: date) -> bool:
    start = first_day(window, as_of)
    return (start is None or _day(ts) >= start) and _day(ts) <= as_of


def _ok(cond: Condition | None, x: float | None) -> bool:
    if cond is None:
        return True
    if x is None:
        return False
    return {"=": x == cond.value, "!=": x != cond.value, "<": x < cond.value,
            "<=": x <= cond.value, ">": x > cond.value, ">=": x >= cond.value}[cond.op]  # fmt: skip


def like(value: str, pattern: str) -> bool:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), value, flags=re.DOTALL) is not None


def _and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


class Reference:
    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self._who: dict[Node, set[str]] = {}

    def members(self, node: Node) -> set[str]:
        return {r["customer_id"] for r in self.bank.profile if self.truth(node, r) is True}

    def truth(self, node: Node, row: dict[str, Any]) -> bool | None:
        if isinstance(node, And):
            return _and([self.truth(i, row) for i in node.items])
        if isinstance(node, Or):
            return _or([self.truth(i, row) for i in node.items])
        if isinstance(node, Not):
            v = self.truth(node.item, row)
            return None if v is None else not v
        if isinstance(node, InSegment):
            return self.truth(self.bank.segments[node.name], row) is True
        if isinstance(node, Did | Transacted | Holds | Consent):
            return row["customer_id"] in self.who(node)
        value = row.get(node.field)
        if isinstance(value, float) and math.isnan(value):  # NaN counts as no value
            value = None
        if isinstance(node, IsNull):
            return (value is not None) if node.negated else (value is None)
        if value is None:
            return None
        if isinstance(node, Flag):
            return bool(value)
        if isinstance(node, Compare):
            v = node.value
            return {"=": value == v, "!=": value != v, "<": value < v, "<=": value <= v,
                    ">": value > v, ">=": value >= v}[node.op]  # fmt: skip
        if isinstance(node, Between):
            inside = node.low <= value <= node.high
            return not inside if node.negated else inside
        if isinstance(node, InList):
            hit = any(value == v for v in node.values)
            return not hit if node.negated else hit
        if isinstance(node, TextMatch):
            return node.pattern in value if node.op == "contains" else like(value, node.pattern)
        raise TypeError(node)

    def who(self, node: Node) -> set[str]:
        if node not in self._who:
            self._who[node] = self._compute(node)
        return self._who[node]

    def _compute(self, node: Node) -> set[str]:
        b, as_of = self.bank, self.bank.as_of
        if isinstance(node, Did):
            return self._grouped(
                [e for e in b.events if e["customer_id"] is not None
                 and e["event_name"] == node.event and _inside(e["ts"], node.within, as_of)],
                lambda rows: _ok(node.times, len(rows)),
            )  # fmt: skip
        if isinstance(node, Transacted):
            rows = [t for t in b.transactions
                    if (node.type is None or t["type"] == node.type)
                    and _inside(t["ts"], node.within, as_of) and _ok(node.amount, t["amount"])]  # fmt: skip
            return self._grouped(
                rows,
                lambda rs: (
                    _ok(node.times, len(rs))
                    and _ok(node.total, round(sum(r["amount"] for r in rs), 2))
                ),
            )
        if isinstance(node, Holds):
            category = {p["product_id"]: p["category"] for p in b.products}
            rows = [h for h in b.holdings
                    if h["status"] != "closed"
                    and (h["open_date"] is None or h["open_date"] <= as_of)
                    and (h["close_date"] is None or h["close_date"] > as_of)
                    and (h["product_id"] == node.product if node.product is not None
                         else category.get(h["product_id"]) == node.category)]  # fmt: skip

            def balance_ok(rs: list[dict[str, Any]]) -> bool:
                known = [r["balance"] for r in rs if r["balance"] is not None]
                return _ok(node.balance, round(sum(known), 2) if known else None)

            return self._grouped(rows, balance_ok)
        if isinstance(node, Consent):
            latest: dict[tuple[str, str, str], dict[str, Any]] = {}
            for c in sorted(b.consents, key=lambda c: (c["ts"], c["consent_id"])):
                latest[(c["customer_id"], c["channel"], c["purpose"])] = c
            return {cid for (cid, ch, pu), c in latest.items()
                    if ch == node.channel and pu == node.purpose
                    and c["granted"] and c["withdrawn_at"] is None}  # fmt: skip
        raise TypeError(node)

    @staticmethod
    def _grouped(
        rows: list[dict[str, Any]], keep: Callable[[list[dict[str, Any]]], bool]
    ) -> set[str]:
        by: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by.setdefault(r["customer_id"], []).append(r)
        return {cid for cid, rs in by.items() if keep(rs)}
