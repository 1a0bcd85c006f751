"""An experiment analysed end to end: the engine sums each arm, the statistics compare every
arm with the control on every metric, and the report says whether the split itself is sound.

:func:`arm_statistics` asks DuckDB for the sufficient statistics of a table or a file (one
query, whatever the size); :func:`analyse` turns them into :class:`ArmResult` rows with
frequentist and Bayesian figures, CUPED where a pre-period covariate is given, Holm-adjusted
p-values over all arms x metrics, and the sample-ratio-mismatch check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lodestar.errors import ConfigError
from lodestar.experiments.statistics import (
    Comparison,
    MetricStats,
    compare,
    cuped,
    holm,
    sample_ratio_mismatch,
)


@dataclass(frozen=True)
class ArmResult:
    arm: str
    metric: str
    n: int
    mean: float
    comparison: Comparison | None  # None for the control
    cuped: Comparison | None = None
    p_holm: float | None = None
    #: the standard error of the arm's own mean (for its posterior / interval)
    std_error: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Analysis:
    control: str
    arms: list[str]
    counts: dict[str, int]
    srm_p_value: float
    results: list[ArmResult] = field(default_factory=list)

    @property
    def srm(self) -> bool:
        """A sample-ratio mismatch at the 0.001 level (the usual alarm threshold)."""
        return self.srm_p_value < 0.001

    def as_dict(self) -> dict[str, Any]:
        return {"control": self.control, "arms": self.arms, "counts": self.counts,
                "srm_p_value": self.srm_p_value, "srm": self.srm,
                "results": [r.as_dict() for r in self.results]}  # fmt: skip


def _source(source: str | Path) -> str:
    """A FROM clause: a file read by DuckDB, or a table / view name."""
    path = Path(str(source))
    if path.suffix.lower() in (".csv", ".parquet", ".json", ".jsonl") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
        reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv_auto"
        return f"{reader}('{str(path).replace(chr(39), chr(39) * 2)}')"
    if not str(source).replace("_", "").isalnum():
        raise ConfigError(f"'{source}' is neither a file nor a table name")
    return f'"{source}"'


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def arm_statistics(engine: Any, source: str | Path, arm: str, metrics: Sequence[str], *,
                   covariate: str | None = None) -> dict[str, dict[str, MetricStats]]:  # fmt: skip
    """Per arm and metric, the sufficient statistics (one aggregate query on ``engine``: a
    DuckDB connection, anything with ``execute(sql).fetchall()``, or a function from SQL to a
    list of rows)."""
    parts = ["count(*)"]
    for m in metrics:
        y = f"CAST({_quote(m)} AS DOUBLE)"
        parts += [f"sum({y})", f"sum({y} * {y})"]
        if covariate:
            x = f"CAST({_quote(covariate)} AS DOUBLE)"
            parts += [f"sum({x})", f"sum({x} * {x})", f"sum({x} * {y})"]
    sql = (f"SELECT CAST({_quote(arm)} AS VARCHAR) AS arm, {', '.join(parts)} "
           f"FROM {_source(source)} GROUP BY 1 ORDER BY 1")  # fmt: skip
    try:
        rows = engine.execute(sql).fetchall() if hasattr(engine, "execute") else engine(sql)
    except Exception as exc:  # the engine's own message names the missing column
        raise ConfigError(f"cannot aggregate {source}: {exc}",
                          hint="check the arm and metric column names") from None  # fmt: skip
    out: dict[str, dict[str, MetricStats]] = {}
    width = 5 if covariate else 2
    for row in rows:
        n = int(row[1])
        by_metric = {}
        for i, m in enumerate(metrics):
            values = [float(v or 0.0) for v in row[2 + i * width : 2 + (i + 1) * width]]
            by_metric[m] = MetricStats(n, *values)
        out[str(row[0])] = by_metric
    return out


def analyse(
    stats_by_arm: dict[str, dict[str, MetricStats]],
    control: str,
    *,
    kinds: dict[str, str] | None = None,
    weights: dict[str, float] | None = None,
    alpha: float = 0.05,
    covariate: bool = False,
) -> Analysis:
    """Every arm against ``control`` on every metric. ``kinds`` says which metrics are
    proportions (default: a metric whose values are all 0/1, i.e. sum == sum of squares);
    ``weights`` are the planned shares for the SRM check (default: equal)."""
    if control not in stats_by_arm:
        raise ConfigError(f"no arm '{control}' in the data",
                          hint="the arms are " + ", ".join(sorted(stats_by_arm)))  # fmt: skip
    arms = [control, *sorted(a for a in stats_by_arm if a != control)]
    counts = {a: next(iter(stats_by_arm[a].values())).n for a in arms}
    planned = [float((weights or {}).get(a, 1.0)) for a in arms]
    srm = sample_ratio_mismatch([counts[a] for a in arms], planned)
    results: list[ArmResult] = []
    for metric, base in stats_by_arm[control].items():
        kind = (kinds or {}).get(metric) or ("proportion" if base.sum == base.sum_sq
                                            and all(stats_by_arm[a][metric].sum
                                                    == stats_by_arm[a][metric].sum_sq
                                                    for a in arms) else "mean")  # fmt: skip
        results.append(ArmResult(control, metric, base.n, base.mean, None,
                                 std_error=_std_error(base)))  # fmt: skip
        for arm in arms[1:]:
            s = stats_by_arm[arm][metric]
            main = compare(base, s, kind=kind, alpha=alpha)  # type: ignore[arg-type]
            adjusted = cuped(base, s, alpha=alpha) if covariate else None
            results.append(ArmResult(arm, metric, s.n, s.mean, main, adjusted,
                                     std_error=_std_error(s)))  # fmt: skip
    tested = [i for i, r in enumerate(results) if r.comparison is not None]
    adjusted_p = holm([results[i].comparison.p_value for i in tested])  # type: ignore[union-attr]
    for i, p in zip(tested, adjusted_p, strict=True):
        r = results[i]
        results[i] = ArmResult(r.arm, r.metric, r.n, r.mean, r.comparison, r.cuped, p,
                               r.std_error)  # fmt: skip
    return Analysis(control, arms, counts, srm, results)


def _std_error(s: MetricStats) -> float:
    variance = s.variance
    return math.sqrt(variance / s.n) if s.n > 1 and not math.isnan(variance) else 0.0
