"""Experiment statistics on sufficient statistics: frequentist and Bayesian comparisons of an arm
with its control, CUPED, sample-ratio mismatch and multiple-testing corrections.

The engine aggregates (:mod:`lodestar.experiments.arm_stats`); this module does maths on small
frozen dataclasses, so the same code serves a DuckDB table, a Spark job or a CSV file.

>>> control = MetricStats.of_proportion(21_306, 2_262)
>>> mens = MetricStats.of_proportion(21_307, 3_894)
>>> result = compare(control, mens, kind="proportion")
>>> round(result.absolute, 4), result.p_value < 1e-100
(0.0766, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Kind = Literal["proportion", "mean"]


@dataclass(frozen=True)
class MetricStats:
    """One arm's sufficient statistics for a metric ``y`` (and, for CUPED, a pre-period
    covariate ``x``): counts and sums, nothing per row."""

    n: int
    sum: float
    sum_sq: float
    x_sum: float = 0.0
    x_sum_sq: float = 0.0
    xy_sum: float = 0.0

    @classmethod
    def of_proportion(cls, n: int, successes: int) -> MetricStats:
        return cls(n, float(successes), float(successes))

    @classmethod
    def of_values(cls, y: np.ndarray, x: np.ndarray | None = None) -> MetricStats:
        y = np.asarray(y, dtype=np.float64)
        if x is None:
            return cls(len(y), float(y.sum()), float((y * y).sum()))
        x = np.asarray(x, dtype=np.float64)
        return cls(len(y), float(y.sum()), float((y * y).sum()), float(x.sum()),
                   float((x * x).sum()), float((x * y).sum()))  # fmt: skip

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric."""

    kind: str
    control_mean: float
    treatment_mean: float
    absolute: float  # treatment - control
    absolute_ci: tuple[float, float]
    relative: float  # (treatment - control) / control
    relative_ci: tuple[float, float]
    p_value: float
    alpha: float
    #: Bayesian: probability the treatment's true mean beats the control's, and the expected
    #: loss of choosing the treatment (in the metric's units)
    chance_to_beat: float
    expected_loss: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def compare(control: MetricStats, treatment: MetricStats, *, kind: Kind = "mean",
            alpha: float = 0.05, bayesian: bool = True) -> Comparison:  # fmt: skip
    """Two-proportion z-test (pooled for the p-value, unpooled for the interval) or Welch's t
    for means; relative lift with a delta-method interval; Bayesian chance to beat control
    (beta-binomial with a uniform prior for proportions, normal with a flat prior for means).
    ``bayesian=False`` skips the beta quadrature (NaN chance and loss) where only the
    frequentist figures are read, e.g. one comparison per day of a cumulative curve."""
    if control.n < 2 or treatment.n < 2:
        raise ValueError("each arm needs at least 2 observations")
    m0, m1 = control.mean, treatment.mean
    diff = m1 - m0
    if kind == "proportion":
        v0, v1 = m0 * (1 - m0) / control.n, m1 * (1 - m1) / treatment.n
        pooled = (control.sum + treatment.sum) / (control.n + treatment.n)
        se_null = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
        p_value = 2 * stats.norm.sf(abs(diff) / se_null) if se_null > 0 else 1.0
        q = stats.norm.ppf(1 - alpha / 2)
        beat, loss = _beta_chance(control, treatment) if bayesian else (math.nan, math.nan)
    else:
        v0, v1 = control.variance / control.n, treatment.variance / treatment.n
        se = math.sqrt(v0 + v1)
        df = _welch_df(v0, v1, control.n, treatment.n)
        p_value = 2 * stats.t.sf(abs(diff) / se, df) if se > 0 else 1.0
        q = stats.t.ppf(1 - alpha / 2, df)
        beat, loss = _normal_chance(diff, se)
    se = math.sqrt(v0 + v1)
    relative = diff / m0 if m0 else math.nan
    # delta method for the ratio m1 / m0
    rel_se = math.sqrt(v1 / m0**2 + m1**2 * v0 / m0**4) if m0 else math.nan
    return Comparison(kind, m0, m1, diff, (diff - q * se, diff + q * se), relative,
                      (relative - q * rel_se, relative + q * rel_se), float(p_value), alpha,
                      beat, loss)  # fmt: skip


def _welch_df(v0: float, v1: float, n0: int, n1: int) -> float:
    denominator = v0**2 / (n0 - 1) + v1**2 / (n1 - 1)
    return (v0 + v1) ** 2 / denominator if denominator > 0 else float(n0 + n1 - 2)


def _normal_chance(diff: float, se: float) -> tuple[float, float]:
    """P(treatment > control) and E[max(control - treatment, 0)] for D ~ N(diff, se^2)."""
    if se == 0:
        return float(diff > 0), max(-diff, 0.0)
    z = diff / se
    beat = float(stats.norm.cdf(z))
    # E[max(-D, 0)] = se * phi(z) - diff * Phi(-z)
    loss = float(se * stats.norm.pdf(z) - diff * stats.norm.cdf(-z))
    return beat, max(loss, 0.0)


def _beta_chance(control: MetricStats, treatment: MetricStats) -> tuple[float, float]:
    """P(pB > pA) and E[max(pA - pB, 0)] for independent Beta(1 + s, 1 + f) posteriors, by
    quadrature on a grid fine enough for the posteriors' widths."""
    a0, b0 = 1 + control.sum, 1 + control.n - control.sum
    a1, b1 = 1 + treatment.sum, 1 + treatment.n - treatment.sum
    lo = min(stats.beta.ppf(1e-9, a0, b0), stats.beta.ppf(1e-9, a1, b1))
    hi = max(stats.beta.isf(1e-9, a0, b0), stats.beta.isf(1e-9, a1, b1))
    x = np.linspace(lo, hi, 20_001)
    f1 = stats.beta.pdf(x, a1, b1)
    beat = float(np.trapezoid(f1 * stats.beta.cdf(x, a0, b0), x))
    # E[max(pA - pB, 0)] = integral over pB of f_B(pB) * E[(pA - pB)^+]
    #                    = integral f_B(x) * (mean_A * sf_{A+}(x) - x * sf_A(x)) dx,
    # where sf_{A+} is the survival function of Beta(a0 + 1, b0)
    mean0 = a0 / (a0 + b0)
    tail = mean0 * stats.beta.sf(x, a0 + 1, b0) - x * stats.beta.sf(x, a0, b0)
    loss = float(np.trapezoid(f1 * tail, x))
    return min(max(beat, 0.0), 1.0), max(loss, 0.0)


# -- CUPED ----------------------------------------------------------------------------------
def cuped(control: MetricStats, treatment: MetricStats, *, alpha: float = 0.05) -> Comparison:
    """Welch comparison of ``y - theta * (x - mean x)``, with ``theta = cov(x, y) / var(x)``
    over both arms (Deng et al. 2013): the same expected difference, a smaller variance when the
    pre-period covariate predicts the metric."""
    n = control.n + treatment.n
    sx, sy = control.x_sum + treatment.x_sum, control.sum + treatment.sum
    sxx, sxy = control.x_sum_sq + treatment.x_sum_sq, control.xy_sum + treatment.xy_sum
    var_x = (sxx - sx * sx / n) / (n - 1)
    cov = (sxy - sx * sy / n) / (n - 1)
    theta = cov / var_x if var_x > 0 else 0.0
    mx = sx / n
    return compare(_adjusted(control, theta, mx), _adjusted(treatment, theta, mx), kind="mean",
                   alpha=alpha)  # fmt: skip


def _adjusted(s: MetricStats, theta: float, mx: float) -> MetricStats:
    """Sufficient statistics of ``y - theta * (x - mx)`` from those of ``y`` and ``x``."""
    # sum(y - t(x - m)) = sy - t(sx - n m);  sum((y - t(x - m))^2) expands over the sums
    shift_sum = s.x_sum - s.n * mx
    total = s.sum - theta * shift_sum
    xc_sq = s.x_sum_sq - 2 * mx * s.x_sum + s.n * mx * mx
    xcy = s.xy_sum - mx * s.sum
    squares = s.sum_sq - 2 * theta * xcy + theta * theta * xc_sq
    return MetricStats(s.n, total, squares)


# -- sample-ratio mismatch and multiple testing --------------------------------------------------
def sample_ratio_mismatch(counts: Sequence[int], weights: Sequence[float]) -> float:
    """p-value of a chi-square goodness-of-fit test of the arms' sizes against the planned
    weights; a small value (e.g. < 0.001) means the assignment or the logging is broken."""
    observed = np.asarray(counts, dtype=np.float64)
    expected = np.asarray(weights, dtype=np.float64)
    expected = expected / expected.sum() * observed.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(chi2, len(observed) - 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()
