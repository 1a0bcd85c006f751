"""A campaign's incremental effect: its contacted arms against the holdout of its plan.

The engine sums each arm (and each arm x segment) over a per-customer *exposure* table — one
row per customer of the plan with ``arm``, ``segment``, ``sent``, ``responded``, ``converted``,
``value`` (the margin the conversion brought), ``cost`` (contact and offer costs actually
spent), ``conv_day`` (days from the send to the first conversion) and one ``target_<i>`` column
per goal target; :mod:`lodestar.campaigns.effect_data` builds it. This module does the maths on
the sums, with :func:`~lodestar.experiments.statistics.compare` for every test and interval:

- incremental conversions = treated customers x (treated rate - holdout rate), its interval the
  two-proportion interval times the same count; incremental value likewise with Welch's t;
- profit = incremental value - cost actually spent, ROI = profit / cost. The cost is what was
  spent, a known amount, not an estimate, so both are *affine* in the incremental value and
  their intervals are its interval's ends put through the same formula — exact, where the delta
  method would add a second-order error and a bootstrap would need the rows again;
- cost per incremental conversion = cost / incremental conversions is monotone (decreasing) in
  them, so its interval is again the ends put through it; when the incremental conversions'
  interval reaches 0 the upper end is unbounded (``None``), and when the estimate itself is
  not above 0 the figure is "not measurable" — never a division by zero.

>>> cells = [Cell("A", None, {"converted": MetricStats.of_proportion(1000, 120)}, 1000, 500.0),
...          Cell(CONTROL, None, {"converted": MetricStats.of_proportion(1000, 100)}, 0, 0.0)]
>>> round(measure(cells).overall.conversions.incremental, 1)
20.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lodestar.experiments.assignment import CONTROL
from lodestar.experiments.statistics import MetricStats, compare

#: the label of all contacted arms pooled
TREATED = "treated"
#: the columns every exposure table has (``target_<i>`` columns come on top)
METRICS = ("responded", "converted", "value")
NOT_MEASURABLE = "not measurable"


@dataclass(frozen=True)
class Cell:
    """One arm's (or one arm x segment's) sufficient statistics: per metric, plus how many of
    its customers were actually sent something and what was spent on them."""

    arm: str
    segment: str | None
    metrics: dict[str, MetricStats]
    sent: int
    cost: float

    @property
    def n(self) -> int:
        return next(iter(self.metrics.values())).n if self.metrics else 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def cell_statistics(run: Callable[[str], Sequence[Sequence[Any]]], exposure_sql: str,
                    metrics: Sequence[str] = METRICS) -> list[Cell]:  # fmt: skip
    """Per arm and per arm x segment, the sufficient statistics of ``metrics`` over the
    exposure query (one aggregate query with grouping sets; ``run`` executes SQL and returns
    rows)."""
    parts = ["count(*)", "sum(CAST(sent AS INTEGER))", "sum(CAST(cost AS DOUBLE))"]
    for m in metrics:
        y = f"CAST({_quote(m)} AS DOUBLE)"
        parts += [f"sum({y})", f"sum({y} * {y})"]
    sql = (f"SELECT CAST(arm AS VARCHAR), CAST(segment AS VARCHAR), grouping(segment), "
           f"{', '.join(parts)} FROM ({exposure_sql}) AS exposure "
           "GROUP BY GROUPING SETS ((arm), (arm, segment)) ORDER BY 1, 3 DESC, 2")  # fmt: skip
    cells = []
    for row in run(sql):
        n = int(row[3])
        stats = {m: MetricStats(n, float(row[6 + 2 * i] or 0.0), float(row[7 + 2 * i] or 0.0))
                 for i, m in enumerate(metrics)}  # fmt: skip
        segment = None if row[2] else ("" if row[1] is None else str(row[1]))
        cells.append(Cell(str(row[0]), segment, stats, int(row[4] or 0), float(row[5] or 0.0)))
    return cells


def daily_conversions(run: Callable[[str], Sequence[Sequence[Any]]],
                      exposure_sql: str) -> dict[str, dict[int, int]]:  # fmt: skip
    """First conversions per arm and day since the send (day 0 = the first 24 hours)."""
    sql = (f"SELECT CAST(arm AS VARCHAR), CAST(conv_day AS INTEGER), count(*) "
           f"FROM ({exposure_sql}) AS exposure WHERE conv_day IS NOT NULL GROUP BY 1, 2")  # fmt: skip
    out: dict[str, dict[int, int]] = {}
    for arm, day, n in run(sql):
        out.setdefault(str(arm), {})[int(day)] = int(n)
    return out


# -- the figures ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incremental:
    """Treated against holdout on one metric: per-customer means, the difference with its
    interval (absolute and relative), and the difference times the treated customers."""

    metric: str
    treated_mean: float
    control_mean: float
    absolute: float | None
    absolute_ci: tuple[float, float] | None
    relative: float | None
    relative_ci: tuple[float, float] | None
    p_value: float | None
    chance_to_beat: float | None
    incremental: float | None
    incremental_ci: tuple[float, float] | None
    #: why there is no comparison (an arm too small), empty when there is one
    note: str = ""

    @property
    def measurable(self) -> bool:
        return self.absolute is not None


@dataclass(frozen=True)
class Money:
    """What the effect was worth: incremental value, cost spent, profit, ROI and cost per
    incremental conversion, each with its interval (see the module docstring for how)."""

    cost: float
    incremental_value: float | None
    incremental_value_ci: tuple[float, float] | None
    profit: float | None
    profit_ci: tuple[float, float] | None
    roi: float | None
    roi_ci: tuple[float, float] | None
    cost_per_incremental: float | None
    #: the upper end is ``None`` when unbounded (the conversions' interval reaches zero)
    cost_per_incremental_ci: tuple[float, float | None] | None
    roi_note: str = ""
    cost_per_incremental_note: str = ""


@dataclass(frozen=True)
class Effect:
    """One comparison: an arm (or all treated arms) against the holdout, overall or in a
    segment."""

    arm: str
    segment: str | None
    treated: int
    control: int
    sent: int
    responses: int
    response_rate: float  # of the customers sent a message
    conversions: Incremental
    value: Incremental
    money: Money
    targets: dict[str, Incremental] = field(default_factory=dict)


def _nan_none(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def incremental(metric: str, control: MetricStats, treated: MetricStats, *,
                kind: str, alpha: float = 0.05, bayesian: bool = True) -> Incremental:  # fmt: skip
    """``treated`` against ``control`` with :func:`compare`; the incremental total is the
    difference in means times the treated customers."""
    if control.n < 2 or treated.n < 2:
        return Incremental(metric, treated.mean, control.mean, None, None, None, None, None,
                           None, None, None,
                           note=f"{NOT_MEASURABLE}: {min(control.n, treated.n)} customer(s) in "
                                "the smaller group, at least 2 needed")  # fmt: skip
    c = compare(control, treated, kind=kind, alpha=alpha,  # type: ignore[arg-type]
                bayesian=bayesian)
    n = treated.n
    relative = _nan_none(c.relative)
    relative_ci = None if relative is None else (c.relative_ci[0], c.relative_ci[1])
    return Incremental(metric, c.treatment_mean, c.control_mean, c.absolute, c.absolute_ci,
                       relative, relative_ci, c.p_value, _nan_none(c.chance_to_beat),
                       c.absolute * n,
                       (c.absolute_ci[0] * n, c.absolute_ci[1] * n),
                       "" if relative is not None else
                       f"relative lift {NOT_MEASURABLE}: the holdout's {metric} is 0")  # fmt: skip


def money(cost: float, conversions: Incremental, value: Incremental) -> Money:
    """Profit, ROI and cost per incremental conversion from the incremental value and
    conversions and the cost actually spent."""
    if value.incremental is None or value.incremental_ci is None:
        return Money(cost, None, None, None, None, None, None, None, None,
                     NOT_MEASURABLE, NOT_MEASURABLE)  # fmt: skip
    lo, hi = value.incremental_ci
    profit = value.incremental - cost
    profit_ci = (lo - cost, hi - cost)
    if cost > 0:
        roi: float | None = profit / cost
        roi_ci: tuple[float, float] | None = (profit_ci[0] / cost, profit_ci[1] / cost)
        roi_note = ""
    else:
        roi, roi_ci, roi_note = None, None, f"{NOT_MEASURABLE}: nothing was spent"
    per, per_ci, per_note = _cost_per_incremental(cost, conversions)
    return Money(cost, value.incremental, value.incremental_ci, profit, profit_ci, roi, roi_ci,
                 per, per_ci, roi_note, per_note)  # fmt: skip


def _cost_per_incremental(cost: float, conversions: Incremental
                          ) -> tuple[float | None, tuple[float, float | None] | None, str]:  # fmt: skip
    point, ci = conversions.incremental, conversions.incremental_ci
    if point is None or ci is None:
        return None, None, NOT_MEASURABLE
    if point <= 0:
        return None, None, (f"{NOT_MEASURABLE}: no incremental conversions "
                            f"(estimate {point:+.1f})")  # fmt: skip
    lo, hi = ci
    # cost / x falls as x rises: the interval's upper end of x gives the lower end of the cost
    upper = cost / lo if lo > 0 else None
    return cost / point, (cost / hi, upper), ""


@dataclass(frozen=True)
class CampaignEffect:
    """The whole measurement: treated arms pooled, each arm, each segment, against the
    holdout; first conversions by day since the send per arm."""

    control: str
    overall: Effect
    arms: list[Effect]
    segments: list[Effect]
    daily: dict[str, dict[int, int]]
    counts: dict[str, int]
    alpha: float

    def cumulative(self, days: int) -> list[dict[str, Any]]:
        """Per day since the send: treated and holdout cumulative conversion rates and the
        incremental conversions so far, with the two-proportion interval of each day."""
        n_t, n_c = self.overall.treated, self.overall.control
        treated = {d: sum(v for a, by in self.daily.items() if a != self.control
                          for dd, v in by.items() if dd == d) for d in range(days)}  # fmt: skip
        control = self.daily.get(self.control, {})
        out, s_t, s_c = [], 0, 0
        for d in range(days):
            s_t += treated.get(d, 0)
            s_c += control.get(d, 0)
            inc = incremental("converted", MetricStats.of_proportion(n_c, s_c),
                              MetricStats.of_proportion(n_t, s_t), kind="proportion",
                              alpha=self.alpha, bayesian=False)  # fmt: skip
            out.append({"day": d, "treated_rate": s_t / n_t if n_t else None,
                        "control_rate": s_c / n_c if n_c else None,
                        "incremental": inc.incremental, "incremental_ci": inc.incremental_ci})  # fmt: skip
        return out

    def as_dict(self) -> dict[str, Any]:
        return _plain({"control": self.control, "alpha": self.alpha, "counts": self.counts,
                       "overall": asdict(self.overall),
                       "arms": [asdict(e) for e in self.arms],
                       "segments": [asdict(e) for e in self.segments]})  # fmt: skip


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities become ``None``, tuples lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pool(cells: Sequence[Cell], arm: str, segment: str | None) -> Cell:
    metrics: dict[str, MetricStats] = {}
    for c in cells:
        for m, s in c.metrics.items():
            base = metrics.get(m, MetricStats(0, 0.0, 0.0))
            metrics[m] = MetricStats(base.n + s.n, base.sum + s.sum, base.sum_sq + s.sum_sq)
    return Cell(arm, segment, metrics, sum(c.sent for c in cells), sum(c.cost for c in cells))


def _empty(segment: str | None, metrics: Sequence[str]) -> Cell:
    return Cell(CONTROL, segment, {m: MetricStats(0, 0.0, 0.0) for m in metrics}, 0, 0.0)


def effect_of(treated: Cell, control: Cell, *, alpha: float = 0.05,
              targets: Sequence[str] = ()) -> Effect:  # fmt: skip
    """``treated`` (one arm or several pooled) against ``control``."""
    zero = MetricStats(0, 0.0, 0.0)
    t, c = treated.metrics, control.metrics
    conversions = incremental("converted", c.get("converted", zero), t.get("converted", zero),
                              kind="proportion", alpha=alpha)  # fmt: skip
    value = incremental("value", c.get("value", zero), t.get("value", zero), kind="mean",
                        alpha=alpha)  # fmt: skip
    responded = t.get("responded", zero)
    by_target = {name: incremental(name, c.get(name, zero), t.get(name, zero),
                                   kind="proportion", alpha=alpha) for name in targets}  # fmt: skip
    return Effect(treated.arm, treated.segment, treated.n, control.n, treated.sent,
                  round(responded.sum),
                  # replies and clicks come only from messages that went out
                  responded.sum / treated.sent if treated.sent else 0.0,
                  conversions, value, money(treated.cost, conversions, value), by_target)  # fmt: skip


def measure(cells: Sequence[Cell], daily: dict[str, dict[int, int]] | None = None, *,
            control: str = CONTROL, alpha: float = 0.05) -> CampaignEffect:  # fmt: skip
    """Every comparison the campaign report shows, from :func:`cell_statistics`' cells."""
    top = [c for c in cells if c.segment is None]
    metrics = list(top[0].metrics) if top else list(METRICS)
    targets = [m for m in metrics if m.startswith("target_")]
    base = next((c for c in top if c.arm == control), _empty(None, metrics))
    contacted = [c for c in top if c.arm != control]
    overall = effect_of(_pool(contacted, TREATED, None), base, alpha=alpha, targets=targets)
    arms = [effect_of(c, base, alpha=alpha, targets=targets) for c in contacted]
    segments = []
    named = {c.segment for c in cells if c.segment is not None}
    # only customers without a segment ("") is no segmentation at all: the overall again
    for segment in sorted(named) if named != {""} else []:
        here = [c for c in cells if c.segment == segment]
        holdout = next((c for c in here if c.arm == control), _empty(segment, metrics))
        pooled = _pool([c for c in here if c.arm != control], TREATED, segment)
        segments.append(effect_of(pooled, holdout, alpha=alpha, targets=targets))
    counts = {c.arm: c.n for c in top}
    return CampaignEffect(control, overall, arms, segments, daily or {}, counts, alpha)
