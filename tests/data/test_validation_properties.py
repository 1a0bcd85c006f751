"""Property tests for the parsers: whatever text arrives, coercion never crashes; every value is
either typed correctly or reported at its own row; CSV cells survive the streaming reader."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lodestar.data.mapping import Mapping
from lodestar.data.readers import RowCounter, read_csv
from lodestar.data.schema import ENTITIES
from lodestar.data.validation import ValidationReport, coerce_batch

PRODUCTS = ENTITIES["products"]
TX = ENTITIES["transactions"]


def coerce(entity, column: str, values: list[str | None]) -> tuple[pa.Table, ValidationReport]:
    report = ValidationReport("p.csv", entity.name)
    table = coerce_batch(pa.table({column: pa.array(values, pa.string())}), entity,
                         first_row=1, report=report)  # fmt: skip
    return table, report


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), min_size=1, max_size=20))
def test_integers_round_trip(values: list[int]) -> None:
    table, report = coerce(PRODUCTS, "term_months", [str(v) for v in values])
    assert table["term_months"].to_pylist() == values
    # Negative terms break the range rule, and only those.
    assert report.counts.get("range", 0) == sum(v < 0 for v in values)
    assert report.counts.get("type", 0) == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e15, allow_nan=False), min_size=1, max_size=20))
def test_floats_round_trip(values: list[float]) -> None:
    table, report = coerce(TX, "amount", [repr(v) for v in values])
    got = table["amount"].to_pylist()
    assert all(math.isclose(a, b, rel_tol=1e-15) for a, b in zip(got, values, strict=True))
    assert "type" not in report.counts


@settings(max_examples=80, deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15),
)
def test_timestamps_with_offsets_land_on_the_right_instant(moment: datetime, minutes: int) -> None:
    zone = timezone(timedelta(minutes=minutes))
    aware = moment.replace(tzinfo=zone)
    table, report = coerce(TX, "ts", [aware.isoformat()])
    assert report.counts.get("timestamp", 0) == 0
    assert table["ts"][0].as_py() == aware.astimezone(UTC)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=15),
       st.sampled_from(["amount", "ts", "quantity", "type", "transaction_id"]))  # fmt: skip
def test_any_text_is_typed_or_reported_at_its_row(values: list[str | None], column: str) -> None:
    table, report = coerce(TX, column, values)
    typed = table[column].to_pylist()
    flagged_rows = {v.row for v in report.detailed if v.column == column}
    for row, (raw, value) in enumerate(zip(values, typed, strict=True), start=1):
        blank = raw is None or raw.strip() in ("", "NA", "N/A", "NULL", "null", "None", "nan",
                                               "NaN")  # fmt: skip
        if value is None and not blank:
            assert row in flagged_rows, (raw, column)
        if blank and not TX.field(column).required:
            assert value is None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
                                 max_size=12), min_size=3, max_size=3),
                min_size=1, max_size=30))  # fmt: skip
def test_csv_cells_survive_the_streaming_reader(tmp_path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    path = tmp_path / "p.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    report = ValidationReport(str(path), "x", line_offset=1)
    batches = list(read_csv(path, Mapping(delimiter=","), report, RowCounter()))
    assert report.ok, report.render("en")
    got = [list(r.values()) for b in batches for r in b.table.to_pylist()]
    assert got == rows
