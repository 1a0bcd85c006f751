"""Time for the synthetic bank: seasonal day weights, hours of the day, and vectorised sampling
of timestamps inside per-row windows. Also the id formatting shared by the generators."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

US_PER_DAY = 86_400_000_000
#: Chinese retail seasonality by month: Spring Festival (Jan/Feb) spending, summer travel,
#: Golden Week (Oct) and Double 11 (Nov) peaks, a quiet March and April.
MONTH_WEIGHT = np.array([1.25, 1.3, 0.85, 0.9, 0.95, 1.0, 1.05, 1.05, 0.95, 1.1, 1.3, 1.15])
#: Weekday weights Monday..Sunday.
WEEKDAY_WEIGHT = np.array([1.0, 0.97, 0.97, 1.0, 1.1, 1.2, 1.1])
#: Hour-of-day weights (local time): lunch and evening peaks, quiet nights.
HOUR_WEIGHT = np.array(
    [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 0.9, 1.3, 1.4, 1.4, 1.5,
     1.8, 1.5, 1.3, 1.3, 1.3, 1.4, 1.6, 1.9, 2.0, 1.8, 1.2, 0.6]
)  # fmt: skip
LOCAL_OFFSET_US = 8 * 3_600_000_000  # most customers live in UTC+8


class Calendar:
    """Days of the simulated history with their activity weights."""

    def __init__(self, as_of: date, history_days: int) -> None:
        self.as_of = as_of
        self.start = as_of - timedelta(days=history_days - 1)
        self.days = history_days
        day_index = np.arange(history_days)
        dates = np.datetime64(self.start) + day_index.astype("timedelta64[D]")
        months = dates.astype("datetime64[M]").astype(int) % 12
        weekdays = (dates.astype("datetime64[D]").astype(int) + 3) % 7  # 1970-01-01 was Thursday
        weights = MONTH_WEIGHT[months] * WEEKDAY_WEIGHT[weekdays]
        self.cdf = np.concatenate([[0.0], np.cumsum(weights)])
        self.cdf /= self.cdf[-1]
        self.start_us = int(np.datetime64(self.start, "us").astype(np.int64))
        hour_cdf = np.cumsum(HOUR_WEIGHT)
        self.hour_cdf = hour_cdf / hour_cdf[-1]

    def day_of(self, d: np.ndarray) -> np.ndarray:
        """Day index (0 = first day of history) of datetime64[D] values, clipped to history."""
        idx = (d.astype("datetime64[D]") - np.datetime64(self.start)).astype(int)
        return np.clip(idx, 0, self.days - 1)

    def sample_days(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """A seasonal day in [lo, hi] (day indices, inclusive) for every row."""
        a = self.cdf[lo]
        b = self.cdf[hi + 1]
        u = a + rng.random(len(lo)) * (b - a)
        return np.clip(np.searchsorted(self.cdf, u, side="right") - 1, lo, hi)

    def sample_times(self, rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
        """Microseconds since the epoch (UTC) at a local hour drawn from the daily profile."""
        hours = np.searchsorted(self.hour_cdf, rng.random(len(days)))
        within = rng.integers(0, 3_600_000_000, len(days))
        local = self.start_us + days.astype(np.int64) * US_PER_DAY + hours * 3_600_000_000 + within
        return local - LOCAL_OFFSET_US

    def dates(self, days: np.ndarray) -> pa.Array:
        return pa.array((np.datetime64(self.start) + days.astype("timedelta64[D]")), pa.date32())


def timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, built in Arrow (no Python string per row)."""
    text = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def pick(
    rng: np.random.Generator,
    values: tuple[str, ...] | list[str],
    p: np.ndarray | list[float],
    n: int,
) -> pa.Array:
    """n draws from ``values`` with probabilities ``p``, as a dictionary-decoded string array."""
    probs = np.asarray(p, dtype=float)
    idx = rng.choice(len(values), size=n, p=probs / probs.sum())
    return take(values, idx)


def take(
    values: tuple[str, ...] | list[str], idx: np.ndarray, mask: np.ndarray | None = None
) -> pa.Array:
    """``values[idx]`` as a string array (null where ``mask``), without a Python string per row."""
    indices = pa.array(np.asarray(idx, dtype=np.int32), pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string())).cast(pa.string())


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
