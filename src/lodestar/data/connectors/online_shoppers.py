"""UCI Online Shoppers Purchasing Intention (Sakar et al., 2018): 12,330 sessions of an online
shop over one year, each aggregated into page counts and durations, Google Analytics rates, and
whether the session ended in a purchase (``Revenue``).

The file has no event sequence, so each session maps to a small, honest set of ``events``:

- one ``session_start`` per row: ``event_id`` ``OS00001``..., ``session_id`` ``OSS00001``...,
  ``anonymous_id`` ``OSV00001``... (the authors say each session is a different user),
  ``platform`` web, ``source`` = ``traffic_type_<TrafficType>`` (the source is only a code), and
  every column in ``properties`` under its source name;
- one ``purchase`` for each of the 1,908 sessions with ``Revenue`` = TRUE (``OS00001-P``), timed
  at the session start plus its total recorded duration, with ``PageValues`` in ``properties``.

Dates: the file gives the month only (Feb-Dec; no Jan or Apr; ``June`` is spelt out) and a
weekend flag. 2017 stands in for the year; sessions start at 00:00 UTC on the first Saturday of
their month when ``Weekend`` is TRUE, else on the first Monday, so weekday / weekend analyses
stay right while day-of-month ones are meaningless (``properties`` say ``"date_basis":
"month_only"``).

Data defects kept visible: 14 rows have the first eight columns blank -> JSON null; 33 rows have
-1 in ``*_Duration`` columns (unknown, not negative time) -> null.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    json_objects,
    numbered,
    read_frame,
    utc_timestamps,
)
from lodestar.data.schema import EVENTS
from lodestar.errors import DatasetError

DATASET = "UCI online shoppers intention"
COUNTS = ("Administrative", "Informational", "ProductRelated")
DURATIONS = ("Administrative_Duration", "Informational_Duration", "ProductRelated_Duration")
RATES = ("BounceRates", "ExitRates", "PageValues", "SpecialDay")
CODES = ("OperatingSystems", "Browser", "Region", "TrafficType")
COLUMNS = (*COUNTS, *DURATIONS, *RATES, "Month", *CODES, "VisitorType", "Weekend", "Revenue")
MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}  # fmt: skip
YEAR = 2017
SATURDAY, MONDAY = 5, 0


def session_starts(month: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """00:00 on the first Saturday (weekend) or Monday (weekday) of each month of ``YEAR``."""
    first = (np.datetime64(f"{YEAR}-01", "M") + (month - 1)).astype("datetime64[D]")
    first_weekday = (first.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    wanted = np.where(weekend, SATURDAY, MONDAY)
    return first + ((wanted - first_weekday) % 7).astype("timedelta64[D]")


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(
        path, DATASET, COLUMNS,
        dtype={**dict.fromkeys((*COUNTS, *CODES), "Int64"), **dict.fromkeys(DURATIONS, "float64"),
               **dict.fromkeys(RATES, "float64"), "Weekend": "boolean", "Revenue": "boolean",
               "Month": "str", "VisitorType": "str"},
    )  # fmt: skip
    month = frame["Month"].str[:3].str.lower().map(MONTHS)
    wrong = month.isna() | frame["Weekend"].isna() | frame["Revenue"].isna()
    if frame.empty or wrong.any():
        row = int(np.flatnonzero(wrong.to_numpy())[0]) + 2 if len(frame) else 1
        raise DatasetError(
            f"{path}: line {row}: Month must be a month name and Weekend / Revenue TRUE or FALSE"
        )
    n = len(frame)
    for column in DURATIONS:
        frame[column] = frame[column].where(frame[column] >= 0)  # -1 = unknown
    start = session_starts(
        month.to_numpy(dtype=np.int64), frame["Weekend"].to_numpy(dtype=bool)
    ).astype("datetime64[us]")
    sessions = numbered("OSS", n, 5)
    visitors = numbered("OSV", n, 5)
    properties = {c: frame[c] for c in COLUMNS}
    properties["date_basis"] = pd.Series("month_only", index=frame.index)
    traffic = frame["TrafficType"].astype("string")
    yield (
        "events",
        canonical(
            EVENTS,
            {
                "event_id": numbered("OS", n, 5),
                "ts": utc_timestamps(start),
                "anonymous_id": visitors,
                "platform": "web",
                "event_name": "session_start",
                "session_id": sessions,
                "source": "traffic_type_" + traffic,
                "properties": json_objects(properties),
            },
            n,
        ),
    )
    bought = frame["Revenue"].to_numpy(dtype=bool)
    index = pa.array(np.flatnonzero(bought))
    seconds = frame[list(DURATIONS)].sum(axis=1, min_count=0).to_numpy(dtype=float)[bought]
    k = len(index)
    yield (
        "events",
        canonical(
            EVENTS,
            {
                "event_id": pc.binary_join_element_wise(numbered("OS", n, 5).take(index), "-P", ""),
                "ts": utc_timestamps(
                    start[bought] + np.round(seconds * 1e6).astype("timedelta64[us]")
                ),
                "anonymous_id": visitors.take(index),
                "platform": "web",
                "event_name": "purchase",
                "session_id": sessions.take(index),
                "properties": json_objects({"PageValues": frame["PageValues"][bought]}),
            },
            k,
        ),
    )


CONNECTOR = DatasetConnector(
    name="online-shoppers",
    title="UCI Online Shoppers Purchasing Intention (12,330 sessions)",
    description=(
        "each session -> a session_start web event with the session's aggregates in "
        "properties, plus a purchase event when Revenue is TRUE"
    ),
    default_files=("online_shoppers_intention.csv",),
    expected_rows={"events": 12_330 + 1_908},
    reader=read,
)
