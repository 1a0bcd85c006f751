"""``POST /v1/events``: customer events from the bank's systems into the live event feed, which
event-triggered journeys read within seconds.

- **Batches of up to 1,000 events** (``{"events": [...]}``), each checked against the
  ``events`` entity like ingestion checks a file; a batch with any problem is refused whole
  (422, every problem located as ``events[i].field``) and nothing is stored.
- **Acknowledged only once stored**: the 200 answer (received / new / duplicates) is sent after
  the feed's transaction committed, so a server killed at any moment has lost no acknowledged
  event; a client that got no answer sends the batch again, and the ids it repeats count as
  duplicates.
- **Backpressure**: each server process handles at most ``events.max_in_flight`` batches at
  once (``lodestar.yaml``); beyond that it answers 429 with ``Retry-After`` at once, rather
  than queueing requests without bound until memory or time runs out.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from lodestar.api.deps import WorkspaceDep, require
from lodestar.api.errors import ApiError, request_locale
from lodestar.api.schemas import AUTH_ERRORS, ErrorResponse
from lodestar.data.event_batch import MAX_EVENTS, located
from lodestar.errors import ValidationFailed
from lodestar.i18n import t
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission
from lodestar.workspace import Workspace

router = APIRouter(prefix="/v1", tags=["events"])
#: 8 MiB: 1,000 events of up to about 8 KB each (the rest of the API keeps 1 MiB)
EVENTS_MAX_BODY = 8 << 20
#: seconds a refused client should wait: a batch takes milliseconds, so one is plenty
RETRY_AFTER = 1


class EventCountsOut(BaseModel):
    received: int
    new: int
    duplicates: int


class InFlight:
    """How many batches this process is handling, with a limit. Only the event loop's thread
    touches it (entering and leaving happen in the async route), so it needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.now = 0

    def enter(self) -> bool:
        if self.now >= self.limit:
            return False
        self.now += 1
        return True

    def leave(self) -> None:
        self.now -= 1


_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_id", "ts", "event_name"],
    "properties": {
        "event_id": {"type": "string", "description": "Unique; a repeated id is ignored."},
        "ts": {"type": "string", "format": "date-time",
               "description": "With its UTC offset, e.g. 2026-05-01T09:30:00+08:00."},
        "customer_id": {"type": "string"},
        "anonymous_id": {"type": "string", "description": "Device / cookie id (customer_id "
                                                          "or this one is required)."},
        "event_name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
        "platform": {"type": "string"}, "session_id": {"type": "string"},
        "page": {"type": "string"}, "referrer": {"type": "string"},
        "source": {"type": "string"}, "medium": {"type": "string"},
        "campaign": {"type": "string"}, "properties": {"type": "object"},
    },
}  # fmt: skip
_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "required": ["events"], "additionalProperties": False,
               "properties": {"events": {"type": "array", "maxItems": MAX_EVENTS,
                                         "items": _EVENT_SCHEMA}}}}}}}  # fmt: skip


def gate(request: Request) -> InFlight:
    """This process's limit, made on first use from the workspace's settings."""
    state = request.app.state
    current: InFlight | None = getattr(state, "events_gate", None)
    if current is None:
        limit = getattr(state, "events_in_flight", None)
        current = state.events_gate = InFlight(
            limit or state.workspace.event_settings.max_in_flight)
    return current


@router.post("/events", operation_id="post_events", response_model=EventCountsOut,
             openapi_extra=_BODY,
             responses={**AUTH_ERRORS,
                        413: {"model": ErrorResponse, "description": "Body over 8 MiB."},
                        429: {"model": ErrorResponse, "description": "Too many batches in "
                              "flight; retry after Retry-After seconds."}})  # fmt: skip
async def post_events(
    request: Request,
    ws: WorkspaceDep,
    _key: Annotated[ApiKey, Depends(require(Permission.EVENTS_WRITE))],
) -> Any:
    """Store a batch of customer events in the live event feed (all of them or none); answers
    once they are stored. Events whose id was stored before are counted as duplicates."""
    limit = gate(request)
    if not limit.enter():
        raise ApiError(429, "too_many_requests", "api.events_busy", limit=limit.limit,
                       headers={"Retry-After": str(RETRY_AFTER)})  # fmt: skip
    try:
        body = await request.body()
        # parsing and checking 1,000 events takes milliseconds: off the event loop
        outcome = await run_in_threadpool(_store, ws, body)
    finally:
        limit.leave()
    if isinstance(outcome, ValidationFailed):
        loc = request_locale(request)
        problems = located(outcome.report, loc)
        shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        message = t("api.events_invalid", loc, total=outcome.report.total, first=shown)
        return JSONResponse({"error": {"code": "invalid_events", "message": message,
                                       "field": problems[0]["field"] if problems else "events",
                                       "problems": problems}}, status_code=422)  # fmt: skip
    return outcome


def _store(ws: Workspace, body: bytes) -> dict[str, int] | ValidationFailed:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_request", "api.invalid", field="body",
                       problem=f"not JSON ({exc})") from None  # fmt: skip
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise ApiError(422, "invalid_request", "api.invalid", field="events",
                       problem='expected {"events": [...]}')  # fmt: skip
    extra = sorted(set(doc) - {"events"})
    if extra:
        raise ApiError(422, "invalid_request", "api.invalid", field=extra[0],
                       problem="not a field of the request")  # fmt: skip
    events = doc["events"]
    if len(events) > MAX_EVENTS:
        raise ApiError(422, "too_many_events", "api.events_too_many", field="events",
                       n=len(events), limit=MAX_EVENTS)  # fmt: skip
    try:
        return ws.post_events(events).as_dict()
    except ValidationFailed as exc:
        return exc
