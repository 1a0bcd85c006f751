"""Bank customer churn (``Churn_Modelling.csv``): 10,000 customers of a European bank in France,
Germany and Spain, and whether they left (``Exited``).

Mapping decisions:

- Each row is a customer ``CH`` + the bank's ``CustomerId`` (``CH15634602``); ``Surname`` ->
  ``name`` (personal data: masked by role), ``Geography`` -> ``region`` and the country's time
  zone, ``Gender`` -> ``gender``.
- The file is one snapshot without a date; 2019-01-01 (after its 2018 publication) stands in.
  ``Age`` -> ``birth_date`` (mid-year before the snapshot); ``Tenure`` (whole years, 0-10) ->
  ``join_date`` = snapshot minus tenure years; ``Exited`` = 1 -> status ``closed`` with
  ``closed_date`` = the snapshot, else ``active``.
- ``EstimatedSalary`` (EUR, taken as yearly) -> ``annual_income`` and, divided by 12,
  ``income_band`` (cut at the canonical nominal amounts, which are meant for CNY).
- ``attributes`` keep ``CreditScore``, ``NumOfProducts``, ``HasCrCard``, ``IsActiveMember``,
  ``EstimatedSalary``, ``Exited`` and ``RowNumber``.
- Holdings: every customer gets a ``DEP_CURRENT`` account (``CH15634602-CUR``) holding
  ``Balance`` (EUR; 0 for about a third), and ``HasCrCard`` = 1 adds a ``CC_STANDARD`` card
  (``-CC``, balance unknown). Both are ``closed`` on the snapshot for customers who exited.
  ``NumOfProducts`` counts more products than these two; the others are not named in the file.
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
    read_frame,
    require_numbers,
    require_values,
    tagged,
    years_before,
)
from lodestar.data.schema import CUSTOMERS, HOLDINGS
from lodestar.errors import DatasetError

DATASET = "bank churn (Churn_Modelling.csv)"
COLUMNS = ("CustomerId", "Surname", "CreditScore", "Geography", "Gender", "Age", "Tenure",
           "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
           "Exited")  # fmt: skip
ATTRIBUTES = ("CreditScore", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
              "Exited", "RowNumber")  # fmt: skip
SNAPSHOT = np.datetime64("2019-01-01", "D")
ZONES = {"France": "Europe/Paris", "Germany": "Europe/Berlin", "Spain": "Europe/Madrid"}
GENDERS = {"Male": "male", "Female": "female"}


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, DATASET, COLUMNS)
    if frame.empty:
        raise DatasetError(f"{path}: the {DATASET} file has a header but no rows")
    numeric = [c for c in COLUMNS if c not in ("Surname", "Geography", "Gender")]
    require_numbers(path, frame, numeric, DATASET)
    require_values(path, frame, "Exited", (0, 1), DATASET)
    if frame["CustomerId"].duplicated().any():
        dup = frame.loc[frame["CustomerId"].duplicated(), "CustomerId"].iloc[0]
        raise DatasetError(f"{path}: CustomerId {dup} appears more than once")
    n = len(frame)
    ids = pa.array(("CH" + frame["CustomerId"].astype("int64").astype(str)).to_numpy(dtype=object))
    exited = frame["Exited"].to_numpy() == 1
    join = SNAPSHOT - (frame["Tenure"].to_numpy(dtype=np.int64) * 365.25).round().astype(
        "timedelta64[D]"
    )
    closed = dates(np.where(exited, SNAPSHOT, np.datetime64("NaT")))
    status = np.where(exited, "closed", "active")
    salary = frame["EstimatedSalary"].to_numpy(dtype=float)
    attributes = {c: frame[c] for c in ATTRIBUTES if c in frame.columns}

    yield "products", products_table()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "name": frame["Surname"],
                "gender": tagged(frame["Gender"], GENDERS, "unknown"),
                "birth_date": dates(years_before(SNAPSHOT, frame["Age"].to_numpy())),
                "region": frame["Geography"],
                "join_date": dates(join),
                "annual_income": salary,
                "income_band": income_bands(salary / 12),
                "time_zone": pa.array(frame["Geography"].map(ZONES).to_numpy(dtype=object)),
                "status": status,
                "closed_date": closed,
                "attributes": json_objects(attributes),
            },
            n,
        ),
    )
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": pc.binary_join_element_wise(ids, "-CUR", ""),
                "customer_id": ids,
                "product_id": "DEP_CURRENT",
                "open_date": dates(join),
                "close_date": closed,
                "status": status,
                "balance": frame["Balance"].to_numpy(dtype=float),
                "currency": "EUR",
                "as_of_date": dates(np.full(n, SNAPSHOT)),
            },
            n,
        ),
    )
    card = (frame["HasCrCard"] == 1).to_numpy()
    owners = ids.filter(pa.array(card))
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": pc.binary_join_element_wise(owners, "-CC", ""),
                "customer_id": owners,
                "product_id": "CC_STANDARD",
                "open_date": dates(join[card]),
                "close_date": closed.filter(pa.array(card)),
                "status": status[card],
                "currency": "EUR",
                "as_of_date": dates(np.full(int(card.sum()), SNAPSHOT)),
            },
            len(owners),
        ),
    )


CONNECTOR = DatasetConnector(
    name="bank-churn",
    title="Bank customer churn (Churn_Modelling.csv, 10,000 customers)",
    description=(
        "each row -> a customer (CH<CustomerId>, Exited -> closed) with a current account "
        "holding the balance and, with HasCrCard, a credit card"
    ),
    default_files=("Churn_Modelling.csv",),
    expected_rows={"customers": 10_000, "holdings": 10_000 + 7_055},
    reader=read,
)
