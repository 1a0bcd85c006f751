"""``Scorecard``: a points-based credit scorecard (WOE logistic regression) with the scikit-learn
contract.

Fitting, step by step:

1. every feature is cut into optimal bins (optbinning, monotonic event rate for numbers;
   categories grouped by event rate; missing values in a bin of their own — see
   :mod:`lodestar.modeling.binning`), each bin scored by its weight of evidence (WOE);
2. features whose information value (IV) is under ``min_iv`` are dropped;
3. of two features whose WOE columns correlate above ``max_correlation`` the lower-IV one is
   dropped (strongest first, greedily);
4. a logistic regression of the event (``y = 1``, "bad") on the WOE columns; a feature whose
   coefficient comes out with the wrong sign (riskier bins earning points, which happens only
   through collinearity) is dropped and the regression refit;
5. points: ``score = offset + factor · ln(odds good:bad)`` with ``factor = pdo / ln 2`` and
   ``offset = base_points − factor · ln(base_odds)``, so ``base_points`` means odds of
   ``base_odds``:1 and every ``pdo`` points double them. Each bin's points are
   ``−factor · coefficient · WOE``; the intercept's share is ``intercept_points_``.

Higher points are safer. ``predict_proba`` gives the event probability the points stand for.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=2000)})
>>> y = (rng.random(2000) < 1 / (1 + np.exp(2 - X["x"]))).astype(int)
>>> card = Scorecard().fit(X, y)
>>> card.selected_features_
['x']
>>> bool(card.score_points(X.iloc[[0]])[0] > 0)
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from lodestar.modeling.binning import BinningError, FeatureBinning, bin_feature, feature_kind
from lodestar.modeling.classifier import as_frame

#: Bands for the default scaling (600 points = 50:1, 20 points to double): A from 620 points
#: (odds ≥ 100:1, about 1% bad), B from 580 (25:1, ~4%), C from 540 (6.25:1, ~14%),
#: D from 500 (1.6:1, ~39%), E below.
DEFAULT_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 620.0),
    ("B", 580.0),
    ("C", 540.0),
    ("D", 500.0),
    ("E", -math.inf),
)

POINTS_TABLE_COLUMNS = ("feature", "bin", "count", "event_rate", "woe", "iv", "points")


def scaling(base_points: float, base_odds: float, pdo: float) -> tuple[float, float]:
    """``(factor, offset)`` of ``score = offset + factor · ln(odds good:bad)``.

    >>> factor, offset = scaling(600, 50, 20)
    >>> round(factor, 4), round(offset, 2)
    (28.8539, 487.12)
    """
    if not (base_odds > 0 and pdo > 0):
        raise ValueError(f"base_odds and pdo must be positive, got {base_odds} and {pdo}")
    factor = pdo / math.log(2)
    return factor, base_points - factor * math.log(base_odds)


class Scorecard(ClassifierMixin, BaseEstimator):
    """Credit scorecard: optimal WOE bins, IV and correlation selection, logistic regression,
    points. ``y = 1`` is the event (bad); see the module doc.

    ``special_codes`` maps a numeric feature to values that are codes rather than amounts (e.g.
    ``{"times_90_days_late": [96, 98]}``); they get a bin of their own. ``bands`` lists
    ``(label, lowest points)`` from the best band down; the last band should start at ``-inf``.
    """

    def __init__(
        self,
        *,
        min_iv: float = 0.02,
        max_correlation: float = 0.7,
        base_points: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        bands: Sequence[tuple[str, float]] = DEFAULT_BANDS,
        max_n_bins: int | None = 8,
        min_bin_size: float = 0.05,
        max_n_prebins: int = 20,
        monotonic_trend: str = "auto_asc_desc",
        special_codes: Mapping[str, Sequence[float]] | None = None,
        C: float = 1.0,
        max_iter: int = 1000,
    ) -> None:
        self.min_iv = min_iv
        self.max_correlation = max_correlation
        self.base_points = base_points
        self.base_odds = base_odds
        self.pdo = pdo
        self.bands = bands
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.max_n_prebins = max_n_prebins
        self.monotonic_trend = monotonic_trend
        self.special_codes = special_codes
        self.C = C
        self.max_iter = max_iter

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Scorecard:
        """Fit on ``X`` (numbers as float, categories as ``category``; missing allowed) and
        0/1 labels ``y`` (1 = bad)."""
        frame = as_frame(X)
        labels = np.asarray(y).astype(np.int64).ravel()
        if labels.size != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {labels.size}")
        classes = np.unique(labels)
        if not np.array_equal(classes, [0, 1]):
            raise ValueError(f"y must hold both classes 0 and 1, found {classes.tolist()}")
        self._check_params(frame)
        self.factor_, self.offset_ = scaling(self.base_points, self.base_odds, self.pdo)
        names = [str(c) for c in frame.columns]
        frame = frame.set_axis(names, axis=1).reset_index(drop=True)

        binnings: dict[str, FeatureBinning] = {}
        dropped: dict[str, str] = {}
        for name in names:
            try:
                binnings[name] = bin_feature(
                    name,
                    frame[name],
                    labels,
                    special_codes=(self.special_codes or {}).get(name, ()),
                    monotonic_trend=self.monotonic_trend,
                    max_n_bins=self.max_n_bins,
                    min_bin_size=self.min_bin_size,
                    max_n_prebins=self.max_n_prebins,
                )
            except BinningError as exc:
                dropped[name] = f"no binning: {exc}"
        self.binnings_ = binnings
        self.iv_ = {name: b.iv for name, b in binnings.items()}

        candidates = []
        for name in names:
            if name not in binnings:
                continue
            if self.iv_[name] < self.min_iv:
                dropped[name] = f"IV {self.iv_[name]:.4f} is below min_iv {self.min_iv}"
            else:
                candidates.append(name)
        if not candidates:
            best = max(self.iv_.values(), default=0.0)
            raise ValueError(
                f"no feature has IV of at least min_iv={self.min_iv} (the highest is "
                f"{best:.4f}); lower min_iv or add predictive features"
            )
        woe = pd.DataFrame({n: binnings[n].transform(frame[n]) for n in candidates})
        kept = self._decorrelate(woe, candidates, dropped)
        self._fit_regression(woe, labels, kept, dropped)

        self.dropped_ = {name: dropped[name] for name in names if name in dropped}
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        self.classes_ = np.array([0, 1])
        self.feature_importances_ = np.array(
            [self.iv_[n] if n in self.coefficients_ else 0.0 for n in names]
        )
        self.intercept_points_ = self.offset_ - self.factor_ * self.intercept_
        self.points_table_ = self._points_table()
        return self

    def _check_params(self, frame: pd.DataFrame) -> None:
        if not 0 <= self.max_correlation <= 1:
            raise ValueError(f"max_correlation must be in [0, 1], got {self.max_correlation}")
        if self.min_iv < 0:
            raise ValueError(f"min_iv must be 0 or more, got {self.min_iv}")
        band_floors = [float(lowest) for _, lowest in self.bands]
        if not band_floors or any(a <= b for a, b in itertools.pairwise(band_floors)):
            raise ValueError(
                f"bands must list (label, lowest points) from the best band down, with "
                f"strictly falling lowest points; got {list(self.bands)}"
            )
        for name in self.special_codes or {}:
            if name not in frame.columns:
                raise ValueError(f"special_codes names '{name}', which is not a column of X")
            if feature_kind(frame[name]) != "numeric":
                raise ValueError(f"special_codes: '{name}' is categorical; codes are for numbers")

    def _decorrelate(
        self, woe: pd.DataFrame, candidates: list[str], dropped: dict[str, str]
    ) -> list[str]:
        # Strongest first, so of each correlated pair the one with the higher IV survives.
        order = sorted(candidates, key=lambda n: -self.iv_[n])
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(woe[order].to_numpy(), rowvar=False))
        corr = np.atleast_2d(corr)
        kept: list[int] = []
        for i, name in enumerate(order):
            clash = [j for j in kept if abs(corr[i, j]) > self.max_correlation]
            if clash:
                j = clash[0]
                dropped[name] = (
                    f"WOE correlation {corr[i, j]:.2f} with '{order[j]}' (IV "
                    f"{self.iv_[order[j]]:.4f}) is above max_correlation {self.max_correlation}"
                )
            else:
                kept.append(i)
        return [order[i] for i in kept]

    def _fit_regression(
        self,
        woe: pd.DataFrame,
        labels: npt.NDArray[np.int64],
        kept: list[str],
        dropped: dict[str, str],
    ) -> None:
        from sklearn.linear_model import LogisticRegression

        features = list(kept)
        while True:
            model = LogisticRegression(C=self.C, max_iter=self.max_iter)
            model.fit(woe[features].to_numpy(), labels)
            coefs = model.coef_.ravel()
            # WOE is positive where goods dominate, so a sound coefficient is negative.
            wrong = [(c, n) for c, n in zip(coefs, features, strict=True) if c >= 0]
            if not wrong or len(features) == 1:
                break
            coef, name = max(wrong)
            dropped[name] = (
                f"coefficient {coef:+.3f} has the wrong sign once the other features are in "
                "(collinearity): its safer bins would cost points"
            )
            features.remove(name)
        self.selected_features_ = features
        self.coefficients_ = {n: float(c) for n, c in zip(features, coefs, strict=True)}
        self.intercept_ = float(model.intercept_[0])

    def _points_table(self) -> pd.DataFrame:
        rows: list[dict[str, Any]] = []
        for name in self.selected_features_:
            b = self.binnings_[name]
            points = self._bin_points(name)
            rate = b.event_rate
            # Regular bins and missing always; special only when codes were given.
            shown = [*range(b.n_regular), *([b.n_regular] if b.special_codes else [])]
            for i in [*shown, b.n_regular + 1]:
                rows.append(
                    {
                        "feature": name,
                        "bin": b.labels[i],
                        "count": int(b.count[i]),
                        "event_rate": float(rate[i]),
                        "woe": float(b.woe[i]),
                        "iv": float(b.iv_contribution[i]),
                        "points": float(points[i]),
                    }
                )
        return pd.DataFrame(rows, columns=list(POINTS_TABLE_COLUMNS))

    def _bin_points(self, name: str) -> npt.NDArray[np.float64]:
        return -self.factor_ * self.coefficients_[name] * self.binnings_[name].woe

    # -- scoring ----------------------------------------------------------------------------
    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "coefficients_")
        frame = as_frame(X)
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        missing = [c for c in self.selected_features_ if c not in frame.columns]
        if missing:
            raise ValueError(
                f"X lacks the columns {missing} the scorecard scores; pass the columns it was "
                f"trained on ({list(self.feature_names_in_)})"
            )
        return frame.reset_index(drop=True)

    def _bin_ids(self, frame: pd.DataFrame) -> dict[str, npt.NDArray[np.int64]]:
        return {n: self.binnings_[n].assign(frame[n]) for n in self.selected_features_}

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points of each selected feature for each row (index as ``X``); with
        ``intercept_points_`` they add up to ``score_points``."""
        frame = self._frame(X)
        ids = self._bin_ids(frame)
        out = {n: self._bin_points(n)[ids[n]] for n in self.selected_features_}
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(out, index=index, columns=self.selected_features_)

    def score_points(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Total points per row: higher is safer."""
        parts = self.contributions(X).to_numpy()
        return np.asarray(self.intercept_points_ + parts.sum(axis=1), dtype=np.float64)

    def predict_proba(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Probabilities of class 0 (good) and class 1 (bad), one row per row of ``X``."""
        points = self.score_points(X)
        # points = offset - factor * logit(bad)  =>  logit(bad) = (offset - points) / factor
        bad = 1.0 / (1.0 + np.exp(-(self.offset_ - points) / self.factor_))
        return np.column_stack([1.0 - bad, bad])

    def predict(self, X: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Class 1 (bad) where its probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def score_band(self, points: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Band label of each score: the first band (best first) whose lowest points it meets."""
        values = np.asarray(points, dtype=np.float64)
        labels = np.array([label for label, _ in self.bands], dtype=object)
        floors = np.array([float(lowest) for _, lowest in self.bands])
        if np.isnan(values).any():
            raise ValueError("points has NaN values: score every row first")
        if np.isfinite(floors[-1]) and (values < floors[-1]).any():
            raise ValueError(
                f"a score of {values.min():.1f} is below the last band's lowest points "
                f"{floors[-1]}; end bands with (label, -inf)"
            )
        # Floors fall, so the number of floors above a score is the index of its band.
        return labels[np.searchsorted(-floors, -values, side="left")]

    def reason_codes(self, X: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Adverse-action reasons: per row, the ``top`` features that cost the most points
        against their best bin, worst first, with the row's bin and the points lost.

        Columns ``reason_1``, ``reason_1_bin``, ``reason_1_points_lost``, ... (empty where
        fewer features lost points). The best bin is the highest-scoring bin seen in training.
        """
        if top < 1:
            raise ValueError(f"top must be 1 or more, got {top}")
        frame = self._frame(X)
        ids = self._bin_ids(frame)
        names = self.selected_features_
        lost = np.column_stack([self._best_points(n) - self._bin_points(n)[ids[n]] for n in names])
        order = np.argsort(-lost, axis=1, kind="stable")[:, :top]
        out: dict[str, Any] = {}
        rows = np.arange(len(frame))
        for k in range(min(top, len(names))):
            col = order[:, k]
            amount = lost[rows, col]
            hit = amount > 1e-9
            feature = np.array(names, dtype=object)[col]
            bins = np.array(
                [self.binnings_[names[c]].labels[ids[names[c]][r]] for r, c in enumerate(col)],
                dtype=object,
            )
            feature[~hit] = None
            bins[~hit] = None
            # Object Series: pandas 3 would turn None into NaN in an inferred text column.
            out[f"reason_{k + 1}"] = pd.Series(feature, dtype=object)
            out[f"reason_{k + 1}_bin"] = pd.Series(bins, dtype=object)
            out[f"reason_{k + 1}_points_lost"] = np.where(hit, amount, np.nan)
        result = pd.DataFrame(out)
        if isinstance(X, pd.DataFrame):
            result.index = X.index
        return result

    def _best_points(self, name: str) -> float:
        b = self.binnings_[name]
        return float(self._bin_points(name)[b.count > 0].max())
