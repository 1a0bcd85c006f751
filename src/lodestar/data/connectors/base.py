"""What every public-dataset connector shares: finding the file, a clear error when it is not the
expected one, and building canonical tables from columns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lodestar.data.schema import Entity
from lodestar.errors import DatasetError

Reader = Callable[[Path], Iterator[tuple[str, pa.Table]]]


@dataclass(frozen=True)
class DatasetConnector:
    name: str
    title: str
    description: str
    #: File names looked for inside the folder the user passes (first match wins).
    default_files: tuple[str, ...]
    #: Rows each entity gets from the full public file (documentation and tests).
    expected_rows: dict[str, int] = field(default_factory=dict)
    reader: Reader | None = None

    def resolve(self, path: Path) -> Path:
        if path.is_dir():
            for name in self.default_files:
                if (path / name).is_file():
                    return path / name
            raise DatasetError(
                f"{path}: none of {', '.join(self.default_files)} found for dataset '{self.name}'",
                hint="pass the dataset's folder or the file itself",
            )
        if not path.is_file():
            raise DatasetError(f"{path}: no such file or folder (dataset '{self.name}')")
        return path

    def read(self, path: Path) -> Iterator[tuple[str, pa.Table]]:
        assert self.reader is not None
        return self.reader(self.resolve(Path(path)))


def read_frame(
    path: Path, dataset: str, needed: Sequence[str] = (), **read_csv: Any
) -> pd.DataFrame:
    """Read a dataset's delimited file with pandas; a file that is not it gets a DatasetError
    that names the file and the dataset expected, never a parser traceback."""
    try:
        frame = pd.read_csv(path, **read_csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: not the {dataset} file ({first})") from exc
    require_columns(path, list(frame.columns), needed, dataset)
    return frame


def require_columns(path: Path, found: Sequence[str], needed: Sequence[str], dataset: str) -> None:
    missing = [c for c in needed if c not in found]
    if missing:
        raise DatasetError(
            f"{path}: not the {dataset} file: missing column(s) {missing}; "
            f"its header has {list(found)[:12]}",
            hint=f"check that this is the {dataset} file (see docs/datasets.md)",
        )


def canonical(entity: Entity, columns: Mapping[str, Any], n: int) -> pa.Table:
    """A table in ``entity``'s exact schema from the given columns; the rest are null."""
    arrays = []
    for f in entity.fields:
        value = columns.get(f.name)
        if value is None:
            arrays.append(pa.nulls(n, f.arrow_type))
            continue
        if isinstance(value, pd.Series):
            value = value.to_numpy()
        if isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        if not isinstance(value, pa.Array):
            value = pa.array(value, from_pandas=True)
        arrays.append(value.cast(f.arrow_type) if value.type != f.arrow_type else value)
    return pa.Table.from_arrays(arrays, schema=entity.arrow_schema)


def json_rows(frame: pd.DataFrame) -> list[str]:
    """Each row of ``frame`` as a JSON object (for the ``attributes`` field)."""
    records = frame.to_dict(orient="records")
    return [json.dumps({k: _plain(v) for k, v in r.items()}, ensure_ascii=False) for r in records]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def numbered(prefix: str, n: int, width: int) -> pa.Array:
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)])


def dates(values: Any) -> pa.Array:
    """datetime64 values (or a Series of them) as ``date32``; NaT stays null."""
    arr = np.asarray(values, dtype="datetime64[D]")
    return pa.array(arr, pa.date32(), from_pandas=True)


def utc_timestamps(values: Any) -> pa.Array:
    arr = np.asarray(values, dtype="datetime64[us]")
    return pa.array(arr, pa.timestamp("us", tz="UTC"), from_pandas=True)


def years_before(reference: np.datetime64, years: Any) -> np.ndarray:
    """Birth dates ``years`` before ``reference`` (mid-year, so ages stay right on average)."""
    days = (np.asarray(years, dtype=float) * 365.25 + 182).astype(int)
    return np.asarray(reference, dtype="datetime64[D]") - days.astype("timedelta64[D]")
