"""``POST /v1/webhooks/{channel}``: signed receipts are stored once and counted against the
campaign; unsigned, tampered, stale and replayed requests are refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from lodestar.api.app import create_app
from lodestar.campaigns.outbox import Outbox
from lodestar.channels.webhooks import signature_headers
from lodestar.workspace import Workspace

SETTINGS = """
channels:
  sms: {kind: http, url: "http://127.0.0.1:9/send", secret_env: LODESTAR_TEST_SMS_SECRET}
"""


@pytest.fixture
def client(api_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("LODESTAR_TEST_SMS_SECRET", "gw-secret")
    settings = api_workspace.root / "lodestar.yaml"
    settings.write_text(settings.read_text("utf-8") + SETTINGS, encoding="utf-8")
    Outbox(api_workspace.ops).enqueue([{"campaign_id": "CMP_W", "step": "1",
                                        "customer_id": "C1", "channel": "sms"}])  # fmt: skip
    with TestClient(create_app(api_workspace)) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, *, secret: str = "gw-secret",
         ts: int | None = None) -> object:  # fmt: skip
    headers = signature_headers(secret, body, now=ts or time.time())
    return client.post("/v1/webhooks/sms", content=body,
                       headers={**headers, "Content-Type": "application/json"})  # fmt: skip


def test_signed_receipts_are_stored_once_and_counted(client: TestClient,
                                                     api_workspace: Workspace) -> None:  # fmt: skip
    body = json.dumps({"events": [
        {"idempotency_key": "CMP_W:1:C1", "status": "delivered", "at": "2026-12-03T04:00:00Z"},
        {"idempotency_key": "CMP_W:1:C1", "status": "clicked", "at": "2026-12-03T04:05:00Z"},
    ]}).encode()  # fmt: skip
    first = post(client, body)
    assert first.status_code == 200 and first.json() == {"received": 2, "new": 2}
    again = post(client, body, ts=int(time.time()) + 1)  # the gateway resends: a new signature
    assert again.status_code == 200 and again.json() == {"received": 2, "new": 0}
    from lodestar.campaigns.delivery import delivery_counts

    assert delivery_counts(api_workspace.ops, "CMP_W") == {"delivered": 1, "clicked": 1}


def test_bad_requests_are_refused(client: TestClient) -> None:
    body = json.dumps({"idempotency_key": "k", "status": "delivered",
                       "at": datetime.now(UTC).isoformat()}).encode()  # fmt: skip
    assert post(client, body, secret="wrong").status_code == 401
    stale = post(client, body, ts=int(time.time()) - 3600)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "stale_timestamp"
    unsigned = client.post("/v1/webhooks/sms", content=body)
    assert unsigned.status_code == 401
    ts = int(time.time())
    assert post(client, body, ts=ts).status_code == 200
    replay = post(client, body, ts=ts)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "replayed"
    junk = post(client, b"not json")
    assert junk.status_code == 400 and junk.json()["error"]["code"] == "bad_body"
    assert client.post("/v1/webhooks/wecom", content=body).status_code == 404
