"""The campaign effect on a hand-built plan + events fixture (effect_fixture.py), every figure
worked out by hand here or in closed form with scipy; interval coverage on simulated campaigns;
the money when nothing was gained; goal verdicts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from effect_fixture import TERMS, connection, write_plan, write_sends
from scipy import stats

from lodestar.campaigns.definition import Goal
from lodestar.campaigns.effect_data import exposure_sql
from lodestar.experiments.campaign_effect import (
    METRICS,
    NOT_MEASURABLE,
    Cell,
    cell_statistics,
    daily_conversions,
    incremental,
    measure,
)
from lodestar.experiments.goal_tracking import track, verdict
from lodestar.experiments.statistics import MetricStats

Z = stats.norm.ppf(0.975)


@pytest.fixture
def effect(tmp_path: Path):  # type: ignore[no-untyped-def]
    con = connection(tmp_path)
    sql = exposure_sql(write_plan(tmp_path), TERMS, window_days=30, event="apply_done",
                       target_events=["register", "register"], sends=write_sends(tmp_path),
                       segment="plan")  # fmt: skip

    def run(q: str) -> list[tuple[object, ...]]:
        return con.execute(q).fetchall()

    cells = cell_statistics(run, sql, [*METRICS, "target_0", "target_1"])
    return measure(cells, daily_conversions(run, sql))


def test_who_converted_inside_the_window(effect) -> None:  # type: ignore[no-untyped-def]
    # treated: T1, T2, T3, T4 (once, though twice), T9 (never sent: intention to treat) = 5/10;
    # not T5 (day 31), not T6 (before its send). Holdout: C1, C2 (day 29) = 2/10; not C3
    # (before the planned send), not C4 (exactly 30 days: the window is half-open)
    o = effect.overall
    assert (o.treated, o.control, o.sent) == (10, 10, 8)
    assert o.conversions.treated_mean == 0.5 and o.conversions.control_mean == 0.2
    assert o.responses == 3 and o.response_rate == pytest.approx(3 / 8)  # T1..T3 of 8 sent


def test_incremental_conversions_pinned(effect) -> None:  # type: ignore[no-untyped-def]
    c = effect.overall.conversions
    se = math.sqrt(0.5 * 0.5 / 10 + 0.2 * 0.8 / 10)  # unpooled: sqrt(0.041) = 0.20248
    assert c.incremental == pytest.approx(10 * 0.3)
    assert c.incremental_ci == pytest.approx((10 * (0.3 - Z * se), 10 * (0.3 + Z * se)))
    assert c.incremental_ci[0] == pytest.approx(-0.96862, abs=1e-4)
    pooled = 0.35  # (5 + 2) / 20
    z = 0.3 / math.sqrt(pooled * (1 - pooled) * (2 / 10))
    assert c.p_value == pytest.approx(2 * stats.norm.sf(z))


def test_incremental_value_profit_and_roi_pinned(effect) -> None:  # type: ignore[no-untyped-def]
    # value per customer: treated five 300s and five 0s (mean 150, variance 25,000), holdout
    # two 300s and eight 0s (mean 60, variance 16,000); Welch with scipy's t
    v = effect.overall.value
    se = math.sqrt(25_000 / 10 + 16_000 / 10)
    df = (2_500 + 1_600) ** 2 / (2_500**2 / 9 + 1_600**2 / 9)
    q = stats.t.ppf(0.975, df)
    assert v.incremental == pytest.approx(900.0)
    assert v.incremental_ci == pytest.approx((10 * (90 - q * se), 10 * (90 + q * se)))
    welch = stats.ttest_ind([300] * 5 + [0] * 5, [300] * 2 + [0] * 8, equal_var=False)
    assert v.p_value == pytest.approx(welch.pvalue)
    m = effect.overall.money
    # spent: 8 SMS x 0.5 + the 20 offer cost of T1..T4 (T9 took it up unsent: never paid)
    assert m.cost == pytest.approx(84.0)
    assert m.profit == pytest.approx(900 - 84)
    assert m.profit_ci == pytest.approx((v.incremental_ci[0] - 84, v.incremental_ci[1] - 84))
    assert m.roi == pytest.approx(816 / 84)
    assert m.roi_ci == pytest.approx(((v.incremental_ci[0] - 84) / 84,
                                      (v.incremental_ci[1] - 84) / 84))  # fmt: skip
    # 84 / 3 incremental conversions; the conversions' interval reaches below 0: no upper end
    assert m.cost_per_incremental == pytest.approx(28.0)
    _lo, hi = effect.overall.conversions.incremental_ci
    assert m.cost_per_incremental_ci == (pytest.approx(84 / hi), None)


def test_segments_and_daily(effect) -> None:  # type: ignore[no-untyped-def]
    by = {e.segment: e for e in effect.segments}
    assert by["mass"].conversions.treated_mean == 0.8  # T1..T4 of T1..T5
    assert by["mass"].conversions.control_mean == 0.4  # C1, C2 of C1..C5
    assert by["affluent"].conversions.incremental == pytest.approx(5 * 0.2)  # T9 vs none
    assert by["mass"].money.cost == pytest.approx(82.5)
    assert effect.daily == {"A": {0: 1, 1: 1, 2: 1, 3: 1, 5: 1}, "control": {1: 1, 29: 1}}
    days = effect.cumulative(30)
    assert days[0]["incremental"] == pytest.approx(10 * (0.1 - 0.0))
    assert days[2]["incremental"] == pytest.approx(10 * (0.3 - 0.1))
    assert days[29]["incremental"] == pytest.approx(3.0)


def test_as_dict_is_json_safe(effect) -> None:  # type: ignore[no-untyped-def]
    import json

    text = json.dumps(effect.as_dict(), allow_nan=False)
    assert '"cost_per_incremental_ci": [12.05' in text


def _cells(n_t: int, s_t: int, n_c: int, s_c: int, *, cost: float = 100.0,
           value: float = 50.0) -> list[Cell]:  # fmt: skip
    def cell(arm: str, n: int, s: int, spent: float) -> Cell:
        return Cell(arm, None, {"responded": MetricStats.of_proportion(n, 0),
                                "converted": MetricStats.of_proportion(n, s),
                                "value": MetricStats(n, s * value, s * value * value)},
                    n, spent)  # fmt: skip

    return [cell("A", n_t, s_t, cost), cell("control", n_c, s_c, 0.0)]


def test_zero_incremental_conversions_is_not_measurable_not_a_crash() -> None:
    e = measure(_cells(1000, 30, 1000, 30)).overall
    assert e.conversions.incremental == 0.0
    m = e.money
    assert m.cost_per_incremental is None and m.cost_per_incremental_ci is None
    assert m.cost_per_incremental_note.startswith(NOT_MEASURABLE)
    assert m.roi == pytest.approx(-1.0)  # all spent, nothing gained: -100%


def test_fewer_conversions_than_the_holdout_and_nothing_spent() -> None:
    m = measure(_cells(1000, 20, 1000, 30, cost=0.0)).overall.money
    assert m.cost_per_incremental is None
    assert m.roi is None and m.roi_note.startswith(NOT_MEASURABLE)


def test_a_holdout_too_small_says_so() -> None:
    e = measure(_cells(1000, 20, 1, 0)).overall
    assert not e.conversions.measurable and e.conversions.note.startswith(NOT_MEASURABLE)
    assert e.money.profit is None and e.money.roi is None


def test_a_holdout_without_conversions_has_no_relative_lift() -> None:
    c = measure(_cells(1000, 20, 1000, 0)).overall.conversions
    assert c.relative is None and "relative lift" in c.note
    assert c.incremental == pytest.approx(20.0)


def test_intervals_cover_the_true_lift() -> None:
    """200 simulated campaigns, 20,000 treated and 5,000 holdout, true rates 5% and 6.5%: the
    95% interval of the incremental conversions covers the true 300 in 90-99% of them, and
    the value's interval covers its true 300 x 80 likewise."""
    rng = np.random.default_rng(7)
    covered = value_covered = 0
    for _ in range(200):
        s_t, s_c = rng.binomial(20_000, 0.065), rng.binomial(5_000, 0.05)
        treated, holdout = _cells(20_000, int(s_t), 5_000, int(s_c), value=80.0)
        # the intervals only (the Bayesian quadrature would take a minute here)
        conversions = incremental("converted", holdout.metrics["converted"],
                                  treated.metrics["converted"], kind="proportion",
                                  bayesian=False)  # fmt: skip
        value = incremental("value", holdout.metrics["value"], treated.metrics["value"],
                            kind="mean")  # fmt: skip
        lo, hi = conversions.incremental_ci  # type: ignore[misc]
        covered += lo <= 300 <= hi
        vlo, vhi = value.incremental_ci  # type: ignore[misc]
        value_covered += vlo <= 300 * 80 <= vhi
    assert 180 <= covered <= 198
    assert 180 <= value_covered <= 198


# -- goals ----------------------------------------------------------------------------------
def test_targets_read_as_written() -> None:
    goal = Goal.model_validate({"event": "apply_done", "targets": [
        {"metric": "registrations", "event": "register", "lift": "+30%"},
        {"metric": "application conversion", "lift": "+25%"},
        {"metric": "active", "event": "app_open", "lift": "+2pp"},
        {"metric": "plain", "lift": 0.1, "kind": "absolute"},
    ]})  # fmt: skip
    got = [(t.metric, t.event, t.lift, t.kind) for t in goal.targets]
    assert got[0] == ("registrations", "register", pytest.approx(0.30), "relative")
    assert got[1][1] is None and got[1][2] == pytest.approx(0.25)
    assert got[2][2:] == (pytest.approx(0.02), "absolute")
    assert got[3][2:] == (0.1, "absolute")
    with pytest.raises(ValueError, match="not a number"):
        Goal.model_validate({"targets": [{"metric": "x", "lift": "lots"}]})


def test_verdicts() -> None:
    assert verdict(0.25, (0.30, 0.50)) == "met"
    assert verdict(0.25, (0.25, 0.50)) == "met"
    assert verdict(0.25, (0.05, 0.20)) == "missed"
    assert verdict(0.25, (0.10, 0.40)) == "not_yet"
    assert verdict(0.25, None) == "not_yet"


def test_goal_tracking_on_the_fixture(effect) -> None:  # type: ignore[no-untyped-def]
    goal = Goal.model_validate({"event": "apply_done", "targets": [
        {"metric": "registrations", "event": "register", "lift": "+30%"},
        {"metric": "registrations pp", "event": "register", "lift": "+70pp"}]})  # fmt: skip
    results = track(goal.targets, effect.overall, goal.event)
    # register: treated T1, T2, T7, T8 = 0.4; holdout C5 = 0.1; +200% relative, 0.3 absolute
    first, second = results
    assert first.measured == pytest.approx(3.0) and first.verdict == "not_yet"  # wide interval
    assert second.measured == pytest.approx(0.3)
    se = math.sqrt(0.4 * 0.6 / 10 + 0.1 * 0.9 / 10)
    assert second.ci == pytest.approx((0.3 - Z * se, 0.3 + Z * se))
    assert second.verdict == "missed"  # 0.3 + 1.96 x 0.1817 = 0.656 < 0.70


def test_product_take_up_when_the_goal_names_no_event(tmp_path: Path) -> None:
    import pyarrow as pa
    from effect_fixture import SEND

    con = connection(tmp_path)
    day = SEND.date()
    from datetime import timedelta

    holdings = pa.table({
        "customer_id": ["T1", "T2", "T3", "C1", "C2"],
        "product_id": ["LOAN_CONSUMER", "LOAN_CONSUMER", "CARD", "LOAN_CONSUMER",
                       "LOAN_CONSUMER"],
        # T1 day 2; T2 the day before the send; T3 another product; C1 day 3; C2 day 30 (out)
        "open_date": [day + timedelta(days=2), day - timedelta(days=1), day + timedelta(days=1),
                      day + timedelta(days=3), day + timedelta(days=30)],
    })  # fmt: skip
    con.register("more", holdings)
    con.execute("INSERT INTO holdings SELECT * FROM more")
    sql = exposure_sql(write_plan(tmp_path), TERMS, window_days=30, event=None,
                       sends=write_sends(tmp_path))  # fmt: skip
    cells = cell_statistics(lambda q: con.execute(q).fetchall(), sql)
    e = measure(cells).overall
    assert e.conversions.treated_mean == 0.1 and e.conversions.control_mean == 0.1
    assert e.money.cost == pytest.approx(8 * 0.5 + 20)  # T1 took the offer up
    assert measure(cells).segments == []  # no segment asked for
