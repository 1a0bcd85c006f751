"""``POST /v1/events`` in process: counts, duplicates, located problems (nothing stored), the
batch and body limits, and the in-flight limit (429 with Retry-After)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient

from lodestar.api.app import create_app
from lodestar.campaigns import event_feed
from lodestar.security.permissions import Role
from lodestar.workspace import Workspace


def ev(i: int, **more: Any) -> dict[str, Any]:
    return {"event_id": f"E{i}", "ts": "2026-12-01T09:00:00+08:00", "customer_id": "C1",
            "event_name": "apply_start", **more}  # fmt: skip


def with_customer(ws: Workspace) -> None:
    ws.load_tables([("customers", pa.table({"customer_id": ["C1"], "join_date": ["2020-01-01"]}))],
                   source="test")  # fmt: skip


def test_a_batch_is_stored_and_counted(client: TestClient, api_workspace: Workspace,
                                       auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    with_customer(api_workspace)
    head = auth(Role.INTEGRATION)
    got = client.post("/v1/events", json={"events": [ev(1), ev(2, properties={"amount": 5})]},
                      headers=head)  # fmt: skip
    assert got.status_code == 200 and got.json() == {"received": 2, "new": 2, "duplicates": 0}
    retry = client.post("/v1/events", json={"events": [ev(2), ev(3)]}, headers=head)
    assert retry.json() == {"received": 2, "new": 1, "duplicates": 1}
    assert [e.event_id for e in event_feed.read_after(api_workspace.ops, 0)] == ["E1", "E2", "E3"]
    empty = client.post("/v1/events", json={"events": []}, headers=head)
    assert empty.json() == {"received": 0, "new": 0, "duplicates": 0}


def test_every_problem_is_located_and_nothing_stored(
        client: TestClient, api_workspace: Workspace,
        auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    with_customer(api_workspace)
    batch = [ev(1), ev(2, ts="2026-12-01T09:00:00"), ev(3, event_name="Bad Name", extra=1),
             ev(4, customer_id="C404")]  # fmt: skip
    got = client.post("/v1/events", json={"events": batch},
                      headers={**auth(Role.ADMIN), "Accept-Language": "en"})  # fmt: skip
    assert got.status_code == 422
    error = got.json()["error"]
    assert error["code"] == "invalid_events" and error["field"] == "events[1].ts"
    fields = [p["field"] for p in error["problems"]]
    assert fields == ["events[1].ts", "events[2].event_name", "events[2].extra",
                      "events[3].customer_id"]  # fmt: skip
    assert "nothing was stored" in error["message"] and "UTC offset" in error["message"]
    assert event_feed.last_seq(api_workspace.ops) == 0
    zh = client.post("/v1/events", json={"events": batch}, headers=auth(Role.ADMIN))
    assert "均未保存" in zh.json()["error"]["message"]


def test_shape_and_size_limits(client: TestClient,
                               auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    head = auth(Role.INTEGRATION)
    for body, field in (([ev(1)], "events"), ({"event": []}, "events"),
                        ({"events": [], "more": 1}, "more")):  # fmt: skip
        got = client.post("/v1/events", json=body, headers=head)
        assert got.status_code == 422 and got.json()["error"]["field"] == field, body
    broken = client.post("/v1/events", content=b"{nope",
                         headers={**head, "Content-Type": "application/json"})  # fmt: skip
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "body"
    many = client.post("/v1/events", json={"events": [ev(i, customer_id=None, anonymous_id="D")
                                                      for i in range(1001)]}, headers=head)  # fmt: skip
    assert many.status_code == 422 and many.json()["error"]["code"] == "too_many_events"
    # 1,000 events of ~2 KB (2 MB) pass the events route's own limit; 9 MB do not
    fat = {"events": [ev(i, customer_id=None, anonymous_id="D", properties={"x": "y" * 2000})
                      for i in range(1000)]}  # fmt: skip
    assert client.post("/v1/events", json=fat, headers=head).status_code == 200
    huge = json.dumps({"events": [ev(1, properties={"x": "y" * (9 << 20)})]})
    got = client.post("/v1/events", content=huge,
                      headers={**head, "Content-Type": "application/json"})  # fmt: skip
    assert got.status_code == 413 and got.json()["error"]["code"] == "payload_too_large"
    # the rest of the API keeps 1 MiB
    big = json.dumps({"customer_id": "C1", "context": {"page": "x" * (2 << 20)}})
    assert client.post("/v1/decide", content=big, headers={
        **head, "Content-Type": "application/json"}).status_code == 413  # fmt: skip


def test_beyond_the_in_flight_limit_the_answer_is_429(
        api_workspace: Workspace, auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    app = create_app(api_workspace, events_in_flight=1)
    with TestClient(app) as client:
        from lodestar.api.routes.events import gate

        class Req:  # the gate of this app, as a request would find it
            pass

        req = Req()
        req.app = app  # type: ignore[attr-defined]
        limit = gate(req)  # type: ignore[arg-type]
        assert limit.limit == 1
        assert limit.enter()  # one batch in flight
        body = {"events": [ev(1, customer_id=None, anonymous_id="D1")]}
        busy = client.post("/v1/events", json=body, headers=auth(Role.INTEGRATION))
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "too_many_requests"
        limit.leave()
        assert client.post("/v1/events", json=body,
                           headers=auth(Role.INTEGRATION)).status_code == 200  # fmt: skip
        assert limit.now == 0
