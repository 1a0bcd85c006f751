"""What a campaign plan asks for: a YAML file (``lodestar plan CAMPAIGN.yaml``).

::

    campaign: CMP_2026Q4_XSELL
    name: 四季度交叉销售
    send_on: 2026-12-01          # default: the day after the data date
    offers: [LOAN_RATE_DISCOUNT, CC_FIRST_CARD]   # default: every offer valid that day
    channels: [app_push, sms, voice_robot]        # default: every channel the offers use
    audience: "age between 22 and 60 and status = 'active'"
    budget: 50000                # CNY: contact costs plus expected offer costs
    capacity: {voice_robot: 2000, telemarketing: 300}
    per_customer: 1              # actions per customer
    holdout: 0.1                 # random control: tracked, never contacted
    arms: [{name: A, weight: 1}, {name: B, weight: 1, template: {zh-CN: "..."}}]
    stratify_by: value_tier      # a customer_profile column; arms balanced inside each value
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lodestar.data.schema import CONTACT_CHANNELS
from lodestar.decisioning.offers import ID_PATTERN
from lodestar.errors import DefinitionError
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmSpec(_Strict):
    name: str
    weight: float = Field(default=1.0, gt=0)
    #: A message variant for this arm, per locale (overrides the offer's channel template).
    template: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == "control" or not ID_PATTERN.fullmatch(value):
            raise ValueError(f"arm name '{value}' is reserved or not an id")
        return value


class PrescreenSpec(_Strict):
    #: Drop customers the risk pre-screen declined (profile_scores.risk_prescreen).
    enabled: bool = True


class PlanSpec(_Strict):
    campaign: str
    name: str | None = None
    name_en: str | None = None
    send_on: date | None = None
    offers: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    audience: str | None = None
    purpose: Literal["marketing", "service"] = "marketing"
    budget: float | None = Field(default=None, ge=0)
    capacity: dict[str, int] = Field(default_factory=dict)
    per_customer: int = Field(default=1, ge=1, le=5)
    holdout: float = Field(default=0.1, ge=0, lt=1)
    arms: tuple[ArmSpec, ...] = (ArmSpec(name="treatment"),)
    experiment_key: str | None = None
    stratify_by: str | None = None
    default_hour: int = Field(default=10, ge=0, le=23)
    prescreen: PrescreenSpec = Field(default_factory=PrescreenSpec)
    locale: Literal["zh-CN", "en"] = "zh-CN"

    @field_validator("campaign")
    @classmethod
    def _campaign(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not a valid campaign id: letters, digits and "
                             "_ . : - only, up to 64")  # fmt: skip
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CONTACT_CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s) {', '.join(unknown)}; the channels are "
                             f"{', '.join(CONTACT_CHANNELS)}")  # fmt: skip
        return value

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, seats in value.items():
            if channel not in CONTACT_CHANNELS:
                raise ValueError(f"capacity names unknown channel '{channel}'")
            if seats < 0:
                raise ValueError(f"capacity of {channel} must be >= 0, got {seats}")
        return value

    @model_validator(mode="after")
    def _arms(self) -> PlanSpec:
        names = [a.name for a in self.arms]
        if not names:
            raise ValueError("arms: at least one arm is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"arms: names repeat ({', '.join(names)})")
        return self

    @property
    def key(self) -> str:
        """The experiment key arms are hashed with (the campaign id unless set)."""
        return self.experiment_key or self.campaign

    @classmethod
    def from_document(cls, doc: LocatedDocument) -> PlanSpec:
        if not isinstance(doc.data, dict):
            raise DefinitionError([f"{doc.source}: a campaign plan is a mapping of fields"],
                                  what="campaign plan")  # fmt: skip
        result: PlanSpec = validate_located(cls, doc, what=f"campaign plan {doc.source}")
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> PlanSpec:
        return cls.from_document(load_located(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<plan>") -> PlanSpec:
        return cls.from_document(load_located_text(text, source))
