"""Retail customer datasets: the CDNOW purchase log (Fader & Hardie) and the bank-churn file.

CDNOW (``CDNOW_master.txt``): 23,570 customers of the 1997 Q1 cohort and their 69,659 purchases
to mid-1998. Each customer becomes ``CD00001``... joining on the first purchase; each line a
``purchase`` transaction (``CDT000001``...) at midnight UTC of its date, amount = dollar value
(USD), quantity = number of CDs, merchant category ``music``.

Bank churn (``Churn_Modelling.csv``): 10,000 customers (``CH<CustomerId>``) of a European bank:
surname -> name (PII), geography -> region, age and tenure -> birth and join dates before the
2019-01-01 snapshot, ``Exited`` = 1 -> status ``closed`` on that date; balance -> a current
account (EUR), ``HasCrCard`` -> a card; credit score, salary, product count, activity flag and
``Exited`` into ``attributes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lodestar.data.catalogue import products_table
from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    dates,
    json_rows,
    numbered,
    read_frame,
    utc_timestamps,
    years_before,
)
from lodestar.data.schema import CUSTOMERS, HOLDINGS, TRANSACTIONS
from lodestar.errors import DatasetError


def read_cdnow(path: Path) -> Iterator[tuple[str, pa.Table]]:
    try:
        frame = pd.read_csv(
            path, sep=r"\s+", header=0,
            names=["customer", "date", "cds", "dollars"], dtype={"customer": str, "date": str},
        )  # fmt: skip
        when = pd.to_datetime(frame["date"], format="%Y%m%d").to_numpy()
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{path}: not the CDNOW master file (customer_id date number_of_cds dollar_value): "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    n = len(frame)
    customer = "CD" + frame["customer"].str.zfill(5)
    first = frame.assign(when=when).groupby(customer.to_numpy())["when"].min()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": pa.array(first.index.to_numpy(str)),
                "join_date": dates(first.to_numpy()),
                "time_zone": pa.array(["America/New_York"] * len(first)),
                "acquisition_channel": pa.array(["cdnow_q1_1997_cohort"] * len(first)),
            },
            len(first),
        ),
    )
    yield (
        "transactions",
        canonical(
            TRANSACTIONS,
            {
                "transaction_id": numbered("CDT", n, 6),
                "customer_id": pa.array(customer.to_numpy(str)),
                "ts": utc_timestamps(when),
                "type": pa.array(["purchase"] * n),
                "amount": pa.array(frame["dollars"].to_numpy(float)),
                "direction": pa.array(["debit"] * n),
                "currency": pa.array(["USD"] * n),
                "channel": pa.array(["other"] * n),
                "merchant_category": pa.array(["music"] * n),
                "merchant_name": pa.array(["CDNOW"] * n),
                "quantity": pa.array(frame["cds"].to_numpy(int)),
            },
            n,
        ),
    )


CHURN_COLUMNS = ("CustomerId", "Surname", "CreditScore", "Geography", "Gender", "Age", "Tenure",
                 "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
                 "Exited")  # fmt: skip
SNAPSHOT = np.datetime64("2019-01-01")
ZONES = {"France": "Europe/Paris", "Germany": "Europe/Berlin", "Spain": "Europe/Madrid"}


def read_churn(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, "bank churn (Churn_Modelling)", CHURN_COLUMNS)
    n = len(frame)
    ids = pa.array(("CH" + frame["CustomerId"].astype(str)).to_numpy(str))
    exited = frame["Exited"].to_numpy() == 1
    tenure = frame["Tenure"].to_numpy()
    join = SNAPSHOT - (tenure * 365).astype("timedelta64[D]")
    yield "products", products_table()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "name": frame["Surname"],
                "gender": frame["Gender"].str.lower(),
                "birth_date": dates(years_before(SNAPSHOT, frame["Age"].to_numpy())),
                "region": frame["Geography"],
                "join_date": dates(join),
                "annual_income": pa.array(frame["EstimatedSalary"].to_numpy(float)),
                "time_zone": pa.array(frame["Geography"].map(ZONES).to_numpy(str)),
                "status": pa.array(np.where(exited, "closed", "active")),
                "closed_date": dates(np.where(exited, SNAPSHOT, np.datetime64("NaT"))),
                "attributes": pa.array(
                    json_rows(
                        frame[
                            [
                                "CreditScore",
                                "NumOfProducts",
                                "HasCrCard",
                                "IsActiveMember",
                                "EstimatedSalary",
                                "Exited",
                            ]
                        ]
                    )
                ),
            },
            n,
        ),
    )
    status = np.where(exited, "closed", "active")
    closed = dates(np.where(exited, SNAPSHOT, np.datetime64("NaT")))
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": pa.array(("CHA" + frame["CustomerId"].astype(str)).to_numpy(str)),
                "customer_id": ids,
                "product_id": pa.array(["DEP_CURRENT"] * n),
                "open_date": dates(join),
                "close_date": closed,
                "status": pa.array(status),
                "balance": pa.array(frame["Balance"].to_numpy(float)),
                "currency": pa.array(["EUR"] * n),
                "as_of_date": dates(np.full(n, SNAPSHOT)),
            },
            n,
        ),
    )
    card = np.nonzero(frame["HasCrCard"].to_numpy() == 1)[0]
    k = len(card)
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": pa.array(
                    ("CHC" + frame["CustomerId"].astype(str)).to_numpy(str)[card]
                ),
                "customer_id": ids.take(pa.array(card)),
                "product_id": pa.array(["CC_STANDARD"] * k),
                "open_date": dates(join[card]),
                "close_date": closed.take(pa.array(card)),
                "status": pa.array(status[card]),
                "currency": pa.array(["EUR"] * k),
            },
            k,
        ),
    )


CDNOW = DatasetConnector(
    name="cdnow",
    title="CDNOW purchase log (Fader & Hardie), 1997 Q1 cohort",
    description="23,570 customers and their 69,659 purchases (transactions)",
    default_files=("CDNOW_master.txt",),
    expected_rows={"customers": 23_570, "transactions": 69_659},
    reader=read_cdnow,
)
CHURN = DatasetConnector(
    name="bank-churn",
    title="Bank customer churn (Churn_Modelling.csv)",
    description="10,000 customers with balances, cards and who exited",
    default_files=("Churn_Modelling.csv",),
    expected_rows={"customers": 10_000},
    reader=read_churn,
)
