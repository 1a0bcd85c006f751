"""``GET /health``: the process is up and its operational store answers. No authentication."""

from __future__ import annotations

from fastapi import APIRouter

from lodestar import __version__
from lodestar.api.deps import WorkspaceDep
from lodestar.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health", response_model=Health)
def health(ws: WorkspaceDep) -> Health:
    ws.ops.revision()  # a StorageError (503) when the database is gone
    return Health(version=__version__)
