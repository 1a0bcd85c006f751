"""The two-part (hurdle) revenue learner, and UpliftModel's hurdle candidate, one-standard-error
choice and bagged refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from lodestar.modeling.metrics import roc_auc
from lodestar.modeling.uplift_hurdle import HurdleLearner
from lodestar.modeling.uplift_selection import AveragedLearner, UpliftModel


def revenue(
    n: int, seed: int, arms: tuple[str, ...] = ("none", "mail")
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Mostly zeros: 4% buy at baseline; treatment j (1-based) adds 8 points of buyers where
    x0 > 0 for j = 1 and x0 < 0 for j = 2. Amounts are gamma with a mean of 100 + 40 * x1,
    the same in every arm. Returns features, revenue, arms and the true effects (n, k)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "x0": rng.normal(size=n),
        "x1": rng.uniform(-1, 1, size=n),
        "region": pd.Categorical(rng.choice(["north", "south"], size=n)),
    })  # fmt: skip
    arm = rng.choice(np.array(arms, dtype=object), size=n)
    x0, x1 = X["x0"].to_numpy(), X["x1"].to_numpy()
    lift = np.column_stack([0.08 * (x0 > 0), 0.08 * (x0 < 0)])[:, : len(arms) - 1]
    gain = sum(np.where(arm == label, lift[:, j], 0.0) for j, label in enumerate(arms[1:]))
    amount = 100 + 40 * x1
    buys = rng.random(n) < 0.04 + gain
    y = np.where(buys, rng.gamma(4.0, amount / 4.0), 0.0)
    return X, y, arm, lift * amount[:, None]


def test_hurdle_recovers_where_the_treatment_adds_buyers() -> None:
    X, y, arm, _ = revenue(12000, 0)
    X_test, _, _, effect = revenue(4000, 1)
    model = HurdleLearner(n_estimators=80).fit(X, y, arm)
    assert model.control_ == "none" and list(model.treatments_) == ["mail"]
    uplift = model.predict_uplift(X_test)
    assert uplift.shape == (len(X_test),)
    helped = X_test["x0"].to_numpy() > 0.3
    # the true effect on helped rows is 0.08 * 100 = 8 on average, 0 elsewhere
    assert 4 < uplift[helped].mean() < 12
    assert abs(uplift[X_test["x0"].to_numpy() < -0.3].mean()) < 2.5
    assert roc_auc((effect[:, 0] > 0).astype(int), uplift) > 0.8
    best = model.best_treatment(X_test)
    assert (best["treatment"][helped] == "mail").mean() > 0.8


def test_hurdle_several_treatments_and_contract() -> None:
    X, y, arm, _ = revenue(12000, 2, arms=("control", "email", "sms"))
    X_test, _, _, effect = revenue(3000, 3, arms=("control", "email", "sms"))
    model = HurdleLearner(n_estimators=60)
    assert clone(model).get_params() == model.get_params()
    assert "outcome" not in model.get_params()
    model.fit(X, y, arm)
    uplift = model.predict_uplift(X_test)
    assert uplift.shape == (len(X_test), 2)
    for j in range(2):
        assert roc_auc((effect[:, j] > 0).astype(int), uplift[:, j]) > 0.75
    again = clone(model).fit(X, y, arm).predict_uplift(X_test)
    np.testing.assert_array_equal(uplift, again)


def test_hurdle_with_few_buyers_uses_their_mean_amount() -> None:
    X, _, arm, _ = revenue(600, 4)
    y = np.zeros(len(X))
    rows = np.flatnonzero(arm == "mail")[:6].tolist() + np.flatnonzero(arm == "none")[:4].tolist()
    y[rows] = 50.0
    model = HurdleLearner(n_estimators=10).fit(X, y, arm)
    assert model.amount_model_ == 50.0
    assert np.isfinite(model.predict_uplift(X)).all()


def test_hurdle_bad_input() -> None:
    X, y, arm, _ = revenue(2000, 5)
    with pytest.raises(ValueError, match="arm 'mail' has only zero ones"):
        HurdleLearner().fit(X, np.where(arm == "mail", 0.0, y), arm)
    with pytest.raises(ValueError, match="has only non-zero ones"):
        HurdleLearner().fit(X, y + 1.0, arm)
    with pytest.raises(ValueError, match="amount_num_leaves must be an integer >= 2"):
        HurdleLearner(amount_num_leaves=1).fit(X, y, arm)
    with pytest.raises(ValueError, match="amount_n_estimators must be an integer >= 1"):
        HurdleLearner(amount_n_estimators=0).fit(X, y, arm)
    assert not hasattr(HurdleLearner(amount_num_leaves=1), "model_")


# -- UpliftModel ---------------------------------------------------------------------------------
SMALL = {"n_estimators": 30, "cv": 2, "cv_repeats": 1, "leaves_grid": (3, 7)}


def test_hurdle_is_a_candidate_for_revenue_only() -> None:
    X, y, arm, _ = revenue(4000, 6)
    model = UpliftModel(outcome="continuous", learners=("S", "H"), ensembles=(), **SMALL)
    model.fit(X, y, arm)
    assert set(model.cv_rank_) == {"S/3", "S/7", "H/3", "H/7"}
    visits = (y > 0).astype(int)
    binary = UpliftModel(learners=("S", "H"), ensembles=(), **SMALL).fit(X, visits, arm)
    assert set(binary.cv_rank_) == {"S/3", "S/7"}  # for 0/1 outcomes it would be the S-learner
    # revenue with no zeros: not a hurdle either
    shifted = UpliftModel(outcome="continuous", learners=("T", "H"), ensembles=(), **SMALL)
    assert set(shifted.fit(X, y + 1.0, arm).cv_rank_) == {"T/3", "T/7"}
    with pytest.raises(ValueError, match="no candidate fits these outcomes"):
        UpliftModel(outcome="continuous", learners=("H",), **SMALL).fit(X, y + 1.0, arm)


@pytest.mark.parametrize("selection", ["one-se", "best"])
def test_selection_rules(selection: str) -> None:
    X, y, arm, _ = revenue(4000, 7)
    model = UpliftModel(outcome="continuous", learners=("S", "T", "H"), selection=selection,
                        **{**SMALL, "cv_repeats": 2})  # fmt: skip
    model.fit(X, y, arm)
    rank, se = model.cv_rank_, model.cv_rank_se_
    assert set(se) == set(rank) and all(v >= 0 for v in se.values())
    best = max(rank, key=lambda n: rank[n])
    if selection == "best":
        assert model.learner_name_ == best
    else:
        chosen = model.learner_name_
        assert rank[chosen] >= rank[best] - se[best]
        # nothing with smaller trees is within one standard error of the best
        leaves = int(chosen.rpartition("/")[2])
        assert not [n for n in rank if int(n.rpartition("/")[2]) < leaves
                    and rank[n] >= rank[best] - se[best]]  # fmt: skip


def test_one_standard_error_rule_prefers_smaller_trees() -> None:
    model = UpliftModel()
    model.cv_rank_ = {"S/7": 7.8, "S/15": 8.3, "T/7": 5.0, "T/15": 4.0}
    model.cv_rank_se_ = {"S/7": 0.9, "S/15": 0.85, "T/7": 0.6, "T/15": 1.0}
    assert model._choose(list(model.cv_rank_)) == "S/7"
    model.cv_rank_se_["S/15"] = 0.3
    assert model._choose(list(model.cv_rank_)) == "S/15"
    assert model.set_params(selection="best")._choose(list(model.cv_rank_)) == "S/15"


def test_the_winner_is_refitted_n_bags_times_with_different_seeds() -> None:
    X, y, arm, _ = revenue(3000, 8)
    visits = (y > 0).astype(int)
    bagged = UpliftModel(learners=("S",), ensembles=(), n_bags=3, **SMALL).fit(X, visits, arm)
    assert isinstance(bagged.learner_, AveragedLearner)
    seeds = [m.random_state for m in bagged.learner_.members]
    assert seeds == [0, 1000, 2000]
    single = UpliftModel(learners=("S",), ensembles=(), n_bags=1, **SMALL).fit(X, visits, arm)
    assert not isinstance(single.learner_, AveragedLearner)
    assert single.learner_name_ == bagged.learner_name_
    expected = np.mean([m.predict_uplift(X) for m in bagged.learner_.members], axis=0)
    np.testing.assert_allclose(bagged.predict_uplift(X), expected)
    # an ensemble winner is bagged member by member
    both = UpliftModel(learners=("S", "T"), ensembles=("S+T",), leaves_grid=(7,), n_bags=2,
                       n_estimators=20, cv=2, cv_repeats=1)  # fmt: skip
    name = both.fit(X, visits, arm).learner_name_
    assert len(both.learner_.members) == 2
    if "+" in name:
        assert all(isinstance(m, AveragedLearner) for m in both.learner_.members)


def test_bad_selection_settings() -> None:
    X, y, arm, _ = revenue(1000, 9)
    visits = (y > 0).astype(int)
    with pytest.raises(ValueError, match="n_bags must be an integer >= 1"):
        UpliftModel(n_bags=0).fit(X, visits, arm)
    with pytest.raises(ValueError, match="selection must be 'one-se' or 'best'"):
        UpliftModel(selection="worst").fit(X, visits, arm)  # type: ignore[arg-type]
