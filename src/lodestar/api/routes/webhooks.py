"""``POST /v1/webhooks/{channel}``: delivery receipts and responses from a channel's gateway.

No API key: the request is authenticated by its HMAC signature with the channel's shared secret
(the workspace's ``channels:`` settings name the environment variable holding it), its
timestamp (five minutes either way) and a replay guard. A bad signature, a stale timestamp or a
replay answers 401; a body that cannot be read, 400; a channel with no gateway settings, 404.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from lodestar.api.deps import WorkspaceDep
from lodestar.api.errors import error_body
from lodestar.channels.webhooks import ReplayGuard, receive_webhook
from lodestar.errors import WebhookRejected

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_GUARD = ReplayGuard()


def _secret(ws: Any, channel: str) -> str | None:
    from lodestar.channels.registry import HttpSettings, parse_channel_settings
    from lodestar.config import WORKSPACE_FILE
    from lodestar.located_yaml import load_located

    settings = parse_channel_settings(load_located(ws.root / WORKSPACE_FILE)).get(channel)
    if not isinstance(settings, HttpSettings):
        return None
    return os.environ.get(settings.secret_env) or None


@router.post("/{channel}", operation_id="receive_webhook",
             responses={401: {"description": "bad signature, stale or replayed"},
                        400: {"description": "unreadable body"},
                        404: {"description": "no gateway for this channel"}})  # fmt: skip
async def receive(
    request: Request,
    ws: WorkspaceDep,
    channel: Annotated[str, Path(pattern=r"^[a-z_]{1,32}$")],
) -> JSONResponse:
    """Record the gateway's delivery events for ``channel``; each event is stored once."""
    from lodestar.campaigns.delivery import record_events

    secret = _secret(ws, channel)
    if secret is None:
        return JSONResponse(error_body("not_found", f"no gateway settings for channel "
                                                    f"'{channel}'"), status_code=404)  # fmt: skip
    body = await request.body()
    try:
        events = receive_webhook(channel, secret, dict(request.headers), body,
                                 replay_guard=_GUARD)  # fmt: skip
    except WebhookRejected as exc:
        status = 400 if exc.reason == "bad_body" else 401
        return JSONResponse(error_body(exc.reason, exc.message), status_code=status)
    stored = record_events(ws.ops, events)
    return JSONResponse({"received": len(events), "new": stored})
