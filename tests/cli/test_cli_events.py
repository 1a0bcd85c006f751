"""`lodestar events post` and `lodestar events flush`: batches from a JSON Lines file, problems
by file, line and field with nothing stored, and the flush into the analytical store."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import lodestar.cli.event_commands  # noqa: F401  (registers the commands)
from lodestar.cli.main import app, state
from lodestar.workspace import Workspace


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        state.lang = None
        return runner.invoke(app, list(args))

    return invoke


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load_tables([("customers", pa.table({"customer_id": ["C1", "C2"],
                                                "join_date": ["2020-01-01"] * 2}))],
                       source="test")  # fmt: skip
    return tmp_path / "ws"


def line(i: int, **more: object) -> str:
    return json.dumps({"event_id": f"E{i}", "ts": "2026-12-01T09:00:00+08:00",
                       "customer_id": "C1", "event_name": "app_open", **more})  # fmt: skip


def test_post_in_batches_then_flush(run, ws_path: Path, tmp_path: Path) -> None:
    src = tmp_path / "ev.jsonl"
    src.write_text("\n".join(line(i) for i in range(25)) + "\n\n", encoding="utf-8")
    got = run("events", "post", str(src), "--batch", "10", "--json", "-w", str(ws_path))
    assert got.exit_code == 0, got.output
    assert json.loads(got.output) == {"received": 25, "new": 25, "duplicates": 0}
    again = run("--lang", "en", "events", "post", str(src), "-w", str(ws_path))
    assert again.exit_code == 0 and "0 new in the live feed, 25 already there" in again.output
    flushed = run("--lang", "en", "events", "flush", "-w", str(ws_path))
    assert flushed.exit_code == 0 and "25 events" in flushed.output, flushed.output
    nothing = run("--lang", "en", "events", "flush", "-w", str(ws_path))
    assert "nothing to flush" in nothing.output
    with Workspace.open(ws_path) as ws:
        assert ws.counts()["events"] == 25


def test_problems_by_file_line_and_field_and_nothing_stored(run, ws_path: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    src = tmp_path / "bad.jsonl"
    rows = [line(1), line(2, customer_id="C404"), "{not json", "", line(5, ts="2026-12-01")]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = run("--lang", "en", "events", "post", str(src), "--batch", "2", "-w", str(ws_path))
    assert got.exit_code == 2
    out = got.output
    assert f"{src}, line 2, column 'customer_id'" in out
    assert f"{src}, line 3:" in out
    assert f"{src}, line 5, column 'ts'" in out and "UTC offset" in out
    with Workspace.open(ws_path) as ws:
        assert ws.ops.count("event_feed") == 0  # line 1 was fine, but nothing is stored
    missing = run("--lang", "en", "events", "post", str(tmp_path / "none.jsonl"), "-w",
                  str(ws_path))  # fmt: skip
    assert missing.exit_code == 1 and "no such file" in missing.output
