"""Authentication, the one error format (401, 403, 404, 413, 422, 400) in zh-CN and English,
stable OpenAPI operation ids, and audit entries for API keys."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from lodestar.security.permissions import Role
from lodestar.workspace import Workspace


def error_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


def test_health_and_openapi_need_no_key(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    assert ids == {"health", "decide", "rebuild_decision_snapshot", "list_plans", "get_plan",
                   "explain_plan_customer", "receive_webhook", "list_campaigns",
                   "get_campaign", "save_campaign", "act_on_campaign", "campaign_status",
                   "get_referral_programme", "referral_code", "attribute_referral",
                   "process_referrals", "referral_funnel", "referral_leaderboard",
                   "list_referral_flags", "review_referral", "post_events",
                   "get_campaign_effect"}  # fmt: skip
    assert "ApiKey" in spec["components"]["securitySchemes"]


def test_missing_malformed_unknown_and_revoked_keys_are_401(
        client: TestClient, api_workspace: Workspace) -> None:  # fmt: skip
    body = {"customer_id": "C1", "dry_run": True}
    missing = client.post("/v1/decide", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert error_of(missing)["code"] == "unauthenticated"
    assert "Authorization" in error_of(missing)["message"]
    for header in ("Basic dXNlcjpwYXNz", "Bearer nonsense",
                   "Bearer lsk_00000000_" + "A" * 43):  # fmt: skip
        got = client.post("/v1/decide", json=body, headers={"Authorization": header})
        assert got.status_code == 401, header
    key, secret = api_workspace.create_api_key("app", Role.DECISIONING, actor="test")
    ok = client.post("/v1/decide", json=body, headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert client.post("/v1/decide", json=body,
                       headers={"Authorization": f"Bearer {wrong}"}).status_code == 401  # fmt: skip
    api_workspace.revoke_api_key(key.id, actor="test")
    revoked = client.post("/v1/decide", json=body, headers={"Authorization": f"Bearer {secret}"})
    assert revoked.status_code == 401 and error_of(revoked)["code"] == "invalid_api_key"


def test_keys_are_hashed_and_audited(api_workspace: Workspace) -> None:
    key, secret = api_workspace.create_api_key("crm", "analyst", actor="admin:li")
    api_workspace.revoke_api_key(key.id, actor="admin:li")
    api_workspace.revoke_api_key(key.id, actor="admin:li")  # nothing more to do, nothing logged
    with api_workspace.ops.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT * FROM api_keys").mappings().all()
    assert all(secret not in json.dumps(dict(r), default=str) for r in stored)
    audit = [e for e in api_workspace.ops.audit_entries() if e["entity"] == "api_key"]
    assert [e["action"] for e in audit] == ["apikey.revoke", "apikey.create"]
    assert all(e["actor"] == "admin:li" and secret not in (e["after"] or "") for e in audit)
    listed = {k.id: k for k in api_workspace.api_keys()}
    assert not listed[key.id].active and listed[key.id].revoked_by == "admin:li"


def test_forbidden_in_both_languages(client: TestClient,
                                     auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    zh = client.get("/v1/plans", headers=auth(Role.VIEWER))
    assert zh.status_code == 403 and "没有权限" in error_of(zh)["message"]
    en = client.get("/v1/plans", headers={**auth(Role.VIEWER), "Accept-Language": "en-US,en"})
    assert error_of(en)["message"] == ("the role 'viewer' does not have the permission "
                                       "'plans:read'")  # fmt: skip


def test_not_found_in_the_error_format(client: TestClient,
                                       auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    head = auth(Role.ADMIN)
    assert error_of(client.get("/nowhere"))["code"] == "not_found"
    plan = client.get("/v1/plans/CMP_NONE-v9", headers=head)
    assert plan.status_code == 404 and "CMP_NONE-v9" in error_of(plan)["message"]
    who = client.get("/v1/plans/CMP_TEST-v1/customers/C404", headers=head)
    assert who.status_code == 404 and error_of(who)["code"] == "not_found"
    unknown = client.post("/v1/decide", json={"customer_id": "C404"}, headers=head)
    assert unknown.status_code == 404 and "C404" in error_of(unknown)["message"]
    method = client.delete("/v1/plans", headers=head)
    assert method.status_code == 405 and error_of(method)["code"] == "method_not_allowed"


def test_validation_errors_name_the_field(client: TestClient,
                                          auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    head = auth(Role.ADMIN)
    cases = [
        ({"customer_id": "C1", "channel": "pigeon"}, "channel"),
        ({"customer_id": "C1", "purpose": "spam"}, "purpose"),
        ({"customer_id": "C1", "context": {"page": "home", "mood": "x"}}, "context.mood"),
        ({"customer_id": "C1", "context": {"campaign_id": "bad id!"}}, "context.campaign_id"),
        ({"channel": "sms"}, "customer_id"),
        ({"customer_id": "a/b"}, "customer_id"),
    ]
    for body, field in cases:
        got = client.post("/v1/decide", json=body, headers=head)
        assert got.status_code == 422, body
        assert error_of(got)["code"] == "invalid_request"
        assert error_of(got)["field"] == field
    broken = client.post("/v1/decide", content=b"{not json", headers={
        **head, "Content-Type": "application/json"})  # fmt: skip
    assert broken.status_code == 422 and error_of(broken)["code"] == "invalid_request"
    bad_id = client.get("/v1/plans/..%2Fetc-v1", headers=head)
    assert bad_id.status_code in (404, 422)
    page = client.get("/v1/plans?limit=0", headers=head)
    assert page.status_code == 422 and error_of(page)["field"] == "limit"


def test_request_size_limit(client: TestClient, auth: Callable[[Role], dict[str, str]]) -> None:
    big = json.dumps({"customer_id": "C1", "context": {"page": "x" * (2 << 20)}})
    got = client.post("/v1/decide", content=big, headers={
        **auth(Role.ADMIN), "Content-Type": "application/json"})  # fmt: skip
    assert got.status_code == 413 and error_of(got)["code"] == "payload_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"customer_id": "C1", "context": {"page": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}}'

    streamed = client.post("/v1/decide", content=chunks(), headers={
        **auth(Role.ADMIN), "Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 413


def test_a_workspace_problem_is_a_client_error(client: TestClient,
                                               auth: Callable[[Role], dict[str, str]]) -> None:  # fmt: skip
    # no offer catalogue in the workspace: a ConfigError, 400 in the same format
    got = client.post("/v1/decisions/snapshot", headers=auth(Role.MARKETER))
    assert got.status_code == 400
    assert error_of(got)["code"] == "config_error" and "offer catalogue" in error_of(got)["message"]
