"""What an expression may refer to: the columns of ``customer_profile`` and their kinds.

Kinds come from DuckDB's ``information_schema.columns``: numbers (integers, decimals, floats),
text, yes/no (BOOLEAN), dates (DATE; timestamps are compared by their UTC day) and ``other``
(lists, structs, JSON...), which only ``is null`` accepts.

>>> cat = Catalogue.from_types({"age": "INTEGER", "region": "VARCHAR"})
>>> cat.lookup("AGE").name, cat.lookup("AGE").kind
('age', <FieldKind.NUMBER: 'number'>)
>>> cat.suggest("regoin")
['region']
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from lodestar.storage.analytical import AnalyticalEngine

VIEW = "customer_profile"


class FieldKind(StrEnum):
    NUMBER = "number"
    TEXT = "text"
    BOOLEAN = "boolean"
    DATE = "date"
    OTHER = "other"


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "NUMERIC",
            "INT")  # fmt: skip


def kind_of(sql_type: str) -> FieldKind:
    """The kind of a DuckDB column type.

    >>> kind_of("DECIMAL(18,2)"), kind_of("TIMESTAMP WITH TIME ZONE"), kind_of("VARCHAR[]")
    (<FieldKind.NUMBER: 'number'>, <FieldKind.DATE: 'date'>, <FieldKind.OTHER: 'other'>)
    """
    t = sql_type.upper().strip()
    if t.endswith("]") or t.startswith(("STRUCT", "MAP", "UNION", "LIST", "JSON")):
        return FieldKind.OTHER
    if t == "BOOLEAN":
        return FieldKind.BOOLEAN
    if t.startswith(("VARCHAR", "TEXT", "STRING", "CHAR", "ENUM")):
        return FieldKind.TEXT
    if t.startswith(_NUMERIC):
        return FieldKind.NUMBER
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return FieldKind.DATE
    return FieldKind.OTHER


@dataclass(frozen=True)
class FieldInfo:
    name: str
    kind: FieldKind
    sql_type: str

    @property
    def is_timestamp(self) -> bool:
        return self.sql_type.upper().startswith("TIMESTAMP")

    @property
    def is_float(self) -> bool:
        """Floating-point columns may hold NaN, which segments treat as no value (NULL)."""
        return self.sql_type.upper() in ("DOUBLE", "FLOAT", "REAL", "FLOAT8", "FLOAT4")

    @property
    def is_decimal(self) -> bool:
        """DECIMAL / HUGEINT columns are compared as DOUBLE, like the in-memory index does."""
        return self.sql_type.upper().startswith(("DECIMAL", "NUMERIC", "HUGEINT", "UHUGEINT"))


class Catalogue:
    """The fields of ``customer_profile`` by name."""

    def __init__(self, fields: Iterable[FieldInfo]) -> None:
        self.fields: dict[str, FieldInfo] = {f.name: f for f in fields}
        self._folded: dict[str, list[str]] = {}
        for name in self.fields:
            self._folded.setdefault(name.casefold(), []).append(name)

    @classmethod
    def from_types(cls, types: dict[str, str]) -> Catalogue:
        return cls(FieldInfo(n, kind_of(t), t) for n, t in types.items())

    @classmethod
    def from_engine(cls, engine: AnalyticalEngine, view: str = VIEW) -> Catalogue:
        rows = engine.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [view],
        ).to_pylist()
        return cls.from_types({str(r["column_name"]): str(r["data_type"]) for r in rows})

    def lookup(self, name: str) -> FieldInfo | None:
        """The field called ``name``; case does not matter when only one field matches."""
        if name in self.fields:
            return self.fields[name]
        same = self._folded.get(name.casefold(), [])
        return self.fields[same[0]] if len(same) == 1 else None

    def suggest(self, name: str, n: int = 3) -> list[str]:
        return suggest(name, self.fields, n)

    def __contains__(self, name: str) -> bool:
        return self.lookup(name) is not None


def suggest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Close spellings of ``word`` among ``choices`` (case-insensitive), best first."""
    options = list(choices)
    folded = {c.casefold(): c for c in options}
    close = difflib.get_close_matches(word.casefold(), list(folded), n=n, cutoff=0.6)
    return [folded[c] for c in close]
