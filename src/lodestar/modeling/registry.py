"""The model registry: one folder per trained model under ``<workspace>/models/<id>/``.

Each folder holds ``model.joblib`` (the fitted estimator), ``model.txt`` (LightGBM's own text
model, readable without Lodestar) and ``meta.json``: kind, creation time, the training file's
sha256, parameters, features with their types, held-out metrics, target and positive class.
Ids are ``<kind>-v<n>``, numbered per kind; a folder is claimed with an exclusive ``mkdir`` so
two trainings at once never share an id.

>>> import tempfile
>>> registry = ModelRegistry(tempfile.mkdtemp())
>>> registry.list()
[]
"""

from __future__ import annotations

import json
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


#: Kinds trained today: binary gradient-boosted classifiers.
CLASSIFIER_KINDS = (ModelKind.RESPONSE, ModelKind.RISK, ModelKind.CHURN)


def classifier_kind(kind: str) -> ModelKind:
    """``kind`` as a :class:`ModelKind` that can be trained now, else a clear error."""
    available = ", ".join(CLASSIFIER_KINDS)
    try:
        parsed = ModelKind(kind.strip().lower())
    except ValueError:
        raise ModelError(
            f"unknown model kind '{kind}'",
            hint=f"kinds: {', '.join(ModelKind)}; available now: {available}",
        ) from None
    if parsed not in CLASSIFIER_KINDS:
        raise ModelError(
            f"'{parsed}' models are not available yet",
            hint=f"available now: {available}",
        )
    return parsed


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

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ModelRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})


class ModelRegistry:
    """Trained models in ``root`` (a workspace's ``models/`` folder)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def register(self, model: Any, record: ModelRecord) -> str:
        """Save ``model`` with ``record`` as the next version of its kind; returns the id."""
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
        record.versions = {
            "lodestar": getattr(lodestar, "__version__", "unknown"),
            "lightgbm": lightgbm.__version__,
            "scikit-learn": sklearn.__version__,
        }
        joblib.dump(model, folder / MODEL_FILE)
        booster = getattr(model, "booster_", None)
        if booster is not None:
            booster.save_model(str(folder / BOOSTER_FILE))
        # meta.json last: a folder without it is an interrupted save, skipped by list().
        text = json.dumps(asdict(record), indent=2, ensure_ascii=False, default=_plain)
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


def _plain(value: Any) -> Any:
    """numpy scalars and paths in JSON."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
