"""Assess a registered model after training: on new rows (metrics once outcomes are known,
drift against the training reference, alerts), and as an HTML report of its held-out results.

Every assessment is kept in the model's folder (``assessments/<UTC time>.json``), so the AUC on
successive batches of new outcomes reads as a decay curve and alerts have a history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lodestar.errors import ConfigError
from lodestar.i18n import DEFAULT_LOCALE
from lodestar.modeling.tabular import TrainingData, features_frame, parse_target

if TYPE_CHECKING:
    from lodestar.modeling.monitoring import MonitoringResult, Thresholds
    from lodestar.modeling.registry import ModelRecord, ModelRegistry

ASSESSMENTS = "assessments"


@dataclass(frozen=True)
class Assessment:
    """One assessment of ``model_id`` on ``rows`` new rows."""

    model_id: str
    rows: int
    metrics: dict[str, float]  # on the new outcomes, when the data had the target
    monitoring: MonitoringResult | None
    saved_to: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "rows": self.rows,
            "metrics": self.metrics,
            "monitoring": self.monitoring.to_dict() if self.monitoring else None,
        }


def assess(
    registry: ModelRegistry,
    model_id: str,
    frame: pd.DataFrame,
    *,
    thresholds: Thresholds | None = None,
    save: bool = True,
) -> Assessment:
    """Score ``frame`` with ``model_id``; measure it against the outcomes when ``frame`` holds
    the target column, and compare it with the training reference (PSI, CSI, AUC decay)."""
    from lodestar.modeling.monitoring import ReferenceProfile, monitor
    from lodestar.modeling.training import evaluate

    record = registry.show(model_id)
    model = registry.load(model_id)
    X = features_frame(frame, record.features)  # type: ignore[arg-type]
    if len(X) == 0:
        raise ConfigError(f"no rows to assess {model_id} on")
    labels = _labels(record, frame)
    metrics: dict[str, float] = {}
    monitoring = None
    if record.task == "binary":
        scores = np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
        if labels is not None:
            if np.unique(labels).size < 2:
                raise ConfigError(
                    f"the new outcomes in '{record.target}' hold one class only: AUC needs both"
                )
            metrics = evaluate(labels, scores)
    elif record.task == "uplift":
        uplift = np.asarray(model.predict_uplift(X), dtype=np.float64)
        scores = uplift if uplift.ndim == 1 else uplift.max(axis=1)
        labels = None  # uplift on new outcomes needs the arms: measured by the experiment
    else:
        scores = np.asarray(model.predict_proba(X), dtype=np.float64).max(axis=1)
        labels = None
    raw_reference = registry.reference(model_id)
    if raw_reference is not None:
        reference = ReferenceProfile.from_dict(raw_reference, source=f"{model_id}/reference.json")
        monitoring = monitor(reference, X, scores, labels, thresholds)
    result = Assessment(model_id, len(X), metrics, monitoring)
    if save:
        folder = registry.root / model_id / ASSESSMENTS
        folder.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = folder / f"{stamp}.json"
        path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, default=str) + "\n",
                        encoding="utf-8")  # fmt: skip
        result = Assessment(model_id, len(X), metrics, monitoring, path)
    return result


def _labels(record: ModelRecord, frame: pd.DataFrame) -> np.ndarray | None:
    """0/1 outcomes from the target column when the data has it (rows without one dropped)."""
    if record.task != "binary" or record.target not in frame.columns:
        return None
    column = frame[record.target]
    if column.isna().any():
        raise ConfigError(
            f"the target column '{record.target}' is empty in {int(column.isna().sum())} rows",
            hint="assess on rows whose outcome is known, or drop the column to monitor drift only",
        )
    y, _ = parse_target(column, record.positive, column=record.target, source=Path("<data>"))
    return y


def history(registry: ModelRegistry, model_id: str) -> list[dict[str, Any]]:
    """Every saved assessment of ``model_id``, oldest first (the AUC-decay series)."""
    folder = registry.root / registry.resolve(model_id) / ASSESSMENTS
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        entry = json.loads(path.read_text("utf-8"))
        entry["at"] = path.stem
        out.append(entry)
    return out


def importance(model: Any) -> dict[str, float]:
    """Global importance by feature: a scorecard's IV, else the trees' total gain."""
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    if hasattr(model, "iv_"):
        return {str(k): float(v) for k, v in model.iv_.items()}
    values = getattr(model, "feature_importances_", None)
    if values is None or len(values) != len(names):
        return {}
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def write_report(
    registry: ModelRegistry,
    model_id: str,
    path: str | Path | None = None,
    *,
    monitoring: MonitoringResult | None = None,
    data: TrainingData | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Path:
    """The model's HTML report (held-out charts, importance, the latest monitoring) at ``path``
    (default ``models/<id>/report.html``).

    A scorecard with its training ``data`` (re-read and re-split exactly as in training) gets the
    scorecard report instead: bins, WOE, IV, points, KS, Gini and PSI between the two samples.
    """
    from lodestar.reports.model_report import write_model_report

    record = registry.show(model_id)
    model = registry.load(model_id)
    holdout = registry.holdout(model_id)
    target = Path(path) if path is not None else registry.root / model_id / "report.html"
    if record.kind == "scorecard" and data is not None:
        from lodestar.modeling.training import split
        from lodestar.reports.scorecard_report import write_scorecard_report

        parts = split(data, test_size=float(record.split["test_size"]),
                      seed=int(record.split["seed"]))  # fmt: skip
        return write_scorecard_report(model, parts.X_train, parts.y_train, parts.X_test,
                                      parts.y_test, target, locale)  # fmt: skip
    options: dict[str, Any] = {}
    kind = "uplift" if record.task == "uplift" else record.kind
    if holdout is not None and record.task == "binary":
        options = {"y": holdout["y"].to_numpy(), "scores": holdout["score"].to_numpy()}
    elif holdout is not None and record.task == "uplift":
        control = str(record.treatment.get("control", ""))
        treated = (holdout["treatment"].astype(str) != control).to_numpy().astype(np.int64)
        columns = [c for c in holdout.columns if c.startswith("uplift")]
        uplift = holdout[columns].to_numpy(dtype=np.float64).max(axis=1)
        options = {"y": holdout["y"].to_numpy(), "treatment": treated, "uplift": uplift}
    metrics = {k: v for k, v in record.metrics.items() if isinstance(v, int | float)}
    return write_model_report(target, title=f"{record.id} · {record.kind}", kind=kind,
                              importance=importance(model) or None, metrics=metrics,
                              monitoring=monitoring, locale=locale, **options)  # fmt: skip
