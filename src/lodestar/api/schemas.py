"""Request and response shapes of the REST API (pydantic). The OpenAPI document is built from
these; the error shape is the one every failure answers with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lodestar.decisioning.policy_rules import Channel, Purpose

#: offer / campaign ids (lodestar.decisioning.offers.ID_PATTERN)
ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
#: plan ids: CAMPAIGN-vN
PLAN_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}-v[0-9]{1,9}$"
#: customer ids as the canonical schema keeps them (operational tables hold up to 64)
CUSTOMER_ID = r"^[^\s/\\]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, forbidden.")
    message: str = Field(description="What went wrong, in the caller's language "
                                     "(Accept-Language: zh-CN by default, or en).")  # fmt: skip
    field: str | None = Field(None, description="The request field at fault, when one is.")


class ErrorResponse(BaseModel):
    """Every error, whatever its status."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class DecideContext(_Strict):
    page: str | None = Field(None, max_length=200, description="Page or screen asking.")
    event: str | None = Field(None, max_length=200, description="Event that triggered the ask.")
    campaign_id: str | None = Field(None, pattern=ID,
                                    description="Campaign the contact is booked under "
                                                "(default REALTIME_NBA).")  # fmt: skip


class DecideRequest(_Strict):
    customer_id: str = Field(pattern=CUSTOMER_ID, examples=["C000123"])
    channel: Channel | None = Field(None, description="Only this channel's actions (the asking "
                                                      "touchpoint, e.g. in_app).")  # fmt: skip
    context: DecideContext | None = None
    purpose: Purpose = Purpose.MARKETING
    dry_run: bool = Field(False, description="Answer without booking the contact against the "
                                             "caps.")  # fmt: skip


class DecisionOut(BaseModel):
    customer_id: str
    outcome: Literal["offer", "holdout", "none"]
    offer_id: str | None = None
    channel: str | None = None
    send_at: str | None = Field(None, description="ISO time, after any quiet-hours hold.")
    expected_value: float | None = None
    expected_cost: float | None = None
    expected_net: float | None = None
    credit_limit: float | None = None
    credit_rate: float | None = None
    reservation_id: int | None = Field(None, description="The contact booked in the ledger "
                                                         "(none for a dry run).")  # fmt: skip
    reasons: list[str] = Field(default_factory=list)
    milliseconds: float = 0.0


class SnapshotRequest(_Strict):
    holdout: float = Field(0.05, ge=0.0, lt=1.0, description="Share kept out as the random "
                                                             "control.")  # fmt: skip


class SnapshotOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    made_at: str
    candidates: int
    customers: int


class PlanSummary(BaseModel):
    """A saved plan's summary (``summary.json``): figures, funnel, comparison, optimiser."""

    model_config = ConfigDict(extra="allow")

    plan_id: str
    version: int
    created_at: str | None = None
    created_by: str | None = None


class PlanPage(BaseModel):
    items: list[PlanSummary]
    total: int
    limit: int
    offset: int


class Explanation(BaseModel):
    """Why the customer got what they got in the plan (or nothing)."""

    model_config = ConfigDict(extra="allow")

    plan_id: str
    customer_id: str
    decision: Literal["contact", "holdout", "none"]
    why: Any = None


#: The error answers every authenticated route may give, for the OpenAPI document.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No or invalid API key."},
    403: {"model": ErrorResponse, "description": "The key's role lacks the permission."},
    422: {"model": ErrorResponse, "description": "The request does not fit the schema."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such plan or customer."},
}
