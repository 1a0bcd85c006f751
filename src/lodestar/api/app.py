"""The FastAPI application, built by :func:`create_app` (nothing happens at import time).

>>> # app = create_app("bank")          # opens the workspace when the server starts
>>> # app = create_app(Workspace.open("bank"))  # or serves an open one (tests, notebooks)

``lodestar serve`` runs :func:`serving_app` in each uvicorn worker; the workspace path comes
from ``LODESTAR_WORKSPACE``. A served workspace opens its analytical store read-only, so
several workers can share it (DuckDB allows one writer *or* many readers per file).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from lodestar import __version__
from lodestar.api import errors
from lodestar.api.limits import DEFAULT_MAX_BODY, BodySizeLimit
from lodestar.errors import LodestarError
from lodestar.workspace import Workspace

_log = logging.getLogger("lodestar.api")


def create_app(workspace: str | Path | Workspace, *, max_body: int = DEFAULT_MAX_BODY,
               events_in_flight: int | None = None) -> FastAPI:  # fmt: skip
    """The API over ``workspace``: a path (opened at start-up, closed at shut-down) or an open
    :class:`Workspace` (left open). ``events_in_flight`` overrides the workspace's
    ``events.max_in_flight`` (batches of events one process handles at once)."""
    from lodestar.api.routes import (
        campaign_effect,
        campaigns,
        decisions,
        events,
        health,
        plans,
        referrals,
        webhooks,
    )

    given = workspace if isinstance(workspace, Workspace) else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ws = given or Workspace.open(Path(workspace), analytics_read_only=True)  # type: ignore[arg-type]
        app.state.workspace = ws
        _warm(ws)
        try:
            yield
        finally:
            if given is None:
                ws.close()

    app = FastAPI(
        title="Lodestar",
        version=__version__,
        summary="Precision marketing for retail banks: real-time decisions, plans.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    if given is not None:
        app.state.workspace = given
    app.state.events_in_flight = events_in_flight
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_body=max_body,
                       paths={"/v1/events": max(max_body, events.EVENTS_MAX_BODY)})  # fmt: skip
    for module in (health, decisions, plans, campaigns, campaign_effect, referrals, webhooks,
                   events):
        app.include_router(module.router)
    return app


def serving_app() -> FastAPI:
    """The app ``lodestar serve`` runs: the workspace named by ``LODESTAR_WORKSPACE``."""
    from lodestar.workspace import default_workspace_path

    return create_app(default_workspace_path())


def _warm(ws: Workspace) -> None:
    """Load the decision engine now, so the first request does not pay for it."""
    try:
        ws.next_best_action()
    except LodestarError as exc:
        _log.warning("no real-time decisions until a snapshot is built: %s", exc.message)
