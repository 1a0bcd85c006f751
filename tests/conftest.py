"""Shared fixtures: workspaces on SQLite and on PostgreSQL, and the public datasets."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lodestar.workspace import Workspace

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SHARED_DATA = Path(
    os.environ.get("LODESTAR_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def _postgres_url() -> str:
    return os.environ.get("LODESTAR_TEST_POSTGRES_URL", DEFAULT_PG)


def _postgres_reachable(url: str) -> str | None:
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _postgres_url()
    problem = _postgres_reachable(url)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {url}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {url}: {problem}")
    return url


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The operational store under test: embedded SQLite (None) or a PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def workspace(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path / "ws", database_url=database_url)
    yield ws
    ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public datasets not found at {SHARED_DATA} (set LODESTAR_SHARED_DATA)")
    return SHARED_DATA


def workspace_state(ws: Workspace) -> dict[str, object]:
    """Everything a load could change: analytical row counts, operational row counts, and a
    checksum of the stored customers and transactions."""
    state: dict[str, object] = dict(ws.counts())
    for table in ("ingestion_runs", "consents", "audit_log"):
        state[f"ops.{table}"] = ws.ops.count(table)
    for table in ("customers", "transactions"):
        state[f"hash.{table}"] = ws.query(
            f"SELECT hash(list(t ORDER BY t)) FROM {table} t"
        ).to_pylist()
    return state


@pytest.fixture
def state_of():
    return workspace_state
