"""Parse audience expressions into :mod:`lodestar.segments.nodes` trees.

Grammar (keywords in any case; ``docs/segments.md`` has the full description)::

    expr      := or
    or        := and ('or' and)*
    and       := unary ('and' unary)*
    unary     := 'not' unary | primary
    primary   := '(' expr ')' | call | predicate
    predicate := field ( op value
                       | ['not'] 'between' value 'and' value
                       | ['not'] 'in' '(' value (',' value)* ')'
                       | 'is' ['not'] 'null'
                       | ('contains' | 'like') string
                       | <nothing: a yes/no field> )
    call      := name '(' [arg (',' arg)*] ')'     did, transacted, holds, consent, in_segment
    arg       := string | name op value            e.g. 'apply_start', within='30d', times >= 5
    value     := string | ['-'] number | true | false | date string
    field     := name | "double-quoted name"

With a :class:`~lodestar.segments.catalogue.Catalogue` the parser also checks every field exists
and every value fits its field's kind, pointing at the exact column when one does not.

>>> parse("age between 25 and 40 and not did('apply_submit', within='30d')")
And(items=(Between(field='age', low=25, high=40, negated=False), Not(item=Did(event='apply_submit', within=Window(n=30, unit='d'), times=None))))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

from lodestar.data.schema import (
    CONSENT_PURPOSES,
    CONTACT_CHANNELS,
    PRODUCT_CATEGORIES,
    TRANSACTION_TYPES,
)
from lodestar.errors import SegmentError
from lodestar.segments.catalogue import Catalogue, FieldInfo, FieldKind, suggest
from lodestar.segments.lexer import Token, tokenize
from lodestar.segments.nodes import (
    COMPARE_OPS,
    WINDOW_LIMITS,
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
    Window,
    value_kind,
)

FUNCTIONS: dict[str, tuple[str, ...]] = {
    # name -> keyword arguments it takes (the positional one is described in docs/segments.md)
    "did": ("within", "times"),
    "transacted": ("within", "amount", "times", "total"),
    "holds": ("category", "balance"),
    "consent": ("purpose",),
    "in_segment": (),
}
#: Which operators each kind of field accepts.
OPS_BY_KIND: dict[FieldKind, frozenset[str]] = {
    FieldKind.NUMBER: frozenset({*COMPARE_OPS, "between", "in", "is"}),
    FieldKind.TEXT: frozenset({*COMPARE_OPS, "between", "in", "is", "contains", "like"}),
    FieldKind.DATE: frozenset({*COMPARE_OPS, "between", "in", "is"}),
    FieldKind.BOOLEAN: frozenset({"=", "!=", "in", "is", "flag"}),
    FieldKind.OTHER: frozenset({"is"}),
}
_WINDOW = re.compile(r"\s*(\d{1,6})\s*([dwmyDWMY])\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT64 = 2**63 - 1


def parse(text: str, catalogue: Catalogue | None = None) -> Node:
    """The tree of ``text``; raises :class:`~lodestar.errors.SegmentError` pointing at the
    first problem."""
    return _Parser(text, catalogue).parse()


class _Parser:
    def __init__(self, text: str, catalogue: Catalogue | None) -> None:
        self.text = text
        self.catalogue = catalogue
        self.tokens = tokenize(text)
        self.last = len(self.tokens) - 1
        self.i = 0
        #: the current token (kept as an attribute: the parser reads it constantly)
        self.tok: Token = self.tokens[0]

    # -- token helpers ----------------------------------------------------------------------------
    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, self.last)]

    def advance(self) -> Token:
        tok = self.tok
        if self.i < self.last:
            self.i += 1
            self.tok = self.tokens[self.i]
        return tok

    def at_keyword(self, *words: str) -> bool:
        tok = self.tok
        return tok.kind == "keyword" and tok.text in words

    def fail(self, key: str, tok: Token | None = None, **kw: Any) -> NoReturn:
        t = tok or self.tok
        raise SegmentError(key, position=t.col, expression=self.text, **kw)

    def expected(self, want: str, tok: Token | None = None) -> NoReturn:
        t = tok or self.tok
        if t.kind == "end":
            self.fail("seg.expected_end", t, localized={"expected": want})
        self.fail("seg.expected", t, found=t.shown(), localized={"expected": want})

    def expect(self, kind: str, want: str) -> Token:
        if self.tok.kind != kind:
            self.expected(want)
        return self.advance()

    # -- grammar ----------------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.tok.kind == "end":
            self.fail("seg.empty", hint_key="seg.hint.empty")
        node = self.or_()
        if self.tok.kind != "end":
            if self.tok.kind == ")":
                self.fail("seg.unbalanced")
            self.expected("seg.want.connective")
        return node

    def or_(self) -> Node:
        start = self.tok.col
        items = [self.and_()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items), pos=start)

    def and_(self) -> Node:
        start = self.tok.col
        items = [self.unary()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items), pos=start)

    def unary(self) -> Node:
        if self.at_keyword("not"):
            start = self.advance().col
            return Not(self.unary(), pos=start)
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "(":
            self.advance()
            if self.tok.kind == ")":
                self.expected("seg.want.condition")
            node = self.or_()
            if self.tok.kind != ")":
                self.expected("seg.want.rparen")
            self.advance()
            return node
        if tok.kind == "ident":
            if not tok.quoted and self.peek().kind == "(":
                return self.call()
            return self.predicate()
        self.expected("seg.want.condition")

    # -- predicates on fields ---------------------------------------------------------------------
    def field_info(self, tok: Token) -> FieldInfo | None:
        if self.catalogue is None:
            return None
        info = self.catalogue.lookup(tok.text)
        if info is None:
            close = self.catalogue.suggest(tok.text)
            if close:
                self.fail("seg.unknown_field", tok, field=tok.text, hint_key="seg.hint.did_you_mean",
                          options=", ".join(close))  # fmt: skip
            self.fail("seg.unknown_field", tok, field=tok.text, hint_key="seg.hint.fields")
        return info

    def check_op(self, info: FieldInfo | None, op: str, tok: Token) -> None:
        if info is None or op in OPS_BY_KIND[info.kind]:
            return
        if op == "flag":
            self.fail("seg.not_boolean", tok, field=info.name, hint_key=f"seg.hint.kind.{info.kind}",
                      localized={"kind": f"seg.kind.{info.kind}"})  # fmt: skip
        self.fail("seg.op_not_for_kind", tok, op=op, field=info.name,
                  hint_key=f"seg.hint.kind.{info.kind}",
                  localized={"kind": f"seg.kind.{info.kind}"})  # fmt: skip

    def check_value(self, info: FieldInfo | None, value: Value, tok: Token) -> None:
        if info is None or info.kind == FieldKind.OTHER:
            return
        kind = value_kind(value)
        if kind != info.kind:
            self.fail("seg.type_mismatch", tok, field=info.name, value=tok_value_text(value),
                      hint_key=f"seg.hint.kind.{info.kind}",
                      localized={"kind": f"seg.kind.{info.kind}", "value_kind": f"seg.kind.{kind}"})  # fmt: skip

    def predicate(self) -> Node:
        ftok = self.advance()
        info = self.field_info(ftok)
        name = info.name if info is not None else ftok.text
        pos = ftok.col
        tok = self.tok
        if tok.kind in ("end", ")") or (tok.kind == "keyword" and tok.text in ("and", "or")):
            self.check_op(info, "flag", ftok)
            return Flag(name, pos=pos)
        if tok.kind == "op":
            self.check_op(info, tok.text, tok)
            self.advance()
            value, vtok = self.value(after=tok)
            self.check_value(info, value, vtok)
            return Compare(name, tok.text, value, pos=pos)  # type: ignore[arg-type]
        negated = False
        if self.at_keyword("not") and self.peek().kind == "keyword" and self.peek().text in (
            "between", "in"
        ):  # fmt: skip
            negated = True
            self.advance()
            tok = self.tok
        if self.at_keyword("between"):
            self.check_op(info, "between", tok)
            self.advance()
            low, ltok = self.value(after=tok)
            self.check_value(info, low, ltok)
            and_tok = self.tok
            if not self.at_keyword("and"):
                self.expected("seg.want.between_and")
            self.advance()
            high, htok = self.value(after=and_tok)
            self.check_value(info, high, htok)
            if value_kind(low) != value_kind(high):
                self.fail("seg.mixed_values", htok, localized={
                    "a": f"seg.kind.{value_kind(low)}", "b": f"seg.kind.{value_kind(high)}"})  # fmt: skip
            return Between(name, low, high, negated, pos=pos)
        if self.at_keyword("in"):
            self.check_op(info, "in", tok)
            self.advance()
            self.expect("(", "seg.want.lparen")
            values: list[Value] = []
            while True:
                prev = self.tokens[self.i - 1]
                value, vtok = self.value(after=prev)
                self.check_value(info, value, vtok)
                if values and value_kind(value) != value_kind(values[0]):
                    self.fail("seg.mixed_values", vtok, localized={
                        "a": f"seg.kind.{value_kind(values[0])}",
                        "b": f"seg.kind.{value_kind(value)}"})  # fmt: skip
                values.append(value)
                if self.tok.kind == ",":
                    self.advance()
                    continue
                if self.tok.kind != ")":
                    self.expected("seg.want.comma_or_rparen")
                self.advance()
                break
            return InList(name, tuple(values), negated, pos=pos)
        if self.at_keyword("is"):
            self.advance()
            neg = False
            if self.at_keyword("not"):
                self.advance()
                neg = True
            if not self.at_keyword("null"):
                self.expected("seg.want.null")
            self.advance()
            return IsNull(name, neg, pos=pos)
        if self.at_keyword("contains", "like"):
            self.check_op(info, tok.text, tok)
            self.advance()
            stok = self.tok
            if stok.kind != "string":
                self.expected("seg.want.string")
            self.advance()
            if tok.text == "like":
                check_like(stok.text, stok, self)
            return TextMatch(name, tok.text, stok.text, pos=pos)  # type: ignore[arg-type]
        self.expected("seg.want.operator")

    def value(self, *, after: Token) -> tuple[Value, Token]:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return tok.text, tok
        if tok.kind == "-" and self.peek().kind == "number":
            self.advance()
            num = self.number(self.advance())
            return -num, tok
        if tok.kind == "number":
            return self.number(self.advance()), tok
        if self.at_keyword("true", "false"):
            self.advance()
            return tok.text == "true", tok
        if self.at_keyword("date"):
            self.advance()
            stok = self.tok
            if stok.kind != "string":
                self.expected("seg.want.date_string")
            self.advance()
            return self.date(stok), tok
        if tok.kind == "end":
            self.fail("seg.expected_value_end", tok, after=after.shown(),
                      hint_key="seg.hint.value")  # fmt: skip
        self.fail("seg.expected_value", tok, after=after.shown(), found=tok.shown(),
                  hint_key="seg.hint.value")  # fmt: skip

    def number(self, tok: Token) -> int | float:
        text = tok.text
        if any(c in text for c in ".eE"):
            value = float(text)
            if value in (float("inf"), float("-inf")):
                self.fail("seg.bad_number", tok, value=text)
            return value
        n = int(text)
        if n > _INT64:
            self.fail("seg.bad_number", tok, value=text)
        return n

    def date(self, tok: Token) -> date:
        if _DATE.fullmatch(tok.text):
            try:
                return date.fromisoformat(tok.text)
            except ValueError:
                pass
        self.fail("seg.bad_date", tok, value=tok.text, hint_key="seg.hint.date")

    # -- behaviour functions ----------------------------------------------------------------------
    def call(self) -> Node:
        ntok = self.advance()
        name = ntok.text.lower()
        if name not in FUNCTIONS:
            close = suggest(name, FUNCTIONS)
            self.fail("seg.unknown_function", ntok, name=ntok.text,
                      hint_key="seg.hint.did_you_mean" if close else "seg.hint.functions",
                      options=", ".join(close) if close else ", ".join(FUNCTIONS))  # fmt: skip
        self.advance()  # (
        positional: list[Token] = []
        keywords: dict[str, tuple[str, Any, Token, Token]] = {}
        while self.tok.kind != ")":
            tok = self.tok
            if tok.kind == "string":
                if keywords or positional:
                    self.fail("seg.extra_positional", tok, function=name)
                positional.append(self.advance())
            elif tok.kind == "ident" and self.peek().kind == "op":
                key = tok.text.lower()
                if key not in FUNCTIONS[name]:
                    self.fail("seg.unknown_argument", tok, function=name, arg=tok.text,
                              allowed=", ".join(FUNCTIONS[name]) or "-")  # fmt: skip
                if key in keywords:
                    self.fail("seg.duplicate_argument", tok, function=name, arg=key)
                self.advance()
                op = self.advance()
                value, vtok = self.value(after=op)
                keywords[key] = (op.text, value, tok, vtok)
            else:
                self.expected("seg.want.argument")
            if self.tok.kind == ",":
                self.advance()
                if self.tok.kind == ")":
                    self.expected("seg.want.argument")
            elif self.tok.kind != ")":
                self.expected("seg.want.comma_or_rparen")
        self.advance()  # )
        build: Callable[[Token, list[Token], dict[str, Any]], Node] = getattr(self, f"_{name}")
        return build(ntok, positional, keywords)

    def _text_arg(self, ntok: Token, positional: list[Token], what: str, *, required: bool,
                  allowed: tuple[str, ...] | None = None) -> str | None:  # fmt: skip
        if not positional:
            if required:
                self.fail("seg.missing_argument", ntok, function=ntok.text.lower(),
                          localized={"what": f"seg.arg.{what}"})  # fmt: skip
            return None
        tok = positional[0]
        if not tok.text.strip():
            self.fail("seg.empty_argument", tok, function=ntok.text.lower(),
                      localized={"what": f"seg.arg.{what}"})  # fmt: skip
        if allowed is not None:
            self.check_code(tok, tok.text, allowed, what)
        return tok.text

    def check_code(self, tok: Token, value: str, allowed: tuple[str, ...], what: str) -> None:
        if value in allowed:
            return
        close = suggest(value, allowed)
        self.fail("seg.unknown_code", tok, value=value,
                  hint_key="seg.hint.did_you_mean" if close else "seg.hint.allowed",
                  options=", ".join(close or allowed), localized={"what": f"seg.arg.{what}"})  # fmt: skip

    def _keyword_text(self, keywords: dict[str, Any], key: str) -> tuple[str, Token] | None:
        if key not in keywords:
            return None
        op, value, ktok, vtok = keywords[key]
        if op != "=" or not isinstance(value, str):
            self.fail("seg.bad_argument", ktok, arg=key, localized={"expected": "seg.want.text_eq"})
        return value, vtok

    def _window(self, keywords: dict[str, Any]) -> Window | None:
        got = self._keyword_text(keywords, "within")
        if got is None:
            return None
        text, vtok = got
        m = _WINDOW.fullmatch(text)
        if m:
            n, unit = int(m.group(1)), m.group(2).lower()
            if 1 <= n <= WINDOW_LIMITS[unit]:
                return Window(n, unit)  # type: ignore[arg-type]
        self.fail("seg.bad_window", vtok, window=text, hint_key="seg.hint.window")

    def _condition(self, keywords: dict[str, Any], key: str, *, count: bool) -> Condition | None:
        if key not in keywords:
            return None
        op, value, ktok, vtok = keywords[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail("seg.bad_argument", vtok, arg=key, localized={"expected": "seg.want.number"})
        if count:
            if not isinstance(value, int) or value < 0:
                self.fail("seg.bad_argument", vtok, arg=key,
                          localized={"expected": "seg.want.count"})  # fmt: skip
            # A customer counts only with at least one event / transaction, so these never hold.
            if (op in ("=", "<=") and value < 1) or (op == "<" and value <= 1):
                self.fail("seg.never_true", ktok, arg=key, op=op, value=value,
                          hint_key="seg.hint.never_true")  # fmt: skip
        return Condition(op, value)

    def _did(self, ntok: Token, positional: list[Token], keywords: dict[str, Any]) -> Node:
        event = self._text_arg(ntok, positional, "event", required=True)
        assert event is not None
        return Did(event, self._window(keywords), self._condition(keywords, "times", count=True),
                   pos=ntok.col)  # fmt: skip

    def _transacted(self, ntok: Token, positional: list[Token], keywords: dict[str, Any]) -> Node:
        kind = self._text_arg(ntok, positional, "transaction_type", required=False,
                              allowed=TRANSACTION_TYPES)  # fmt: skip
        return Transacted(kind, self._window(keywords),
                          self._condition(keywords, "amount", count=False),
                          self._condition(keywords, "times", count=True),
                          self._condition(keywords, "total", count=False), pos=ntok.col)  # fmt: skip

    def _holds(self, ntok: Token, positional: list[Token], keywords: dict[str, Any]) -> Node:
        product = self._text_arg(ntok, positional, "product", required=False)
        category = self._keyword_text(keywords, "category")
        if category is not None:
            self.check_code(category[1], category[0], PRODUCT_CATEGORIES, "category")
        if (product is None) == (category is None):
            self.fail("seg.holds_one", ntok)
        return Holds(product, category[0] if category else None,
                     self._condition(keywords, "balance", count=False), pos=ntok.col)  # fmt: skip

    def _consent(self, ntok: Token, positional: list[Token], keywords: dict[str, Any]) -> Node:
        channel = self._text_arg(ntok, positional, "channel", required=True,
                                 allowed=CONTACT_CHANNELS)  # fmt: skip
        assert channel is not None
        purpose = self._keyword_text(keywords, "purpose")
        if purpose is not None:
            self.check_code(purpose[1], purpose[0], CONSENT_PURPOSES, "purpose")
        return Consent(channel, purpose[0] if purpose else "marketing", pos=ntok.col)

    def _in_segment(self, ntok: Token, positional: list[Token], keywords: dict[str, Any]) -> Node:
        name = self._text_arg(ntok, positional, "segment", required=True)
        assert name is not None
        return InSegment(name, pos=ntok.col)


def tok_value_text(value: Value) -> str:
    from lodestar.segments.printer import literal

    return literal(value)


def check_like(pattern: str, tok: Token, parser: _Parser) -> None:
    """A backslash in a LIKE pattern must escape ``%``, ``_`` or another backslash."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "%_\\":
                parser.fail("seg.bad_like", tok, hint_key="seg.hint.like")
            i += 2
            continue
        i += 1
