"""Budget-optimal arbitration: which action (customer x offer x channel) each customer gets.

Given every feasible action with its expected incremental value and cost, choose at most
``per_customer`` actions per customer (never the same offer twice) to maximise
``sum(value - cost)`` subject to a total budget, per-offer budgets and counts and per-channel
capacities. An action with ``value - cost <= 0`` is never chosen; the returned allocation always
respects every limit.

Interface (engine-free numpy; the plan pipeline builds the arrays)::

    Candidates(customer, offer, channel, value, cost)   long format, one row per feasible action,
                                                        rows grouped by customer (ascending)
    Limits(total_budget, offer_budget, offer_count, channel_capacity, per_customer)
    arbitrate(candidates, limits, *, tolerance=1e-3, max_iterations=200, progress=None)
        -> Allocation(chosen, objective, upper_bound, gap, multipliers, iterations, binding, usage)
    explain_row(allocation, candidates, limits, row) -> dict   (for ``lodestar explain``)
    solve_exact(candidates, limits, *, relax=False)  in :mod:`.arbitration_exact` (HiGHS)

``multipliers`` holds the shadow prices: ``budget`` (CNY per CNY spent), ``offer_budget`` (per
offer, CNY per CNY), ``offer_count`` and ``channel`` (CNY per action); a limit is listed in
``binding`` when its price is positive (loosening it would raise the objective). ``usage`` holds
what the allocation spends / uses of each limit, in the same shapes.

Method (see :mod:`.lagrangian` for the kernels): the coupling limits are priced (Lagrangian
relaxation). For prices ``y >= 0`` each customer independently takes its top ``per_customer``
actions by the adjusted score ``value - cost - prices``, one per offer, where positive — a closed
form, vectorised over millions of rows. The dual value ``L(y)`` is an upper bound on the LP
relaxation for *every* ``y`` (the per-customer polytope is integral), so the reported gap is proven
whatever the search did. The prices are searched by a box-step cutting-plane method; a greedy
repair in adjusted-score order then makes the allocation feasible and fills leftover capacity.

>>> import numpy as np
>>> c = Candidates(customer=np.array([0, 1, 2]), offer=np.array([0, 0, 0]),
...                channel=np.array([0, 0, 0]), value=np.array([18.0, 10.0, 8.0]),
...                cost=np.array([9.0, 2.0, 2.0]))
>>> arbitrate(c, Limits(total_budget=4)).chosen.tolist()
[False, True, True]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from lodestar.errors import ConfigError, SchemaError

#: ``progress(iteration, upper_bound, objective)`` after each price update
Progress = Callable[[int, float, float], None]
_TINY = 1e-12


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


@dataclass(frozen=True, eq=False)
class Candidates:
    """Feasible actions in long format: one row per (customer, offer, channel).

    ``customer`` is an index 0..n_customers-1 and rows are grouped by customer in ascending
    order (the per-customer step relies on it); ``value`` is the expected incremental value in
    CNY, ``cost`` the expected cost charged to budgets (contact plus expected offer cost, >= 0).
    """

    customer: np.ndarray
    offer: np.ndarray
    channel: np.ndarray
    value: np.ndarray
    cost: np.ndarray

    def __post_init__(self) -> None:
        coerced: dict[str, np.ndarray] = {
            "customer": np.asarray(self.customer, dtype=np.int64),
            "offer": np.asarray(self.offer, dtype=np.int32),
            "channel": np.asarray(self.channel, dtype=np.int32),
            "value": np.asarray(self.value, dtype=np.float64),
            "cost": np.asarray(self.cost, dtype=np.float64),
        }
        lengths = {name: a.shape for name, a in coerced.items()}
        if len(set(lengths.values())) != 1 or any(len(s) != 1 for s in lengths.values()):
            raise SchemaError(
                "candidate arrays must be one-dimensional and of the same length; got "
                + ", ".join(f"{n}={s}" for n, s in lengths.items()),
                hint="build all five columns from the same candidate frame",
            )
        for name, a in coerced.items():
            object.__setattr__(self, name, a)
        for name in ("customer", "offer", "channel"):
            a = coerced[name]
            if len(a) and a.min() < 0:
                raise SchemaError(
                    f"candidate {name} must be >= 0; row {_first_bad(a < 0)} has {a[a < 0][0]}",
                    hint=f"{name} is a 0-based index into the {name}s of the plan",
                )
        for name in ("value", "cost"):
            a = coerced[name]
            if not np.isfinite(a).all():
                raise SchemaError(
                    f"candidate {name} must be finite; row {_first_bad(~np.isfinite(a))} is not",
                    hint="drop actions whose expected value could not be computed",
                )
        cost = coerced["cost"]
        if len(cost) and cost.min() < 0:
            raise SchemaError(
                f"candidate cost must be >= 0; row {_first_bad(cost < 0)} has {cost[cost < 0][0]}",
                hint="a negative cost is a gain: add it to the value instead",
            )
        customer = coerced["customer"]
        if len(customer) > 1:
            down = np.diff(customer) < 0
            if down.any():
                row = _first_bad(down) + 1
                raise SchemaError(
                    f"candidates must be grouped by customer in ascending order; row {row} "
                    f"(customer {customer[row]}) follows customer {customer[row - 1]}",
                    hint="sort the candidates by customer (a stable sort keeps the rest in order)",
                )

    def __len__(self) -> int:
        return len(self.value)

    @property
    def n_offers(self) -> int:
        return int(self.offer.max()) + 1 if len(self) else 0

    @property
    def n_channels(self) -> int:
        return int(self.channel.max()) + 1 if len(self) else 0


def _nonnegative(name: str, value: np.ndarray | None) -> np.ndarray | None:
    if value is None:
        return None
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 1 or np.isnan(a).any() or (a < 0).any():
        raise ConfigError(
            f"limit {name} must be a one-dimensional array of numbers >= 0 (inf = no limit); "
            f"got {value!r}",
            hint="use math.inf for an offer or channel without a limit",
        )
    return a


@dataclass(frozen=True, eq=False)
class Limits:
    """The coupling limits. Arrays are indexed by offer / channel; ``inf`` means no limit."""

    total_budget: float = math.inf
    offer_budget: np.ndarray | None = None
    offer_count: np.ndarray | None = None
    channel_capacity: np.ndarray | None = None
    per_customer: int = 1

    def __post_init__(self) -> None:
        if math.isnan(self.total_budget) or self.total_budget < 0:
            raise ConfigError(
                f"limit total_budget must be >= 0 (inf = no budget); got {self.total_budget}",
                hint="set the campaign budget in CNY, or leave it out",
            )
        for name in ("offer_budget", "offer_count", "channel_capacity"):
            object.__setattr__(self, name, _nonnegative(name, getattr(self, name)))
        if int(self.per_customer) != self.per_customer or self.per_customer < 1:
            raise ConfigError(
                f"limit per_customer must be a whole number >= 1; got {self.per_customer}",
                hint="leave customers out through eligibility, not per_customer=0",
            )


@dataclass(frozen=True, eq=False)
class Allocation:
    """The chosen actions and the evidence for how good they are."""

    chosen: np.ndarray  # bool mask over candidate rows
    objective: float  # sum(value - cost) of the chosen rows
    upper_bound: float  # proven upper bound on the LP relaxation (a Lagrangian dual value)
    gap: float  # (upper_bound - objective) / max(|upper_bound|, tiny)
    multipliers: dict[str, Any]  # shadow prices: budget, offer_budget, offer_count, channel
    iterations: int  # passes of the dual over all rows (a sample's passes are not counted)
    binding: list[str]  # limits with a positive price, e.g. "budget", "channel[2]"
    usage: dict[str, Any] = field(default_factory=dict)  # what the chosen rows use of each limit
    solution: np.ndarray | None = None  # LP values per row (solve_exact(relax=True) only)


class Reason(StrEnum):
    """Why a row was or was not chosen (``explain_row``)."""

    CHOSEN = "chosen"
    UNPROFITABLE = "unprofitable"  # value - cost <= 0
    OUTRANKED = "outranked"  # the customer's slots went to actions scoring at least as high
    PRICED_OUT = "priced_out"  # the prices of the limits it uses take its score to <= 0
    LIMIT_FULL = "limit_full"  # worth taking at these prices, but a limit was full at repair


def arbitrate(
    candidates: Candidates,
    limits: Limits,
    *,
    tolerance: float = 1e-3,
    max_iterations: int = 200,
    progress: Progress | None = None,
) -> Allocation:
    """Choose actions maximising ``sum(value - cost)`` within ``limits``.

    Stops when the proven gap ``(upper_bound - objective) / upper_bound`` is at most
    ``tolerance`` or after ``max_iterations`` price updates (the gap reported is then larger).
    """
    from lodestar.decisioning import lagrangian

    problem = lagrangian.build(candidates, limits)
    return lagrangian.solve(problem, tolerance, max_iterations, progress)


def violations(candidates: Candidates, limits: Limits, chosen: np.ndarray) -> list[str]:
    """Every limit an allocation breaks (empty when feasible), as readable sentences."""
    chosen = np.asarray(chosen, dtype=bool)
    if chosen.shape != candidates.value.shape:
        return [f"the mask has shape {chosen.shape}, the candidates {candidates.value.shape}"]
    problems = []
    profit = candidates.value - candidates.cost
    if (profit[chosen] <= 0).any():
        problems.append(f"row {_first_bad(chosen & (profit <= 0))} is chosen without profit")
    customer, offer = candidates.customer[chosen], candidates.offer[chosen]
    if len(customer):
        _, per = np.unique(customer, return_counts=True)
        if per.max() > limits.per_customer:
            problems.append(f"a customer has {per.max()} actions (at most {limits.per_customer})")
        pairs = np.unique(customer * (int(offer.max()) + 1) + offer)
        if len(pairs) < len(customer):
            problems.append("an offer is given twice to one customer")
    usage = usage_of(candidates, chosen, max(candidates.n_offers, 1), candidates.n_channels)
    slack = 1e-9
    if usage["budget"] > limits.total_budget * (1 + slack):
        problems.append(f"spent {usage['budget']:.2f} of a budget of {limits.total_budget:.2f}")
    for key, cap in (
        ("offer_budget", limits.offer_budget),
        ("offer_count", limits.offer_count),
        ("channel", limits.channel_capacity),
    ):
        if cap is None:
            continue
        used = usage[key][: len(cap)]
        over = np.flatnonzero(used > cap[: len(used)] * (1 + slack) + slack)
        problems += [f"{key}[{i}] uses {used[i]:g} of {cap[i]:g}" for i in over]
    return problems


def usage_of(
    candidates: Candidates, chosen: np.ndarray, n_offers: int, n_channels: int
) -> dict[str, Any]:
    """What the chosen rows spend and use, in the shapes of ``Allocation.usage``."""
    cost = candidates.cost[chosen]
    offer = candidates.offer[chosen]
    return {
        "budget": float(cost.sum()),
        "offer_budget": np.bincount(offer, weights=cost, minlength=n_offers).astype(float),
        "offer_count": np.bincount(offer, minlength=n_offers).astype(float),
        "channel": np.bincount(candidates.channel[chosen], minlength=n_channels).astype(float),
    }


def explain_row(
    allocation: Allocation, candidates: Candidates, limits: Limits, row: int
) -> dict[str, Any]:
    """Why ``row`` was chosen or not: its adjusted score, the price charged by each limit it
    uses, and the reason (:class:`Reason`) with ``excluded_by`` — the limit whose price or
    fullness kept it out, or the row that won the customer's slot.
    """
    if not 0 <= row < len(candidates):
        raise SchemaError(f"row {row} is not a candidate row (0..{len(candidates) - 1})")
    prices = allocation.multipliers
    o, ch = int(candidates.offer[row]), int(candidates.channel[row])
    value, cost = float(candidates.value[row]), float(candidates.cost[row])
    charges: dict[str, float] = {}

    def price(key: str, index: int | None = None) -> float:
        p = prices.get(key)
        if p is None:
            return 0.0
        if index is None:
            return float(p)
        return float(p[index]) if index < len(p) else 0.0

    for name, amount in (
        ("budget", price("budget") * cost),
        (f"offer_budget[{o}]", price("offer_budget", o) * cost),
        (f"offer_count[{o}]", price("offer_count", o)),
        (f"channel[{ch}]", price("channel", ch)),
    ):
        if amount > 0:
            charges[name] = amount
    adjusted = value - cost - sum(charges.values())
    customer = int(candidates.customer[row])
    lo, hi = np.searchsorted(candidates.customer, [customer, customer + 1])
    mine = [lo + int(r) for r in np.flatnonzero(allocation.chosen[lo:hi])]
    info: dict[str, Any] = {
        "row": row,
        "customer": customer,
        "offer": o,
        "channel": ch,
        "value": value,
        "cost": cost,
        "profit": value - cost,
        "charges": charges,
        "adjusted_score": adjusted,
        "chosen": bool(allocation.chosen[row]),
        "customer_chosen_rows": mine,
        "excluded_by": None,
    }
    if allocation.chosen[row]:
        info["reason"] = Reason.CHOSEN
        return info
    if value - cost <= 0:
        info["reason"] = Reason.UNPROFITABLE
        return info
    same_offer = [r for r in mine if int(candidates.offer[r]) == o]
    if same_offer:
        info["reason"], info["excluded_by"] = Reason.OUTRANKED, same_offer[0]
        return info
    if len(mine) >= limits.per_customer:
        scores = {r: explain_row(allocation, candidates, limits, r)["adjusted_score"] for r in mine}
        if min(scores.values()) >= adjusted:
            info["reason"] = Reason.OUTRANKED
            info["excluded_by"] = max(scores, key=lambda r: (scores[r], -r))
            return info
    if adjusted <= 0 and charges:
        info["reason"] = Reason.PRICED_OUT
        info["excluded_by"] = max(charges, key=lambda n: charges[n])
        return info
    info["reason"] = Reason.LIMIT_FULL
    info["excluded_by"] = _full_limit(allocation, limits, o, ch, cost)
    return info


def _full_limit(allocation: Allocation, limits: Limits, o: int, ch: int, cost: float) -> str | None:
    """The first limit the row would break on top of the allocation."""
    usage = allocation.usage
    if not usage:
        return None
    checks: list[tuple[str, float, float]] = [("budget", usage["budget"] + cost, limits.total_budget)]
    if limits.offer_budget is not None and o < len(limits.offer_budget):
        checks.append((f"offer_budget[{o}]", usage["offer_budget"][o] + cost, limits.offer_budget[o]))
    if limits.offer_count is not None and o < len(limits.offer_count):
        checks.append((f"offer_count[{o}]", usage["offer_count"][o] + 1, limits.offer_count[o]))
    if limits.channel_capacity is not None and ch < len(limits.channel_capacity):
        checks.append((f"channel[{ch}]", usage["channel"][ch] + 1, limits.channel_capacity[ch]))
    for name, need, cap in checks:
        if need > cap:
            return name
    return None
