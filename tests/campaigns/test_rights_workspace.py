"""The rights through the Workspace and the `lodestar rights` command: catalogue and rules from
the workspace, points earned from ingested data, issue / redeem / expire / balance / levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lodestar.cli.main import app, register_commands, state
from lodestar.errors import BudgetExhausted
from lodestar.workspace import Workspace

CUSTOMERS = "customer_id,join_date\nC1,2020-01-01\nC2,2021-01-01\n"
TRANSACTIONS = (
    "transaction_id,customer_id,ts,type,amount\n"
    "T1,C1,2026-03-01T02:00:00Z,card_purchase,25000\n"   # 2500 -> capped at 500 that day
    "T2,C1,2026-03-02T02:00:00Z,card_purchase,15000\n"   # 500
    "T3,C1,2026-03-03T02:00:00Z,card_purchase,12000\n"   # 500
    "T4,C1,2026-03-04T02:00:00Z,card_purchase,5050\n"    # 505 -> 500
    "T5,C2,2026-03-01T02:00:00Z,salary,90000\n"
)
EVENTS = "event_id,customer_id,ts,event_name\nE1,C2,2026-03-01T02:00:00Z,app_checkin\n"
AS_OF = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
def ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    for kind, text in (("customers", CUSTOMERS), ("transactions", TRANSACTIONS),
                       ("events", EVENTS)):  # fmt: skip
        path = tmp_path / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        workspace.ingest(kind, path)
    workspace.init_rights()
    return workspace


def test_points_from_ingested_data_levels_and_spending(ws: Workspace) -> None:
    first = ws.earn_points(AS_OF)
    assert (first.posted, first.points) == (5, Decimal("2005.00"))
    assert ws.earn_points(AS_OF).posted == 0  # idempotent by source id
    levels = ws.member_levels(AS_OF).set_index("customer_id")
    assert levels.loc["C1", "level"] == "silver" and levels.loc["C2", "level"] == "regular"
    bought = ws.spend_points("C1", "fee_waiver_coupon", key="shop-1")
    assert ws.customer_rights("C1")["points"] == Decimal("0.00")
    assert ws.customer_rights("C1")["coupons"][0].coupon_id == bought.coupon.coupon_id


def test_catalogue_changes_are_audited_and_budgets_follow(ws: Workspace) -> None:
    left = ws.sync_rights()
    assert left["cashback_20"] == Decimal("100000.00")
    ws.sync_rights()
    actions = [e["action"] for e in ws.ops.audit_entries(200)]
    assert actions.count("rights.catalogue") == 1
    path = ws.root / "rights.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("budget_cny: 100000",
                                                             "budget_cny: 40"), encoding="utf-8")  # fmt: skip
    assert ws.sync_rights()["cashback_20"] == Decimal("40.00")
    assert [e["action"] for e in ws.ops.audit_entries(200)].count("rights.catalogue") == 2
    ws.issue_right("cashback_20", "C1", key="a")
    ws.issue_right("cashback_20", "C2", key="b")
    with pytest.raises(BudgetExhausted):
        ws.issue_right("cashback_20", "C2", key="c")


def test_the_rights_command(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    register_commands()
    runner = CliRunner()
    monkeypatch.setenv("LODESTAR_WORKSPACE", str(ws.root))
    ws.close()

    def run(*args: str) -> str:
        state.lang = None
        result = runner.invoke(app, ["--lang", "en", "rights", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "cashback_20" in run("list")
    out = run("issue", "cashback_20", "C1", "--key", "k1")
    coupon = out.split("coupon ")[1].split(" ")[0]
    assert run("issue", "cashback_20", "C1", "--key", "k1") == out
    assert "redeemed" in run("redeem", coupon)
    assert "C1: 0.00 points, CNY 0.00" in run("balance", "C1")
    run("issue", "coffee_voucher", "C2")
    later = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S")
    assert "1 coupons expired" in run("expire", "--as-of", later)
    run("earn", "--as-of", "2026-03-10T00:00:00")
    assert "Silver: 1" in run("levels", "--as-of", "2026-03-10T00:00:00")
    state.lang = None
    refused = runner.invoke(app, ["--lang", "en", "rights", "issue", "nope", "C1"])
    assert refused.exit_code != 0 and "no right 'nope'" in refused.output
