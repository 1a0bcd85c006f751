"""Read any tabular file and prepare it for training: features, labels, treatment arms.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lodestar.data.readers import sniff_delimiter
from lodestar.errors import ConfigError

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


#: The column of a next-best-product frame listing the products each row holds ("a|b").
HELD_COLUMN = "held_products"

#: What a model learns to predict: a 0/1 class, the effect of a treatment on an outcome (0/1 or
#: an amount), or one of several labels (the next product).
Task = Literal["binary", "uplift", "multiclass"]
#: How the target was read: two classes, an amount (uplift on revenue), or several labels.
Outcome = Literal["binary", "continuous", "multiclass"]


@dataclass(frozen=True)
class TrainingData:
    """Features ready for the estimators, labels and what was decided about the columns.

    ``y`` is 0/1 (``outcome="binary"``), float amounts (``"continuous"``) or label strings
    (``"multiclass"``). ``treatment`` holds the arm of each row for uplift, as written in the file.
    """

    path: Path
    X: pd.DataFrame
    y: np.ndarray
    target: str
    positive: str
    features: dict[str, FeatureType]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it was left out
    rows_without_target: int = 0
    outcome: Outcome = "binary"
    treatment: np.ndarray | None = None
    treatment_column: str | None = None


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
    # A header cell left empty (pandas' saved index) gets a name that can be typed.
    names = [str(c) if str(c).strip() else f"column_{i + 1}" for i, c in enumerate(frame.columns)]
    return frame.set_axis(names, axis=1)


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
    task: Task = "binary",
    treatment: str | None = None,
) -> TrainingData:
    """Read ``path`` and prepare features and labels for ``target`` (see the module doc)."""
    source = Path(path)
    return prepare(read_table(source), target, exclude=exclude, positive=positive, source=source,
                   task=task, treatment=treatment)  # fmt: skip


def prepare(
    frame: pd.DataFrame,
    target: str,
    *,
    exclude: Iterable[str] = (),
    positive: str | None = None,
    source: Path = Path("<frame>"),
    task: Task = "binary",
    treatment: str | None = None,
) -> TrainingData:
    """Split ``frame`` into features and labels; errors name ``source`` and the column.

    ``task="uplift"`` needs ``treatment`` (the column holding each row's arm); its outcome is 0/1
    when the target reads as two classes (or ``positive`` is given), else a number such as spend.
    ``task="multiclass"`` keeps the target's values as labels.
    """
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if target not in columns:
        raise TabularDataError(
            f"{source}: no target column '{target}'",
            hint=f"the columns are: {_listing(columns)}",
        )
    if task == "uplift" and treatment is None:
        raise TabularDataError(
            f"{source}: an uplift model needs the column that says who was treated",
            hint="name it with --treatment COLUMN (control rows hold 0, control, none or no)",
        )
    if treatment is not None and treatment not in columns:
        raise TabularDataError(
            f"{source}: no treatment column '{treatment}'",
            hint=f"the columns are: {_listing(columns)}",
        )
    if treatment is not None and treatment == target:
        raise TabularDataError(f"{source}: '{target}' cannot be both the target and the treatment")
    excluded = list(dict.fromkeys(exclude))
    unknown = [c for c in excluded if c not in columns]
    if unknown:
        raise TabularDataError(
            f"{source}: cannot exclude {', '.join(repr(c) for c in unknown)}: no such column",
            hint=f"the columns are: {_listing(columns)}",
        )
    for name, role in ((target, "target"), (treatment, "treatment")):
        if name is not None and name in excluded:
            raise TabularDataError(f"{source}: the {role} column '{name}' cannot be excluded")
    labelled = frame[target].notna().to_numpy().copy()
    if treatment is not None:
        labelled &= frame[treatment].notna().to_numpy()
    frame = frame.loc[labelled].reset_index(drop=True)
    if len(frame) == 0:
        raise TabularDataError(f"{source}: the target column '{target}' is empty in every row")
    outcome: Outcome
    if task == "multiclass":
        y = np.array([_label_text(v) for v in frame[target].to_numpy()], dtype=object)
        if len(set(y)) < 2:
            raise TabularDataError(
                f"{source}: target column '{target}' has only the value '{y[0]}': "
                "nothing to choose between"
            )
        positive_label, outcome = "", "multiclass"
    elif task == "uplift":
        y, positive_label, outcome = _uplift_outcome(frame[target], positive, target, source)
    else:
        y, positive_label = parse_target(frame[target], positive, column=target, source=source)
        outcome = "binary"
    arms = None
    if treatment is not None:
        arms = np.array([_label_text(v) for v in frame[treatment].to_numpy()], dtype=object)
    kept = [c for c in columns if c not in (target, treatment) and c not in excluded]
    # Next-best-product: the products held stay raw text beside the features; the model reads
    # them to leave held products out of its ranking, never as a feature.
    held = HELD_COLUMN if task == "multiclass" and HELD_COLUMN in kept else None
    X, features, dropped = _features(frame[[c for c in kept if c != held]])
    if held is not None:
        X[held] = frame[held].astype(object).to_numpy()
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
        outcome=outcome,
        treatment=arms,
        treatment_column=treatment,
    )


def _uplift_outcome(
    values: pd.Series, positive: str | None, column: str, source: Path
) -> tuple[np.ndarray, str, Outcome]:
    """0/1 when the column reads as two classes (or ``positive`` names one), else an amount."""
    if positive is None and pd.api.types.is_numeric_dtype(values) and values.nunique() > 2:
        amounts = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return amounts, "", "continuous"
    y, label = parse_target(values, positive, column=column, source=source)
    return y, label, "binary"


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
        if kind == "numeric" and _row_number(column):
            dropped[name] = "row number: distinct whole numbers rising row by row"
            continue
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


def _row_number(column: pd.Series) -> bool:
    """A column counting the rows (1, 2, 3, ... with gaps where rows were skipped): it carries
    only the file's order, which a model must not learn."""
    if len(column) < _ID_MIN_ROWS or column.isna().any() or pd.api.types.is_bool_dtype(column):
        return False
    values = column.to_numpy(dtype=np.float64)
    if not np.all(np.mod(values, 1) == 0):
        return False
    steps = np.diff(values)
    return bool(np.all(steps > 0) and values[-1] - values[0] + 1 <= 1.25 * len(values))


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
