"""Real-time next-best-action: ``POST /v1/decide`` and the snapshot it reads."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from starlette.concurrency import run_in_threadpool

from lodestar.api.deps import WorkspaceDep, actor, require
from lodestar.api.schemas import (
    AUTH_ERRORS,
    NOT_FOUND,
    DecideRequest,
    DecisionOut,
    SnapshotOut,
    SnapshotRequest,
)
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission

router = APIRouter(prefix="/v1", tags=["decisions"])


@router.post("/decide", operation_id="decide", response_model=DecisionOut,
             responses={**AUTH_ERRORS, **NOT_FOUND})  # fmt: skip
async def decide(
    body: DecideRequest,
    ws: WorkspaceDep,
    _key: Annotated[ApiKey, Depends(require(Permission.DECIDE))],
) -> DecisionOut:
    """The best allowed action for one customer now, under the contact policy; the contact is
    booked against the caps atomically unless ``dry_run``."""
    context = body.context.model_dump(exclude_none=True) if body.context else None
    # One hop to the thread pool for the decision, which may wait for the ledger's lock; the
    # rest stays on the event loop (a sync route costs several hops: about 0.5 ms a request).
    decision = await run_in_threadpool(partial(
        ws.decide, body.customer_id, channel=body.channel, context=context,
        purpose=body.purpose, reserve=not body.dry_run))  # fmt: skip
    return DecisionOut(**decision.as_dict())


@router.post("/decisions/snapshot", operation_id="rebuild_decision_snapshot",
             response_model=SnapshotOut, responses=AUTH_ERRORS)  # fmt: skip
def rebuild_snapshot(
    ws: WorkspaceDep,
    key: Annotated[ApiKey, Depends(require(Permission.SNAPSHOT_REBUILD))],
    body: Annotated[SnapshotRequest | None, Body()] = None,
) -> SnapshotOut:
    """Rebuild what real-time decisions read from the offers, models and profile (audited);
    every server process picks the new snapshot up on its next decision."""
    asked = body or SnapshotRequest.model_validate({})
    meta = ws.build_decision_snapshot(holdout=asked.holdout, actor=actor(key))
    return SnapshotOut(**meta)
