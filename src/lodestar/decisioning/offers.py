"""The offer catalogue: what the bank can put in front of a customer, through which channels, at
what cost, for what value, to whom.

An offer is a product plus its content (coupon, cashback, rate discount, points, rights), a
message per channel in zh-CN and English, the cost of each contact and of the offer itself when
taken up, the value of a conversion, a validity window, who is eligible (an audience expression,
the same language as segments), a priority and a business lever, caps, and where its effect
comes from (an uplift model, a response model, the next-best-product model, or an assumed rate).

The catalogue lives in the workspace as ``offers.yaml``; every problem in the file is reported at
once with its line and field::

    offers:
      - id: CC_ACT_CASHBACK
        name: 信用卡激活返现
        name_en: Card activation cashback
        product: CC_STANDARD
        content: {kind: cashback, amount: 50}
        value: 180            # margin of one conversion, CNY
        offer_cost: 50        # paid to each customer who takes it up
        eligibility: "holds(product='CC_STANDARD') and not transacted(within='90d')"
        channels:
          sms: {cost: 0.05, template: {zh-CN: "{name}您好，激活信用卡即享 50 元返现", en: "..."}}
          app_push: {cost: 0.01}
        effect: {source: uplift, model: uplift, treatments: {sms: sms_cashback}}
        caps: {budget: 200000, count: 5000}
"""

from __future__ import annotations

import re
import string
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lodestar.data.schema import CONTACT_CHANNELS, RISK_LEVELS
from lodestar.errors import ConfigError, DefinitionError
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
#: Variables a message template may use; anything else is an error at load time, not at send.
TEMPLATE_VARIABLES = frozenset({
    "name", "surname", "offer", "product", "amount", "limit", "rate", "valid_to", "branch",
})  # fmt: skip


class ContentKind(StrEnum):
    COUPON = "coupon"
    CASHBACK = "cashback"
    RATE_DISCOUNT = "rate_discount"
    POINTS = "points"
    RIGHTS = "rights"
    NONE = "none"


class EffectSource(StrEnum):
    """Where an offer's effect on a customer comes from, best first."""

    UPLIFT = "uplift"  # incremental probability from an uplift model (per treatment)
    RESPONSE = "response"  # probability of response from a response model (not incremental)
    NBP = "nbp"  # the next-best-product model's probability of taking up the product
    RATE = "rate"  # an assumed conversion rate, the same for everyone


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Content(_Strict):
    kind: ContentKind = ContentKind.NONE
    amount: float | None = Field(default=None, ge=0)
    description: str | None = None


class ChannelTerms(_Strict):
    """One channel of an offer: what a contact costs and what it says."""

    cost: float = Field(default=0.0, ge=0)
    #: Message per locale (zh-CN, en), with ``{variables}`` from :data:`TEMPLATE_VARIABLES`.
    template: dict[str, str] = Field(default_factory=dict)
    #: How well this channel carries the effect relative to the model's (1 = as measured).
    effect_factor: float = Field(default=1.0, ge=0, le=10)

    @field_validator("template")
    @classmethod
    def _template(cls, value: dict[str, str]) -> dict[str, str]:
        for locale, text in value.items():
            if locale not in ("zh-CN", "en"):
                raise ValueError(f"template locale '{locale}' is not zh-CN or en")
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise ValueError(f"template ({locale}) is not a valid message: {exc}") from None
            unknown = sorted(n for n in names if n and n not in TEMPLATE_VARIABLES)
            if unknown:
                raise ValueError(
                    f"template ({locale}) uses unknown variable(s) {', '.join(unknown)}; "
                    f"the variables are {', '.join(sorted(TEMPLATE_VARIABLES))}"
                )
        return value


class Effect(_Strict):
    source: EffectSource = EffectSource.RATE
    #: Model id, or a kind (its champion); defaults to the source's kind.
    model: str | None = None
    #: For uplift: the past randomised campaign the model learnt from (the champion if it did,
    #: else the latest uplift model of that campaign) — instead of ``model``.
    campaign: str | None = None
    #: Uplift models with several treatments: which treatment each channel stands for
    #: (a channel not listed takes ``treatment``).
    treatments: dict[str, str] = Field(default_factory=dict)
    treatment: str | None = None
    #: For ``rate``: the conversion rate with contact; for ``nbp``: the average conversion rate
    #: with contact (the model's probabilities rank customers around it); for the others the
    #: rate used where a customer has no score.
    rate: float = Field(default=0.0, ge=0, le=1)
    #: Expected take-up with contact, for the offer's cost (the coupon is paid to everyone who
    #: takes it up, including those who would have bought anyway); default: the effect itself.
    take_rate: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _rate(self) -> Effect:
        if self.campaign is not None and (self.source is not EffectSource.UPLIFT or self.model):
            raise ValueError("campaign names an uplift model's campaign: use it with "
                             "source 'uplift' and without 'model'")  # fmt: skip
        if self.source in (EffectSource.RATE, EffectSource.NBP) and self.rate <= 0:
            raise ValueError(f"source '{self.source.value}' needs rate > 0 (the average "
                             "conversion rate with contact)")  # fmt: skip
        return self


class Caps(_Strict):
    budget: float | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, ge=0)


class Offer(_Strict):
    id: str
    name: str
    name_en: str | None = None
    product: str | None = None
    content: Content = Field(default_factory=Content)
    channels: dict[str, ChannelTerms]
    value: float = Field(ge=0, description="margin of one conversion (CNY)")
    offer_cost: float = Field(default=0.0, ge=0)
    valid_from: date | None = None
    valid_to: date | None = None
    eligibility: str | None = None
    purpose: Literal["marketing", "service"] = "marketing"
    priority: int = 0
    #: Business weight on the offer's value in arbitration (1 = none; 1.2 favours it).
    lever: float = Field(default=1.0, gt=0, le=10)
    caps: Caps = Field(default_factory=Caps)
    effect: Effect = Field(default_factory=Effect)
    #: Products that conflict with this offer: customers holding any are not eligible (the
    #: offer's own product is always a conflict).
    conflicts: tuple[str, ...] = ()
    #: Suitability: the product's risk level (R1..R5); customers whose tolerance is lower are
    #: not eligible. Default: the product's risk level in the catalogue.
    risk_level: str | None = None
    #: KYC must be verified (default for credit and wealth; a bank may require it for all).
    kyc_required: bool = True
    #: Carry a credit limit and rate from the scorecard and the credit policy.
    credit: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError(
                f"'{value}' is not a valid id: letters, digits and _ . : - only, up to 64"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, ChannelTerms]) -> dict[str, ChannelTerms]:
        if not value:
            raise ValueError("an offer needs at least one channel")
        unknown = sorted(set(value) - set(CONTACT_CHANNELS))
        if unknown:
            raise ValueError(
                f"unknown channel(s) {', '.join(unknown)}; the channels are "
                f"{', '.join(CONTACT_CHANNELS)}"
            )
        return value

    @field_validator("risk_level")
    @classmethod
    def _risk(cls, value: str | None) -> str | None:
        if value is not None and value not in RISK_LEVELS:
            raise ValueError(f"risk level '{value}' is not one of {', '.join(RISK_LEVELS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Offer:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        unknown = sorted(set(self.effect.treatments) - set(self.channels))
        if unknown:
            raise ValueError(f"effect.treatments names channel(s) {', '.join(unknown)} that "
                             "the offer does not use")  # fmt: skip
        return self

    def label(self, locale: str = "zh-CN") -> str:
        return self.name_en if locale == "en" and self.name_en else self.name

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def render(self, channel: str, locale: str, values: dict[str, Any]) -> str:
        """The message for ``channel`` in ``locale`` (falling back to the other locale, then to
        the offer's name), with ``values`` filled in; missing values become empty."""
        templates = self.channels[channel].template
        text = templates.get(locale) or next(iter(templates.values()), None)
        if text is None:
            return self.label(locale)
        known = {name: "" for name in TEMPLATE_VARIABLES} | {
            "offer": self.label(locale), "product": self.product or "",
        } | {k: ("" if v is None else v) for k, v in values.items()}  # fmt: skip
        return text.format_map(known)


class OfferCatalogue(_Strict):
    offers: tuple[Offer, ...]

    @model_validator(mode="after")
    def _unique(self) -> OfferCatalogue:
        seen: set[str] = set()
        for offer in self.offers:
            if offer.id in seen:
                raise ValueError(f"offer id '{offer.id}' appears more than once")
            seen.add(offer.id)
        return self

    def __len__(self) -> int:
        return len(self.offers)

    def get(self, offer_id: str) -> Offer:
        for offer in self.offers:
            if offer.id == offer_id:
                return offer
        raise ConfigError(f"no offer '{offer_id}' in the catalogue",
                          hint="the offers are " + ", ".join(o.id for o in self.offers))  # fmt: skip

    def ids(self) -> list[str]:
        return [o.id for o in self.offers]

    def channels(self) -> list[str]:
        """Every channel any offer uses, in the schema's order."""
        used = {c for o in self.offers for c in o.channels}
        return [c for c in CONTACT_CHANNELS if c in used]

    @classmethod
    def from_document(cls, doc: LocatedDocument) -> OfferCatalogue:
        if not isinstance(doc.data, dict) or "offers" not in doc.data:
            raise DefinitionError([f"{doc.source}: an offer catalogue is a mapping with a list "
                                   "'offers'"], what="offer catalogue")  # fmt: skip
        result: OfferCatalogue = validate_located(cls, doc, what=f"offer catalogue {doc.source}")
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> OfferCatalogue:
        return cls.from_document(load_located(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<offers>") -> OfferCatalogue:
        return cls.from_document(load_located_text(text, source))

    def check_products(self, products: dict[str, dict[str, Any]], source: str) -> None:
        """Raise when an offer names a product the bank does not have (``products``: id ->
        row of the products table)."""
        problems = [
            f"{source}: offer '{o.id}': product '{p}' is not in the product catalogue"
            for o in self.offers
            for p in ((o.product,) if o.product else ()) + o.conflicts
            if p not in products
        ]
        if problems:
            raise DefinitionError(problems, what=f"offer catalogue {source}")


