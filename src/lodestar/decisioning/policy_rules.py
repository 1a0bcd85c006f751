"""Contact policy as data: the YAML shape, its frozen models and located errors.

A policy says when a customer may be contacted on a channel for a purpose (``marketing`` or
``service``). The rules run in a fixed order and the first that fails is the reason
(:class:`Reason`); quiet hours never refuse a send, they hold it to the window's end::

    name: retail_default
    default_time_zone: Asia/Shanghai       # for customers whose time_zone is missing or unknown
    service_exempt_from: [cool_off, frequency, pressure]   # rules a service message skips
    channels:
      sms:
        quiet_hours: {start: "21:00", end: "08:00"}        # local time; may cross midnight
        service_consent_exempt: true       # service SMS need no service consent
      telemarketing:
        quiet_hours: {start: "20:00", end: "09:00"}
    frequency:                             # calendar day / ISO week / month, local time
      global: {day: 2, week: 5, month: 12}
      channels:
        telemarketing: {week: 1, month: 2}
    pressure:                              # weighted contacts over a rolling window
      window_days: 7
      max_weight: 6
      weights:
        marketing: {sms: 1, email: 0.5, telemarketing: 3, voice_robot: 2}
      default_weight: 1                    # unlisted channel / purpose pairs
    cool_off:
      - {after: complaint, days: 30, channels: all}
      - {after: opt_out, days: 90, channels: same}   # the channel opted out of

Write times in quotes: YAML reads an unquoted ``21:00`` as the number 1260.

>>> policy = parse_policy_text("name: p\\nfrequency: {global: {day: 1}}\\n", "p.yaml")
>>> policy.frequency.global_.day
1
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lodestar.errors import DefinitionError
from lodestar.located_yaml import (
    LocatedDocument,
    field_name,
    load_located,
    load_located_text,
    pydantic_problems,
)


class Channel(StrEnum):
    """Contact channels (:data:`lodestar.data.schema.CONTACT_CHANNELS`)."""

    SMS = "sms"
    EMAIL = "email"
    APP_PUSH = "app_push"
    IN_APP = "in_app"
    WECOM = "wecom"
    VOICE_ROBOT = "voice_robot"
    TELEMARKETING = "telemarketing"


class Purpose(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"


class Reason(StrEnum):
    """Why a send is refused; the members are in rule order (the exclusion funnel's order)."""

    NO_ADDRESS = "no_address"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DO_NOT_CONTACT = "do_not_contact"
    COOL_OFF = "cool_off"
    FREQUENCY_DAY = "frequency_day"
    FREQUENCY_WEEK = "frequency_week"
    FREQUENCY_MONTH = "frequency_month"
    PRESSURE = "pressure"


#: Rule order of the exclusion funnel.
RULE_ORDER: tuple[Reason, ...] = tuple(Reason)


class ExemptRule(StrEnum):
    """Rules a service message may be exempted from (``service_exempt_from``)."""

    DO_NOT_CONTACT = "do_not_contact"
    COOL_OFF = "cool_off"
    FREQUENCY = "frequency"
    PRESSURE = "pressure"
    QUIET_HOURS = "quiet_hours"


class CoolOffTrigger(StrEnum):
    #: a row in ``complaints`` or a past contact with outcome ``complained``
    COMPLAINT = "complaint"
    #: a past contact with outcome ``opted_out``
    OPT_OUT = "opt_out"


#: The customer column that must hold an address for a channel to be usable.
ADDRESS_FIELD: dict[Channel, str] = {
    Channel.SMS: "phone",
    Channel.VOICE_ROBOT: "phone",
    Channel.TELEMARKETING: "phone",
    Channel.EMAIL: "email",
    Channel.APP_PUSH: "app_user_id",
    Channel.IN_APP: "app_user_id",
    Channel.WECOM: "wecom_id",
}

#: History outcomes that start a cool-off.
OUTCOME_TRIGGERS: dict[str, CoolOffTrigger] = {
    "complained": CoolOffTrigger.COMPLAINT,
    "opted_out": CoolOffTrigger.OPT_OUT,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _clock(value: Any) -> Any:
    if isinstance(value, int | float):  # bool is an int too
        raise ValueError(
            f"write the time in quotes, e.g. '21:00' (YAML reads 21:00 without quotes as the "
            f"number {value})"
        )
    return value


class QuietHours(_Frozen):
    """No send between ``start`` (inclusive) and ``end`` (exclusive), local time. A window whose
    start is after its end crosses midnight (21:00-08:00)."""

    start: time
    end: time

    _check_start = field_validator("start", "end", mode="before")(_clock)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: leave quiet_hours out for none")
        return self

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class ChannelRules(_Frozen):
    quiet_hours: QuietHours | None = None
    #: service messages on this channel need no service consent
    service_consent_exempt: bool = False


class Caps(_Frozen):
    """Most contacts per calendar day, ISO week (Monday first) and month; None = no cap."""

    day: int | None = Field(default=None, ge=0)
    week: int | None = Field(default=None, ge=0)
    month: int | None = Field(default=None, ge=0)


class Frequency(_Frozen):
    global_: Caps = Field(default_factory=Caps, alias="global")
    channels: dict[Channel, Caps] = Field(default_factory=dict)


class Pressure(_Frozen):
    """Weighted contacts in the rolling ``window_days`` ending at the send, this send included,
    may not exceed ``max_weight``."""

    window_days: int = Field(gt=0)
    max_weight: float = Field(ge=0)
    weights: dict[Purpose, dict[Channel, float]] = Field(default_factory=dict)
    default_weight: float = Field(default=1.0, ge=0)

    @field_validator("weights")
    @classmethod
    def _non_negative(
        cls, value: dict[Purpose, dict[Channel, float]]
    ) -> dict[Purpose, dict[Channel, float]]:
        for purpose, table in value.items():
            for channel, weight in table.items():
                if weight < 0:
                    raise ValueError(f"weight of {purpose}/{channel} is negative ({weight})")
        return value

    def weight(self, purpose: str, channel: str) -> float:
        table = (
            self.weights.get(Purpose(purpose)) if purpose in Purpose._value2member_map_ else None
        )
        if table is not None and channel in Channel._value2member_map_:
            return float(table.get(Channel(channel), self.default_weight))
        return float(self.default_weight)


class CoolOff(_Frozen):
    """No contact for ``days`` after a trigger, on ``all`` channels, the ``same`` channel as the
    contact that triggered it (complaints not tied to a contact block all), or listed ones."""

    after: CoolOffTrigger
    days: int = Field(gt=0)
    channels: Literal["all", "same"] | tuple[Channel, ...] = "all"

    @field_validator("channels", mode="before")
    @classmethod
    def _scope(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("all", "same"):
            raise ValueError(f"'{value}' is not all, same or a list of channels")
        return value

    def blocks(self, channel: str, event_channel: str | None) -> bool:
        if self.channels == "all" or (self.channels == "same" and event_channel is None):
            return True
        if self.channels == "same":
            return channel == event_channel
        return channel in self.channels


class ContactPolicy(_Frozen):
    """A contact policy (see the module doc). Build it with :func:`parse_policy_text` or
    :func:`load_policy_file`; ``source`` and ``version`` say where it came from."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    description: str = ""
    default_time_zone: str = "Asia/Shanghai"
    service_exempt_from: tuple[ExemptRule, ...] = ()
    channels: dict[Channel, ChannelRules] = Field(default_factory=dict)
    frequency: Frequency = Field(default_factory=Frequency)
    pressure: Pressure | None = None
    cool_off: tuple[CoolOff, ...] = ()
    #: where it was read from and which stored version it is (set by the loaders)
    source: str = Field(default="<policy>", exclude=True)
    version: int | None = Field(default=None, exclude=True)

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if known_zone(value) is None:
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Asia/Shanghai)")
        return value

    def rules_for(self, channel: str) -> ChannelRules:
        return self.channels.get(Channel(channel), _NO_RULES)

    def exempt(self, purpose: str, rule: ExemptRule) -> bool:
        return purpose == Purpose.SERVICE and rule in self.service_exempt_from

    def caps_apply(self, purpose: str) -> bool:
        """Whether sends of ``purpose`` are capped and counted towards the caps."""
        return not self.exempt(purpose, ExemptRule.FREQUENCY)

    def pressure_weight(self, purpose: str, channel: str) -> float:
        """Weight of a contact towards the pressure sum (0 for purposes exempt from it)."""
        if self.pressure is None or self.exempt(purpose, ExemptRule.PRESSURE):
            return 0.0
        return self.pressure.weight(purpose, channel)

    def quiet_hours(self, channel: str, purpose: str) -> QuietHours | None:
        if self.exempt(purpose, ExemptRule.QUIET_HOURS):
            return None
        return self.rules_for(channel).quiet_hours

    def needs_consent(self, channel: str, purpose: str) -> bool:
        return purpose == Purpose.MARKETING or not self.rules_for(channel).service_consent_exempt


_NO_RULES = ChannelRules()


@lru_cache(maxsize=4096)
def known_zone(name: str) -> ZoneInfo | None:
    """The zone named ``name``, or None when it is not an IANA zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return None


def customer_zone(name: object, default: str) -> ZoneInfo:
    """The customer's zone; a missing or unknown name falls back to ``default``."""
    if isinstance(name, str) and name.strip():
        zone = known_zone(name.strip())
        if zone is not None:
            return zone
    fallback = known_zone(default)
    assert fallback is not None  # validated with the policy
    return fallback


def parse_policy(
    data: Any, *, source: str = "<policy>", doc: LocatedDocument | None = None
) -> ContactPolicy:
    """The policy in ``data`` (a mapping as read from YAML). Every problem is reported at once
    in a :class:`~lodestar.errors.DefinitionError`, each naming ``source``, the line (when
    ``doc`` is the located YAML) and the field."""
    if not isinstance(data, dict):
        raise DefinitionError(
            [f"{doc.where() if doc else source}: a contact policy is a mapping of fields"],
            what=f"contact policy {source}",
        )
    try:
        policy = ContactPolicy.model_validate(data)
    except ValidationError as exc:
        problems = [f"{doc.where(*path) if doc else source}: field "
                    f"'{field_name(path) or '(document)'}': {message}"
                    for path, message in pydantic_problems(exc)]  # fmt: skip
        raise DefinitionError(problems, what=f"contact policy {source}") from None
    return policy.model_copy(update={"source": source})


def parse_policy_text(text: str, source: str = "<policy>") -> ContactPolicy:
    doc = load_located_text(text, source)
    return parse_policy(doc.data, source=source, doc=doc)


def load_policy_file(path: str | Path) -> ContactPolicy:
    """The policy in a YAML file; errors give ``file:line`` and the field."""
    doc = load_located(path)
    return parse_policy(doc.data, source=str(path), doc=doc)


def default_policy_text() -> str:
    """The example policy shipped with Lodestar (``default_contact_policy.yaml``)."""
    return (
        resources.files("lodestar.decisioning")
        .joinpath("default_contact_policy.yaml")
        .read_text(encoding="utf-8")
    )


def default_policy() -> ContactPolicy:
    return parse_policy_text(default_policy_text(), "default_contact_policy.yaml")
