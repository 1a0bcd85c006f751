"""Personal data masked inside the engine, the same way :func:`lodestar.data.pii.mask` does it.

Samples and exports of segments can be millions of rows, so masking is a SQL expression per
column rather than a Python call per value; a test checks both give the same text.

>>> print(mask_sql('"name"', Pii.NAME))
left("name", 1) || repeat('*', greatest(1, length("name") - 1))
"""

from __future__ import annotations

from lodestar.data.schema import CUSTOMERS, Pii

#: Columns of ``customer_profile`` holding personal data (from the canonical schema's marks).
PII_COLUMNS: dict[str, Pii] = {f.name: f.pii for f in CUSTOMERS.fields if f.pii is not Pii.NONE}


def mask_sql(col: str, kind: Pii) -> str:
    """A DuckDB expression masking the (quoted) column ``col``; NULL stays NULL."""
    stars = f"repeat('*', length({col}))"
    if kind is Pii.NAME:
        return f"left({col}, 1) || repeat('*', greatest(1, length({col}) - 1))"
    if kind is Pii.EMAIL:
        return (f"CASE WHEN strpos({col}, '@') > 0 THEN left(split_part({col}, '@', 1), 1) || "
                f"'***@' || substr({col}, strpos({col}, '@') + 1) ELSE {stars} END")  # fmt: skip
    if kind in (Pii.PHONE, Pii.ID_NUMBER):
        limit = 7 if kind is Pii.PHONE else 8
        return (f"CASE WHEN length({col}) >= {limit} THEN left({col}, 3) || "
                f"repeat('*', length({col}) - 7) || right({col}, 4) ELSE {stars} END")  # fmt: skip
    return stars
