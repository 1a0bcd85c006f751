"""UCI Bank Marketing (Moro, Laureano & Cortez): a Portuguese bank's term-deposit telemarketing.

Both layouts are read, detected from the header: the 17-column ``bank-full`` / ``bank`` files
(with ``balance`` and ``day``) and the 21-column ``bank-additional`` files (with ``day_of_week``
and the socio-economic indicators). Mapping:

- each row is a customer (``BM000001``...) and one contact of the telemarketing campaign
  ``BM_TERM_DEPOSIT`` (not randomised: every row was called), outcome ``y`` -> ``converted``;
- ``age`` -> ``birth_date`` relative to the contact date; ``job`` -> ``employment`` and
  ``occupation``; ``marital``, ``education`` decoded; the contact date -> ``join_date`` (the file
  has no relationship start: the first known contact stands in);
- ``balance`` -> a current-account holding; ``housing`` / ``loan`` = yes -> mortgage / consumer
  loan holdings; everything else (``default``, ``contact``, ``duration``, ``pdays``, ``poutcome``,
  economic indicators) into ``attributes``.

Contact dates: rows are in date order from May 2008; the file gives month (and day in the
17-column layout) but no year, so the year advances whenever the month goes back.
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
from lodestar.data.schema import CAMPAIGN_CONTACTS, CUSTOMERS, HOLDINGS, PAST_CAMPAIGNS
from lodestar.errors import DatasetError

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
EMPLOYMENT = {
    "admin.": "employee", "blue-collar": "employee", "entrepreneur": "business_owner",
    "housemaid": "employee", "management": "employee", "retired": "retired",
    "self-employed": "self_employed", "services": "employee", "student": "student",
    "technician": "employee", "unemployed": "unemployed", "unknown": "unknown",
}  # fmt: skip
EDUCATION = {
    "primary": "primary", "secondary": "secondary", "tertiary": "tertiary", "unknown": "unknown",
    "basic.4y": "primary", "basic.6y": "primary", "basic.9y": "secondary",
    "high.school": "secondary", "professional.course": "secondary",
    "university.degree": "tertiary", "illiterate": "primary",
}  # fmt: skip
MARITAL = {"married": "married", "single": "single", "divorced": "divorced", "unknown": "unknown"}
CORE = ("age", "job", "marital", "education", "default", "housing", "loan", "contact", "month",
        "campaign", "pdays", "previous", "poutcome", "y")  # fmt: skip
CAMPAIGN_ID = "BM_TERM_DEPOSIT"


def contact_dates(months: pd.Series, days: pd.Series | None) -> np.ndarray:
    month = months.map({m: i + 1 for i, m in enumerate(MONTHS)}).to_numpy()
    year = 2008 + np.concatenate([[0], np.cumsum(month[1:] < month[:-1])])
    day = days.to_numpy() if days is not None else np.ones(len(month), dtype=int)
    frame = pd.DataFrame({"year": year, "month": month, "day": day})
    return pd.to_datetime(frame).to_numpy().astype("datetime64[D]")


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, "UCI bank-marketing", CORE, sep=";", quotechar='"')
    layout = "bank-full" if "balance" in frame.columns and "day" in frame.columns else None
    if layout is None and {"day_of_week", "emp.var.rate"} <= set(frame.columns):
        layout = "bank-additional"
    if layout is None:
        raise DatasetError(
            f"{path}: a bank-marketing header with neither the 17-column layout (balance, day) "
            "nor the 21-column layout (day_of_week, emp.var.rate)"
        )
    n = len(frame)
    contact = contact_dates(frame["month"], frame["day"] if layout == "bank-full" else None)
    ids = numbered("BM", n, 6)
    extra = frame.drop(columns=["age", "marital", "education", "y"])
    customers = canonical(
        CUSTOMERS,
        {
            "customer_id": ids,
            "birth_date": dates(years_before(contact.max(), frame["age"].to_numpy())),
            "join_date": dates(contact),
            "employment": frame["job"].map(EMPLOYMENT).fillna("unknown"),
            "occupation": frame["job"],
            "marital_status": frame["marital"].map(MARITAL).fillna("unknown"),
            "education": frame["education"].map(EDUCATION).fillna("unknown"),
            "time_zone": pa.array(["Europe/Lisbon"] * n),
            "status": pa.array(["active"] * n),
            "attributes": pa.array(json_rows(extra.assign(layout=layout))),
        },
        n,
    )
    yield "products", products_table()
    yield "customers", customers

    holdings: list[tuple[str, str, np.ndarray, np.ndarray | None]] = []
    if layout == "bank-full":
        holdings.append(("CUR", "DEP_CURRENT", np.ones(n, bool), frame["balance"].to_numpy(float)))
    holdings.append(("MTG", "LOAN_MORTGAGE", (frame["housing"] == "yes").to_numpy(), None))
    holdings.append(("CNS", "LOAN_CONSUMER", (frame["loan"] == "yes").to_numpy(), None))
    for tag, product, mask, balance in holdings:
        idx = np.nonzero(mask)[0]
        k = len(idx)
        yield (
            "holdings",
            canonical(
                HOLDINGS,
                {
                    "account_id": pa.array([f"BMA{tag}{i + 1:06d}" for i in idx]),
                    "customer_id": ids.take(pa.array(idx)),
                    "product_id": pa.array([product] * k),
                    "open_date": dates(contact[idx]),
                    "status": pa.array(["active"] * k),
                    "balance": None if balance is None else pa.array(balance[idx]),
                    "currency": pa.array(["EUR"] * k),
                    "as_of_date": dates(contact[idx]),
                },
                k,
            ),
        )

    yield (
        "past_campaigns",
        canonical(
            PAST_CAMPAIGNS,
            {
                "campaign_id": pa.array([CAMPAIGN_ID]),
                "name": pa.array(["Term-deposit telemarketing (UCI bank marketing)"]),
                "objective": pa.array(["term-deposit subscriptions"]),
                "product_id": pa.array(["DEP_TERM_1Y"]),
                "start_date": dates(contact.min(keepdims=True)),
                "end_date": dates(contact.max(keepdims=True)),
                "randomised": pa.array([False]),
                "channels": pa.array(["telemarketing"]),
            },
            1,
        ),
    )
    converted = (frame["y"] == "yes").to_numpy()
    yield (
        "campaign_contacts",
        canonical(
            CAMPAIGN_CONTACTS,
            {
                "contact_id": numbered("BMK", n, 6),
                "campaign_id": pa.array([CAMPAIGN_ID] * n),
                "customer_id": ids,
                "arm": pa.array(["treatment"] * n),
                "treatment": pa.array(["telemarketing"] * n),
                "channel": pa.array(["telemarketing"] * n),
                "offer_id": pa.array(["DEP_TERM_1Y"] * n),
                "contacted_at": utc_timestamps(contact),
                "outcome": pa.array(np.where(converted, "converted", "no_response")),
                "responded": pa.array(converted),
                "converted": pa.array(converted),
            },
            n,
        ),
    )


CONNECTOR = DatasetConnector(
    name="bank-marketing",
    title="UCI Bank Marketing (term-deposit telemarketing)",
    description="customers, holdings, one telemarketing campaign and its 45,211 contacts",
    default_files=("bank-full.csv", "bank-additional-full.csv", "bank.csv", "bank-additional.csv"),
    expected_rows={"customers": 45_211, "campaign_contacts": 45_211},
    reader=read,
)
