"""``ScoreCalibrator``: turn a classifier's raw scores into probabilities that read as rates.

A model trained with the positive class weighted up (see ``imbalance`` in
:class:`~lodestar.modeling.classifier.GradientBoostedClassifier`) ranks well but overstates
every probability: a customer scored 0.30 may respond one time in eight. The calibrator learns
the map from raw score (log-odds) to observed rate on rows the model did not train on, so a
marketer can read "0.12" as "about 12 in 100 such customers".

Two methods:

- ``"isotonic"``: the best non-decreasing step function (pool-adjacent-violators), made
  *centred* and strictly increasing: each pooled block's rate (shrunk a little towards the Platt
  fit, so a small block never says 0 or 1) is placed at the block's mean score and scores in
  between are interpolated, so two customers the model tells apart are never given
  the same probability and the ranking (AUC, lift) is exactly the model's own. Needs enough rows:
  it is the default from :data:`ISOTONIC_MIN_ROWS` calibration rows of each class combined.
- ``"sigmoid"``: Platt scaling, ``p = 1 / (1 + exp(-(a * score + b)))`` with ``a > 0``; two
  parameters, so it is steady on few rows; also keeps the order.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> score = rng.normal(size=5000)
>>> y = (rng.random(5000) < 1 / (1 + np.exp(-(2 * score - 3)))).astype(int)
>>> cal = ScoreCalibrator("sigmoid").fit(score, y)
>>> round(float(cal.slope_), 1), round(float(cal.intercept_), 1)
(2.0, -3.0)
>>> bool(np.all(np.diff(cal.transform(np.sort(score))) > 0))
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

CalibrationMethod = Literal["auto", "isotonic", "sigmoid", "none"]

#: ``"auto"`` picks isotonic from this many calibration rows (positives plus negatives) on;
#: below it a step function has too few rows per step to be trusted and Platt is steadier.
ISOTONIC_MIN_ROWS = 1000
#: Weight of the strictly increasing logistic term mixed into the isotonic map: far below any
#: difference a reader sees, large enough that ties in the step function are broken by score.
_TIE_BREAK = 1e-6
#: Each isotonic block's rate is shrunk towards the Platt fit as if that fit had this many rows
#: in the block: a block of 40 customers with no responder says "rare", not "never" (0.0).
_SHRINK_ROWS = 20.0


class ScoreCalibrator:
    """Map raw scores (log-odds) to calibrated probabilities; ``fit(score, y)``, ``transform``.

    ``method="auto"`` chooses ``"isotonic"`` when there are at least ``isotonic_min_rows``
    calibration rows, else ``"sigmoid"``; the choice is kept in ``method_``.
    """

    def __init__(
        self, method: CalibrationMethod = "auto", *, isotonic_min_rows: int = ISOTONIC_MIN_ROWS
    ) -> None:
        self.method = method
        self.isotonic_min_rows = isotonic_min_rows

    def fit(self, score: npt.ArrayLike, y: npt.ArrayLike) -> ScoreCalibrator:
        raw = np.asarray(score, dtype=np.float64).ravel()
        labels = np.asarray(y, dtype=np.float64).ravel()
        if raw.size != labels.size:
            raise ValueError(f"score has {raw.size} values but y has {labels.size}")
        if self.method not in ("auto", "isotonic", "sigmoid", "none"):
            raise ValueError(
                f"calibration must be auto, isotonic, sigmoid or none, not {self.method!r}"
            )
        method = self.method
        if method == "auto":
            method = "isotonic" if raw.size >= self.isotonic_min_rows else "sigmoid"
        self.method_ = method
        self.rows_ = int(raw.size)
        if method in ("isotonic", "sigmoid"):
            # The isotonic map also needs the logistic fit: it breaks its ties (see _TIE_BREAK)
            # and steadies blocks with few rows (see _SHRINK_ROWS).
            self.slope_, self.intercept_ = _platt(raw, labels)
        if method == "isotonic":
            knots, rates, counts = _centred_isotonic(raw, labels)
            prior = _expit(self.slope_ * knots + self.intercept_)
            shrunk = (rates * counts + _SHRINK_ROWS * prior) / (counts + _SHRINK_ROWS)
            # Shrinking blocks by different amounts could undo the order: restore it.
            self.knots_, self.rates_ = knots, np.maximum.accumulate(shrunk)
        return self

    def transform(self, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probability of the positive class for each raw score."""
        raw = np.asarray(score, dtype=np.float64).ravel()
        if self.method_ == "none":
            return _expit(raw)
        logistic = _expit(self.slope_ * raw + self.intercept_)
        if self.method_ == "sigmoid":
            return logistic
        stepped = np.interp(raw, self.knots_, self.rates_)
        return (1.0 - _TIE_BREAK) * stepped + _TIE_BREAK * logistic


def _expit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    from scipy.special import expit

    return np.asarray(expit(x), dtype=np.float64)


def _platt(raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Slope and intercept of a logistic fit of ``labels`` on ``raw`` (slope kept positive)."""
    from scipy.optimize import minimize

    positives = labels.sum()
    negatives = labels.size - positives
    # Platt's targets: a little short of 0 and 1 so that separable rows keep a finite fit.
    target = np.where(labels > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        z = theta[0] * raw + theta[1]
        # log(1 + e^z) - t * z, written to stay finite for large |z|.
        value = np.logaddexp(0.0, z) - target * z
        residual = _expit(z) - target
        return float(value.sum()), np.array([(residual * raw).sum(), residual.sum()])

    start = np.array([1.0, 0.0])
    fitted = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(1e-6, None), (None, None)])
    return float(fitted.x[0]), float(fitted.x[1])


def _centred_isotonic(
    raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Knots (mean score of each pooled block), rates and row counts of a centred isotonic
    regression."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(raw, kind="stable")
    x, t = raw[order], labels[order]
    fitted = IsotonicRegression(out_of_bounds="clip").fit_transform(x, t)
    # Blocks are runs of equal fitted value; pooling made neighbouring blocks' rates differ.
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    counts = np.diff(np.r_[starts, x.size])
    knots = np.add.reduceat(x, starts) / counts
    rates = fitted[starts]
    if knots.size == 1:  # one block: the map is flat, the logistic term alone orders scores
        knots = np.array([knots[0] - 1.0, knots[0] + 1.0])
        rates = np.repeat(rates, 2)
        counts = np.repeat(counts / 2, 2)
    return knots, rates, counts.astype(np.float64)
