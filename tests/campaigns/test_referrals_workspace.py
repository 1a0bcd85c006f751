"""Referrals through the Workspace, the `lodestar referral` command and /v1/referrals: the
example programme with the example rights, phones read from the customers table (hashed),
events from the live feed, review, funnel, leaderboard with masked names, the report section."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lodestar.api.app import create_app
from lodestar.campaigns import event_feed
from lodestar.campaigns.event_feed import FeedEvent
from lodestar.cli.main import app, register_commands, state
from lodestar.security.permissions import Role
from lodestar.workspace import Workspace

CUSTOMERS = ("customer_id,join_date,name,phone\n"
             "C1,2020-01-01,王小明,13800000001\n"
             "N1,2026-03-01,李四,13900000002\n"
             "N2,2026-03-01,张三,138-0000-0001\n")  # fmt: skip
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    workspace.ingest("customers", path)
    written = {p.name for p in workspace.init_referrals()}
    assert written == {"referrals.yaml", "rights.yaml"}
    return workspace


def journey(code: str, referee: str, device: str, start: datetime) -> list[FeedEvent]:
    return [FeedEvent(f"c-{referee}", "referral_click", start, None, device,
                      {"referral_code": code}),
            FeedEvent(f"r-{referee}", "register", start + H, referee, device),
            FeedEvent(f"q-{referee}", "quota_test", start + 2 * H, referee, device),
            FeedEvent(f"d-{referee}", "loan_drawdown", start + 3 * H, referee, device,
                      {"amount": 800000})]  # fmt: skip


def test_the_example_programme_end_to_end_through_the_workspace(ws: Workspace) -> None:
    link = ws.referral_link("C1")
    code = ws.referral_code("C1")
    assert link == f"https://m.bank.example/mgm/loan-quota?ref={code}" and code.startswith("LQ")
    # N2 shares C1's phone (written differently): a self-referral the hashes still catch
    event_feed.append(ws.ops, journey(code, "N1", "dev-1", T0) + journey(code, "N2", "dev-2", T0))
    s = ws.process_referrals()
    assert (s.attributed, s.flagged, s.rewards, s.withheld) == (2, 1, 2, 2)
    [flag] = ws.referral_flags()
    assert (flag["referee_id"], flag["rule"], flag["evidence"]["match"]) == (
        "N2", "self_referral", ["phone"])  # fmt: skip
    assert "13800000001" not in str(flag)
    rights = ws.customer_rights("C1")
    assert sorted(c.right_id for c in rights["coupons"]) == ["cashback_20", "fee_waiver_coupon"]
    assert rights["points"] == 0 and ws.customer_rights("N1")["points"] == 1200
    done = ws.review_referral(flag["referral_id"], "confirm", note="same phone", actor="risk")
    assert done["status"] == "fraud"
    funnel = {r.stage: r.count for r in ws.referral_funnel()}
    assert funnel == {"codes": 1, "touches": 2, "attributed": 2, "register": 2,
                      "quota_test": 2, "drawdown": 2}  # fmt: skip
    [top] = ws.referral_leaderboard()
    assert (top["referrer_id"], top["name"], top["completed"], top["referees"]) == (
        "C1", "王**", 1, 1)  # fmt: skip
    section = ws.referral_section("zh-CN")
    assert "贷款测额邀请有礼" in section.title and "王**" in section.html
    assert "王小明" not in section.html
    page = ws.report(locale="zh-CN").read_text(encoding="utf-8")
    assert "贷款测额邀请有礼" in page and "邀请排行榜" in page
    # the digests are keyed by the workspace's own key, kept out of the operational store
    key_file = ws.root / "secrets" / "fingerprint.key"
    assert len(ws.fingerprint_key()) == 32 and oct(key_file.stat().st_mode)[-3:] == "400"
    assert "13800000001" not in str(ws.ops.audit_entries(100))
    actions = [e["action"] for e in ws.ops.audit_entries(50)]
    assert "referral.confirm" in actions and actions.count("referral.attribute") == 2


def test_the_referral_command(ws: Workspace, database_url: str | None,
                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    register_commands()
    runner = CliRunner()
    monkeypatch.setenv("LODESTAR_WORKSPACE", str(ws.root))
    if database_url is not None:  # the command opens the same PostgreSQL store
        monkeypatch.setenv("LODESTAR_DATABASE_URL", database_url)
    code = ws.referral_code("C1")
    event_feed.append(ws.ops, journey(code, "N2", "dev-2", T0))
    ws.close()

    def run(*args: str, exit_code: int = 0) -> str:
        state.lang = None
        result = runner.invoke(app, ["--lang", "en", "referral", *args])
        assert result.exit_code == exit_code, result.output
        return result.output

    assert run("code", "C1").strip() == code
    assert run("link", "C1").strip().endswith(f"?ref={code}")
    assert "4 events: 1 touches, 1 referees attributed (1 flagged)" in run("process")
    out = run("attribute", "N1", code, "--at", "2026-03-11T00:00:00")
    assert "N1 attributed to C1 (by code); status active" in out
    listed = run("review")
    referral_id = listed.split("\t")[0]
    assert "self_referral" in listed and "N2" in listed
    assert "--clear or --confirm" in run("review", referral_id, exit_code=2)
    assert "is now cleared; 2 steps' rewards issued" in run("review", referral_id, "--clear")
    funnel = run("funnel")
    assert "quota_test\t1\t100.0%" in funnel and "CNY 70.00 committed" in funnel
    board = run("leaderboard")
    assert "C1\t王**\t2\t1\t0\t70.00\t0" in board
    state.lang = None
    unknown = runner.invoke(app, ["--lang", "en", "referral", "attribute", "N9", "LQNOPE2222"])
    assert unknown.exit_code != 0 and "no referral code 'LQNOPE2222'" in unknown.output


def test_the_referrals_api(ws: Workspace) -> None:
    keys = {r: ws.create_api_key(f"k-{r.value}", r, actor="test")[1] for r in Role}
    auth: Callable[[Role], dict[str, str]] = lambda r: {"Authorization": f"Bearer {keys[r]}"}  # noqa: E731
    with TestClient(create_app(ws)) as client:
        made = client.post("/v1/referrals/codes/C1", headers=auth(Role.MARKETER)).json()
        assert made["link"].endswith(made["code"])
        event_feed.append(ws.ops, journey(made["code"], "N1", "dev-1", T0))
        done = client.post("/v1/referrals/process", headers=auth(Role.MARKETER)).json()
        assert (done["attributed"], done["rewards"]) == (1, 2)
        funnel = client.get("/v1/referrals/funnel", headers=auth(Role.VIEWER)).json()
        assert [r["count"] for r in funnel["funnel"]] == [1, 1, 1, 1, 1, 1]
        assert funnel["costs"]["cny"] == "70.00"
        board = client.get("/v1/referrals/leaderboard", headers=auth(Role.ANALYST)).json()
        assert board[0]["name"] == "王**" and board[0]["reward_cny"] == "70.00"
        typed = client.post("/v1/referrals/attributions", headers=auth(Role.MARKETER),
                            json={"referee_id": "N2", "code": made["code"]}).json()  # fmt: skip
        assert typed["referral"]["status"] == "flagged"  # N2 shares C1's phone
        rid = typed["referral"]["referral_id"]
        assert client.post(f"/v1/referrals/{rid}/review", headers=auth(Role.VIEWER),
                           json={"decision": "clear"}).status_code == 403  # fmt: skip
        ok = client.post(f"/v1/referrals/{rid}/review", headers=auth(Role.COMPLIANCE),
                         json={"decision": "clear", "note": "checked"})  # fmt: skip
        assert ok.json()["status"] == "cleared"
        again = client.post(f"/v1/referrals/{rid}/review", headers=auth(Role.COMPLIANCE),
                            json={"decision": "confirm"})  # fmt: skip
        assert again.status_code == 409
        missing = client.post("/v1/referrals/attributions", headers=auth(Role.MARKETER),
                              json={"referee_id": "N3", "code": "LQNOPE2222"})  # fmt: skip
        assert missing.status_code == 404
