"""POST /v1/decide end to end on a workspace with a hand-made snapshot (SQLite): the best
allowed action with its limit and rate, the dry run, the holdout, nothing to offer, the caps,
a snapshot rebuilt by another process picked up; and the apikey commands."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lodestar.cli.main import app as cli_app
from lodestar.cli.main import register_commands, state
from lodestar.security.permissions import Role
from lodestar.workspace import Workspace


def test_decide_end_to_end(client: TestClient, api_workspace: Workspace,
                           auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    head = auth(Role.DECISIONING)
    preview = client.post("/v1/decide", json={"customer_id": "C1", "dry_run": True},
                          headers=head).json()  # fmt: skip
    assert (preview["outcome"], preview["offer_id"], preview["channel"]) == (
        "offer", "LOAN", "app_push")
    assert preview["reservation_id"] is None
    assert preview["credit_limit"] == 50_000.0 and preview["credit_rate"] == 6.5
    assert preview["expected_net"] == pytest.approx(118.0)
    assert preview["reasons"][0].startswith("chosen: LOAN by app_push")
    sms = client.post("/v1/decide", json={"customer_id": "C1", "channel": "sms",
                                          "dry_run": True}, headers=head).json()  # fmt: skip
    assert sms["offer_id"] == "CARD" and sms["credit_limit"] is None
    booked = [client.post("/v1/decide", headers=head, json={
        "customer_id": "C1", "context": {"page": "home", "event": "login",
                                         "campaign_id": "APP_HOME"}}).json()
        for _ in range(4)]  # fmt: skip
    # the example policy allows two contacts a day: two offers, then nothing
    assert [b["outcome"] for b in booked] == ["offer", "offer", "none", "none"]
    assert any("frequency" in r for r in booked[2]["reasons"])
    ledger = api_workspace.next_best_action().ledger.reservations("C1")
    assert len(ledger) == 2 and set(ledger["campaign_id"]) == {"APP_HOME"}
    holdout = client.post("/v1/decide", json={"customer_id": "C2"}, headers=head).json()
    assert holdout["outcome"] == "holdout" and holdout["offer_id"] is None
    nothing = client.post("/v1/decide", json={"customer_id": "C3"}, headers=head).json()
    assert nothing["outcome"] == "none"


def test_a_snapshot_rebuilt_elsewhere_is_picked_up(client: TestClient, api_workspace: Workspace,
                                                   auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    body = {"customer_id": "C1", "dry_run": True}
    assert client.post("/v1/decide", json=body,
                       headers=auth(Role.ADMIN)).json()["offer_id"] == "LOAN"  # fmt: skip
    # another process (lodestar decide --refresh) rewrites the snapshot: only the card is left
    snap = api_workspace.snapshot_dir
    frame = pq.read_table(snap / "candidates.parquet").to_pandas()
    frame = frame[frame["offer_id"] != "LOAN"]
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), snap / "candidates.parquet")
    meta = snap / "meta.json"
    meta.write_text(json.dumps({"holdout": 0.05, "made_at": "later"}))
    stat = meta.stat()
    os.utime(meta, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert client.post("/v1/decide", json=body,
                       headers=auth(Role.ADMIN)).json()["offer_id"] == "CARD"  # fmt: skip


def test_plans_list_read_and_explain(client: TestClient,
                                     auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    head = auth(Role.ANALYST)
    page = client.get("/v1/plans", headers=head).json()
    assert page["total"] == 1 and page["items"][0]["plan_id"] == "CMP_TEST-v1"
    assert client.get("/v1/plans?offset=1", headers=head).json()["items"] == []
    plan = client.get("/v1/plans/CMP_TEST-v1", headers=head).json()
    assert plan["contacts"] == 1 and plan["created_by"] == "test"
    why = client.get("/v1/plans/CMP_TEST-v1/customers/C1", headers=head).json()
    assert why["decision"] == "contact" and why["why"][0].startswith("chosen: LOAN")


def test_apikey_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_commands()
    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    runner = CliRunner()
    Workspace.init(tmp_path / "ws").close()  # the commands open it themselves
    where = str(tmp_path / "ws")

    def active(key: str) -> bool:
        with Workspace.open(where, analytics_read_only=True) as ws:
            return ws.authenticate_api_key(key) is not None

    def run(*args: str):  # type: ignore[no-untyped-def]
        state.lang = None
        return runner.invoke(cli_app, ["--lang", "en", *args, "-w", where])

    made = run("apikey", "create", "app-backend", "--role", "decisioning", "--json")
    assert made.exit_code == 0, made.output
    record = json.loads(made.stdout)
    assert record["key"].startswith("lsk_") and record["role"] == "decisioning"
    assert active(record["key"])
    listed = json.loads(run("apikey", "list", "--json").stdout)
    assert [k["name"] for k in listed] == ["app-backend"] and "key" not in listed[0]
    assert run("apikey", "revoke", str(record["id"])).exit_code == 0
    assert not active(record["key"])
    bad = run("apikey", "create", "x", "--role", "root")
    assert bad.exit_code == 1 and "unknown role" in bad.output
    assert run("apikey", "revoke", "99").exit_code == 1
    plain = run("apikey", "create", "crm", "--role", "analyst")
    assert plain.exit_code == 0 and plain.stdout.strip().splitlines()[-1].startswith("lsk_")


def test_serving_by_path_opens_the_analytics_read_only(tmp_path: Path) -> None:
    from lodestar.api.app import create_app

    ws = Workspace.init(tmp_path / "ws")
    ws.close()
    with TestClient(create_app(tmp_path / "ws")) as first, \
            TestClient(create_app(tmp_path / "ws")) as second:  # fmt: skip
        # two servers on one workspace, as two uvicorn workers are
        assert first.get("/health").status_code == second.get("/health").status_code == 200
        assert first.app.state.workspace.analytics_read_only  # type: ignore[attr-defined]
