"""Canonical text of an expression: lower-case keywords, single spaces, quotes only where needed.

``parse(to_text(node)) == node`` for every tree (a property test checks it), so the canonical
text is what saved segments store and compare.

>>> from lodestar.segments.parser import parse
>>> to_text(parse("AGE>=25 AND (Region='华东' OR region = 'it''s')"))
"AGE >= 25 and (Region = '华东' or region = 'it''s')"
"""

from __future__ import annotations

import re
from datetime import date

from lodestar.segments.lexer import KEYWORDS
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
    Value,
)

_BARE = re.compile(r"[^\W\d]\w*")


def identifier(name: str) -> str:
    """A field name, double-quoted when it is a keyword or not a plain word."""
    if _BARE.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    raise TypeError(f"not a literal: {value!r}")


def _condition(name: str, cond: Condition | None) -> list[str]:
    return [] if cond is None else [f"{name} {cond.op} {literal(cond.value)}"]


def to_text(node: Node) -> str:
    if isinstance(node, Compare):
        return f"{identifier(node.field)} {node.op} {literal(node.value)}"
    if isinstance(node, Between):
        neg = "not " if node.negated else ""
        return (f"{identifier(node.field)} {neg}between {literal(node.low)} and "
                f"{literal(node.high)}")  # fmt: skip
    if isinstance(node, InList):
        neg = "not " if node.negated else ""
        return f"{identifier(node.field)} {neg}in ({', '.join(literal(v) for v in node.values)})"
    if isinstance(node, IsNull):
        return f"{identifier(node.field)} is {'not ' if node.negated else ''}null"
    if isinstance(node, Flag):
        return identifier(node.field)
    if isinstance(node, TextMatch):
        return f"{identifier(node.field)} {node.op} {string(node.pattern)}"
    if isinstance(node, Did):
        args = [string(node.event)]
        args += [f"within={string(node.within.text)}"] if node.within else []
        args += _condition("times", node.times)
        return f"did({', '.join(args)})"
    if isinstance(node, Transacted):
        args = [string(node.type)] if node.type is not None else []
        args += [f"within={string(node.within.text)}"] if node.within else []
        args += _condition("amount", node.amount) + _condition("times", node.times)
        args += _condition("total", node.total)
        return f"transacted({', '.join(args)})"
    if isinstance(node, Holds):
        args = [string(node.product)] if node.product is not None else []
        args += [f"category={string(node.category)}"] if node.category is not None else []
        args += _condition("balance", node.balance)
        return f"holds({', '.join(args)})"
    if isinstance(node, Consent):
        purpose = "" if node.purpose == "marketing" else f", purpose={string(node.purpose)}"
        return f"consent({string(node.channel)}{purpose})"
    if isinstance(node, InSegment):
        return f"in_segment({string(node.name)})"
    if isinstance(node, And):
        return " and ".join(_wrap(i, And | Or) for i in node.items)
    if isinstance(node, Or):
        # 'and' inside 'or' needs no brackets, but they make the canonical text easier to read.
        return " or ".join(_wrap(i, And | Or) for i in node.items)
    if isinstance(node, Not):
        return "not " + _wrap(node.item, And | Or)
    raise TypeError(f"not an expression node: {node!r}")


def _wrap(node: Node, kinds: type | tuple[type, ...] | object) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, kinds) else text  # type: ignore[arg-type]
