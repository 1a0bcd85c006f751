"""The audience language's syntax tree: small immutable nodes.

A parsed expression is a tree of frozen dataclasses; equal trees compare and hash equal, so they
serve as cache keys. Each node remembers the 1-based column it started at (``pos``) for error
messages; the position takes no part in equality.

>>> Compare("age", ">=", 25) == Compare("age", ">=", 25, pos=9)
True
>>> And((Flag("has_credit_card"), Not(Compare("region", "=", "华东")))).items[1].item.value
'华东'
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, TypeAlias

#: A literal in an expression: number, text, yes/no or date.
Value: TypeAlias = bool | int | float | str | date

COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
CompareOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]
MatchOp: TypeAlias = Literal["contains", "like"]
WindowUnit: TypeAlias = Literal["d", "w", "m", "y"]
#: Longest window per unit (100 years).
WINDOW_LIMITS: dict[str, int] = {"d": 36_500, "w": 5_200, "m": 1_200, "y": 100}


def value_kind(value: Value) -> str:
    """``number``, ``text``, ``boolean`` or ``date`` (the kinds of the field catalogue)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "date"


def _pos() -> int:
    return field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Window:
    """``within='30d'``: the ``n`` days / weeks / calendar months / years ending on the data date,
    that day included."""

    n: int
    unit: WindowUnit

    def __post_init__(self) -> None:
        if self.unit not in WINDOW_LIMITS or not 1 <= self.n <= WINDOW_LIMITS[self.unit]:
            raise ValueError(f"window {self.n}{self.unit} is out of range")

    @property
    def text(self) -> str:
        return f"{self.n}{self.unit}"

    def start(self, as_of: date) -> date:
        """First day inside the window ending on ``as_of``.

        Months and years are calendar ones: one month before 31 March is 28 (29) February, so
        ``'1m'`` on 2026-03-31 covers 1-31 March.

        >>> Window(30, "d").start(date(2026, 6, 30))
        datetime.date(2026, 6, 1)
        >>> Window(1, "m").start(date(2026, 3, 31))
        datetime.date(2026, 3, 1)
        """
        if self.unit == "d":
            return as_of - timedelta(days=self.n - 1)
        if self.unit == "w":
            return as_of - timedelta(days=7 * self.n - 1)
        months = self.n if self.unit == "m" else 12 * self.n
        total = as_of.year * 12 + (as_of.month - 1) - months
        year, month = divmod(total, 12)
        month += 1
        day = min(as_of.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=1)


@dataclass(frozen=True)
class Condition:
    """``times >= 5``, ``amount >= 5000``: a comparison of an aggregate with a number."""

    op: CompareOp
    value: int | float

    def __post_init__(self) -> None:
        if self.op not in COMPARE_OPS:
            raise ValueError(f"unknown comparison {self.op!r}")

    def holds(self, x: float) -> bool:
        v = self.value
        return {
            "=": x == v, "!=": x != v, "<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v,
        }[self.op]  # fmt: skip


# -- predicates on fields of customer_profile ---------------------------------------------------
@dataclass(frozen=True)
class Compare:
    """``field op value``."""

    field: str
    op: CompareOp
    value: Value
    pos: int = _pos()

    def __post_init__(self) -> None:
        if self.op not in COMPARE_OPS:
            raise ValueError(f"unknown comparison {self.op!r}")


@dataclass(frozen=True)
class Between:
    """``field [not] between low and high`` (both ends included)."""

    field: str
    low: Value
    high: Value
    negated: bool = False
    pos: int = _pos()


@dataclass(frozen=True)
class InList:
    """``field [not] in (v1, v2, ...)``."""

    field: str
    values: tuple[Value, ...]
    negated: bool = False
    pos: int = _pos()

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("an in-list needs at least one value")


@dataclass(frozen=True)
class IsNull:
    """``field is [not] null``."""

    field: str
    negated: bool = False
    pos: int = _pos()


@dataclass(frozen=True)
class Flag:
    """A yes/no field used alone as a predicate: ``has_credit_card``."""

    field: str
    pos: int = _pos()


@dataclass(frozen=True)
class TextMatch:
    """``field contains 'text'`` (substring) or ``field like 'pattern'`` (``%`` any run of
    characters, ``_`` one character, ``\\`` escapes either)."""

    field: str
    op: MatchOp
    pattern: str
    pos: int = _pos()

    def __post_init__(self) -> None:
        if self.op not in ("contains", "like"):
            raise ValueError(f"unknown text match {self.op!r}")


# -- behaviour functions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Did:
    """``did('event', within='30d', times >= 5)``: the customer had the event (at least once, and
    as many times as ``times`` says) in the window (all history when there is none)."""

    event: str
    within: Window | None = None
    times: Condition | None = None
    pos: int = _pos()


@dataclass(frozen=True)
class Transacted:
    """``transacted('salary', within='90d', amount >= 5000, times >= 3, total >= 15000)``.

    ``amount`` filters single transactions, ``times`` counts and ``total`` sums those left; the
    customer needs at least one. No type: any transaction."""

    type: str | None = None
    within: Window | None = None
    amount: Condition | None = None
    times: Condition | None = None
    total: Condition | None = None
    pos: int = _pos()


@dataclass(frozen=True)
class Holds:
    """``holds('CC_GOLD')`` / ``holds(category='wealth', balance >= 100000)``: an account open on
    the data date, of that product or category; ``balance`` is the sum over those accounts."""

    product: str | None = None
    category: str | None = None
    balance: Condition | None = None
    pos: int = _pos()

    def __post_init__(self) -> None:
        if (self.product is None) == (self.category is None):
            raise ValueError("holds() takes a product or a category")


@dataclass(frozen=True)
class Consent:
    """``consent('sms')``: consent in force for the channel and purpose (marketing by default)."""

    channel: str
    purpose: str = "marketing"
    pos: int = _pos()


@dataclass(frozen=True)
class InSegment:
    """``in_segment('name')``: a member of the saved segment's latest version."""

    name: str
    pos: int = _pos()


# -- logic --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]
    pos: int = _pos()

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("'and' joins at least two conditions")


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]
    pos: int = _pos()

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("'or' joins at least two conditions")


@dataclass(frozen=True)
class Not:
    item: Node
    pos: int = _pos()


FieldPredicate: TypeAlias = Compare | Between | InList | IsNull | Flag | TextMatch
Behaviour: TypeAlias = Did | Transacted | Holds | Consent
Node: TypeAlias = FieldPredicate | Behaviour | InSegment | And | Or | Not

FIELD_PREDICATES = (Compare, Between, InList, IsNull, Flag, TextMatch)
BEHAVIOURS = (Did, Transacted, Holds, Consent)


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    out: list[Node] = [node]
    if isinstance(node, And | Or):
        for item in node.items:
            out += walk(item)
    elif isinstance(node, Not):
        out += walk(node.item)
    return out


def fields_used(node: Node) -> list[str]:
    """Fields of ``customer_profile`` the expression reads, in order of first use."""
    seen: dict[str, None] = {}
    for n in walk(node):
        if isinstance(n, FIELD_PREDICATES):
            seen.setdefault(n.field, None)
    return list(seen)
