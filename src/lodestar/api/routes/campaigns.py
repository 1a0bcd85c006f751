"""Campaigns through the API: read, write (a new version), and move through the lifecycle.

The caller's API key is the actor: its name is who acts and its role what they may do, so
maker-checker holds here as at the command line — the approver must hold the approver role and
must not have written or submitted the version. A lifecycle action not allowed in the
campaign's state, or by maker-checker, answers 409; a role that may not take the action, 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path

from lodestar.api.deps import WorkspaceDep, require
from lodestar.api.errors import ApiError
from lodestar.api.schemas import AUTH_ERRORS, ID, NOT_FOUND
from lodestar.campaigns.definition import CampaignDefinition
from lodestar.campaigns.lifecycle import TRANSITIONS, Actor
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
CampaignId = Annotated[str, Path(pattern=ID)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "not allowed in the campaign's state, or by maker-checker"}}


@router.get("", operation_id="list_campaigns", responses=AUTH_ERRORS)
def list_campaigns(
    ws: WorkspaceDep, _key: Annotated[ApiKey, Depends(require(Permission.CAMPAIGNS_READ))]
) -> list[dict[str, Any]]:
    """Every campaign with its state, current and approved versions."""
    return [c.as_dict() for c in ws.campaigns.all()]


@router.get("/{campaign_id}", operation_id="get_campaign",
            responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT})  # fmt: skip
def get_campaign(
    ws: WorkspaceDep,
    _key: Annotated[ApiKey, Depends(require(Permission.CAMPAIGNS_READ))],
    campaign_id: CampaignId,
) -> dict[str, Any]:
    """The campaign's state, its current definition and its history."""
    campaigns = ws.campaigns
    return {"campaign": campaigns.get(campaign_id).as_dict(),
            "definition": campaigns.definition(campaign_id).model_dump(mode="json"),
            "history": [{**h, "at": h["at"].isoformat()}
                        for h in campaigns.history(campaign_id)]}  # fmt: skip


@router.get("/{campaign_id}/status", operation_id="campaign_status",
            responses={**AUTH_ERRORS, **NOT_FOUND})  # fmt: skip
def campaign_status(
    ws: WorkspaceDep,
    _key: Annotated[ApiKey, Depends(require(Permission.CAMPAIGNS_READ))],
    campaign_id: CampaignId,
) -> dict[str, Any]:
    """Live monitoring: sends per journey step with delivery, open, click and reply receipts,
    the journeys' outcomes (converted = left at the goal), why sends stopped, cost against
    budget, and the campaign funnel."""
    from lodestar.campaigns.monitoring import funnel

    got = ws.campaign_status(campaign_id)
    return {**got, "funnel": [{"stage": k, "count": n} for k, n in funnel(got)]}


@router.put("/{campaign_id}", operation_id="save_campaign",
            responses={**AUTH_ERRORS, **CONFLICT})  # fmt: skip
def save_campaign(
    ws: WorkspaceDep,
    key: Annotated[ApiKey, Depends(require(Permission.CAMPAIGNS_WRITE))],
    campaign_id: CampaignId,
    definition: CampaignDefinition,
) -> dict[str, Any]:
    """Create the campaign or store a new version (an edit after approval needs a new one)."""
    if definition.campaign != campaign_id:
        raise ApiError(422, "campaign_mismatch", "api.campaign_mismatch", field="campaign",
                       path=campaign_id, body=definition.campaign)  # fmt: skip
    return ws.campaigns.save(definition, Actor(key.name, key.role.value)).as_dict()


@router.post("/{campaign_id}/actions/{action}", operation_id="act_on_campaign",
             responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT})  # fmt: skip
def act(
    ws: WorkspaceDep,
    key: Annotated[ApiKey, Depends(require(Permission.CAMPAIGNS_ACT))],
    campaign_id: CampaignId,
    action: Annotated[str, Path(pattern="^(" + "|".join(TRANSITIONS) + ")$")],
    comment: Annotated[str | None, Body(embed=True, max_length=2000)] = None,
) -> dict[str, Any]:
    """Submit, approve, reject, schedule, start, pause, resume, complete or cancel."""
    if key.role.value not in TRANSITIONS[action][2]:
        raise ApiError(403, "forbidden", "api.forbidden", role=key.role.value,
                       permission=f"campaigns:{action}")  # fmt: skip
    return ws.campaigns.act(campaign_id, action, Actor(key.name, key.role.value),
                            comment=comment).as_dict()  # fmt: skip
