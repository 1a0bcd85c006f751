"""Held-out evaluation of uplift scores: the uplift metrics of :mod:`lodestar.modeling.metrics`
for each treatment against control, and the value of acting on the scores.

``evaluate_uplift(y, treatment, uplift_scores)`` takes the treatment column as the learners do
(a control value and k >= 1 treatments, :mod:`lodestar.modeling.uplift_arms`) and scores of
shape (n,) for one treatment or (n, k) for k, columns in sorted treatment order (as
``predict_uplift`` returns them). Each treatment is judged on the rows of its arm and the
control arm only: a row of another arm says nothing about this treatment's effect.

The policy value is what the outcome would average if everyone got what the scores recommend
(the best treatment, or control when no score is positive): in a randomised campaign the rows
that happened to get their recommended arm stand for everyone recommended that arm, weighted by
one over that arm's share (inverse-propensity weighting, Horvitz-Thompson). Beside it, the
all-control value (the control arm's mean) and their difference.

>>> import numpy as np
>>> y = np.array([1, 0, 0, 1, 1, 0])
>>> t = np.array([1, 1, 1, 0, 0, 0])
>>> policy_value(y, t, np.array([1, 1, 0, 0, 0, 1]))["value"]
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from lodestar.modeling.uplift_arms import TreatmentArms, treatment_arms

FloatArray = npt.NDArray[np.float64]


def _safe(metric: Any, *args: Any, **kwargs: Any) -> float:
    # a top slice without a control row, or a perfect ranking no better than random, has no
    # value: report NaN for that figure rather than failing the whole evaluation
    try:
        return float(metric(*args, **kwargs))
    except ValueError:
        return float("nan")


def _one_treatment(y: FloatArray, flags: FloatArray, scores: FloatArray) -> dict[str, Any]:
    from lodestar.modeling import metrics

    binary = bool(np.isin(y, (0.0, 1.0)).all())
    deciles = metrics.uplift_by_decile(y, flags, scores, bins=min(10, y.size))
    return {
        "rows": int(y.size),
        "treated_rows": int(flags.sum()),
        "qini": _safe(metrics.qini_coefficient, y, flags, scores),
        # AUUC's perfect curve exists only for a 0/1 outcome (see metrics.auuc)
        "auuc": _safe(metrics.auuc, y, flags, scores) if binary else None,
        "uplift_at_30": _safe(metrics.uplift_at, y, flags, scores, 0.3),
        "uplift_at_10": _safe(metrics.uplift_at, y, flags, scores, 0.1),
        "uplift_by_decile": [None if np.isnan(v) else float(v) for v in deciles.uplift],
    }


def _scores(uplift_scores: npt.ArrayLike, arms: TreatmentArms) -> FloatArray:
    scores = np.asarray(uplift_scores, dtype=np.float64)
    k = len(arms.treatments)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape != (arms.codes.size, k):
        raise ValueError(
            f"uplift_scores must have shape ({arms.codes.size},{' ' + str(k) if k > 1 else ''}) "
            f"for {k} treatment(s) {list(arms.treatments)}, got {np.shape(uplift_scores)}"
        )
    if not np.isfinite(scores).all():
        raise ValueError("uplift_scores has NaN or infinite values")
    return scores


def _outcomes(y: npt.ArrayLike, n: int) -> FloatArray:
    values = np.asarray(y)
    if values.ndim != 1 or values.size != n:
        raise ValueError(f"y must be one-dimensional with {n} values, got shape {values.shape}")
    if values.dtype.kind not in "biuf" or not np.isfinite(values.astype(np.float64)).all():
        raise ValueError("y must be numeric with no NaN or infinite values")
    return values.astype(np.float64)


def policy_value(
    y: npt.ArrayLike, treatment: npt.ArrayLike, policy: npt.ArrayLike, control: Any = None
) -> dict[str, Any]:
    """Inverse-propensity estimate of the mean outcome if every row got the arm ``policy``
    names for it (labels as in ``treatment``), from a randomised campaign whose assignment
    shares are the observed arm shares; with the all-control mean and the gain over it."""
    arms = treatment_arms(treatment, control)
    outcomes = _outcomes(y, arms.codes.size)
    labels = np.asarray(policy, dtype=object)
    if labels.shape != arms.codes.shape:
        raise ValueError(f"policy must have {arms.codes.size} values, got shape {labels.shape}")
    known = (arms.control, *arms.treatments)
    chosen = np.full(labels.size, -1, dtype=np.int64)
    for code, label in enumerate(known):
        chosen[labels == label] = code
    if (chosen < 0).any():
        unknown = sorted({str(v) for v in labels[chosen < 0]})[:5]
        raise ValueError(f"policy names arms that are not in treatment: {unknown}")
    n = arms.codes.size
    shares = np.bincount(arms.codes, minlength=len(known)) / n
    followed = arms.codes == chosen
    value = float(np.sum(outcomes[followed] / shares[arms.codes[followed]]) / n)
    control_value = float(outcomes[arms.codes == 0].mean())
    return {
        "value": value,
        "control_value": control_value,
        "gain": value - control_value,
        "followed_rows": int(followed.sum()),
        "share_by_arm": {str(label): float(np.mean(chosen == c)) for c, label in enumerate(known)},
    }


def evaluate_uplift(
    y: npt.ArrayLike, treatment: npt.ArrayLike, uplift_scores: npt.ArrayLike, control: Any = None
) -> dict[str, Any]:
    """Qini coefficient, AUUC (0/1 outcomes only, else None), uplift at the top 30% and 10%
    and uplift by decile (a list, highest scores first) of each treatment against control,
    and the value of the best-treatment policy (:func:`policy_value`).

    One treatment: those figures at the top level, plus ``policy``. Several: ``treatments``
    maps each treatment (as text) to its figures; ``qini`` is their mean; plus ``policy``.
    """
    from lodestar.modeling.uplift import best_of

    arms = treatment_arms(treatment, control)
    outcomes = _outcomes(y, arms.codes.size)
    scores = _scores(uplift_scores, arms)
    figures = {}
    for j, label in enumerate(arms.treatments, start=1):
        rows, flags = arms.pair(j)
        figures[str(label)] = _one_treatment(
            outcomes[rows], flags.astype(np.float64), scores[rows, j - 1]
        )
    policy = best_of(scores, arms.treatments, arms.control)["treatment"].to_numpy()
    value = policy_value(outcomes, arms.codes, _codes_of(policy, arms), control=0)
    value["share_by_arm"] = {
        str(label): share
        for label, share in zip(
            (arms.control, *arms.treatments), value["share_by_arm"].values(), strict=True
        )
    }
    if len(arms.treatments) == 1:
        return {**next(iter(figures.values())), "policy": value}
    return {
        "treatments": figures,
        "qini": float(np.nanmean([f["qini"] for f in figures.values()])),
        "policy": value,
    }


def _codes_of(labels: npt.NDArray[Any], arms: TreatmentArms) -> npt.NDArray[np.int64]:
    codes = np.zeros(labels.size, dtype=np.int64)
    for j, label in enumerate(arms.treatments, start=1):
        codes[labels == label] = j
    return codes


__all__ = ["evaluate_uplift", "policy_value"]
