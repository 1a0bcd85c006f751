"""Fixtures for the REST API: a workspace with a hand-made decision snapshot and a saved plan
(no models needed), consents in its operational store, one API key per role, and a client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_workspace_data import prepare
from fastapi.testclient import TestClient

from lodestar.api.app import create_app
from lodestar.security.permissions import Role
from lodestar.workspace import Workspace


@pytest.fixture
def api_workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path / "ws")
    prepare(ws)
    yield ws
    ws.close()


@pytest.fixture
def keys(api_workspace: Workspace) -> dict[Role, str]:
    """One active key per role."""
    return {role: api_workspace.create_api_key(f"test-{role.value}", role, actor="test")[1]
            for role in Role}  # fmt: skip


@pytest.fixture
def client(api_workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(api_workspace)) as test_client:
        yield test_client


@pytest.fixture
def auth(keys: dict[Role, str]) -> Callable[[Role], dict[str, str]]:
    """The Authorization header of a role's key."""
    return lambda role: {"Authorization": f"Bearer {keys[role]}"}
