"""Kaggle "Give Me Some Credit" (2011), training set: 150,000 borrowers with ten credit features
and ``SeriousDlqin2yrs`` (90 days past due or worse within two years).

Read from ``cs-training.csv`` in chunks of 50,000 rows (customers, then their holdings, chunk by
chunk). ``NA`` stays null everywhere: it is never turned into 0.

Mapping decisions:

- Each row is a customer ``GMSC`` + the file's own row id (first, unnamed column; ``GMSC000001``
  ...), so ids survive a shuffled or sampled copy; without that column the row number is used.
- ``age`` -> ``birth_date`` (mid-year before the 2011-09-01 reference date); ages under 18 (one
  row has age 0) are data errors and get no birth date, the raw age stays in ``attributes``.
- ``MonthlyIncome`` (USD) x 12 -> ``annual_income`` and -> ``income_band`` cut at the canonical
  nominal amounts (bands are meant for CNY: they rank borrowers within this dataset only);
  missing income -> null and ``unknown``.
- ``attributes`` carry every source column under its source name (all features,
  ``NumberOfDependents``, ``SeriousDlqin2yrs``), nulls as JSON null.
- One ``CC_STANDARD`` holding per borrower (``GMSC000001-C``, the revolving line the features
  describe; balance and limit are not in the file) carries the outcome: ``SeriousDlqin2yrs`` = 1
  -> status ``delinquent`` with 90 days past due, else ``active`` with 0.
- The file has no dates: the two-year performance window is taken as 2009-09-01 .. 2011-09-01
  (the competition ran from September 2011); ``join_date`` and ``open_date`` are the window's
  start, ``as_of_date`` its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.catalogue import products_table
from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    dates,
    income_bands,
    json_objects,
    prefixed,
    read_chunks,
    years_before,
)
from lodestar.data.schema import CUSTOMERS, HOLDINGS
from lodestar.errors import DatasetError

DATASET = "Give Me Some Credit (cs-training.csv)"
ROW_ID = "Unnamed: 0"  # the header's first field is empty
TARGET = "SeriousDlqin2yrs"
# Counts are nullable integers so that NA stays null and numbers stay integers in JSON.
DTYPES = {
    TARGET: "Int64",
    "RevolvingUtilizationOfUnsecuredLines": "float64",
    "age": "Int64",
    "NumberOfTime30-59DaysPastDueNotWorse": "Int64",
    "DebtRatio": "float64",
    "MonthlyIncome": "float64",
    "NumberOfOpenCreditLinesAndLoans": "Int64",
    "NumberOfTimes90DaysLate": "Int64",
    "NumberRealEstateLoansOrLines": "Int64",
    "NumberOfTime60-89DaysPastDueNotWorse": "Int64",
    "NumberOfDependents": "Int64",
}
WINDOW_START = np.datetime64("2009-09-01", "D")
REFERENCE = np.datetime64("2011-09-01", "D")
CHUNK_ROWS = 50_000
ADULT = 18


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    yield "products", products_table()
    seen = 0
    chunks = read_chunks(
        path, DATASET, list(DTYPES), CHUNK_ROWS, na_values=["NA"], keep_default_na=False,
        dtype={ROW_ID: "Int64", **DTYPES},
    )  # fmt: skip
    for chunk in chunks:
        n = len(chunk)
        row_id = (
            chunk[ROW_ID].to_numpy(dtype=np.int64, na_value=-1)
            if ROW_ID in chunk.columns
            else np.arange(seen + 1, seen + n + 1)
        )
        target = chunk[TARGET]
        wrong = target.isna() | ~target.isin([0, 1])
        if wrong.any() or (row_id < 0).any():
            line = seen + int(np.flatnonzero(wrong.to_numpy() | (row_id < 0))[0]) + 2
            raise DatasetError(
                f"{path}: line {line}: {TARGET} must be 0 or 1 and the row id present "
                f"(found {target.iloc[line - seen - 2]!r})"
            )
        seen += n
        ids = prefixed("GMSC", row_id, 6)
        bad = (target == 1).to_numpy(dtype=bool)
        income = chunk["MonthlyIncome"].to_numpy(dtype=float, na_value=np.nan)
        age = chunk["age"].to_numpy(dtype=float, na_value=np.nan)
        birth = years_before(REFERENCE, np.nan_to_num(age))
        birth = np.where(age >= ADULT, birth, np.datetime64("NaT"))
        yield (
            "customers",
            canonical(
                CUSTOMERS,
                {
                    "customer_id": ids,
                    "birth_date": dates(birth),
                    "join_date": dates(np.full(n, WINDOW_START)),
                    "annual_income": pa.array(income * 12, from_pandas=True),
                    "income_band": income_bands(income),
                    "status": "active",
                    "attributes": json_objects({c: chunk[c] for c in chunk.columns if c != ROW_ID}),
                },
                n,
            ),
        )
        yield (
            "holdings",
            canonical(
                HOLDINGS,
                {
                    "account_id": pc.binary_join_element_wise(ids, "-C", ""),
                    "customer_id": ids,
                    "product_id": "CC_STANDARD",
                    "open_date": dates(np.full(n, WINDOW_START)),
                    "status": np.where(bad, "delinquent", "active"),
                    "days_past_due": np.where(bad, 90, 0).astype(np.int64),
                    "currency": "USD",
                    "as_of_date": dates(np.full(n, REFERENCE)),
                },
                n,
            ),
        )
    if seen == 0:
        raise DatasetError(f"{path}: the {DATASET} file has a header but no rows")


CONNECTOR = DatasetConnector(
    name="give-me-some-credit",
    title="Kaggle Give Me Some Credit (150,000 borrowers, 2011)",
    description=(
        "each borrower -> a customer (GMSC...) with income, income band and all features in "
        "attributes, and a card holding carrying SeriousDlqin2yrs as 90 days past due"
    ),
    default_files=("cs-training.csv",),
    expected_rows={"customers": 150_000, "holdings": 150_000},
    reader=read,
)
