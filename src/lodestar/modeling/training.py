"""Train any model kind on prepared data: split, fit, evaluate on the held-out rows, register.

One path for every kind, whether the data comes from a file (:func:`train_file`) or from the
workspace (:func:`train_data` with a frame from :mod:`lodestar.modeling.training_frames`):

============  ============  =====================================================================
kind          task          estimator
============  ============  =====================================================================
response      binary        :class:`~lodestar.modeling.classifier.GradientBoostedClassifier`
risk          binary        the same, read as a probability of default
churn         binary        the same, read as a probability of attrition
scorecard     binary        :class:`~lodestar.modeling.scorecard.Scorecard` (points, bands)
uplift        uplift        :class:`~lodestar.modeling.uplift.UpliftModel` (S/T/X/DR by CV)
nbp           multiclass    :class:`~lodestar.modeling.next_best_product.NextBestProduct`
============  ============  =====================================================================

The split is stratified (by the class; for uplift by arm and outcome) and fixed by ``seed``; the
held-out rows' labels and scores are saved with the model (reports and monitoring read them).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lodestar.modeling.registry import ModelKind, ModelRecord, model_kind
from lodestar.modeling.tabular import (
    TabularDataError,
    Task,
    TrainingData,
    fingerprint,
    prepare,
    read_table,
)

if TYPE_CHECKING:
    from lodestar.modeling.registry import ModelRegistry

TASKS: dict[ModelKind, Task] = {
    ModelKind.RESPONSE: "binary",
    ModelKind.RISK: "binary",
    ModelKind.CHURN: "binary",
    ModelKind.SCORECARD: "binary",
    ModelKind.UPLIFT: "uplift",
    ModelKind.NBP: "multiclass",
}


def task_of(kind: str) -> Task:
    return TASKS[model_kind(kind)]


def build_estimator(kind: str, *, seed: int = 0, params: Mapping[str, Any] | None = None) -> Any:
    """A fresh, unfitted estimator for ``kind`` with ``params`` over its defaults."""
    parsed = model_kind(kind)
    options = dict(params or {})
    if parsed in (ModelKind.RESPONSE, ModelKind.RISK, ModelKind.CHURN):
        from lodestar.modeling.classifier import GradientBoostedClassifier

        return GradientBoostedClassifier(**{"random_state": seed, **options})
    if parsed == ModelKind.SCORECARD:
        from lodestar.modeling.scorecard import Scorecard

        return Scorecard(**options)
    if parsed == ModelKind.UPLIFT:
        from lodestar.modeling.uplift_selection import UpliftModel

        return UpliftModel(**{"random_state": seed, **options})
    from lodestar.modeling.next_best_product import NextBestProduct

    return NextBestProduct(**{"random_state": seed, **options})


# -- splitting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """Training and held-out rows (``t_*`` are the arms, for uplift)."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    t_train: np.ndarray | None = None
    t_test: np.ndarray | None = None


def split(data: TrainingData, *, test_size: float = 0.2, seed: int = 0) -> Split:
    """A stratified train/test split fixed by ``seed`` (see the module doc)."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise TabularDataError(f"--test-size must be between 0 and 1, not {test_size}")
    strata = _strata(data)
    if data.outcome == "binary" and data.treatment is None:
        counts = np.bincount(data.y.astype(np.int64), minlength=2)
        test_counts = np.floor(counts * test_size)
        if counts.min() < 4 or test_counts.min() < 1 or (counts - test_counts).min() < 2:
            raise TabularDataError(
                f"{data.path}: too few rows of one class in '{data.target}' to hold some out "
                f"({int(counts[1])} positive, {int(counts[0])} negative, test share {test_size})"
            )
    arrays: list[Any] = [data.X, data.y]
    if data.treatment is not None:
        arrays.append(data.treatment)
    parts = train_test_split(*arrays, test_size=test_size, stratify=strata, random_state=seed)
    t_train = t_test = None
    if data.treatment is not None:
        t_train, t_test = np.asarray(parts[4]), np.asarray(parts[5])
    return Split(parts[0], parts[1], np.asarray(parts[2]), np.asarray(parts[3]), t_train, t_test)


def _strata(data: TrainingData) -> np.ndarray | None:
    """What to stratify on: the class; for uplift the arm (and the class of a 0/1 outcome)."""
    if data.treatment is not None:
        keys = data.treatment.astype(str)
        if data.outcome == "binary":
            keys = np.char.add(np.char.add(keys, "|"), data.y.astype(str))
    elif data.outcome == "multiclass":
        keys = data.y.astype(str)
    elif data.outcome == "binary":
        return data.y
    else:
        return None
    _, counts = np.unique(keys, return_counts=True)
    # A stratum of one row cannot be split; then stratification is dropped rather than failing.
    return keys if counts.min() >= 2 else None


# -- evaluating -----------------------------------------------------------------------------------
def evaluate(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Held-out ranking quality: AUC, Gini, KS, top-decile lift, positives in the top 20%,
    and the Brier score of the probabilities."""
    from lodestar.modeling import metrics

    return {
        "auc": float(metrics.roc_auc(y, score)),
        "gini": float(metrics.gini(y, score)),
        "ks": float(metrics.ks(y, score).statistic),
        "lift_top_decile": float(metrics.lift_at(y, score, 0.1)),
        "capture_top_20": float(metrics.capture_at(y, score, 0.2)),
        "brier": float(metrics.brier(y, np.clip(score, 0.0, 1.0))),
        "positive_rate": float(np.mean(y)),
    }


@dataclass(frozen=True)
class Evaluation:
    """Held-out metrics (flat numbers), details (tables), and the held-out rows' scores."""

    metrics: dict[str, float]
    details: dict[str, Any]
    holdout: pd.DataFrame


def evaluate_model(kind: str, model: Any, parts: Split) -> Evaluation:
    """Score the held-out rows with ``model`` and measure them for ``kind``'s task."""
    task = task_of(kind)
    if task == "binary":
        score = model.predict_proba(parts.X_test)[:, 1]
        holdout = pd.DataFrame({"y": parts.y_test.astype(np.int64), "score": score})
        if hasattr(model, "score_points"):
            holdout["points"] = model.score_points(parts.X_test)
        return Evaluation(evaluate(parts.y_test, score), {}, holdout)
    if task == "uplift":
        from lodestar.modeling.uplift_evaluation import evaluate_uplift

        uplift = np.asarray(model.predict_uplift(parts.X_test), dtype=np.float64)
        assert parts.t_test is not None
        report = evaluate_uplift(parts.y_test, parts.t_test, uplift, control=model.control_)
        holdout = pd.DataFrame({"y": parts.y_test, "treatment": parts.t_test.astype(str)})
        if uplift.ndim == 1:
            holdout["uplift"] = uplift
        else:
            for i, name in enumerate(model.treatments_):
                holdout[f"uplift_{name}"] = uplift[:, i]
        return Evaluation(_uplift_figures(report), report, holdout)
    from lodestar.modeling.next_best_product import evaluate_nbp

    proba = model.predict_proba(parts.X_test)
    ranking = evaluate_nbp(model, parts.X_test, parts.y_test)
    top = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
    holdout = pd.DataFrame({"y": parts.y_test.astype(str), "top": top.astype(str)})
    flat = {
        "top1": ranking.top1, "top3": ranking.top3, "mrr": ranking.mrr,
        "baseline_top1": ranking.baseline_top1, "baseline_top3": ranking.baseline_top3,
        "baseline_mrr": ranking.baseline_mrr, "takers": float(ranking.takers),
        "mean_auc": float(np.mean(list(ranking.auc.values()))) if ranking.auc else float("nan"),
    }  # fmt: skip
    return Evaluation(flat, {"auc_by_product": ranking.auc}, holdout)


UPLIFT_FIGURES = ("qini", "auuc", "uplift_at_30", "uplift_at_10")


def _uplift_figures(report: dict[str, Any]) -> dict[str, float]:
    """The headline uplift figures; with several treatments, the mean over them (each
    treatment's own figures stay in the details). AUUC is NaN for amounts (it needs 0/1)."""
    parts = list(report["treatments"].values()) if "treatments" in report else [report]
    out: dict[str, float] = {}
    for key in UPLIFT_FIGURES:
        values = [float(p[key]) for p in parts if p.get(key) is not None]
        out[key] = float(np.mean(values)) if values else float("nan")
    return out


# -- training -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_data` did: the registered model and its held-out evaluation."""

    model_id: str
    kind: str
    metrics: dict[str, float]
    details: dict[str, Any]
    rows_train: int
    rows_test: int
    train_seconds: float
    data: TrainingData
    model: Any

    def summary(self) -> dict[str, Any]:
        """One flat JSON-ready object (what ``lodestar model train --json`` prints)."""
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "kind": self.kind,
            **{k: None if np.isnan(v) else round(v, 6) for k, v in self.metrics.items()},
            "rows_train": self.rows_train,
            "rows_test": self.rows_test,
            "train_seconds": round(self.train_seconds, 3),
            "target": self.data.target,
            "positive": self.data.positive,
            "outcome": self.data.outcome,
            "features": len(self.data.features),
            "dropped": self.data.dropped,
            "rows_without_target": self.data.rows_without_target,
        }
        trees = getattr(self.model, "n_trees_", None)
        if trees is not None:
            out["trees"] = int(trees)
        if self.data.treatment_column:
            out["treatment"] = self.data.treatment_column
        return out


def train_data(
    kind: str,
    data: TrainingData,
    *,
    registry: ModelRegistry,
    test_size: float = 0.2,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
    actor: str = "",
) -> TrainResult:
    """Split ``data``, fit a ``kind`` model, evaluate it on the held-out rows, register it.

    ``source`` describes where the data came from for ``meta.json`` (a file's path and sha256,
    or the workspace frame's cut-off and horizon).
    """
    parsed = model_kind(kind)
    parts = split(data, test_size=test_size, seed=seed)
    options = dict(params or {})
    if TASKS[parsed] == "uplift":
        options.setdefault("outcome", data.outcome)  # 0/1 or an amount such as spend
    model = build_estimator(parsed, seed=seed, params=options)
    started = time.perf_counter()
    if TASKS[parsed] == "uplift":
        model.fit(parts.X_train, parts.y_train, parts.t_train)
    else:
        model.fit(parts.X_train, parts.y_train)
    seconds = time.perf_counter() - started
    evaluation = evaluate_model(parsed, model, parts)
    reference = _reference(parsed, data, parts, evaluation)
    parameters = dict(model.get_params())
    if hasattr(model, "best_iteration_"):
        parameters["best_iteration"] = model.best_iteration_
    treatment: dict[str, Any] = {}
    if data.treatment_column:
        treatment = {
            "column": data.treatment_column,
            "control": str(getattr(model, "control_", "")),
            "treatments": [str(t) for t in getattr(model, "treatments_", [])],
        }
    record = ModelRecord(
        kind=parsed,
        target=data.target,
        positive=data.positive,
        features=dict(data.features),
        parameters=parameters,
        metrics=evaluation.metrics,
        data={
            **dict(source or {}),
            "rows": len(data.X) + data.rows_without_target,
            "rows_without_target": data.rows_without_target,
            "dropped": data.dropped,
        },
        split={
            "test_size": test_size,
            "seed": seed,
            "rows_train": len(parts.y_train),
            "rows_test": len(parts.y_test),
        },
        train_seconds=seconds,
        task=TASKS[parsed],
        outcome=data.outcome,
        treatment=treatment,
        actor=actor,
        details=evaluation.details,
    )
    model_id = registry.register(model, record, holdout=evaluation.holdout, reference=reference)
    return TrainResult(
        model_id=model_id,
        kind=parsed,
        metrics=evaluation.metrics,
        details=evaluation.details,
        rows_train=len(parts.y_train),
        rows_test=len(parts.y_test),
        train_seconds=seconds,
        data=data,
        model=model,
    )


def _reference(
    kind: ModelKind, data: TrainingData, parts: Split, evaluation: Evaluation
) -> dict[str, Any] | None:
    """The distributions monitoring compares new data with: held-out features and scores."""
    try:
        from lodestar.modeling.monitoring import reference_profile
    except ImportError:  # monitoring not installed in this build
        return None
    holdout = evaluation.holdout
    if "score" in holdout:
        scores, labels = holdout["score"].to_numpy(), holdout["y"].to_numpy()
    elif any(c.startswith("uplift") for c in holdout.columns):
        # several treatments: the best one's effect, as assessments compare it
        columns = [c for c in holdout.columns if c.startswith("uplift")]
        scores, labels = holdout[columns].to_numpy(dtype=np.float64).max(axis=1), None
    else:
        return None
    profile = reference_profile(parts.X_test, scores, labels, dict(data.features))
    return dict(profile.to_dict())


def train_file(
    kind: str,
    path: str | Path,
    target: str,
    *,
    registry: ModelRegistry,
    exclude: Iterable[str] = (),
    test_size: float = 0.2,
    seed: int = 0,
    positive: str | None = None,
    treatment: str | None = None,
    params: Mapping[str, Any] | None = None,
    actor: str = "",
) -> TrainResult:
    """Train a ``kind`` model on the CSV / Parquet file ``path`` (see :func:`train_data`)."""
    parsed = model_kind(kind)
    task = TASKS[parsed]
    if treatment is not None and task != "uplift":
        raise TabularDataError(
            f"--treatment is for uplift models, not {parsed}",
            hint="train an uplift model: lodestar model train uplift --treatment COLUMN",
        )
    source = Path(path)
    frame = read_table(source)
    data = prepare(frame, target, exclude=exclude, positive=positive, source=source, task=task,
                   treatment=treatment)  # fmt: skip
    about = {
        "path": str(source.resolve()),
        "sha256": fingerprint(source),
        "excluded": list(dict.fromkeys(exclude)),
    }
    return train_data(parsed, data, registry=registry, test_size=test_size, seed=seed,
                      params=params, source=about, actor=actor)  # fmt: skip
