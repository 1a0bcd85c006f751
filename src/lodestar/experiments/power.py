"""How many customers an experiment needs, what it can detect, and tests that may be looked at
every day without inflating the error rate.

- :func:`sample_size_proportions` / :func:`minimum_detectable_effect`: the two-sided
  two-proportion z-test's sample size per arm (unpooled alternative variance, pooled null
  variance — the textbook formula, e.g. Chow, Shao & Wang, *Sample Size Calculations in Clinical
  Research*, 4.2) and its inverse;
- :func:`always_valid`: the mixture sequential probability ratio test (mSPRT, Johari, Pekelis &
  Walsh 2017, with a normal mixing distribution): an always-valid p-value and confidence interval
  for a difference in means, valid at every look, so a campaign manager may stop the moment it
  crosses alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats


def sample_size_proportions(baseline: float, lift: float, *, alpha: float = 0.05,
                            power: float = 0.8, ratio: float = 1.0) -> int:  # fmt: skip
    """Customers needed in the control arm to detect an absolute ``lift`` over ``baseline``
    (the treatment arm gets ``ratio`` times as many)."""
    p0, p1 = baseline, baseline + lift
    if not (0 < p0 < 1 and 0 < p1 < 1) or lift == 0:
        raise ValueError("baseline and baseline + lift must be proportions in (0, 1), lift != 0")
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    pooled = (p0 + ratio * p1) / (1 + ratio)
    null = za * math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
    alt = zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1) / ratio)
    return math.ceil((null + alt) ** 2 / lift**2)


def power_proportions(baseline: float, lift: float, n: int, *, alpha: float = 0.05,
                      ratio: float = 1.0) -> float:  # fmt: skip
    """The power of the same test with ``n`` in control and ``ratio * n`` in treatment."""
    p0, p1 = baseline, baseline + lift
    za = stats.norm.ppf(1 - alpha / 2)
    pooled = (p0 + ratio * p1) / (1 + ratio)
    null = za * math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
    alt = math.sqrt(p0 * (1 - p0) + p1 * (1 - p1) / ratio)
    return float(stats.norm.cdf((abs(lift) * math.sqrt(n) - null) / alt))


def minimum_detectable_effect(baseline: float, n: int, *, alpha: float = 0.05,
                              power: float = 0.8, ratio: float = 1.0) -> float:  # fmt: skip
    """The smallest absolute lift over ``baseline`` detected with ``power`` by ``n`` per arm."""
    upper = 1 - baseline - 1e-9
    if power_proportions(baseline, upper, n, alpha=alpha, ratio=ratio) < power:
        return math.nan  # not even the largest possible lift
    root = optimize.brentq(
        lambda d: power_proportions(baseline, d, n, alpha=alpha, ratio=ratio) - power,
        1e-9, upper, xtol=1e-10,
    )  # fmt: skip
    return float(root)


@dataclass(frozen=True)
class SequentialResult:
    estimate: float
    p_value: float  # always valid: the smallest mSPRT p-value up to this look
    ci: tuple[float, float]
    looks: int


def always_valid(differences: list[tuple[float, float]], *, alpha: float = 0.05,
                 tau2: float | None = None) -> SequentialResult:  # fmt: skip
    """mSPRT over successive looks: each look is (estimated difference, its variance V_n).

    With mixing variance ``tau2`` (default: the first look's variance, a common choice that
    puts the prior's scale at the effects the experiment can see), the likelihood ratio is
    ``sqrt(V / (V + tau2)) * exp(tau2 * d^2 / (2 V (V + tau2)))``; the p-value is the running
    minimum of its inverse, and the interval at the last look is
    ``d +- sqrt(V (V + tau2) / tau2 * (log((V + tau2) / V) - 2 log alpha))``.
    """
    if not differences:
        raise ValueError("no looks yet")
    t2 = tau2 if tau2 is not None else differences[0][1]
    p = 1.0
    for d, v in differences:
        ratio = math.sqrt(v / (v + t2)) * math.exp(t2 * d * d / (2 * v * (v + t2)))
        p = min(p, 1.0 / ratio)
    d, v = differences[-1]
    half = math.sqrt(v * (v + t2) / t2 * (math.log((v + t2) / v) - 2 * math.log(alpha)))
    return SequentialResult(d, p, (d - half, d + half), len(differences))
