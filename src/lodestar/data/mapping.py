"""Mapping files: how a foreign file's layout becomes a canonical entity.

A mapping is YAML. Every key is optional::

    kind: transactions            # checked against the kind on the command line
    format: csv                   # csv | parquet | jsonl; default from the file extension
    delimiter: "|"                # CSV only; default: sniffed from the header line
    encoding: gb18030             # CSV / JSON Lines; default utf-8 (a BOM is ignored)
    time_zone: Asia/Shanghai      # for timestamps without an offset
    null_values: ["", "NA", "-"]
    columns:                      # canonical field: source column, or a spec
      transaction_id: TXN_NO
      ts: {column: TXN_TIME, format: "%Y%m%d%H%M%S"}
      type: {column: TXN_CODE, values: {"01": deposit, "02": withdrawal}}
      currency: {value: CNY}      # a constant for every row
    ignore: [BRANCH_NAME]         # source columns to drop

Errors name the mapping file, the line and the field.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import Entity, FieldType
from lodestar.data.validation import DEFAULT_NULL_VALUES, ValidationReport, Violation
from lodestar.errors import ConfigError
from lodestar.located_yaml import load_located_text

Format = Literal["csv", "parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "jsonl")
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class ColumnSpec:
    target: str
    source: str | None = None
    constant: Any = None
    #: strptime format for dates / timestamps written in a non-ISO layout.
    format: str | None = None
    values: dict[str, str] | None = None


@dataclass(frozen=True)
class Mapping:
    kind: str | None = None
    format: Format | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    time_zone: str | None = None
    null_values: tuple[str, ...] = DEFAULT_NULL_VALUES
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    source: str = "(no mapping)"
    text: str = ""

    def file_format(self, path: Path) -> Format:
        if self.format:
            return self.format
        fmt = _EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise ConfigError(
                f"{path}: cannot tell the format from the extension '{path.suffix}'",
                hint="name the file .csv, .parquet or .jsonl, or pass --format",
            )
        return fmt

    def check_against(self, entity: Entity) -> None:
        for target in self.columns:
            if target not in entity.field_names:
                raise ConfigError(
                    f"{self.source}: field 'columns.{target}': {entity.name} has no field "
                    f"'{target}'",
                    hint=f"known fields: {', '.join(entity.field_names)}",
                )
        if self.kind and self.kind != entity.name:
            raise ConfigError(
                f"{self.source}: field 'kind': the mapping is for '{self.kind}', "
                f"but the file is being loaded as '{entity.name}'"
            )

    def apply(
        self, batch: pa.Table, entity: Entity, rows: np.ndarray, report: ValidationReport
    ) -> pa.Table:
        """Rename, translate and fill columns so the batch speaks the canonical layout."""
        if not self.columns and not self.ignore:
            return batch
        renamed: dict[str, pa.Array] = {}
        consumed: set[str] = set()
        for spec in self.columns.values():
            if spec.constant is not None:
                renamed[spec.target] = pa.array([str(spec.constant)] * batch.num_rows)
                continue
            source = spec.source or spec.target
            if source not in batch.column_names:
                continue  # reported as a missing column by the caller when required
            consumed.add(source)
            col = batch.column(source).combine_chunks()
            if spec.values:
                text = col.cast(pa.string())
                lookup = pa.array(list(spec.values))
                idx = pc.index_in(text, value_set=lookup)
                mapped = pc.take(pa.array(list(spec.values.values())), idx)
                col = pc.if_else(pc.is_null(idx), text, mapped)
            if spec.format:
                col = _parse_with_format(col, spec, entity, rows, report)
            renamed[spec.target] = col
        for name in batch.column_names:
            if name in consumed or name in self.ignore or name in renamed:
                continue
            renamed[name] = batch.column(name)
        return pa.table(renamed) if renamed else pa.table({"__empty": pa.nulls(batch.num_rows)})

    def source_columns(self, canonical: list[str]) -> dict[str, str]:
        """canonical field -> source column name, for messages about missing columns."""
        out = {c: c for c in canonical}
        for spec in self.columns.values():
            if spec.source:
                out[spec.target] = spec.source
        return out


def _parse_with_format(
    col: pa.Array, spec: ColumnSpec, entity: Entity, rows: np.ndarray, report: ValidationReport
) -> pa.Array:
    fld = entity.field(spec.target)
    text = pc.utf8_trim_whitespace(col.cast(pa.string()))
    parsed = pc.strptime(text, format=spec.format, unit="us", error_is_null=True)
    bad = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    bad = pc.and_(bad, pc.not_equal(text, ""))
    rule = "date" if fld.type is FieldType.DATE else "timestamp"
    flagged = pc.indices_nonzero(pc.fill_null(bad, False)).to_pylist()
    report.add_count(rule, spec.target, max(0, len(flagged) - 50))
    for i in flagged[:50]:
        report.add(
            Violation.of(
                rule,
                f"{rule}.format",
                row=int(rows[i]),
                column=spec.target,
                value=str(text[i].as_py()),
                format=repr(spec.format),
            )
        )
    if fld.type is FieldType.DATE:
        return parsed.cast(pa.date32())
    return parsed


def load_mapping(path: Path | None) -> Mapping:
    """Read and check a mapping file; ``None`` gives the identity mapping."""
    if path is None:
        return Mapping()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read mapping file {path}: {exc.strerror}") from exc
    doc = load_located_text(text, str(path))
    raw = doc.data or {}

    def fail(key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{doc.where(*key.split('.'))}: field '{key}': {message}", hint=hint)

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a mapping file must be a YAML mapping of settings")
    known = {"kind", "format", "delimiter", "encoding", "time_zone", "null_values", "columns",
             "ignore"}  # fmt: skip
    for key in raw:
        if key not in known:
            raise fail(
                str(key), "unknown setting", hint=f"known settings: {', '.join(sorted(known))}"
            )
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise fail("format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
    delimiter = raw.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise fail("delimiter", "must be a single character")
    encoding = raw.get("encoding", "utf-8")
    try:
        import codecs

        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise fail(
            "encoding", f"unknown encoding {encoding!r}", hint="e.g. utf-8, gb18030"
        ) from None
    tz = raw.get("time_zone")
    if tz is not None and tz not in zoneinfo.available_timezones():
        raise fail("time_zone", f"'{tz}' is not an IANA time-zone name")
    nulls = raw.get("null_values", list(DEFAULT_NULL_VALUES))
    if not isinstance(nulls, list) or not all(isinstance(v, str) for v in nulls):
        raise fail("null_values", "must be a list of strings")
    ignore = raw.get("ignore", [])
    if not isinstance(ignore, list):
        raise fail("ignore", "must be a list of source column names")
    columns: dict[str, ColumnSpec] = {}
    for target, spec in (raw.get("columns") or {}).items():
        key = f"columns.{target}"
        if isinstance(spec, str):
            columns[target] = ColumnSpec(target=target, source=spec)
        elif isinstance(spec, dict):
            extra = set(spec) - {"column", "value", "format", "values"}
            if extra:
                raise fail(key, f"unknown keys {sorted(extra)}; use column, value, format, values")
            if ("column" in spec) == ("value" in spec):
                raise fail(key, "give exactly one of 'column' (a source column) or 'value'")
            values = spec.get("values")
            if values is not None and not isinstance(values, dict):
                raise fail(key, "'values' must map source values to canonical codes")
            columns[target] = ColumnSpec(
                target=target,
                source=spec.get("column"),
                constant=spec.get("value"),
                format=spec.get("format"),
                values={str(k): str(v) for k, v in values.items()} if values else None,
            )
        else:
            raise fail(key, "expected a source column name or a mapping with 'column'/'value'")
    return Mapping(
        kind=raw.get("kind"),
        format=fmt,
        delimiter=delimiter,
        encoding=encoding,
        time_zone=tz,
        null_values=tuple(nulls),
        columns=columns,
        ignore=frozenset(str(c) for c in ignore),
        source=str(path),
        text=text,
    )
