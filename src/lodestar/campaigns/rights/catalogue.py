"""The catalogue of rights (权益): what a bank gives customers, what it costs, and the budget.

A right is cashback, a coupon, a partner voucher or a bundle of points. Issuing one commits its
``cost`` (the bank's money, not the face value a customer sees) against the right's budget; the
budget is CNY, a count of issues, or both. Rights with a ``points_price`` can be bought with
loyalty points.

>>> cat = RightsCatalogue.from_text('''
... rights:
...   - id: cashback_20
...     name: {zh: 20元返现, en: CNY 20 cashback}
...     kind: cashback
...     face_value: 20
...     cost: 20
...     validity_days: 30
...     budget_cny: 10000
... ''')
>>> cat.get("cashback_20").cost
Decimal('20.00')
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lodestar.errors import DefinitionError, NotFound
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located

CENT = Decimal("0.01")


class RightKind(StrEnum):
    CASHBACK = "cashback"
    COUPON = "coupon"
    PARTNER_VOUCHER = "partner_voucher"
    POINTS_BUNDLE = "points_bundle"


class Name(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


def _money(value: object) -> Decimal:
    if isinstance(value, float):
        # YAML reads 9.9 as a float; go through its shortest text so 9.9 stays 9.9.
        value = repr(value)
    amount = Decimal(str(value))
    if amount != amount.quantize(CENT):
        raise ValueError(f"{value} has more than two decimals (amounts are in fen)")
    return amount.quantize(CENT)


class Right(BaseModel):
    """One right of the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: Name
    kind: RightKind
    #: What the customer sees (CNY). For a points bundle, the number of points it grants.
    face_value: Decimal
    #: What one issue costs the bank (CNY); committed against ``budget_cny``.
    cost: Decimal
    validity_days: int = Field(ge=1, le=3660)
    budget_cny: Decimal | None = None
    budget_count: int | None = Field(default=None, ge=0)
    #: Points a customer pays for it; None when it cannot be bought with points.
    points_price: int | None = Field(default=None, ge=1)

    @field_validator("face_value", "cost", "budget_cny", mode="before")
    @classmethod
    def _amount(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError(f"expected an amount in CNY, got {value!r}")
        try:
            amount = _money(value)
        except ArithmeticError:
            raise ValueError(f"expected an amount in CNY, got {value!r}") from None
        if amount < 0:
            raise ValueError(f"must not be negative, got {value}")
        return amount

    @model_validator(mode="after")
    def _has_budget(self) -> Right:
        if self.budget_cny is None and self.budget_count is None:
            raise ValueError("needs a budget: budget_cny, budget_count or both")
        if self.kind is RightKind.POINTS_BUNDLE and self.face_value != int(self.face_value):
            raise ValueError("a points bundle's face_value is its number of points: a whole "
                             f"number, not {self.face_value}")
        return self

    @property
    def cny_budget(self) -> Decimal:
        """The CNY the right may commit: ``budget_cny``, else ``cost`` × ``budget_count``."""
        if self.budget_cny is not None:
            return self.budget_cny
        return (self.cost * (self.budget_count or 0)).quantize(CENT)


class RightsCatalogue(BaseModel):
    """Every right, by id; ids are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rights: tuple[Right, ...]

    @field_validator("rights")
    @classmethod
    def _unique(cls, rights: tuple[Right, ...]) -> tuple[Right, ...]:
        seen: set[str] = set()
        for right in rights:
            if right.id in seen:
                raise ValueError(f"right id '{right.id}' appears twice; ids must be unique")
            seen.add(right.id)
        return rights

    def get(self, right_id: str) -> Right:
        for right in self.rights:
            if right.id == right_id:
                return right
        known = ", ".join(r.id for r in self.rights) or "(none)"
        raise NotFound(f"no right '{right_id}' in the catalogue", hint=f"known rights: {known}")

    @classmethod
    def from_document(cls, doc: LocatedDocument) -> RightsCatalogue:
        if not isinstance(doc.data, dict) or "rights" not in doc.data:
            raise DefinitionError([f"{doc.source}: a rights catalogue is a mapping with a list "
                                   "'rights'"], what="rights catalogue")  # fmt: skip
        result: RightsCatalogue = validate_located(cls, doc, what=f"rights catalogue {doc.source}")
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> RightsCatalogue:
        return cls.from_document(load_located(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<rights>") -> RightsCatalogue:
        return cls.from_document(load_located_text(text, source))
