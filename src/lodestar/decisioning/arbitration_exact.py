"""The exact arbitration, for checking the Lagrangian optimiser: scipy's HiGHS on the full model.

Same problem as :func:`lodestar.decisioning.arbitration.arbitrate` written out as one mixed
integer program (one binary per profitable action; rows for the budget, each offer's budget and
count, each channel's capacity, each customer's ``per_customer`` and each customer-offer pair's
"at most once"). Fine for thousands of customers; the MILP grows slow well before a million.

``relax=True`` solves the LP relaxation instead: ``objective`` and ``upper_bound`` are then the
LP optimum, ``solution`` holds the fractional values per candidate row, ``chosen`` marks the
rows taken whole, and ``multipliers`` are the LP's shadow prices (comparable with arbitrate's).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from lodestar.decisioning.arbitration import Allocation, Candidates, Limits
from lodestar.errors import LodestarError


def solve_exact(
    candidates: Candidates,
    limits: Limits,
    *,
    relax: bool = False,
    time_limit: float | None = None,
) -> Allocation:
    """The optimum of the MILP (or of its LP relaxation with ``relax=True``) by HiGHS."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    from lodestar.decisioning import lagrangian

    problem = lagrangian.build(candidates, limits)
    n = len(problem.rows)
    coupling_rows, coupling_cols, coupling_vals = [], [], []
    for j, (kind, index) in enumerate(zip(problem.kind, problem.index, strict=True)):
        if kind == lagrangian.BUDGET:
            cols = np.arange(n)
        elif kind in (lagrangian.OFFER_BUDGET, lagrangian.OFFER_COUNT):
            cols = np.flatnonzero(problem.offer == index)
        else:
            cols = np.flatnonzero(problem.channel == index)
        uses_cost = kind in (lagrangian.BUDGET, lagrangian.OFFER_BUDGET)
        coupling_rows.append(np.full(len(cols), j))
        coupling_cols.append(cols)
        coupling_vals.append(problem.cost[cols] if uses_cost else np.ones(len(cols)))
    m = len(problem.cap)
    blocks = [
        (np.concatenate(coupling_rows or [np.zeros(0, int)]),
         np.concatenate(coupling_cols or [np.zeros(0, int)]),
         np.concatenate(coupling_vals or [np.zeros(0)])),
        (m + problem.group, np.arange(n), np.ones(n)),
    ]
    ub = [problem.cap, np.full(problem.n_groups, float(problem.k))]
    if problem.co is not None and problem.co_starts is not None:
        offset = m + problem.n_groups
        blocks.append((offset + problem.co, np.arange(n), np.ones(n)))
        ub.append(np.ones(len(problem.co_starts)))
    rows = np.concatenate([b[0] for b in blocks])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks])
    upper = np.concatenate(ub)
    a = sparse.csr_array((vals, (rows, cols)), shape=(len(upper), n))
    started = time.perf_counter()
    x = np.zeros(n)
    prices = np.zeros(m)
    if n == 0:
        value = 0.0
        bound = 0.0
    elif relax:
        options: dict[str, Any] = {} if time_limit is None else {"time_limit": time_limit}
        result = linprog(
            -problem.profit, A_ub=a, b_ub=upper, bounds=(0, 1), method="highs", options=options
        )
        if result.status != 0:
            raise LodestarError(f"HiGHS could not solve the LP relaxation: {result.message}")
        x = result.x
        value = bound = -float(result.fun)
        prices = -np.asarray(result.ineqlin.marginals[:m])
    else:
        options = {"mip_rel_gap": 1e-9}
        if time_limit is not None:
            options["time_limit"] = time_limit
        result = milp(
            -problem.profit,
            constraints=LinearConstraint(a, -np.inf, upper),
            integrality=np.ones(n),
            bounds=Bounds(0, 1),
            options=options,
        )
        if result.x is None:
            raise LodestarError(f"HiGHS found no MILP solution: {result.message}")
        x = np.round(result.x)
        value = float(problem.profit @ x)
        dual = getattr(result, "mip_dual_bound", None)
        bound = -float(dual) if dual is not None and math.isfinite(dual) else value
    seconds = time.perf_counter() - started
    chosen = np.zeros(problem.n_candidates, dtype=bool)
    chosen[problem.rows[x > 1 - 1e-9]] = True
    solution = np.zeros(problem.n_candidates)
    solution[problem.rows] = x
    multipliers: dict[str, Any] = {
        "budget": 0.0,
        "offer_budget": np.zeros(problem.n_offers),
        "offer_count": np.zeros(problem.n_offers),
        "channel": np.zeros(problem.n_channels),
    }
    keys = {1: "offer_budget", 2: "offer_count", 3: "channel"}
    for kind, index, price in zip(problem.kind, problem.index, prices, strict=True):
        if kind == lagrangian.BUDGET:
            multipliers["budget"] = float(price)
        else:
            multipliers[keys[int(kind)]][index] = price
    bound = max(bound, value)
    return Allocation(
        chosen=chosen,
        objective=value,
        upper_bound=bound,
        gap=max(bound - value, 0.0) / max(abs(bound), 1e-12),
        multipliers=multipliers,
        iterations=0,
        binding=[name for name, p in zip(problem.names, prices, strict=True) if p > 1e-12],
        usage={"seconds": seconds},
        solution=solution if relax else None,
    )
