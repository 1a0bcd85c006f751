"""Credit limit and annual rate from a scorecard band, income and existing debt.

The rules, in order (a :class:`CreditPolicy` holds the numbers, usually from YAML):

1. **Band**: a score falls in the first band (best first) whose ``min_points`` it reaches; a
   band may also be given by name.
2. **Rate**: ``base_rate + band rate_premium`` (percent a year), clipped to
   ``[rate_floor, rate_cap]``, rounded half-up to 2 decimals.
3. **Declines**, before any limit: missing income or income of 0 (affordability cannot be
   assessed), missing existing debt (we do not assume none), a band whose ``max_limit`` is 0,
   no room left under the debt-to-income cap.
4. **Limit**: the lowest of the band's ``max_limit``, ``income_multiple`` × monthly income, and
   the DTI headroom — the limit whose assumed monthly repayment, added to the existing monthly
   debt service, reaches ``dti_cap`` × monthly income. The repayment is ``repayment_share`` of
   the limit a month when set (revolving lines, e.g. 0.03), else the annuity payment of the limit
   over ``term_months`` at the offered rate. The lowest is rounded *down* to a multiple of
   ``rounding_step`` (never above a cap), and declined when under ``min_limit``.

Money is :class:`~decimal.Decimal` throughout the single-applicant path, which is the reference;
:func:`credit_terms_frame` does the same in numpy for many rows and agrees with it (tested).
Because bands are validated to be monotonic (a better band never has a lower cap or multiple,
nor a higher premium), a better band never gets a lower limit or a higher rate for the same
applicant.

>>> policy = CreditPolicy.from_mapping(DEFAULT_POLICY)
>>> terms = credit_terms("B", 15000, 3000, policy, locale="en")
>>> terms.limit, terms.rate, terms.binding
(Decimal('75000'), Decimal('8.50'), 'income_multiple')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lodestar.errors import DefinitionError
from lodestar.i18n import DEFAULT_LOCALE, t
from lodestar.located_yaml import LocatedDocument, field_name, load_located

Binding = Literal["band_cap", "income_multiple", "dti_headroom"]
DeclineReason = Literal[
    "income_missing", "debt_missing", "band_declined", "dti_exhausted", "below_minimum"
]
CENT = Decimal("0.01")

#: A policy matching :data:`lodestar.modeling.scorecard.DEFAULT_BANDS` (600 points = 50:1,
#: pdo 20); amounts in the currency of the incomes. E is not offered credit.
DEFAULT_POLICY: dict[str, Any] = {
    "bands": [
        {"name": "A", "min_points": 620, "max_limit": 200000, "income_multiple": 8,
         "rate_premium": 0},
        {"name": "B", "min_points": 580, "max_limit": 100000, "income_multiple": 5,
         "rate_premium": 2.5},
        {"name": "C", "min_points": 540, "max_limit": 50000, "income_multiple": 3,
         "rate_premium": 6},
        {"name": "D", "min_points": 500, "max_limit": 20000, "income_multiple": 1.5,
         "rate_premium": 12},
        {"name": "E", "min_points": None, "max_limit": 0, "income_multiple": 0,
         "rate_premium": 18},
    ],
    "dti_cap": 0.5,
    "min_limit": 2000,
    "rounding_step": 1000,
    "base_rate": 6.0,
    "rate_floor": 4.35,
    "rate_cap": 24.0,
    "term_months": 36,
    "repayment_share": None,
}  # fmt: skip


@dataclass(frozen=True)
class BandRule:
    """One band's terms: from ``min_points`` (``-inf`` for the last band), a limit of at most
    ``max_limit`` and ``income_multiple`` × monthly income, and ``rate_premium`` percentage
    points over the base rate."""

    name: str
    min_points: float
    max_limit: Decimal
    income_multiple: Decimal
    rate_premium: Decimal


@dataclass(frozen=True)
class CreditPolicy:
    """The numbers of the limit and rate rules (see the module doc). Construct it with
    :meth:`from_mapping` or :meth:`from_yaml`; errors name the field (and the line)."""

    bands: tuple[BandRule, ...]
    dti_cap: Decimal
    min_limit: Decimal
    rounding_step: Decimal
    base_rate: Decimal
    rate_floor: Decimal
    rate_cap: Decimal
    term_months: int = 36
    repayment_share: Decimal | None = None

    def __post_init__(self) -> None:
        problems = _rule_problems({f.name: getattr(self, f.name) for f in fields(self)})
        if problems:
            raise DefinitionError(
                [f"{field_name(path)}: {message}" for path, message in problems],
                what="credit policy",
            )

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "<policy>",
        doc: LocatedDocument | None = None,
    ) -> CreditPolicy:
        """The policy in ``data`` (as in :data:`DEFAULT_POLICY`); every problem is reported at
        once, each naming ``source`` (with the line when ``doc`` is the located YAML)."""
        where = doc.where if doc else (lambda *path: source)
        problems: list[str] = []

        def report(path: tuple[str | int, ...], message: str) -> None:
            problems.append(f"{where(*path)}: field '{field_name(path)}': {message}")

        if not isinstance(data, Mapping):
            raise DefinitionError([f"{source}: a credit policy is a mapping of fields"])
        known = {f.name for f in fields(cls)}
        required = known - {"term_months", "repayment_share"}
        for name in sorted(set(data) - known):
            report((name,), f"unknown field; the fields are {', '.join(sorted(known))}")
        for name in sorted(required - set(data)):
            report((name,), "is required")
        values: dict[str, Any] = {}
        for name in ("dti_cap", "min_limit", "rounding_step", "base_rate", "rate_floor",
                     "rate_cap"):  # fmt: skip
            if name in data:
                values[name] = _decimal(data[name], (name,), report)
        values["term_months"] = data.get("term_months", 36)
        if isinstance(values["term_months"], bool) or not isinstance(values["term_months"], int):
            report(
                ("term_months",),
                f"must be a whole number of months, got {data.get('term_months')!r}",
            )
        share = data.get("repayment_share")
        values["repayment_share"] = (
            None if share is None else _decimal(share, ("repayment_share",), report)
        )
        values["bands"] = _bands(data.get("bands"), report) if "bands" in data else ()
        if not problems:
            problems += [
                f"{where(*p)}: field '{field_name(p)}': {m}" for p, m in _rule_problems(values)
            ]
        if problems:
            raise DefinitionError(problems, what=f"credit policy {source}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> CreditPolicy:
        """The policy in a YAML file; errors give ``file:line`` and the field."""
        doc = load_located(path)
        return cls.from_mapping(doc.data, source=str(path), doc=doc)

    def band(self, name: str) -> BandRule:
        for rule in self.bands:
            if rule.name == name:
                return rule
        names = ", ".join(r.name for r in self.bands)
        raise ValueError(f"no band named {name!r} in the credit policy; the bands are {names}")

    def band_for(self, points: float) -> BandRule:
        """The first band, best first, whose ``min_points`` ``points`` reaches."""
        if math.isnan(points):
            raise ValueError("points is NaN: score the applicant before asking for terms")
        for rule in self.bands:
            if points >= rule.min_points:
                return rule
        raise AssertionError("unreachable: the last band starts at -inf")  # pragma: no cover

    def rate_for(self, band: BandRule) -> tuple[Decimal, Decimal]:
        """``(offered rate, rate before clipping)`` for ``band``, percent a year."""
        raw = self.base_rate + band.rate_premium
        clipped = min(max(raw, self.rate_floor), self.rate_cap)
        return clipped.quantize(CENT, rounding=ROUND_HALF_UP), raw

    def repayment_per_unit(self, rate: Decimal) -> Decimal:
        """Assumed monthly repayment per 1 of limit: ``repayment_share``, else the annuity
        factor ``r / (1 − (1 + r)^−n)`` with ``r = rate / 1200`` and ``n = term_months``."""
        if self.repayment_share is not None:
            return self.repayment_share
        monthly = rate / Decimal(1200)
        if monthly == 0:
            return Decimal(1) / Decimal(self.term_months)
        return monthly / (1 - (1 + monthly) ** -self.term_months)


def _decimal(value: Any, path: tuple[str | int, ...], report: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        report(path, f"must be a number, got {value!r}")
        return Decimal(0)
    try:
        number = Decimal(str(value))  # via str: 0.1 stays 0.1, not its binary neighbour
    except InvalidOperation:
        report(path, f"must be a number, got {value!r}")
        return Decimal(0)
    if not number.is_finite():
        report(path, f"must be a finite number, got {value!r}")
        return Decimal(0)
    return number


def _bands(raw: Any, report: Any) -> tuple[BandRule, ...]:
    if not isinstance(raw, list) or not raw:
        report(("bands",), "must be a list of bands, best first")
        return ()
    out = []
    keys = {"name", "min_points", "max_limit", "income_multiple", "rate_premium"}
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            report(("bands", i), "must be a mapping with " + ", ".join(sorted(keys)))
            continue
        for key in sorted(set(item) - keys):
            report(("bands", i, key), f"unknown field; a band has {', '.join(sorted(keys))}")
        for key in sorted(keys - set(item) - {"min_points"}):
            report(("bands", i, key), "is required")
        last = i == len(raw) - 1
        floor = item.get("min_points")
        if floor is None and not last:
            report(("bands", i, "min_points"), "is required for every band but the last")
        points = (
            -math.inf
            if floor is None or last
            else float(_decimal(floor, ("bands", i, "min_points"), report))
        )
        out.append(
            BandRule(
                name=str(item.get("name", "")),
                min_points=points,
                max_limit=_decimal(item.get("max_limit", 0), ("bands", i, "max_limit"), report),
                income_multiple=_decimal(
                    item.get("income_multiple", 0), ("bands", i, "income_multiple"), report
                ),
                rate_premium=_decimal(
                    item.get("rate_premium", 0), ("bands", i, "rate_premium"), report
                ),
            )
        )
    return tuple(out)


def _rule_problems(v: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with the values of a policy, field by field (empty when all is well)."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not 0 < v["dti_cap"] <= 1:
        out.append((("dti_cap",), f"must be in (0, 1], got {v['dti_cap']}"))
    if v["rounding_step"] <= 0:
        out.append((("rounding_step",), f"must be positive, got {v['rounding_step']}"))
    if v["min_limit"] < 0:
        out.append((("min_limit",), f"must be 0 or more, got {v['min_limit']}"))
    if not 0 <= v["rate_floor"] <= v["rate_cap"]:
        out.append((("rate_floor",), f"must be 0 or more and at most rate_cap "
                                     f"({v['rate_cap']}), got {v['rate_floor']}"))  # fmt: skip
    if not isinstance(v["term_months"], int) or v["term_months"] < 1:
        out.append((("term_months",), f"must be 1 or more, got {v['term_months']}"))
    share = v["repayment_share"]
    if share is not None and not 0 < share <= 1:
        out.append((("repayment_share",), f"must be in (0, 1], got {share}"))
    bands: tuple[BandRule, ...] = v["bands"]
    if not bands:
        out.append((("bands",), "needs at least one band"))
    seen: set[str] = set()
    for i, band in enumerate(bands):
        if not band.name or band.name in seen:
            out.append(
                (("bands", i, "name"), f"must be a unique, non-empty name, got {band.name!r}")
            )
        seen.add(band.name)
        for key in ("max_limit", "income_multiple"):
            if getattr(band, key) < 0:
                out.append((("bands", i, key), f"must be 0 or more, got {getattr(band, key)}"))
        if i == 0:
            continue
        better = bands[i - 1]
        # Monotonic bands are what make "a better band never gets worse terms" hold.
        if not band.min_points < better.min_points:
            out.append((("bands", i, "min_points"), f"must be below band {better.name}'s "
                        f"{better.min_points} (bands go best first)"))  # fmt: skip
        for key in ("max_limit", "income_multiple"):
            if getattr(band, key) > getattr(better, key):
                out.append((("bands", i, key), f"{getattr(band, key)} is above band "
                            f"{better.name}'s {getattr(better, key)}; a worse band cannot get "
                            "more"))  # fmt: skip
        if band.rate_premium < better.rate_premium:
            out.append((("bands", i, "rate_premium"), f"{band.rate_premium} is below band "
                        f"{better.name}'s {better.rate_premium}; a worse band cannot pay "
                        "less"))  # fmt: skip
    if bands and not math.isinf(bands[-1].min_points):
        out.append((("bands", len(bands) - 1, "min_points"), "the last band takes every "
                    "score: leave min_points out"))  # fmt: skip
    return out


# --------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class CreditTerms:
    """The offer for one applicant. ``limit`` is 0 and ``rate`` is ``None`` when declined;
    ``binding`` names the constraint that set the limit (also when the limit fell under the
    minimum); ``notes`` are the explanation as message keys, ``explanation`` rendered."""

    band: str
    limit: Decimal
    rate: Decimal | None
    declined: bool
    decline_reason: DeclineReason | None
    binding: Binding | None
    notes: tuple[tuple[str, dict[str, Any]], ...]
    explanation: tuple[str, ...]

    def explain(self, locale: str = DEFAULT_LOCALE) -> list[str]:
        """The explanation in ``locale`` (zh-CN or en)."""
        return [t(key, locale, **params) for key, params in self.notes]


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _amount(value: Any, name: str) -> Decimal | None:
    """``value`` as Decimal; ``None`` when missing (None / NaN); errors for nonsense."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | np.number):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = Decimal(str(value))
    if number.is_nan():
        return None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} must be a finite amount of 0 or more, got {value}")
    return number


def credit_terms(
    points_or_band: float | str,
    monthly_income: float | Decimal | None,
    monthly_debt: float | Decimal | None,
    policy: CreditPolicy,
    *,
    locale: str = DEFAULT_LOCALE,
) -> CreditTerms:
    """Limit and rate for one applicant (see the module doc for the rules).

    ``points_or_band`` is scorecard points or a band name; ``monthly_debt`` is the existing
    monthly debt service (repayments of other loans and cards), not balances.
    """
    if isinstance(points_or_band, str):
        band, points = policy.band(points_or_band), None
    else:
        points = float(points_or_band)
        band = policy.band_for(points)
    income = _amount(monthly_income, "monthly_income")
    debt = _amount(monthly_debt, "monthly_debt")
    notes: list[tuple[str, dict[str, Any]]] = []
    if points is None:
        notes.append(("credit.band_given", {"band": band.name}))
    else:
        notes.append(("credit.band", {"band": band.name, "points": points}))

    def decline(
        reason: DeclineReason, binding: Binding | None = None, **params: Any
    ) -> CreditTerms:
        notes.append((f"credit.decline.{reason}", params))
        return _terms(band.name, Decimal(0), None, reason, binding, notes, locale)

    if income is None or income == 0:
        return decline("income_missing")
    if debt is None:
        return decline("debt_missing")
    if band.max_limit == 0:
        return decline("band_declined", band=band.name)

    rate, raw_rate = policy.rate_for(band)
    notes.append(("credit.rate", {"raw": raw_rate, "base": policy.base_rate,
                                  "premium": band.rate_premium, "band": band.name}))  # fmt: skip
    if raw_rate < policy.rate_floor:
        notes.append(("credit.rate_floor", {"floor": policy.rate_floor}))
    elif raw_rate > policy.rate_cap:
        notes.append(("credit.rate_cap", {"cap": policy.rate_cap}))
    notes.append(("credit.rate_offered", {"rate": rate}))

    headroom = policy.dti_cap * income - debt
    if headroom <= 0:
        return decline("dti_exhausted", "dti_headroom", debt=_money(debt),
                       cap=_money(policy.dti_cap * income), dti=f"{policy.dti_cap:%}")  # fmt: skip
    per_unit = policy.repayment_per_unit(rate)
    caps: dict[Binding, Decimal] = {
        "band_cap": band.max_limit,
        "income_multiple": band.income_multiple * income,
        "dti_headroom": headroom / per_unit,
    }
    binding = min(caps, key=lambda k: caps[k])  # ties: the first in this order
    step = policy.rounding_step
    limit = (caps[binding] / step).to_integral_value(rounding=ROUND_FLOOR) * step
    notes.append(("credit.limit", {
        "limit": _money(limit), "step": _money(step),
        "band_cap": _money(caps["band_cap"]), "income_cap": _money(caps["income_multiple"]),
        "multiple": band.income_multiple, "dti_limit": _money(caps["dti_headroom"]),
        "headroom": _money(headroom), "dti": f"{policy.dti_cap:%}",
    }))  # fmt: skip
    notes.append((f"credit.binding.{binding}", {}))
    if limit < policy.min_limit or limit <= 0:
        return decline("below_minimum", binding, limit=_money(limit),
                       minimum=_money(policy.min_limit))  # fmt: skip
    return _terms(band.name, limit, rate, None, binding, notes, locale)


def _terms(
    band: str,
    limit: Decimal,
    rate: Decimal | None,
    reason: DeclineReason | None,
    binding: Binding | None,
    notes: list[tuple[str, dict[str, Any]]],
    locale: str,
) -> CreditTerms:
    frozen = tuple(notes)
    return CreditTerms(
        band=band,
        limit=limit,
        rate=rate,
        declined=reason is not None,
        decline_reason=reason,
        binding=binding,
        notes=frozen,
        explanation=tuple(t(key, locale, **params) for key, params in frozen),
    )


def credit_terms_frame(
    frame: pd.DataFrame,
    policy: CreditPolicy,
    *,
    points: str | None = "points",
    band: str | None = None,
    monthly_income: str = "monthly_income",
    monthly_debt: str = "monthly_debt",
) -> pd.DataFrame:
    """:func:`credit_terms` for every row of ``frame``, in numpy (index kept).

    Columns: ``band``, ``limit`` (float, 0 when declined), ``rate`` (percent, NaN when
    declined), ``declined``, ``decline_reason`` and ``binding``. Bands come from the ``band``
    column when named, else from ``points``. For the wording of one row's explanation call
    :func:`credit_terms` on it.
    """
    for column in [c for c in (band or points, monthly_income, monthly_debt) if c]:
        if column not in frame.columns:
            raise ValueError(f"the frame has no column '{column}'; name it with the arguments")
    n = len(frame)
    if band is not None:
        names = frame[band].astype(str).to_numpy()
        known = {r.name for r in policy.bands}
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(f"column '{band}' holds bands not in the policy: {unknown[:5]}")
        index = np.array([[r.name for r in policy.bands].index(x) for x in names], dtype=np.int64)
    elif points is not None:
        score = frame[points].to_numpy(dtype=np.float64)
        if np.isnan(score).any():
            raise ValueError(f"column '{points}' has missing points: score every row first")
        floors = np.array([r.min_points for r in policy.bands])
        # Floors fall, so the number of floors above a score is the index of its band.
        index = np.searchsorted(-floors, -score, side="left")
    else:
        raise ValueError("name a points column or a band column")
    income = frame[monthly_income].to_numpy(dtype=np.float64, na_value=np.nan)
    debt = frame[monthly_debt].to_numpy(dtype=np.float64, na_value=np.nan)
    for name, values in ((monthly_income, income), (monthly_debt, debt)):
        if (values[~np.isnan(values)] < 0).any() or np.isinf(values).any():
            raise ValueError(f"column '{name}' has negative or infinite amounts")

    def per_band(get: Any) -> np.ndarray:
        return np.array([float(get(r)) for r in policy.bands])[index]

    rates = [policy.rate_for(r)[0] for r in policy.bands]
    rate = np.array([float(r) for r in rates])[index]
    per_unit = np.array([float(policy.repayment_per_unit(r)) for r in rates])[index]
    band_cap = per_band(lambda r: r.max_limit)
    income_cap = per_band(lambda r: r.income_multiple) * income
    headroom = float(policy.dti_cap) * income - debt
    with np.errstate(invalid="ignore"):
        dti_limit = headroom / per_unit
        caps = np.column_stack([band_cap, income_cap, dti_limit])
        which = np.argmin(np.nan_to_num(caps, nan=np.inf), axis=1)
        raw = caps[np.arange(n), which]
        step = float(policy.rounding_step)
        # The tiny nudge absorbs float error on exact multiples (150 / 0.03 = 4999.999...).
        limit = np.floor(raw / step + 1e-9) * step
    reason = np.full(n, None, dtype=object)
    rules = (
        (limit < float(policy.min_limit)) | (limit <= 0),
        headroom <= 0,
        band_cap == 0,
        np.isnan(debt),
        np.isnan(income) | (income == 0),
    )
    # Applied last-to-first so the first rule of the scalar path wins.
    for mask, name in zip(rules, ("below_minimum", "dti_exhausted", "band_declined",
                                  "debt_missing", "income_missing"), strict=True):  # fmt: skip
        reason[mask] = name
    declined = reason != None  # noqa: E711 (elementwise on an object array)
    binding = np.array(["band_cap", "income_multiple", "dti_headroom"], dtype=object)[which]
    binding[np.isin(reason, ["income_missing", "debt_missing", "band_declined"])] = None
    binding[reason == "dti_exhausted"] = "dti_headroom"

    # Explicit object Series: pandas 3 would turn None into NaN in an inferred text column.
    def as_object(values: np.ndarray) -> pd.Series:
        return pd.Series(values, index=frame.index, dtype=object)

    return pd.DataFrame(
        {
            "band": as_object(np.array([r.name for r in policy.bands], dtype=object)[index]),
            "limit": np.where(declined, 0.0, limit),
            "rate": np.where(declined, np.nan, rate),
            "declined": declined.astype(bool),
            "decline_reason": as_object(reason),
            "binding": as_object(binding),
        },
        index=frame.index,
    )
