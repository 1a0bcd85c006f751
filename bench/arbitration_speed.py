"""Issue 5's arbitration bar: 1M customers x 10 offers x 5 channels in <= 60 s, gap <= 1%.

    PYTHONPATH=src python -m bench.arbitration_speed --customers 1000000 --offers 10 --channels 5

Synthetic plan data: per customer a skewed (lognormal) propensity, per offer a margin and a
coupon cost, per channel a contact cost and a lift (an outbound call converts best and costs
most); value = uplift x margin, cost = contact cost + uplift x coupon; a customer-offer is
eligible with probability 0.65 and a channel reachable with a channel-specific probability
(~45% of all combinations eligible). Limits: a total budget at 25% of the unconstrained spend,
budgets on half the offers, counts on a third, a call-centre capacity of 2% of customers and an
SMS quota of 15%.

Times :func:`lodestar.decisioning.arbitration.arbitrate` at the full size (gap against its own
proven upper bound; peak memory as traced allocations and the process high-water mark), then on
``--peer-customers`` customers side by side with scipy's HiGHS LP and MILP on the same data.
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

CHANNELS = [  # name, contact cost CNY, lift, reachable share
    ("outbound call", 6.0, 3.0, 0.85),
    ("SMS", 0.05, 1.0, 0.95),
    ("app push", 0.01, 0.7, 0.55),
    ("e-mail", 0.005, 0.5, 0.45),
    ("in-app inbox", 0.0, 0.4, 0.6),
]


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def instance(customers: int, offers: int, channels: int, seed: int = 0) -> tuple[Any, Any]:
    """Candidates and binding limits for a synthetic bank."""
    from lodestar.decisioning.arbitration import Candidates, Limits

    rng = np.random.default_rng(seed)
    spec = [CHANNELS[c % len(CHANNELS)] for c in range(channels)]
    contact_cost = np.array([s[1] for s in spec])
    lift = np.array([s[2] for s in spec])
    reach = np.array([s[3] for s in spec])
    margin = rng.lognormal(5.0, 1.0, offers)  # CNY per conversion: ~150 median, a long tail
    coupon = margin * rng.uniform(0.05, 0.4, offers)
    appeal = rng.lognormal(0.0, 0.5, offers)
    propensity = np.minimum(rng.lognormal(-5.0, 1.0, customers), 0.2)
    reachable = rng.random((customers, channels)) < reach
    eligible = rng.random((customers, offers)) < 0.65
    mask = (eligible[:, :, None] & reachable[:, None, :]).ravel()
    idx = np.flatnonzero(mask)
    del mask, eligible, reachable
    customer = idx // (offers * channels)
    offer = ((idx // channels) % offers).astype(np.int32)
    channel = (idx % channels).astype(np.int32)
    del idx
    noise = rng.lognormal(0.0, 0.6, len(customer))
    uplift = np.minimum(propensity[customer] * appeal[offer] * lift[channel] * noise, 0.9)
    value = uplift * margin[offer]
    cost = contact_cost[channel] + uplift * coupon[offer]
    del uplift, noise
    candidates = Candidates(customer=customer, offer=offer, channel=channel, value=value, cost=cost)
    profit = value - cost
    best = _unconstrained(candidates, profit)
    spend = float(cost[best].sum())
    offer_spend = np.bincount(offer[best], weights=cost[best], minlength=offers)
    offer_n = np.bincount(offer[best], minlength=offers)
    offer_budget = np.where(np.arange(offers) % 2 == 0, offer_spend * 0.35, math.inf)
    offer_count = np.where(np.arange(offers) % 3 == 1, np.floor(offer_n * 0.4), math.inf)
    capacity = np.full(channels, math.inf)
    capacity[0] = math.floor(customers * 0.02)
    if channels > 1:
        capacity[1] = math.floor(customers * 0.15)
    limits = Limits(
        total_budget=spend * 0.25,
        offer_budget=offer_budget,
        offer_count=offer_count,
        channel_capacity=capacity,
    )
    return candidates, limits


def _unconstrained(candidates: Any, profit: np.ndarray) -> np.ndarray:
    """Rows of each customer's best profitable action (the plan with no limits)."""
    starts = np.flatnonzero(np.r_[True, np.diff(candidates.customer) != 0])
    best = np.maximum.reduceat(profit, starts)
    group = np.cumsum(np.r_[True, np.diff(candidates.customer) != 0]) - 1
    hits = np.flatnonzero((profit == best[group]) & (profit > 0))
    return hits[np.r_[True, group[hits[1:]] != group[hits[:-1]]]]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--offers", type=int, default=10)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--per-customer", type=int, default=1)
    parser.add_argument("--peer-customers", type=int, default=20_000)
    parser.add_argument("--milp-time-limit", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from dataclasses import replace

    from lodestar.decisioning.arbitration import arbitrate, violations
    from lodestar.decisioning.arbitration_exact import solve_exact
    from lodestar.errors import LodestarError

    _say(f"generating {args.customers:,} x {args.offers} x {args.channels}")
    started = time.perf_counter()
    candidates, limits = instance(args.customers, args.offers, args.channels, args.seed)
    limits = replace(limits, per_customer=args.per_customer)
    generated = time.perf_counter() - started
    rows = len(candidates)
    _say(f"{rows:,} candidate rows in {generated:.1f} s; arbitrating")

    def report(i: int, upper: float, objective: float) -> None:
        gap = (upper - objective) / abs(upper) if upper else 0.0
        _say(f"  iteration {i}: bound {upper:,.0f} objective {objective:,.0f} gap {gap:.4%}")

    tracemalloc.start()
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    got = arbitrate(candidates, limits, progress=report)
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    problems = violations(candidates, limits, got.chosen)
    if problems:
        raise SystemExit(f"infeasible allocation: {problems[:5]}")
    load = " / ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    print(f"## Arbitration: {args.customers:,} customers x {args.offers} offers x "
          f"{args.channels} channels, per_customer {args.per_customer}\n")
    print(f"{rows:,} candidate rows ({rows / (args.customers * args.offers * args.channels):.0%} "
          f"of the combinations), generated in {generated:.1f} s (not timed below); "
          f"load average after the run {load}\n")
    print("| seconds | iterations | objective CNY | upper bound CNY | gap | chosen | "
          "binding limits | traced peak MB | process peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {seconds:.1f} | {got.iterations} | {got.objective:,.0f} | {got.upper_bound:,.0f} | "
          f"{got.gap:.3%} | {int(got.chosen.sum()):,} | {len(got.binding)} | "
          f"{traced_peak / 2**20:,.0f} | {_peak_rss_mb():,.0f} (before: {rss_before:,.0f}) |\n")
    print(f"binding: {', '.join(got.binding)}\n")

    if args.peer_customers <= 0:
        return
    del candidates, got
    n = args.peer_customers
    _say(f"peers at {n:,} customers")
    small, small_limits = instance(n, args.offers, args.channels, args.seed + 1)
    small_limits = replace(small_limits, per_customer=args.per_customer)
    results = []
    started = time.perf_counter()
    ours = arbitrate(small, small_limits)
    results.append(("lodestar arbitrate (Lagrangian)", time.perf_counter() - started, ours))
    for name, kwargs in (
        ("HiGHS LP relaxation (scipy linprog)", {"relax": True}),
        ("HiGHS MILP (scipy milp)", {"time_limit": args.milp_time_limit}),
    ):
        _say(f"  {name}")
        started = time.perf_counter()
        try:
            exact = solve_exact(small, small_limits, **kwargs)
        except LodestarError as error:  # e.g. the MILP's time limit with no solution yet
            print(f"{name}: {error} after {time.perf_counter() - started:.0f} s\n")
            return
        results.append((name, time.perf_counter() - started, exact))
    lp = results[1][2].objective
    print(f"### Side by side: {n:,} customers, {len(small):,} rows (same data for all)\n")
    print("| contender | seconds | objective CNY | vs LP optimum | proven bound | "
          "time vs lodestar |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, secs, alloc in results:
        print(f"| {name} | {secs:.2f} | {alloc.objective:,.1f} | {alloc.objective / lp:.5f} | "
              f"{alloc.upper_bound:,.1f} | {secs / results[0][1]:.1f}x |")
    milp = results[2][2]
    print(f"\nlodestar objective / MILP objective = {ours.objective / milp.objective:.5f}; "
          f"MILP's own gap {milp.gap:.2e}; lodestar's proven gap {ours.gap:.3%}")


if __name__ == "__main__":
    main()
