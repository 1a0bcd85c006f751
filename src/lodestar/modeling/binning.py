"""Optimal binning of one feature into WOE bins, as a credit scorecard uses it.

optbinning (Apache-2.0) finds the split points: the bins that maximise information value under a
monotonic event-rate constraint and a minimum bin size, solved exactly with a constraint
programming solver. Everything after that is done here from the split points alone: assigning
rows to bins, counting, WOE and IV. That keeps the bin statistics identical between fitting and
scoring (the table is counted with the very function that scores) and away from optbinning's
table builder, which warns under pandas 3.

Bins of a feature, in order: the regular bins, then ``special`` (values listed as special codes,
e.g. 96 / 98 "refused" codes), ``missing`` and ``unseen`` (a category never met in training).
The last is never counted and scores WOE 0, the population average, as does any empty bin.

WOE follows optbinning's sign: ``ln(share of goods / share of bads)`` — positive in bins safer
than average. IV per bin is ``(share of goods − share of bads) × WOE``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=2000)
>>> y = (rng.random(2000) < 1 / (1 + np.exp(-2 * x))).astype(int)
>>> b = bin_feature("x", x, y)
>>> bool(b.woe[0] > 0 > b.woe[b.n_regular - 1])  # low x: fewer events, so safer
True
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

FeatureKind = Literal["numeric", "categorical"]

SPECIAL, MISSING, UNSEEN = "special", "missing", "unseen"
# A bin of only goods or only bads has an infinite WOE; half a row on each side keeps it finite
# and strong (the usual Haldane correction), only for such bins.
_PURE_BIN_PSEUDOCOUNT = 0.5


class BinningError(ValueError):
    """The solver found no binning for a feature; the scorecard leaves the feature out."""


@dataclass(frozen=True)
class FeatureBinning:
    """The fitted bins of one feature and their training statistics (one entry per bin:
    the regular bins, then special, missing and unseen)."""

    name: str
    kind: FeatureKind
    splits: npt.NDArray[np.float64]  # numeric: the n_regular - 1 inner edges, bins are [a, b)
    groups: tuple[tuple[str, ...], ...]  # categorical: the categories of each regular bin
    special_codes: tuple[float, ...]
    labels: tuple[str, ...]
    count: npt.NDArray[np.int64]
    events: npt.NDArray[np.int64]
    woe: npt.NDArray[np.float64]
    iv_contribution: npt.NDArray[np.float64]

    @property
    def n_regular(self) -> int:
        return len(self.labels) - 3

    @property
    def iv(self) -> float:
        return float(self.iv_contribution.sum())

    @property
    def event_rate(self) -> npt.NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.count > 0, self.events / np.maximum(self.count, 1), np.nan)

    def assign(self, values: pd.Series | npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Bin index of each value."""
        k = self.n_regular
        if self.kind == "numeric":
            x = np.asarray(values, dtype=np.float64)
            # side="right": a value equal to an edge opens the upper bin, as optbinning's [a, b)
            ids = np.searchsorted(self.splits, x, side="right").astype(np.int64)
            if self.special_codes:
                ids[np.isin(x, self.special_codes)] = k
            ids[np.isnan(x)] = k + 1
            return ids
        text = categorical_values(pd.Series(values))
        lookup = {c: i for i, group in enumerate(self.groups) for c in group}
        mapped = pd.Series(text).map(lookup)
        ids = np.array(mapped.fillna(k + 2).to_numpy(dtype=np.int64), copy=True)
        ids[pd.isna(text)] = k + 1
        return ids

    def transform(self, values: pd.Series | npt.ArrayLike) -> npt.NDArray[np.float64]:
        """WOE of each value."""
        return self.woe[self.assign(values)]


def categorical_values(column: pd.Series) -> npt.NDArray[np.object_]:
    """Values as text (categories may be numbers), missing as NaN: what the bins hold."""
    # A copy: optbinning writes into the array it is given.
    return np.array(column.astype("string").to_numpy(dtype=object, na_value=np.nan), copy=True)


def feature_kind(column: pd.Series) -> FeatureKind:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return "categorical"


def _numeric_label(lo: float, hi: float) -> str:
    left = "(-inf" if np.isneginf(lo) else f"[{lo:.6g}"
    right = "inf)" if np.isposinf(hi) else f"{hi:.6g})"
    return f"{left}, {right}"


def bin_feature(
    name: str,
    values: pd.Series | npt.ArrayLike,
    y: npt.NDArray[np.int64],
    *,
    kind: FeatureKind | None = None,
    special_codes: Sequence[float] = (),
    monotonic_trend: str = "auto_asc_desc",
    max_n_bins: int | None = 8,
    min_bin_size: float = 0.05,
    max_n_prebins: int = 20,
    time_limit: float = 60,
) -> FeatureBinning:
    """Optimal bins of one feature for the 0/1 event ``y``; see the module doc.

    Raises ``ValueError`` naming the feature when it holds infinite values or the solver finds
    no binning (e.g. a constant column).
    """
    from optbinning import OptimalBinning

    series = pd.Series(values).reset_index(drop=True)
    kind = kind or feature_kind(series)
    codes = tuple(float(c) for c in special_codes)
    if kind == "numeric":
        x: npt.NDArray[np.float64] | npt.NDArray[np.object_] = np.array(
            series.to_numpy(dtype=np.float64, na_value=np.nan), copy=True
        )
        if np.isinf(x).any():
            raise ValueError(
                f"feature '{name}' has infinite values; replace them with NaN (missing) or a "
                "finite number before fitting"
            )
        trend = monotonic_trend
    else:
        x = categorical_values(series)
        trend = "auto"  # categories are ordered by event rate, so any trend fits them
    optb = OptimalBinning(
        name=name,
        dtype="numerical" if kind == "numeric" else "categorical",
        solver="cp",
        monotonic_trend=trend,
        max_n_bins=max_n_bins,
        min_bin_size=min_bin_size,
        max_n_prebins=max_n_prebins,
        special_codes=list(codes) or None,
        time_limit=time_limit,
    )
    optb.fit(x, y)
    if optb.status not in ("OPTIMAL", "FEASIBLE"):
        raise BinningError(f"feature '{name}': the binning solver ended with {optb.status}")
    if kind == "numeric":
        splits = np.asarray(optb.splits, dtype=np.float64)
        bounds = np.r_[-np.inf, splits, np.inf]
        regular = [_numeric_label(lo, hi) for lo, hi in itertools.pairwise(bounds)]
        groups: tuple[tuple[str, ...], ...] = ()
    else:
        splits = np.array([], dtype=np.float64)
        groups = tuple(tuple(str(c) for c in group) for group in optb.splits)
        regular = [", ".join(group) for group in groups]
    shell = FeatureBinning(
        name=name,
        kind=kind,
        splits=splits,
        groups=groups,
        special_codes=codes,
        labels=(*regular, SPECIAL, MISSING, UNSEEN),
        count=np.zeros(len(regular) + 3, dtype=np.int64),
        events=np.zeros(len(regular) + 3, dtype=np.int64),
        woe=np.zeros(len(regular) + 3),
        iv_contribution=np.zeros(len(regular) + 3),
    )
    ids = shell.assign(series)
    return with_statistics(shell, ids, y)


def with_statistics(
    binning: FeatureBinning, ids: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
) -> FeatureBinning:
    """``binning`` with counts, WOE and IV recounted from bin indices ``ids`` and labels ``y``."""
    size = len(binning.labels)
    count = np.bincount(ids, minlength=size).astype(np.int64)
    events = np.bincount(ids, weights=y, minlength=size).round().astype(np.int64)
    count[-1] = events[-1] = 0  # "unseen" is never counted: training defines what is seen
    goods = count - events
    total_events, total_goods = float(events.sum()), float(goods.sum())
    pure = (count > 0) & ((events == 0) | (goods == 0))
    ev = events + np.where(pure, _PURE_BIN_PSEUDOCOUNT, 0.0)
    gd = goods + np.where(pure, _PURE_BIN_PSEUDOCOUNT, 0.0)
    share_bad = ev / max(total_events, 1.0)
    share_good = gd / max(total_goods, 1.0)
    woe = np.zeros(size)
    used = count > 0
    woe[used] = np.log(share_good[used] / share_bad[used])
    iv = np.where(used, (share_good - share_bad) * woe, 0.0)
    return FeatureBinning(
        name=binning.name,
        kind=binning.kind,
        splits=binning.splits,
        groups=binning.groups,
        special_codes=binning.special_codes,
        labels=binning.labels,
        count=count,
        events=events,
        woe=woe,
        iv_contribution=iv,
    )
