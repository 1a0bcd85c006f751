"""`lodestar voice check | simulate | test | run-task`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lodestar.channels.voice_robot import example_script_path
from lodestar.cli.main import app, register_commands

register_commands()
runner = CliRunner()
SCRIPT = str(example_script_path())


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--lang", "en", *args])
    return result.exit_code, result.output


def test_check_ok_and_located_error(tmp_path: Path) -> None:
    code, out = invoke("voice", "check", SCRIPT)
    assert code == 0 and "is valid" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(SCRIPT).read_text(encoding="utf-8").replace("then: transfer", "then: nowhere", 1),
                   encoding="utf-8")  # fmt: skip
    code, out = invoke("voice", "check", str(bad))
    assert code == 1 and "bad.yaml:" in out and "no node 'nowhere'" in out


def test_simulate() -> None:
    code, out = invoke("voice", "simulate", SCRIPT, "--answers", "您好", "有兴趣", "好的")
    assert code == 0, out
    assert "intro -> quota -> interested -> offer_link -> apply_link_sent" in out
    assert "goal: apply_link_sent" in out


def test_test_cases(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("case,answers,expect_node\nyes,是我|有兴趣|好的,apply_link_sent\n"
                     "no,是我|不需要,goodbye\n", encoding="utf-8")  # fmt: skip
    code, out = invoke("voice", "test", SCRIPT, str(cases))
    assert code == 0 and "2 of 2" in out
    cases.write_text("case,answers,expect_node\nbad,是我|不需要,transfer\n", encoding="utf-8")
    code, out = invoke("voice", "test", SCRIPT, str(cases))
    assert code == 1 and "FAIL bad (line 2)" in out


def test_run_task_with_report(tmp_path: Path) -> None:
    report = tmp_path / "task.html"
    code, out = invoke("voice", "run-task", SCRIPT, "--customers", "60", "--seed", "4",
                       "--start", "2026-03-02T01:00:00", "--report", str(report))  # fmt: skip
    assert code == 0, out
    assert "60 customers" in out and "connect rate" in out and report.exists()
