"""Deterministic assignment: stable, independent across keys, shares as weighted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.errors import ConfigError
from lodestar.experiments.assignment import CONTROL, Arm, assign, draws

IDS = [f"C{i:07d}" for i in range(20_000)]


def test_the_same_customer_gets_the_same_arm_every_time() -> None:
    arms = (Arm("A", 1), Arm("B", 1))
    first = assign(IDS, "exp-1", arms=arms, holdout=0.1)
    again = assign(list(reversed(IDS)), "exp-1", arms=arms, holdout=0.1)[::-1]
    assert (first == again).all()  # the order of the list does not matter


def test_draws_are_uniform_and_keys_independent() -> None:
    a, b = draws(IDS, "exp-1"), draws(IDS, "exp-2")
    assert a.min() >= 0 and a.max() < 1
    # uniform: each decile holds 10% +- 4 standard errors
    counts = np.histogram(a, bins=10, range=(0, 1))[0]
    assert np.abs(counts - 2000).max() < 4 * np.sqrt(2000 * 0.9)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    assert not np.array_equal(draws(IDS, "exp-1", salt="s"), a)


def test_holdout_and_weights() -> None:
    out = assign(IDS, "k", arms=(Arm("A", 3), Arm("B", 1)), holdout=0.2)
    share = {name: float(np.mean(out == name)) for name in (CONTROL, "A", "B")}
    # 4 standard errors of a proportion on 20,000 draws is about 0.012
    assert share[CONTROL] == pytest.approx(0.2, abs=0.012)
    assert share["A"] == pytest.approx(0.6, abs=0.014)
    assert share["B"] == pytest.approx(0.2, abs=0.012)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=6),
    holdout=st.sampled_from([0.0, 0.1, 0.25]),
    weights=st.lists(st.integers(1, 4), min_size=1, max_size=3),
)
def test_stratified_splits_are_within_one_of_the_quota(sizes: list[int], holdout: float,
                                                       weights: list[int]) -> None:  # fmt: skip
    ids = [f"C{i}" for i in range(sum(sizes))]
    strata = np.repeat(np.arange(len(sizes)), sizes)
    arms = tuple(Arm(f"A{i}", w) for i, w in enumerate(weights))
    out = assign(ids, "strat", arms=arms, holdout=holdout, strata=strata)
    shares = np.array([holdout] + [(1 - holdout) * w / sum(weights) for w in weights])
    for s, size in enumerate(sizes):
        got = out[strata == s]
        for name, share in zip([CONTROL, *[a.name for a in arms]], shares, strict=True):
            assert abs(int(np.sum(got == name)) - share * size) < 1 + 1e-9


def test_bad_arms_are_refused() -> None:
    with pytest.raises(ConfigError, match="reserved"):
        Arm(CONTROL)
    with pytest.raises(ConfigError, match="weight must be > 0"):
        Arm("A", 0)
    with pytest.raises(ConfigError, match="repeat"):
        assign(IDS[:3], "k", arms=(Arm("A"), Arm("A")))
    with pytest.raises(ConfigError, match="holdout"):
        assign(IDS[:3], "k", holdout=1.0)
