"""The `lodestar` command: exit codes, messages in both languages, workspace selection."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lodestar.cli.campaign_commands
import lodestar.cli.data_commands
import lodestar.cli.demo_command
import lodestar.cli.effect_commands
import lodestar.cli.experiment_commands
import lodestar.cli.plan_commands
import lodestar.cli.profile_commands  # noqa: F401  (registers the commands)
from lodestar.cli.main import app, state

CUSTOMERS = "customer_id,join_date,phone\nC1,2020-01-01,13800000001\nC2,2021-01-01,\n"
BAD = "transaction_id,customer_id,ts,type,amount\nT1,C1,2024-01-01T00:00:00Z,fee,ten\n"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    monkeypatch.delenv("LODESTAR_WORKSPACE", raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        state.lang = None  # each invocation starts from the defaults
        return runner.invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "c.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "bad.csv").write_text(BAD, encoding="utf-8")
    return {"customers": tmp_path / "c.csv", "bad": tmp_path / "bad.csv"}


def test_init_ingest_status(run, tmp_path: Path, files) -> None:
    ws = str(tmp_path / "ws")
    assert run("init", ws).exit_code == 0
    result = run("--lang", "en", "ingest", "customers", str(files["customers"]), "-w", ws)
    assert result.exit_code == 0, result.output
    assert "customers: 2 rows (2 new" in result.output
    again = run("--lang", "en", "ingest", "customers", str(files["customers"]), "-w", ws)
    assert "already loaded" in again.output
    status = run("status", "-w", ws)
    assert status.exit_code == 0 and "customers" in status.output


def test_bad_file_exits_2_with_the_report_in_both_languages(run, tmp_path: Path, files) -> None:
    ws = str(tmp_path / "ws")
    run("init", ws)
    run("ingest", "customers", str(files["customers"]), "-w", ws)
    zh = run("ingest", "transactions", str(files["bad"]), "-w", ws)
    assert zh.exit_code == 2
    assert "第 2 行" in zh.output and "'amount'" in zh.output and "应为数字" in zh.output
    en = run("ingest", "transactions", str(files["bad"]), "-w", ws, env={"LODESTAR_LANG": "en"})
    assert en.exit_code == 2
    assert "line 2, column 'amount': value 'ten': expected a number [type]" in en.output
    report = tmp_path / "report.json"
    out = run("--lang", "en", "ingest", "transactions", str(files["bad"]), "-w", ws,
              "--report", str(report))  # fmt: skip
    assert out.exit_code == 2
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["counts"] == {"type": 1}
    assert data["problems"][0]["line"] == 2


def test_errors_exit_1_with_a_hint(run, tmp_path: Path, files) -> None:
    missing = run("--lang", "en", "status", "-w", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1 and "lodestar init" in missing.output
    ws = str(tmp_path / "ws")
    run("init", ws)
    unknown = run("--lang", "en", "ingest", "customerz", str(files["customers"]), "-w", ws)
    assert unknown.exit_code == 1 and "choose one of: customers" in unknown.output
    bad_sql = run("sql", "SELECT * FROM nope", "-w", ws)
    assert bad_sql.exit_code == 1


def test_workspace_from_the_environment(run, tmp_path: Path, files) -> None:
    ws = tmp_path / "envws"
    run("init", str(ws))
    result = run("ingest", "customers", str(files["customers"]),
                 env={"LODESTAR_WORKSPACE": str(ws), "LODESTAR_LANG": "en"})  # fmt: skip
    assert result.exit_code == 0, result.output
    out = run("sql", "SELECT count(*) AS n FROM customers", env={"LODESTAR_WORKSPACE": str(ws)})
    assert "2" in out.output


def test_schema_export_and_datasets(run, tmp_path: Path, files) -> None:
    assert "transaction_id" in run("schema", "transactions").output
    md = run("schema", "--markdown").output
    assert md.startswith("## `customers`") and "| `phone` | string |" in md
    ws = str(tmp_path / "ws")
    run("init", ws)
    run("ingest", "customers", str(files["customers"]), "-w", ws)
    target = tmp_path / "c.parquet"
    assert run("export", "customers", "-o", str(target), "-w", ws).exit_code == 0
    import pyarrow.parquet as pq

    assert pq.read_table(target).num_rows == 2
    assert "hillstrom" in run("datasets").output


def test_generate_and_demo_small(run, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    result = run("--lang", "en", "demo", "--customers", "1500", "-w", ws)
    assert result.exit_code == 0, result.output
    assert "Demo finished" in result.output and "observed / true uplift" in result.output
    assert "churn warning" in result.output and "churn-v1" in result.output  # models trained
    report = (tmp_path / "ws" / "report.html").read_text("utf-8")
    assert len(report) > 1_000_000  # plotly.js inlined
    assert "Cumulative gains (held out)" in report  # the models section
    # one round of automatic strategy update, its reasons printed and logged
    assert "Automatic strategy update" in result.output and "Thompson sampling" in result.output
    # a past campaign's incremental effect with intervals, beside the true one, and its charts
    assert "Incremental effect of CMP" in result.output and "; true " in result.output
    assert "Incremental conversions by day since the send" in report
    logged = run("--lang", "en", "experiment", "log", "--json", "-w", ws,
                 next((tmp_path / "ws" / "experiments").iterdir()).name)  # fmt: skip
    assert logged.exit_code == 0 and '"reason_zh"' in logged.output
    from lodestar.workspace import Workspace

    with Workspace.open(tmp_path / "ws") as opened:
        scores = opened.query("SELECT count(*) AS n, count(score_churn) AS c FROM profile_scores")
        n, scored = scores.to_pylist()[0].values()
        assert n > 1000 and scored == n  # every open customer has a churn score
        plans = opened.plans()
        contacted = plans[0].rows().query("contact")["customer_id"].iloc[0]
    # the demo planned its campaign: funnel, budget and comparison in the output and report
    assert [p.plan_id for p in plans] == ["CMP_DEMO_XSELL-v1"]
    assert "Exclusion funnel" in report and "untargeted" in result.output
    summary = plans[0].summary
    assert summary["expected_cost"] <= summary["budget"] + 1e-6 and summary["contacts"] > 0
    shown = run("--lang", "en", "explain", "CMP_DEMO_XSELL-v1", contacted, "-w", ws)
    assert shown.exit_code == 0 and "contact" in shown.output and "chosen:" in shown.output
    again = run("plan", str(tmp_path / "ws" / "campaign.yaml"), "--json", "-w", ws)
    assert again.exit_code == 0 and json.loads(again.output)["plan_id"] == "CMP_DEMO_XSELL-v2"
    listed = run("plans", "-w", ws)
    assert "CMP_DEMO_XSELL-v1" in listed.output and "CMP_DEMO_XSELL-v2" in listed.output
    # the journey campaign went through the local gateways: sends, receipts, funnel, report
    assert "journey campaign CMP_DEMO_JOURNEY (completed)" in result.output
    assert "Campaign execution: CMP_DEMO_JOURNEY" in report and "Campaign funnel" in report
    status = run("campaign", "status", "CMP_DEMO_JOURNEY", "--json", "-w", ws)
    got = json.loads(status.output)
    steps = {(s["step"], s["channel"]) for s in got["steps"]}
    assert steps == {("1", "app_push"), ("4", "sms"), ("6t1", "voice_robot")}
    assert got["counts"]["sent"] > 0 and got["delivery"]["delivered"] > 0
    assert got["journeys"]["entered"] == 50 and got["journeys"].get("active", 0) == 0
    assert got["campaign"]["state"] == "completed" and got["cost"]["spent"] > 0
    # maker-checker held: approved by another person than the one who wrote it
    history = {h["action"]: h["actor"] for h in json.loads(
        run("campaign", "show", "CMP_DEMO_JOURNEY", "-w", ws).output)["history"]}  # fmt: skip
    assert history["approve"] == "demo.checker" != history["create"]
    # its effect (nothing sent yet, no outcomes after the data date): two rounds, no crash
    effect = run("campaign", "effect", "CMP_DEMO_XSELL", "--json", "-w", ws)
    assert effect.exit_code == 0, effect.output
    assert [r["label"] for r in json.loads(effect.output)["rounds"]] == [
        "CMP_DEMO_XSELL-v1", "CMP_DEMO_XSELL-v2"]  # fmt: skip
    # consent withdrawn between the plan and the send: the re-check stops that contact
    first = plans[0].rows().query("contact").iloc[0]
    with Workspace.open(tmp_path / "ws") as opened, opened.ops.begin() as conn:
        import sqlalchemy as sa

        from lodestar.storage.operational_tables import consents

        conn.execute(sa.insert(consents).values(
            consent_id="WITHDRAWN-1", customer_id=first["customer_id"], channel=first["channel"],
            purpose="marketing", granted=False, source="app",
            ts=datetime.now(UTC) - timedelta(minutes=5)))  # fmt: skip
    rechecked = json.loads(run("plans", "CMP_DEMO_XSELL-v1", "--recheck", "--json",
                               "-w", ws).output)  # fmt: skip
    blocked = {(b["customer_id"], b["channel"]): b["reason"] for b in rechecked["blocked"]}
    assert blocked[(first["customer_id"], first["channel"])] in ("no_consent", "consent_withdrawn")
    assert rechecked["still_allowed"] < rechecked["contacts"]
    decided = json.loads(run("decide", contacted, "--refresh", "--dry-run", "--json",
                             "-w", ws).output.splitlines()[-1])  # fmt: skip
    assert decided["customer_id"] == contacted and decided["outcome"] in ("offer", "none",
                                                                          "holdout")
    # the campaign behind the plan: written, submitted, approved by another person, started,
    # its plan put into the outbox and sent (fake channels: no gateway in this test)
    from lodestar.channels.fake import FakeChannel
    from lodestar.security.api_keys import create_key

    with Workspace.open(tmp_path / "ws") as opened:
        _, maker = create_key(opened.ops, "wang", "marketer", actor="test")
        _, checker = create_key(opened.ops, "li", "approver", actor="test")
    (tmp_path / "ws" / "xsell.yaml").write_text(
        "campaign: CMP_DEMO_XSELL\nname: 年末交叉销售\nplan: campaign.yaml\n"
        "schedule: {at: '2026-07-01T09:00:00+08:00'}\n", encoding="utf-8")  # fmt: skip
    for args in (("save", str(tmp_path / "ws" / "xsell.yaml"), "--key", maker),
                 ("submit", "CMP_DEMO_XSELL", "--key", maker),
                 ("approve", "CMP_DEMO_XSELL", "--key", checker),
                 ("start", "CMP_DEMO_XSELL", "--key", maker)):  # fmt: skip
        moved = run("--lang", "en", "campaign", *args, "-w", ws)
        assert moved.exit_code == 0, moved.output
    queued = run("--lang", "en", "campaign", "send", "CMP_DEMO_XSELL", "--plan",
                 "CMP_DEMO_XSELL-v1", "-w", ws)  # fmt: skip
    assert queued.exit_code == 0 and "new sends" in queued.output, queued.output
    with Workspace.open(tmp_path / "ws") as opened:
        fakes = {c: FakeChannel(c) for c in ("sms", "app_push", "voice_robot", "telemarketing",
                                              "wecom", "email", "in_app")}  # fmt: skip
        # tomorrow at noon in Shanghai: inside every channel's hours, whenever this runs
        noon = (datetime.now(UTC) + timedelta(days=1)).replace(hour=4, minute=0, second=0)
        stats = opened.run_sends(channels=fakes, now=noon)
        status = opened.campaign_status("CMP_DEMO_XSELL")
    planned = int(summary["contacts"])
    assert sum(status["counts"].values()) == planned
    assert stats.sent + stats.held + stats.skipped + stats.dead == planned
    assert stats.sent > 0 and sum(len(f.delivered) for f in fakes.values()) == stats.sent
    # the withdrawn consent stops that contact at send time too
    stopped = {r["reason"] for r in status["reasons"]}
    assert stopped & {"no_consent", "consent_withdrawn"}


def test_console_script_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lodestar", "--help"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0 and "import-dataset" in done.stdout


def test_docs_data_model_is_up_to_date() -> None:
    from lodestar.data.schema import to_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-model.md").read_text()
    assert to_markdown() in doc, "regenerate docs/data-model.md: lodestar schema --markdown"


def test_profile_rfm_command(run, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    assert run("generate", "--customers", "800", "-w", ws).exit_code == 0
    zh = run("profile", "rfm", "-w", ws)
    assert zh.exit_code == 0 and "重要价值客户" in zh.output
    en = run("--lang", "en", "profile", "rfm", "--window-days", "180", "-w", ws)
    assert "important value" in en.output and "180 days" in en.output
    bad = run("--lang", "en", "profile", "rfm", "--cut", "fixed", "--recency-cuts", "1,2", "-w", ws)
    assert bad.exit_code == 1 and "four ascending thresholds" in bad.output
