"""CompiledModel scores equal LightGBM's ``Booster.predict``: NaNs, zeros, unseen categories."""

from __future__ import annotations

import logging
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lodestar.modeling.classifier import GradientBoostedClassifier
from lodestar.modeling.compiled_scoring import K_ZERO, CompiledModel, generate_c

LEVELS = ["a", "b", "c", "d", "e", "f", "g"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compiled_models")


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "dense": rng.normal(size=rows),
            "zeros": np.where(rng.random(rows) < 0.4, 0.0, rng.normal(size=rows)),
            "holes": np.where(rng.random(rows) < 0.2, np.nan, rng.normal(size=rows)),
            "count": rng.integers(-3, 4, size=rows).astype(float),
            "colour": pd.Categorical(rng.choice(LEVELS, size=rows), categories=LEVELS),
            "region": pd.Categorical(rng.choice(list("xyz"), size=rows), categories=list("xyz")),
        }
    )
    frame.loc[rng.random(rows) < 0.1, "colour"] = np.nan
    return frame


def _labels(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signal = frame["dense"].fillna(0) - frame["holes"].fillna(1) + frame["colour"].cat.codes * 0.3
    return (signal + rng.normal(size=len(frame)) > 0.5).astype(int).to_numpy()


def _booster(trees: int, seed: int = 0, **params: object) -> lgb.Booster:
    frame = _frame(3000, seed)
    base = {
        "objective": "binary",
        "verbose": -1,
        "seed": seed,
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1,
        "num_threads": 1,
    }
    return lgb.train({**base, **params}, lgb.Dataset(frame, _labels(frame, seed)), trees)


def _scoring_frame(seed: int) -> pd.DataFrame:
    """Fresh rows with the awkward values: unseen categories, NaN, exact and tiny zeros."""
    frame = _frame(2000, seed + 100)
    rng = np.random.default_rng(seed)
    unseen = [*LEVELS, "zz", "new"]
    frame["colour"] = pd.Categorical(rng.choice(unseen, size=len(frame)), categories=unseen)
    frame.loc[rng.random(len(frame)) < 0.05, "dense"] = 0.0
    frame.loc[rng.random(len(frame)) < 0.05, "dense"] = np.nan
    frame.loc[:9, "zeros"] = [
        K_ZERO,
        -K_ZERO,
        1e-40,
        -1e-40,
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        1e300,
        5e-36,
    ]
    return frame


@pytest.mark.parametrize("trees", [1, 7, 60])
def test_scores_equal_lightgbm_on_nans_zeros_and_unseen_categories(trees: int, cache: Path) -> None:
    booster = _booster(trees)
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    assert model.compiled
    frame = _scoring_frame(trees)
    expected = booster.predict(frame)
    np.testing.assert_allclose(model.predict(frame), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict(frame), expected)
    matrix = np.column_stack(model.columns(frame))
    np.testing.assert_array_equal(
        model.predict_raw(matrix), booster.predict(matrix, raw_score=True)
    )


@pytest.mark.parametrize("missing", [{"zero_as_missing": True}, {"use_missing": False}])
def test_missing_types_zero_and_none(missing: dict[str, bool], cache: Path) -> None:
    booster = _booster(20, seed=3, **missing)
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    frame = _scoring_frame(3)
    np.testing.assert_array_equal(model.predict(frame), booster.predict(frame))


def test_numeric_matrix_with_odd_category_codes(cache: Path) -> None:
    """Codes LightGBM truncates (2.7, -0.5), negatives and huge values take its branches."""
    booster = _booster(25, seed=5)
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    matrix = np.column_stack(model.columns(_scoring_frame(5)))
    odd = np.array([2.7, -0.5, -1.0, -7.0, 1e12, 6.99, 31.0, 32.0, 1e-300, np.nan])
    matrix[: len(odd) * 10, 4] = np.repeat(odd, 10)
    np.testing.assert_array_equal(
        model.predict_raw(matrix), booster.predict(matrix, raw_score=True)
    )


def test_parallel_batches_and_single_rows(cache: Path) -> None:
    booster = _booster(15, seed=7)
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    frame = pd.concat([_scoring_frame(7)] * 15, ignore_index=True)  # past the threading cut-off
    np.testing.assert_array_equal(model.predict(frame), booster.predict(frame))
    matrix = np.column_stack(model.columns(frame.iloc[:50]))
    singles = [model.predict_row(row) for row in matrix]
    np.testing.assert_array_equal(singles, booster.predict(matrix))
    record = {"dense": 0.2, "zeros": 0.0, "holes": None, "count": 1, "colour": "b", "region": "q"}
    row = model.encode_row(record)
    assert np.isnan(row[2]) and row[4] == 1.0 and np.isnan(row[5])
    assert model.predict_row(row) == booster.predict(row.reshape(1, -1))[0]


def test_best_iteration_and_classifier(cache: Path) -> None:
    frame = _frame(3000, 11)
    classifier = GradientBoostedClassifier(n_estimators=80, early_stopping_rounds=10, refit=False)
    classifier.fit(frame, _labels(frame, 11))
    model = CompiledModel.from_booster(
        classifier.booster_, num_iteration=classifier.best_iteration_, cache_dir=cache
    )
    scoring = _scoring_frame(11)
    # The booster's own probabilities (the classifier calibrates them afterwards).
    expected = classifier.booster_.predict(scoring, num_iteration=classifier.best_iteration_)
    np.testing.assert_array_equal(model.predict_proba(scoring)[:, 1], expected)
    # Columns are taken by name, so their order in the frame does not matter.
    shuffled = scoring[list(reversed(scoring.columns))]
    np.testing.assert_array_equal(model.predict(shuffled), expected)


def test_falls_back_to_lightgbm_without_a_compiler(
    cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    booster = _booster(5, seed=13)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with caplog.at_level(logging.WARNING, logger="lodestar.modeling.compiled_scoring"):
        model = CompiledModel.from_booster(booster, cache_dir=cache / "empty")
    assert not model.compiled
    assert "Scoring through LightGBM" in caplog.text
    frame = _scoring_frame(13)
    np.testing.assert_array_equal(model.predict(frame), booster.predict(frame))
    row = np.column_stack(model.columns(frame))[0]
    assert model.predict_row(row) == booster.predict(row.reshape(1, -1))[0]


def test_the_library_is_cached_by_model(cache: Path) -> None:
    booster = _booster(4, seed=17)
    CompiledModel.from_booster(booster, cache_dir=cache / "hash")
    CompiledModel.from_booster(booster, cache_dir=cache / "hash")
    assert len(list((cache / "hash").glob("*.so"))) == 1
    assert "tree_3" in generate_c(booster.dump_model(), 4)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    trees=st.integers(1, 6),
    leaves=st.integers(2, 8),
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, K_ZERO, -K_ZERO, 1e-36, 0.5, -1.0, 2.0, 3.0]),
        ),
        min_size=6,
        max_size=60,
    ),
)
def test_random_small_models_and_inputs(
    seed: int, trees: int, leaves: int, values: list[float], cache: Path
) -> None:
    rng = np.random.default_rng(seed)
    rows = 300
    frame = pd.DataFrame(
        {
            "a": np.where(rng.random(rows) < 0.2, np.nan, rng.integers(-2, 3, rows).astype(float)),
            "b": np.where(rng.random(rows) < 0.3, 0.0, rng.normal(size=rows)),
            "k": pd.Categorical(rng.integers(0, 5, rows)),
        }
    )
    y = (rng.random(rows) < 0.4).astype(int)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": leaves,
        "min_data_in_leaf": 3,
        "min_data_per_group": 3,
        "cat_smooth": 0.5,
        "num_threads": 1,
        "seed": seed,
        "zero_as_missing": bool(seed % 3 == 0),
    }
    booster = lgb.train(params, lgb.Dataset(frame, y), trees)
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    matrix = np.resize(np.asarray(values, dtype=np.float64), (len(values) // 3, 3))
    np.testing.assert_array_equal(
        model.predict_raw(matrix), booster.predict(matrix, raw_score=True)
    )


def test_classifier_refit_auto_by_row_count(cache: Path) -> None:
    frame = _frame(1000, 19)
    labels = _labels(frame, 19)
    small = GradientBoostedClassifier(n_estimators=30, early_stopping_rounds=5, refit="auto")
    assert small.fit(frame, labels).refitted_
    model = CompiledModel.from_booster(small.booster_, cache_dir=cache)
    np.testing.assert_array_equal(model.predict(frame), small.booster_.predict(frame))


def test_infinite_thresholds_from_the_dump(cache: Path) -> None:
    # dump_model writes the threshold inf as 1e300; a value past 1e300 must still go left.
    # (The model hypothesis found: seed 1, 2 trees of 3 leaves, in the test above.)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "a": np.where(rng.random(300) < 0.2, np.nan, rng.integers(-2, 3, 300).astype(float)),
            "b": np.where(rng.random(300) < 0.3, 0.0, rng.normal(size=300)),
            "k": pd.Categorical(rng.integers(0, 5, 300)),
        }
    )
    y = (rng.random(300) < 0.4).astype(int)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": 3,
        "min_data_in_leaf": 3,
        "min_data_per_group": 3,
        "cat_smooth": 0.5,
        "num_threads": 1,
        "seed": 1,
    }
    booster = lgb.train(params, lgb.Dataset(frame, y), 2)
    assert "inf" in booster.model_to_string()
    matrix = np.array([[1.0000000000000002e300, 0.0, 0.0], [np.inf, 0.0, 0.0]])
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    np.testing.assert_array_equal(
        model.predict_raw(matrix), booster.predict(matrix, raw_score=True)
    )
