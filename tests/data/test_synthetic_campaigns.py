"""The synthetic campaigns' expected effects: the closed form of the uplift a policy knowing every
trait could expect, checked against Monte-Carlo draws of the generator's own sampling code."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from lodestar.data.synthetic.accounts import make_book
from lodestar.data.synthetic.calendar import Calendar
from lodestar.data.synthetic.campaigns import (
    SPECS,
    _latent,
    _treated,
    _type_probabilities,
    expected_effect,
)
from lodestar.data.synthetic.people import make_people

DRAWS = 40_000


def _monte_carlo(
    prob: np.ndarray, base: np.ndarray, variant: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error of p_control and of the uplift per customer, from ``DRAWS``
    draws of the type and the effect for each customer (the generator's sampling code)."""
    rng = np.random.default_rng(seed)
    n = len(base)
    rows = np.repeat(np.arange(n), DRAWS)
    kind, p0 = _latent(rng, prob[rows], base[rows])
    lift = (_treated(rng, kind, p0, variant) - p0).reshape(n, DRAWS)
    p0 = p0.reshape(n, DRAWS)
    se = np.sqrt(DRAWS)
    return p0.mean(axis=1), p0.std(axis=1) / se, lift.mean(axis=1), lift.std(axis=1) / se


def _check(prob: np.ndarray, base: np.ndarray, variant: int, seed: int) -> None:
    e0, e1, eu = expected_effect(prob, base, variant)
    m0, s0, mu, su = _monte_carlo(prob, base, variant, seed)
    np.testing.assert_array_less(np.abs(e0 - m0), 5 * s0 + 1e-6)
    np.testing.assert_array_less(np.abs(eu - mu), 5 * su + 1e-6)
    np.testing.assert_allclose(e1 - e0, eu, atol=1e-12)


@pytest.mark.parametrize("campaign", range(len(SPECS)))
def test_expected_uplift_matches_monte_carlo_for_real_customers(campaign: int) -> None:
    rng = np.random.default_rng(11)
    cal = Calendar(date(2026, 6, 30), 730)
    pop = make_people(rng, 1, 3_000, cal)
    book = make_book(rng, pop, cal)
    spec = SPECS[campaign]
    prob, base = _type_probabilities(spec, pop, book, np.arange(pop.n))
    # customers across the range of expected uplift: the most and least promising and between
    order = np.argsort(expected_effect(prob, base, 0)[2])
    pick = order[np.linspace(0, pop.n - 1, 7).astype(int)]
    for variant in range(len(spec.treatments)):
        _check(prob[pick], base[pick], variant, seed=campaign * 10 + variant)


@pytest.mark.parametrize("variant", [0, 1])
def test_expected_uplift_matches_monte_carlo_at_the_clips(variant: int) -> None:
    """Every branch of the closed form: a persuadable whose lift is cut at a probability of one
    (wholly and in part), do-not-disturbs whose loss is capped by a tiny rate, lost causes whose
    near-zero noise is cut at zero, and mixtures of the types."""
    one_hot = np.eye(4)
    prob = np.vstack([one_hot[[0, 0, 0, 3, 3, 2, 2, 1]],
                      [[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]]])  # fmt: skip
    base = np.array([0.97, 0.9, 0.3, 0.001, 0.06, 0.0005, 0.05, 0.02, 0.9, 0.002])
    _check(prob, base, variant, seed=100 + variant)
    # the clipped cases differ from the unclipped means, so the check above has teeth
    _, _, eu = expected_effect(prob, base, variant)
    if variant == 0:
        assert eu[0] == pytest.approx(0.03)  # 1 - 0.97 is below every draw of the lift
        assert eu[1] == pytest.approx((0.0042 + 0.006) / 0.12)  # E[min(U(.04, .16), .1)]
    else:  # the weaker variant: 0.6 x the lift, cut at one only for the first
        assert eu[0] == pytest.approx(0.6 * (0.00045 + 0.0055) / 0.12)
        assert eu[1] == pytest.approx(0.06)
    assert eu[2] == pytest.approx(0.10 * (1.0 if variant == 0 else 0.6))
    assert eu[3] == pytest.approx(-0.0004)  # the whole (tiny) rate is lost
    assert eu[4] == pytest.approx(-(0.000238 + 0.000624) / 0.04)  # E[min(U(.01, .05), .024)]
    assert 5e-4 < eu[5] < 1e-3  # noise cut at zero: a small positive mean
