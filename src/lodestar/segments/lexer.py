"""Tokens of the audience language.

>>> [(t.kind, t.text) for t in tokenize("age >= 25 and not \\"my field\\"")]
[('ident', 'age'), ('op', '>='), ('number', '25'), ('keyword', 'and'), ('keyword', 'not'), ('ident', 'my field'), ('end', '')]
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from lodestar.errors import SegmentError

TokenKind = Literal["ident", "keyword", "string", "number", "op", "(", ")", ",", "-", "end"]

#: Reserved words (case-insensitive). A field with one of these names is written in double
#: quotes: ``"date" > date '2026-01-01'``.
KEYWORDS = frozenset(
    {"and", "or", "not", "between", "in", "is", "null", "true", "false", "date", "contains",
     "like"}
)  # fmt: skip

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[^\W\d]\w*)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),\-])
  | (?P<string>')
  | (?P<quoted>")
    """,
    re.VERBOSE,
)


class Token(NamedTuple):
    kind: TokenKind
    #: Keywords lower-cased, operators normalised (``<>`` -> ``!=``), strings and quoted
    #: identifiers without quotes and with doubled quotes undone.
    text: str
    #: 1-based column of the first character.
    col: int
    #: A double-quoted identifier (never a keyword or a function name).
    quoted: bool = False

    def shown(self) -> str:
        """How the token reads in a message."""
        if self.kind == "end":
            return ""
        if self.kind == "string":
            return "'" + self.text.replace("'", "''") + "'"
        return self.text


def _quoted(text: str, start: int, quote: str, what: str) -> tuple[str, int]:
    """The content of a quoted run starting at ``start`` (the opening quote) and the index after
    the closing quote. A doubled quote stands for one quote character."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise SegmentError(
        what, position=start + 1, expression=text, hint_key="seg.hint.unterminated", quote=quote
    )


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise SegmentError(
                "seg.bad_char", position=i + 1, expression=text, char=text[i],
                hint_key="seg.hint.bad_char",
            )  # fmt: skip
        kind = m.lastgroup
        col = i + 1
        if kind == "string":
            value, i = _quoted(text, i, "'", "seg.unterminated_string")
            tokens.append(Token("string", value, col))
            continue
        if kind == "quoted":
            value, i = _quoted(text, i, '"', "seg.unterminated_ident")
            if not value:
                raise SegmentError("seg.empty_ident", position=col, expression=text)
            tokens.append(Token("ident", value, col, quoted=True))
            continue
        i = m.end()
        word = m.group()
        if kind == "number":
            tokens.append(Token("number", word, col))
        elif kind == "ident":
            lower = word.lower()
            tokens.append(Token("keyword", lower, col) if lower in KEYWORDS
                          else Token("ident", word, col))  # fmt: skip
        elif kind == "op":
            tokens.append(Token("op", {"<>": "!=", "==": "="}.get(word, word), col))
        elif kind == "punct":
            tokens.append(Token(word, word, col))  # type: ignore[arg-type]
    tokens.append(Token("end", "", len(text) + 1))
    return tokens
