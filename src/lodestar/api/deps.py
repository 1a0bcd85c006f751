"""What routes depend on: the workspace, the caller (an API key) and the permission check.

Authentication reads ``Authorization: Bearer lsk_...``; the key's role must hold the route's
:class:`~lodestar.security.permissions.Permission` (:data:`~.permissions.MATRIX`). No key or
an invalid one answers 401, a role without the permission 403, both in the error format.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lodestar.api.errors import ApiError
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission, allowed
from lodestar.workspace import Workspace

_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                     description="An API key: lodestar apikey create NAME --role ROLE")  # fmt: skip
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The active API key the request carries; 401 without one.

    Async on purpose, with the look-up made inline: a sync dependency costs a hop to the
    thread pool per request, more than the look-up itself (one indexed read by primary
    prefix, which never waits for a lock: SQLite WAL and PostgreSQL readers do not block)."""
    if credentials is None:
        raise ApiError(401, "unauthenticated", "api.unauthenticated", headers=_CHALLENGE)
    ws: Workspace = request.app.state.workspace
    key = ws.authenticate_api_key(credentials.credentials)
    if key is None:
        raise ApiError(401, "invalid_api_key", "api.bad_key", headers=_CHALLENGE)
    request.state.principal = key
    return key


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, ApiKey]]:
    """A dependency: the caller's key, if its role holds ``permission``; 403 otherwise."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not allowed(key.role, permission):
            raise ApiError(403, "forbidden", "api.forbidden", role=key.role.value,
                           permission=permission.value)  # fmt: skip
        return key

    check.permission = permission  # type: ignore[attr-defined]
    return check


def actor(key: ApiKey) -> str:
    """How the audit trail names a key's holder."""
    return f"apikey:{key.id}:{key.name}"
