"""Row-level validation of incoming batches against the canonical schema, vectorised with Arrow.

A batch arrives with text columns (CSV, JSON Lines) or typed columns (Parquet, generators). Each
column is coerced to its canonical type; every value that cannot be coerced, or that breaks a rule
(required, enum, range, pattern, time zone), becomes a :class:`Violation` naming the row, the
column, the value and the rule. Checks that need the whole file (duplicate keys, references) run
later in the analytical engine over the staged data; they report through the same
:class:`ValidationReport`.

>>> import pyarrow as pa
>>> from lodestar.data.schema import ENTITIES
>>> report = ValidationReport(source="x.csv", kind="products")
>>> batch = pa.table({"product_id": ["P1"], "name": ["n"], "category": ["bogus"]})
>>> _ = coerce_batch(batch, ENTITIES["products"], first_row=1, report=report)
>>> report.counts["enum"]
1
"""

from __future__ import annotations

import json
import threading
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import Entity, Field, FieldType, Pii
from lodestar.i18n import DEFAULT_LOCALE, t

#: How many violations are kept in full; beyond it only counts grow.
MAX_DETAILED = 50
DEFAULT_NULL_VALUES = ("", "NA", "N/A", "NULL", "null", "None", "nan", "NaN")
TRUE_WORDS = ("true", "t", "yes", "y", "1", "是", "真")
FALSE_WORDS = ("false", "f", "no", "n", "0", "否", "假")

# Input shapes accepted for text values. Calendar validity (month 13, Feb 30) is checked by the
# cast itself; the patterns keep obviously foreign text away from it.
_INT_RE = r"^[+-]?\d+(\.0*)?$"
_FLOAT_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_TS_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
_TIME = r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
# An offset only counts after a time of day: a bare date's "-30" is the day, not a zone.
_TS_OFFSET_RE = r"^\d{4}-\d{2}-\d{2}" + _TIME + r"\s*(Z|[+-]\d{2}(:?\d{2})?)$"


@dataclass(frozen=True)
class Violation:
    """One broken rule. ``row`` counts data rows from 1 (for CSV, line = row + 1).

    ``key`` names the message in :mod:`lodestar.i18n` (without its ``v.`` prefix) and ``params``
    fills it, so the same report reads in Chinese or English.
    """

    rule: str
    key: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(
        cls,
        rule: str,
        key: str | None = None,
        *,
        row: int | None = None,
        column: str | None = None,
        value: str | None = None,
        **params: object,
    ) -> Violation:
        return cls(rule, key or rule, row, column, value, tuple(params.items()))

    def message(self, locale: str = DEFAULT_LOCALE) -> str:
        return t(f"v.{self.key}", locale, **{"column": self.column, **dict(self.params)})

    def render(
        self, source: str, *, line_offset: int | None = None, locale: str = DEFAULT_LOCALE
    ) -> str:
        where = [source]
        if self.row is not None:
            where.append(
                t("report.row", locale, n=self.row)
                if line_offset is None
                else t("report.line", locale, n=self.row + line_offset)
            )
        if self.column:
            where.append(t("report.column", locale, name=self.column))
        if self.value is not None:
            shown = " " + t("report.value", locale, value=repr(self.value))
        elif self.column and self.rule in _VALUE_RULES:
            shown = " " + t("report.empty", locale)
        else:
            shown = ""
        return f"{', '.join(where)}:{shown} {self.message(locale)} [{self.rule}]"


_VALUE_RULES = {"required", "type", "date", "timestamp", "enum", "range", "pattern", "json"}


@dataclass
class ValidationReport:
    """Every problem found in one file: the first ``MAX_DETAILED`` in full, all counted by rule."""

    source: str
    kind: str
    #: Rows are shown as file lines when set (CSV: row + 1 for the header; JSON Lines: + 0).
    line_offset: int | None = None
    rows_read: int = 0
    detailed: list[Violation] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    counts_by_column: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, violation: Violation, count: int = 1) -> None:
        self.counts[violation.rule] += count
        self.counts_by_column[(violation.rule, violation.column or "")] += count
        if len(self.detailed) < MAX_DETAILED:
            self.detailed.append(violation)

    def add_count(self, rule: str, column: str | None, count: int) -> None:
        """Count violations beyond those kept in full."""
        if count > 0:
            self.counts[rule] += count
            self.counts_by_column[(rule, column or "")] += count

    def summary_line(self, locale: str = DEFAULT_LOCALE) -> str:
        if self.ok:
            return t("report.ok", locale, source=self.source, rows=self.rows_read, kind=self.kind)
        return t(
            "report.failed",
            locale,
            source=self.source,
            total=self.total,
            rows=self.rows_read,
            kind=self.kind,
        )

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        lines = [self.summary_line(locale)]
        if self.ok:
            return lines[0]
        shown = sorted(self.detailed, key=lambda v: (v.row is not None, v.row or 0))
        lines.append(t("report.first", locale, n=len(shown)))
        lines += [
            "  " + v.render(self.source, line_offset=self.line_offset, locale=locale) for v in shown
        ]
        lines.append(t("report.by_rule", locale))
        for (rule, column), n in sorted(self.counts_by_column.items(), key=lambda kv: -kv[1]):
            col = f" '{column}'" if column else ""
            lines.append(f"  {rule}{col}: {n}  ({t('hint.' + rule, locale)})")
        return "\n".join(lines)

    def to_dict(self, locale: str = DEFAULT_LOCALE) -> dict[str, object]:
        return {
            "source": self.source,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "total": self.total,
            "counts": dict(self.counts),
            "problems": [
                {
                    "rule": v.rule,
                    "row": v.row,
                    "line": None
                    if v.row is None or self.line_offset is None
                    else v.row + self.line_offset,
                    "column": v.column,
                    "value": v.value,
                    "message": v.message(locale),
                }
                for v in self.detailed
            ],
        }


@cache
def _time_zones() -> pa.Array:
    return pa.array(sorted(zoneinfo.available_timezones()))


def _shown(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Column:
    """Coerces one column and records what fails. Works on one batch at a time."""

    def __init__(
        self, fld: Field, report: ValidationReport, rows: np.ndarray, default_tz: str
    ) -> None:
        self.field = fld
        self.report = report
        self.rows = rows
        self.default_tz = default_tz

    def flag(
        self, mask: pa.Array, values: pa.Array, rule: str, key: str | None = None, **params: object
    ) -> None:
        """Record a violation for every row where ``mask`` is true."""
        mask = pc.fill_null(mask, False)
        n = pc.sum(mask).as_py() or 0
        if not n:
            return
        idx = pc.indices_nonzero(mask)
        budget = max(0, MAX_DETAILED - len(self.report.detailed))
        for i in idx.slice(0, budget).to_pylist():
            value = values[i].as_py()
            if self.field.pii is not Pii.NONE and value is not None:
                # Reports get shared; personal data in them is masked.
                value = mask(str(value), self.field.pii)
            self.report.add(
                Violation.of(
                    rule,
                    key,
                    row=int(self.rows[i]),
                    column=self.field.name,
                    value=_shown(value),
                    **params,
                )
            )
        # Count the rest without materialising them.
        self.report.add_count(rule, self.field.name, n - min(n, budget))

    # -- coercion -----------------------------------------------------------------------------
    def coerce(self, raw: pa.Array) -> pa.Array:
        target = self.field.arrow_type
        if pa.types.is_dictionary(raw.type):
            raw = raw.cast(raw.type.value_type)
        if raw.type == target:
            return self._check_json(raw) if self.field.type is FieldType.JSON else raw
        if pa.types.is_null(raw.type):
            return pa.nulls(len(raw), target)
        if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
            return self._from_text(raw.cast(pa.string()))
        return self._from_typed(raw)

    def _from_typed(self, raw: pa.Array) -> pa.Array:
        ftype = self.field.type
        target = self.field.arrow_type
        if ftype is FieldType.TIMESTAMP and pa.types.is_timestamp(raw.type):
            if raw.type.tz is None:
                raw = pc.assume_timezone(
                    raw, timezone=self.default_tz, ambiguous="earliest", nonexistent="earliest"
                )
            return raw.cast(target)
        if ftype is FieldType.DATE and (
            pa.types.is_timestamp(raw.type) or pa.types.is_date(raw.type)
        ):
            return raw.cast(target)
        if ftype is FieldType.INTEGER and pa.types.is_floating(raw.type):
            frac = pc.not_equal(raw, pc.floor(raw))
            self.flag(frac, raw, "type", "type.integer")
            return pc.if_else(pc.fill_null(frac, False), None, raw).cast(target)
        if ftype is FieldType.STRING and (
            pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type)
        ):
            return raw.cast(pa.string())
        if ftype is FieldType.JSON and (pa.types.is_struct(raw.type) or pa.types.is_map(raw.type)):
            return pa.array([None if v is None else json.dumps(v) for v in raw.to_pylist()])
        try:
            return raw.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return self._from_text(raw.cast(pa.string()))

    def _from_text(self, text: pa.Array) -> pa.Array:
        ftype = self.field.type
        if ftype in (FieldType.STRING, FieldType.JSON):
            return self._check_json(text) if ftype is FieldType.JSON else text
        stripped = pc.utf8_trim_whitespace(text)
        if ftype is FieldType.INTEGER:
            ok = pc.match_substring_regex(stripped, _INT_RE)
            self.flag(pc.invert(ok), text, "type", "type.integer")
            cleaned = pc.replace_substring_regex(stripped, r"\.0*$", "")
            return self._cast_where(cleaned, ok, pa.int64(), "type", "type.range")
        if ftype is FieldType.FLOAT:
            ok = pc.match_substring_regex(stripped, _FLOAT_RE)
            self.flag(pc.invert(ok), text, "type", "type.float")
            return self._cast_where(stripped, ok, pa.float64(), "type", "type.float")
        if ftype is FieldType.BOOLEAN:
            lower = pc.utf8_lower(stripped)
            is_true = pc.is_in(lower, pa.array(TRUE_WORDS))
            is_false = pc.is_in(lower, pa.array(FALSE_WORDS))
            ok = pc.or_(is_true, is_false)
            self.flag(pc.invert(ok), text, "type", "type.boolean")
            return pc.if_else(ok, is_true, pa.scalar(None, pa.bool_()))
        if ftype is FieldType.DATE:
            compact = pc.replace_substring_regex(
                stripped, r"^(\d{4})[/.]?(\d{2})[/.]?(\d{2})$", r"\1-\2-\3"
            )
            ok = pc.match_substring_regex(compact, _DATE_RE)
            self.flag(pc.invert(ok), text, "date", "date.shape")
            as_ts = self._cast_where(compact, ok, pa.timestamp("s"), "date", "date.real")
            return as_ts.cast(pa.date32())
        if ftype is FieldType.TIMESTAMP:
            return self._timestamps(stripped, text)
        raise AssertionError(f"unhandled field type {ftype}")

    def _timestamps(self, stripped: pa.Array, text: pa.Array) -> pa.Array:
        ok = pc.match_substring_regex(stripped, _TS_RE)
        self.flag(pc.invert(ok), text, "timestamp", "timestamp.shape")
        with_offset = pc.and_(ok, pc.match_substring_regex(stripped, _TS_OFFSET_RE))
        naive = pc.and_(ok, pc.invert(with_offset))
        # "2026-05-01T09:30:00 +08:00" -> drop the space Arrow does not accept before offsets.
        norm = pc.replace_substring_regex(
            stripped, r"^(\d{4}-\d{2}-\d{2}" + _TIME + r")\s+(Z|[+-]\d{2}(:?\d{2})?)$", r"\1\4"
        )
        # "+08" (hours only, as PostgreSQL and DuckDB print offsets) -> "+08:00".
        norm = pc.replace_substring_regex(
            norm, r"^(\d{4}-\d{2}-\d{2}" + _TIME + r")([+-]\d{2})$", r"\1\4:00"
        )
        # A bare date is midnight.
        norm = pc.replace_substring_regex(norm, r"^(\d{4}-\d{2}-\d{2})$", r"\1T00:00:00")
        utc = pa.timestamp("us", tz="UTC")
        aware = self._cast_where(norm, with_offset, utc, "timestamp", "timestamp.real")
        local = self._cast_where(norm, naive, pa.timestamp("us"), "timestamp", "timestamp.real")
        local_utc = pc.assume_timezone(
            local, timezone=self.default_tz, ambiguous="earliest", nonexistent="earliest"
        ).cast(utc)
        return pc.if_else(pc.fill_null(with_offset, False), aware, local_utc)

    def _cast_where(
        self, text: pa.Array, ok: pa.Array, target: pa.DataType, rule: str, key: str
    ) -> pa.Array:
        """Cast the rows where ``ok``; rows that still fail are flagged and become null."""
        ok = pc.fill_null(ok, False)
        candidate = pc.if_else(ok, text, pa.scalar(None, pa.string()))
        try:
            return candidate.cast(target)
        except (pa.ArrowInvalid, OverflowError):
            pass
        # Rare: a value of the right shape that is not real (2026-02-30, 99:99). Find them one
        # by one, only in this batch of this column.
        good: list[object] = []
        failed: list[bool] = []
        for value in candidate.to_pylist():
            try:
                good.append(None if value is None else pa.scalar(value).cast(target).as_py())
                failed.append(False)
            except (pa.ArrowInvalid, OverflowError):
                good.append(None)
                failed.append(True)
        self.flag(pa.array(failed, pa.bool_()), text, rule, key)
        return pa.array(good, type=target)

    def _check_json(self, text: pa.Array) -> pa.Array:
        if text.null_count == len(text):  # nothing to parse (events API: objects arrive parsed)
            return text
        mask = _not_json_objects(text)
        self.flag(mask, text, "json")
        return pc.if_else(mask, pa.scalar(None, pa.string()), text)

    # -- rules on coerced values --------------------------------------------------------------
    def check(self, raw: pa.Array, values: pa.Array) -> None:
        fld = self.field
        if fld.required:
            # Only values that were absent: ones that failed coercion are already reported.
            self.flag(pc.is_null(raw), raw, "required")
        if fld.enum:
            bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, pa.array(fld.enum))))
            self.flag(bad, values, "enum", allowed=", ".join(fld.enum))
        if fld.minimum is not None:
            self.flag(
                pc.less(values, fld.minimum), values, "range", "range.min", limit=f"{fld.minimum:g}"
            )
        if fld.maximum is not None:
            self.flag(
                pc.greater(values, fld.maximum),
                values,
                "range",
                "range.max",
                limit=f"{fld.maximum:g}",
            )
        if fld.pattern:
            bad = pc.invert(pc.match_substring_regex(values, f"^(?:{fld.pattern})$"))
            self.flag(bad, values, "pattern", pattern=fld.pattern)
        if fld.time_zone:
            bad = pc.invert(pc.is_in(values, _time_zones()))
            self.flag(pc.and_(pc.is_valid(values), bad), values, "time_zone")


_json_checker = threading.local()


def _not_json_objects(text: pa.Array) -> pa.Array:
    """True where a non-null value is not a JSON object. DuckDB's JSON parser does this in C++
    (events carry ``properties`` on every row: tens of millions of values)."""
    import duckdb

    con = getattr(_json_checker, "con", None)
    if con is None:
        con = _json_checker.con = duckdb.connect()
    batch = pa.table({"i": pa.array(np.arange(len(text))), "v": text})
    con.register("json_batch", batch)
    try:
        result = con.sql(
            "SELECT CASE WHEN v IS NULL THEN false WHEN json_valid(v) "
            "THEN json_type(v::JSON) <> 'OBJECT' ELSE true END AS bad "
            "FROM json_batch ORDER BY i"
        ).to_arrow_table()
    finally:
        con.unregister("json_batch")
    return result.column("bad").combine_chunks()


def _nullify(raw: pa.Array, null_values: tuple[str, ...]) -> pa.Array:
    """Treat the configured null markers (and blanks) in text columns as missing."""
    if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
        return raw
    trimmed = pc.utf8_trim_whitespace(raw)
    is_null = pc.is_in(trimmed, pa.array(list(null_values), type=raw.type))
    return pc.if_else(is_null, pa.scalar(None, raw.type), raw)


def coerce_batch(
    batch: pa.Table | pa.RecordBatch,
    entity: Entity,
    *,
    first_row: int | None = None,
    rows: np.ndarray | None = None,
    report: ValidationReport,
    default_tz: str = "Asia/Shanghai",
    null_values: tuple[str, ...] = DEFAULT_NULL_VALUES,
) -> pa.Table:
    """Coerce ``batch`` to ``entity``'s canonical schema and record every broken rule.

    ``rows`` holds each row's number in the source (default: ``first_row`` onwards).
    ``batch`` must already carry canonical column names (mapping applied). Missing optional
    columns become nulls; missing required columns and unknown columns are reported once per
    file by :func:`check_columns`. Rows with problems stay in the result (with nulls where values
    failed): the caller writes nothing when the report is not ``ok``.
    """
    n = batch.num_rows
    if rows is None:
        rows = np.arange(first_row or 1, (first_row or 1) + n, dtype=np.int64)
    columns: list[pa.Array] = []
    raw_by_name = {name: batch.column(name) for name in batch.column_names}
    for fld in entity.fields:
        if fld.name not in raw_by_name:
            columns.append(pa.nulls(n, fld.arrow_type))
            continue
        raw = raw_by_name[fld.name]
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        raw = _nullify(raw, null_values)
        col = _Column(fld, report, rows, default_tz)
        values = col.coerce(raw)
        col.check(raw, values)
        columns.append(values)
    table = pa.Table.from_arrays(columns, schema=_nullable(entity.arrow_schema))
    _check_rows(table, entity, rows, report)
    return table


def _nullable(schema: pa.Schema) -> pa.Schema:
    # Staged data may hold nulls in required fields of rejected rows; the final tables enforce
    # NOT NULL themselves.
    return pa.schema([f.with_nullable(True) for f in schema])


def _check_rows(
    table: pa.Table, entity: Entity, rows: np.ndarray, report: ValidationReport
) -> None:
    """Rules that span several fields of one row."""
    if entity.one_of:
        present = [pc.is_valid(table.column(name)) for name in entity.one_of]
        any_present = present[0]
        for p in present[1:]:
            any_present = pc.or_(any_present, p)
        missing = pc.indices_nonzero(pc.invert(any_present)).to_pylist()
        for i in missing:
            report.add(Violation.of("one_of", row=int(rows[i]), fields=", ".join(entity.one_of)))
    if entity.name == "surveys":
        from lodestar.data.schema import SURVEY_SCALES

        kind = table.column("survey_type")
        score = table.column("score")
        bad = pa.array([False] * table.num_rows)
        for name, (lo, hi) in SURVEY_SCALES.items():
            out = pc.and_(pc.equal(kind, name), pc.or_(pc.less(score, lo), pc.greater(score, hi)))
            bad = pc.or_(bad, pc.fill_null(out, False))
        for i in pc.indices_nonzero(bad).to_pylist():
            report.add(
                Violation.of(
                    "scale",
                    row=int(rows[i]),
                    column="score",
                    value=_shown(score[i].as_py()),
                    score=score[i].as_py(),
                    survey=kind[i].as_py(),
                )
            )
    for start, end in _DATE_PAIRS.get(entity.name, ()):
        s, e = table.column(start), table.column(end)
        if s.type != e.type:
            continue
        bad = pc.fill_null(pc.less(e, s), False)
        for i in pc.indices_nonzero(bad).to_pylist():
            report.add(
                Violation.of(
                    "date_order",
                    row=int(rows[i]),
                    column=end,
                    value=_shown(e[i].as_py()),
                    start=start,
                    end=end,
                )
            )


_DATE_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("join_date", "closed_date"), ("birth_date", "join_date")),
    "holdings": (("open_date", "close_date"),),
    "past_campaigns": (("start_date", "end_date"),),
    "consents": (("ts", "withdrawn_at"),),
    "complaints": (("ts", "resolved_at"),),
}


def check_columns(
    columns: list[str], entity: Entity, report: ValidationReport, ignored: set[str]
) -> None:
    """Report missing required columns and unknown columns, once per file."""
    known = set(entity.field_names)
    for name in entity.required_fields:
        if name not in columns:
            report.add(Violation.of("missing_column", column=name))
    for name in columns:
        if name not in known and name not in ignored:
            report.add(Violation.of("unknown_column", column=name, kind=entity.name))
