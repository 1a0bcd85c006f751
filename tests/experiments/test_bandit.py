"""Thompson sampling: allocation probabilities against independent computations, the minimum
exploration share as a property, deterministic assignment, and the regret simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from lodestar.errors import ConfigError
from lodestar.experiments.bandit import Bandit, assign_round, probability_best, with_floor
from lodestar.experiments.bandit_simulation import simulate
from lodestar.experiments.statistics import MetricStats

P = MetricStats.of_proportion


def _miller(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """Evan Miller's closed form for P(pB > pA), integer Beta parameters."""
    return sum(math.exp(special.betaln(a_a + i, b_a + b_b) - math.log(b_b + i)
                        - special.betaln(1 + i, b_b) - special.betaln(a_a, b_a))
               for i in range(a_b))  # fmt: skip


@pytest.mark.parametrize(("a", "b"), [((1000, 40), (1000, 55)), ((300, 12), (250, 9)),
                                      ((0, 0), (20, 3)), ((5000, 260), (4000, 230))])  # fmt: skip
def test_two_beta_arms_match_the_closed_form(a: tuple[int, int], b: tuple[int, int]) -> None:
    exact = _miller(1 + a[1], 1 + a[0] - a[1], 1 + b[1], 1 + b[0] - b[1])
    got = probability_best({"A": P(*a), "B": P(*b)})
    assert got["B"] == pytest.approx(exact, abs=1e-6)
    assert got["A"] + got["B"] == pytest.approx(1.0)


def test_many_beta_arms_match_a_large_independent_monte_carlo() -> None:
    arms = {"A": (1000, 50), "B": (900, 52), "C": (1100, 60), "D": (400, 22), "E": (50, 2)}
    rng = np.random.default_rng(12345)
    big = np.column_stack([rng.beta(1 + s, 1 + n - s, 1_000_000) for n, s in arms.values()])
    reference = np.bincount(big.argmax(axis=1), minlength=len(arms)) / 1_000_000
    got = probability_best({k: P(*v) for k, v in arms.items()}, draws=50_000, seed=3)
    for name, ref in zip(arms, reference, strict=True):
        # 50k draws: standard error <= 0.0023; 4 standard errors
        assert abs(got[name] - ref) < 4 * math.sqrt(ref * (1 - ref) / 50_000) + 1e-3


def test_normal_arms_for_revenue_per_contact() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.gamma(2.0, 5.0, 800), rng.gamma(2.0, 5.4, 800)
    sa, sb = MetricStats.of_values(a), MetricStats.of_values(b)
    se = math.sqrt(a.var(ddof=1) / 800 + b.var(ddof=1) / 800)
    from scipy import stats

    exact = stats.norm.cdf((b.mean() - a.mean()) / se)
    assert probability_best({"A": sa, "B": sb}, kind="mean")["B"] == pytest.approx(exact, 1e-9)
    c = MetricStats.of_values(rng.gamma(2.0, 5.2, 800))
    three = probability_best({"A": sa, "B": sb, "C": c}, kind="mean", draws=200_000, seed=1)
    draws = np.column_stack([rng.normal(s.mean, math.sqrt(s.variance / s.n), 400_000)
                             for s in (sa, sb, c)])  # fmt: skip
    reference = np.bincount(draws.argmax(axis=1), minlength=3) / 400_000
    assert np.allclose(list(three.values()), reference, atol=0.01)
    # an arm with no observations borrows the pooled mean and variance: defined, not NaN
    fresh = probability_best({"A": sa, "B": sb, "new": MetricStats(0, 0.0, 0.0)}, kind="mean")
    assert all(0 <= v <= 1 for v in fresh.values()) and fresh["new"] > 0


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ConfigError, match="impossible"):
        probability_best({"A": P(10, 11), "B": P(10, 1)})
    with pytest.raises(ConfigError, match="minimum exploration share"):
        Bandit(floor=1.5)


probabilities = st.dictionaries(st.text("ABCDEFGH", min_size=1, max_size=2),
                                st.floats(0, 1, allow_nan=False), min_size=1, max_size=8)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(probabilities, st.floats(0, 1), st.data())
def test_shares_sum_to_one_and_respect_the_floor(p: dict[str, float], floor: float,
                                                 data: st.DataObject) -> None:  # fmt: skip
    active = data.draw(st.sets(st.sampled_from(sorted(p)), min_size=1))
    shares = with_floor(p, floor, active)
    assert set(shares) == set(p)
    assert math.fsum(shares.values()) == pytest.approx(1.0, abs=1e-9)
    effective = min(floor, 1 / len(active))  # the floor never exceeds 1 / active arms
    for name, share in shares.items():
        if name in active:
            assert share >= effective - 1e-12
        else:
            assert share == 0.0
    # above the floor the order of the probabilities is kept
    lifted = sorted((n for n in active if shares[n] > effective + 1e-9), key=p.__getitem__)
    assert [shares[n] for n in lifted] == sorted(shares[n] for n in lifted)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.floats(0, 0.3)), min_size=1, max_size=6),
       st.floats(0, 0.3), st.integers(0, 2**31))  # fmt: skip
def test_allocate_is_deterministic_for_a_seed(arms: list[tuple[int, float]], floor: float,
                                              seed: int) -> None:  # fmt: skip
    stats = {f"arm{i}": P(n, int(n * r)) for i, (n, r) in enumerate(arms)}
    bandit = Bandit(floor=floor, draws=500, seed=seed)
    first, again = bandit.allocate(stats), bandit.allocate(stats)
    assert first == again
    assert math.fsum(first.shares.values()) == pytest.approx(1.0)
    assert all(first.shares[n] >= min(floor, 1 / len(stats)) - 1e-12 for n in stats)
    assert set(first.reasons) == set(stats)


def test_inactive_arms_get_nothing_and_a_clear_winner_gets_the_most() -> None:
    stats = {"A": P(2000, 60), "B": P(2000, 140), "C": P(2000, 70), "D": P(10, 9)}
    allocation = Bandit(floor=0.1, seed=1).allocate(stats, active={"A", "B", "C"})
    assert allocation.shares["D"] == 0.0 and allocation.probabilities["D"] == 0.0
    assert allocation.shares["A"] == pytest.approx(0.1) and allocation.shares["C"] == \
        pytest.approx(0.1)  # fmt: skip
    assert allocation.shares["B"] == pytest.approx(0.8)
    en, zh = allocation.reasons["A"]
    assert "minimum exploration share 10.0%" in en and "最低探索流量" in zh


def test_assignment_follows_the_shares_and_is_stable_within_a_round() -> None:
    ids = [f"C{i:06d}" for i in range(40_000)]
    shares = {"A": 0.1, "B": 0.6, "C": 0.3, "D": 0.0}
    arms = assign_round(ids, "card-offer", shares, 3)
    assert (arms == assign_round(ids[::-1], "card-offer", shares, 3)[::-1]).all()
    for name, share in shares.items():
        assert abs((arms == name).mean() - share) < 4 * math.sqrt(share * (1 - share) / 40_000) \
            + 1e-9  # fmt: skip
    next_round = assign_round(ids, "card-offer", shares, 4)
    assert (arms != next_round).mean() > 0.3  # a fresh draw each round
    with pytest.raises(ConfigError, match="no arm"):
        assign_round(ids, "card-offer", {"A": 0.0}, 1)


def test_thompson_regret_is_well_below_the_equal_split_with_a_clear_winner() -> None:
    rates = [0.02, 0.025, 0.03, 0.05]
    for seed in range(3):
        thompson = simulate("thompson", rates, rounds=20, per_round=2000, seed=seed)
        equal = simulate("equal", rates, rounds=20, per_round=2000, seed=seed)
        assert thompson.regret < 0.5 * equal.regret  # measured ~0.26 of it
        assert thompson.best_share > 0.6 and thompson.final_best_share >= 0.8
