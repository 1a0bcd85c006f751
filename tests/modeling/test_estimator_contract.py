"""One contract suite for every estimator (DESIGN.md): the scikit-learn conventions, determinism,
persistence, and the input the training path gives them (floats and categories with gaps).

Each estimator is described once in ``CASES``: how to build it small and fast, what ``fit``
takes (``y`` alone, ``y`` and a treatment, or product labels) and how it predicts.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from lodestar.modeling.classifier import GradientBoostedClassifier
from lodestar.modeling.next_best_product import NextBestProduct
from lodestar.modeling.scorecard import Scorecard
from lodestar.modeling.uplift import DRLearner, SLearner, TLearner, XLearner
from lodestar.modeling.uplift_hurdle import HurdleLearner
from lodestar.modeling.uplift_selection import UpliftModel

N = 1200


def frame(seed: int = 0, n: int = N) -> pd.DataFrame:
    """Two numbers with gaps, a category with gaps and an unused noise column."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n)
    income[rng.random(n) < 0.08] = np.nan
    region = pd.Series(rng.choice(["north", "south", "west"], n), dtype="string")
    region[rng.random(n) < 0.05] = pd.NA
    return pd.DataFrame({
        "income": income,
        "age": rng.integers(18, 80, n).astype(float),
        "region": region.astype("category"),
        "noise": rng.normal(size=n),
    })  # fmt: skip


def _signal(X: pd.DataFrame) -> np.ndarray:
    return 0.08 * (X["income"].fillna(50) - 50) + np.where(X["region"] == "north", 1.2, -0.4)


def binary_target(X: pd.DataFrame, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-_signal(X)))).astype(int)
    return {"y": y}


def uplift_target(X: pd.DataFrame, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, len(X))
    p = 1 / (1 + np.exp(-(_signal(X) - 1 + 1.0 * t * (X["age"] < 40))))
    return {"y": (rng.random(len(X)) < p).astype(int), "treatment": t}


def revenue_target(X: pd.DataFrame, seed: int = 1) -> dict[str, Any]:
    """Mostly zeros (about one row in eight buys), the treatment adds buyers under 40."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, len(X))
    p = 1 / (1 + np.exp(-(0.5 * _signal(X) - 2.5 + 1.0 * t * (X["age"] < 40))))
    amount = rng.gamma(2.0, 40.0, len(X)) * (1 + (X["region"] == "north"))
    return {"y": np.where(rng.random(len(X)) < p, amount, 0.0), "treatment": t}


def product_target(X: pd.DataFrame, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    product = np.where(X["region"] == "north", "card", np.where(X["age"] < 40, "loan", "fund"))
    return {"y": np.where(rng.random(len(X)) < 0.2, "none", product)}


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Any]
    target: Callable[[pd.DataFrame], dict[str, Any]]
    predict: str  # the method whose output is compared


GBM = {"n_estimators": 40, "learning_rate": 0.1, "early_stopping_rounds": 10}
LEARNER = {"n_estimators": 40, "learning_rate": 0.1}

CASES = [
    Case("gradient_boosted", lambda: GradientBoostedClassifier(**GBM), binary_target,
         "predict_proba"),
    Case("scorecard", Scorecard, binary_target, "predict_proba"),
    Case("s_learner", lambda: SLearner(**LEARNER), uplift_target, "predict_uplift"),
    Case("t_learner", lambda: TLearner(**LEARNER), uplift_target, "predict_uplift"),
    Case("x_learner", lambda: XLearner(**LEARNER), uplift_target, "predict_uplift"),
    Case("dr_learner", lambda: DRLearner(**LEARNER), uplift_target, "predict_uplift"),
    Case("hurdle_learner", lambda: HurdleLearner(**LEARNER), revenue_target, "predict_uplift"),
    Case("uplift_model", lambda: UpliftModel(n_estimators=30, learners=("S", "T"), cv=2,
                                             leaves_grid=(7,)), uplift_target, "predict_uplift"),
    Case("uplift_model_revenue",
         lambda: UpliftModel(outcome="continuous", n_estimators=20, learners=("T", "H"), cv=2,
                             cv_repeats=1, leaves_grid=(7,), n_bags=2),
         revenue_target, "predict_uplift"),
    Case("next_best_product", lambda: NextBestProduct(n_estimators=40, learning_rate=0.1,
                                                      early_stopping_rounds=10),
         product_target, "predict_proba"),
]  # fmt: skip


def fit(case: Case, model: Any, X: pd.DataFrame) -> Any:
    target = case.target(X)
    if "treatment" in target:
        return model.fit(X, target["y"], target["treatment"])
    return model.fit(X, target["y"])


@pytest.fixture(scope="module")
def X() -> pd.DataFrame:
    return frame()


@pytest.fixture(scope="module")
def fitted(X: pd.DataFrame) -> dict[str, Any]:
    return {case.name: fit(case, case.build(), X) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_init_stores_parameters_only_and_clones(case: Case) -> None:
    model = case.build()
    params = model.get_params()
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]
    twin = clone(model)
    assert twin.get_params() == params and twin is not model
    assert model.set_params(**params) is model


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_predicting_before_fit_is_a_clear_error(case: Case, X: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        getattr(case.build(), case.predict)(X)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fit_returns_self_and_sets_trailing_underscore_attributes(
    case: Case, X: pd.DataFrame
) -> None:
    model = case.build()
    before = set(vars(model))
    assert fit(case, model, X) is model
    added = [k for k in set(vars(model)) - before if not k.startswith("_")]
    assert added and all(k.endswith("_") for k in added), added
    assert model.n_features_in_ == X.shape[1]
    assert list(model.feature_names_in_) == list(X.columns)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_deterministic_and_the_same_after_pickling(
    case: Case, X: pd.DataFrame, fitted: dict[str, Any]
) -> None:
    model = fitted[case.name]
    first = np.asarray(getattr(model, case.predict)(X))
    again = np.asarray(getattr(fit(case, case.build(), X), case.predict)(X))
    assert np.array_equal(first, again)
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(np.asarray(getattr(restored, case.predict)(X)), first)
    assert np.isfinite(first).all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_columns_by_name_unseen_categories_and_missing_columns(
    case: Case, X: pd.DataFrame, fitted: dict[str, Any]
) -> None:
    model = fitted[case.name]
    predict = getattr(model, case.predict)
    expected = np.asarray(predict(X.head(50)))
    shuffled = X.head(50)[list(reversed(X.columns))]
    assert np.allclose(np.asarray(predict(shuffled)), expected)
    unseen = X.head(5).copy()
    unseen["region"] = pd.Categorical(["east"] * 5)
    assert np.isfinite(np.asarray(predict(unseen), dtype=float)).all()
    with pytest.raises(ValueError, match="income"):
        predict(X.drop(columns=["income"]))
