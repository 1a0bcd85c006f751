"""`lodestar segment ...`: counts with share and time, saving, listing, showing, exporting,
overlap with a chart, samples, and errors with a caret line in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import lodestar.cli.segment_commands  # noqa: F401  (registers the commands)
from lodestar.cli.main import app, state
from lodestar.workspace import Workspace


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli") / "ws"
    with Workspace.init(root) as ws:
        ws.generate(300, seed=2)
    return str(root)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        state.lang = None
        return runner.invoke(app, list(args))

    return invoke


def test_count_prints_count_share_and_time(run, bank: str) -> None:
    with Workspace.open(bank) as ws:
        expected = ws.segment_count("age >= 40")
    result = run("--lang", "en", "segment", "count", "age >= 40", "--sql", "-w", bank)
    assert result.exit_code == 0, result.output
    share = f"{expected / 300:.1%}"
    assert f"{expected:,} customers ({share} of 300) in " in result.output
    assert result.output.count(f"{expected:,} customers") == 2  # index and SQL agree
    zh = run("segment", "count", "age >= 40", "-w", bank)
    assert f"{expected:,} 位客户（占 300 位的 {share}）" in zh.output


def test_errors_show_the_expression_and_a_caret(run, bank: str) -> None:
    result = run("--lang", "en", "segment", "count", "age >= 40 and agee < 3", "-w", bank)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "Error: unknown field 'agee' at column 15"
    assert lines[1:3] == ["  age >= 40 and agee < 3", "                ^"]
    assert "did you mean age" in result.output
    zh = run("segment", "count", "age = 'x'", "-w", bank)
    assert zh.exit_code == 1 and "age 是数值" in zh.output


def test_save_list_show_export_overlap_sample(run, bank: str, tmp_path: Path) -> None:
    saved = run("--lang", "en", "segment", "save", "older", "age >= 40", "--description",
                "40+", "-w", bank)  # fmt: skip
    assert saved.exit_code == 0 and "Saved older version 1" in saved.output
    again = run("--lang", "en", "segment", "save", "older", "age>=40", "--description", "40+",
                "-w", bank)  # fmt: skip
    assert "older is unchanged (version 1)" in again.output
    run("segment", "save", "sms", "consent('sms')", "-w", bank)
    listed = run("--lang", "en", "segment", "list", "-w", bank)
    assert "older" in listed.output and "consent('sms" in listed.output.replace("\n", "")
    shown = run("--lang", "en", "segment", "show", "older", "-w", bank)
    assert "older v1: age >= 40" in shown.output and "description: 40+" in shown.output
    out = tmp_path / "older.csv"
    exported = run("--lang", "en", "segment", "export", "older", str(out), "--columns",
                   "phone,age", "-w", bank)  # fmt: skip
    assert exported.exit_code == 0 and "masked personal data: phone" in exported.output
    assert out.read_text("utf-8").splitlines()[0] == '"customer_id","phone","age"'
    chart = tmp_path / "overlap.html"
    ov = run("--lang", "en", "segment", "overlap", "older", "sms", "--chart", str(chart),
             "-w", bank)  # fmt: skip
    assert ov.exit_code == 0, ov.output
    assert "older ∩ sms" in ov.output and "Jaccard older / sms" in ov.output
    assert chart.stat().st_size > 100_000  # plotly.js inlined: opens offline
    sample = run("--lang", "en", "segment", "sample", "older", "-n", "3", "--seed", "1",
                 "-w", bank)  # fmt: skip
    assert sample.exit_code == 0 and "3 of" in sample.output
    bad = run("--lang", "en", "segment", "show", "oldr", "-w", bank)
    assert bad.exit_code == 1 and "did you mean older" in bad.output


def test_fields_lists_kinds(run, bank: str) -> None:
    result = run("--lang", "en", "segment", "fields", "-w", bank)
    assert result.exit_code == 0
    assert "age" in result.output and "a number" in result.output
