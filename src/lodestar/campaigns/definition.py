"""A campaign as data: what it plans, when it runs and the steps of its journey (YAML).

::

    campaign: CMP_2026Q4_LOAN
    name: 消费贷唤醒旅程
    plan: campaign.yaml            # the plan spec (lodestar plan), a path or inline
    schedule: {at: "2026-12-10T09:00:00+08:00"}     # or {cron: "0 9 * * 1"}
                                                    # or {event: apply_start, reentry: once}
    journey:
      - send: {channel: app_push}
      - wait: {days: 3}
      - branch:
          if_event: apply_start        # within the wait
          then: [exit: {goal: true}]
      - send: {channel: sms}
      - wait: {days: 2}
      - send: {channel: voice_robot}

The journey is checked here (steps, channels, waits, branches); running it is the executor's.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lodestar.campaigns.cron import parse as parse_cron
from lodestar.data.schema import CONTACT_CHANNELS
from lodestar.decisioning.offers import ID_PATTERN
from lodestar.decisioning.plan_spec import PlanSpec
from lodestar.errors import DefinitionError
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located

_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Strict):
    at: datetime | None = None
    cron: str | None = None
    event: str | None = None
    #: for event triggers: may a customer enter again (once their previous journey is over),
    #: and after how many days since they last entered
    reentry: Literal["once", "always", "after_days"] = "once"
    reentry_days: int | None = Field(default=None, ge=1)
    #: the zone the cron's hours are in (a bank's campaigns run on its own clock)
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        given = [k for k in ("at", "cron", "event") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a schedule is exactly one of at (one-off), cron (recurring) or "
                             f"event (triggered); got {', '.join(given) or 'none'}")  # fmt: skip
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at needs a time zone, e.g. 2026-12-10T09:00:00+08:00")
        if self.cron is not None:
            fields = self.cron.split()
            if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
                raise ValueError(f"cron '{self.cron}' is not five fields of numbers, ranges, "
                                 "lists, steps or * (minute hour day month weekday)")  # fmt: skip
            parse_cron(self.cron)  # the numbers in range (a ValueError says which)
        if self.reentry == "after_days" and self.reentry_days is None:
            raise ValueError("reentry after_days needs reentry_days")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{self.timezone}', e.g. Asia/Shanghai") from None
        return self


class SendStep(_Strict):
    channel: str | None = None  # default: the plan's channel for the customer
    offer: str | None = None  # default: the plan's offer for the customer

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and value not in CONTACT_CHANNELS:
            raise ValueError(f"unknown channel '{value}'; the channels are "
                             f"{', '.join(CONTACT_CHANNELS)}")  # fmt: skip
        return value


class WaitStep(_Strict):
    days: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)
    until_event: str | None = None  # or until this event, whichever comes first

    @model_validator(mode="after")
    def _some(self) -> WaitStep:
        if self.days is None and self.hours is None:
            raise ValueError("a wait needs days or hours (until_event only shortens it)")
        return self


class ExitStep(_Strict):
    goal: bool = False  # the customer reached the campaign's goal


class Step(_Strict):
    send: SendStep | None = None
    wait: WaitStep | None = None
    branch: Branch | None = None
    exit: ExitStep | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        given = [k for k in ("send", "wait", "branch", "exit") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a step is exactly one of send, wait, branch or exit")
        return self


class Branch(_Strict):
    if_event: str | None = None  # the customer did this event during the previous wait
    if_responded: bool | None = None
    if_attribute: str | None = None  # an audience expression on the customer profile
    random_split: float | None = Field(default=None, gt=0, lt=1)
    then: tuple[Step, ...]
    otherwise: tuple[Step, ...] = ()

    @model_validator(mode="after")
    def _one(self) -> Branch:
        given = [k for k in ("if_event", "if_responded", "if_attribute", "random_split")
                 if getattr(self, k) is not None]  # fmt: skip
        if len(given) != 1:
            raise ValueError("a branch tests exactly one of if_event, if_responded, "
                             "if_attribute or random_split")  # fmt: skip
        return self


Step.model_rebuild()


def _walk(steps: tuple[Step, ...]) -> list[Step]:
    """Every step, branches' steps included, in order."""
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if step.branch is not None:
            out += _walk(step.branch.then) + _walk(step.branch.otherwise)
    return out


def _sends(steps: tuple[Step, ...]) -> list[SendStep]:
    return [s.send for s in _walk(steps) if s.send is not None]


class Goal(_Strict):
    """What the campaign is judged on: the conversion event and its attribution window. A
    customer who does ``event`` while in the journey leaves it at the goal."""

    class Target(_Strict):
        """A lift the campaign is expected to reach on one metric, set before it runs:
        ``{metric: registrations, event: register, lift: "+30%"}`` (relative to the holdout's
        rate) or ``lift: "+2pp"`` (absolute, percentage points); a number is a fraction and
        relative unless ``kind: absolute``. ``event`` defaults to the goal's event."""

        metric: str = Field(min_length=1, max_length=64)
        event: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
        lift: float
        kind: Literal["relative", "absolute"] = "relative"

        @model_validator(mode="before")
        @classmethod
        def _lift_text(cls, data: object) -> object:
            # "+30%" and "+2pp" are how targets are written in briefs; read them as such
            if isinstance(data, dict) and isinstance(data.get("lift"), str):
                text = data["lift"].strip().replace(" ", "")
                unit = "pp" if text.endswith("pp") else "%" if text.endswith("%") else ""
                try:
                    number = float(text[: len(text) - len(unit)])
                except ValueError:
                    raise ValueError(f"lift '{data['lift']}' is not a number, a percentage "
                                     "(+30%) or percentage points (+2pp)") from None  # fmt: skip
                kind = "absolute" if unit == "pp" else data.get("kind", "relative")
                lift = number / 100 if unit else number
                data = {**data, "lift": lift, "kind": kind}
            return data

    event: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    window_days: int = Field(default=30, ge=1, le=365)
    #: the lifts to reach, tracked against the measured ones (``lodestar campaign effect``)
    targets: tuple[Goal.Target, ...] = ()
    #: margin of one conversion (CNY); default: the offer's ``value`` in the catalogue
    value: float | None = Field(default=None, ge=0)


class CampaignDefinition(_Strict):
    campaign: str
    name: str
    name_en: str | None = None
    description: str | None = None
    plan: PlanSpec | None = None
    schedule: Schedule | None = None
    journey: tuple[Step, ...] = ()
    #: the goal the campaign is judged on (seed 004: "+25% application conversion")
    goal: Goal = Field(default_factory=Goal)

    @field_validator("campaign")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not a valid campaign id: letters, digits and "
                             "_ . : - only, up to 64")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _plan_matches(self) -> CampaignDefinition:
        if self.plan is not None and self.plan.campaign != self.campaign:
            raise ValueError(f"the plan is for campaign '{self.plan.campaign}', not "
                             f"'{self.campaign}'")  # fmt: skip
        if self.schedule is not None and self.schedule.event is not None:
            unnamed = [s for s in _sends(self.journey) if s.channel is None]
            if unnamed or not self.journey:
                raise ValueError("an event-triggered journey has no plan row per customer to take "
                                 "the channel from: give it send steps, each with its channel")  # fmt: skip
        elif self.journey and self.plan is None:
            raise ValueError("a scheduled journey enters the customers of its plan: add a plan "
                             "(or trigger it with schedule: {event: ...})")  # fmt: skip
        return self

    def listened_events(self) -> set[str]:
        """The event names this campaign reacts to: its trigger, the waits' and branches'
        events and the goal."""
        names = {self.schedule.event} if self.schedule and self.schedule.event else set()
        if self.goal.event:
            names.add(self.goal.event)
        for step in _walk(self.journey):
            if step.wait is not None and step.wait.until_event:
                names.add(step.wait.until_event)
            if step.branch is not None and step.branch.if_event:
                names.add(step.branch.if_event)
        return names

    def canonical(self) -> str:
        """A stable text of the definition (what versions and approvals are about)."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @classmethod
    def from_document(cls, doc: LocatedDocument, base: Path | None = None) -> CampaignDefinition:
        data = doc.data
        if not isinstance(data, dict):
            raise DefinitionError([f"{doc.source}: a campaign is a mapping of fields"],
                                  what="campaign")  # fmt: skip
        plan = data.get("plan")
        if isinstance(plan, str):
            # a plan file next to the definition: read it, then check the whole as one
            path = (base or Path(".")) / plan
            data = {**data, "plan": load_located(path).data}
            doc = LocatedDocument(data, doc.source, doc.lines)
        result: CampaignDefinition = validate_located(cls, doc, what=f"campaign {doc.source}")
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> CampaignDefinition:
        p = Path(path)
        return cls.from_document(load_located(p), p.parent)

    @classmethod
    def from_text(cls, text: str, source: str = "<campaign>") -> CampaignDefinition:
        return cls.from_document(load_located_text(text, source))
