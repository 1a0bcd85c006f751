"""NextBestProduct: a next product decided by the features is found, held products are never
recommended, the scikit-learn contract, determinism, and the evaluation against popularity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from lodestar.modeling.next_best_product import (
    NONE,
    NextBestProduct,
    evaluate_nbp,
    parse_held,
)

PRODUCTS = ("card", "loan", "wealth", "insurance")
FAST = {"n_estimators": 200, "learning_rate": 0.1, "early_stopping_rounds": 20}


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The next product is the one whose score (a feature) is highest, unless all are low
    ("none"); each customer holds one or two random other products, joined by "|"."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, len(PRODUCTS)))
    X = pd.DataFrame({f"s_{p}": scores[:, i] for i, p in enumerate(PRODUCTS)})
    X["region"] = rng.choice(["north", "south"], size=n)
    best = scores.argmax(axis=1)
    y = np.where(scores.max(axis=1) > 0.3, np.array(PRODUCTS)[best], NONE)
    held = []
    for i in range(n):
        others = [p for p in PRODUCTS if p != y[i]]
        held.append("|".join(rng.choice(others, size=rng.integers(0, 3), replace=False)))
    X["held_products"] = held
    return X, y


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    X, y = synthetic(4000, 0)
    return X.iloc[:3000], y[:3000], X.iloc[3000:].reset_index(drop=True), y[3000:]


@pytest.fixture(scope="module")
def model(data: tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]) -> NextBestProduct:
    X, y, _, _ = data
    return NextBestProduct(**FAST).fit(X, y)


def test_a_next_product_decided_by_a_feature_is_found(model, data) -> None:
    _, _, X_test, y_test = data
    result = evaluate_nbp(model, X_test, y_test)
    assert result.takers == int((y_test != NONE).sum())
    assert result.top1 > 0.85
    assert result.top3 >= result.top1
    assert result.mrr > 0.9
    # the baseline ignores the features: the model must beat it by far
    assert result.top1 > result.baseline_top1 + 0.3
    assert min(result.auc[p] for p in PRODUCTS) > 0.9


def test_held_products_and_none_are_never_recommended(model, data) -> None:
    _, _, X_test, _ = data
    held = parse_held(X_test["held_products"])
    ranked = model.rank(X_test, top=None)
    for picks, owned in zip(ranked, held, strict=True):
        assert NONE not in picks
        assert not owned & set(picks)
        assert sorted(picks) == sorted(set(PRODUCTS) - owned)
    # an explicit held= wins over the column: holding everything leaves nothing to offer
    assert model.rank(X_test.head(3), held=[PRODUCTS] * 3) == [[], [], []]
    top = model.rank(X_test.head(5), held=[["card"]] * 5, top=2)
    assert all(len(p) == 2 and "card" not in p for p in top)


def test_predict_proba_has_one_column_per_class(model, data) -> None:
    _, _, X_test, _ = data
    proba = model.predict_proba(X_test)
    assert list(model.classes_) == sorted([*PRODUCTS, NONE])
    assert proba.shape == (len(X_test), len(model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert set(model.predict(X_test)) <= set(model.classes_)


def test_scikit_learn_contract_and_determinism(data) -> None:
    X, y, X_test, _ = data
    est = NextBestProduct(num_leaves=7, random_state=3, **FAST)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert not hasattr(twin, "booster_")
    a = est.fit(X, y).predict_proba(X_test)
    b = twin.fit(X, y).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not fitted"):
        NextBestProduct().predict_proba(X_test)


def test_unseen_categories_and_bad_input(model, data) -> None:
    _, _, X_test, _ = data
    odd = X_test.head(4).assign(region=["east", None, "north", "south"])
    assert model.predict_proba(odd).shape == (4, len(model.classes_))
    with pytest.raises(ValueError, match="lacks the columns"):
        model.predict_proba(X_test.drop(columns="s_card"))
    with pytest.raises(ValueError, match="held has 2 rows"):
        model.rank(X_test.head(3), held=[[], []])
    with pytest.raises(ValueError, match="at least two"):
        NextBestProduct(**FAST).fit(X_test.head(10), ["card"] * 10)
