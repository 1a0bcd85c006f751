"""A referral programme (``referrals.yaml``): who may refer, for how long a touch counts, the
steps a referee goes through and what each step earns, the budget, and the fraud thresholds.

>>> p = Programme.from_text('''
... programme: loan_quota
... name: {zh: 贷款测额邀请有礼, en: Loan quota referral}
... attribution_window_days: 30
... link: https://m.bank.example/mgm
... steps:
...   - {id: register, event: register}
...   - id: quota_test
...     event: quota_test
...     rewards: [{to: referrer, right: cashback_20}]
... ''')
>>> [s.id for s in p.steps], p.steps[1].rewards[0].to.value
(['register', 'quota_test'], 'referrer')
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lodestar.errors import DefinitionError, NotFound
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located

_ID = r"^[a-z][a-z0-9_]{0,63}$"
#: No 0/O, 1/I/L: a code read out over the phone or typed from a poster stays unambiguous.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class Role(StrEnum):
    REFERRER = "referrer"
    REFEREE = "referee"


class Name(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class CodeFormat(BaseModel):
    """Codes are ``prefix`` + ``length`` random characters of :data:`ALPHABET` (31^8 ≈ 8.5e11
    for the default: guessing a valid code is hopeless)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prefix: str = Field(default="", pattern=r"^[A-Z0-9]{0,8}$")
    length: int = Field(default=8, ge=6, le=24)


class Reward(BaseModel):
    """What a step earns one side: a right of the rights catalogue, or loyalty points."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    to: Role
    right: str | None = Field(default=None, pattern=_ID)
    points: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Reward:
        if (self.right is None) == (self.points is None):
            raise ValueError("a reward is a right (right: <id from rights.yaml>) or points "
                             "(points: <n>), exactly one of the two")  # fmt: skip
        return self


class Condition(BaseModel):
    """The event counts only if its property is at least a value (a drawdown of 500,000 CNY
    or more, as in seed 004)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    property: str = Field(min_length=1)
    at_least: Decimal


class Step(BaseModel):
    """A step the referee reaches with a customer event; steps are reached in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID)
    event: str = Field(pattern=_ID)
    where: Condition | None = None
    #: the step counts only this many days after the attribution (none: no limit)
    within_days: int | None = Field(default=None, ge=1, le=3660)
    rewards: tuple[Reward, ...] = ()

    @model_validator(mode="after")
    def _one_per_role(self) -> Step:
        roles = [r.to for r in self.rewards]
        if len(roles) != len(set(roles)):
            raise ValueError("at most one reward per side (referrer, referee) in a step")
        return self


class Velocity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    per_hour: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class FraudRules(BaseModel):
    """Thresholds of the anti-fraud rules; a referral that hits one earns nothing until a
    reviewer clears it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: the referee is the referrer, or shares their phone, ID number or a device
    self_referral: bool = True
    #: flag a referee whose device (or phone) already belongs to this many other referees
    max_referees_per_device: int | None = Field(default=3, ge=1)
    max_referees_per_phone: int | None = Field(default=1, ge=1)
    #: more new referees than this per referrer in a rolling hour / day
    velocity: Velocity = Velocity(per_hour=5, per_day=20)


class Budget(BaseModel):
    """The programme's own caps, on top of each right's budget in the rights catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cny: Decimal | None = Field(default=None, ge=0)
    points: int | None = Field(default=None, ge=0)


class Programme(BaseModel):
    """One referral programme."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    programme: str = Field(pattern=_ID)
    name: Name
    attribution_window_days: int = Field(ge=1, le=365)
    code: CodeFormat = CodeFormat()
    #: landing page of the referral link; the code is added as ``?<code_parameter>=<code>``
    link: str = Field(pattern=r"^https?://\S+$")
    code_parameter: str = Field(default="ref", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    #: events that are a touch (a click on the link, a code typed in); they carry the code in
    #: the property ``code_property``
    touch_events: tuple[str, ...] = ("referral_click", "referral_code_entered")
    code_property: str = "referral_code"
    steps: tuple[Step, ...] = Field(min_length=1)
    budget: Budget = Budget()
    fraud: FraudRules = FraudRules()

    @field_validator("touch_events")
    @classmethod
    def _names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for name in names:
            if not re.fullmatch(_ID, name):
                raise ValueError(f"'{name}' is not an event name (lower case, digits, _)")
        return names

    @field_validator("steps")
    @classmethod
    def _distinct(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        ids = [s.id for s in steps]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"step ids must be unique: {', '.join(dup)} appears twice")
        return steps

    @model_validator(mode="after")
    def _touch_not_step(self) -> Programme:
        both = set(self.touch_events) & {s.event for s in self.steps}
        if both:
            raise ValueError(f"event {', '.join(sorted(both))} cannot be both a touch and a step")
        return self

    # -- lookups ------------------------------------------------------------------------------
    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise NotFound(f"programme '{self.programme}' has no step '{step_id}'",
                       hint="steps: " + ", ".join(s.id for s in self.steps))  # fmt: skip

    def steps_for(self, event_name: str) -> list[Step]:
        return [s for s in self.steps if s.event == event_name]

    @property
    def event_names(self) -> list[str]:
        return sorted({*self.touch_events, *(s.event for s in self.steps)})

    @property
    def right_ids(self) -> list[str]:
        return sorted({r.right for s in self.steps for r in s.rewards if r.right})

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def from_document(cls, doc: LocatedDocument) -> Programme:
        if not isinstance(doc.data, dict) or "programme" not in doc.data:
            raise DefinitionError([f"{doc.source}: a referral programme is a mapping that "
                                   "starts with 'programme: <id>'"],
                                  what="referral programme")  # fmt: skip
        result: Programme = validate_located(cls, doc, what=f"referral programme {doc.source}")
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> Programme:
        return cls.from_document(load_located(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<referrals>") -> Programme:
        return cls.from_document(load_located_text(text, source))

    def summary(self) -> dict[str, Any]:
        return {"programme": self.programme, "name": self.name.model_dump(),
                "attribution_window_days": self.attribution_window_days,
                "steps": [s.id for s in self.steps]}  # fmt: skip
