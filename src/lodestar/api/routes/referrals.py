"""Referrals through the API: codes and links, attribution of a typed code, processing the
event feed, the funnel, leaderboard and cost, and the review of fraud flags.

Marketers run the programme, everyone who looks at dashboards reads it (ids and masked names
only), marketers and compliance review flags. The caller's API key is the actor in the audit
trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query

from lodestar.api.deps import WorkspaceDep, actor, require
from lodestar.api.schemas import AUTH_ERRORS, CUSTOMER_ID, NOT_FOUND
from lodestar.security.api_keys import ApiKey
from lodestar.security.permissions import Permission

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])
Reader = Annotated[ApiKey, Depends(require(Permission.REFERRALS_READ))]
Writer = Annotated[ApiKey, Depends(require(Permission.REFERRALS_WRITE))]
Reviewer = Annotated[ApiKey, Depends(require(Permission.REFERRALS_REVIEW))]
CustomerId = Annotated[str, Path(pattern=CUSTOMER_ID)]
CONFIG: dict[int | str, dict[str, Any]] = {
    400: {"description": "no referrals.yaml (or rights.yaml) in the workspace, or invalid"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "the referral is not flagged"}}


@router.get("/programme", operation_id="get_referral_programme",
            responses={**AUTH_ERRORS, **CONFIG})  # fmt: skip
def programme(ws: WorkspaceDep, _key: Reader) -> dict[str, Any]:
    """The programme: id, name, window, steps and their rewards, budget, fraud thresholds."""
    return ws.referral_programme().model_dump(mode="json")


@router.post("/codes/{customer_id}", operation_id="referral_code",
             responses={**AUTH_ERRORS, **CONFIG})  # fmt: skip
def code(ws: WorkspaceDep, _key: Writer, customer_id: CustomerId) -> dict[str, str]:
    """The customer's code and link (made on first ask, the same ever after)."""
    engine = ws.referral_engine()
    return {"customer_id": customer_id, "code": engine.code_for(customer_id),
            "link": engine.link_for(customer_id)}  # fmt: skip


@router.post("/attributions", operation_id="attribute_referral",
             responses={**AUTH_ERRORS, **CONFIG, **NOT_FOUND})  # fmt: skip
def attribute(
    ws: WorkspaceDep,
    key: Writer,
    referee_id: Annotated[str, Body(pattern=CUSTOMER_ID)],
    code: Annotated[str, Body(min_length=4, max_length=32)],
    at: Annotated[datetime | None, Body()] = None,
) -> dict[str, Any]:
    """Attribute a referee who typed a code; an earlier touch in the window still wins.
    ``referral`` is null when nothing qualifies."""
    referral = ws.attribute_referral(referee_id, code, at=at, actor=actor(key))
    return {"referral": None if referral is None else _referral(referral)}


@router.post("/process", operation_id="process_referrals", responses={**AUTH_ERRORS, **CONFIG})
def process(ws: WorkspaceDep, key: Writer,
            limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> dict[str, Any]:  # fmt: skip
    """Advance referrals with the event feed's new events."""
    return ws.process_referrals(limit=limit, actor=actor(key)).as_dict()


@router.get("/funnel", operation_id="referral_funnel", responses={**AUTH_ERRORS, **CONFIG})
def funnel(ws: WorkspaceDep, _key: Reader) -> dict[str, Any]:
    """Funnel stages with conversion from the stage before, and rewards and cost against
    budget."""
    return {"funnel": [{"stage": r.stage, "count": r.count, "rate": r.rate}
                       for r in ws.referral_funnel()],
            "costs": _json(ws.referral_costs())}  # fmt: skip


@router.get("/leaderboard", operation_id="referral_leaderboard",
            responses={**AUTH_ERRORS, **CONFIG})  # fmt: skip
def leaderboard(ws: WorkspaceDep, _key: Reader,
                top: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:  # fmt: skip
    """Top referrers by completed referrals and rewards (customer ids, masked names)."""
    return [_json(b) for b in ws.referral_leaderboard(top=top)]


@router.get("/flags", operation_id="list_referral_flags", responses={**AUTH_ERRORS, **CONFIG})
def flags(ws: WorkspaceDep, _key: Reader,
          open_only: Annotated[bool, Query()] = True) -> list[dict[str, Any]]:  # fmt: skip
    """Fraud flags with rule and evidence (digests and counts, no personal data)."""
    return [_json(f) for f in ws.referral_flags(open_only=open_only)]


@router.post("/{referral_id}/review", operation_id="review_referral",
             responses={**AUTH_ERRORS, **CONFIG, **NOT_FOUND, **CONFLICT})  # fmt: skip
def review(
    ws: WorkspaceDep,
    key: Reviewer,
    referral_id: Annotated[int, Path(ge=1)],
    decision: Annotated[Literal["clear", "confirm"], Body()],
    note: Annotated[str | None, Body(max_length=2000)] = None,
) -> dict[str, Any]:
    """Clear a flagged referral (its withheld rewards are issued) or confirm the fraud."""
    return ws.review_referral(referral_id, decision, note=note, actor=actor(key))


def _referral(r: Any) -> dict[str, Any]:
    return {"referral_id": r.referral_id, "referee_id": r.referee_id,
            "referrer_id": r.referrer_id, "how": r.how, "status": r.status,
            "touched_at": r.touched_at.isoformat(), "attributed_at": r.attributed_at.isoformat()}  # fmt: skip


def _json(value: Any) -> Any:
    """Decimals as strings (exact), datetimes as ISO text."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
