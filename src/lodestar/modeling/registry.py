"""The model registry: one folder per trained model under ``<workspace>/models/<id>/``.

Each folder holds ``model.joblib`` (the fitted estimator), ``model.txt`` (LightGBM's own text
model, readable without Lodestar, for the single-booster kinds), ``meta.json`` (kind, creation
time, the training data's sha256, parameters, features with their types, held-out metrics,
target and positive class), ``holdout.parquet`` (the held-out rows' labels and scores, from
which reports are drawn) and ``reference.json`` (the distributions that monitoring compares new
data against). Ids are ``<kind>-v<n>``, numbered per kind; a folder is claimed with an
exclusive ``mkdir`` so two trainings at once never share an id.

Promotion: one model per kind is the *champion* (``stages.json``), the one that scoring by kind
and the decisioning stage use; every promotion is kept in the file's history.

>>> import tempfile
>>> registry = ModelRegistry(tempfile.mkdtemp())
>>> registry.list()
[]
"""

from __future__ import annotations

import builtins
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from lodestar.errors import LodestarError

META_FILE = "meta.json"
MODEL_FILE = "model.joblib"
BOOSTER_FILE = "model.txt"
HOLDOUT_FILE = "holdout.parquet"
REFERENCE_FILE = "reference.json"
STAGES_FILE = "stages.json"
_ID = re.compile(r"^(?P<kind>[a-z]+)-v(?P<version>\d+)$")


class ModelError(LodestarError):
    """An unknown model kind or id, or a registry entry that cannot be read."""

    code = "model_error"


class ModelKind(StrEnum):
    RESPONSE = "response"
    RISK = "risk"
    CHURN = "churn"
    UPLIFT = "uplift"
    SCORECARD = "scorecard"
    NBP = "nbp"


def model_kind(kind: str) -> ModelKind:
    """``kind`` as a :class:`ModelKind`, else a clear error listing the kinds."""
    try:
        return ModelKind(kind.strip().lower())
    except ValueError:
        raise ModelError(
            f"unknown model kind '{kind}'", hint=f"kinds: {', '.join(ModelKind)}"
        ) from None


@dataclass
class ModelRecord:
    """What ``meta.json`` says about one model (``id``/``version``/``created_at`` on register)."""

    kind: str
    target: str
    positive: str
    features: dict[str, str]
    parameters: dict[str, Any]
    metrics: dict[str, float]
    data: dict[str, Any]
    split: dict[str, Any]
    train_seconds: float
    id: str = ""
    version: int = 0
    created_at: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    #: binary, uplift or multiclass (records from before uplift / nbp existed are binary)
    task: str = "binary"
    #: how the target was read: binary, continuous (an amount) or multiclass
    outcome: str = "binary"
    #: uplift: the treatment column, its control value and the treatments
    treatment: dict[str, Any] = field(default_factory=dict)
    #: the estimator's class, e.g. lodestar.modeling.classifier.GradientBoostedClassifier
    estimator: str = ""
    #: who trained it
    actor: str = ""
    #: held-out results that are tables rather than numbers (uplift by decile, per product AUC)
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ModelRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})


class ModelRegistry:
    """Trained models in ``root`` (a workspace's ``models/`` folder)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def register(
        self,
        model: Any,
        record: ModelRecord,
        *,
        holdout: Any = None,
        reference: dict[str, Any] | None = None,
    ) -> str:
        """Save ``model`` with ``record`` as the next version of its kind; returns the id.

        ``holdout`` (a pandas frame of held-out labels and scores) and ``reference`` (a
        JSON-ready monitoring reference) are kept beside the model when given.
        """
        import joblib
        import lightgbm
        import sklearn

        import lodestar

        self.root.mkdir(parents=True, exist_ok=True)
        version = self._next_version(record.kind)
        while True:
            folder = self.root / f"{record.kind}-v{version}"
            try:
                folder.mkdir()
                break
            except FileExistsError:
                version += 1
        record.id = folder.name
        record.version = version
        record.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        record.estimator = f"{type(model).__module__}.{type(model).__qualname__}"
        record.versions = {
            "lodestar": getattr(lodestar, "__version__", "unknown"),
            "lightgbm": lightgbm.__version__,
            "scikit-learn": sklearn.__version__,
        }
        joblib.dump(model, folder / MODEL_FILE)
        booster = getattr(model, "booster_", None)
        if booster is not None:
            booster.save_model(str(folder / BOOSTER_FILE))
        if holdout is not None:
            holdout.to_parquet(folder / HOLDOUT_FILE, index=False)
        if reference is not None:
            text = json.dumps(reference, ensure_ascii=False, default=_plain)
            (folder / REFERENCE_FILE).write_text(text + "\n", encoding="utf-8")
        # meta.json last: a folder without it is an interrupted save, skipped by list().
        text = json.dumps(_finite(asdict(record)), indent=2, ensure_ascii=False, default=_plain)
        (folder / META_FILE).write_text(text + "\n", encoding="utf-8")
        return record.id

    def _next_version(self, kind: str) -> int:
        versions = [
            int(m["version"])
            for p in self.root.iterdir()
            if (m := _ID.match(p.name)) and m["kind"] == kind
        ]
        return max(versions, default=0) + 1

    def list(self, kind: str | None = None) -> list[ModelRecord]:
        """Registered models, oldest first (by kind, then version)."""
        if not self.root.is_dir():
            return []
        records = [
            self._read(p)
            for p in self.root.iterdir()
            if _ID.match(p.name) and (p / META_FILE).is_file()
        ]
        records = [r for r in records if kind is None or r.kind == kind]
        return sorted(records, key=lambda r: (r.created_at, r.kind, r.version))

    def show(self, model_id: str) -> ModelRecord:
        """The record of ``model_id``."""
        return self._read(self._folder(model_id))

    def load(self, model_id: str) -> Any:
        """The fitted estimator saved as ``model_id``."""
        import joblib

        return joblib.load(self._folder(model_id) / MODEL_FILE)

    def holdout(self, model_id: str) -> Any:
        """The held-out rows' labels and scores (a pandas frame), or None for older models."""
        import pandas as pd

        path = self._folder(model_id) / HOLDOUT_FILE
        return pd.read_parquet(path) if path.is_file() else None

    def reference(self, model_id: str) -> dict[str, Any] | None:
        """The monitoring reference saved at training, or None for older models."""
        path = self._folder(model_id) / REFERENCE_FILE
        if not path.is_file():
            return None
        return dict(json.loads(path.read_text("utf-8")))

    # -- stages ---------------------------------------------------------------------------------
    def _stages(self) -> dict[str, Any]:
        path = self.root / STAGES_FILE
        if not path.is_file():
            return {"champions": {}, "history": []}
        try:
            return dict(json.loads(path.read_text("utf-8")))
        except ValueError as exc:
            raise ModelError(f"{path}: cannot be read: {exc}") from None

    def champions(self) -> dict[str, str]:
        """The champion model id of each kind that has one."""
        return dict(self._stages().get("champions", {}))

    def champion(self, kind: str) -> str | None:
        return self.champions().get(str(model_kind(kind)))

    def promotions(self) -> builtins.list[dict[str, Any]]:
        """Every promotion, oldest first: kind, model, replaced, who, when, why."""
        return list(self._stages().get("history", []))

    def promote(self, model_id: str, *, actor: str, reason: str = "") -> str | None:
        """Make ``model_id`` its kind's champion; returns the champion it replaces (if any)."""
        record = self.show(model_id)
        stages = self._stages()
        champions = stages.setdefault("champions", {})
        before = champions.get(record.kind)
        champions[record.kind] = model_id
        stages.setdefault("history", []).append({
            "kind": record.kind, "model_id": model_id, "replaced": before, "actor": actor,
            "at": datetime.now(UTC).isoformat(timespec="seconds"), "reason": reason,
        })  # fmt: skip
        path = self.root / STAGES_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(stages, indent=2, ensure_ascii=False) + "\n", "utf-8")
        temporary.replace(path)  # atomic: a reader never sees half a file
        return before

    def resolve(self, id_or_kind: str) -> str:
        """A model id as given, or for a kind its champion, else its latest version."""
        if _ID.match(id_or_kind):
            self._folder(id_or_kind)
            return id_or_kind
        kind = model_kind(id_or_kind)
        champion = self.champion(kind)
        if champion:
            return champion
        records = self.list(kind)
        if not records:
            raise ModelError(
                f"no {kind} model in {self.root}",
                hint=f"train one with: lodestar model train {kind}",
            )
        return max(records, key=lambda r: r.version).id

    def _folder(self, model_id: str) -> Path:
        folder = self.root / model_id
        if not _ID.match(model_id) or not (folder / META_FILE).is_file():
            ids = [r.id for r in self.list()]
            raise ModelError(
                f"no model '{model_id}' in {self.root}",
                hint=f"registered: {', '.join(ids)}"
                if ids
                else "train one with: lodestar model train",
            )
        return folder

    def _read(self, folder: Path) -> ModelRecord:
        try:
            return ModelRecord.from_json(json.loads((folder / META_FILE).read_text("utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{folder / META_FILE}: cannot be read: {exc}") from None


def _finite(value: Any) -> Any:
    """NaN and infinities as null: meta.json stays strict JSON that any tool can read."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """numpy scalars and paths in JSON."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
