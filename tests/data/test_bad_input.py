"""Bad input: a clear report naming file, line, column, value and rule; nothing written.

Every case runs on SQLite and on PostgreSQL, and compares the whole workspace state before and
after the failed load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lodestar.data.validation import ValidationReport
from lodestar.errors import ValidationFailed
from lodestar.workspace import Workspace

CUSTOMERS = (
    "customer_id,name,join_date,phone\n"
    "C001,张三,2019-01-15,13800000001\n"
    "C002,李四,2021-06-01,13800000002\n"
)
HEADER = "transaction_id,customer_id,ts,type,amount,channel\n"
GOOD_ROW = "T{n},C001,2024-01-01T10:00:00+08:00,card_purchase,10.5,pos\n"


@pytest.fixture
def loaded(workspace: Workspace, tmp_path: Path) -> Workspace:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    workspace.ingest("customers", path)
    workspace.ingest("transactions", _write(tmp_path / "t0.csv", HEADER + GOOD_ROW.format(n=0)))
    return workspace


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def _fail(ws: Workspace, state_of, kind: str, path: Path, **kwargs: object) -> ValidationReport:
    before = state_of(ws)
    with pytest.raises(ValidationFailed) as info:
        ws.ingest(kind, path, **kwargs)
    assert state_of(ws) == before, "a rejected load changed the workspace"
    assert not any((ws.root / "staging").glob("load-*")), "staging was not cleaned up"
    return info.value.report


def _has(report: ValidationReport, rule: str, *, line: int | None = None,
         column: str | None = None, value: str | None = None) -> None:  # fmt: skip
    text = report.render("en")
    for v in report.detailed:
        if v.rule != rule:
            continue
        if line is not None and (v.row is None or v.row + (report.line_offset or 0) != line):
            continue
        if column is not None and v.column != column:
            continue
        if value is not None and v.value != value:
            continue
        assert str(report.source) in text
        return
    raise AssertionError(f"no {rule} at line {line}, column {column}, value {value}:\n{text}")


def test_wrong_types(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = HEADER + GOOD_ROW.format(n=1) + "T2,C001,2024-01-01T10:00:00Z,fee,ten,pos\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "type", line=3, column="amount", value="ten")
    assert report.counts == {"type": 1}
    rendered = report.render("en")
    assert "t.csv, line 3, column 'amount': value 'ten': expected a number [type]" in rendered
    assert "应为数字" in report.render("zh-CN")


def test_missing_required_column(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = "transaction_id,customer_id,type,amount\nT1,C001,fee,1\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "missing_column", column="ts")
    assert "required column 'ts' is missing" in report.render("en")


def test_unknown_column_is_reported_with_a_hint(
    loaded: Workspace, tmp_path: Path, state_of
) -> None:
    text = HEADER.strip() + ",branch\n" + GOOD_ROW.format(n=1).strip() + ",B1\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "unknown_column", column="branch")
    assert "ignore" in report.render("en")


def test_unknown_enum_value(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = HEADER + "T1,C001,2024-01-01T10:00:00Z,lottery,1,pos\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "enum", line=2, column="type", value="lottery")


def test_duplicate_ids_in_the_file(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = HEADER + "".join(GOOD_ROW.format(n=n) for n in (1, 2, 3, 2, 2))
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "duplicate_key", line=5, column="transaction_id", value="T2")
    _has(report, "duplicate_key", line=6, column="transaction_id", value="T2")
    assert report.counts["duplicate_key"] == 2
    assert "repeats the one at line 3" in report.render("en")


def test_orphan_references(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = HEADER + GOOD_ROW.format(n=1) + "T2,C999,2024-01-01T10:00:00Z,fee,1,pos\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "reference", line=3, column="customer_id", value="C999")
    assert "load the referenced rows first" in report.render("en")


def test_unparseable_timestamps(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = HEADER + (
        "T1,C001,yesterday,fee,1,pos\n"
        "T2,C001,2024-02-30T10:00:00,fee,1,pos\n"
        "T3,C001,2024-01-01T25:00:00+08:00,fee,1,pos\n"
        "T4,C001,2024-01-01T10:00:00+08:00,fee,1,pos\n"
    )
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "timestamp", line=2, column="ts", value="yesterday")
    _has(report, "timestamp", line=3, column="ts", value="2024-02-30T10:00:00")
    _has(report, "timestamp", line=4, column="ts")
    assert report.counts == {"timestamp": 3}


def test_bad_time_zone_name(workspace: Workspace, tmp_path: Path, state_of) -> None:
    text = "customer_id,join_date,time_zone\nC1,2020-01-01,Asia/Beijing\n"
    report = _fail(workspace, state_of, "customers", _write(tmp_path / "c.csv", text))
    _has(report, "time_zone", line=2, column="time_zone", value="Asia/Beijing")


def test_required_values_and_ranges(loaded: Workspace, tmp_path: Path, state_of) -> None:
    text = HEADER + "T1,,2024-01-01T10:00:00Z,fee,-5,pos\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "required", line=2, column="customer_id")
    _has(report, "range", line=2, column="amount", value="-5.0")


def test_pii_values_are_masked_in_reports(workspace: Workspace, tmp_path: Path, state_of) -> None:
    text = "customer_id,join_date,phone,gender\nC1,2020-01-01,13812345678,robot\nC1,2020-01-01,,\n"
    report = _fail(workspace, state_of, "customers", _write(tmp_path / "c.csv", text))
    assert "13812345678" not in report.render("en")


def test_empty_file(loaded: Workspace, tmp_path: Path, state_of) -> None:
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "empty.csv", ""))
    assert report.counts == {"empty_file": 1}
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "header.csv", HEADER))
    assert report.counts == {"empty_file": 1}
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "e.jsonl", "\n\n"))
    assert report.counts == {"empty_file": 1}


def test_truncated_file(loaded: Workspace, tmp_path: Path, state_of) -> None:
    full = HEADER + "".join(GOOD_ROW.format(n=n) for n in range(1, 200))
    cut = full[: len(full) - 25]  # the export stopped in the middle of the last line
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", cut))
    _has(report, "malformed_row", line=200)
    # A file cut inside a quoted field is just as clearly refused.
    quoted = HEADER + GOOD_ROW.format(n=1) + 'T2,C001,"2024-01-01T10:00'
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "q.csv", quoted))
    assert not report.ok


def test_garbled_file(loaded: Workspace, tmp_path: Path, state_of) -> None:
    import random

    rnd = random.Random(7)
    noise = bytes(rnd.randrange(256) for _ in range(20_000))
    report = _fail(
        loaded, state_of, "transactions", _write(tmp_path / "t.csv", HEADER.encode() + noise)
    )
    assert not report.ok
    assert report.total >= 1
    # The same bytes claiming to be Parquet or JSON Lines.
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.parquet", noise))
    assert report.counts["unreadable"] == 1
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.jsonl", noise))
    assert report.counts["unreadable"] >= 1


def test_errors_anywhere_in_a_multi_batch_file_stop_the_whole_load(
    loaded: Workspace, tmp_path: Path, state_of
) -> None:
    from lodestar.data import readers

    rows = [GOOD_ROW.format(n=n) for n in range(1, 30_001)]
    rows[29_000] = "T29001,C001,2024-01-01T10:00:00Z,fee,1,teleport\n"
    path = _write(tmp_path / "t.csv", HEADER + "".join(rows))
    old = readers.CSV_BLOCK_BYTES
    readers.CSV_BLOCK_BYTES = 64 << 10  # many batches
    try:
        report = _fail(loaded, state_of, "transactions", path)
    finally:
        readers.CSV_BLOCK_BYTES = old
    _has(report, "enum", line=29_002, column="channel", value="teleport")
    assert report.rows_read == 30_000


def test_line_numbers_stay_right_after_malformed_rows(
    loaded: Workspace, tmp_path: Path, state_of
) -> None:
    text = HEADER + GOOD_ROW.format(n=1) + "broken\n" + "T3,C001,2024-01-01T10:00:00Z,fee,x,pos\n"
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    _has(report, "malformed_row", line=3)
    _has(report, "type", line=4, column="amount", value="x")


def test_survey_scale_and_one_of(workspace: Workspace, tmp_path: Path, state_of) -> None:
    surveys = (
        "response_id,survey_type,score,ts\n"
        "S1,nps,10,2024-01-01T00:00:00Z\n"
        "S2,csat,9,2024-01-01T00:00:00Z\n"
    )
    report = _fail(workspace, state_of, "surveys", _write(tmp_path / "s.csv", surveys))
    _has(report, "scale", line=3, column="score", value="9")
    events = "event_id,ts,event_name\nE1,2024-01-01T00:00:00Z,app_open\n"
    report = _fail(workspace, state_of, "events", _write(tmp_path / "e.csv", events))
    _has(report, "one_of", line=2)


def test_many_errors_are_counted_beyond_those_shown(
    loaded: Workspace, tmp_path: Path, state_of
) -> None:
    text = HEADER + "".join(f"T{n},C001,2024-01-01T10:00:00Z,fee,bad,pos\n" for n in range(500))
    report = _fail(loaded, state_of, "transactions", _write(tmp_path / "t.csv", text))
    assert report.counts == {"type": 500}
    assert len(report.detailed) == 50
    assert "type 'amount': 500" in report.render("en")
