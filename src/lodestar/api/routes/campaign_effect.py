"""A campaign's effect through the API: ``GET /v1/campaigns/{campaign_id}/effect`` — the same
measurement as ``lodestar campaign effect CMP --json`` (incremental conversions, value, profit,
ROI and cost per incremental conversion against the plan's holdout, with intervals; the goals'
verdicts; the rounds). Read with ``campaigns:read``: whoever may read a campaign may read how it
did."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from lodestar.api.deps import WorkspaceDep, require
from lodestar.api.schemas import AUTH_ERRORS, ID, NOT_FOUND, PLAN_ID
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


@router.get("/{campaign_id}/effect", operation_id="get_campaign_effect",
            responses={**AUTH_ERRORS, **NOT_FOUND})  # fmt: skip
def get_campaign_effect(
    ws: WorkspaceDep,
    _key: Annotated[ApiKey, Depends(require(Permission.CAMPAIGNS_READ))],
    campaign_id: Annotated[str, Path(pattern=ID)],
    plan_id: Annotated[str | None, Query(pattern=PLAN_ID)] = None,
    window_days: Annotated[int | None, Query(ge=1, le=365)] = None,
) -> dict[str, Any]:
    """The campaign's incremental effect against its plan's holdout (default: its latest
    plan, the goal's attribution window), with 95% intervals."""
    result: dict[str, Any] = ws.campaign_effect(campaign_id, plan_id=plan_id,
                                                window_days=window_days).as_dict()  # fmt: skip
    return result
