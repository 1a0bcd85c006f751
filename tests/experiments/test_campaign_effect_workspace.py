"""The campaign effect through the workspace: a saved campaign with goal targets, its plan, the
sends drained through the outbox with a reply receipt, events loaded into the analytical store —
the same figures as the hand-built fixture (test_campaign_effect.py), then the CLI and a
second round."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from effect_fixture import EVENTS, HOLDOUT, SEND, TREATED, write_plan
from typer.testing import CliRunner

from lodestar.campaigns.definition import CampaignDefinition
from lodestar.campaigns.delivery import record_events
from lodestar.campaigns.lifecycle import Actor, Campaigns
from lodestar.channels.webhooks import DeliveryEvent, DeliveryStatus
from lodestar.cli.main import app, register_commands
from lodestar.workspace import Workspace

OFFERS = """\
offers:
  - id: LOAN
    name: 消费贷
    product: LOAN_CONSUMER
    value: 300
    offer_cost: 20
    effect: {source: rate, rate: 0.05}
    channels:
      sms: {cost: 0.5, template: {zh-CN: "您好", en: "Hello"}}
"""

CAMPAIGN = """\
campaign: CMP_EFF
name: 效果测试
goal:
  event: apply_done
  window_days: 30
  targets:
    - {metric: registrations, event: register, lift: "+30%"}
    - {metric: applications, lift: "+10pp"}
"""


def _plan(ws: Workspace, version: int) -> None:
    folder = ws.plans_root / "CMP_EFF" / f"v{version}"
    write_plan(folder)
    (folder / "summary.json").write_text(json.dumps({
        "plan_id": f"CMP_EFF-v{version}", "version": version, "campaign": "CMP_EFF",
        "created_at": f"2026-11-0{version}T00:00:00+00:00"}))  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    workspace = Workspace.init(tmp_path / "ws", database_url=database_url)
    (workspace.root / "offers.yaml").write_text(OFFERS, encoding="utf-8")
    Campaigns(workspace.ops).save(CampaignDefinition.from_text(CAMPAIGN),
                                  Actor("maker", "marketer"))  # fmt: skip
    _plan(workspace, 1)
    ids = TREATED + HOLDOUT
    customers = pa.table({"customer_id": ids, "join_date": [date(2020, 1, 1)] * len(ids)})
    events = pa.table({
        "event_id": [f"E{i}" for i in range(len(EVENTS))],
        "customer_id": [e[0] for e in EVENTS], "event_name": [e[1] for e in EVENTS],
        "ts": pa.array([e[2] for e in EVENTS], pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    workspace.load_tables([("customers", customers), ("events", events)], source="test")
    # T1..T8 sent an hour after the planned time through the outbox; T1..T3 replied
    sent_at = (SEND + timedelta(hours=1)).replace(tzinfo=UTC)
    workspace.outbox.enqueue([{"campaign_id": "CMP_EFF", "step": "1", "customer_id": f"T{i}",
                               "channel": "sms", "offer_id": "LOAN", "send_at": sent_at}
                              for i in range(1, 9)], now=sent_at)  # fmt: skip
    for row in workspace.outbox.claim("w", limit=100, now=sent_at):
        workspace.outbox.sent(row, "w", f"M-{row.customer_id}", now=sent_at)
    record_events(workspace.ops, [
        DeliveryEvent("sms", DeliveryStatus.REPLIED, sent_at + timedelta(minutes=5),
                      provider_message_id=f"M-T{i}") for i in range(1, 4)])  # fmt: skip
    yield workspace
    workspace.close()


def test_the_workspace_measures_what_the_fixture_pins(ws: Workspace) -> None:
    result = ws.campaign_effect("CMP_EFF", now=datetime(2026, 12, 20, tzinfo=UTC))
    o = result.effect.overall
    assert result.plan_id == "CMP_EFF-v1" and not result.window_open
    assert (o.treated, o.control, o.sent, o.responses) == (10, 10, 8, 3)
    assert o.conversions.incremental == pytest.approx(3.0)
    assert o.money.cost == pytest.approx(84.0)
    assert o.money.profit == pytest.approx(816.0)
    registrations, applications = result.targets
    assert registrations.event == "register" and registrations.measured == pytest.approx(3.0)
    assert applications.event == "apply_done" and applications.measured == pytest.approx(0.3)
    assert applications.verdict == "not_yet"  # [-0.097, 0.697] straddles +10pp
    body = json.dumps(result.as_dict(), allow_nan=False)
    assert '"conversion": "apply_done"' in body


def test_a_shorter_window_and_rounds(ws: Workspace) -> None:
    # within 2 days: treated T1, T2 (days 0, 1); holdout C1 (day 1)
    short = ws.campaign_effect("CMP_EFF", window_days=2, with_rounds=False)
    assert short.effect.overall.conversions.treated_mean == 0.2
    assert short.effect.overall.conversions.control_mean == 0.1
    _plan(ws, 2)  # the same customers again: the same lift, a change of 0 pp
    result = ws.campaign_effect("CMP_EFF")
    assert [r.label for r in result.rounds] == ["CMP_EFF-v1", "CMP_EFF-v2"]
    assert result.rounds[0].lift_pp == pytest.approx(30.0)
    assert result.rounds[1].change_pp == pytest.approx(0.0)
    assert result.plan_id == "CMP_EFF-v2"


def test_unknown_campaign(ws: Workspace) -> None:
    from lodestar.errors import NotFound

    with pytest.raises(NotFound, match="no campaign 'NOPE'"):
        ws.campaign_effect("NOPE")


def test_the_cli_prints_and_writes_the_report(ws: Workspace, tmp_path: Path,
                                              database_url: str | None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    if database_url:  # the command opens the workspace by its path: point it at the same store
        monkeypatch.setenv("LODESTAR_DATABASE_URL", database_url)
    register_commands()
    runner = CliRunner()
    report = tmp_path / "effect.html"
    got = runner.invoke(app, ["campaign", "effect", "CMP_EFF", "--report", str(report),
                              "--workspace", str(ws.root)])  # fmt: skip
    assert got.exit_code == 0, got.output
    assert "84" in got.output and report.is_file()
    html = report.read_text(encoding="utf-8")
    assert "registrations" in html and "plotly" in html.lower()
    as_json = runner.invoke(app, ["campaign", "effect", "CMP_EFF", "--json",
                                  "--workspace", str(ws.root)])  # fmt: skip
    assert json.loads(as_json.output)["overall"]["money"]["cost"] == 84.0
    shutil.rmtree(ws.plans_root)
    missing = runner.invoke(app, ["campaign", "effect", "CMP_EFF", "--workspace", str(ws.root)])
    assert missing.exit_code != 0


def test_the_api_answers_the_same(ws: Workspace) -> None:
    from fastapi.testclient import TestClient

    from lodestar.api.app import create_app
    from lodestar.security.permissions import Role

    token = ws.create_api_key("analyst", Role.ANALYST, actor="test")[1]
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ws)) as client:
        got = client.get("/v1/campaigns/CMP_EFF/effect?window_days=30", headers=headers)
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["overall"]["money"]["cost"] == 84.0
        assert [t["verdict"] for t in body["targets"]] == ["not_yet", "not_yet"]
        assert len(body["cumulative"]) == 30
        assert client.get("/v1/campaigns/NOPE/effect", headers=headers).status_code == 404
        bad = client.get("/v1/campaigns/CMP_EFF/effect?plan_id=CMP_EFF-v9", headers=headers)
        assert bad.status_code == 404
