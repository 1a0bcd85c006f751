"""Why a customer got their score: per-customer reason codes and global feature importance.

Works with any estimator that exposes ``contributions(X) -> DataFrame`` (one column per feature,
one row per row of ``X``, in the model's own units) and ``expected_value_`` (the part of the
score no feature explains). :class:`~lodestar.modeling.classifier.GradientBoostedClassifier`
returns SHAP values in log-odds (LightGBM's ``pred_contrib``); a scorecard returns points. For
both, ``contributions(X).sum(axis=1) + expected_value_`` is the model's raw score of each row.

>>> import numpy as np, pandas as pd
>>> from lodestar.modeling.classifier import GradientBoostedClassifier
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"income": rng.normal(50, 10, 500), "noise": rng.normal(size=500)})
>>> y = (X["income"] + rng.normal(scale=5, size=500) > 55).astype(int)
>>> model = GradientBoostedClassifier(n_estimators=40, calibration="none").fit(X, y)
>>> richest = X.nlargest(2, "income")
>>> codes = reason_codes(model, richest, top=1)
>>> codes.columns.tolist()
['row', 'rank', 'feature', 'value', 'contribution']
>>> codes["feature"].tolist()
['income', 'income']
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

Direction = Literal["increase", "decrease", "both"]


class Explainable(Protocol):
    """What :func:`reason_codes` needs from a model."""

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame: ...


def reason_codes(
    model: Explainable, X: pd.DataFrame, *, top: int = 3, direction: Direction = "increase"
) -> pd.DataFrame:
    """The ``top`` features that moved each row's score most, one row per (row, rank).

    ``direction="increase"`` lists the features that raised the score (largest first), in
    ``"decrease"`` those that lowered it (most negative first), ``"both"`` the largest in
    absolute value. Only contributions of the requested sign are listed, so a row may have
    fewer than ``top`` codes. Columns: ``row`` (the index label of ``X``), ``rank`` (1 = the
    strongest), ``feature``, ``value`` (the row's value of the feature, as text), and
    ``contribution`` (in the model's units: log-odds for boosted trees, points for scorecards).
    """
    if direction not in ("increase", "decrease", "both"):
        raise ValueError(f"direction must be increase, decrease or both, not {direction!r}")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    contrib = model.contributions(X)
    values = contrib.to_numpy(dtype=np.float64)
    if direction == "increase":
        key = -values
        eligible = values > 0
    elif direction == "decrease":
        key = values
        eligible = values < 0
    else:
        key = -np.abs(values)
        eligible = values != 0
    eligible &= np.isfinite(values)  # a model may leave a feature it could not use as NaN
    # Stable sort: among equal contributions the feature listed first in the model wins.
    order = np.argsort(key, axis=1, kind="stable")[:, :top]
    grid = np.indices(order.shape)
    rows, ranks = grid[0], grid[1]
    keep = eligible[rows, order]
    row_at, col_at, rank_at = rows[keep], order[keep], ranks[keep] + 1
    names = np.asarray(contrib.columns, dtype=object)
    shown = _shown_values(X, list(contrib.columns))
    return pd.DataFrame(
        {
            "row": np.asarray(contrib.index)[row_at],
            "rank": rank_at.astype(np.int64),
            "feature": names[col_at],
            "value": shown[row_at, col_at],
            "contribution": values[row_at, col_at],
        }
    )


def _shown_values(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Each cell as a reader would write it: numbers without trailing zeros, missing as ``"missing"``."""
    shown = np.empty((len(X), len(columns)), dtype=object)
    for j, name in enumerate(columns):
        column = X[name] if name in X.columns else pd.Series([None] * len(X), index=X.index)
        shown[:, j] = [_text(v) for v in column.to_numpy(dtype=object)]
    return shown


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value)


def importance(model: Any, X: pd.DataFrame | None = None) -> pd.DataFrame:
    """Global importance per feature, most important first.

    Columns: ``gain`` (total split gain, where the model has trees; shares in ``gain_share``)
    and, when ``X`` is given, ``mean_abs_contribution`` (mean |SHAP| or |points| over its rows,
    the size of a feature's typical effect on one customer, in the model's units).
    """
    table = pd.DataFrame(index=pd.Index(list(model.feature_names_in_), name="feature"))
    gains = getattr(model, "feature_importances_", None)
    if gains is not None:
        gain = np.asarray(gains, dtype=np.float64)
        table["gain"] = gain
        table["gain_share"] = gain / gain.sum() if gain.sum() > 0 else 0.0
    if X is not None:
        contrib = model.contributions(X)
        table["mean_abs_contribution"] = contrib.abs().mean(axis=0).reindex(table.index)
    sort_by = "mean_abs_contribution" if X is not None else "gain"
    if sort_by in table.columns:
        table = table.sort_values(sort_by, ascending=False, kind="stable")
    return table.reset_index()
