"""Population drift: PSI (population stability index) of a score and CSI (characteristic
stability index) of features, plus the binning primitives both use.

PSI compares the share of a population in each bin now (``actual``) against a reference
(``expected``, usually the training or held-out sample)::

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

Rules of thumb: < 0.1 stable, 0.1-0.25 some shift, > 0.25 a real shift. CSI is the same sum for
one feature. Numeric values are cut at the reference quantiles, categories get one bin each,
and missing values always form a bin of their own, because a change in the missing rate is
drift too.

The primitives (``quantile_edges``, ``numeric_bin_ids``, ``interval_labels``, ``is_missing``,
``psi_from_shares``) are public so that :mod:`lodestar.modeling.monitoring` can store the
reference bins at training time and compare later data against exactly those bins.

>>> psi([1, 2, 3, 4], [1, 2, 3, 4])
0.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lodestar.modeling.metrics import FloatArray, IntArray, _bin_count, _vector

#: Share given to a PSI bin that holds no rows on one side, so that log(actual / expected) is
#: finite. 0.01% is small enough not to mask a real shift and is the usual choice in scorecard
#: monitoring; the other shares are left as they are.
PSI_EMPTY_SHARE = 1e-4

MISSING_LABEL = "missing"


@dataclass(frozen=True)
class PsiTable:
    """Population stability by bin: each bin's share of the expected (reference) and actual
    population and its term ``(actual - expected) * ln(actual / expected)``; ``value`` is
    their sum. Rules of thumb: < 0.1 stable, 0.1-0.25 some shift, > 0.25 a real shift."""

    labels: tuple[str, ...]
    expected_share: FloatArray
    actual_share: FloatArray
    contribution: FloatArray
    value: float

    def rows(self) -> list[dict[str, float | str]]:
        """One plain dict per bin, ready for JSON or a report table."""
        return [
            {
                "bin": label,
                "expected_share": float(e),
                "actual_share": float(a),
                "contribution": float(c),
            }
            for label, e, a, c in zip(
                self.labels, self.expected_share, self.actual_share, self.contribution, strict=True
            )
        ]


# --------------------------------------------------------------------------- binning primitives


def is_missing(values: np.ndarray) -> npt.NDArray[np.bool_]:
    """True where a value is NaN or None (and, for object arrays, pandas' NA / NaT)."""
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind == "M":
        return np.isnat(values)
    if values.dtype.kind == "O":
        return np.array(
            [
                v is None
                or (isinstance(v, float) and math.isnan(v))
                or type(v).__name__ in ("NAType", "NaTType")
                for v in values
            ],
            dtype=bool,
        )
    return np.zeros(values.size, dtype=bool)


def quantile_edges(reference: npt.ArrayLike, bins: int) -> FloatArray:
    """Interior bin edges at the quantiles of the non-missing ``reference`` values.

    Repeated quantiles (a heavy tie) merge bins, so there are at most ``bins - 1`` edges; an
    all-missing reference has none.

    >>> quantile_edges([1, 2, 3, 4, 5, 6, 7, 8], 4).tolist()
    [2.75, 4.5, 6.25]
    """
    values = np.asarray(reference, dtype=np.float64)
    present = values[~np.isnan(values)]
    if np.isinf(present).any():
        raise ValueError("values must not be infinite")
    if present.size == 0:
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(present, np.linspace(0, 1, bins + 1))[1:-1])


def numeric_bin_ids(values: npt.ArrayLike, edges: FloatArray) -> IntArray:
    """Bin of each value for interior ``edges``: bins are ``(-inf, e0], (e0, e1], ... (ek, inf)``,
    so a value on an edge goes to the lower bin and values outside the reference range still
    count; NaN goes to the extra last bin ``edges.size + 1`` (missing)."""
    array = np.asarray(values, dtype=np.float64)
    ids = np.searchsorted(edges, array, side="left").astype(np.int64)
    ids[np.isnan(array)] = edges.size + 1
    return ids


def interval_labels(
    edges: Sequence[float] | FloatArray, fmt: Callable[[float], str] = "{:.6g}".format
) -> tuple[str, ...]:
    """Labels of the bins that ``numeric_bin_ids`` makes, the missing bin last.

    >>> interval_labels([4.5])
    ('(-inf, 4.5]', '(4.5, inf]', 'missing')
    """
    bounds = [-math.inf, *edges, math.inf]
    labels = tuple(
        f"({'-inf' if math.isinf(lo) else fmt(lo)}, {'inf' if math.isinf(hi) else fmt(hi)}]"
        for lo, hi in itertools.pairwise(bounds)
    )
    return (*labels, MISSING_LABEL)


def psi_from_shares(
    labels: Sequence[str], expected_share: npt.ArrayLike, actual_share: npt.ArrayLike
) -> PsiTable:
    """PSI from the share of each population in each bin (each side summing to 1).

    Bins empty on both sides are dropped; a bin empty on one side takes ``PSI_EMPTY_SHARE``.

    >>> round(psi_from_shares(["a", "b"], [0.5, 0.5], [0.8, 0.2]).value, 6)
    0.415888
    """
    expected = np.asarray(expected_share, dtype=np.float64)
    actual = np.asarray(actual_share, dtype=np.float64)
    if not len(labels) == expected.size == actual.size:
        raise ValueError(
            f"labels, expected_share and actual_share differ in length: "
            f"{len(labels)}, {expected.size}, {actual.size}"
        )
    used = (expected + actual) > 0
    expected = np.maximum(expected[used], PSI_EMPTY_SHARE)
    actual = np.maximum(actual[used], PSI_EMPTY_SHARE)
    # Each term is >= 0 ((a - e) and ln(a / e) share a sign), so PSI >= 0 even with the floor.
    contribution = (actual - expected) * np.log(actual / expected)
    return PsiTable(
        labels=tuple(label for label, keep in zip(labels, used, strict=True) if keep),
        expected_share=expected,
        actual_share=actual,
        contribution=contribution,
        value=float(contribution.sum()),
    )


# --------------------------------------------------------------------------- PSI / CSI


def _numeric_bins(
    expected: FloatArray, actual: FloatArray, bins: int
) -> tuple[tuple[str, ...], IntArray, IntArray]:
    if np.isinf(expected).any() or np.isinf(actual).any():
        raise ValueError("expected and actual must not hold infinite values")
    edges = quantile_edges(expected, bins)
    return interval_labels(edges), numeric_bin_ids(expected, edges), numeric_bin_ids(actual, edges)


def _categorical_bins(
    expected: np.ndarray, actual: np.ndarray
) -> tuple[tuple[str, ...], IntArray, IntArray]:
    missing_expected, missing_actual = is_missing(expected), is_missing(actual)
    present = np.concatenate([expected[~missing_expected], actual[~missing_actual]])
    try:
        categories = np.unique(present)
    except TypeError as err:
        raise ValueError(f"categories cannot be compared with each other: {err}") from err

    def assign(values: np.ndarray, missing: npt.NDArray[np.bool_]) -> IntArray:
        ids = np.full(values.size, categories.size, dtype=np.int64)
        ids[~missing] = np.searchsorted(categories, values[~missing])
        return ids

    labels = (*(str(c) for c in categories), MISSING_LABEL)
    return labels, assign(expected, missing_expected), assign(actual, missing_actual)


def psi_table(
    expected: npt.ArrayLike, actual: npt.ArrayLike, bins: int = 10, categorical: bool | None = None
) -> PsiTable:
    """PSI of ``actual`` against ``expected`` (the reference, e.g. the training sample), by bin.

    Numeric values: ``bins`` bins cut at the quantiles of ``expected`` (fewer when quantiles
    repeat), open at both ends so actual values outside the reference range still count.
    Categorical values (strings, booleans, objects, or ``categorical=True``): one bin per
    category seen on either side. NaN / None form their own "missing" bin, because a change in
    the missing rate is drift too. A bin empty on one side takes the share ``PSI_EMPTY_SHARE``.
    Bins empty on both sides are dropped.
    """
    reference, current = _vector("expected", expected), _vector("actual", actual)
    if categorical is None:
        categorical = reference.dtype.kind not in "iuf" or current.dtype.kind not in "iuf"
    if categorical:
        labels, expected_ids, actual_ids = _categorical_bins(reference, current)
    else:
        count = _bin_count(bins, max(reference.size, bins))
        labels, expected_ids, actual_ids = _numeric_bins(
            reference.astype(np.float64), current.astype(np.float64), count
        )
    expected_counts = np.bincount(expected_ids, minlength=len(labels))
    actual_counts = np.bincount(actual_ids, minlength=len(labels))
    return psi_from_shares(labels, expected_counts / reference.size, actual_counts / current.size)


def psi(
    expected: npt.ArrayLike, actual: npt.ArrayLike, bins: int = 10, categorical: bool | None = None
) -> float:
    """Population stability index of ``actual`` against ``expected``; see ``psi_table``.

    >>> psi([1, 2, 3, 4], [1, 2, 3, 4])
    0.0
    """
    return psi_table(expected, actual, bins, categorical).value


def csi(expected: Mapping[str, Any], actual: Mapping[str, Any], bins: int = 10) -> dict[str, float]:
    """Characteristic stability index: PSI of each feature, by feature name. Both mappings
    (e.g. ``{name: column}``) must hold the same features; string and boolean columns are
    binned by category."""
    if set(expected) != set(actual):
        only_expected = sorted(set(expected) - set(actual))
        only_actual = sorted(set(actual) - set(expected))
        raise ValueError(
            f"features differ: only in expected {only_expected}, only in actual {only_actual}"
        )
    return {name: psi(expected[name], actual[name], bins) for name in expected}
