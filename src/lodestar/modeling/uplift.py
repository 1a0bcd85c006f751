"""Uplift meta-learners over LightGBM: ``SLearner``, ``TLearner``, ``XLearner`` and ``DRLearner``.

Each estimates the effect of one binary treatment on an outcome, per row, from a past randomised
campaign: ``fit(X, y, treatment)`` then ``predict_uplift(X)``. ``outcome="binary"`` models 0/1
outcomes with classifiers and returns differences of probabilities; ``outcome="continuous"``
models revenue with regressors and returns differences of expected values.

- **S-learner**: one model on the features plus the treatment flag; the effect is its prediction
  with the flag set to 1 minus with the flag set to 0.
- **T-learner**: one model per arm; the effect is the difference of their predictions.
- **X-learner** (Künzel et al. 2019): T-learner first, then each arm's imputed effects
  (treated: ``y - mu0(x)``, control: ``mu1(x) - y``) are regressed on the features, and the two
  effect models are blended by the propensity ``e(x)``: ``e * tau0 + (1 - e) * tau1``.
- **DR-learner** (Kennedy 2020): the doubly robust pseudo-outcome
  ``mu1 - mu0 + t (y - mu1) / e - (1 - t) (y - mu0) / (1 - e)``, with the outcome models
  cross-fitted (each row scored by models that did not see it), regressed on the features.

Propensity (X and DR): ``propensity="share"`` (the default) uses the observed treated share of the
training rows for every row, which is the true propensity of a randomised experiment with one
assignment probability; ``propensity="model"`` fits a LightGBM classifier of the treatment on
the features (for campaigns whose assignment depended on the features), clipped to
[``PROPENSITY_CLIP``, 1 - ``PROPENSITY_CLIP``].

One binary treatment per model in this version; several treatments (channels, offers) at once
come later. Features are a pandas frame; ``object``/``string`` and ``category`` columns are
treated as categorical with the categories seen in ``fit``, missing values are left to LightGBM.
Results are the same for the same ``random_state`` and data.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x0": rng.normal(size=2000)})
>>> t = rng.integers(0, 2, size=2000)
>>> y = X["x0"] + 1.0 * t * (X["x0"] > 0) + rng.normal(scale=0.1, size=2000)
>>> model = TLearner(outcome="continuous", n_estimators=50).fit(X, y, t)
>>> effect = model.predict_uplift(X)
>>> bool(effect[X["x0"] > 0.5].mean() > 0.8 > 0.2 > effect[X["x0"] < -0.5].mean())
True
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from lodestar.modeling.classifier import as_frame

Outcome = Literal["binary", "continuous"]
Propensity = Literal["share", "model"]

FloatArray = npt.NDArray[np.float64]

#: Propensities from a fitted model are kept inside [0.01, 0.99]: beyond that the X-learner's
#: blend is decided by one arm alone and the DR pseudo-outcome's weights explode.
PROPENSITY_CLIP = 0.01

#: Name of the treatment flag the S-learner adds to the features.
TREATMENT_FEATURE = "__treatment__"


# --------------------------------------------------------------------------- input checks


def _categorical(column: pd.Series) -> bool:
    return bool(
        isinstance(column.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(column.dtype)
        or pd.api.types.is_string_dtype(column.dtype)
    )


def _check_inputs(
    X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike, outcome: str
) -> tuple[pd.DataFrame, FloatArray, npt.NDArray[np.int64]]:
    if outcome not in ("binary", "continuous"):
        raise ValueError(f"outcome must be 'binary' or 'continuous', not {outcome!r}")
    frame = as_frame(X)
    if frame.shape[1] == 0:
        raise ValueError("X has no feature columns")
    if TREATMENT_FEATURE in frame.columns:
        raise ValueError(f"X must not have a column named {TREATMENT_FEATURE!r}")
    values = np.asarray(y)
    flags = np.asarray(treatment)
    if values.ndim != 1 or flags.ndim != 1:
        raise ValueError(
            f"y and treatment must be one-dimensional, got shapes {values.shape}, {flags.shape}"
        )
    if not len(frame) == values.size == flags.size:
        raise ValueError(
            f"lengths differ: X has {len(frame)} rows, y {values.size}, treatment {flags.size}"
        )
    if values.dtype.kind not in "biuf" or not np.isfinite(values.astype(np.float64)).all():
        raise ValueError("y must be numeric with no NaN or infinite values")
    if flags.dtype.kind not in "biuf" or not np.isin(flags, (0, 1)).all():
        others = flags[~np.isin(flags, (0, 1))] if flags.dtype.kind in "biuf" else flags
        found = pd.unique(pd.Series(others)).tolist()[:5]
        raise ValueError(f"treatment must hold only 0 and 1, found {found}")
    flags = flags.astype(np.int64)
    for arm, name in ((1, "treated"), (0, "control")):
        if not (flags == arm).any():
            raise ValueError(f"treatment has no {name} rows ({arm}): both groups are needed")
    outcomes = values.astype(np.float64)
    if outcome == "binary":
        if not np.isin(outcomes, (0.0, 1.0)).all():
            raise ValueError("outcome='binary' needs y of only 0 and 1; use 'continuous'")
        for arm, name in ((1, "treated"), (0, "control")):
            if np.unique(outcomes[flags == arm]).size < 2:
                raise ValueError(f"the {name} group has only one outcome value: need both 0 and 1")
    return frame, outcomes, flags


# --------------------------------------------------------------------------- shared base


class _MetaLearner(BaseEstimator):
    """LightGBM settings and feature handling shared by every learner."""

    outcome: Outcome
    n_estimators: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    random_state: int
    n_jobs: int

    def _lgb_params(self, seed_offset: int) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": 5.0,
            # every sub-model gets its own seed, derived from random_state, so runs repeat
            "random_state": self.random_state + seed_offset,
            "deterministic": True,
            "force_row_wise": True,
            "n_jobs": self.n_jobs,
            "verbose": -1,
        }

    def _classifier(self, seed_offset: int) -> Any:
        import lightgbm as lgb

        return lgb.LGBMClassifier(**self._lgb_params(seed_offset))

    def _regressor(self, seed_offset: int) -> Any:
        import lightgbm as lgb

        return lgb.LGBMRegressor(**self._lgb_params(seed_offset))

    def _outcome_model(self, seed_offset: int) -> Any:
        if self.outcome == "binary":
            return self._classifier(seed_offset)
        return self._regressor(seed_offset)

    @staticmethod
    def _expected(model: Any, frame: pd.DataFrame) -> FloatArray:
        if hasattr(model, "predict_proba"):
            return np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)
        return np.asarray(model.predict(frame), dtype=np.float64)

    def _start(
        self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike
    ) -> tuple[pd.DataFrame, FloatArray, npt.NDArray[np.int64]]:
        frame, outcomes, flags = _check_inputs(X, y, treatment, self.outcome)
        self.feature_names_in_ = np.array([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.categories_ = {
            str(name): pd.Index(frame[name].astype("category").cat.categories)
            for name in frame.columns
            if _categorical(frame[name])
        }
        self.treated_share_ = float(flags.mean())
        return self._features(frame), outcomes, flags

    def _features(self, X: Any) -> pd.DataFrame:
        frame = as_frame(X)
        names = [str(c) for c in frame.columns]
        expected = list(self.feature_names_in_)
        if names != expected:
            raise ValueError(f"X has columns {names}, the model was fitted on {expected}")
        frame = frame.copy()
        frame.columns = pd.Index(names)
        for name, categories in self.categories_.items():
            # the categories seen in fit, so codes mean the same at prediction; unseen -> NaN
            column = frame[name].astype(object)
            known = column.where(column.isin(categories))
            frame[name] = pd.Categorical(known, categories=categories)
        return frame

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_in_"):
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(X, y, treatment)")

    def _fit_propensity(
        self, kind: Propensity, frame: pd.DataFrame, flags: npt.NDArray[np.int64]
    ) -> None:
        if kind == "share":
            self.propensity_model_ = None
        elif kind == "model":
            self.propensity_model_ = self._classifier(100).fit(frame, flags)
        else:
            raise ValueError(f"propensity must be 'share' or 'model', not {kind!r}")

    def propensity_scores(self, X: Any) -> FloatArray:
        """The propensity used for the rows of ``X``: the treated share, or the fitted model's
        probability clipped to [PROPENSITY_CLIP, 1 - PROPENSITY_CLIP]."""
        self._check_fitted()
        frame = self._features(X)
        model = getattr(self, "propensity_model_", None)
        if model is None:
            return np.full(len(frame), self.treated_share_)
        return np.clip(self._expected(model, frame), PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)


def _init_common(
    learner: _MetaLearner,
    outcome: Outcome,
    n_estimators: int,
    learning_rate: float,
    num_leaves: int,
    min_child_samples: int,
    random_state: int,
    n_jobs: int,
) -> None:
    learner.outcome = outcome
    learner.n_estimators = n_estimators
    learner.learning_rate = learning_rate
    learner.num_leaves = num_leaves
    learner.min_child_samples = min_child_samples
    learner.random_state = random_state
    learner.n_jobs = n_jobs


# --------------------------------------------------------------------------- learners


class SLearner(_MetaLearner):
    """One outcome model on the features and the treatment flag."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        _init_common(self, outcome, n_estimators, learning_rate, num_leaves, min_child_samples,
                     random_state, n_jobs)  # fmt: skip

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> SLearner:
        """Fit on features ``X``, outcomes ``y`` and 0/1 ``treatment``."""
        frame, outcomes, flags = self._start(X, y, treatment)
        self.model_ = self._outcome_model(0).fit(frame.assign(**{TREATMENT_FEATURE: flags}),
                                                 outcomes)  # fmt: skip
        return self

    def predict_uplift(self, X: Any) -> FloatArray:
        """Estimated effect of the treatment for each row of ``X``."""
        self._check_fitted()
        frame = self._features(X)
        treated = self._expected(self.model_, frame.assign(**{TREATMENT_FEATURE: 1}))
        control = self._expected(self.model_, frame.assign(**{TREATMENT_FEATURE: 0}))
        return treated - control


class TLearner(_MetaLearner):
    """One outcome model per arm."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        _init_common(self, outcome, n_estimators, learning_rate, num_leaves, min_child_samples,
                     random_state, n_jobs)  # fmt: skip

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> TLearner:
        """Fit on features ``X``, outcomes ``y`` and 0/1 ``treatment``."""
        frame, outcomes, flags = self._start(X, y, treatment)
        treated, control = flags == 1, flags == 0
        self.model_treated_ = self._outcome_model(1).fit(frame[treated], outcomes[treated])
        self.model_control_ = self._outcome_model(0).fit(frame[control], outcomes[control])
        return self

    def predict_uplift(self, X: Any) -> FloatArray:
        """Estimated effect of the treatment for each row of ``X``."""
        self._check_fitted()
        frame = self._features(X)
        return self._expected(self.model_treated_, frame) - self._expected(
            self.model_control_, frame
        )


class XLearner(_MetaLearner):
    """T-learner outcome models, then effect models on each arm's imputed effects, blended by
    the propensity (``"share"``: the observed treated share, right for a randomised campaign;
    ``"model"``: a fitted propensity model)."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        propensity: Propensity = "share",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        _init_common(self, outcome, n_estimators, learning_rate, num_leaves, min_child_samples,
                     random_state, n_jobs)  # fmt: skip
        self.propensity = propensity

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> XLearner:
        """Fit on features ``X``, outcomes ``y`` and 0/1 ``treatment``."""
        _check_propensity(self.propensity)  # before anything fitted is set
        frame, outcomes, flags = self._start(X, y, treatment)
        self._fit_propensity(self.propensity, frame, flags)
        treated, control = flags == 1, flags == 0
        self.model_treated_ = self._outcome_model(1).fit(frame[treated], outcomes[treated])
        self.model_control_ = self._outcome_model(0).fit(frame[control], outcomes[control])
        imputed_treated = outcomes[treated] - self._expected(self.model_control_, frame[treated])
        imputed_control = self._expected(self.model_treated_, frame[control]) - outcomes[control]
        # effects are differences, so the second stage is a regression for either outcome kind
        self.effect_treated_ = self._regressor(3).fit(frame[treated], imputed_treated)
        self.effect_control_ = self._regressor(2).fit(frame[control], imputed_control)
        return self

    def predict_uplift(self, X: Any) -> FloatArray:
        """Estimated effect of the treatment for each row of ``X``."""
        self._check_fitted()
        frame = self._features(X)
        share = self.propensity_scores(frame)
        tau_treated = np.asarray(self.effect_treated_.predict(frame), dtype=np.float64)
        tau_control = np.asarray(self.effect_control_.predict(frame), dtype=np.float64)
        # Künzel et al.: where e(x) is high the treated arm is large, so mu1 and with it the
        # control rows' imputed effects (mu1(x) - y) are the better estimate there.
        return share * tau_control + (1 - share) * tau_treated


class DRLearner(_MetaLearner):
    """Doubly robust pseudo-outcomes from cross-fitted outcome models (``folds`` of them),
    regressed on the features. ``propensity`` as for :class:`XLearner`."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        propensity: Propensity = "share",
        folds: int = 2,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        _init_common(self, outcome, n_estimators, learning_rate, num_leaves, min_child_samples,
                     random_state, n_jobs)  # fmt: skip
        self.propensity = propensity
        self.folds = folds

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> DRLearner:
        """Fit on features ``X``, outcomes ``y`` and 0/1 ``treatment``."""
        from sklearn.model_selection import StratifiedKFold

        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2:
            raise ValueError(f"folds must be an integer >= 2, got {self.folds!r}")
        _check_propensity(self.propensity)  # before anything fitted is set
        frame, outcomes, flags = self._start(X, y, treatment)
        self._fit_propensity(self.propensity, frame, flags)
        share = self.propensity_scores(frame)
        mu_treated = np.empty(len(frame))
        mu_control = np.empty(len(frame))
        splitter = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        for fold, (train, held) in enumerate(splitter.split(frame, flags)):
            fit_frame, fit_y, fit_t = frame.iloc[train], outcomes[train], flags[train]
            _check_inputs(fit_frame, fit_y, fit_t, self.outcome)  # each fold needs both arms
            treated = self._outcome_model(10 + fold).fit(fit_frame[fit_t == 1], fit_y[fit_t == 1])
            control = self._outcome_model(20 + fold).fit(fit_frame[fit_t == 0], fit_y[fit_t == 0])
            mu_treated[held] = self._expected(treated, frame.iloc[held])
            mu_control[held] = self._expected(control, frame.iloc[held])
        pseudo = (
            mu_treated
            - mu_control
            + flags * (outcomes - mu_treated) / share
            - (1 - flags) * (outcomes - mu_control) / (1 - share)
        )
        self.model_ = self._regressor(0).fit(frame, pseudo)
        return self

    def predict_uplift(self, X: Any) -> FloatArray:
        """Estimated effect of the treatment for each row of ``X``."""
        self._check_fitted()
        return np.asarray(self.model_.predict(self._features(X)), dtype=np.float64)


__all__ = [
    "PROPENSITY_CLIP",
    "TREATMENT_FEATURE",
    "DRLearner",
    "SLearner",
    "TLearner",
    "XLearner",
]


def _check_propensity(kind: object) -> None:
    if kind not in ("share", "model"):
        raise ValueError(f"propensity must be 'share' or 'model', not {kind!r}")
