"""Timestamp and date text forms accepted by ingestion, checked against Python's own parser."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from lodestar.data.schema import ENTITIES
from lodestar.data.validation import ValidationReport, coerce_batch

SHANGHAI = ZoneInfo("Asia/Shanghai")
CASES = [
    ("2026-05-30 04:31:54.265995+00", datetime(2026, 5, 30, 4, 31, 54, 265995, tzinfo=UTC)),
    ("2026-05-30 04:31:54-0300", datetime.fromisoformat("2026-05-30T04:31:54-03:00")),
    ("2026-05-30T04:31:54+0530", datetime.fromisoformat("2026-05-30T04:31:54+05:30")),
    ("2026-05-30 04:31:54 +08", datetime.fromisoformat("2026-05-30T04:31:54+08:00")),
    ("2026-05-30T04:31:54Z", datetime(2026, 5, 30, 4, 31, 54, tzinfo=UTC)),
    ("2026-05-30 04:31:54 Z", datetime(2026, 5, 30, 4, 31, 54, tzinfo=UTC)),
    ("2026-05-30T04:31:54.1+08:00", datetime.fromisoformat("2026-05-30T04:31:54.1+08:00")),
    # No offset: the workspace's zone.
    ("2026-05-30", datetime(2026, 5, 30, tzinfo=SHANGHAI)),
    ("2026-05-30 04:31", datetime(2026, 5, 30, 4, 31, tzinfo=SHANGHAI)),
    ("  2026-05-30T04:31:54  ", datetime(2026, 5, 30, 4, 31, 54, tzinfo=SHANGHAI)),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_accepted_timestamps(text: str, expected: datetime) -> None:
    report = ValidationReport("x.csv", "transactions")
    table = coerce_batch(
        pa.table({"ts": [text]}), ENTITIES["transactions"], first_row=1, report=report
    )
    assert report.counts.get("timestamp", 0) == 0
    assert table["ts"][0].as_py() == expected.astimezone(UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-13-01T00:00:00Z", "2026-02-30", "30/05/2026", "2026-05-30T25:00:00+08:00", "now",
     "2026-05-30T04:31:54+8", "20260530 0431"],
)  # fmt: skip
def test_refused_timestamps(text: str) -> None:
    report = ValidationReport("x.csv", "transactions")
    coerce_batch(pa.table({"ts": [text]}), ENTITIES["transactions"], first_row=1, report=report)
    assert report.counts["timestamp"] == 1
