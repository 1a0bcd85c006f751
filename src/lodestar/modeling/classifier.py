"""``GradientBoostedClassifier``: a binary LightGBM classifier with the scikit-learn contract.

It takes a pandas frame whose categorical columns have the ``category`` dtype (see
:mod:`lodestar.modeling.tabular`) and leaves missing values to LightGBM. Up to ``REFIT_MAX_ROWS``
rows (``cv_folds="auto"``), stratified k-fold cross-validation on the training rows chooses the
number of trees (early stopping on the folds' mean AUC, steadier than one small validation split)
and every training row's out-of-fold score fits the probability calibration
(:mod:`lodestar.modeling.calibration`); the model is then refit on all rows. Past that, a
stratified validation split is carved out instead: it chooses the number of trees and fits the
calibration on rows the trees did not see, and ``refit="auto"`` skips the refit, which would
double the training time for a few percent more data. ``tune=True`` first picks the tree shape by cross-validation on the training rows
(bounded by ``tune_seconds``). ``calendar=True`` adds a month number (or a day-of-year number,
with a day-of-month column beside it) for a column whose categories are month names, found by
value (see :func:`calendar_features`); explanations give its share back to those columns.
Results are the same for the same seed and data.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=400)})
>>> y = (X["x"] + rng.normal(scale=0.5, size=400) > 0).astype(int)
>>> model = GradientBoostedClassifier(n_estimators=50).fit(X, y)
>>> model.predict_proba(X).shape
(400, 2)
>>> bool(np.allclose(model.contributions(X).sum(axis=1) + model.expected_value_,
...                  model.decision_function(X)))
True
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from lodestar.modeling.calibration import CalibrationMethod, ScoreCalibrator

Imbalance = Literal["none", "sqrt", "balanced"]
#: ``refit="auto"`` refits only up to this many rows: past it the refit doubles the training time
#: (1M x 50 rows) for a few percent more data, and the learning rate is raised to at least
#: ``LARGE_DATA_LEARNING_RATE``: with that many rows small steps buy almost nothing but time.
REFIT_MAX_ROWS = 200_000
LARGE_DATA_LEARNING_RATE = 0.1
#: From this many rows at once, scoring compiles the trees to native code (once per model and
#: process, cached on disk by the model's hash): 3-4x LightGBM's own predict, identical scores.
COMPILE_MIN_ROWS = 20_000

#: Tree shapes ``tune=True`` tries, most likely first (a time budget may stop the list early).
#: They span what 4-fold cross-validation found close to the best on bank marketing, credit
#: risk and churn data (within about 0.002 AUC of each other there): shallow to deeper and
#: more regularised, so a new dataset that prefers another shape gets the chance.
TUNING_CANDIDATES: tuple[dict[str, Any], ...] = (
    {},
    {"num_leaves": 7, "min_child_samples": 50},
    {"num_leaves": 31, "min_child_samples": 100, "reg_lambda": 10.0},
    {"colsample_bytree": 0.7},
    {"num_leaves": 15, "min_child_samples": 200, "reg_lambda": 20.0},
    {"cat_smooth": 50.0, "min_data_per_group": 200},
)
# Tuning compares shapes at a faster learning rate; the ranking of shapes carries over.
_TUNING_LEARNING_RATE = 0.1
_TUNING_FOLDS = 3
#: ``cv_folds="auto"``: folds that choose the number of trees up to ``REFIT_MAX_ROWS`` rows, as
#: long as each fold's validation part holds at least ``_CV_MIN_CLASS_ROWS`` rows of each class.
CV_FOLDS = 5
_CV_MIN_CLASS_ROWS = 20
#: Shapes the cross-validation also tries on the same folds, over the given shape. One replaces
#: the given shape only when its fold-by-fold AUC gain is more than one standard error above
#: zero (noise alone rarely passes, so a dataset keeps the defaults unless it clearly gains):
#: deeper trees with smaller leaves, for data with more interactions than the defaults catch.
CV_ALTERNATIVES: tuple[dict[str, Any], ...] = ({"num_leaves": 31, "min_child_samples": 20},)


class GradientBoostedClassifier(ClassifierMixin, BaseEstimator):
    """Binary gradient-boosted trees (LightGBM) for response, risk and churn.

    ``imbalance`` weighs the positive class: ``"balanced"`` by negatives / positives (LightGBM's
    ``is_unbalance``), ``"sqrt"`` by its square root (a milder push), ``"none"`` not at all.
    Weighting inflates the raw probabilities; ``calibration`` (default ``"auto"``: isotonic from
    1000 validation rows, else Platt) maps them back to observed rates without changing the
    order of customers, so ``predict_proba`` reads as a rate. ``calibration="none"`` returns the
    booster's own probabilities. Calibration is fitted on the validation split, so it needs
    ``0 < validation_fraction < 1``; without one it is skipped (``calibrator_.method_ == "none"``).
    ``cv_folds`` chooses the number of trees and the calibration rows by that many stratified
    folds (then refits on all rows); ``0`` uses the validation split instead; ``"auto"``
    (default) uses ``CV_FOLDS`` folds up to ``REFIT_MAX_ROWS`` rows when the model is refitted
    and each fold holds enough rows of each class, else the validation split. ``cv_folds_``
    records the folds used (0 for the validation split). With folds, ``cv_alternatives=True``
    also tries the shapes in ``CV_ALTERNATIVES`` on the same folds and keeps one only when it
    wins clearly (see there); ``best_params_`` is the shape used, ``cv_results_`` what each
    shape scored.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 2000,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        # 0.5 (was 0.7): chosen by 4-fold CV on seed-0 training rows of bank marketing, churn
        # and credit risk (better or equal on each); see BENCHMARKS.md, classifier quality.
        colsample_bytree: float = 0.5,
        subsample: float = 0.8,
        reg_lambda: float = 5.0,
        cat_smooth: float = 10.0,
        min_data_per_group: int = 100,
        max_cat_to_onehot: int = 4,
        imbalance: Imbalance = "sqrt",
        calibration: CalibrationMethod = "auto",
        early_stopping_rounds: int = 100,
        validation_fraction: float = 0.15,
        refit: bool | Literal["auto"] = "auto",
        cv_folds: int | Literal["auto"] = "auto",
        cv_alternatives: bool = True,
        tune: bool = False,
        tune_seconds: float = 120.0,
        calendar: bool = True,
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
        self.cat_smooth = cat_smooth
        self.min_data_per_group = min_data_per_group
        self.max_cat_to_onehot = max_cat_to_onehot
        self.imbalance = imbalance
        self.calibration = calibration
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.cv_folds = cv_folds
        self.cv_alternatives = cv_alternatives
        self.tune = tune
        self.tune_seconds = tune_seconds
        self.calendar = calendar
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Binary only (response, risk, churn); LightGBM takes missing values as they are.
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    # -- fitting ----------------------------------------------------------------------------
    def _shape(self) -> dict[str, Any]:
        """The tree-shape parameters, under this estimator's names (what tuning overrides)."""
        return {
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "cat_smooth": self.cat_smooth,
            "min_data_per_group": self.min_data_per_group,
        }

    def _lgb_params(self, y: np.ndarray, shape: dict[str, Any]) -> dict[str, Any]:
        positives = float(y.sum())
        negatives = float(y.size - positives)
        ratio = negatives / positives if positives else 1.0
        weight = {"none": 1.0, "sqrt": float(np.sqrt(ratio)), "balanced": ratio}[self.imbalance]
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": shape["num_leaves"],
            "min_child_samples": shape["min_child_samples"],
            "feature_fraction": shape["colsample_bytree"],
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "lambda_l2": shape["reg_lambda"],
            "cat_smooth": shape["cat_smooth"],
            "min_data_per_group": shape["min_data_per_group"],
            "max_cat_to_onehot": self.max_cat_to_onehot,
            "scale_pos_weight": weight,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,  # the choice LightGBM would time and warn about
            "num_threads": self.n_jobs,
            "verbose": -1,
        }

    def _check(self, X: Any, y: npt.ArrayLike) -> tuple[pd.DataFrame, np.ndarray]:
        if self.imbalance not in ("none", "sqrt", "balanced"):
            raise ValueError(f"imbalance must be none, sqrt or balanced, not {self.imbalance!r}")
        if self.calibration not in ("auto", "isotonic", "sigmoid", "none"):
            raise ValueError(
                f"calibration must be auto, isotonic, sigmoid or none, not {self.calibration!r}"
            )
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        from sklearn.utils import assert_all_finite
        from sklearn.utils.validation import column_or_1d

        frame = as_frame(X)
        given = np.asarray(y)
        if given.dtype.kind == "f":
            assert_all_finite(given, input_name="y")
        if given.ndim == 2 and given.shape[1] == 1:
            given = column_or_1d(given, warn=True)  # a column vector: warn as sklearn does
        labels = given.astype(np.int64).ravel()
        if labels.size != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {labels.size}")
        classes = np.unique(labels)
        if classes.size > 2:
            raise ValueError(
                f"Only binary classification is supported. y holds {classes.size} classes"
            )
        if not np.array_equal(classes, [0, 1]):
            raise ValueError(f"y must hold both classes 0 and 1, found {classes.tolist()}")
        return frame, labels

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> GradientBoostedClassifier:
        """Fit on ``X`` (a frame; categoricals as ``category``) and 0/1 labels ``y``."""
        import lightgbm as lgb
        from sklearn.model_selection import train_test_split

        frame, labels = self._check(X, y)
        self.feature_names_in_ = np.array(frame.columns, dtype=object)
        self.categorical_features_ = [
            str(c) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
        ]
        self.n_features_in_ = frame.shape[1]
        self.derived_ = calendar_features(frame) if self.calendar else {}
        frame = with_derived(frame, self.derived_)
        shape = self._shape()
        if self.tune:
            shape, self.tuning_results_ = self._tuned_shape(frame, labels, shape)
        self.best_params_ = shape
        params = self._lgb_params(labels, shape)
        if self.refit == "auto" and len(frame) > REFIT_MAX_ROWS:
            params["learning_rate"] = max(self.learning_rate, LARGE_DATA_LEARNING_RATE)
        self.learning_rate_ = float(params["learning_rate"])
        self.calibrator_ = ScoreCalibrator("none")
        self.cv_folds_ = self._folds(labels)
        if self.cv_folds_:
            booster = self._fit_cross_validated(frame, labels, shape, params["learning_rate"])
        elif 0 < self.validation_fraction < 1:
            fit_x, val_x, fit_y, val_y = train_test_split(
                frame,
                labels,
                test_size=self.validation_fraction,
                stratify=labels,
                random_state=self.random_state,
            )
            train_set = lgb.Dataset(fit_x, fit_y, free_raw_data=False)
            valid_set = lgb.Dataset(val_x, val_y, reference=train_set)
            stopping = self.early_stopping_rounds > 0
            booster = lgb.train(
                {**params, "metric": "auc"},
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
                if stopping
                else [],
            )
            self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
            self.validation_auc_ = float(
                booster.best_score["valid_0"]["auc"] if stopping else np.nan
            )
            # Calibrate on rows the trees never saw; the refit below only adds trees in the
            # same proportion as rows, so its scores keep (close to) the same scale.
            val_raw = booster.predict(val_x, raw_score=True, num_iteration=self.best_iteration_)
            self.calibrator_ = ScoreCalibrator(self.calibration).fit(val_raw, val_y)
            self.refitted_ = self.refit is True or (
                self.refit == "auto" and len(frame) <= REFIT_MAX_ROWS
            )
            if self.refitted_:
                # A little more data is worth a few more trees: scale by the row ratio.
                rounds = max(1, round(self.best_iteration_ / (1 - self.validation_fraction)))
                booster = lgb.train(params, lgb.Dataset(frame, labels), num_boost_round=rounds)
        else:
            booster = lgb.train(params, lgb.Dataset(frame, labels), self.n_estimators)
            self.refitted_ = False
            self.best_iteration_ = self.n_estimators
            self.validation_auc_ = float("nan")
            self.calibrator_.fit(np.zeros(2), np.array([0, 1]))
        self.booster_ = booster
        self.classes_ = np.array([0, 1])
        self.n_trees_ = booster.num_trees()
        # TreeSHAP's base value is the same for every row: read it off one.
        first = booster.predict(frame.iloc[:1], pred_contrib=True, num_iteration=self._trees())
        self.expected_value_ = float(np.asarray(first)[0, -1])
        return self

    def _folds(self, labels: np.ndarray) -> int:
        """How many folds choose the trees: 0 for the validation split (see the class doc)."""
        folds = self.cv_folds
        if folds == "auto":
            refitted = self.refit is True or (
                self.refit == "auto" and labels.size <= REFIT_MAX_ROWS
            )
            usable = (
                refitted
                and self.early_stopping_rounds > 0
                and 0 < self.validation_fraction < 1
                and int(np.bincount(labels, minlength=2).min()) >= CV_FOLDS * _CV_MIN_CLASS_ROWS
            )
            return CV_FOLDS if usable else 0
        if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 0:
            raise ValueError(f"cv_folds must be 'auto' or a whole number >= 0, not {folds!r}")
        if folds == 1 or folds > int(np.bincount(labels, minlength=2).min()):
            raise ValueError(
                f"cv_folds={folds} needs at least 2 folds and as many rows of each class"
            )
        return int(folds)

    def _fit_cross_validated(
        self, frame: pd.DataFrame, labels: np.ndarray, shape: dict[str, Any], learning_rate: float
    ) -> Any:
        """Trees (and maybe the shape) chosen by k-fold early stopping, calibration fitted on
        the out-of-fold scores of every row, then the booster refit on all rows."""
        import lightgbm as lgb
        from sklearn.model_selection import StratifiedKFold

        from lodestar.modeling.metrics import roc_auc

        k = self.cv_folds_
        folds = list(
            StratifiedKFold(k, shuffle=True, random_state=self.random_state).split(frame, labels)
        )
        # Alternatives may ask for smaller leaves than the defaults: bin without pre-filtering.
        dataset = lgb.Dataset(
            frame, labels, free_raw_data=False, params={"feature_pre_filter": False}
        )
        candidates = [shape]
        if self.cv_alternatives:
            candidates += [
                {**shape, **alternative}
                for alternative in CV_ALTERNATIVES
                if {**shape, **alternative} != shape
            ]
        stopping = self.early_stopping_rounds > 0
        results: list[dict[str, Any]] = []
        for candidate in candidates:
            params = {**self._lgb_params(labels, candidate), "learning_rate": learning_rate}
            scores = lgb.cv(
                {**params, "metric": "auc"},
                dataset,
                num_boost_round=self.n_estimators,
                folds=folds,
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
                if stopping
                else [],
                return_cvbooster=True,
            )
            curve = np.asarray(scores["valid auc-mean"], dtype=np.float64)
            best = int(np.argmax(curve)) + 1
            cvbooster = scores["cvbooster"]
            assert isinstance(cvbooster, lgb.CVBooster)
            out_of_fold = np.zeros(labels.size, dtype=np.float64)
            fold_auc = []
            for fold_booster, (_, held) in zip(cvbooster.boosters, folds, strict=True):
                out_of_fold[held] = fold_booster.predict(
                    frame.iloc[held], raw_score=True, num_iteration=best
                )
                fold_auc.append(roc_auc(labels[held], out_of_fold[held]))
            results.append({"shape": candidate, "cv_auc": float(curve[best - 1]),
                            "trees": best, "fold_auc": np.array(fold_auc),
                            "params": params, "out_of_fold": out_of_fold})  # fmt: skip
        chosen = results[0]
        for other in results[1:]:
            gain = other["fold_auc"] - results[0]["fold_auc"]
            error = float(np.std(gain, ddof=1)) / np.sqrt(k)
            other["gain_in_errors"] = float(np.mean(gain) / error) if error > 0 else 0.0
            if other["gain_in_errors"] > 1.0 and other["cv_auc"] > chosen["cv_auc"]:
                chosen = other
        self.cv_results_ = [
            {key: r[key] for key in ("shape", "cv_auc", "trees")}
            | {"gain_in_errors": r.get("gain_in_errors", 0.0), "chosen": r is chosen}
            for r in results
        ]
        self.best_params_ = dict(chosen["shape"])
        self.best_iteration_ = int(chosen["trees"])
        self.validation_auc_ = float(chosen["cv_auc"])
        self.calibrator_ = ScoreCalibrator(self.calibration).fit(chosen["out_of_fold"], labels)
        self.refitted_ = True
        # Each fold trained on (k-1)/k of the rows; all of them are worth a few more trees.
        rounds = max(1, round(self.best_iteration_ * k / (k - 1)))
        return lgb.train(chosen["params"], dataset, num_boost_round=rounds)

    def _tuned_shape(
        self, frame: pd.DataFrame, labels: np.ndarray, default: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The candidate shape with the best cross-validated AUC on the training rows."""
        import lightgbm as lgb

        started = time.perf_counter()
        # Candidates may ask for smaller leaves than the first: bin without pre-filtering.
        dataset = lgb.Dataset(
            frame, labels, free_raw_data=False, params={"feature_pre_filter": False}
        )
        results: list[dict[str, Any]] = []
        for candidate in TUNING_CANDIDATES:
            if results and time.perf_counter() - started > self.tune_seconds:
                break
            shape = {**default, **candidate}
            params = {
                **self._lgb_params(labels, shape),
                "learning_rate": _TUNING_LEARNING_RATE,
                "metric": "auc",
            }
            scores = lgb.cv(
                params,
                dataset,
                num_boost_round=self.n_estimators,
                nfold=_TUNING_FOLDS,
                stratified=True,
                seed=self.random_state,
                callbacks=[
                    lgb.early_stopping(max(20, self.early_stopping_rounds // 3), verbose=False)
                ],
            )
            auc = float(np.max(np.asarray(scores["valid auc-mean"], dtype=np.float64)))
            results.append({"shape": shape, "cv_auc": auc})
        best = max(results, key=lambda r: r["cv_auc"])  # first wins a tie: the defaults
        return dict(best["shape"]), results

    # -- predicting -------------------------------------------------------------------------
    def _trees(self) -> int | None:
        # Refit boosters hold exactly the chosen trees; the others hold some past the best.
        refitted = getattr(self, "refitted_", self.refit is True)  # models pickled before it
        return None if refitted else self.best_iteration_

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "booster_")
        frame = as_frame(X)
        # Frames are matched by column name (extra columns are fine); arrays by position only.
        if not isinstance(X, pd.DataFrame) and frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise ValueError(f"X lacks the columns {missing} the model was trained on")
        return with_derived(frame[list(self.feature_names_in_)], self.derived_)

    def decision_function(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Raw score (log-odds of the weighted model) of each row: what the trees add up to."""
        frame = self._frame(X)  # first: it says "not fitted" before booster_ is looked up
        scorer = self._scorer(len(frame))
        if scorer is not None:
            return scorer.predict_raw(np.column_stack(scorer.columns(frame)))
        raw = self.booster_.predict(frame, raw_score=True, num_iteration=self._trees())
        return np.asarray(raw, dtype=np.float64)

    def _scorer(self, rows: int) -> Any:
        """The compiled trees, built at the first batch of ``COMPILE_MIN_ROWS`` rows; None for
        smaller batches before that, or when no compiler is at hand (LightGBM scores then)."""
        cached = self.__dict__.get("_compiled")
        if cached is not None:
            return cached or None
        if rows < COMPILE_MIN_ROWS:
            return None
        from lodestar.modeling.compiled_scoring import CompiledModel

        # The booster's columns: the input features, then any derived calendar columns.
        columns = [*map(str, self.feature_names_in_), *getattr(self, "derived_", {})]
        model = CompiledModel.from_booster(self.booster_, columns, num_iteration=self._trees())
        self.__dict__["_compiled"] = model if model.compiled else False
        return model if model.compiled else None

    def __getstate__(self) -> dict[str, Any]:
        # The compiled library is a handle into this process: rebuilt (from the disk cache) after
        # unpickling rather than saved.
        state = dict(super().__getstate__())
        state.pop("_compiled", None)
        return state

    def predict_one(self, values: dict[str, Any]) -> float:
        """The calibrated probability of one customer given as ``{feature: value}`` (categories
        as their text, missing as None): the in-process path for real-time decisions."""
        scorer = self._scorer(COMPILE_MIN_ROWS)
        if scorer is None or getattr(self, "derived_", None):
            # Through a one-row frame (compiled when the trees are): derived columns need it.
            frame = pd.DataFrame([{name: values.get(name) for name in self.feature_names_in_}])
            for name in self.categorical_features_:
                frame[name] = frame[name].astype("string").astype("category")
            return float(self.predict_proba(frame)[0, 1])
        probability = min(max(scorer.predict_row(scorer.encode_row(values)), 1e-300), 1 - 1e-16)
        raw = np.log(probability / (1.0 - probability))
        return float(self.calibrator_.transform(np.array([raw]))[0])

    def predict_proba(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Calibrated probabilities of class 0 and class 1, one row per row of ``X``."""
        raw = self.decision_function(X)
        positive = self.calibrator_.transform(raw)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Class 1 where its probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP value of each feature for each row, in log-odds of the raw score.

        One column per feature, indexed like ``X``; each row plus ``expected_value_`` adds up to
        :meth:`decision_function` (calibration comes after and is left out: it only rescales).
        """
        frame = self._frame(X)
        values = self.booster_.predict(frame, pred_contrib=True, num_iteration=self._trees())
        values = np.asarray(values, dtype=np.float64)
        folded = self._fold(values[:, :-1])
        return pd.DataFrame(folded, columns=list(self.feature_names_in_), index=frame.index)

    def _fold(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per-feature values with each derived feature's share given back to its sources.

        SHAP values and gains add up, so splitting a derived column's value evenly over the
        columns it was made from keeps every total while explaining in the customer's own
        columns.
        """
        width = self.n_features_in_
        folded = values[:, :width].copy()
        position = {name: i for i, name in enumerate(self.feature_names_in_)}
        for j, sources in enumerate(self.derived_.values()):
            share = values[:, width + j] / len(sources)
            for source in sources:
                folded[:, position[source]] += share
        return folded

    @property
    def feature_importances_(self) -> npt.NDArray[np.float64]:
        """Total gain of the splits on each feature, in ``feature_names_in_`` order."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "booster_")
        gain = np.asarray(self.booster_.feature_importance("gain"), dtype=np.float64)
        return self._fold(gain[np.newaxis, :])[0]


# -- calendar features ----------------------------------------------------------------------------
_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTHS = {name: i for i, full in enumerate(_MONTH_NAMES, 1) for name in (full, full[:3])}


def calendar_features(frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Derived calendar columns for ``frame``, by name, with the columns each is made from.

    Found by values, not names: a categorical whose every category is a month name (``jan``,
    ``March``) becomes a month number, so trees can split on ranges of months; with exactly one
    day-of-month column beside it (whole numbers within 1..31, at least 28 different) the two
    become one day-of-year number. Campaign data carry dates this way (UCI bank marketing's
    ``month`` and ``day``), and a date range is then one split instead of several.
    """
    months = [
        str(name)
        for name in frame.columns
        if isinstance(frame[name].dtype, pd.CategoricalDtype)
        and len(frame[name].cat.categories) >= 2
        and all(str(c).strip().casefold() in MONTHS for c in frame[name].cat.categories)
    ]
    days = [str(name) for name in frame.columns if _is_day_of_month(frame[name])]
    derived: dict[str, tuple[str, ...]] = {}
    for month in months:
        if len(days) == 1:
            derived[f"{month}_{days[0]}_day_of_year"] = (month, days[0])
        else:
            derived[f"{month}_number"] = (month,)
    return {name: sources for name, sources in derived.items() if name not in frame.columns}


def _is_day_of_month(column: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna().to_numpy(dtype=np.float64)
    if values.size == 0:
        return False
    whole = bool(np.all(values == np.round(values)))
    return whole and values.min() >= 1 and values.max() <= 31 and np.unique(values).size >= 28


def with_derived(frame: pd.DataFrame, derived: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """``frame`` with the derived calendar columns appended (unchanged when there are none)."""
    if not derived:
        return frame
    extra: dict[str, pd.Series] = {}
    for name, sources in derived.items():
        month = frame[sources[0]].astype("string").str.strip().str.casefold()
        number = month.map(MONTHS).astype("float64")
        if len(sources) == 2:
            number = (number - 1) * 31 + frame[sources[1]].astype("float64")
        extra[name] = number
    return frame.assign(**extra)


def as_frame(X: Any) -> pd.DataFrame:
    """``X`` as a DataFrame (a 2-D array gets columns x0, x1, ...), as every estimator takes."""
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "tocsr"):  # scipy.sparse, without importing scipy for the check
        raise TypeError("sparse input is not supported: pass a dense array or a DataFrame")
    array = np.asarray(X)
    if np.iscomplexobj(array):
        raise ValueError("Complex data not supported")
    if array.ndim != 2:
        raise ValueError(
            f"X must be two-dimensional, got shape {array.shape}. Reshape your data: "
            "X.reshape(1, -1) for one row, X.reshape(-1, 1) for one feature"
        )
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
