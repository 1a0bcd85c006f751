"""The small expression language inside tag definitions.

Tags say how a value is derived from other values: ``card_balance / card_limit``,
``age < 30 and digital_txn_share_90d >= 0.5``, ``type in ('salary', 'transfer_in')``. An
expression is parsed into immutable nodes, type-checked against the names it may use, and
compiled to SQL for the analytical engine (nothing is evaluated row by row in Python).

Grammar (keywords are case-insensitive)::

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := sum [ ('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') sum
                   | ['not'] 'between' sum 'and' sum
                   | ['not'] 'in' '(' literal (',' literal)* ')'
                   | ['not'] 'like' string
                   | 'is' ['not'] 'null' ]
    sum     := product (('+' | '-') product)*
    product := unary (('*' | '/') unary)*
    unary   := '-' unary | atom
    atom    := number | 'string' | true | false | null | date 'YYYY-MM-DD'
             | name | name '(' [expr (',' expr)*] ')' | '(' expr ')'

Functions: ``coalesce``, ``least``, ``greatest``, ``abs``, ``round(x[, digits])``, ``ln``,
``log10``, ``sqrt``, ``if(condition, then, else)``, ``days_since(date)``,
``years_since(date)``, ``lower``, ``upper``. Division by zero gives null, not an error.

>>> node = parse("card_balance / card_limit >= 0.8")
>>> typed = check(node, {"card_balance": "number", "card_limit": "number"}.get)
>>> typed
'boolean'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

ExprType = Literal["number", "text", "boolean", "date", "null"]


class ExprError(Exception):
    """A syntax or type error at ``column`` (1-based) of the expression."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# -- nodes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal_:
    value: float | int | str | bool | date | None
    pos: int


@dataclass(frozen=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # 'not' | '-'
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # and or = != < <= > >= + - * /
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Between:
    operand: Node
    low: Node
    high: Node
    negated: bool
    pos: int


@dataclass(frozen=True)
class InList:
    operand: Node
    items: tuple[Literal_, ...]
    negated: bool
    pos: int


@dataclass(frozen=True)
class Like:
    operand: Node
    pattern: str
    negated: bool
    pos: int


@dataclass(frozen=True)
class IsNull:
    operand: Node
    negated: bool
    pos: int


Node = Literal_ | Name | Call | Unary | Binary | Between | InList | Like | IsNull


# -- tokens ---------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^']|'')*')
      | (?P<unclosed>'(?:[^']|'')*$)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+")
      | (?P<op><=|>=|!=|<>|[=<>+\-*/(),])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "between", "in", "is", "null", "true", "false", "like", "date"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # number string name keyword op end
    text: str
    pos: int  # 1-based column


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None or m.lastgroup is None:
            j = len(text) - len(text[i:].lstrip())
            raise ExprError(f"unexpected character {text[j]!r}", j + 1)
        kind = m.lastgroup
        start = m.start(kind) + 1
        value = m.group(kind)
        if kind == "unclosed":
            raise ExprError("unclosed string: add the closing quote '", start)
        if kind == "name" and value.startswith('"'):
            value = value[1:-1].replace('""', '"')
        elif kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        out.append(_Tok(kind, value, start))
        i = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


# -- parser ---------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def expect(self, kind: str, text: str, what: str) -> _Tok:
        if not self.at(kind, text):
            raise ExprError(f"expected {what}, found {self._describe()}", self.tok.pos)
        return self.take()

    def _describe(self) -> str:
        tok = self.tok
        return "the end of the expression" if tok.kind == "end" else repr(tok.text)

    def parse(self) -> Node:
        if self.at("end"):
            raise ExprError("the expression is empty", 1)
        node = self.or_()
        if not self.at("end"):
            raise ExprError(
                f"expected an operator or the end of the expression, found {self._describe()}",
                self.tok.pos,
            )
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("keyword", "or"):
            pos = self.take().pos
            node = Binary("or", node, self.and_(), pos)
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("keyword", "and"):
            pos = self.take().pos
            node = Binary("and", node, self.not_(), pos)
        return node

    def not_(self) -> Node:
        if self.at("keyword", "not"):
            pos = self.take().pos
            return Unary("not", self.not_(), pos)
        return self.compare()

    def compare(self) -> Node:
        left = self.sum_()
        tok = self.tok
        if tok.kind == "op" and tok.text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = "!=" if tok.text == "<>" else tok.text
            return Binary(op, left, self.sum_(), tok.pos)
        negated = False
        if self.at("keyword", "not") and self.toks[self.i + 1].text in ("between", "in", "like"):
            self.take()
            negated = True
        if self.at("keyword", "between"):
            pos = self.take().pos
            low = self.sum_()
            self.expect("keyword", "and", "'and' between the two bounds")
            return Between(left, low, self.sum_(), negated, pos)
        if self.at("keyword", "in"):
            pos = self.take().pos
            self.expect("op", "(", "'(' to open the list")
            items = [self.literal()]
            while self.at("op", ","):
                self.take()
                items.append(self.literal())
            self.expect("op", ")", "',' or ')' to close the list")
            return InList(left, tuple(items), negated, pos)
        if self.at("keyword", "like"):
            pos = self.take().pos
            if not self.at("string"):
                raise ExprError(
                    f"expected a quoted pattern, found {self._describe()}", self.tok.pos
                )
            return Like(left, _unquote(self.take().text), negated, pos)
        if self.at("keyword", "is"):
            pos = self.take().pos
            neg = False
            if self.at("keyword", "not"):
                self.take()
                neg = True
            self.expect("keyword", "null", "'null' after 'is'")
            return IsNull(left, neg, pos)
        return left

    def sum_(self) -> Node:
        node = self.product()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            tok = self.take()
            node = Binary(tok.text, node, self.product(), tok.pos)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            tok = self.take()
            node = Binary(tok.text, node, self.unary(), tok.pos)
        return node

    def unary(self) -> Node:
        if self.at("op", "-"):
            pos = self.take().pos
            return Unary("-", self.unary(), pos)
        return self.atom()

    def literal(self) -> Literal_:
        tok = self.tok
        negative = False
        if self.at("op", "-"):
            self.take()
            negative = True
        node = self.atom()
        if not isinstance(node, Literal_):
            raise ExprError("expected a literal value (a number, 'text', true or false)", tok.pos)
        if negative:
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                raise ExprError("only numbers can be negative", tok.pos)
            return Literal_(-node.value, tok.pos)
        return node

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            is_int = tok.text.isdigit()
            return Literal_(int(tok.text) if is_int else float(tok.text), tok.pos)
        if tok.kind == "string":
            self.take()
            return Literal_(_unquote(tok.text), tok.pos)
        if tok.kind == "keyword" and tok.text in ("true", "false", "null"):
            self.take()
            return Literal_({"true": True, "false": False, "null": None}[tok.text], tok.pos)
        if tok.kind == "keyword" and tok.text == "date":
            self.take()
            if not self.at("string"):
                raise ExprError("expected a date like date '2026-01-31'", self.tok.pos)
            text_tok = self.take()
            try:
                return Literal_(date.fromisoformat(_unquote(text_tok.text)), tok.pos)
            except ValueError:
                raise ExprError(
                    f"{text_tok.text} is not a date; write YYYY-MM-DD", text_tok.pos
                ) from None
        if tok.kind == "name":
            self.take()
            if self.at("op", "("):
                self.take()
                args: list[Node] = []
                if not self.at("op", ")"):
                    args.append(self.or_())
                    while self.at("op", ","):
                        self.take()
                        args.append(self.or_())
                self.expect("op", ")", "',' or ')' to close the call")
                return Call(tok.text.lower(), tuple(args), tok.pos)
            return Name(tok.text, tok.pos)
        if self.at("op", "("):
            self.take()
            node = self.or_()
            self.expect("op", ")", "')'")
            return node
        raise ExprError(f"expected a value, a name or '(', found {self._describe()}", tok.pos)


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def parse(text: str) -> Node:
    """Parse an expression; raises :class:`ExprError` with the column of the problem."""
    return _Parser(str(text)).parse()


def names(node: Node) -> list[Name]:
    """Every name the expression refers to, in order of appearance."""
    out: list[Name] = []

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            out.append(n)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)
        elif isinstance(n, Unary):
            walk(n.operand)
        elif isinstance(n, Binary):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Between):
            walk(n.operand)
            walk(n.low)
            walk(n.high)
        elif isinstance(n, InList | Like | IsNull):
            walk(n.operand)

    walk(node)
    return out


# -- types ----------------------------------------------------------------------------------
_FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args)
    "coalesce": (1, 99), "least": (1, 99), "greatest": (1, 99), "abs": (1, 1),
    "round": (1, 2), "ln": (1, 1), "log10": (1, 1), "sqrt": (1, 1), "if": (3, 3),
    "days_since": (1, 1), "years_since": (1, 1), "lower": (1, 1), "upper": (1, 1),
}  # fmt: skip


def _literal_type(value: object) -> ExprType:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, date):
        return "date"
    return "text"


def _same(a: ExprType, b: ExprType) -> bool:
    return a == b or "null" in (a, b)


def check(node: Node, lookup: Callable[[str], str | None]) -> ExprType:
    """The type of ``node``; ``lookup(name)`` gives a name's type or None when unknown."""

    def need(n: Node, want: ExprType, role: str) -> ExprType:
        got = typ(n)
        if not _same(got, want):
            raise ExprError(f"{role} must be {want}, but it is {got}", _pos(n))
        return got

    def typ(n: Node) -> ExprType:
        if isinstance(n, Literal_):
            return _literal_type(n.value)
        if isinstance(n, Name):
            found = lookup(n.name)
            if found is None:
                raise ExprError(f"unknown name '{n.name}'", n.pos)
            return found  # type: ignore[return-value]
        if isinstance(n, Unary):
            return need(
                n.operand, "boolean" if n.op == "not" else "number", f"the operand of '{n.op}'"
            )
        if isinstance(n, Binary):
            if n.op in ("and", "or"):
                need(n.left, "boolean", f"the left side of '{n.op}'")
                need(n.right, "boolean", f"the right side of '{n.op}'")
                return "boolean"
            if n.op in ("+", "-", "*", "/"):
                need(n.left, "number", f"the left side of '{n.op}'")
                need(n.right, "number", f"the right side of '{n.op}'")
                return "number"
            left, right = typ(n.left), typ(n.right)
            if not _same(left, right):
                raise ExprError(f"cannot compare {left} with {right} using '{n.op}'", n.pos)
            return "boolean"
        if isinstance(n, Between):
            kind = typ(n.operand)
            need(n.low, kind, "the lower bound of 'between'")
            need(n.high, kind, "the upper bound of 'between'")
            return "boolean"
        if isinstance(n, InList):
            kind = typ(n.operand)
            for item in n.items:
                need(item, kind, "every value of the list")
            return "boolean"
        if isinstance(n, Like):
            need(n.operand, "text", "the left side of 'like'")
            return "boolean"
        if isinstance(n, IsNull):
            typ(n.operand)
            return "boolean"
        return call_type(n)

    def call_type(n: Call) -> ExprType:
        if n.func not in _FUNCTIONS:
            raise ExprError(
                f"unknown function '{n.func}'; known: {', '.join(sorted(_FUNCTIONS))}", n.pos
            )
        low, high = _FUNCTIONS[n.func]
        if not low <= len(n.args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise ExprError(f"{n.func}() takes {want} arguments, got {len(n.args)}", n.pos)
        if n.func in ("coalesce", "least", "greatest"):
            kinds = [typ(a) for a in n.args]
            known = [k for k in kinds if k != "null"]
            for a, k in zip(n.args, kinds, strict=True):
                if known and not _same(k, known[0]):
                    raise ExprError(f"{n.func}() mixes {known[0]} and {k}", _pos(a))
            return known[0] if known else "null"
        if n.func == "if":
            need(n.args[0], "boolean", "the condition of if()")
            then, other = typ(n.args[1]), typ(n.args[2])
            if not _same(then, other):
                raise ExprError(f"if() returns {then} or {other}: make them the same", n.pos)
            return then if then != "null" else other
        if n.func in ("days_since", "years_since"):
            need(n.args[0], "date", f"the argument of {n.func}()")
            return "number"
        if n.func in ("lower", "upper"):
            need(n.args[0], "text", f"the argument of {n.func}()")
            return "text"
        for a in n.args:
            need(a, "number", f"the arguments of {n.func}()")
        return "number"

    return typ(node)


def _pos(node: Node) -> int:
    if isinstance(node, Binary):
        return _pos(node.left)
    if isinstance(node, Between | InList | Like | IsNull):
        return _pos(node.operand)
    return node.pos


# -- SQL ------------------------------------------------------------------------------------
def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, int) else repr(float(value))
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def to_sql(node: Node, column: Callable[[str], str], as_of: date) -> str:
    """SQL text for a checked expression; ``column(name)`` gives the SQL for a name."""
    day = sql_literal(as_of)

    def sql(n: Node) -> str:
        if isinstance(n, Literal_):
            return sql_literal(n.value)
        if isinstance(n, Name):
            return column(n.name)
        if isinstance(n, Unary):
            return f"(NOT {sql(n.operand)})" if n.op == "not" else f"(-{sql(n.operand)})"
        if isinstance(n, Binary):
            if n.op == "/":  # division by zero is "unknown", not an error that stops a build
                return f"({sql(n.left)} / NULLIF({sql(n.right)}, 0))"
            op = {"and": "AND", "or": "OR"}.get(n.op, n.op)
            return f"({sql(n.left)} {op} {sql(n.right)})"
        if isinstance(n, Between):
            neg = "NOT " if n.negated else ""
            return f"({sql(n.operand)} {neg}BETWEEN {sql(n.low)} AND {sql(n.high)})"
        if isinstance(n, InList):
            neg = "NOT " if n.negated else ""
            items = ", ".join(sql(i) for i in n.items)
            return f"({sql(n.operand)} {neg}IN ({items}))"
        if isinstance(n, Like):
            neg = "NOT " if n.negated else ""
            return f"({sql(n.operand)} {neg}LIKE {sql_literal(n.pattern)})"
        if isinstance(n, IsNull):
            return f"({sql(n.operand)} IS {'NOT ' if n.negated else ''}NULL)"
        args = [sql(a) for a in n.args]
        if n.func == "if":
            return f"(CASE WHEN {args[0]} THEN {args[1]} ELSE {args[2]} END)"
        if n.func == "days_since":
            return f"date_diff('day', CAST({args[0]} AS DATE), {day})"
        if n.func == "years_since":
            return f"(date_diff('day', CAST({args[0]} AS DATE), {day}) / 365.25)"
        if n.func in ("ln", "log10", "sqrt"):  # undefined for non-positive input: null
            guard = ">= 0" if n.func == "sqrt" else "> 0"
            return f"(CASE WHEN {args[0]} {guard} THEN {n.func}({args[0]}) END)"
        return f"{n.func}({', '.join(args)})"

    return sql(node)
