"""The CDNOW purchase log (Fader & Hardie): the 23,570 customers who first bought at the online
music store CDNOW in the first quarter of 1997, and all their purchases to the end of June 1998.

Read from ``CDNOW_master.txt`` (whitespace-separated ``customer_id date number_of_cds
dollar_value``; the header line that the lifetimes package added is optional, so Hardie's
original headerless file reads too). The file is read twice in chunks: first for each customer's
first purchase (customers must be loaded before the purchases that refer to them), then for the
purchases themselves, so memory stays bounded by the number of customers.

Mapping decisions:

- Each customer id becomes ``CD`` + the five-digit id (``CD00001``); ``join_date`` = date of the
  first purchase. Nothing else is known about customers.
- Each line is a ``purchase`` transaction ``CDT`` + its line number among the purchases
  (``CDT000001``..., stable for the same file): ``ts`` = the date at 00:00 UTC (the file has
  dates only), ``amount`` = ``dollar_value`` in ``USD``, ``quantity`` = ``number_of_cds``,
  direction ``debit``, merchant ``CDNOW``, category ``music``, channel ``other`` (an online shop,
  not a bank channel; no account is known).
- 80 purchases have ``dollar_value`` 0 with one CD or more (free or promotional items); they are
  kept with amount 0, which the schema allows. A negative amount would stop the import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    dates,
    numbered,
    read_chunks,
    utc_timestamps,
)
from lodestar.data.schema import CUSTOMERS, TRANSACTIONS
from lodestar.errors import DatasetError

DATASET = "CDNOW master"
NAMES = ("customer_id", "date", "number_of_cds", "dollar_value")
CHUNK_ROWS = 50_000


def _layout(path: Path) -> bool:
    """Check the first line; True when it is a header line."""
    with path.open("rb") as fh:
        first = fh.readline(4096)
    try:
        fields = first.decode("ascii").split()
    except UnicodeDecodeError:
        fields = []
    if len(fields) != len(NAMES):
        sample = (
            " (CDNOW_sample.txt has 5 fields: use CDNOW_master.txt)" if len(fields) == 5 else ""
        )
        raise DatasetError(
            f"{path}: not the {DATASET} file: its first line has {len(fields)} "
            f"whitespace-separated field(s), expected 4: {' '.join(NAMES)}{sample}"
        )
    return not fields[1].isdigit()


def _purchases(path: Path) -> Iterator[tuple[int, pd.DataFrame]]:
    """(line number of the chunk's first row, typed chunk) over the whole file."""
    header = _layout(path)
    line = 2 if header else 1
    chunks = read_chunks(
        path, DATASET, (), CHUNK_ROWS, sep=r"\s+", header=None, names=list(NAMES),
        skiprows=1 if header else 0, dtype=str,
    )  # fmt: skip
    for raw in chunks:
        typed = pd.DataFrame(
            {
                "customer": raw["customer_id"],
                "when": pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce"),
                "cds": pd.to_numeric(raw["number_of_cds"], errors="coerce"),
                "dollars": pd.to_numeric(raw["dollar_value"], errors="coerce"),
            }
        )
        wrong = (
            ~raw["customer_id"].str.fullmatch(r"\d{1,5}").fillna(False)
            | typed.isna().any(axis=1)
            | (typed["cds"] < 0)
            | (typed["dollars"] < 0)
            | (typed["cds"] != typed["cds"].round())
        )
        if wrong.any():
            at = int(np.flatnonzero(wrong.to_numpy())[0])
            raise DatasetError(
                f"{path}: line {line + at}: {' '.join(raw.iloc[at].astype(str))!r} is not "
                "customer_id (digits), date (YYYYMMDD), number_of_cds (>= 0), "
                "dollar_value (>= 0)"
            )
        typed["customer"] = "CD" + raw["customer_id"].str.zfill(5)
        yield line, typed
        line += len(raw)


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    firsts = [c.groupby("customer")["when"].min() for _, c in _purchases(path)]
    if not firsts:
        raise DatasetError(f"{path}: the {DATASET} file has no purchases")
    first = pd.concat(firsts).groupby(level=0).min().sort_index()
    k = len(first)
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": pa.array(first.index.to_numpy(dtype=object), pa.string()),
                "join_date": dates(first.to_numpy()),
                "status": "active",
            },
            k,
        ),
    )
    done = 0
    for _, chunk in _purchases(path):
        n = len(chunk)
        yield (
            "transactions",
            canonical(
                TRANSACTIONS,
                {
                    "transaction_id": numbered("CDT", n, 6, start=done + 1),
                    "customer_id": pa.array(chunk["customer"].to_numpy(dtype=object), pa.string()),
                    "ts": utc_timestamps(chunk["when"].to_numpy()),
                    "type": "purchase",
                    "amount": chunk["dollars"].to_numpy(dtype=float),
                    "direction": "debit",
                    "currency": "USD",
                    "channel": "other",
                    "merchant_category": "music",
                    "merchant_name": "CDNOW",
                    "quantity": chunk["cds"].to_numpy(dtype=np.int64),
                },
                n,
            ),
        )
        done += n


CONNECTOR = DatasetConnector(
    name="cdnow",
    title="CDNOW purchase log (Fader & Hardie), 1997 Q1 cohort to mid-1998",
    description=(
        "each customer -> a customer (CD..., joined at the first purchase); each line -> a "
        "purchase transaction (CDT...) in USD with the number of CDs"
    ),
    default_files=("CDNOW_master.txt",),
    expected_rows={"customers": 23_570, "transactions": 69_659},
    reader=read,
)
