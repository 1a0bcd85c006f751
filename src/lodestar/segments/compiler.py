"""Compile an expression to a DuckDB predicate over ``customer_profile``, with bound parameters.

User literals never enter the SQL text: every value is a ``?`` parameter. Field names are
checked against the catalogue before they get here and are quoted as identifiers. Behaviour
functions become ``customer_id IN (SELECT customer_id ... )`` subqueries over
``events_resolved``, ``transactions``, ``holdings`` / ``products`` and ``consents_current``;
``in_segment`` inlines the saved segment's predicate.

SQL's three-valued logic is kept on purpose: ``x = 1`` is unknown (NULL) when ``x`` is NULL, so
neither it nor ``not x = 1`` selects that customer. Behaviour functions and ``in_segment`` are
never unknown. The in-memory index (:mod:`lodestar.segments.index`) follows the same rules and
is tested against this compiler.

>>> from lodestar.segments.parser import parse
>>> c = compile_predicate(parse("age >= 25 and region in ('华东', '华北')"), CompileContext())
>>> c.sql, c.params
('("age" >= ? AND "region" IN (?, ?))', [25, '华东', '华北'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from lodestar.segments.catalogue import Catalogue, FieldInfo
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

VIEW = "customer_profile"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class CompileContext:
    """What compiling needs besides the tree."""

    catalogue: Catalogue | None = None
    #: The data date that windows end on (and holdings are open on); None: no window allowed
    #: to be resolved (callers pass the data date).
    as_of: date | None = None
    #: Resolves ``in_segment('name')`` to the saved segment's tree.
    resolve: Callable[[InSegment], Node] | None = None


@dataclass
class Compiled:
    sql: str
    params: list[Any] = field(default_factory=list)


def compile_predicate(node: Node, ctx: CompileContext) -> Compiled:
    """The WHERE predicate for ``node`` over ``customer_profile``."""
    params: list[Any] = []
    sql = _Compiler(ctx, params).node(node)
    return Compiled(sql, params)


def members_sql(node: Node, ctx: CompileContext, columns: str = "customer_id") -> Compiled:
    c = compile_predicate(node, ctx)
    return Compiled(f"SELECT {columns} FROM {VIEW} WHERE {c.sql}", c.params)


def count_sql(node: Node, ctx: CompileContext) -> Compiled:
    c = compile_predicate(node, ctx)
    return Compiled(f"SELECT count(*) FROM {VIEW} WHERE {c.sql}", c.params)


def window_bounds(window: Window | None, as_of: date | None) -> tuple[date | None, date | None]:
    """[first day, day after the last) of a window ending on ``as_of``; no window: everything
    up to ``as_of``."""
    end = as_of + timedelta(days=1) if as_of is not None else None
    if window is None or as_of is None:
        return None, end
    return window.start(as_of), end


class _Compiler:
    def __init__(self, ctx: CompileContext, params: list[Any]) -> None:
        self.ctx = ctx
        self.params = params
        self.resolving: list[str] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def col(self, name: str) -> str:
        info: FieldInfo | None = self.ctx.catalogue.lookup(name) if self.ctx.catalogue else None
        if info is not None and info.is_timestamp:
            return f"CAST({quote(info.name)} AS DATE)"
        if info is not None and info.is_decimal:
            return f"CAST({quote(info.name)} AS DOUBLE)"
        if info is not None and info.is_float:
            # NaN is no value, as in the index (DuckDB would rank it above every number).
            return f"nullif({quote(info.name)}, 'NaN'::DOUBLE)"
        return quote(info.name if info is not None else name)

    def node(self, n: Node) -> str:
        if isinstance(n, And):
            return "(" + " AND ".join(self.node(i) for i in n.items) + ")"
        if isinstance(n, Or):
            return "(" + " OR ".join(self.node(i) for i in n.items) + ")"
        if isinstance(n, Not):
            return f"(NOT {self.node(n.item)})"
        if isinstance(n, Compare):
            return f"{self.col(n.field)} {n.op} {self.p(n.value)}"
        if isinstance(n, Between):
            neg = "NOT " if n.negated else ""
            return f"{self.col(n.field)} {neg}BETWEEN {self.p(n.low)} AND {self.p(n.high)}"
        if isinstance(n, InList):
            neg = "NOT " if n.negated else ""
            marks = ", ".join(self.p(v) for v in n.values)
            return f"{self.col(n.field)} {neg}IN ({marks})"
        if isinstance(n, IsNull):
            return f"{self.col(n.field)} IS {'NOT ' if n.negated else ''}NULL"
        if isinstance(n, Flag):
            return f"({self.col(n.field)} = true)"
        if isinstance(n, TextMatch):
            if n.op == "contains":
                return f"contains({self.col(n.field)}, {self.p(n.pattern)})"
            return f"{self.col(n.field)} LIKE {self.p(n.pattern)} ESCAPE '\\'"
        if isinstance(n, InSegment):
            return self.in_segment(n)
        return "customer_id IN (" + self.behaviour_sql(n) + ")"

    def in_segment(self, n: InSegment) -> str:
        if self.ctx.resolve is None:
            raise ValueError("in_segment() needs a resolver in the compile context")
        inner = self.ctx.resolve(n)
        # Membership is yes or no: a customer for whom the saved predicate is unknown is not a
        # member, and is therefore a non-member under 'not'.
        return f"coalesce({self.node(inner)}, false)"

    def window(self, ts: str, window: Window | None) -> list[str]:
        start, end = window_bounds(window, self.ctx.as_of)
        out = []
        if start is not None:
            out.append(f"{ts} >= {self.p(start)}::DATE")
        if end is not None:
            out.append(f"{ts} < {self.p(end)}::DATE")
        return out

    def cond(self, expr: str, c: Condition) -> str:
        return f"{expr} {c.op} {self.p(c.value)}"

    def behaviour_sql(self, n: Node) -> str:
        """``SELECT customer_id ...`` of the customers for whom a behaviour function holds."""
        if isinstance(n, Did):
            where = ["customer_id IS NOT NULL", f"event_name = {self.p(n.event)}",
                     *self.window("ts", n.within)]  # fmt: skip
            sql = f"SELECT customer_id FROM events_resolved WHERE {' AND '.join(where)}"
            if n.times is not None:
                sql += f" GROUP BY customer_id HAVING {self.cond('count(*)', n.times)}"
            return sql
        if isinstance(n, Transacted):
            where = ["customer_id IS NOT NULL"]
            if n.type is not None:
                where.append(f"type = {self.p(n.type)}")
            where += self.window("ts", n.within)
            if n.amount is not None:
                where.append(self.cond("amount", n.amount))
            sql = f"SELECT customer_id FROM transactions WHERE {' AND '.join(where)}"
            having = []
            if n.times is not None:
                having.append(self.cond("count(*)", n.times))
            if n.total is not None:
                # Cents, so the order of summation cannot move a customer across the threshold.
                having.append(self.cond("round(sum(amount), 2)", n.total))
            if having:
                sql += f" GROUP BY customer_id HAVING {' AND '.join(having)}"
            return sql
        if isinstance(n, Holds):
            where = ["h.customer_id IS NOT NULL", "coalesce(h.status, '') <> 'closed'"]
            if self.ctx.as_of is not None:
                day = self.p(self.ctx.as_of)
                where.append(f"(h.open_date IS NULL OR h.open_date <= {day}::DATE)")
                where.append(f"(h.close_date IS NULL OR h.close_date > {self.p(self.ctx.as_of)}"
                             "::DATE)")  # fmt: skip
            else:
                where.append("h.close_date IS NULL")
            if n.product is not None:
                where.append(f"h.product_id = {self.p(n.product)}")
                source = "holdings h"
            else:
                where.append(f"p.category = {self.p(n.category)}")
                source = "holdings h JOIN products p ON p.product_id = h.product_id"
            sql = f"SELECT h.customer_id FROM {source} WHERE {' AND '.join(where)}"
            if n.balance is not None:
                sql += (" GROUP BY h.customer_id HAVING "
                        + self.cond("round(sum(h.balance), 2)", n.balance))  # fmt: skip
            return sql
        if isinstance(n, Consent):
            return (
                "SELECT customer_id FROM consents_current WHERE customer_id IS NOT NULL AND "
                f"in_force AND channel = {self.p(n.channel)} AND purpose = {self.p(n.purpose)}"
            )
        raise TypeError(f"not an expression node: {n!r}")


def behaviour_members_sql(node: Node, ctx: CompileContext) -> Compiled:
    """The distinct customers for whom one behaviour function holds (for the index's bitmaps)."""
    params: list[Any] = []
    inner = _Compiler(ctx, params).behaviour_sql(node)
    return Compiled(f"SELECT DISTINCT customer_id FROM ({inner})", params)
