"""Drift (PSI, CSI): small examples worked by hand and properties that must always hold."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.modeling.drift import (
    PSI_EMPTY_SHARE,
    csi,
    interval_labels,
    numeric_bin_ids,
    psi,
    psi_from_shares,
    psi_table,
    quantile_edges,
)

FAST = settings(max_examples=60, deadline=None)


def test_psi_by_hand() -> None:
    # Two bins split at the reference median 4.5; shares 50/50 become 80/20:
    # 0.3 * ln(0.8 / 0.5) + (-0.3) * ln(0.2 / 0.5) = 0.3 * ln 4.
    expected = np.arange(10)
    actual = np.array([0] * 8 + [9] * 2)
    table = psi_table(expected, actual, bins=2)
    assert table.labels == ("(-inf, 4.5]", "(4.5, inf]")
    assert table.expected_share.tolist() == [0.5, 0.5]
    assert table.actual_share.tolist() == [0.8, 0.2]
    assert table.value == pytest.approx(0.3 * math.log(4))
    assert psi(expected, actual, bins=2) == pytest.approx(0.3 * math.log(4))


def test_psi_quantile_bins_and_values_outside_the_reference_range() -> None:
    expected = np.arange(100, dtype=float)
    table = psi_table(expected, np.array([-1000.0, 1000.0]), bins=4)
    assert len(table.labels) == 4
    assert table.expected_share.tolist() == pytest.approx([0.25] * 4)
    assert table.actual_share.tolist() == pytest.approx(
        [0.5, PSI_EMPTY_SHARE, PSI_EMPTY_SHARE, 0.5]
    )


def test_psi_empty_bin_takes_the_epsilon_share() -> None:
    value = psi(["a", "a", "b", "b"], ["a", "a", "a", "a"])
    expected = 0.5 * math.log(2) + (PSI_EMPTY_SHARE - 0.5) * math.log(PSI_EMPTY_SHARE / 0.5)
    assert value == pytest.approx(expected)


def test_psi_missing_values_form_their_own_bin() -> None:
    table = psi_table([1.0, 2.0, 3.0, float("nan")], [1.0, 2.0, 3.0, 4.0], bins=2)
    assert table.labels[-1] == "missing"
    assert table.expected_share[-1] == 0.25
    assert table.actual_share[-1] == PSI_EMPTY_SHARE
    categorical = psi_table(np.array(["x", None, "y"], dtype=object), ["x", "y", "y"])
    assert categorical.labels == ("x", "y", "missing")


def test_psi_heavy_ties_merge_quantile_bins() -> None:
    table = psi_table([0] * 90 + list(range(1, 11)), [0] * 50 + [5] * 50, bins=10)
    assert table.labels[0] == "(-inf, 0]"
    assert table.expected_share[0] == pytest.approx(0.9)


def test_csi_per_feature_numeric_and_categorical() -> None:
    reference = {"age": np.arange(100), "channel": np.array(["app", "branch"] * 50)}
    current = {"age": np.arange(100), "channel": np.array(["app"] * 80 + ["branch"] * 20)}
    result = csi(reference, current)
    assert result["age"] == 0.0
    assert result["channel"] == pytest.approx(0.3 * math.log(0.8 / 0.2))
    with pytest.raises(ValueError, match="only in actual \\['income'\\]"):
        csi(reference, {**current, "income": np.ones(100)})


@FAST
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    st.integers(1, 10),
)
def test_psi_properties(expected: list[float], actual: list[float], bins: int) -> None:
    assert psi(expected, expected, bins=bins) == 0.0
    assert psi(expected, actual, bins=bins) >= 0.0


@FAST
@given(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=40),
    st.lists(st.sampled_from(["a", "b", "d"]), min_size=1, max_size=40),
)
def test_categorical_psi_properties(expected: list[str], actual: list[str]) -> None:
    assert psi(expected, expected) == 0.0
    assert psi(expected, actual) >= 0.0


def test_primitives_agree_with_psi_table() -> None:
    expected = np.arange(10, dtype=float)
    actual = np.array([0.0] * 8 + [9.0, np.nan])
    edges = quantile_edges(expected, 2)
    assert edges.tolist() == [4.5]
    assert numeric_bin_ids(actual, edges).tolist() == [0] * 8 + [1, 2]
    assert numeric_bin_ids([4.5], edges).tolist() == [0]  # an edge value goes to the lower bin
    shares_e = np.bincount(numeric_bin_ids(expected, edges), minlength=3) / 10
    shares_a = np.bincount(numeric_bin_ids(actual, edges), minlength=3) / 10
    table = psi_from_shares(interval_labels(edges), shares_e, shares_a)
    reference = psi_table(expected, actual, bins=2)
    assert table.labels == reference.labels
    assert table.value == reference.value
    assert table.rows()[0] == {
        "bin": "(-inf, 4.5]",
        "expected_share": 0.5,
        "actual_share": 0.8,
        "contribution": pytest.approx(0.3 * math.log(0.8 / 0.5)),
    }
    with pytest.raises(ValueError, match="differ in length"):
        psi_from_shares(["a"], [0.5, 0.5], [1.0])


def test_psi_of_a_million_rows_is_fast() -> None:
    score = np.linspace(0, 1, 1_000_000)
    started = time.perf_counter()
    psi(score, score[::-1] ** 2)
    assert time.perf_counter() - started < 2
