"""Issue 4's speed targets: training 1M x 50, batch scoring and one-customer scoring, side by side.

    PYTHONPATH=src python -m bench.scoring_speed --rows 1000000

Synthetic data (40 numeric columns, some zero-heavy, some with NaNs; 10 categorical columns of 3
to 200 levels with 2% missing; ~5% positives). Trains ``GradientBoostedClassifier`` as configured
and ``lightgbm.train`` for 200 rounds with the same parameters, then scores one model through
``Booster.predict`` and through :class:`~lodestar.modeling.compiled_scoring.CompiledModel`
(results checked equal before any figure is printed). Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

LEVELS = (3, 5, 8, 12, 20, 30, 50, 80, 120, 200)


def synthetic(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and 0/1 labels: a logistic response on 10 numeric and 5 categorical columns."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    logit = np.full(rows, -3.2)
    for i in range(40):
        x = rng.normal(size=rows)
        if i % 4 == 0:  # balances, counts: many exact zeros
            x = np.where(rng.random(rows) < 0.3, 0.0, x)
        if i < 10:
            logit += 0.3 * x * (1 if i % 2 else -1)
        if i % 3 == 0:
            x[rng.random(rows) < 0.05] = np.nan
        columns[f"num_{i:02d}"] = x
    for j, levels in enumerate(LEVELS):
        codes = rng.integers(0, levels, size=rows)
        if j < 5:
            logit += rng.normal(scale=0.4, size=levels)[codes]
        codes[rng.random(rows) < 0.02] = -1
        labels = [f"c{j}_{v}" for v in range(levels)]
        columns[f"cat_{j}"] = pd.Categorical.from_codes(codes, categories=pd.Index(labels))
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(columns), y


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}"


def _single_row_times(score: Any, rows: np.ndarray, calls: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``score(row)`` over ``calls`` calls, rows cycled."""
    for row in rows[:50]:  # warm caches and lazy set-up first
        score(row)
    times = []
    for i in range(calls):
        row = rows[i % len(rows)]
        started = time.perf_counter()
        score(row)
        times.append(time.perf_counter() - started)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def _scoring_section(name: str, booster: Any, X: pd.DataFrame, calls: int, cache: str) -> list[str]:
    from lodestar.modeling.compiled_scoring import CompiledModel, target_flags

    rows = len(X)
    _say(f"compiling {name}")
    started = time.perf_counter()
    model = CompiledModel.from_booster(booster, cache_dir=cache)
    compile_s = time.perf_counter() - started
    if not model.compiled:
        raise SystemExit("the model did not compile; see the warning above")
    model.predict(X.iloc[:1000])  # load the library, touch the pages

    _say("batch scoring")
    started, cpu = time.perf_counter(), time.process_time()
    reference = booster.predict(X)
    lgb_s, lgb_cpu = time.perf_counter() - started, time.process_time() - cpu
    best_s, best_cpu, got = float("inf"), float("inf"), None
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        got = model.predict(X)
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        if seconds < best_s:
            best_s, best_cpu = seconds, cpu_s
    if got is None or not np.array_equal(reference, got):
        raise SystemExit(
            f"compiled scores differ from LightGBM's: {np.max(np.abs(reference - got))}"
        )

    _say("single rows")
    matrix = np.column_stack(model.columns(X.iloc[:2000]))
    lgb_p50, lgb_p99 = _single_row_times(lambda r: booster.predict(r.reshape(1, -1)), matrix, calls)
    our_p50, our_p99 = _single_row_times(model.predict_row, matrix, calls)
    for row in matrix[:200]:
        if model.predict_row(row) != booster.predict(row.reshape(1, -1))[0]:
            raise SystemExit("a single-row score differs from LightGBM's")

    trees = booster.num_trees()
    return [
        f"### Scoring: {name} ({trees} trees, {rows:,} rows; compiled in {compile_s:.1f} s "
        f"with cc -O3 {' '.join(target_flags())}, cached by hash after that)",
        "",
        "| contender | batch rows/s (wall) | rows per CPU-second | single row p50 | single row p99 |",
        "|---|---:|---:|---:|---:|",
        f"| CompiledModel.predict (frame in) | {_rate(rows, best_s)} | {_rate(rows, best_cpu)} "
        f"| {our_p50:.3f} ms | {our_p99:.3f} ms |",
        f"| Booster.predict (frame in) | {_rate(rows, lgb_s)} | {_rate(rows, lgb_cpu)} "
        f"| {lgb_p50:.3f} ms | {lgb_p99:.3f} ms |",
        f"| ratio | {lgb_s / best_s:.1f}x | {lgb_cpu / best_cpu:.1f}x | {lgb_p50 / our_p50:.0f}x "
        f"| {lgb_p99 / our_p99:.0f}x |",
        "",
        f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores after scoring. "
        "Scores equal (np.array_equal) on every row; single-row figures over "
        f"{calls:,} calls with a numeric numpy row (`predict_row` vs `Booster.predict` on 1 row).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=200, help="rounds for plain lightgbm.train")
    parser.add_argument("--calls", type=int, default=10_000, help="single-row calls timed")
    parser.add_argument(
        "--skip-classifier", action="store_true", help="no GradientBoostedClassifier"
    )
    args = parser.parse_args()

    import lightgbm as lgb

    from lodestar.modeling.classifier import GradientBoostedClassifier

    X, y = synthetic(args.rows)
    lines = [
        f"Synthetic {args.rows:,} rows x {X.shape[1]} features (10 categorical), "
        f"positive rate {y.mean():.3f}; load average at start "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| training | trees | seconds |",
        "|---|---:|---:|",
    ]
    classifier = GradientBoostedClassifier()
    params = classifier._lgb_params(y, classifier._shape())
    _say("training lightgbm.train")
    started = time.perf_counter()
    plain = lgb.train(params, lgb.Dataset(X, y), num_boost_round=args.trees)
    lines.append(
        f"| lightgbm.train, GradientBoostedClassifier's parameters | {args.trees} "
        f"| {time.perf_counter() - started:.1f} |"
    )
    fitted = None
    if not args.skip_classifier:
        _say("training GradientBoostedClassifier")
        started = time.perf_counter()
        fitted = classifier.fit(X, y)
        lines.append(
            f"| GradientBoostedClassifier().fit (learning rate {fitted.learning_rate_}, early "
            f"stopping at {fitted.best_iteration_}, refit {fitted.refitted_}) | {fitted.n_trees_} "
            f"| {time.perf_counter() - started:.1f} |"
        )
    lines.append("")
    with tempfile.TemporaryDirectory() as cache:
        lines += _scoring_section(
            f"lightgbm.train, {args.trees} rounds", plain, X, args.calls, cache
        )
        if fitted is not None:
            lines += _scoring_section(
                "GradientBoostedClassifier", fitted.booster_, X, args.calls, cache
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
