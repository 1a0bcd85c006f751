"""Campaigns through the API: the key is the actor, so maker-checker holds over HTTP."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lodestar.security.permissions import Role
from lodestar.workspace import Workspace

DEFINITION = {"campaign": "CMP_API", "name": "消费贷唤醒", "journey": [
    {"send": {"channel": "app_push"}}, {"wait": {"days": 3}}, {"send": {"channel": "sms"}}],
    "plan": {"campaign": "CMP_API"}}


def test_maker_checker_over_http(client: TestClient, api_workspace: Workspace,
                                 auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    maker, checker = auth(Role.MARKETER), auth(Role.APPROVER)
    saved = client.put("/v1/campaigns/CMP_API", json=DEFINITION, headers=maker)
    assert saved.status_code == 200 and saved.json()["state"] == "draft"
    mismatch = client.put("/v1/campaigns/OTHER", json=DEFINITION, headers=maker)
    assert mismatch.status_code == 422 and mismatch.json()["error"]["field"] == "campaign"
    bad = client.put("/v1/campaigns/CMP_API", headers=maker,
                     json={**DEFINITION, "journey": [{"send": {"channel": "fax"}}]})  # fmt: skip
    assert bad.status_code == 422
    assert client.post("/v1/campaigns/CMP_API/actions/submit", headers=maker).status_code == 200
    # a marketer may not approve (403); the approver may, with a comment
    assert client.post("/v1/campaigns/CMP_API/actions/approve", headers=maker).status_code == 403
    approved = client.post("/v1/campaigns/CMP_API/actions/approve", headers=checker,
                           json={"comment": "ok"})  # fmt: skip
    assert approved.status_code == 200 and approved.json()["approved_version"] == 1
    # approving again is not allowed in this state: 409 in the error format
    again = client.post("/v1/campaigns/CMP_API/actions/approve", headers=checker)
    assert again.status_code == 409 and again.json()["error"]["code"] == "campaign_error"
    # an edit sends it back to draft; the person who wrote it cannot approve it, even with an
    # approver's key of their own (keys are people's: the name is the person)
    edited = client.put("/v1/campaigns/CMP_API", headers=maker,
                        json={**DEFINITION, "name": "消费贷唤醒（二）"})  # fmt: skip
    assert edited.json()["state"] == "draft" and edited.json()["version"] == 2
    _, own = api_workspace.create_api_key("test-marketer", Role.APPROVER, actor="test")
    client.post("/v1/campaigns/CMP_API/actions/submit", headers=checker)  # refused: 403
    assert client.post("/v1/campaigns/CMP_API/actions/submit", headers=maker).status_code == 200
    self_approval = client.post("/v1/campaigns/CMP_API/actions/approve",
                                headers={"Authorization": f"Bearer {own}"})  # fmt: skip
    assert self_approval.status_code == 409
    assert "maker-checker" in self_approval.json()["error"]["message"]
    shown = client.get("/v1/campaigns/CMP_API", headers=auth(Role.ANALYST)).json()
    assert [h["action"] for h in shown["history"]] == ["create", "submit", "approve", "edit",
                                                       "submit"]  # fmt: skip
    assert shown["history"][2]["actor"] == "test-approver"
    listed = client.get("/v1/campaigns", headers=auth(Role.COMPLIANCE)).json()
    assert [c["campaign_id"] for c in listed] == ["CMP_API"]
    assert client.get("/v1/campaigns/NOPE", headers=maker).status_code == 404
