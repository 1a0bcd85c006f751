"""Saved campaign plans: list, read, and explain one customer's decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from lodestar.api.deps import WorkspaceDep, require
from lodestar.api.schemas import (
    AUTH_ERRORS,
    CUSTOMER_ID,
    NOT_FOUND,
    PLAN_ID,
    Explanation,
    PlanPage,
    PlanSummary,
)
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission

router = APIRouter(prefix="/v1/plans", tags=["plans"])

Reader = Annotated[ApiKey, Depends(require(Permission.PLANS_READ))]
PlanId = Annotated[str, Path(pattern=PLAN_ID, description="CAMPAIGN-vN")]


@router.get("", operation_id="list_plans", response_model=PlanPage, responses=AUTH_ERRORS)
def list_plans(
    ws: WorkspaceDep,
    _key: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PlanPage:
    """Saved plans, newest first."""
    plans = list(reversed(ws.plans()))
    page = [PlanSummary(**p.summary) for p in plans[offset:offset + limit]]
    return PlanPage(items=page, total=len(plans), limit=limit, offset=offset)


@router.get("/{plan_id}", operation_id="get_plan", response_model=PlanSummary,
            responses={**AUTH_ERRORS, **NOT_FOUND})  # fmt: skip
def get_plan(ws: WorkspaceDep, _key: Reader, plan_id: PlanId) -> PlanSummary:
    """One plan's summary: counts, expected cost and value, budget use, exclusion funnel."""
    return PlanSummary(**ws.saved_plan(plan_id).summary)


@router.get("/{plan_id}/customers/{customer_id}", operation_id="explain_plan_customer",
            response_model=Explanation, responses={**AUTH_ERRORS, **NOT_FOUND})  # fmt: skip
def explain(
    ws: WorkspaceDep,
    _key: Reader,
    plan_id: PlanId,
    customer_id: Annotated[str, Path(pattern=CUSTOMER_ID)],
) -> Explanation:
    """Why the customer got what they got in the plan (or nothing)."""
    return Explanation(**ws.explain_plan(plan_id, customer_id))
