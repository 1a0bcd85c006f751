"""``GradientBoostedClassifier``: a binary LightGBM classifier with the scikit-learn contract.

It takes a pandas frame whose categorical columns have the ``category`` dtype (see
:mod:`lodestar.modeling.tabular`) and leaves missing values to LightGBM. The number of trees is
chosen by early stopping on a stratified validation split carved out of the training rows; the
model is then refit on all of them with that many trees (``refit=True``), so no training row is
wasted. ``refit="auto"`` skips the refit past ``REFIT_MAX_ROWS`` rows, where it would double the
training time for little gain. Results are the same for the same seed and data.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=400)})
>>> y = (X["x"] + rng.normal(scale=0.5, size=400) > 0).astype(int)
>>> model = GradientBoostedClassifier(n_estimators=50).fit(X, y)
>>> model.predict_proba(X).shape
(400, 2)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

Imbalance = Literal["none", "sqrt", "balanced"]
#: ``refit="auto"`` refits only up to this many rows: past it the refit doubles the training time
#: (1M x 50 rows) for a few percent more data.
REFIT_MAX_ROWS = 200_000


class GradientBoostedClassifier(ClassifierMixin, BaseEstimator):
    """Binary gradient-boosted trees (LightGBM) for response, risk and churn.

    ``imbalance`` weighs the positive class: ``"balanced"`` by negatives / positives (LightGBM's
    ``is_unbalance``), ``"sqrt"`` by its square root (a milder push that keeps probabilities
    closer to the observed rates), ``"none"`` not at all. Weighting changes the probabilities'
    scale, never the need for calibration before they are read as rates.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 2000,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        colsample_bytree: float = 0.7,
        subsample: float = 0.8,
        reg_lambda: float = 5.0,
        imbalance: Imbalance = "sqrt",
        early_stopping_rounds: int = 100,
        validation_fraction: float = 0.15,
        refit: bool | Literal["auto"] = True,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.imbalance = imbalance
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ----------------------------------------------------------------------------
    def _lgb_params(self, y: np.ndarray) -> dict[str, Any]:
        positives = float(y.sum())
        negatives = float(y.size - positives)
        ratio = negatives / positives if positives else 1.0
        weight = {"none": 1.0, "sqrt": float(np.sqrt(ratio)), "balanced": ratio}[self.imbalance]
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "lambda_l2": self.reg_lambda,
            "scale_pos_weight": weight,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,  # the choice LightGBM would time and warn about
            "num_threads": self.n_jobs,
            "verbose": -1,
        }

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> GradientBoostedClassifier:
        """Fit on ``X`` (a frame; categoricals as ``category``) and 0/1 labels ``y``."""
        import lightgbm as lgb
        from sklearn.model_selection import train_test_split

        if self.imbalance not in ("none", "sqrt", "balanced"):
            raise ValueError(f"imbalance must be none, sqrt or balanced, not {self.imbalance!r}")
        frame = as_frame(X)
        labels = np.asarray(y).astype(np.int64).ravel()
        if labels.size != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {labels.size}")
        classes = np.unique(labels)
        if not np.array_equal(classes, [0, 1]):
            raise ValueError(f"y must hold both classes 0 and 1, found {classes.tolist()}")
        params = self._lgb_params(labels)
        use_validation = self.early_stopping_rounds > 0 and 0 < self.validation_fraction < 1
        if use_validation:
            fit_x, val_x, fit_y, val_y = train_test_split(
                frame,
                labels,
                test_size=self.validation_fraction,
                stratify=labels,
                random_state=self.random_state,
            )
            train_set = lgb.Dataset(fit_x, fit_y, free_raw_data=False)
            valid_set = lgb.Dataset(val_x, val_y, reference=train_set)
            booster = lgb.train(
                {**params, "metric": "auc"},
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
            self.validation_auc_ = float(booster.best_score["valid_0"]["auc"])
            self.refitted_ = self.refit is True or (
                self.refit == "auto" and len(frame) <= REFIT_MAX_ROWS
            )
            if self.refitted_:
                # A little more data is worth a few more trees: scale by the row ratio.
                rounds = max(1, round(self.best_iteration_ / (1 - self.validation_fraction)))
                booster = lgb.train(params, lgb.Dataset(frame, labels), num_boost_round=rounds)
        else:
            booster = lgb.train(params, lgb.Dataset(frame, labels), self.n_estimators)
            self.best_iteration_ = self.n_estimators
            self.validation_auc_ = float("nan")
            self.refitted_ = False
        self.booster_ = booster
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.n_trees_ = booster.num_trees()
        return self

    # -- predicting -------------------------------------------------------------------------
    def predict_proba(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Probabilities of class 0 and class 1, one row per row of ``X``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "booster_")
        frame = as_frame(X)
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise ValueError(f"X lacks the columns {missing} the model was trained on")
        frame = frame[list(self.feature_names_in_)]
        # Refit boosters hold exactly the chosen trees; the others hold some past the best.
        trees = None if getattr(self, "refitted_", self.refit) else self.best_iteration_
        positive = np.asarray(self.booster_.predict(frame, num_iteration=trees), dtype=np.float64)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Class 1 where its probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    @property
    def feature_importances_(self) -> npt.NDArray[np.float64]:
        """Total gain of the splits on each feature, in ``feature_names_in_`` order."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.feature_importance("gain"), dtype=np.float64)


def as_frame(X: Any) -> pd.DataFrame:
    """``X`` as a DataFrame (a 2-D array gets columns x0, x1, ...), as every estimator takes."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be two-dimensional, got shape {array.shape}")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
