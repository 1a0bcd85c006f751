"""Calibrated probabilities and per-customer explanations of GradientBoostedClassifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lodestar.modeling import metrics
from lodestar.modeling.calibration import ScoreCalibrator
from lodestar.modeling.classifier import GradientBoostedClassifier
from lodestar.modeling.explanation import importance, reason_codes

FAST = {"n_estimators": 80, "learning_rate": 0.1, "early_stopping_rounds": 20, "n_jobs": 1}


def imbalanced(n: int = 12000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """About 5% positives, a signal in two numbers and a category, missing values."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    tier = rng.choice(["gold", "silver", "bronze"], n)
    logit = -3.6 + 1.2 * a + 0.6 * b * (b > 0) + np.where(tier == "gold", 0.8, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    a[rng.random(n) < 0.05] = np.nan
    X = pd.DataFrame({"a": a, "b": b, "tier": pd.Categorical(tier), "noise": rng.normal(size=n)})
    return X, y


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    X, y = imbalanced()
    return X.iloc[:10000], X.iloc[10000:], y[:10000], y[10000:]


# -- calibration ------------------------------------------------------------------------------
@pytest.mark.parametrize("imbalance", ["sqrt", "balanced"])
def test_calibration_improves_brier_and_keeps_the_ranking(data, imbalance) -> None:
    X_train, X_test, y_train, y_test = data
    raw = GradientBoostedClassifier(imbalance=imbalance, calibration="none", **FAST)
    cal = GradientBoostedClassifier(imbalance=imbalance, **FAST)
    p_raw = raw.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    p_cal = cal.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    assert cal.calibrator_.method_ == "isotonic"  # 1500 validation rows
    assert metrics.brier(y_test, p_cal) < metrics.brier(y_test, p_raw)
    # Weighting inflates the mean probability; calibrated it is close to the observed rate.
    assert abs(p_cal.mean() - y_test.mean()) < abs(p_raw.mean() - y_test.mean())
    assert abs(p_cal.mean() - y_test.mean()) < 0.025  # 2000 test rows, 1500 to calibrate on
    # The same trees, so the order is exactly the raw score's: no ties added, AUC unchanged.
    score = cal.decision_function(X_test)
    assert np.array_equal(np.argsort(score, kind="stable"), np.argsort(p_cal, kind="stable"))
    assert metrics.roc_auc(y_test, p_cal) == pytest.approx(
        metrics.roc_auc(y_test, score), abs=1e-12
    )


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrator_is_strictly_increasing_and_in_range(method) -> None:
    rng = np.random.default_rng(1)
    score = rng.normal(size=3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(1.5 * score - 2)))).astype(int)
    cal = ScoreCalibrator(method).fit(score, y)
    grid = np.linspace(-8, 8, 2001)
    prob = cal.transform(grid)
    assert np.all(np.diff(prob) > 0)
    assert prob.min() > 0 and prob.max() < 1
    assert abs(cal.transform(score).mean() - y.mean()) < 0.01


def test_auto_picks_sigmoid_on_few_rows_and_none_is_the_logistic() -> None:
    rng = np.random.default_rng(2)
    score = rng.normal(size=400)
    y = (rng.random(400) < 0.3).astype(int)
    assert ScoreCalibrator().fit(score, y).method_ == "sigmoid"
    assert ScoreCalibrator().fit(np.r_[score, score, score], np.r_[y, y, y]).method_ == "isotonic"
    none = ScoreCalibrator("none").fit(score, y)
    assert np.allclose(none.transform([0.0, np.log(3)]), [0.5, 0.75])
    with pytest.raises(ValueError, match="calibration must be"):
        ScoreCalibrator("beta").fit(score, y)  # type: ignore[arg-type]


def test_no_validation_split_means_no_calibration(data) -> None:
    X_train, _, y_train, _ = data
    model = GradientBoostedClassifier(validation_fraction=0, n_estimators=30, n_jobs=1)
    model.fit(X_train, y_train)
    assert model.calibrator_.method_ == "none"
    expit = 1 / (1 + np.exp(-model.decision_function(X_train)))
    assert np.allclose(model.predict_proba(X_train)[:, 1], expit)


# -- explanations -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(data) -> GradientBoostedClassifier:
    X_train, _, y_train, _ = data
    return GradientBoostedClassifier(**FAST).fit(X_train, y_train)


def test_contributions_add_up_to_the_raw_score(fitted, data) -> None:
    """Golden check: SHAP values plus the expected value are the raw score, row by row."""
    import lightgbm as lgb

    _, X_test, _, _ = data
    contrib = fitted.contributions(X_test)
    assert list(contrib.columns) == ["a", "b", "tier", "noise"]
    assert contrib.index.equals(X_test.index)
    raw = fitted.booster_.predict(X_test, raw_score=True)
    assert np.allclose(contrib.sum(axis=1) + fitted.expected_value_, raw, atol=1e-9)
    assert np.allclose(fitted.decision_function(X_test), raw)
    # The saved text model gives the same scores (what model.txt in the registry holds).
    again = lgb.Booster(model_str=fitted.booster_.model_to_string())
    assert np.allclose(again.predict(X_test, raw_score=True), raw)


def test_reason_codes_increase_decrease_both(fitted, data) -> None:
    _, X_test, _, _ = data
    rows = X_test.head(50)
    contrib = fitted.contributions(rows)
    up = reason_codes(fitted, rows, top=3)
    assert list(up.columns) == ["row", "rank", "feature", "value", "contribution"]
    assert (up["contribution"] > 0).all()
    assert up.groupby("row")["rank"].max().max() <= 3
    first = up[up["rank"] == 1].set_index("row")
    for row, code in first.iterrows():
        assert code["contribution"] == contrib.loc[row].max()
        assert code["feature"] == contrib.loc[row].idxmax()
    down = reason_codes(fitted, rows, top=2, direction="decrease")
    assert (down["contribution"] < 0).all()
    assert down.groupby("row")["contribution"].is_monotonic_increasing.all()
    both = reason_codes(fitted, rows, top=1, direction="both")
    assert len(both) == len(rows)
    assert np.allclose(both["contribution"].abs(), contrib.abs().max(axis=1))
    # Values are shown as the customer's own: a category's label, a number, "missing".
    row = up.iloc[0]
    assert row["value"] == (
        "missing" if pd.isna(rows.loc[row["row"], row["feature"]]) else row["value"]
    )
    assert set(both.loc[both["feature"] == "tier", "value"]) <= {"gold", "silver", "bronze"}
    with pytest.raises(ValueError, match="direction"):
        reason_codes(fitted, rows, direction="up")  # type: ignore[arg-type]


def test_reason_codes_work_for_any_model_with_contributions() -> None:
    class Points:  # a scorecard-like model: points per attribute
        def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({"age": X["age"] - 40.0, "income": X["income"] / 10}, index=X.index)

    X = pd.DataFrame({"age": [30.0, 50.0], "income": [20.0, np.nan]}, index=["c1", "c2"])
    codes = reason_codes(Points(), X, top=2, direction="both")
    assert codes[["row", "rank", "feature", "value"]].values.tolist() == [
        ["c1", 1, "age", "30"], ["c1", 2, "income", "20"], ["c2", 1, "age", "50"],
    ]  # fmt: skip


def test_importance_gain_and_mean_abs_shap(fitted, data) -> None:
    _, X_test, _, _ = data
    table = importance(fitted, X_test)
    assert list(table.columns) == ["feature", "gain", "gain_share", "mean_abs_contribution"]
    assert table["gain_share"].sum() == pytest.approx(1.0)
    assert table["feature"].iloc[0] == "a"  # the strongest signal
    # Noise gets a small share (its absolute size grows with the number of trees chosen).
    shap = table.set_index("feature")["mean_abs_contribution"]
    assert shap["noise"] < 0.2 * shap["a"]
    assert importance(fitted)["feature"].iloc[0] == "a"


# -- the estimator contract -------------------------------------------------------------------
def test_clone_params_round_trip_and_determinism(data) -> None:
    from sklearn.base import clone

    X_train, X_test, y_train, _ = data
    model = GradientBoostedClassifier(calibration="sigmoid", cat_smooth=20.0, **FAST)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    twin.set_params(**model.get_params())
    first = model.fit(X_train, y_train).predict_proba(X_test)
    assert np.array_equal(first, twin.fit(X_train, y_train).predict_proba(X_test))


def test_tuning_picks_a_candidate_by_cross_validation(data) -> None:
    X_train, _, y_train, _ = data
    model = GradientBoostedClassifier(tune=True, tune_seconds=0.0, **FAST).fit(X_train, y_train)
    # A zero budget still evaluates the first candidate (the defaults), then stops.
    assert len(model.tuning_results_) == 1
    assert model.best_params_ == model.tuning_results_[0]["shape"]


def test_sklearn_estimator_checks_on_numeric_input() -> None:
    from sklearn.utils.estimator_checks import check_estimator

    # Probabilities are calibrated on a validation split, which tiny check data cannot carry
    # for every class; checks run with a plain booster and a few trees.
    estimator = GradientBoostedClassifier(
        n_estimators=10, validation_fraction=0, calibration="none", n_jobs=1
    )
    failures = check_estimator(estimator, on_fail=None, on_skip=None)
    failed = [r for r in failures if r["status"] == "failed"]
    # Labels are 0/1 by design (tabular.parse_target maps yes/no, true/false, 1/2 ...), so
    # checks fitting other label sets fail; object columns must be ``category`` for LightGBM.
    allowed = {
        "check_classifiers_classes",
        "check_classifiers_regression_target",
        "check_estimators_dtypes",
        "check_classifier_data_not_an_array",
        "check_fit2d_1sample",
        "check_fit2d_1feature",
        "check_dtype_object",
        "check_estimators_empty_data_messages",  # LightGBM's own wording
    }
    unexpected = [r for r in failed if r["check_name"] not in allowed]
    assert not unexpected, [(r["check_name"], str(r["exception"])[:150]) for r in unexpected]


# -- calendar features ------------------------------------------------------------------------
def campaign_days(n: int = 6000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Response driven by the date (a month-name column and a day-of-month column)."""
    rng = np.random.default_rng(seed)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 32, n).astype(float)
    names = np.array(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                      "nov", "dec"])  # fmt: skip
    day_of_year = (month - 1) * 31 + day
    hot = (day_of_year > 100) & (day_of_year < 160)  # one campaign window across three months
    y = (rng.random(n) < np.where(hot, 0.5, 0.02)).astype(np.int64)
    X = pd.DataFrame({"month": pd.Categorical(names[month - 1]), "day": day,
                      "age": rng.integers(18, 90, n).astype(float)})  # fmt: skip
    return X, y


def test_calendar_columns_are_found_by_value_and_explained_in_source_columns() -> None:
    from lodestar.modeling.classifier import calendar_features

    X, y = campaign_days()
    assert calendar_features(X) == {"month_day_day_of_year": ("month", "day")}
    assert calendar_features(X.drop(columns="day")) == {"month_number": ("month",)}
    assert calendar_features(X.assign(month=X["month"].cat.rename_categories(str.upper))) != {}
    other = X.assign(month=pd.Categorical(np.where(X["day"] > 15, "may", "gold")))
    assert calendar_features(other) == {}  # not every category is a month
    model = GradientBoostedClassifier(**FAST).fit(X.iloc[:5000], y[:5000])
    assert list(model.derived_) == ["month_day_day_of_year"]
    assert model.booster_.num_feature() == 4 and model.n_features_in_ == 3
    test = X.iloc[5000:]
    contrib = model.contributions(test)
    assert list(contrib.columns) == ["month", "day", "age"]
    assert np.allclose(contrib.sum(axis=1) + model.expected_value_, model.decision_function(test))
    assert model.feature_importances_.shape == (3,)
    assert model.feature_importances_.sum() == pytest.approx(
        model.booster_.feature_importance("gain").sum()
    )
    plain = GradientBoostedClassifier(calendar=False, **FAST).fit(X.iloc[:5000], y[:5000])
    assert plain.derived_ == {}
    auc = metrics.roc_auc(y[5000:], model.predict_proba(test)[:, 1])
    assert auc > 0.85
    assert plain.booster_.num_feature() == 3
