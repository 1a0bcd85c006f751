"""GradientBoostedClassifier chooses its trees by k-fold cross-validation on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lodestar.modeling.classifier as classifier_module
from lodestar.modeling.classifier import CV_ALTERNATIVES, CV_FOLDS, GradientBoostedClassifier

FAST = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 10, "n_jobs": 1}


def _data(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    tier = rng.choice(["gold", "silver", "bronze"], n)
    logit = 1.2 * a - 0.8 * b + (tier == "gold") - 2.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    a[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"a": a, "b": b, "tier": pd.Categorical(tier)}), y


def test_auto_uses_folds_and_calibrates_on_every_training_row() -> None:
    X, y = _data()
    model = GradientBoostedClassifier(**FAST).fit(X, y)
    assert model.cv_folds_ == CV_FOLDS and model.refitted_
    # Out-of-fold scores of all rows fit the calibration, not a 15% validation split.
    assert model.calibrator_.rows_ == len(y)
    assert 1 <= model.best_iteration_ <= FAST["n_estimators"]
    assert model.n_trees_ == round(model.best_iteration_ * CV_FOLDS / (CV_FOLDS - 1))
    assert 0.5 < model.validation_auc_ <= 1.0


def test_auto_falls_back_to_the_validation_split() -> None:
    X, y = _data()
    holdout = round(0.15 * len(y))
    no_refit = GradientBoostedClassifier(refit=False, **FAST).fit(X, y)
    assert no_refit.cv_folds_ == 0 and not no_refit.refitted_
    assert no_refit.calibrator_.rows_ == holdout
    # Too few rows of the rarer class for five folds of at least 20 each.
    rare = y.copy()
    rare[np.flatnonzero(rare)[60:]] = 0
    assert GradientBoostedClassifier(**FAST).fit(X, rare).cv_folds_ == 0
    assert GradientBoostedClassifier(cv_folds=0, **FAST).fit(X, y).calibrator_.rows_ == holdout


def test_auto_uses_the_validation_split_past_the_refit_limit(monkeypatch) -> None:
    X, y = _data()
    monkeypatch.setattr(classifier_module, "REFIT_MAX_ROWS", len(y) - 1)
    model = GradientBoostedClassifier(**FAST).fit(X, y)
    assert model.cv_folds_ == 0 and not model.refitted_


def test_folds_are_deterministic_for_a_seed_and_differ_between_seeds() -> None:
    X, y = _data()
    first = GradientBoostedClassifier(random_state=3, **FAST).fit(X, y).predict_proba(X)
    again = GradientBoostedClassifier(random_state=3, **FAST).fit(X, y).predict_proba(X)
    other = GradientBoostedClassifier(random_state=4, **FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_explicit_folds_and_bad_values() -> None:
    X, y = _data()
    model = GradientBoostedClassifier(cv_folds=3, **FAST).fit(X, y)
    assert model.cv_folds_ == 3 and model.calibrator_.rows_ == len(y)
    for bad in (1, -1, 2.5, True, "five"):
        with pytest.raises(ValueError, match="cv_folds"):
            GradientBoostedClassifier(cv_folds=bad, **FAST).fit(X, y)  # type: ignore[arg-type]


def test_single_row_scoring_matches_batch_scoring() -> None:
    X, y = _data()
    model = GradientBoostedClassifier(**FAST).fit(X, y)
    row = X.iloc[7]
    values = {"a": None if np.isnan(row["a"]) else float(row["a"]), "b": float(row["b"]),
              "tier": str(row["tier"])}  # fmt: skip
    assert model.predict_one(values) == pytest.approx(model.predict_proba(X.iloc[[7]])[0, 1])


# -- shape alternatives ---------------------------------------------------------------------------
def test_additive_data_keeps_the_default_shape() -> None:
    X, y = _data()
    model = GradientBoostedClassifier(**FAST).fit(X, y)
    default, deeper = model.cv_results_
    assert default["chosen"] and not deeper["chosen"]
    assert deeper["shape"] == {**default["shape"], **CV_ALTERNATIVES[0]}
    assert model.best_params_ == default["shape"] == model._shape()
    assert model.best_params_["num_leaves"] == 15


def test_a_fine_checkerboard_takes_the_deeper_shape() -> None:
    # Many small cells: 15-leaf trees with 50-row leaves cannot draw them as well as deeper ones.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(4000, 3)), columns=["p", "q", "r"])
    logit = 3 * np.sign(np.sin(2.5 * np.pi * X["p"]) * np.sin(2.5 * np.pi * X["q"]))
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    model = GradientBoostedClassifier(**FAST).fit(X, y)
    default, deeper = model.cv_results_
    assert deeper["chosen"] and not default["chosen"] and deeper["gain_in_errors"] > 1.0
    assert model.best_params_["num_leaves"] == 31 and model.best_params_["min_child_samples"] == 20
    # The refit booster has the chosen shape.
    assert model.booster_.params["num_leaves"] == 31


def test_alternatives_can_be_switched_off_or_coincide_with_the_shape() -> None:
    X, y = _data()
    off = GradientBoostedClassifier(cv_alternatives=False, **FAST).fit(X, y)
    assert len(off.cv_results_) == 1 and off.cv_results_[0]["chosen"]
    same = GradientBoostedClassifier(**{**FAST, **CV_ALTERNATIVES[0]}).fit(X, y)
    assert len(same.cv_results_) == 1
