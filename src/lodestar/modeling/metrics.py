"""Model-evaluation metrics: ranking (AUC, Gini, KS, gains and lift), calibration (curve, Brier),
uplift (Qini and uplift curves, Qini coefficient, AUUC, uplift@k, uplift by decile). Drift
(PSI, CSI) lives in :mod:`lodestar.modeling.drift`.

Everything takes 1-D numpy arrays (or anything ``np.asarray`` accepts) and returns floats or
small frozen dataclasses of arrays; nothing loops in Python over rows, so a million rows take
a fraction of a second. Bad input raises ``ValueError`` naming the argument: unequal lengths,
labels other than 0/1, NaN or infinite scores, one class missing.

Ordering rule, shared by every "top fraction" and "by bin" metric: rows are sorted by score,
highest first, and rows with equal scores keep the reverse of their input order (the row that
comes later in the input ranks first). That is what scikit-uplift does
(``np.argsort(score, kind="mergesort")[::-1]``); using it everywhere means ``uplift_at`` and
``uplift_by_decile`` agree with scikit-uplift exactly and the gains table agrees with
``lift_at``. The "top fraction" holds ``int(n * fraction)`` rows (rounded down), scikit-uplift's
rule for ``uplift_at_k``. The curves (ROC, KS, Qini, uplift) are evaluated only between groups
of equal scores, so ties never depend on row order there.

Uplift definitions follow scikit-uplift 0.5 (``sklift.metrics``): ``qini_curve``,
``uplift_curve``, ``qini_coefficient`` = ``qini_auc_score`` (with ``negative_effect=True``),
``auuc`` = ``uplift_auc_score``, ``uplift_at`` = ``uplift_at_k(strategy="overall")`` and
``uplift_by_decile`` = ``uplift_by_percentile(strategy="overall")``. The curves, the Qini
coefficient, uplift@k and uplift by decile also take a continuous outcome (revenue);
``auuc`` needs a 0/1 outcome because its perfect curve is only defined for one.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1])
>>> roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8]))
0.75
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- validation


def _vector(name: str, values: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def _numbers(name: str, values: npt.ArrayLike) -> FloatArray:
    array = _vector(name, values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    result = array.astype(np.float64, copy=False)
    if not np.isfinite(result).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return result


def _labels(name: str, values: npt.ArrayLike) -> FloatArray:
    result = _numbers(name, values)
    if not np.isin(result, (0.0, 1.0)).all():
        found = np.unique(result[~np.isin(result, (0.0, 1.0))])[:5]
        raise ValueError(f"{name} must hold only 0 and 1, found {found.tolist()}")
    return result


def _both_present(name: str, labels: FloatArray, what: tuple[str, str]) -> None:
    ones = int(labels.sum())
    if ones in (0, labels.size):
        missing = what[1] if ones == 0 else what[0]
        raise ValueError(f"{name} has no {missing}: the metric needs both")


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: array.size for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ValueError(f"arrays differ in length: {listed}")


def _classification(y: npt.ArrayLike, score: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    labels, scores = _labels("y", y), _numbers("score", score)
    _same_length(y=labels, score=scores)
    _both_present("y", labels, ("negatives (0)", "positives (1)"))
    return labels, scores


def _fraction(fraction: float) -> float:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return float(fraction)


def _top_count(n: int, fraction: float) -> int:
    count = int(n * _fraction(fraction))
    if count == 0:
        raise ValueError(f"fraction {fraction} of {n} rows selects no row")
    return count


def _bin_count(bins: int, n: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if bins > n:
        raise ValueError(f"bins={bins} is more than the {n} rows")
    return int(bins)


def _descending(score: FloatArray) -> IntArray:
    # Stable ascending sort reversed: ties come out in reverse input order (see module doc).
    return np.argsort(score, kind="mergesort")[::-1].astype(np.int64)


def _equal_bins(n: int, bins: int) -> tuple[IntArray, IntArray]:
    """Start and end (exclusive) of ``bins`` consecutive blocks of sizes differing by at most
    one, the larger first, as ``np.array_split`` cuts."""
    sizes = np.full(bins, n // bins, dtype=np.int64) + (np.arange(bins) < n % bins)
    ends = np.cumsum(sizes)
    return ends - sizes, ends


def _group_ends(sorted_score: FloatArray) -> IntArray:
    """Index of the last row of each run of equal scores in a sorted array."""
    return np.r_[np.flatnonzero(np.diff(sorted_score)), sorted_score.size - 1].astype(np.int64)


def _area(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))


# --------------------------------------------------------------------------- ranking


def roc_auc(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting one half (the Mann-Whitney U statistic over n_pos * n_neg)."""
    from scipy.stats import rankdata

    labels, scores = _classification(y, score)
    ranks = rankdata(scores)  # average ranks, so a tie counts one half
    n_pos = float(labels.sum())
    n_neg = labels.size - n_pos
    u = float(ranks[labels == 1].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def gini(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Gini coefficient (accuracy ratio) = 2 * AUC - 1."""
    return 2 * roc_auc(y, score) - 1


@dataclass(frozen=True)
class KsResult:
    """Kolmogorov-Smirnov statistic and the threshold where it is reached.

    ``statistic`` is the largest |share of positives - share of negatives| scoring at or above
    a threshold; ``threshold`` is that score (the highest such score when several tie), so
    "score >= threshold" is the cut-off that separates the classes best.
    """

    statistic: float
    threshold: float
    positive_share_above: float
    negative_share_above: float


def ks(y: npt.ArrayLike, score: npt.ArrayLike) -> KsResult:
    """KS: the largest distance between the score distributions of positives and negatives."""
    labels, scores = _classification(y, score)
    order = _descending(scores)
    sorted_labels, sorted_scores = labels[order], scores[order]
    ends = _group_ends(sorted_scores)
    # Compare integer counts (pos_k * n_neg vs neg_k * n_pos) so equal distances tie exactly
    # and the first, highest threshold wins.
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    positives_above = np.cumsum(sorted_labels.astype(np.int64))[ends]
    negatives_above = ends + 1 - positives_above
    best = int(np.argmax(np.abs(positives_above * n_neg - negatives_above * n_pos)))
    positives = positives_above[best] / n_pos
    negatives = negatives_above[best] / n_neg
    return KsResult(
        statistic=float(abs(positives - negatives)),
        threshold=float(sorted_scores[ends[best]]),
        positive_share_above=float(positives),
        negative_share_above=float(negatives),
    )


@dataclass(frozen=True)
class GainsTable:
    """Gains table, one entry per bin, highest scores first (bin 1).

    ``cumulative_capture`` is the share of all positives in this bin and the ones above it;
    ``lift`` is the bin's response rate over the overall rate, ``cumulative_lift`` the same for
    everyone down to this bin.
    """

    customers: IntArray
    positives: FloatArray
    min_score: FloatArray
    max_score: FloatArray
    response_rate: FloatArray
    cumulative_capture: FloatArray
    lift: FloatArray
    cumulative_lift: FloatArray

    def rows(self) -> list[dict[str, float | int]]:
        """One plain dict per bin (bin 1 first), ready for JSON or a report table."""
        return [
            {
                "bin": i + 1,
                "customers": int(self.customers[i]),
                "positives": float(self.positives[i]),
                "min_score": float(self.min_score[i]),
                "max_score": float(self.max_score[i]),
                "response_rate": float(self.response_rate[i]),
                "cumulative_capture": float(self.cumulative_capture[i]),
                "lift": float(self.lift[i]),
                "cumulative_lift": float(self.cumulative_lift[i]),
            }
            for i in range(self.customers.size)
        ]


def gains_table(y: npt.ArrayLike, score: npt.ArrayLike, bins: int = 10) -> GainsTable:
    """Gains and lift by score bin.

    Bins are by rank, not by score value: rows sorted by score (highest first, ties in reverse
    input order, see the module doc) are cut into ``bins`` consecutive blocks whose sizes differ
    by at most one, the larger blocks first (as ``np.array_split``). Every bin is therefore
    full even when many scores tie, at the price that a run of equal scores can straddle two
    bins; ``min_score`` / ``max_score`` show where that happens.
    """
    labels, scores = _classification(y, score)
    count = _bin_count(bins, labels.size)
    order = _descending(scores)
    sorted_labels, sorted_scores = labels[order], scores[order]
    starts, ends = _equal_bins(labels.size, count)
    customers = ends - starts
    positives = np.add.reduceat(sorted_labels, starts)
    overall_rate = labels.sum() / labels.size
    response_rate = positives / customers
    cumulative_positives = np.cumsum(positives)
    return GainsTable(
        customers=customers,
        positives=positives,
        min_score=sorted_scores[ends - 1],
        max_score=sorted_scores[starts],
        response_rate=response_rate,
        cumulative_capture=cumulative_positives / labels.sum(),
        lift=response_rate / overall_rate,
        cumulative_lift=cumulative_positives / np.cumsum(customers) / overall_rate,
    )


def _top_positives(
    y: npt.ArrayLike, score: npt.ArrayLike, fraction: float
) -> tuple[float, int, FloatArray]:
    labels, scores = _classification(y, score)
    top = _top_count(labels.size, fraction)
    return float(labels[_descending(scores)[:top]].sum()), top, labels


def lift_at(y: npt.ArrayLike, score: npt.ArrayLike, fraction: float = 0.1) -> float:
    """Response rate among the top ``fraction`` by score over the overall response rate."""
    positives, top, labels = _top_positives(y, score, fraction)
    return (positives / top) / (labels.sum() / labels.size)


def capture_at(y: npt.ArrayLike, score: npt.ArrayLike, fraction: float = 0.2) -> float:
    """Share of all positives that fall in the top ``fraction`` by score."""
    positives, _, labels = _top_positives(y, score, fraction)
    return positives / float(labels.sum())


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class CalibrationCurve:
    """Mean predicted probability and observed positive rate per non-empty bin."""

    mean_predicted: FloatArray
    observed_rate: FloatArray
    count: IntArray


def _probabilities(y: npt.ArrayLike, prob: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    labels, probs = _labels("y", y), _numbers("prob", prob)
    _same_length(y=labels, prob=probs)
    if probs.min() < 0 or probs.max() > 1:
        raise ValueError("prob has values outside [0, 1]")
    return labels, probs


def calibration_curve(
    y: npt.ArrayLike,
    prob: npt.ArrayLike,
    bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> CalibrationCurve:
    """Reliability curve, binned as ``sklearn.calibration.calibration_curve`` bins.

    ``uniform``: equal-width bins over [0, 1]; ``quantile``: edges at the quantiles of ``prob``.
    A value on an edge goes to the lower bin; empty bins are left out.
    """
    labels, probs = _probabilities(y, prob)
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(probs, np.linspace(0.0, 1.0, bins + 1))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    bin_ids = np.searchsorted(edges[1:-1], probs)
    count = np.bincount(bin_ids, minlength=bins)
    keep = count > 0
    return CalibrationCurve(
        mean_predicted=np.bincount(bin_ids, weights=probs, minlength=bins)[keep] / count[keep],
        observed_rate=np.bincount(bin_ids, weights=labels, minlength=bins)[keep] / count[keep],
        count=count[keep].astype(np.int64),
    )


def brier(y: npt.ArrayLike, prob: npt.ArrayLike) -> float:
    """Brier score: mean squared difference between probability and outcome (lower is better)."""
    labels, probs = _probabilities(y, prob)
    return float(np.mean((probs - labels) ** 2))


# --------------------------------------------------------------------------- uplift


@dataclass(frozen=True)
class UpliftCurve:
    """A cumulative uplift-style curve: ``value`` after targeting the first ``n_targeted`` rows
    by score. Points sit at the ends of runs of equal scores, starting at (0, 0)."""

    n_targeted: IntArray
    value: FloatArray


def _uplift_inputs(
    y: npt.ArrayLike,
    treatment: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    binary_outcome: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    outcome = _labels("y", y) if binary_outcome else _numbers("y", y)
    treated = _labels("treatment", treatment)
    scores = _numbers("score", score)
    _same_length(y=outcome, treatment=treated, score=scores)
    _both_present("treatment", treated, ("control rows (0)", "treated rows (1)"))
    return outcome, treated, scores


def _cumulative_groups(
    outcome: FloatArray, treated: FloatArray, scores: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Targeted count, treated count, control count, treated outcome sum and control outcome
    sum at the end of each run of equal scores, highest scores first."""
    order = _descending(scores)
    outcome, treated = outcome[order], treated[order]
    ends = _group_ends(scores[order])
    n_all = ends + 1
    n_treated = np.cumsum(treated)[ends]
    sum_treated = np.cumsum(outcome * treated)[ends]
    sum_control = np.cumsum(outcome * (1 - treated))[ends]
    return n_all, n_treated, n_all - n_treated, sum_treated, sum_control


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    # 0 where the denominator is 0, as scikit-uplift does at the top of the curves, where one
    # group may not have appeared yet.
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def _qini_points(outcome: FloatArray, treated: FloatArray, scores: FloatArray) -> UpliftCurve:
    n_all, n_treated, n_control, sum_treated, sum_control = _cumulative_groups(
        outcome, treated, scores
    )
    value = sum_treated - sum_control * _ratio(n_treated, n_control)
    return UpliftCurve(n_targeted=np.r_[0, n_all].astype(np.int64), value=np.r_[0.0, value])


def _uplift_points(outcome: FloatArray, treated: FloatArray, scores: FloatArray) -> UpliftCurve:
    n_all, n_treated, n_control, sum_treated, sum_control = _cumulative_groups(
        outcome, treated, scores
    )
    value = (_ratio(sum_treated, n_treated) - _ratio(sum_control, n_control)) * n_all
    return UpliftCurve(n_targeted=np.r_[0, n_all].astype(np.int64), value=np.r_[0.0, value])


def qini_curve(y: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> UpliftCurve:
    """Qini curve: treated outcome among the top k minus control outcome scaled to the treated
    count, ``Y_t(k) - Y_c(k) * N_t(k) / N_c(k)`` (``sklift.metrics.qini_curve``)."""
    return _qini_points(*_uplift_inputs(y, treatment, score))


def uplift_curve(y: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> UpliftCurve:
    """Uplift curve: difference of mean outcomes among the top k times k,
    ``(Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * k`` (``sklift.metrics.uplift_curve``)."""
    return _uplift_points(*_uplift_inputs(y, treatment, score))


def _normalised_area(actual: UpliftCurve, perfect: UpliftCurve) -> float:
    # Area between a curve and the straight line from (0, 0) to the curve's end (random
    # targeting), relative to the same area for the perfect ranking.
    baseline = _area([0, perfect.n_targeted[-1]], [0, perfect.value[-1]])
    best = _area(perfect.n_targeted, perfect.value) - baseline
    if best == 0:
        raise ValueError(
            "the perfect ranking does no better than random here; the ratio is undefined"
        )
    return (_area(actual.n_targeted, actual.value) - baseline) / best


def qini_coefficient(y: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Qini coefficient: area between the Qini curve and random targeting over the same area
    for the perfect ranking, ``sklift.metrics.qini_auc_score(negative_effect=True)``.

    The perfect ranking puts treated rows with the highest outcome first and control rows with
    the highest outcome last (it ranks by ``y * treatment - y * (1 - treatment)``), which also
    defines it for revenue outcomes. 1 is perfect, 0 random, negative worse than random.
    """
    outcome, treated, scores = _uplift_inputs(y, treatment, score)
    perfect = _qini_points(outcome, treated, outcome * treated - outcome * (1 - treated))
    return _normalised_area(_qini_points(outcome, treated, scores), perfect)


def auuc(y: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the uplift curve, normalised like the Qini coefficient
    (``sklift.metrics.uplift_auc_score``). Needs a 0/1 outcome: the perfect ranking is
    treated responders, control non-responders, then whichever of control responders and
    treated non-responders is less numerous first."""
    outcome, treated, scores = _uplift_inputs(y, treatment, score, binary_outcome=True)
    control_responders = np.sum((outcome == 1) & (treated == 0))
    treated_non_responders = np.sum((outcome == 0) & (treated == 1))
    tiebreak = outcome if control_responders > treated_non_responders else treated
    perfect_score = 2.0 * (outcome == treated) + tiebreak
    perfect = _uplift_points(outcome, treated, perfect_score)
    return _normalised_area(_uplift_points(outcome, treated, scores), perfect)


def uplift_at(
    y: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike, fraction: float = 0.3
) -> float:
    """Mean outcome of treated rows minus that of control rows among the top ``fraction`` by
    score (``sklift.metrics.uplift_at_k(strategy="overall", k=fraction)``)."""
    outcome, treated, scores = _uplift_inputs(y, treatment, score)
    top = _descending(scores)[: _top_count(outcome.size, fraction)]
    top_outcome, top_treated = outcome[top], treated[top]
    n_treated = int(top_treated.sum())
    if n_treated in (0, top.size):
        group = "treated" if n_treated == 0 else "control"
        raise ValueError(f"the top {fraction:g} ({top.size} rows) holds no {group} row")
    treated_mean = top_outcome[top_treated == 1].mean()
    control_mean = top_outcome[top_treated == 0].mean()
    return float(treated_mean - control_mean)


@dataclass(frozen=True)
class UpliftByBin:
    """Per score bin (highest first): group sizes, mean outcome of each group (the response
    rate for a 0/1 outcome; NaN where the bin has no row of that group) and their difference."""

    n_treatment: IntArray
    n_control: IntArray
    treatment_mean: FloatArray
    control_mean: FloatArray
    uplift: FloatArray


def uplift_by_decile(
    y: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike, bins: int = 10
) -> UpliftByBin:
    """Uplift per score bin, rank-based equal bins as in ``gains_table``
    (``sklift.metrics.uplift_by_percentile(strategy="overall")``)."""
    outcome, treated, scores = _uplift_inputs(y, treatment, score)
    count = _bin_count(bins, outcome.size)
    order = _descending(scores)
    outcome, treated = outcome[order], treated[order]
    starts, ends = _equal_bins(outcome.size, count)
    n_treatment = np.add.reduceat(treated, starts).astype(np.int64)
    n_control = (ends - starts) - n_treatment
    sum_treatment = np.add.reduceat(outcome * treated, starts)
    sum_control = np.add.reduceat(outcome * (1 - treated), starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        treatment_mean = np.where(n_treatment > 0, sum_treatment / n_treatment, np.nan)
        control_mean = np.where(n_control > 0, sum_control / n_control, np.nan)
    return UpliftByBin(
        n_treatment=n_treatment,
        n_control=n_control,
        treatment_mean=treatment_mean,
        control_mean=control_mean,
        uplift=treatment_mean - control_mean,
    )
