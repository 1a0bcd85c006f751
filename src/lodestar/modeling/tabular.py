"""Train a binary classifier from any tabular file: read, prepare, split, fit, evaluate, register.

Read a CSV (any of , ; | or tab, sniffed from the header) or a Parquet file; numeric, yes/no
(boolean) and date columns are numbers, every other column is a category (pandas ``category``
dtype, which LightGBM splits on natively); missing values stay missing for LightGBM. The target
may be 0/1, true/false or yes/no (any case), or anything with ``positive=VALUE`` naming the
positive class. Rows whose target is missing are left out and counted.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "t.csv").write_text("age;job;y\\n30;a;yes\\n40;b;no\\n")
>>> data = read_training_data(folder / "t.csv", "y")
>>> data.features, data.y.tolist(), data.positive
({'age': 'numeric', 'job': 'categorical'}, [1, 0], 'yes')
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from lodestar.data.readers import sniff_delimiter
from lodestar.errors import ConfigError

if TYPE_CHECKING:
    from lodestar.modeling.classifier import GradientBoostedClassifier
    from lodestar.modeling.registry import ModelRegistry

FeatureType = Literal["numeric", "categorical", "datetime"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
# Recognised two-valued targets, positive class first.
_BINARY_PAIRS = (("1", "0"), ("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"))
# A text column with (nearly) one value per row is an identifier: it cannot generalise.
_ID_SHARE = 0.9
_ID_MIN_ROWS = 100


class TabularDataError(ConfigError):
    """A training file, its target or its columns cannot be used; names the file and column."""

    code = "tabular_data_error"


@dataclass(frozen=True)
class TrainingData:
    """Features ready for :class:`GradientBoostedClassifier`, 0/1 labels and what was decided."""

    path: Path
    X: pd.DataFrame
    y: np.ndarray
    target: str
    positive: str
    features: dict[str, FeatureType]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it was left out
    rows_without_target: int = 0


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_file` did: the registered model and its held-out evaluation."""

    model_id: str
    kind: str
    metrics: dict[str, float]
    rows_train: int
    rows_test: int
    train_seconds: float
    data: TrainingData
    model: GradientBoostedClassifier

    def summary(self) -> dict[str, Any]:
        """One flat JSON-ready object (what ``lodestar model train --json`` prints)."""
        return {
            "model_id": self.model_id,
            "kind": self.kind,
            **{k: round(v, 6) for k, v in self.metrics.items()},
            "rows_train": self.rows_train,
            "rows_test": self.rows_test,
            "train_seconds": round(self.train_seconds, 3),
            "trees": int(self.model.n_trees_),
            "target": self.data.target,
            "positive": self.data.positive,
            "features": len(self.data.features),
            "dropped": self.data.dropped,
            "rows_without_target": self.data.rows_without_target,
        }


# -- reading ------------------------------------------------------------------------------------
def read_table(path: str | Path) -> pd.DataFrame:
    """The file as a frame: CSV (delimiter sniffed, empty text read as missing) or Parquet."""
    source = Path(path)
    if not source.is_file():
        raise TabularDataError(f"{source}: no such file")
    suffix = source.suffix.lower()
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise TabularDataError(
            f"{source}: unknown file type '{suffix}'",
            hint="use a .csv, .tsv, .txt (delimited text) or .parquet file",
        )
    if source.stat().st_size == 0:
        raise TabularDataError(f"{source}: the file is empty")
    try:
        frame = _read_parquet(source) if suffix in PARQUET_SUFFIXES else _read_csv(source)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise TabularDataError(f"{source}: cannot be read: {exc}") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise TabularDataError(f"{source}: the file has no data rows")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    import pyarrow.csv as pacsv

    with path.open("rb") as fh:
        head = fh.read(1 << 16).decode("utf-8-sig", errors="replace")
    header = head.splitlines()[0] if head.strip() else ""
    if not header.strip():
        raise TabularDataError(f"{path}: the file is empty (no header line)")
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=sniff_delimiter(header)),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )
    return table.to_pandas()


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


# -- preparing ----------------------------------------------------------------------------------
def read_training_data(
    path: str | Path,
    target: str,
    *,
    exclude: Iterable[str] = (),
    positive: str | None = None,
) -> TrainingData:
    """Read ``path`` and prepare features and 0/1 labels for ``target`` (see the module doc)."""
    source = Path(path)
    return prepare(read_table(source), target, exclude=exclude, positive=positive, source=source)


def prepare(
    frame: pd.DataFrame,
    target: str,
    *,
    exclude: Iterable[str] = (),
    positive: str | None = None,
    source: Path = Path("<frame>"),
) -> TrainingData:
    """Split ``frame`` into features and labels; errors name ``source`` and the column."""
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if target not in columns:
        raise TabularDataError(
            f"{source}: no target column '{target}'",
            hint=f"the columns are: {_listing(columns)}",
        )
    excluded = list(dict.fromkeys(exclude))
    unknown = [c for c in excluded if c not in columns]
    if unknown:
        raise TabularDataError(
            f"{source}: cannot exclude {', '.join(repr(c) for c in unknown)}: no such column",
            hint=f"the columns are: {_listing(columns)}",
        )
    if target in excluded:
        raise TabularDataError(f"{source}: the target column '{target}' cannot be excluded")
    labelled = frame[target].notna().to_numpy()
    frame = frame.loc[labelled].reset_index(drop=True)
    if len(frame) == 0:
        raise TabularDataError(f"{source}: the target column '{target}' is empty in every row")
    y, positive_label = parse_target(frame[target], positive, column=target, source=source)
    kept = [c for c in columns if c != target and c not in excluded]
    X, features, dropped = _features(frame[kept])
    if not features:
        raise TabularDataError(
            f"{source}: no feature columns left besides the target '{target}'",
            hint="exclude fewer columns" if excluded else None,
        )
    return TrainingData(
        path=source,
        X=X,
        y=y,
        target=target,
        positive=positive_label,
        features=features,
        dropped=dropped,
        rows_without_target=int((~labelled).sum()),
    )


def _label_text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def parse_target(
    values: pd.Series, positive: str | None, *, column: str, source: Path
) -> tuple[np.ndarray, str]:
    """0/1 labels from a column without missing values, and the positive class's text."""
    texts = pd.Series([_label_text(v) for v in values.to_numpy()], dtype=object)
    folded = texts.str.casefold()
    distinct = sorted(set(texts))
    where = f"{source}: target column '{column}'"
    if positive is not None:
        wanted = _label_text(positive).casefold()
        labels = (folded == wanted).to_numpy().astype(np.int64)
        if not labels.any():
            raise TabularDataError(
                f"{where} has no value '{positive}'", hint=f"its values are: {_listing(distinct)}"
            )
        if labels.all():
            raise TabularDataError(f"{where}: every row is '{positive}', nothing to tell apart")
        return labels, str(texts[labels.astype(bool)].iloc[0])
    folded_distinct = sorted(set(folded))
    if len(folded_distinct) > 2:
        raise TabularDataError(
            f"{where} has {len(folded_distinct)} values ({_listing(distinct)}), "
            "a binary target has two",
            hint="name the positive class with --positive VALUE (every other value is negative)",
        )
    if len(folded_distinct) < 2:
        raise TabularDataError(
            f"{where} has only the value '{distinct[0]}': a classifier needs both classes"
        )
    for yes, no in _BINARY_PAIRS:
        if set(folded_distinct) == {yes, no}:
            labels = (folded == yes).to_numpy().astype(np.int64)
            return labels, str(texts[labels.astype(bool)].iloc[0])
    raise TabularDataError(
        f"{where}: cannot tell which of {_listing(distinct)} is the positive class",
        hint="name it with --positive VALUE (targets of 0/1, true/false or yes/no need no hint)",
    )


def _features(
    frame: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, FeatureType], dict[str, str]]:
    features: dict[str, FeatureType] = {}
    dropped: dict[str, str] = {}
    out: dict[str, pd.Series] = {}
    rows = len(frame)
    for name in frame.columns:
        column = frame[name]
        kind = feature_type(column)
        if kind == "categorical":
            distinct = column.nunique(dropna=True)
            if rows >= _ID_MIN_ROWS and distinct >= _ID_SHARE * rows:
                dropped[name] = f"identifier-like: {distinct} different values in {rows} rows"
                continue
            if distinct == 0:
                dropped[name] = "empty in every row"
                continue
        features[name] = kind
        out[name] = convert(column, kind)
    return pd.DataFrame(out, index=frame.index), features, dropped


def feature_type(column: pd.Series) -> FeatureType:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    return "categorical"


def convert(column: pd.Series, kind: FeatureType) -> pd.Series:
    """One column as the classifier takes it: numbers as float, categories as ``category``."""
    if kind == "categorical":
        return column.astype("string").astype("category")
    if kind == "datetime":
        # Seconds since 1970: trees only need the order.
        stamps = pd.to_datetime(column)
        seconds = (stamps - pd.Timestamp("1970-01-01", tz=stamps.dt.tz)) / pd.Timedelta(seconds=1)
        return seconds.astype("float64")
    return pd.to_numeric(column, errors="coerce").astype("float64")


def features_frame(frame: pd.DataFrame, features: Mapping[str, FeatureType]) -> pd.DataFrame:
    """The columns a trained model takes, converted as in training (for scoring new rows)."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise TabularDataError(f"the data lacks the model's columns {_listing(missing)}")
    return pd.DataFrame({name: convert(frame[name], kind) for name, kind in features.items()})


def _listing(values: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


# -- splitting, training, evaluating --------------------------------------------------------------
def split(
    data: TrainingData, *, test_size: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """A stratified train/test split fixed by ``seed``: X_train, X_test, y_train, y_test."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise TabularDataError(f"--test-size must be between 0 and 1, not {test_size}")
    counts = np.bincount(data.y, minlength=2)
    test_counts = np.floor(counts * test_size)
    if counts.min() < 4 or test_counts.min() < 1 or (counts - test_counts).min() < 2:
        raise TabularDataError(
            f"{data.path}: too few rows of one class in '{data.target}' to hold some out "
            f"({int(counts[1])} positive, {int(counts[0])} negative, test share {test_size})"
        )
    parts = train_test_split(
        data.X, data.y, test_size=test_size, stratify=data.y, random_state=seed
    )
    X_train, X_test, y_train, y_test = parts
    return X_train, X_test, np.asarray(y_train), np.asarray(y_test)


def evaluate(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Held-out ranking quality: AUC, Gini, KS, top-decile lift, positives in the top 20%."""
    from lodestar.modeling import metrics

    return {
        "auc": float(metrics.roc_auc(y, score)),
        "gini": float(metrics.gini(y, score)),
        "ks": float(metrics.ks(y, score).statistic),
        "lift_top_decile": float(metrics.lift_at(y, score, 0.1)),
        "capture_top_20": float(metrics.capture_at(y, score, 0.2)),
        "positive_rate": float(np.mean(y)),
    }


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
    params: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train a ``kind`` classifier on ``path``, evaluate it on the held-out split, register it."""
    from lodestar.modeling.classifier import GradientBoostedClassifier
    from lodestar.modeling.registry import ModelRecord, classifier_kind

    model_kind = classifier_kind(kind)
    data = read_training_data(path, target, exclude=exclude, positive=positive)
    X_train, X_test, y_train, y_test = split(data, test_size=test_size, seed=seed)
    model = GradientBoostedClassifier(random_state=seed, **dict(params or {}))
    started = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    scores = model.predict_proba(X_test)[:, 1]
    metrics = evaluate(y_test, scores)
    record = ModelRecord(
        kind=model_kind,
        target=data.target,
        positive=data.positive,
        features=dict(data.features),
        parameters={**model.get_params(), "best_iteration": model.best_iteration_},
        metrics=metrics,
        data={
            "path": str(Path(path).resolve()),
            "sha256": fingerprint(path),
            "rows": len(data.X) + data.rows_without_target,
            "rows_without_target": data.rows_without_target,
            "excluded": list(dict.fromkeys(exclude)),
            "dropped": data.dropped,
        },
        split={
            "test_size": test_size,
            "seed": seed,
            "rows_train": len(y_train),
            "rows_test": len(y_test),
        },
        train_seconds=seconds,
    )
    model_id = registry.register(model, record)
    return TrainResult(
        model_id=model_id,
        kind=model_kind,
        metrics=metrics,
        rows_train=len(y_train),
        rows_test=len(y_test),
        train_seconds=seconds,
        data=data,
        model=model,
    )
