"""Experiment statistics pinned against independent computations: scipy on the raw rows, closed
forms, Monte Carlo, and the Hillstrom experiment's published group rates."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import special, stats

from lodestar.experiments.analysis import analyse, arm_statistics
from lodestar.experiments.power import (
    always_valid,
    minimum_detectable_effect,
    power_proportions,
    sample_size_proportions,
)
from lodestar.experiments.statistics import (
    MetricStats,
    benjamini_hochberg,
    compare,
    cuped,
    holm,
    sample_ratio_mismatch,
)

RNG = np.random.default_rng(7)


def test_welch_matches_scipy_on_the_raw_rows() -> None:
    a = RNG.lognormal(3.0, 1.0, 900)
    b = RNG.lognormal(3.1, 1.1, 1100)
    got = compare(MetricStats.of_values(a), MetricStats.of_values(b), kind="mean")
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert got.absolute_ci == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert got.absolute == pytest.approx(b.mean() - a.mean(), rel=1e-12)


def test_two_proportions_match_the_chi_square_test() -> None:
    control, treat = MetricStats.of_proportion(5000, 500), MetricStats.of_proportion(5000, 570)
    got = compare(control, treat, kind="proportion")
    table = [[570, 4430], [500, 4500]]
    _chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert got.p_value == pytest.approx(p, rel=1e-9)  # pooled z^2 == Pearson chi-square
    se = math.sqrt(0.114 * 0.886 / 5000 + 0.1 * 0.9 / 5000)
    assert got.absolute_ci == pytest.approx((0.014 - 1.959964 * se, 0.014 + 1.959964 * se),
                                            rel=1e-5)  # fmt: skip
    assert got.relative == pytest.approx(0.14)


def test_chance_to_beat_matches_the_closed_form_for_beta_posteriors() -> None:
    # Evan Miller's closed form for P(pB > pA) with integer Beta parameters
    a_a, b_a, a_b, b_b = 1 + 40, 1 + 960, 1 + 55, 1 + 945
    exact = sum(math.exp(special.betaln(a_a + i, b_a + b_b) - math.log(b_b + i)
                         - special.betaln(1 + i, b_b) - special.betaln(a_a, b_a))
                for i in range(a_b))  # fmt: skip
    got = compare(MetricStats.of_proportion(1000, 40), MetricStats.of_proportion(1000, 55),
                  kind="proportion")  # fmt: skip
    assert got.chance_to_beat == pytest.approx(exact, abs=1e-6)
    # expected loss by Monte Carlo (200k draws): within 3 standard errors
    draws_a = RNG.beta(a_a, b_a, 200_000)
    draws_b = RNG.beta(a_b, b_b, 200_000)
    loss = np.maximum(draws_a - draws_b, 0)
    assert abs(got.expected_loss - loss.mean()) < 3 * loss.std() / math.sqrt(len(loss))


def test_normal_chance_and_loss_for_means() -> None:
    a, b = RNG.normal(10, 3, 400), RNG.normal(10.4, 3, 400)
    got = compare(MetricStats.of_values(a), MetricStats.of_values(b), kind="mean")
    se = math.sqrt(a.var(ddof=1) / 400 + b.var(ddof=1) / 400)
    d = b.mean() - a.mean()
    assert got.chance_to_beat == pytest.approx(stats.norm.cdf(d / se), rel=1e-9)
    draws = RNG.normal(d, se, 400_000)
    assert got.expected_loss == pytest.approx(np.maximum(-draws, 0).mean(), abs=2e-3)


def test_cuped_equals_welch_on_adjusted_rows_and_shrinks_the_interval() -> None:
    x0, x1 = RNG.normal(100, 20, 3000), RNG.normal(100, 20, 3000)
    y0 = 0.8 * x0 + RNG.normal(0, 8, 3000)
    y1 = 0.8 * x1 + 1.0 + RNG.normal(0, 8, 3000)
    got = cuped(MetricStats.of_values(y0, x0), MetricStats.of_values(y1, x1))
    x, y = np.concatenate([x0, x1]), np.concatenate([y0, y1])
    theta = np.cov(x, y, ddof=1)[0, 1] / x.var(ddof=1)
    adj0, adj1 = y0 - theta * (x0 - x.mean()), y1 - theta * (x1 - x.mean())
    ref = stats.ttest_ind(adj1, adj0, equal_var=False)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert got.absolute == pytest.approx(adj1.mean() - adj0.mean(), rel=1e-9)
    plain = compare(MetricStats.of_values(y0), MetricStats.of_values(y1))
    width = got.absolute_ci[1] - got.absolute_ci[0]
    assert width < 0.6 * (plain.absolute_ci[1] - plain.absolute_ci[0])


def test_srm_and_corrections() -> None:
    assert sample_ratio_mismatch([5000, 5100], [1, 1]) == pytest.approx(
        stats.chisquare([5000, 5100]).pvalue)  # fmt: skip
    assert sample_ratio_mismatch([10_000, 10_600], [1, 1]) < 0.001
    assert sample_ratio_mismatch([8000, 2000], [0.8, 0.2]) == pytest.approx(1.0)
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, 0.06 (monotone)
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: sorted 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 -> 0.02, 0.02, 0.04, 0.04
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_sample_size_power_and_mde_agree() -> None:
    n = sample_size_proportions(0.10, 0.02)
    # the textbook formula by hand: (1.95996 sqrt(2 * .11 * .89) + .84162 sqrt(.09 + .1056))^2 / .0004
    by_hand = (1.959964 * math.sqrt(2 * 0.11 * 0.89)
               + 0.841621 * math.sqrt(0.1 * 0.9 + 0.12 * 0.88)) ** 2 / 0.02**2  # fmt: skip
    assert n == math.ceil(by_hand) == 3841
    assert power_proportions(0.10, 0.02, n) == pytest.approx(0.8, abs=0.001)
    assert minimum_detectable_effect(0.10, n) == pytest.approx(0.02, abs=1e-4)
    # Monte Carlo: the z-test at that size rejects about 80% of the time
    rejections = 0
    for _ in range(400):
        a, b = RNG.binomial(n, 0.10), RNG.binomial(n, 0.12)
        got = compare(MetricStats.of_proportion(n, int(a)), MetricStats.of_proportion(n, int(b)),
                      kind="proportion")  # fmt: skip
        rejections += got.p_value < 0.05
    assert 0.73 < rejections / 400 < 0.87


def test_always_valid_p_values_hold_alpha_under_peeking() -> None:
    alpha, looks, runs = 0.05, 40, 300
    naive_hits = valid_hits = 0
    for _ in range(runs):
        a, b = RNG.normal(0, 1, looks * 50), RNG.normal(0, 1, looks * 50)  # no effect
        seq = []
        naive = False
        for k in range(1, looks + 1):
            n = k * 50
            d = b[:n].mean() - a[:n].mean()
            v = (a[:n].var(ddof=1) + b[:n].var(ddof=1)) / n
            seq.append((d, v))
            naive |= 2 * stats.norm.sf(abs(d) / math.sqrt(v)) < alpha
        naive_hits += naive
        valid_hits += always_valid(seq, alpha=alpha).p_value < alpha
    assert naive_hits / runs > 0.15  # peeking at a fixed-horizon test inflates the error
    assert valid_hits / runs <= alpha + 0.025  # the always-valid test does not
    # a 5-standard-error effect: by hand, 1 / (sqrt(1/2) * exp(6.25)) = 0.00273
    result = always_valid([(0.5, 0.01)] * 3, tau2=0.01)
    assert result.p_value == pytest.approx(1 / (math.sqrt(0.5) * math.exp(6.25)))
    assert result.ci[0] > 0


HILLSTROM = Path(__file__).resolve().parents[3] / "shared" / "data" / "hillstrom-email" / "hillstrom.csv"


@pytest.mark.skipif(not HILLSTROM.is_file(), reason="../shared/data/hillstrom-email is absent")
def test_hillstrom_reproduces_the_published_rates() -> None:
    with duckdb.connect() as con:
        sums = arm_statistics(con, HILLSTROM, "segment", ["visit", "conversion", "spend"],
                              covariate="history")  # fmt: skip
    result = analyse(sums, "No E-Mail", covariate=True)
    assert result.counts == {"No E-Mail": 21306, "Mens E-Mail": 21307, "Womens E-Mail": 21387}
    assert not result.srm  # a clean 1/3 split
    rows = {(r.arm, r.metric): r for r in result.results}
    # SOURCE.md's group statistics
    assert rows[("Mens E-Mail", "visit")].mean == pytest.approx(0.1828, abs=5e-5)
    assert rows[("Womens E-Mail", "conversion")].mean == pytest.approx(0.0088, abs=5e-5)
    assert rows[("No E-Mail", "spend")].mean == pytest.approx(0.6528, abs=5e-5)
    mens_visit = rows[("Mens E-Mail", "visit")].comparison
    assert mens_visit is not None and mens_visit.kind == "proportion"
    assert mens_visit.absolute == pytest.approx(0.0766, abs=1e-4)
    assert 0.069 < mens_visit.absolute_ci[0] < 0.0766 < mens_visit.absolute_ci[1] < 0.084
    assert mens_visit.chance_to_beat > 0.999
    womens_spend = rows[("Womens E-Mail", "spend")].comparison
    assert womens_spend is not None and womens_spend.kind == "mean"
    assert womens_spend.absolute == pytest.approx(0.42, abs=0.005)
    assert all(r.p_holm is not None for r in result.results if r.comparison is not None)


@pytest.mark.skipif(not HILLSTROM.is_file(), reason="../shared/data/hillstrom-email is absent")
def test_the_experiment_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    import lodestar.cli.experiment_commands  # noqa: F401  (registers the commands)
    from lodestar.cli.main import app, state

    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    state.lang = None
    runner = CliRunner()
    page = tmp_path / "hillstrom.html"
    done = runner.invoke(app, ["experiment", "analyze", str(HILLSTROM), "--arm", "segment",
                               "--control", "No E-Mail", "--metric", "visit", "--metric", "spend",
                               "--covariate", "history", "--report", str(page), "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    html = page.read_text("utf-8")
    assert "实验分析" in html and "CUPED" in html and html.count("Scattergl") + html.count(
        '"type":"scatter"') >= 2  # fmt: skip
    body = json.loads(done.output)
    assert body["counts"]["Mens E-Mail"] == 21307 and body["srm"] is False
    bad = runner.invoke(app, ["--lang", "en", "experiment", "analyze", str(HILLSTROM), "--arm",
                              "segment", "--control", "Nobody", "--metric", "visit"])  # fmt: skip
    assert bad.exit_code == 1 and "no arm 'Nobody'" in bad.output
    state.lang = None
    sized = runner.invoke(app, ["--lang", "en", "experiment", "size", "--baseline", "0.1",
                                "--lift", "0.02"])  # fmt: skip
    assert sized.exit_code == 0 and "3,841 customers per arm" in sized.output
