"""UCI Bank Marketing (Moro, Laureano & Cortez): a Portuguese bank's term-deposit telemarketing,
May 2008 - November 2010.

Two layouts, told apart by the header: the 17-column ``bank-full.csv`` / ``bank.csv`` (with
``balance`` and ``day`` of month) and the 21-column ``bank-additional*.csv`` (``day_of_week``
instead of ``day``, no ``balance``, ``pdays`` 999 = never contacted, ``default`` may be
``unknown``, plus five socio-economic indicators). Both are ``;``-separated with quoted text.

Mapping decisions:

- Each row is one customer (``BM000001``... in file order) and one contact of the past campaign
  ``BM_TERM_DEPOSIT``: telemarketing, not randomised (there is no control group), promoting
  ``DEP_TERM_1Y``; ``y`` = yes -> ``converted`` (and ``responded``), else ``no_response``.
- Contact dates: the file gives month (and day of month, or day of week) but no year. The public
  files are in date order from May 2008, so the year advances each time the month goes back;
  in the 21-column layout the week within the month advances each time the weekday goes back.
  A file not in date order (``bank.csv`` is a random 10% sample) would make that count run past
  2010, so then the year is left unknown: May-Dec -> 2008, Jan-Apr -> 2009, and the
  ``attributes`` say ``"date_basis": "month_only"`` instead of ``"file_order"``. Dates are
  stored as 00:00 UTC.
- ``age`` -> ``birth_date`` counted back from the contact date (mid-year); ``job`` ->
  ``employment`` (entrepreneur -> business_owner, self-employed -> self_employed, retired,
  student, unemployed, unknown; the rest employee) with the raw job in ``occupation``;
  ``marital`` and ``education`` decoded (``basic.4y``/``basic.6y``/``illiterate`` -> primary,
  ``basic.9y``/``high.school``/``professional.course`` -> secondary, ``university.degree`` ->
  tertiary). The file has no relationship start: the contact date stands in for ``join_date``.
- Holdings: ``balance`` (average yearly balance, EUR, may be negative) -> a ``DEP_CURRENT``
  account (17-column layout only); ``housing`` = yes -> ``LOAN_MORTGAGE``; ``loan`` = yes ->
  ``LOAN_CONSUMER`` (loan balances are not in the file). Account ids are the customer id plus
  ``-CUR`` / ``-MTG`` / ``-CNS``.
- ``attributes`` keep the source fields without a canonical home: ``age``, ``job``,
  ``default``, ``housing``, ``loan``, ``contact``, ``day`` / ``day_of_week``, ``month``,
  ``duration`` (known only after the call: never a model feature), ``campaign``, ``pdays``
  (null when never contacted before: -1 in one layout, 999 in the other), ``previous``,
  ``poutcome``, the indicators, and ``layout`` / ``date_basis``.
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
    require_numbers,
    require_values,
    tagged,
    utc_timestamps,
    years_before,
)
from lodestar.data.schema import CAMPAIGN_CONTACTS, CUSTOMERS, HOLDINGS, PAST_CAMPAIGNS
from lodestar.errors import DatasetError

DATASET = "UCI bank-marketing"
MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}  # fmt: skip
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
EMPLOYMENT = {
    "admin.": "employee", "blue-collar": "employee", "entrepreneur": "business_owner",
    "housemaid": "employee", "management": "employee", "retired": "retired",
    "self-employed": "self_employed", "services": "employee", "student": "student",
    "technician": "employee", "unemployed": "unemployed", "unknown": "unknown",
}  # fmt: skip
EDUCATION = {
    "primary": "primary", "secondary": "secondary", "tertiary": "tertiary", "unknown": "unknown",
    "basic.4y": "primary", "basic.6y": "primary", "illiterate": "primary",
    "basic.9y": "secondary", "high.school": "secondary", "professional.course": "secondary",
    "university.degree": "tertiary",
}  # fmt: skip
MARITAL = {"married": "married", "single": "single", "divorced": "divorced", "unknown": "unknown"}
COMMON = ("age", "job", "marital", "education", "default", "housing", "loan", "contact", "month",
          "duration", "campaign", "pdays", "previous", "poutcome", "y")  # fmt: skip
FULL = (*COMMON, "balance", "day")
ADDITIONAL = (*COMMON, "day_of_week", "emp.var.rate", "cons.price.idx", "cons.conf.idx",
              "euribor3m", "nr.employed")  # fmt: skip
CAMPAIGN_ID = "BM_TERM_DEPOSIT"
PRODUCT = "DEP_TERM_1Y"
FIRST_YEAR = 2008
# bank-full spans May 2008 .. Nov 2010: in date order the month goes back at most twice.
MAX_YEAR_STEPS = 2


def detect_layout(path: Path, columns: list[str]) -> str:
    found = set(columns)
    if set(FULL) <= found:
        return "bank-full"
    if set(ADDITIONAL) <= found:
        return "bank-additional"
    missing_full = [c for c in FULL if c not in found]
    missing_add = [c for c in ADDITIONAL if c not in found]
    raise DatasetError(
        f"{path}: not the {DATASET} file: its header fits neither the 17-column layout "
        f"(missing {missing_full}) nor the 21-column layout (missing {missing_add})",
        hint="expected bank-full.csv, bank.csv or bank-additional(-full).csv, ';'-separated",
    )


def contact_dates(
    path: Path, month: pd.Series, day: pd.Series | None, weekday: pd.Series | None
) -> tuple[np.ndarray, str]:
    """Contact dates (datetime64[D]) and how they were dated (``file_order`` / ``month_only``)."""
    m = month.str.lower().map(MONTHS)
    if m.isna().any():
        row = int(np.flatnonzero(m.isna().to_numpy())[0]) + 2  # 1-based, after the header
        raise DatasetError(f"{path}: line {row}: month {month.iloc[row - 2]!r} is not jan..dec")
    months = m.to_numpy(dtype=np.int64)
    steps = np.concatenate([[0], np.cumsum(months[1:] < months[:-1])])
    ordered = steps[-1] <= MAX_YEAR_STEPS
    years = FIRST_YEAR + (steps if ordered else (months < 5).astype(np.int64))
    first = pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1})).to_numpy()
    first = first.astype("datetime64[D]")
    if day is not None:
        offset = day.to_numpy(dtype=np.int64) - 1
    elif weekday is not None:
        wd = weekday.str.lower().map(WEEKDAYS)
        if wd.isna().any():
            raise DatasetError(f"{path}: day_of_week values must be mon..sun")
        wanted = wd.to_numpy(dtype=np.int64)
        # 1970-01-01 was a Thursday (weekday 3).
        first_wd = (first.astype(np.int64) + 3) % 7
        offset = (wanted - first_wd) % 7
        if ordered:
            # Within one month, in date order, the week moves on each time the weekday goes back.
            block = np.concatenate([[0], np.cumsum(first[1:] != first[:-1])])
            back = np.concatenate([[0], (wanted[1:] < wanted[:-1]) & (block[1:] == block[:-1])])
            week = pd.Series(back).groupby(block).cumsum().to_numpy()
            offset = offset + 7 * week
    else:
        offset = np.zeros(len(months), dtype=np.int64)
    when = first + offset.astype("timedelta64[D]")
    month_end = (first.astype("datetime64[M]") + 1).astype("datetime64[D]")
    if day is not None:
        bad = np.flatnonzero((offset < 0) | (when >= month_end))
        if len(bad):
            raise DatasetError(f"{path}: line {bad[0] + 2}: day {offset[bad[0]] + 1} not in month")
    else:
        # Week counting can overrun a month that was not in strict order: stay in the month.
        over = (when - month_end).astype(np.int64)
        back_weeks = np.where(over >= 0, over // 7 + 1, 0)
        when = when - (7 * back_weeks).astype("timedelta64[D]")
    return when, "file_order" if ordered else "month_only"


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, DATASET, COMMON, sep=";", quotechar='"')
    layout = detect_layout(path, list(frame.columns))
    if frame.empty:
        raise DatasetError(f"{path}: the {DATASET} file has a header but no rows")
    n = len(frame)
    full = layout == "bank-full"
    numeric = ["age", "duration", "campaign", "pdays", "previous"]
    require_numbers(path, frame, [*numeric, "balance", "day"] if full else numeric, DATASET)
    require_values(path, frame, "y", ("yes", "no"), DATASET)
    contact, basis = contact_dates(
        path,
        frame["month"],
        frame["day"] if full else None,
        None if full else frame["day_of_week"],
    )
    ids = numbered("BM", n, 6)
    never = -1 if full else 999
    extra = {c: frame[c] for c in frame.columns if c not in ("marital", "education", "y")}
    extra["pdays"] = frame["pdays"].where(frame["pdays"] != never)
    if full:
        del extra["balance"]  # it is the current account's balance
    extra["layout"] = pd.Series(layout, index=frame.index)
    extra["date_basis"] = pd.Series(basis, index=frame.index)

    yield "products", products_table()
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "birth_date": dates(years_before(contact, frame["age"].to_numpy())),
                "join_date": dates(contact),
                "employment": tagged(frame["job"], EMPLOYMENT, "unknown"),
                "occupation": frame["job"],
                "marital_status": tagged(frame["marital"], MARITAL, "unknown"),
                "education": tagged(frame["education"], EDUCATION, "unknown"),
                "region": "Portugal",
                "time_zone": "Europe/Lisbon",
                "status": "active",
                "attributes": json_objects(extra),
            },
            n,
        ),
    )

    accounts: list[tuple[str, str, np.ndarray, pd.Series | None]] = []
    if full:
        accounts.append(("CUR", "DEP_CURRENT", np.ones(n, dtype=bool), frame["balance"]))
    accounts.append(("MTG", "LOAN_MORTGAGE", (frame["housing"] == "yes").to_numpy(), None))
    accounts.append(("CNS", "LOAN_CONSUMER", (frame["loan"] == "yes").to_numpy(), None))
    for tag, product, mask, balance in accounts:
        idx = pa.array(np.flatnonzero(mask))
        k = len(idx)
        owners = ids.take(idx)
        yield (
            "holdings",
            canonical(
                HOLDINGS,
                {
                    "account_id": pc.binary_join_element_wise(owners, f"-{tag}", ""),
                    "customer_id": owners,
                    "product_id": product,
                    "open_date": dates(contact[mask]),
                    "status": "active",
                    "balance": None if balance is None else balance.to_numpy(float)[mask],
                    "currency": "EUR",
                    "as_of_date": dates(contact[mask]),
                },
                k,
            ),
        )

    yield (
        "past_campaigns",
        canonical(
            PAST_CAMPAIGNS,
            {
                "campaign_id": CAMPAIGN_ID,
                "name": "Term-deposit telemarketing (UCI bank marketing)",
                "objective": "term-deposit subscriptions",
                "product_id": PRODUCT,
                "start_date": dates(contact.min(keepdims=True)),
                "end_date": dates(contact.max(keepdims=True)),
                "randomised": False,
                "control_share": 0.0,
                "channels": "telemarketing",
            },
            1,
        ),
    )
    converted = (frame["y"] == "yes").to_numpy()
    at = utc_timestamps(contact)
    yield (
        "campaign_contacts",
        canonical(
            CAMPAIGN_CONTACTS,
            {
                "contact_id": numbered("BMC", n, 6),
                "campaign_id": CAMPAIGN_ID,
                "customer_id": ids,
                "arm": "treatment",
                "treatment": "telemarketing",
                "channel": "telemarketing",
                "offer_id": PRODUCT,
                "contacted_at": at,
                "outcome": np.where(converted, "converted", "no_response"),
                "responded": converted,
                "converted": converted,
                # The outcome is the answer at the end of the call.
                "outcome_at": at,
            },
            n,
        ),
    )


CONNECTOR = DatasetConnector(
    name="bank-marketing",
    title="UCI Bank Marketing (term-deposit telemarketing, Portugal 2008-2010)",
    description=(
        "each row -> a customer (BM...), current account / mortgage / consumer-loan holdings, "
        "and a contact (outcome y) of one non-randomised telemarketing campaign"
    ),
    default_files=("bank-full.csv", "bank-additional-full.csv", "bank.csv", "bank-additional.csv"),
    expected_rows={
        "customers": 45_211,
        "holdings": 45_211 + 25_130 + 7_244,
        "past_campaigns": 1,
        "campaign_contacts": 45_211,
    },
    reader=read,
)
