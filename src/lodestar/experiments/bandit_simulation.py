"""Simulated rounds of a traffic-splitting policy against known true conversion rates: how
much a bandit costs while it learns (cumulative regret) and how much traffic ends on the best
arm. Used by ``bench/bandit_regret.py`` and the tests.

>>> result = simulate("equal", [0.02, 0.04], rounds=3, per_round=1000, seed=1)
>>> result.rounds, round(result.best_share, 1)
(3, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lodestar.errors import ConfigError
from lodestar.experiments.bandit import Bandit
from lodestar.experiments.statistics import MetricStats

Policy = Literal["thompson", "equal", "epsilon-greedy"]
POLICIES: tuple[Policy, ...] = ("thompson", "equal", "epsilon-greedy")


@dataclass(frozen=True)
class SimulationResult:
    policy: str
    rounds: int
    customers: int
    conversions: int
    #: expected conversions lost against sending everyone the best arm, summed over rounds
    regret: float
    #: share of all customers that got the best arm
    best_share: float
    #: the best arm's share in the last round
    final_best_share: float


def simulate(policy: Policy, rates: Sequence[float], *, rounds: int = 20, per_round: int = 2000,
             seed: int = 0, floor: float = 0.05, epsilon: float = 0.1,
             draws: int = 4000) -> SimulationResult:  # fmt: skip
    """Run ``rounds`` rounds of ``per_round`` customers each: the policy splits the round by
    the cumulative results so far (round 1 is an equal split for every policy), customers are
    dealt by a multinomial draw and convert at the arm's true rate."""
    if policy not in POLICIES:
        raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    p = np.asarray(rates, dtype=np.float64)
    k = len(p)
    if k < 2 or ((p < 0) | (p > 1)).any():
        raise ConfigError("give at least two true rates, each in [0, 1]")
    rng = np.random.default_rng(seed)
    names = [f"arm{i}" for i in range(k)]
    n, s = np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)
    best = int(p.argmax())
    regret, shares = 0.0, np.full(k, 1.0 / k)
    for r in range(rounds):
        if r > 0 and policy == "thompson":
            stats = {names[i]: MetricStats.of_proportion(int(n[i]), int(s[i])) for i in range(k)}
            allocation = Bandit(floor=floor, draws=draws, seed=seed * 1000 + r).allocate(stats)
            shares = np.array([allocation.shares[m] for m in names])
        elif r > 0 and policy == "epsilon-greedy":
            means = np.where(n > 0, s / np.maximum(n, 1), np.inf)
            shares = np.full(k, epsilon / k)
            shares[int(means.argmax())] += 1 - epsilon
        sent = rng.multinomial(per_round, shares / shares.sum())
        s += rng.binomial(sent, p)
        n += sent
        regret += float((sent * (p[best] - p)).sum())
    return SimulationResult(policy, rounds, int(n.sum()), int(s.sum()), regret,
                            float(n[best] / n.sum()), float(shares[best]))  # fmt: skip
