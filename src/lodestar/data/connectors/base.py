"""What every public-dataset connector shares: the connector record, finding the file, a clear
error when it is not the expected one, and vectorised builders for canonical columns.

A connector's ``read(path)`` yields ``(entity_name, table)`` pairs in load order (products before
holdings, customers before what refers to them), each table in exactly the entity's Arrow schema:

>>> from lodestar.data.connectors import get_connector
>>> get_connector("cdnow").default_files
('CDNOW_master.txt',)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import INCOME_BANDS, Entity
from lodestar.errors import DatasetError

Reader = Callable[[Path], Iterator[tuple[str, pa.Table]]]

# What pandas raises on a file that is not the delimited text it was told to expect.
PARSER_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError)


@dataclass(frozen=True)
class DatasetConnector:
    """A public dataset and how it maps into the canonical model."""

    name: str
    title: str
    #: What maps to what, in one line (``lodestar datasets`` shows it).
    description: str
    #: File names looked for inside the folder the user passes (first match wins).
    default_files: tuple[str, ...]
    #: Rows each entity gets from the full public file (documentation and tests); the product
    #: catalogue, yielded by several connectors, is left out.
    expected_rows: Mapping[str, int] = field(default_factory=dict)
    reader: Reader | None = field(default=None, repr=False)

    def resolve(self, path: Path) -> Path:
        """The file to read: ``path`` itself, or the first default file inside the folder."""
        path = Path(path)
        if path.is_dir():
            for name in self.default_files:
                if (path / name).is_file():
                    return path / name
            present = sorted(p.name for p in path.iterdir())[:10]
            raise DatasetError(
                f"{path}: none of {', '.join(self.default_files)} found for dataset "
                f"'{self.name}' (the folder holds: {', '.join(present) or 'nothing'})",
                hint="pass the dataset's folder or the file itself",
            )
        if not path.is_file():
            raise DatasetError(
                f"{path}: no such file or folder (dataset '{self.name}' expects "
                f"{' or '.join(self.default_files)})"
            )
        return path

    def read(self, path: Path) -> Iterator[tuple[str, pa.Table]]:
        """Canonical ``(entity, table)`` pairs from the dataset at ``path`` (folder or file).
        A missing path fails here; a file that is not the dataset fails while iterating."""
        if self.reader is None:
            raise DatasetError(f"dataset '{self.name}' has no reader")
        return self.reader(self.resolve(path))


# -- reading ------------------------------------------------------------------------------------
def parse_failure(path: Path, dataset: str, exc: BaseException) -> DatasetError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DatasetError(
        f"{path}: not the {dataset} file ({first})",
        hint=f"check that this is the {dataset} file (see docs/datasets.md)",
    )


def read_frame(
    path: Path, dataset: str, needed: Sequence[str] = (), **read_csv: Any
) -> pd.DataFrame:
    """Read a dataset's delimited file with pandas; a file that is not it gets a DatasetError
    that names the file and the dataset expected, never a parser traceback."""
    try:
        frame = pd.read_csv(path, **read_csv)
    except PARSER_ERRORS as exc:
        raise parse_failure(path, dataset, exc) from exc
    require_columns(path, list(frame.columns), needed, dataset)
    return frame


def read_chunks(
    path: Path, dataset: str, needed: Sequence[str], rows: int, **read_csv: Any
) -> Iterator[pd.DataFrame]:
    """:func:`read_frame` in chunks of ``rows`` rows (bounded memory for the larger files)."""
    try:
        reader = pd.read_csv(path, chunksize=rows, **read_csv)
        with reader:
            for i, chunk in enumerate(reader):
                if i == 0:
                    require_columns(path, list(chunk.columns), needed, dataset)
                yield chunk
    except PARSER_ERRORS as exc:
        raise parse_failure(path, dataset, exc) from exc


def require_columns(path: Path, found: Sequence[str], needed: Sequence[str], dataset: str) -> None:
    missing = [c for c in needed if c not in found]
    if missing:
        raise DatasetError(
            f"{path}: not the {dataset} file: missing column(s) {missing}; "
            f"its header has {[str(c) for c in found][:12]}",
            hint=f"check that this is the {dataset} file (see docs/datasets.md)",
        )


def require_numbers(path: Path, frame: pd.DataFrame, columns: Sequence[str], dataset: str) -> None:
    """Each of ``columns`` holds a number on every row; else a DatasetError naming the first
    bad line (counting the header line)."""
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DatasetError(
                f"{path}: line {row + 2}: {column} is {str(frame[column].iloc[row])[:40]!r}, "
                f"expected a number (is this the {dataset} file?)"
            )


def require_values(
    path: Path, frame: pd.DataFrame, column: str, allowed: Sequence[object], dataset: str
) -> None:
    """``column`` holds one of ``allowed`` on every row; else a DatasetError naming the line."""
    wrong = ~frame[column].isin(list(allowed))
    if wrong.any():
        row = int(np.flatnonzero(wrong.to_numpy())[0])
        raise DatasetError(
            f"{path}: line {row + 2}: {column} is {str(frame[column].iloc[row])[:40]!r}, "
            f"expected one of {list(allowed)} (is this the {dataset} file?)"
        )


# -- building canonical columns -----------------------------------------------------------------
Column: TypeAlias = (
    pa.Array | pa.ChunkedArray | np.ndarray | pd.Series | str | int | float | bool | None
)


def to_arrow(value: Any, n: int | None = None) -> pa.Array:
    """An Arrow array from numpy, pandas (NaN / NA -> null), Arrow or a constant (repeated)."""
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    if isinstance(value, str | bool | int | float):
        if n is None:
            raise TypeError("a constant column needs a row count")
        return pa.repeat(pa.scalar(value), n)
    arr = pa.array(value, from_pandas=True)
    # pandas' Arrow-backed dtypes (text in pandas 3) convert to chunked arrays.
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def canonical(entity: Entity, columns: Mapping[str, Column], n: int) -> pa.Table:
    """A table in ``entity``'s exact schema from the given columns; the rest are null.
    Constants are repeated ``n`` times."""
    unknown = set(columns) - set(entity.field_names)
    if unknown:
        raise ValueError(f"{entity.name} has no field(s) {sorted(unknown)}")
    arrays = []
    for f in entity.fields:
        value = columns.get(f.name)
        if value is None:
            arrays.append(pa.nulls(n, f.arrow_type))
            continue
        arr = to_arrow(value, n)
        arrays.append(arr if arr.type == f.arrow_type else arr.cast(f.arrow_type))
    return pa.Table.from_arrays(arrays, schema=entity.arrow_schema)


def json_objects(columns: Mapping[str, Column], n: int | None = None) -> pa.Array:
    """One JSON object per row, built column-wise (no per-row Python): numbers and booleans as
    JSON literals, text through ``json.dumps`` once per distinct value, null / NaN / inf as
    ``null``.

    >>> json_objects({"a": pa.array([1, None]), "b": pa.array(["x", "y\\""])}).to_pylist()
    ['{"a":1,"b":"x"}', '{"a":null,"b":"y\\\\""}']
    """
    parts: list[pa.Array | str] = []
    for i, (key, value) in enumerate(columns.items()):
        parts.append(("{" if i == 0 else ",") + json.dumps(key, ensure_ascii=False) + ":")
        parts.append(_json_literals(to_arrow(value, n)))
    if not parts:
        raise ValueError("json_objects needs at least one column")
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def _json_literals(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_null(t):
        text = pa.nulls(len(arr), pa.string())
    elif pa.types.is_boolean(t):
        text = pc.if_else(arr, "true", "false")
    elif pa.types.is_integer(t):
        text = arr.cast(pa.string())
    elif pa.types.is_floating(t):
        finite = pc.is_finite(arr)
        text = pc.if_else(finite, arr, None).cast(pa.string())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        text = map_distinct(arr, lambda v: json.dumps(v, ensure_ascii=False))
    else:  # dates, timestamps: ISO text
        text = _json_literals(arr.cast(pa.string()))
    return pc.fill_null(text, "null")


def map_distinct(arr: pa.Array, fn: Callable[[str], str | None]) -> pa.Array:
    """``fn`` applied to each distinct text value once and spread back over the rows (text
    columns repeat a few values many times); nulls stay null."""
    encoded = pc.dictionary_encode(arr.cast(pa.string()))
    results = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return results.take(encoded.indices)


def prefixed(prefix: str, numbers: Any, width: int) -> pa.Array:
    """Identifiers ``prefix`` + zero-padded number (``prefixed("HS", [7], 5)`` -> ``HS00007``)."""
    digits = pc.utf8_lpad(to_arrow(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def numbered(prefix: str, n: int, width: int, start: int = 1) -> pa.Array:
    """``n`` identifiers numbered from ``start``: ``BM000001``, ``BM000002``..."""
    return prefixed(prefix, np.arange(start, start + n, dtype=np.int64), width)


def dates(values: Any) -> pa.Array:
    """datetime64 values (or a Series of them) as ``date32``; NaT stays null."""
    arr = np.asarray(values, dtype="datetime64[D]")
    return pa.array(arr, pa.date32(), from_pandas=True)


def utc_timestamps(values: Any) -> pa.Array:
    """Naive datetime64 values taken as UTC, as ``timestamp[us, tz=UTC]``."""
    arr = np.asarray(values, dtype="datetime64[us]")
    return pa.array(arr, pa.timestamp("us", tz="UTC"), from_pandas=True)


def years_before(reference: Any, years: Any) -> np.ndarray:
    """Birth dates for ages ``years`` at ``reference`` (a date or one per row). Someone aged
    ``a`` was born between ``a`` and ``a + 1`` years earlier: the middle is used, so ages come
    back right on average."""
    days = np.round((np.asarray(years, dtype=float) + 0.5) * 365.25).astype(np.int64)
    return np.asarray(reference, dtype="datetime64[D]") - days.astype("timedelta64[D]")


def income_bands(monthly: Any) -> pa.Array:
    """``income_band`` codes from monthly income amounts (missing -> ``unknown``).

    The canonical bands are cut at 5k / 10k / 20k / 50k a month. Sources in other currencies
    are cut at the same nominal amounts: bands then rank customers within one dataset, and are
    not comparable across currencies (each connector says which currency it has)."""
    x = np.asarray(monthly, dtype=float)
    cuts = np.array([5_000, 10_000, 20_000, 50_000], dtype=float)
    codes = np.searchsorted(cuts, np.nan_to_num(x, nan=0.0), side="right")
    bands = np.asarray(INCOME_BANDS[:5], dtype=object)[codes]
    return pa.array(np.where(np.isnan(x), "unknown", bands), pa.string())


def tagged(values: pd.Series, mapping: Mapping[str, str], default: str) -> pa.Array:
    """Source codes mapped to canonical codes; codes not in ``mapping`` get ``default``."""
    return pa.array(values.map(mapping).fillna(default).to_numpy(dtype=object), pa.string())
