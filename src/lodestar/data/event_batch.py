"""A batch of customer events as a client sends them (JSON objects), checked against the
canonical ``events`` entity with the same validation as ingestion.

The events API, ``lodestar events post`` and ``Workspace.post_events`` all come through here:
each event is an object with the fields of :data:`~lodestar.data.schema.EVENTS` (``event_id``,
``ts`` with a UTC offset, ``customer_id`` or ``anonymous_id``, ``event_name``, ``properties``
as an object...). Every problem of every event is reported in one
:class:`~lodestar.data.validation.ValidationReport` (row = the event's position), and a batch
with any problem is refused whole.

>>> events, report = check_events([{"event_id": "e1", "ts": "2026-12-01T09:00:00+08:00",
...                                 "customer_id": "C1", "event_name": "app_open"}])
>>> report.ok, events[0].ts.isoformat()
(True, '2026-12-01T01:00:00+00:00')
>>> _, bad = check_events([{"event_id": "e2", "ts": "2026-12-01 09:00", "event_name": "X"}])
>>> sorted(str(v.column) for v in bad.detailed)
['None', 'event_name', 'ts']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import EVENTS, FieldType
from lodestar.data.validation import (
    _TS_OFFSET_RE,
    _TS_RE,
    ValidationReport,
    Violation,
    coerce_batch,
)

if TYPE_CHECKING:
    from lodestar.campaigns.event_feed import FeedEvent

#: The most events one batch may carry (the events API answers 422 beyond it).
MAX_EVENTS = 1000
#: Fields kept in the feed's own columns; the rest of the entity travels as ``context``.
_FEED_COLUMNS = ("event_id", "ts", "customer_id", "anonymous_id", "event_name", "properties")
CONTEXT_FIELDS = tuple(f.name for f in EVENTS.fields if f.name not in _FEED_COLUMNS)
_NAMES = frozenset(EVENTS.field_names)

#: known_customers(ids) -> the subset of ``ids`` that are customers of the workspace
KnownCustomers = Callable[[list[str]], set[str]]


def check_events(
    events: Sequence[Any],
    *,
    rows: Sequence[int] | None = None,
    source: str = "events",
    known_customers: KnownCustomers | None = None,
) -> tuple[list[FeedEvent], ValidationReport]:
    """The events as :class:`~lodestar.campaigns.event_feed.FeedEvent` and the report of every
    problem (``rows``: each event's row or line in its source; default its position from 0).
    The events are meaningful only when ``report.ok``."""
    from lodestar.campaigns.event_feed import FeedEvent

    report = ValidationReport(source=source, kind="events")
    numbers = np.asarray(rows if rows is not None else range(len(events)), dtype=np.int64)
    report.rows_read = len(events)
    dicts = _objects(events, numbers, report)
    columns = {fld.name: _column(fld.name, fld.type, dicts, numbers, report)
               for fld in EVENTS.fields}  # fmt: skip
    # properties that arrived as objects are objects: kept as they are, not re-parsed
    objects = [d.get("properties") if isinstance(d.get("properties"), dict) else None
               for d in dicts]  # fmt: skip
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    typed = coerce_batch(table, EVENTS, rows=numbers, report=report)
    _check_offsets(columns["ts"], numbers, report)
    if known_customers is not None:
        _check_customers(columns["customer_id"], numbers, report, known_customers)
    if not report.ok:
        return [], report
    # column by column: a row-wise to_pylist() builds a dict per event for nothing
    col = {name: typed.column(name).to_pylist() for name in _FEED_COLUMNS}
    given = [(name, typed.column(name).to_pylist()) for name in CONTEXT_FIELDS
             if typed.column(name).null_count < typed.num_rows]  # fmt: skip
    out: list[FeedEvent] = []
    for i, obj in enumerate(objects):
        text = col["properties"][i]
        props = obj if obj is not None else json.loads(text) if text else {}
        context = {name: values[i] for name, values in given if values[i] is not None}
        out.append(FeedEvent(col["event_id"][i], col["event_name"][i], col["ts"][i],
                             col["customer_id"][i], col["anonymous_id"][i], props, context))
    return out, report


def _objects(events: Sequence[Any], rows: np.ndarray,
             report: ValidationReport) -> list[dict[str, Any]]:  # fmt: skip
    """The events as dicts ({} for what is not an object, reported), unknown fields reported."""
    out: list[dict[str, Any]] = []
    for event, row in zip(events, rows.tolist(), strict=True):
        if not isinstance(event, dict):
            report.add(Violation.of("json", "unreadable.json", row=row,
                                    error=f"got {type(event).__name__}"))  # fmt: skip
            event = {}
        elif not _NAMES.issuperset(event):
            for name in event:
                if name not in _NAMES:
                    report.add(Violation.of("unknown_column", row=row, column=str(name),
                                            kind="events"))  # fmt: skip
        out.append(event)
    return out


def _column(name: str, ftype: FieldType, dicts: list[dict[str, Any]], rows: np.ndarray,
            report: ValidationReport) -> list[str | None]:  # fmt: skip
    """One field of every event as text (what the validation coerces); shapes text cannot
    hold are reported. Objects in the JSON field stay out (None): they are objects already."""
    values = [d.get(name) for d in dicts]
    if all(v is None or type(v) is str for v in values):  # the common case, at C speed
        return values
    out: list[str | None] = []
    for value, row in zip(values, rows.tolist(), strict=True):
        if value is None or type(value) is str:
            out.append(value)
        elif ftype is FieldType.JSON:
            # an object is one; anything else is written out to fail the object check
            out.append(None if isinstance(value, dict) else json.dumps(value, ensure_ascii=False))
        elif isinstance(value, dict | list):
            report.add(Violation.of("type", "type.text", row=row, column=name,
                                    value=json.dumps(value, ensure_ascii=False)[:80]))  # fmt: skip
            out.append(None)
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        else:
            out.append(str(value))
    return out


def _check_offsets(values: list[str | None], rows: np.ndarray, report: ValidationReport) -> None:
    """A client's clock and zone are its own: a time must say its offset (Z, +08:00). Only
    well-formed times are checked; a malformed one is already reported by the coercion."""
    text = pc.utf8_trim_whitespace(pa.array(values, pa.string()))
    naive = pc.and_(pc.match_substring_regex(text, _TS_RE),
                    pc.invert(pc.match_substring_regex(text, _TS_OFFSET_RE)))  # fmt: skip
    for i in pc.indices_nonzero(pc.fill_null(naive, False)).to_pylist():
        report.add(Violation.of("timestamp_offset", "timestamp.zone", row=int(rows[i]), column="ts",
                                value=str(values[i])[:80]))  # fmt: skip


def _check_customers(values: list[str | None], rows: np.ndarray, report: ValidationReport,
                     known: KnownCustomers) -> None:  # fmt: skip
    """Events name customers the workspace has, as ingestion requires (a reference)."""
    wanted = sorted({v for v in values if v is not None})
    if not wanted:
        return
    missing = set(wanted) - known(wanted)
    for value, row in zip(values, rows.tolist(), strict=True):
        if value in missing:
            report.add(Violation.of("reference", row=int(row), column="customer_id", value=value,
                                    parent="customers", parent_column="customer_id"))  # fmt: skip


def located(report: ValidationReport, locale: str, *, prefix: str = "events") -> list[dict[str, Any]]:
    """The report's problems as ``{"field": "events[3].ts", "rule", "message", "value"}``."""
    out = []
    for v in sorted(report.detailed, key=lambda v: (-1 if v.row is None else v.row, v.column or "")):
        where = prefix if v.row is None else f"{prefix}[{v.row}]"
        out.append({"field": f"{where}.{v.column}" if v.column else where, "rule": v.rule,
                    "message": v.message(locale), "value": v.value})  # fmt: skip
    return out
