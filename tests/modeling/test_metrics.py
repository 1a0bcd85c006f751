"""Model-evaluation metrics against independent references: scikit-learn computed here,
scikit-uplift 0.5.1 numbers pinned as literals (it is not a dependency), plain-Python loops, and
small examples worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from lodestar.modeling.metrics import (
    auuc,
    brier,
    calibration_curve,
    capture_at,
    gains_table,
    gini,
    ks,
    lift_at,
    qini_coefficient,
    qini_curve,
    roc_auc,
    uplift_at,
    uplift_by_decile,
    uplift_curve,
)

FAST = settings(max_examples=60, deadline=None)


def lcg_uniform(n: int, seed: int) -> np.ndarray:
    # Numerical Recipes LCG on plain integers: the same numbers on every platform and numpy
    # version, so the pinned scikit-uplift values below stay valid.
    state, out = seed, []
    for _ in range(n):
        state = (1664525 * state + 1013904223) % 2**32
        out.append(state / 2**32)
    return np.array(out)


def campaign(n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A randomised campaign where the contact helps more the higher the score; scores are
    rounded to one decimal so ties are common."""
    u1, u2, u3 = lcg_uniform(n, 1), lcg_uniform(n, 2), lcg_uniform(n, 3)
    score = np.round(u1, 1)
    treatment = (u2 < 0.5).astype(int)
    y = (u3 < 0.1 + 0.3 * treatment * score).astype(int)
    revenue = y * np.round(50 + 100 * u2, 2)
    return y, treatment, score, revenue


def classification(n: int = 500, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    u1, u2 = lcg_uniform(n, seed), lcg_uniform(n, seed + 100)
    score = np.round(u1, 2)  # ties on purpose
    y = (u2 < 0.05 + 0.5 * score).astype(int)
    return y, score


# ------------------------------------------------------------------------------ ranking


def test_auc_and_gini_match_sklearn_with_ties() -> None:
    y, score = classification()
    assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert gini(y, score) == pytest.approx(2 * roc_auc_score(y, score) - 1, abs=1e-12)


def test_auc_counts_a_tie_as_one_half() -> None:
    # Pairs (pos, neg): (0.5, 0.5) tie = 1/2, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1.
    assert roc_auc([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.2]) == pytest.approx(3.5 / 4)


def test_ks_matches_sklearn_roc_curve() -> None:
    y, score = classification()
    fpr, tpr, thresholds = roc_curve(y, score, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    result = ks(y, score)
    assert result.statistic == pytest.approx(tpr[best] - fpr[best], abs=1e-12)
    assert result.threshold == thresholds[best]
    assert result.positive_share_above == pytest.approx(tpr[best])
    assert result.negative_share_above == pytest.approx(fpr[best])


def test_ks_is_a_distance_for_a_reversed_score() -> None:
    y, score = classification()
    assert ks(y, -score).statistic == pytest.approx(ks(y, score).statistic)


def test_ks_by_hand() -> None:
    # score >= 0.7 holds 2 of 3 positives and 0 of 3 negatives: distance 2/3, the largest;
    # score >= 0.5 ties it (3/3 - 1/3) and the higher threshold is reported.
    result = ks([1, 1, 0, 1, 0, 0], [0.9, 0.7, 0.6, 0.5, 0.3, 0.1])
    assert result.statistic == pytest.approx(2 / 3)
    assert result.threshold == 0.7


def test_gains_table_by_hand() -> None:
    # Ten rows, five bins of two; positives at the two highest scores and at the fifth.
    y = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    score = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    table = gains_table(y, score, bins=5)
    assert table.customers.tolist() == [2, 2, 2, 2, 2]
    assert table.positives.tolist() == [2, 0, 1, 0, 0]
    assert table.response_rate.tolist() == [1.0, 0.0, 0.5, 0.0, 0.0]
    assert table.cumulative_capture.tolist() == pytest.approx([2 / 3, 2 / 3, 1, 1, 1])
    # Overall rate 0.3: lift 1 / 0.3, cumulative lift of the top 60% = (3 / 6) / 0.3.
    assert table.lift.tolist() == pytest.approx([1 / 0.3, 0, 0.5 / 0.3, 0, 0])
    assert table.cumulative_lift[2] == pytest.approx(0.5 / 0.3)
    assert table.max_score.tolist() == [10, 8, 6, 4, 2]
    assert table.min_score.tolist() == [9, 7, 5, 3, 1]
    assert table.rows()[0]["bin"] == 1
    assert table.rows()[0]["lift"] == pytest.approx(1 / 0.3)


def test_gains_table_bins_by_rank_larger_first_and_breaks_ties_by_index() -> None:
    # All scores equal: rank order is the reverse input order, so the last rows form bin 1.
    y = [1, 0, 0, 0, 0, 0, 0, 1]
    table = gains_table(y, [0.5] * 8, bins=3)
    assert table.customers.tolist() == [3, 3, 2]
    assert table.positives.tolist() == [1, 0, 1]
    assert lift_at(y, [0.5] * 8, fraction=0.125) == pytest.approx(1 / 0.25)


def test_lift_and_capture_at() -> None:
    y, score = classification()
    top = np.argsort(score, kind="mergesort")[::-1][: int(len(y) * 0.2)]
    assert capture_at(y, score, 0.2) == pytest.approx(y[top].sum() / y.sum())
    assert lift_at(y, score, 0.2) == pytest.approx(y[top].mean() / y.mean())
    with pytest.raises(ValueError, match="selects no row"):
        lift_at(y, score, 0.001)
    with pytest.raises(ValueError, match="fraction"):
        capture_at(y, score, 1.5)


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(-50, 50)), min_size=2, max_size=60).filter(
        lambda rows: len({label for label, _ in rows}) == 2
    )
)
def test_auc_properties(rows: list[tuple[int, int]]) -> None:
    y = np.array([label for label, _ in rows])
    score = np.array([s for _, s in rows], dtype=float)
    auc = roc_auc(y, score)
    assert 0 <= auc <= 1
    assert roc_auc(y, np.exp(score / 7)) == pytest.approx(auc, abs=1e-12)
    assert roc_auc(y, score**3 + 5 * score) == pytest.approx(auc, abs=1e-12)
    assert roc_auc(y, -score) == pytest.approx(1 - auc, abs=1e-12)


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 9)), min_size=5, max_size=60).filter(
        lambda rows: len({label for label, _ in rows}) == 2
    ),
    st.integers(1, 5),
)
def test_gains_capture_reaches_one(rows: list[tuple[int, int]], bins: int) -> None:
    y = np.array([label for label, _ in rows])
    table = gains_table(y, np.array([s for _, s in rows]), bins=bins)
    assert table.cumulative_capture[-1] == pytest.approx(1.0)
    assert np.all(np.diff(table.cumulative_capture) >= 0)
    assert table.customers.sum() == len(rows)
    assert table.cumulative_lift[-1] == pytest.approx(1.0)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="only 0 and 1"):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="NaN"):
        gini([0, float("nan")], [0.1, 0.2])
    with pytest.raises(ValueError, match="no positives"):
        ks([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="empty"):
        roc_auc([], [])
    with pytest.raises(ValueError, match="one-dimensional"):
        roc_auc([[0, 1]], [[0.1, 0.2]])
    with pytest.raises(ValueError, match="numeric"):
        roc_auc([0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="bins"):
        gains_table([0, 1], [0.1, 0.2], bins=3)


def test_a_million_rows_is_fast() -> None:
    import time

    n = 1_000_000
    score = np.linspace(0, 1, n)
    y = (np.sin(np.arange(n)) > 0.6 - score).astype(np.int8)
    treatment = (np.cos(np.arange(n)) > 0).astype(np.int8)
    started = time.perf_counter()
    roc_auc(y, score)
    ks(y, score)
    gains_table(y, score)
    qini_coefficient(y, treatment, score)
    assert time.perf_counter() - started < 5  # typically well under one second


# ------------------------------------------------------------------------------ calibration


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_curve_matches_sklearn(strategy: str) -> None:
    y, score = classification()
    prob = np.clip(score * 0.9 + 0.05, 0, 1)
    observed, predicted = sk_calibration_curve(y, prob, n_bins=8, strategy=strategy)
    curve = calibration_curve(y, prob, bins=8, strategy=strategy)  # type: ignore[arg-type]
    assert curve.observed_rate == pytest.approx(observed)
    assert curve.mean_predicted == pytest.approx(predicted)
    assert curve.count.sum() == len(y)


def test_calibration_curve_drops_empty_bins_and_checks_range() -> None:
    # 0.9 sits on the edge between the last two bins and goes to the lower one.
    curve = calibration_curve([0, 1, 1, 0], [0.05, 0.95, 0.92, 0.9], bins=10)
    assert curve.count.tolist() == [1, 1, 2]
    assert curve.mean_predicted.tolist() == pytest.approx([0.05, 0.9, 0.935])
    assert curve.observed_rate.tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        calibration_curve([0, 1], [0.2, 1.2])
    with pytest.raises(ValueError, match="strategy"):
        calibration_curve([0, 1], [0.2, 0.3], strategy="kmeans")  # type: ignore[arg-type]


def test_brier_matches_sklearn() -> None:
    y, score = classification()
    assert brier(y, score) == pytest.approx(brier_score_loss(y, score), abs=1e-12)
    assert brier([1, 0], [0.75, 0.5]) == pytest.approx((0.0625 + 0.25) / 2)


# ------------------------------------------------------------------------------ uplift


def test_qini_by_hand() -> None:
    # Six rows, distinct scores, top first.
    #   row  t  y   N_t Y_t N_c Y_c   qini = Y_t - Y_c * N_t / N_c (0 while N_c = 0)
    #   1    1  1   1   1   0   0     1
    #   2    0  0   1   1   1   0     1
    #   3    1  1   2   2   1   0     2
    #   4    0  1   2   2   2   1     2 - 1 * 2/2 = 1
    #   5    1  0   3   2   2   1     2 - 1 * 3/2 = 0.5
    #   6    0  0   3   2   3   1     2 - 1 * 3/3 = 1
    # Area (trapezoids) = 0.5 + 1 + 1.5 + 1.5 + 0.75 + 0.75 = 6; random line to (6, 1): 3.
    # Perfect ranking by y*t - y*(1-t) = [1, 0, 1, -1, 0, 0]: two treated responders, then the
    # three zeros, then the control responder: points (0,0) (2,2) (5,2) (6,1), area 2+6+1.5 =
    # 9.5. Qini coefficient = (6 - 3) / (9.5 - 3) = 6/13.
    y, t, score = [1, 0, 1, 1, 0, 0], [1, 0, 1, 0, 1, 0], [6, 5, 4, 3, 2, 1]
    curve = qini_curve(y, t, score)
    assert curve.n_targeted.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert curve.value.tolist() == pytest.approx([0, 1, 1, 2, 1, 0.5, 1])
    assert qini_coefficient(y, t, score) == pytest.approx(6 / 13)
    assert auuc(y, t, score) == pytest.approx(0.46)  # scikit-uplift uplift_auc_score


# scikit-uplift 0.5.1 on a 20-row example with ties (computed with qini_curve, uplift_curve,
# qini_auc_score, uplift_auc_score, uplift_at_k(strategy="overall"), uplift_by_percentile).
SMALL_Y = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0]
SMALL_T = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0]
SMALL_S = [.9, .8, .8, .7, .6, .6, .6, .5, .4, .3, .3, .2, .1, .1, .05, 0, 0, -.1, -.2, -.3]  # fmt: skip
SMALL_X = [0, 1, 3, 4, 7, 8, 9, 11, 12, 14, 15, 17, 18, 19, 20]
SMALL_QINI = [0.0, 1.0, -1.0, -1.0, 0.5, 1.3333333333333333, 0.5, 0.6000000000000001,
              1.2000000000000002, 1.3333333333333335, 0.5714285714285716, 0.625, 0.0,
              -0.44444444444444464, 0.0]  # fmt: skip
SMALL_UPLIFT = [0.0, 1.0, -1.5, -1.3333333333333335, 0.6999999999999998, 2.1333333333333333,
                0.8999999999999998, 1.0999999999999996, 2.0571428571428565, 2.3333333333333335,
                1.0714285714285718, 1.1805555555555551, 0.0, -0.8444444444444436, 0.0]  # fmt: skip


def test_small_example_matches_scikit_uplift() -> None:
    qini = qini_curve(SMALL_Y, SMALL_T, SMALL_S)
    assert qini.n_targeted.tolist() == SMALL_X
    assert qini.value.tolist() == pytest.approx(SMALL_QINI, abs=1e-12)
    uplift = uplift_curve(SMALL_Y, SMALL_T, SMALL_S)
    assert uplift.n_targeted.tolist() == SMALL_X
    assert uplift.value.tolist() == pytest.approx(SMALL_UPLIFT, abs=1e-12)
    assert qini_coefficient(SMALL_Y, SMALL_T, SMALL_S) == pytest.approx(0.11146143353174603)
    assert auuc(SMALL_Y, SMALL_T, SMALL_S) == pytest.approx(0.10924922052154194)
    assert uplift_at(SMALL_Y, SMALL_T, SMALL_S, 0.3) == pytest.approx(-0.4)
    assert uplift_at(SMALL_Y, SMALL_T, SMALL_S, 0.25) == pytest.approx(-0.25)
    by_bin = uplift_by_decile(SMALL_Y, SMALL_T, SMALL_S, bins=4)
    assert by_bin.n_treatment.tolist() == [4, 1, 3, 2]
    assert by_bin.n_control.tolist() == [1, 4, 2, 3]
    assert by_bin.treatment_mean.tolist() == pytest.approx([0.75, 0, 1 / 3, 0])
    assert by_bin.control_mean.tolist() == pytest.approx([1, 0.25, 0.5, 1 / 3])
    assert by_bin.uplift.tolist() == pytest.approx([-0.25, -0.25, -1 / 6, -1 / 3])


def test_campaign_matches_scikit_uplift() -> None:
    # scikit-uplift 0.5.1 on campaign() (400 rows, 11 distinct scores).
    y, t, score, _ = campaign()
    assert qini_coefficient(y, t, score) == pytest.approx(0.20562253101567685, abs=1e-12)
    assert auuc(y, t, score) == pytest.approx(0.11861171276165604, abs=1e-12)
    assert uplift_at(y, t, score, 0.3) == pytest.approx(0.34857142857142853, abs=1e-12)
    assert uplift_at(y, t, score, 0.1) == pytest.approx(0.46153846153846156, abs=1e-12)
    by_bin = uplift_by_decile(y, t, score)
    assert by_bin.n_treatment.tolist() == [14, 19, 17, 14, 15, 26, 21, 20, 18, 13]
    assert by_bin.n_control.tolist() == [26, 21, 23, 26, 25, 14, 19, 20, 22, 27]
    assert by_bin.uplift.tolist() == pytest.approx(
        [0.46153846153846156, 0.43107769423558895, 0.1483375959079284, -0.07692307692307693,
         0.30666666666666664, -0.06043956043956042, 0.09523809523809523, 0.0,
         0.1111111111111111, 0.07977207977207978],
        abs=1e-12,
    )  # fmt: skip


def reference_curves(
    y: np.ndarray, t: np.ndarray, score: np.ndarray
) -> tuple[list[int], list[float], list[float]]:
    """Qini and uplift curves by a plain loop over thresholds: everyone scoring >= s."""
    xs, qini, uplift = [0], [0.0], [0.0]
    for s in sorted(set(score.tolist()), reverse=True):
        top = [i for i in range(len(y)) if score[i] >= s]
        treated = [y[i] for i in top if t[i] == 1]
        control = [y[i] for i in top if t[i] == 0]
        y_t, y_c = sum(treated), sum(control)
        ratio = len(treated) / len(control) if control else 0.0
        mean_t = y_t / len(treated) if treated else 0.0
        mean_c = y_c / len(control) if control else 0.0
        xs.append(len(top))
        qini.append(y_t - y_c * ratio)
        uplift.append((mean_t - mean_c) * len(top))
    return xs, qini, uplift


def test_revenue_curves_match_a_plain_loop() -> None:
    _, t, score, revenue = campaign(120)
    xs, qini, uplift = reference_curves(revenue, t, score)
    assert qini_curve(revenue, t, score).n_targeted.tolist() == xs
    assert qini_curve(revenue, t, score).value.tolist() == pytest.approx(qini)
    assert uplift_curve(revenue, t, score).value.tolist() == pytest.approx(uplift)
    top = np.argsort(score, kind="mergesort")[::-1][:36]
    expected = revenue[top][t[top] == 1].mean() - revenue[top][t[top] == 0].mean()
    assert uplift_at(revenue, t, score, 0.3) == pytest.approx(expected)
    assert -1 <= qini_coefficient(revenue, t, score) <= 1


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 6)), min_size=2,
             max_size=40).filter(lambda rows: len({t for _, t, _ in rows}) == 2)
)  # fmt: skip
def test_curves_match_a_plain_loop(rows: list[tuple[int, int, int]]) -> None:
    y, t, score = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    xs, qini, uplift = reference_curves(y, t, score)
    assert qini_curve(y, t, score).n_targeted.tolist() == xs
    assert qini_curve(y, t, score).value.tolist() == pytest.approx(qini)
    assert uplift_curve(y, t, score).value.tolist() == pytest.approx(uplift)


def test_perfect_and_random_rankings() -> None:
    y, t, _, _ = campaign()
    assert qini_coefficient(y, t, y * t - y * (1 - t)) == pytest.approx(1.0)
    assert qini_coefficient(y, t, np.zeros(len(y))) == pytest.approx(0.0, abs=1e-12)


def test_uplift_validation() -> None:
    with pytest.raises(ValueError, match="treatment has no"):
        qini_curve([0, 1], [1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="treatment must hold only 0 and 1"):
        qini_curve([0, 1], [0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="y must hold only 0 and 1"):
        auuc([0, 2.5], [0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="no control row"):
        uplift_at([0, 1, 0, 1], [1, 1, 0, 0], [4, 3, 2, 1], 0.5)
    with pytest.raises(ValueError, match="differ in length"):
        uplift_curve([0, 1], [0, 1], [0.1, 0.2, 0.3])


def test_uplift_by_decile_marks_an_absent_group_as_nan() -> None:
    by_bin = uplift_by_decile([1, 0, 1, 0], [1, 1, 0, 0], [4, 3, 2, 1], bins=2)
    assert by_bin.treatment_mean[0] == 0.5
    assert math.isnan(by_bin.control_mean[0])
    assert math.isnan(by_bin.uplift[0])
