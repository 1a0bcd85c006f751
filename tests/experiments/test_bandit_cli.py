"""`lodestar experiment iterate | log`: one round of automatic strategy update from a
statistics file, its changes and reasons printed and appended to the workspace's log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lodestar.cli.data_commands
import lodestar.cli.experiment_commands  # noqa: F401  (registers the commands)
from lodestar.cli.main import app, state
from lodestar.errors import ConfigError
from lodestar.experiments.iteration import read_arm_stats, run_round


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    monkeypatch.delenv("LODESTAR_WORKSPACE", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        state.lang = None
        return runner.invoke(app, list(args))

    return invoke


def _stats(path: Path, rows: str) -> str:
    path.write_text("arm,n,conversions\n" + rows, encoding="utf-8")
    return str(path)


def test_one_round_of_automatic_update_with_its_logged_reason(run, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws)).exit_code == 0
    first = _stats(tmp_path / "r1.csv", "A,0,0\nB,0,0\n")
    result = run("--lang", "en", "experiment", "iterate", "card-offer", "--stats", first,
                 "--policy", "champion", "--min-n", "1000", "-w", str(ws))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "round 1: 2 change(s)" in result.output and "A 90.0% (champion)" in result.output
    second = _stats(tmp_path / "r2.csv", "A,3000,150\nB,1500,120\n")
    result = run("experiment", "iterate", "card-offer", "--stats", second, "-w", str(ws))
    assert result.exit_code == 0, result.output
    assert "第 2 轮" in result.output and "流量升至 30%" in result.output  # zh-CN by default
    # the rules of round 1 were kept (champion policy) without being repeated
    rules = json.loads((ws / "experiments" / "card-offer" / "rules.json").read_text())
    assert rules["policy"] == "champion" and rules["min_n"] == 1000
    logged = run("--lang", "en", "experiment", "log", "card-offer", "--json", "-w", str(ws))
    changes = [json.loads(line) for line in logged.output.splitlines()]
    step = next(c for c in changes if c["rule"] == "challenger-step-up")
    assert (step["round"], step["arm"], step["before"], step["after"]) == (2, "B", 0.1, 0.3)
    assert step["stats"]["chance_to_beat_champion"] > 0.95 and step["stats"]["n"] == 1500
    table = run("--lang", "en", "experiment", "log", "card-offer", "-w", str(ws))
    assert "steps up to 30%" in table.output
    # a person pauses B: they must say who
    refused = run("experiment", "iterate", "card-offer", "--stats", second, "--pause", "B",
                  "-w", str(ws))  # fmt: skip
    assert refused.exit_code == 1 and "--by" in refused.output
    paused = run("--lang", "en", "experiment", "iterate", "card-offer", "--stats", second,
                 "--pause", "B", "--by", "li.wei", "--why", "complaints", "-w", str(ws))  # fmt: skip
    assert paused.exit_code == 0 and "paused by li.wei: complaints" in paused.output
    assert "A 100.0% (champion), B 0.0%" in paused.output
    empty = run("--lang", "en", "experiment", "log", "other", "-w", str(ws))
    assert "no changes logged for other" in empty.output


def test_revenue_per_contact_and_bad_statistics_files(tmp_path: Path) -> None:
    path = tmp_path / "rev.csv"
    path.write_text("arm,n,conversions,revenue,revenue_sq\nA,500,40,6000,1.5e6\n"
                    "B,500,45,8000,2.2e6\nC,500,38,5000,1.2e6\n", encoding="utf-8")  # fmt: skip
    result = run_round(tmp_path, "rev", path, kind="mean", warmup=100)
    assert result.pool.shares["B"] == max(result.pool.shares.values())
    assert result.pool.rules.kind == "mean"
    with pytest.raises(ConfigError, match="missing column"):
        read_arm_stats(_stats(tmp_path / "x.csv", "A,1,1\n"), kind="mean")
    with pytest.raises(ConfigError, match=r"bad.csv:3: arm 'B': 5 conversions out of 4"):
        read_arm_stats(_stats(tmp_path / "bad.csv", "A,10,1\nB,4,5\n"))
    with pytest.raises(ConfigError, match=r"dup.csv:3: arm 'A' is empty or repeated"):
        read_arm_stats(_stats(tmp_path / "dup.csv", "A,10,1\nA,4,1\n"))
