"""Uplift meta-learners over LightGBM: ``SLearner``, ``TLearner``, ``XLearner`` and ``DRLearner``.

Each estimates, per row, the effect of a treatment on an outcome from a past randomised
campaign: ``fit(X, y, treatment)`` then ``predict_uplift(X)``. ``outcome="binary"`` models 0/1
outcomes with classifiers and returns differences of probabilities; ``outcome="continuous"``
models revenue with regressors and returns differences of expected values.

The treatment column holds a control value and k >= 1 treatment values (strings or integers;
:mod:`lodestar.modeling.uplift_arms`). ``control`` names the control; left ``None`` it is found
among 0, "control", "none", "no" and "no e-mail" (any case). After ``fit``, ``control_`` is the
control value and ``treatments_`` the others, sorted. ``predict_uplift`` returns shape (n,)
when k == 1 (a plain 0/1 column works as before) and (n, k) when k > 1: one column per
treatment, its effect against control. ``best_treatment`` gives each row's best treatment and
its effect, or the control (effect 0) when no treatment is expected to help.

- **S-learner**: one model on the features plus the arm code; treatment j's effect is its
  prediction with the code set to j minus with the code set to 0 (control).
- **T-learner**: one model per arm; the effect is the difference of their predictions.
- **X-learner** (Künzel et al. 2019): per treatment, the T-learner models of that arm and
  control, then each arm's imputed effects (treated: ``y - mu0(x)``, control: ``mu_j(x) - y``)
  regressed on the features and blended by the propensity ``e(x)``: ``e * tau0 + (1 - e) * tau1``.
- **DR-learner** (Kennedy 2020): per treatment, on that arm's and the control rows, the doubly
  robust pseudo-outcome ``mu1 - mu0 + t (y - mu1) / e - (1 - t) (y - mu0) / (1 - e)`` with the
  outcome models cross-fitted (each row scored by models that did not see it), regressed on the
  features.

Propensity (X and DR), always of one treatment against control on the rows of those two arms:
``propensity="share"`` (the default) uses the observed share of the treatment on those rows,
which is the true propensity of a randomised experiment with fixed assignment shares;
``propensity="model"`` fits a LightGBM classifier of the arm on the features (for campaigns whose
assignment depended on the features), clipped to [``PROPENSITY_CLIP``, 1 - ``PROPENSITY_CLIP``].

``effect_*`` parameters (X and DR) set the second-stage effect models apart from the outcome
models: effects are small beside the outcomes' own variation (Hillstrom's e-mail moves visits by
a few points), so fewer, larger leaves and more shrinkage there keep the effect model from
fitting the noise of the imputed effects. ``None`` uses the outcome models' setting.

``n_jobs`` defaults to 1: campaign tables are small for LightGBM, and its OpenMP threads spin
while they wait, so on a busy machine two threads were measured 35x slower than one (Hillstrom,
45k rows). Features are a pandas frame; ``object``/``string`` and ``category`` columns are treated as
categorical with the categories seen in ``fit``, missing values are left to LightGBM. Results
are the same for the same ``random_state`` and data.

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
from lodestar.modeling.uplift_arms import (
    TREATMENT_FEATURE,
    TreatmentArms,
    categorical,
    check_inputs,
)

Outcome = Literal["binary", "continuous"]
Propensity = Literal["share", "model"]

FloatArray = npt.NDArray[np.float64]

#: Propensities from a fitted model are kept inside [0.01, 0.99]: beyond that the X-learner's
#: blend is decided by one arm alone and the DR pseudo-outcome's weights explode.
PROPENSITY_CLIP = 0.01


# --------------------------------------------------------------------------- shared base


class _MetaLearner(BaseEstimator):
    """LightGBM settings, arms and feature handling shared by every learner."""

    outcome: Outcome
    control: Any
    n_estimators: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    reg_lambda: float
    random_state: int
    n_jobs: int

    def _lgb_params(self, seed_offset: int, effect: bool = False) -> dict[str, Any]:
        params = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
        }
        if effect:  # second-stage effect models may have their own, usually smaller, capacity
            for name in params:
                value = getattr(self, f"effect_{name}", None)
                if value is not None:
                    params[name] = value
        return {
            **params,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": self.reg_lambda,
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

    def _regressor(self, seed_offset: int, effect: bool = False) -> Any:
        import lightgbm as lgb

        return lgb.LGBMRegressor(**self._lgb_params(seed_offset, effect))

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
    ) -> tuple[pd.DataFrame, FloatArray, TreatmentArms]:
        frame, outcomes, arms = check_inputs(X, y, treatment, self.outcome, self.control)
        self.feature_names_in_ = np.array([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.categories_ = {
            str(name): pd.Index(frame[name].astype("category").cat.categories)
            for name in frame.columns
            if categorical(frame[name])
        }
        self.control_ = arms.control
        self.treatments_ = np.array(arms.treatments, dtype=object)
        # each treatment's share of the rows of its arm and the control arm
        shares = np.array([arms.pair(j)[1].mean() for j in range(1, len(arms.treatments) + 1)])
        self.treated_share_: float | FloatArray = float(shares[0]) if shares.size == 1 else shares
        return self._features(frame), outcomes, arms

    def _features(self, X: Any) -> pd.DataFrame:
        frame = as_frame(X)
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        expected = list(self.feature_names_in_)
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            raise ValueError(f"X lacks the columns {missing} the model was fitted on")
        # Columns are matched by name, as the other estimators do; extra ones are ignored.
        frame = frame[expected].copy()
        for name, categories in self.categories_.items():
            # the categories seen in fit, so codes mean the same at prediction; unseen -> NaN
            column = frame[name].astype(object)
            known = column.where(column.isin(categories))
            frame[name] = pd.Categorical(known, categories=categories)
        return frame

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_in_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(X, y, treatment)")

    def _fit_propensity(self, kind: Propensity, frame: pd.DataFrame, arms: TreatmentArms) -> None:
        if kind == "share":
            self.propensity_models_: list[Any] | None = None
        else:
            models = []
            for j in range(1, len(arms.treatments) + 1):
                rows, flags = arms.pair(j)
                models.append(self._classifier(100 + j).fit(frame[rows], flags))
            self.propensity_models_ = models

    def _propensity(self, frame: pd.DataFrame, j: int) -> FloatArray:
        """Propensity of treatment ``j`` (1-based) against control for the rows of ``frame``."""
        models = getattr(self, "propensity_models_", None)
        if models is None:
            shares = np.atleast_1d(self.treated_share_)
            return np.full(len(frame), float(shares[j - 1]))
        score = self._expected(models[j - 1], frame)
        return np.clip(score, PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)

    def propensity_scores(self, X: Any) -> FloatArray:
        """The propensity used for the rows of ``X``: each treatment's share against control, or
        the fitted model's probability clipped to [PROPENSITY_CLIP, 1 - PROPENSITY_CLIP].
        Shape (n,) for one treatment, (n, k) for k."""
        self._check_fitted()
        frame = self._features(X)
        scores = np.column_stack(
            [self._propensity(frame, j) for j in range(1, len(self.treatments_) + 1)]
        )
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def _effects(self, frame: pd.DataFrame) -> FloatArray:
        """(n, k) effect of each treatment against control."""
        raise NotImplementedError

    def predict_uplift(self, X: Any) -> FloatArray:
        """Estimated effect of each treatment against control for each row of ``X``: shape (n,)
        for one treatment, (n, k) for k, columns in the order of ``treatments_``."""
        self._check_fitted()
        effects = self._effects(self._features(X))
        return effects[:, 0] if effects.shape[1] == 1 else effects

    def best_treatment(self, X: Any) -> pd.DataFrame:
        """Per row of ``X``, the treatment with the largest estimated effect and that effect, or
        the control value and 0.0 when no treatment's effect is positive. Columns
        ``treatment`` and ``uplift``; the index is ``X``'s when ``X`` is a frame."""
        self._check_fitted()
        effects = self._effects(self._features(X))
        return best_of(effects, self.treatments_, self.control_, index=_index(X))


def _index(X: Any) -> pd.Index | None:
    return X.index if isinstance(X, pd.DataFrame) else None


def best_of(
    effects: FloatArray, treatments: Any, control: Any, *, index: pd.Index | None = None
) -> pd.DataFrame:
    """The best of k effect columns per row (control and 0.0 when none is positive)."""
    effects = np.asarray(effects, dtype=np.float64).reshape(len(effects), -1)
    best = np.argmax(effects, axis=1)  # ties go to the first treatment in sorted order
    gain = effects[np.arange(len(effects)), best]
    labels = np.asarray(list(treatments), dtype=object)[best]
    labels[gain <= 0] = control
    return pd.DataFrame({"treatment": labels, "uplift": np.where(gain > 0, gain, 0.0)},
                        index=index)  # fmt: skip


def _init_common(learner: _MetaLearner, params: dict[str, Any]) -> None:
    # scikit-learn's contract: __init__ stores each parameter under its own name, nothing else
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(learner, name, value)


def _check_propensity(kind: object) -> None:
    if kind not in ("share", "model"):
        raise ValueError(f"propensity must be 'share' or 'model', not {kind!r}")


# --------------------------------------------------------------------------- learners


class SLearner(_MetaLearner):
    """One outcome model on the features and the arm code (0 control, j treatment j)."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        control: Any = None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        _init_common(self, locals())

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> SLearner:
        """Fit on features ``X``, outcomes ``y`` and the ``treatment`` column."""
        frame, outcomes, arms = self._start(X, y, treatment)
        coded = frame.assign(**{TREATMENT_FEATURE: arms.codes})
        self.model_ = self._outcome_model(0).fit(coded, outcomes)
        return self

    def _effects(self, frame: pd.DataFrame) -> FloatArray:
        control = self._expected(self.model_, frame.assign(**{TREATMENT_FEATURE: 0}))
        return np.column_stack([
            self._expected(self.model_, frame.assign(**{TREATMENT_FEATURE: j})) - control
            for j in range(1, len(self.treatments_) + 1)
        ])  # fmt: skip


class TLearner(_MetaLearner):
    """One outcome model per arm."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        control: Any = None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        _init_common(self, locals())

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> TLearner:
        """Fit on features ``X``, outcomes ``y`` and the ``treatment`` column."""
        frame, outcomes, arms = self._start(X, y, treatment)
        self.models_ = _arm_models(self, frame, outcomes, arms)
        return self

    def _effects(self, frame: pd.DataFrame) -> FloatArray:
        control = self._expected(self.models_[0], frame)
        return np.column_stack([self._expected(m, frame) - control for m in self.models_[1:]])


def _arm_models(
    learner: _MetaLearner, frame: pd.DataFrame, outcomes: FloatArray, arms: TreatmentArms
) -> list[Any]:
    """One outcome model per arm, control first (seed offsets 0, 1, ... as one treatment had)."""
    models = []
    for j in range(len(arms.treatments) + 1):
        rows = arms.codes == j
        models.append(learner._outcome_model(j).fit(frame[rows], outcomes[rows]))
    return models


class XLearner(_MetaLearner):
    """T-learner outcome models, then per treatment effect models on that arm's and the
    control arm's imputed effects, blended by the propensity (``"share"``: the observed share,
    right for a randomised campaign; ``"model"``: a fitted propensity model)."""

    propensity: Propensity

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        control: Any = None,
        propensity: Propensity = "share",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        effect_n_estimators: int | None = None,
        effect_learning_rate: float | None = None,
        effect_num_leaves: int | None = None,
        effect_min_child_samples: int | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        _init_common(self, locals())

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> XLearner:
        """Fit on features ``X``, outcomes ``y`` and the ``treatment`` column."""
        _check_propensity(self.propensity)  # before anything fitted is set
        frame, outcomes, arms = self._start(X, y, treatment)
        self._fit_propensity(self.propensity, frame, arms)
        self.models_ = _arm_models(self, frame, outcomes, arms)
        control = arms.codes == 0
        effect_models = []
        for j in range(1, len(arms.treatments) + 1):
            treated = arms.codes == j
            imputed_treated = outcomes[treated] - self._expected(self.models_[0], frame[treated])
            imputed_control = self._expected(self.models_[j], frame[control]) - outcomes[control]
            # effects are differences, so the second stage is a regression for either outcome
            effect_models.append((
                self._regressor(10 * j + 3, effect=True).fit(frame[treated], imputed_treated),
                self._regressor(10 * j + 2, effect=True).fit(frame[control], imputed_control),
            ))  # fmt: skip
        self.effect_models_ = effect_models
        return self

    def _effects(self, frame: pd.DataFrame) -> FloatArray:
        columns = []
        for j, (on_treated, on_control) in enumerate(self.effect_models_, start=1):
            share = self._propensity(frame, j)
            tau_treated = np.asarray(on_treated.predict(frame), dtype=np.float64)
            tau_control = np.asarray(on_control.predict(frame), dtype=np.float64)
            # Künzel et al.: where e(x) is high the treated arm is large, so mu_j and with it the
            # control rows' imputed effects (mu_j(x) - y) are the better estimate there.
            columns.append(share * tau_control + (1 - share) * tau_treated)
        return np.column_stack(columns)


class DRLearner(_MetaLearner):
    """Per treatment, doubly robust pseudo-outcomes from cross-fitted outcome models (``folds``
    of them) on that arm's and the control rows, regressed on the features. ``propensity`` as
    for :class:`XLearner`."""

    propensity: Propensity
    folds: int

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        control: Any = None,
        propensity: Propensity = "share",
        folds: int = 2,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        effect_n_estimators: int | None = None,
        effect_learning_rate: float | None = None,
        effect_num_leaves: int | None = None,
        effect_min_child_samples: int | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        _init_common(self, locals())

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> DRLearner:
        """Fit on features ``X``, outcomes ``y`` and the ``treatment`` column."""
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2:
            raise ValueError(f"folds must be an integer >= 2, got {self.folds!r}")
        _check_propensity(self.propensity)  # before anything fitted is set
        frame, outcomes, arms = self._start(X, y, treatment)
        self._fit_propensity(self.propensity, frame, arms)
        effect_models = []
        for j in range(1, len(arms.treatments) + 1):
            rows, flags = arms.pair(j)
            pseudo = self._pseudo_outcomes(frame[rows], outcomes[rows], flags, j)
            effect_models.append(self._regressor(10 * j, effect=True).fit(frame[rows], pseudo))
        self.effect_models_ = effect_models
        return self

    def _pseudo_outcomes(
        self, frame: pd.DataFrame, outcomes: FloatArray, flags: npt.NDArray[np.int64], j: int
    ) -> FloatArray:
        from sklearn.model_selection import StratifiedKFold

        share = self._propensity(frame, j)
        mu_treated = np.empty(len(frame))
        mu_control = np.empty(len(frame))
        strata = flags * 2 + (outcomes > np.median(outcomes))
        splitter = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state + j)
        for fold, (train, held) in enumerate(splitter.split(frame, strata)):
            fit_frame, fit_y, fit_t = frame.iloc[train], outcomes[train], flags[train]
            for arm in (0, 1):  # a fold's arm with one outcome value cannot be modelled
                if self.outcome == "binary" and np.unique(fit_y[fit_t == arm]).size < 2:
                    raise ValueError(
                        f"a cross-fitting fold of treatment {self.treatments_[j - 1]!r} has "
                        f"only one outcome value in its {'treated' if arm else 'control'} rows"
                    )
            seed = 100 * j + fold
            treated = self._outcome_model(10 + seed).fit(fit_frame[fit_t == 1], fit_y[fit_t == 1])
            control = self._outcome_model(20 + seed).fit(fit_frame[fit_t == 0], fit_y[fit_t == 0])
            mu_treated[held] = self._expected(treated, frame.iloc[held])
            mu_control[held] = self._expected(control, frame.iloc[held])
        return (
            mu_treated
            - mu_control
            + flags * (outcomes - mu_treated) / share
            - (1 - flags) * (outcomes - mu_control) / (1 - share)
        )

    def _effects(self, frame: pd.DataFrame) -> FloatArray:
        return np.column_stack(
            [np.asarray(m.predict(frame), dtype=np.float64) for m in self.effect_models_]
        )


__all__ = [
    "PROPENSITY_CLIP",
    "TREATMENT_FEATURE",
    "DRLearner",
    "SLearner",
    "TLearner",
    "XLearner",
    "best_of",
]
