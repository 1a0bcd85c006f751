"""One round of automatic iteration in a workspace folder: read each arm's statistics from a
CSV file, rebuild the strategy pool from its change log, apply a person's pauses and resumes,
run the round, append every change to the log.

Files under ``<workspace>/experiments/<key>/``: ``changes.jsonl`` (the log, see
:mod:`change_log`) and ``rules.json`` (the pool's rules, written at the first round; options
given at a later round replace them from then on).

The statistics file has one row per arm, cumulative since the experiment started::

    arm,n,conversions,revenue,revenue_sq
    A,4000,200,51234.5,1.9e7
    B,4000,236,50876.0,1.8e7

``revenue`` and ``revenue_sq`` (sum of squares, for the variance) are needed only when the pool
optimises revenue per contact (``kind="mean"``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lodestar.errors import ConfigError
from lodestar.experiments.change_log import ChangeLog
from lodestar.experiments.statistics import MetricStats
from lodestar.experiments.strategy_pool import Change, PoolRules, StrategyPool

_RULE_FIELDS = {f.name for f in fields(PoolRules)}


@dataclass(frozen=True)
class RoundResult:
    pool: StrategyPool
    changes: list[Change]
    log_path: Path


def read_arm_stats(path: str | Path, kind: str = "proportion") -> dict[str, MetricStats]:
    """Arms' sufficient statistics from a CSV file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no statistics file at {path}")
    need = ["arm", "n", "conversions"] + (["revenue", "revenue_sq"] if kind == "mean" else [])
    out: dict[str, MetricStats] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{path}: missing column(s) {', '.join(missing)}",
                              hint=f"columns: {', '.join(need)}")  # fmt: skip
        for line, row in enumerate(reader, start=2):
            arm = (row["arm"] or "").strip()
            try:
                n, conversions = int(row["n"]), int(row["conversions"])
                revenue = float(row["revenue"]) if kind == "mean" else 0.0
                squares = float(row["revenue_sq"]) if kind == "mean" else 0.0
            except (TypeError, ValueError):
                raise ConfigError(f"{path}:{line}: n and conversions must be whole numbers"
                                  + (", revenue and revenue_sq numbers" if kind == "mean"
                                     else ""), hint=f"row: {row}") from None  # fmt: skip
            if not arm or arm in out:
                raise ConfigError(f"{path}:{line}: arm '{arm}' is empty or repeated")
            if n < 0 or not 0 <= conversions <= n or not math.isfinite(revenue + squares):
                raise ConfigError(f"{path}:{line}: arm '{arm}': {conversions} conversions out "
                                  f"of {n} customers is impossible")  # fmt: skip
            out[arm] = (MetricStats(n, revenue, squares) if kind == "mean"
                        else MetricStats.of_proportion(n, conversions))  # fmt: skip
    if not out:
        raise ConfigError(f"{path}: no arms")
    return out


def load_rules(root: Path, key: str, **overrides: Any) -> PoolRules:
    """The pool's saved rules with ``overrides`` (``None`` values ignored) applied and saved."""
    path = ChangeLog(root, key).path.with_name("rules.json")
    saved: dict[str, Any] = {}
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not JSON ({exc})") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(given) - _RULE_FIELDS
    if unknown:
        raise ConfigError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    merged = {k: v for k, v in {**saved, **given}.items() if k in _RULE_FIELDS}
    if "steps" in merged:
        merged["steps"] = tuple(float(s) for s in merged["steps"])
    rules = PoolRules(**merged)
    if not path.exists() or given:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(rules), indent=2) + "\n", encoding="utf-8")
    return rules


def run_round(root: Path, key: str, stats_file: str | Path | Mapping[str, MetricStats], *,
              champion: str | None = None,
              pause: Sequence[str] = (), resume: Sequence[str] = (), by: str = "",
              why: str = "", **rule_overrides: Any) -> RoundResult:  # fmt: skip
    """Pauses and resumes first (decided by ``by``), then one round on ``stats_file`` (a CSV
    file, or the arms' statistics themselves); every change is appended to the log before this
    returns."""
    rules = load_rules(root, key, **rule_overrides)
    if isinstance(stats_file, Mapping):
        stats = dict(stats_file)
    else:
        stats = read_arm_stats(stats_file, rules.kind)
    log = ChangeLog(root, key)
    pool = StrategyPool.replay(key, rules, log.read())
    changes: list[Change] = []
    if (pause or resume) and not by:
        raise ConfigError("say who pauses or resumes a strategy", hint="--by <name>")
    for name in pause:
        pool, done = pool.pause(name, by, why)
        changes += done
    for name in resume:
        pool, done = pool.resume(name, by, why)
        changes += done
    pool, done = pool.iterate(stats, champion=champion)
    changes += done
    log.append(changes)
    return RoundResult(pool, changes, log.path)
