"""Treatment arms of a past campaign: which value of the treatment column is the control, which
are the treatments, and the checks every uplift learner runs on its inputs.

A treatment column holds one control value and k >= 1 treatment values (strings or integers).
The control is named by the caller or, when not named, found among the usual spellings
(:data:`CONTROL_NAMES`, case-insensitive, plus the number 0). Treatments are the other values,
sorted; rows are coded 0 for control and ``j`` for the ``j``-th treatment (1-based), so a plain
0/1 column keeps its meaning.

>>> import numpy as np
>>> arms = treatment_arms(np.array(["mens", "No E-Mail", "womens", "mens"]))
>>> arms.control, arms.treatments, arms.codes.tolist()
('No E-Mail', ('mens', 'womens'), [1, 0, 2, 1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lodestar.modeling.classifier import as_frame

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Spellings taken as the control value when ``control`` is not given (compared after
#: ``str().strip().lower()``); the number 0 counts too. "no e-mail" is Hillstrom's.
CONTROL_NAMES = ("0", "control", "none", "no", "no e-mail")

#: Fewest rows an arm may have. Below this an arm's outcome model is a constant and its effect
#: estimate is noise; better to say so than to return it.
MIN_ARM_ROWS = 20

#: Name of the treatment column the S-learner adds to the features.
TREATMENT_FEATURE = "__treatment__"


@dataclass(frozen=True)
class TreatmentArms:
    """The control value, the sorted treatment values and each row's arm code (0 = control,
    ``j`` = ``treatments[j - 1]``)."""

    control: Any
    treatments: tuple[Any, ...]
    codes: IntArray

    def pair(self, j: int) -> tuple[npt.NDArray[np.bool_], IntArray]:
        """Rows in the control arm or treatment ``j`` (1-based), and their 0/1 flags."""
        rows = (self.codes == 0) | (self.codes == j)
        return rows, (self.codes[rows] == j).astype(np.int64)


def _plain(value: Any) -> Any:
    # numpy scalars -> Python scalars, so labels print and compare as users typed them
    return value.item() if isinstance(value, np.generic) else value


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _is_control_name(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float) and value == 0:
        return True
    return str(value).strip().lower() in CONTROL_NAMES


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed kinds (1 and "mail"): sort by text so the order is still fixed
        return sorted(values, key=str)


def treatment_arms(treatment: npt.ArrayLike, control: Any = None) -> TreatmentArms:
    """Find the control and the treatments of ``treatment`` and code each row."""
    raw = treatment.to_numpy(dtype=object) if isinstance(treatment, pd.Series) else treatment
    values = np.asarray(raw, dtype=object)
    if values.ndim != 1:
        raise ValueError(f"treatment must be one-dimensional, got shape {values.shape}")
    if any(_missing(v) for v in values):
        raise ValueError("treatment has missing values: every row needs its arm")
    distinct = _sorted([_plain(v) for v in pd.unique(pd.Series(values))])
    if not distinct:
        raise ValueError("treatment is empty")
    if len(distinct) < 2:
        raise ValueError(
            f"treatment has only one value ({distinct[0]!r}): need a control arm and at least "
            "one treatment arm"
        )
    if control is None:
        found = [v for v in distinct if _is_control_name(v)]
        if len(found) != 1:
            why = "none of them looks like" if not found else f"{found} all look like"
            raise ValueError(
                f"treatment values are {distinct[:10]}: {why} the control; pass control=<value> "
                f"(recognised without it: 0, {', '.join(repr(n) for n in CONTROL_NAMES[1:])})"
            )
        control = found[0]
    elif control not in distinct:
        raise ValueError(
            f"control {control!r} is not a value of treatment; its values are {distinct[:10]}"
        )
    treatments = tuple(v for v in distinct if v != control)
    codes = np.zeros(values.size, dtype=np.int64)
    for j, label in enumerate(treatments, start=1):
        codes[values == label] = j
    return TreatmentArms(control=control, treatments=treatments, codes=codes)


def check_inputs(
    X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike, outcome: str, control: Any
) -> tuple[pd.DataFrame, FloatArray, TreatmentArms]:
    """Validated features, float outcomes and arms; every error says what is wrong and where."""
    if outcome not in ("binary", "continuous"):
        raise ValueError(f"outcome must be 'binary' or 'continuous', not {outcome!r}")
    frame = as_frame(X)
    if frame.shape[1] == 0:
        raise ValueError("X has no feature columns")
    if TREATMENT_FEATURE in frame.columns:
        raise ValueError(f"X must not have a column named {TREATMENT_FEATURE!r}")
    values = np.asarray(y)
    size = np.shape(treatment)
    if values.ndim != 1 or len(size) != 1:
        raise ValueError(
            f"y and treatment must be one-dimensional, got shapes {values.shape}, {size}"
        )
    if not len(frame) == values.size == size[0]:
        raise ValueError(
            f"lengths differ: X has {len(frame)} rows, y {values.size}, treatment {size[0]}"
        )
    if values.dtype.kind not in "biuf" or not np.isfinite(values.astype(np.float64)).all():
        raise ValueError("y must be numeric with no NaN or infinite values")
    arms = treatment_arms(treatment, control)
    outcomes = values.astype(np.float64)
    if outcome == "binary" and not np.isin(outcomes, (0.0, 1.0)).all():
        raise ValueError("outcome='binary' needs y of only 0 and 1; use 'continuous'")
    for j, label in enumerate((arms.control, *arms.treatments)):
        name = f"the control arm ({label!r})" if j == 0 else f"the treatment arm {label!r}"
        rows = arms.codes == j
        if rows.sum() < MIN_ARM_ROWS:
            raise ValueError(
                f"{name} has {int(rows.sum())} rows; each arm needs at least {MIN_ARM_ROWS}"
            )
        if outcome == "binary" and np.unique(outcomes[rows]).size < 2:
            raise ValueError(f"{name} has only one outcome value: need both 0 and 1")
    return frame, outcomes, arms


def categorical(column: pd.Series) -> bool:
    """Whether a feature column is treated as categorical (category, object or string)."""
    return bool(
        isinstance(column.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(column.dtype)
        or pd.api.types.is_string_dtype(column.dtype)
    )


__all__ = [
    "CONTROL_NAMES",
    "MIN_ARM_ROWS",
    "TREATMENT_FEATURE",
    "TreatmentArms",
    "check_inputs",
    "treatment_arms",
]
