"""Classifier quality side by side: Lodestar's GradientBoostedClassifier against peers.

    PYTHONPATH=src python -m bench.classifier_quality [--seeds 0,1,2] [--jobs 2] [--data DIR]

For UCI bank-full (response, without the leaky ``duration``), Give Me Some Credit (risk) and
bank churn, every contender trains on the same stratified 80/20 split fixed by each seed
(``lodestar.modeling.training.split``, i.e. ``train_test_split(stratify=y, random_state=seed)``)
and is scored on the held-out 20%: AUC, KS, lift in the top 10%, share of positives captured
in the top 20%, Brier score of its probabilities, and training seconds. Peers run with their
defaults: LightGBM's ``LGBMClassifier``, scikit-learn's ``HistGradientBoostingClassifier``
(categoricals from the dtype) and a one-hot ``LogisticRegression``. Prints Markdown.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Dataset:
    name: str
    path: str
    target: str
    exclude: tuple[str, ...]  # an empty name means "the first column" (an unnamed row id)


DATASETS = (
    Dataset("bank-full response", "bank-marketing/bank-full.csv", "y", ("duration",)),
    Dataset("GMSC risk", "give-me-some-credit/cs-training.csv", "SeriousDlqin2yrs", ("",)),
    Dataset(
        "bank churn",
        "bank-churn/Churn_Modelling.csv",
        "Exited",
        ("RowNumber", "CustomerId", "Surname"),
    ),
)


def load(dataset: Dataset, root: Path) -> Any:
    from lodestar.modeling.tabular import prepare, read_table

    frame = read_table(root / dataset.path)
    exclude = [str(frame.columns[0]) if c == "" else c for c in dataset.exclude]
    return prepare(frame, dataset.target, exclude=exclude)


def ours(seed: int, jobs: int) -> Any:
    from lodestar.modeling.classifier import GradientBoostedClassifier

    return GradientBoostedClassifier(random_state=seed, n_jobs=jobs)


def lightgbm_defaults(seed: int, jobs: int) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(random_state=seed, n_jobs=jobs, verbose=-1)


def hist_gradient_boosting(seed: int, jobs: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")


def logistic_one_hot(seed: int, jobs: int) -> Any:
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    # Missing categories become their own level; categories as text for the encoder.
    as_text = FunctionTransformer(lambda f: f.astype("string").fillna("(missing)").astype(object))
    categorical = make_pipeline(as_text, OneHotEncoder(handle_unknown="ignore", min_frequency=10))
    columns = make_column_transformer(
        (numeric, make_column_selector(dtype_include="number")),
        (categorical, make_column_selector(dtype_include="category")),
    )
    return make_pipeline(columns, LogisticRegression(max_iter=2000))


CONTENDERS: dict[str, Callable[[int, int], Any]] = {
    "lodestar GradientBoostedClassifier": ours,
    "LightGBM LGBMClassifier (defaults)": lightgbm_defaults,
    "sklearn HistGradientBoosting": hist_gradient_boosting,
    "LogisticRegression (one-hot)": logistic_one_hot,
}
METRICS = ("auc", "ks", "lift10", "capture20", "brier", "seconds")


def scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    from lodestar.modeling import metrics

    return {
        "auc": metrics.roc_auc(y, prob),
        "ks": metrics.ks(y, prob).statistic,
        "lift10": metrics.lift_at(y, prob, 0.1),
        "capture20": metrics.capture_at(y, prob, 0.2),
        "brier": metrics.brier(y, prob),
    }


def run_dataset(dataset: Dataset, root: Path, seeds: list[int], jobs: int) -> list[str]:
    from lodestar.modeling import metrics
    from lodestar.modeling.training import split

    data = load(dataset, root)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    calibration: list[tuple[float, float, float, float]] = []
    curve: Any = None
    for seed in seeds:
        parts = split(data, seed=seed)
        X_train, X_test, y_train, y_test = parts.X_train, parts.X_test, parts.y_train, parts.y_test
        for name, make in CONTENDERS.items():
            model = make(seed, jobs)
            started = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - started
            prob = model.predict_proba(X_test)[:, 1]
            rows[name].append({**scores(y_test, prob), "seconds": seconds})
            if make is ours:
                raw = _expit(model.decision_function(X_test))
                auc_raw = metrics.roc_auc(y_test, raw)
                calibration.append(
                    (metrics.brier(y_test, raw), metrics.brier(y_test, prob), auc_raw,
                     metrics.roc_auc(y_test, prob))
                )  # fmt: skip
                if curve is None:
                    curve = (
                        metrics.calibration_curve(y_test, raw, 10, "quantile"),
                        metrics.calibration_curve(y_test, prob, 10, "quantile"),
                    )
    positives = float(np.mean(data.y))
    lines = [
        f"### {dataset.name}: {len(data.y):,} rows, {positives:.2%} positive, "
        f"{len(data.features)} features",
        "",
        "| model | seed | AUC | KS | lift@10% | capture@20% | Brier | train s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, results in rows.items():
        for seed, result in zip(seeds, results, strict=True):
            lines.append(_row(name, str(seed), result))
        mean = {k: float(np.mean([r[k] for r in results])) for k in METRICS}
        lines.append(_row(f"**{name}**", "**mean**", mean))
    before, after, auc_before, auc_after = np.mean(np.array(calibration), axis=0)
    lines += [
        "",
        f"Lodestar calibration (mean over seeds): Brier {before:.4f} uncalibrated (weighted "
        f"booster) -> {after:.4f} calibrated; AUC {auc_before:.5f} -> {auc_after:.5f}.",
        "",
        f"Reliability on the seed-{seeds[0]} test split (deciles of predicted probability):",
        "",
        "| decile | mean predicted, uncalibrated | mean predicted, calibrated | observed rate |",
        "|---:|---:|---:|---:|",
    ]
    raw_curve, cal_curve = curve
    for i in range(min(len(raw_curve.observed_rate), len(cal_curve.observed_rate))):
        lines.append(
            f"| {i + 1} | {raw_curve.mean_predicted[i]:.3f} | {cal_curve.mean_predicted[i]:.3f} "
            f"| {cal_curve.observed_rate[i]:.3f} |"
        )
    return [*lines, ""]


def _expit(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _row(name: str, seed: str, r: dict[str, float]) -> str:
    return (
        f"| {name} | {seed} | {r['auc']:.4f} | {r['ks']:.4f} | {r['lift10']:.2f} | "
        f"{r['capture20']:.1%} | {r['brier']:.4f} | {r['seconds']:.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.classifier_quality")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2, help="threads for the boosters")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", default="", help="comma-separated dataset names to run")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = [
        d for d in DATASETS if not args.only or any(o in d.name for o in args.only.split(","))
    ]
    print(f"## Classifier quality (seeds {args.seeds}, {args.jobs} booster threads)\n")
    for dataset in wanted:
        print("\n".join(run_dataset(dataset, args.data, seeds, args.jobs)), flush=True)


if __name__ == "__main__":
    main()
