"""Streaming readers for CSV, Parquet and JSON Lines.

Each reader yields :class:`RawBatch` es of bounded size with the source row number of their first
row, so memory stays flat whatever the file size. Text formats are read as text: the validator does
the typing, so a bad value is reported with its row instead of failing the whole read.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from lodestar.data.mapping import Mapping
from lodestar.data.validation import ValidationReport, Violation

BATCH_ROWS = 100_000
CSV_BLOCK_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class RawBatch:
    table: pa.Table
    rows: np.ndarray  # each row's number in the source (1 = first data row)
    bytes_read: int  # bytes of the file consumed so far, for progress


@dataclass
class RowCounter:
    """Maps the n-th row that parsed to its row number in the file, around rows that were
    skipped as malformed (so every report names the real row)."""

    skipped: list[int] = field(default_factory=list)

    def physical(self, logical: int) -> int:
        return int(self.rows(logical, 1)[0])

    def rows(self, first_logical: int, n: int) -> np.ndarray:
        """File row numbers of ``n`` parsed rows starting at parsed row ``first_logical``."""
        logical = np.arange(first_logical, first_logical + n, dtype=np.int64)
        if not self.skipped:
            return logical
        skipped = np.sort(np.asarray(self.skipped, dtype=np.int64))
        row = logical
        while True:
            shifted = logical + np.searchsorted(skipped, row, side="right")
            if np.array_equal(shifted, row):
                return row
            row = shifted


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(path: Path, encoding: str) -> str:
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    text = head.decode(encoding, errors="replace")
    return text.splitlines()[0] if text else ""


def read_csv(
    path: Path, mapping: Mapping, report: ValidationReport, counter: RowCounter
) -> Iterator[RawBatch]:
    import pyarrow.csv as pacsv

    header = _header(path, mapping.encoding)
    if not header.strip():
        report.add(Violation.of("empty_file", "empty_file.blank"))
        return
    bad_line = _first_undecodable_line(path, mapping.encoding)
    if bad_line is not None:
        line, error = bad_line
        # Reported before parsing: garbled bytes make the CSV parser's own errors unreadable.
        report.add(Violation.of("unreadable", row=line - 1, error=error))
        return
    delimiter = mapping.delimiter or sniff_delimiter(header)
    names = [n.strip().strip('"').strip() for n in header.split(delimiter)]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        report.add(Violation.of("unreadable", "unreadable.header", columns=dupes))
        return

    def on_invalid(row: pacsv.InvalidRow) -> str:
        data_row = (row.number or 1) - 1
        counter.skipped.append(data_row)
        report.add(
            Violation.of(
                "malformed_row",
                row=data_row,
                value=(row.text or "")[:80],
                expected=row.expected_columns,
                found=row.actual_columns,
            )
        )
        return "skip"

    read_options = pacsv.ReadOptions(
        use_threads=False,  # keeps row numbers exact in error reports
        block_size=CSV_BLOCK_BYTES,
        encoding=mapping.encoding if mapping.encoding.lower() not in ("utf-8", "utf8") else "utf8",
    )
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    parse = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid)
    size = path.stat().st_size
    logical = 0
    try:
        reader = pacsv.open_csv(
            path, read_options=read_options, parse_options=parse, convert_options=convert
        )
        for batch in reader:
            table = pa.Table.from_batches([batch])
            table = table.rename_columns([n.strip().strip('"').strip() for n in table.column_names])
            # The counter maps parsed rows to file rows around the malformed ones skipped.
            rows = counter.rows(logical + 1, batch.num_rows)
            yield RawBatch(table, rows, min(size, _tell(reader, size)))
            logical += batch.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        report.add(
            Violation.of("unreadable", row=counter.physical(logical + 1), error=_first_line(exc))
        )
        return
    if logical == 0 and not counter.skipped:
        report.add(Violation.of("empty_file"))


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, str] | None:
    """The 1-based line of the first bytes that are not text in ``encoding``, if any."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines_before = 0
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines_before + chunk.count(b"\n", 0, exc.start) + 1
                return line, f"not {encoding} text ({exc.reason} at byte {offset + exc.start})"
            lines_before += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return lines_before + 1, f"the file ends inside a character ({exc.reason})"
    return None


def _tell(reader: object, size: int) -> int:
    stats = getattr(reader, "stats", None)
    return int(getattr(stats, "num_bytes", 0) or 0) or size


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200]


def read_parquet(path: Path, report: ValidationReport) -> Iterator[RawBatch]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        report.add(Violation.of("unreadable", "unreadable.parquet", error=_first_line(exc)))
        return
    total_rows = pf.metadata.num_rows
    if total_rows == 0:
        report.add(Violation.of("empty_file"))
        return
    size = path.stat().st_size
    row = 1
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            seen = row - 1 + batch.num_rows
            rows = np.arange(row, row + batch.num_rows, dtype=np.int64)
            yield RawBatch(pa.Table.from_batches([batch]), rows, int(size * seen / total_rows))
            row += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        report.add(Violation.of("unreadable", row=row, error=_first_line(exc)))


def read_jsonl(path: Path, mapping: Mapping, report: ValidationReport) -> Iterator[RawBatch]:
    """JSON Lines: one object per line. Scalars are kept as text for the validator; nested
    objects become JSON text (for JSON fields such as ``properties``)."""
    rows: list[dict[str, object]] = []
    numbers: list[int] = []
    columns: dict[str, None] = {}
    row = 0
    data_rows = 0
    with path.open("rb") as fh:
        for raw in fh:
            row += 1
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line.decode(mapping.encoding))
            except (ValueError, UnicodeDecodeError) as exc:
                report.add(
                    Violation.of(
                        "unreadable",
                        "unreadable.json",
                        row=row,
                        value=line[:80].decode("utf-8", "replace"),
                        error=exc,
                    )
                )
                continue
            if not isinstance(obj, dict):
                report.add(
                    Violation.of("unreadable", "unreadable.json", row=row, error=type(obj).__name__)
                )
                continue
            data_rows += 1
            rows.append({k: _as_text(v) for k, v in obj.items()})
            numbers.append(row)
            columns.update(dict.fromkeys(obj))
            if len(rows) >= BATCH_ROWS:
                yield RawBatch(_table(rows, columns), np.array(numbers), fh.tell())
                rows, numbers = [], []
        if rows:
            yield RawBatch(_table(rows, columns), np.array(numbers), fh.tell())
    if data_rows == 0 and report.ok:
        report.add(Violation.of("empty_file"))


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _table(rows: list[dict[str, object]], columns: dict[str, None]) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in rows], type=pa.string()) for c in columns})


def open_reader(
    path: Path, mapping: Mapping, report: ValidationReport, counter: RowCounter
) -> Iterator[RawBatch]:
    fmt = mapping.file_format(path)
    if fmt == "csv":
        return read_csv(path, mapping, report, counter)
    if fmt == "parquet":
        return read_parquet(path, report)
    return read_jsonl(path, mapping, report)
