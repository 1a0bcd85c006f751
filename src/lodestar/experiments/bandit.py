"""Thompson sampling over arms (offers, messages, channels) with a minimum exploration share.

Each round the engine returns every arm's sufficient statistics (:class:`MetricStats`); the
bandit turns them into posteriors -- Beta(1 + conversions, 1 + misses) for a conversion rate,
normal for revenue per contact -- and gives each active arm a share of next round's traffic
equal to its probability of being the best arm (Thompson sampling in batches), lifted to at
least ``floor`` so that no active arm stops learning.

>>> bandit = Bandit(floor=0.1, seed=7)
>>> stats = {"A": MetricStats.of_proportion(1000, 50), "B": MetricStats.of_proportion(1000, 80)}
>>> allocation = bandit.allocate(stats)
>>> round(sum(allocation.shares.values()), 12), allocation.shares["A"] >= 0.1
(1.0, True)

Customers are dealt to arms by :func:`assign_round`, a hash of customer, key and round: the
same customer gets the same arm within a round on any machine, and a fresh draw next round.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from lodestar.errors import ConfigError
from lodestar.experiments.assignment import Arm, assign
from lodestar.experiments.statistics import MetricStats, _beta_chance, _normal_chance

Kind = Literal["proportion", "mean"]


def probability_best(
    stats_by_arm: Mapping[str, MetricStats],
    *,
    kind: Kind = "proportion",
    draws: int = 20_000,
    seed: int = 0,
) -> dict[str, float]:
    """Each arm's posterior probability of having the highest true mean.

    Two arms: exact (quadrature for beta posteriors, the normal CDF for means). More arms:
    Monte Carlo with ``draws`` joint posterior draws from a generator seeded by ``seed``.
    """
    names = list(stats_by_arm)
    if not names:
        raise ConfigError("no arms to allocate")
    if len(names) == 1:
        return {names[0]: 1.0}
    if kind not in ("proportion", "mean"):
        raise ConfigError(f"kind must be 'proportion' or 'mean', got {kind!r}")
    for name, s in stats_by_arm.items():
        if s.n < 0 or (kind == "proportion" and not 0 <= s.sum <= s.n):
            raise ConfigError(f"arm '{name}': {s.sum:g} conversions out of {s.n} is impossible")
    if len(names) == 2:
        a, b = (stats_by_arm[n] for n in names)
        if kind == "proportion":
            beat, _ = _beta_chance(a, b)
        else:
            (ma, va), (mb, vb) = (
                _normal_posterior(a, stats_by_arm),
                _normal_posterior(b, stats_by_arm),
            )
            beat, _ = _normal_chance(mb - ma, math.sqrt(va + vb))
        return {names[0]: 1.0 - beat, names[1]: beat}
    samples = _posterior_draws(stats_by_arm, kind, draws, np.random.default_rng(seed))
    wins = np.bincount(samples.argmax(axis=1), minlength=len(names))
    return {name: float(w) / draws for name, w in zip(names, wins, strict=True)}


def _posterior_draws(stats_by_arm: Mapping[str, MetricStats], kind: Kind, draws: int,
                     rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """``draws`` x arms joint draws of the arms' true means."""
    columns = []
    for s in stats_by_arm.values():
        if kind == "proportion":
            columns.append(rng.beta(1 + s.sum, 1 + s.n - s.sum, draws))
        else:
            mean, var = _normal_posterior(s, stats_by_arm)
            columns.append(rng.normal(mean, math.sqrt(var), draws))
    return np.column_stack(columns)


def _normal_posterior(s: MetricStats, pool: Mapping[str, MetricStats]) -> tuple[float, float]:
    """Mean and variance of an arm's mean (flat prior). An arm with fewer than two
    observations borrows the pooled mean and variance of all arms as one pseudo-observation, so
    a new arm starts wide instead of undefined."""
    if s.n >= 2:
        return s.mean, max(s.variance, 1e-12) / s.n
    n = sum(p.n for p in pool.values())
    total, squares = sum(p.sum for p in pool.values()), sum(p.sum_sq for p in pool.values())
    if n < 2:
        return 0.0, 1.0
    mean = total / n
    var = max((squares - total * mean) / (n - 1), 1e-12)
    return (mean + s.sum) / (1 + s.n), var / (1 + s.n)


def with_floor(probabilities: Mapping[str, float], floor: float,
               active: Collection[str] | None = None) -> dict[str, float]:  # fmt: skip
    """Shares summing to 1: inactive arms get 0, every active arm at least ``floor`` (capped at
    1 / active arms), and the rest follows ``probabilities`` -- arms below the floor are lifted
    to it and the others scaled down in proportion (water-filling, so an arm above the floor
    keeps its rank and ratio to the other arms above the floor)."""
    if not 0.0 <= floor <= 1.0:
        raise ConfigError(f"the minimum exploration share must be in [0, 1], got {floor}")
    names = [n for n in probabilities if active is None or n in active]
    out = dict.fromkeys(probabilities, 0.0)
    if not names:
        return out
    floor = min(floor, 1.0 / len(names))
    weight = {n: max(float(probabilities[n]), 0.0) for n in names}
    lifted: set[str] = set()
    while True:
        free = [n for n in names if n not in lifted]
        room = 1.0 - floor * len(lifted)
        total = sum(weight[n] for n in free)
        scaled = {n: (weight[n] / total * room if total > 0 else room / len(free)) for n in free}
        below = {n for n, v in scaled.items() if v < floor}
        if len(below) == len(free):  # only by rounding: the floor is 1 / arms
            scaled = dict.fromkeys(free, room / len(free))
        elif below:
            lifted |= below
            continue
        out.update(dict.fromkeys(lifted, floor))
        out.update(scaled)
        return out


@dataclass(frozen=True)
class Allocation:
    """One round's traffic split, each arm's probability of being best, and the reason for
    each arm's share in plain words (English and zh-CN)."""

    shares: Mapping[str, float]
    probabilities: Mapping[str, float]
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Bandit:
    """Batched Thompson sampling with a minimum exploration share per active arm.

    ``kind="proportion"``: beta-binomial on conversions; ``kind="mean"``: normal posteriors on
    revenue per contact (``MetricStats`` with sums of squares). ``draws`` and ``seed`` fix the
    Monte Carlo, so a round is reproducible.
    """

    floor: float = 0.05
    kind: Kind = "proportion"
    draws: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= 1.0:
            raise ConfigError(f"the minimum exploration share must be in [0, 1], got {self.floor}")
        if self.draws < 100:
            raise ConfigError(f"draws must be at least 100, got {self.draws}")

    def allocate(self, stats_by_arm: Mapping[str, MetricStats],
                 active: Collection[str] | None = None) -> Allocation:  # fmt: skip
        """Shares for the next round; arms not in ``active`` (when given) get 0."""
        live = {n: s for n, s in stats_by_arm.items() if active is None or n in active}
        best = probability_best(live, kind=self.kind, draws=self.draws, seed=self.seed) if live \
            else {}  # fmt: skip
        probabilities = {n: best.get(n, 0.0) for n in stats_by_arm}
        shares = with_floor(probabilities, self.floor, live.keys())
        floor = min(self.floor, 1.0 / len(live)) if live else 0.0
        reasons: dict[str, tuple[str, str]] = {}
        for n, s in stats_by_arm.items():
            if n not in live:
                reasons[n] = ("not active: no traffic", "未启用：不分配流量")
            else:
                reasons[n] = thompson_reason(s, probabilities[n], shares[n], floor)
        return Allocation(shares, probabilities, reasons)


def thompson_reason(stats: MetricStats, p_best: float, share: float,
                    floor: float) -> tuple[str, str]:  # fmt: skip
    """Why an arm gets ``share`` under Thompson sampling, in English and zh-CN."""
    seen = f"{stats.mean:.4g} over {stats.n:,}" if stats.n else "no observations yet"
    seen_zh = f"{stats.n:,} 次观测均值 {stats.mean:.4g}" if stats.n else "尚无观测"
    if share <= floor + 1e-12 and p_best < floor:
        return (f"Thompson sampling: {p_best:.1%} chance to be best ({seen}), kept at the "
                f"minimum exploration share {floor:.1%}",
                f"汤普森采样：为最优的概率 {p_best:.1%}（{seen_zh}），保留最低探索流量 {floor:.1%}")  # fmt: skip
    return (f"Thompson sampling: {p_best:.1%} chance to be best ({seen}) -> {share:.1%} of "
            "traffic", f"汤普森采样：为最优的概率 {p_best:.1%}（{seen_zh}）→ 分配 {share:.1%} 流量")  # fmt: skip


def assign_round(ids: Sequence[str] | np.ndarray, key: str, shares: Mapping[str, float],
                 round_: int) -> np.ndarray:  # fmt: skip
    """Each customer's arm for round ``round_`` under ``shares`` (arms with 0 share get nobody):
    a hash of customer, ``key`` and the round, so the split is reproducible and each round
    draws afresh."""
    arms = [Arm(n, s) for n, s in shares.items() if s > 0]
    if not arms:
        raise ConfigError(f"experiment '{key}': no arm has a share of traffic")
    return assign(ids, key, arms=arms, salt=f"round-{round_}")
