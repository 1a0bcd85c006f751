"""Hillstrom's MineThatData e-mail experiment (2008): 64,000 customers of a retailer who last
bought within 12 months, randomised one third each into a men's e-mail, a women's e-mail or no
e-mail, with website visits, conversions and spend over the following two weeks.

Mapping decisions:

- Each row is a customer (``HS00001``... in file order) and one contact of the randomised past
  campaign ``HS_EMAIL_2008`` (channel e-mail, control share 1/3, no product: it promoted
  merchandise, not a bank product).
- ``segment``: ``No E-Mail`` -> arm ``control`` (treatment and channel null: nobody was sent
  anything); ``Mens E-Mail`` / ``Womens E-Mail`` -> arm ``treatment`` with treatment
  ``mens_email`` / ``womens_email``.
- ``visit`` -> ``responded``, ``conversion`` -> ``converted``, ``spend`` (USD) -> ``revenue``;
  ``outcome`` is ``converted`` / ``responded`` / ``no_response`` by the strongest of them.
- The file has no dates: the challenge was published on 2008-03-20, so the campaign is dated
  2008-03-01 (contact) with outcomes two weeks later, and ``join_date`` stands in as one year
  before the campaign for ``newbie`` = 1 customers (new in the past 12 months) and two years
  before for the rest. Customers have no demographics.
- ``attributes`` keep the purchase history: ``recency`` (months), ``history_segment``,
  ``history`` (USD), ``mens``, ``womens``, ``zip_code`` (Urban / Surburban [sic] / Rural),
  ``newbie``, ``channel`` (Phone / Web / Multichannel).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    dates,
    json_objects,
    numbered,
    read_frame,
    require_numbers,
    require_values,
    utc_timestamps,
)
from lodestar.data.schema import CAMPAIGN_CONTACTS, CUSTOMERS, PAST_CAMPAIGNS
from lodestar.errors import DatasetError

DATASET = "Hillstrom e-mail"
CAMPAIGN_ID = "HS_EMAIL_2008"
START = np.datetime64("2008-03-01", "D")
WINDOW = np.timedelta64(14, "D")
ARMS = {"No E-Mail": None, "Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email"}
HISTORY = ("recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
           "channel")  # fmt: skip
COLUMNS = (*HISTORY, "segment", "visit", "conversion", "spend")


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, DATASET, COLUMNS)
    require_values(path, frame, "segment", list(ARMS), DATASET)
    require_numbers(path, frame, ["recency", "history", "visit", "conversion", "spend"], DATASET)
    if frame.empty:
        raise DatasetError(f"{path}: the {DATASET} file has a header but no rows")
    n = len(frame)
    ids = numbered("HS", n, 5)
    newbie = frame["newbie"].to_numpy() == 1
    join = np.where(newbie, np.datetime64("2007-03-01", "D"), np.datetime64("2006-03-01", "D"))
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "join_date": dates(join),
                "status": "active",
                "attributes": json_objects({c: frame[c] for c in HISTORY}),
            },
            n,
        ),
    )
    yield (
        "past_campaigns",
        canonical(
            PAST_CAMPAIGNS,
            {
                "campaign_id": CAMPAIGN_ID,
                "name": "Hillstrom e-mail test (men's / women's / no e-mail)",
                "objective": "website visits and purchases within two weeks",
                "start_date": dates([START]),
                "end_date": dates([START + WINDOW]),
                "randomised": True,
                "control_share": 1 / 3,
                "channels": "email",
            },
            1,
        ),
    )
    treatment = frame["segment"].map(ARMS)
    control = treatment.isna().to_numpy()
    visit = frame["visit"].to_numpy() == 1
    converted = frame["conversion"].to_numpy() == 1
    yield (
        "campaign_contacts",
        canonical(
            CAMPAIGN_CONTACTS,
            {
                "contact_id": numbered("HSC", n, 5),
                "campaign_id": CAMPAIGN_ID,
                "customer_id": ids,
                "arm": np.where(control, "control", "treatment"),
                "treatment": treatment,
                "channel": pa.array(np.full(n, "email"), mask=control),
                "contacted_at": utc_timestamps(np.full(n, START)),
                "outcome": np.where(
                    converted, "converted", np.where(visit, "responded", "no_response")
                ),
                "responded": visit,
                "converted": converted,
                "revenue": frame["spend"].to_numpy(dtype=float),
                "outcome_at": utc_timestamps(np.full(n, START + WINDOW)),
            },
            n,
        ),
    )


CONNECTOR = DatasetConnector(
    name="hillstrom",
    title="Hillstrom MineThatData e-mail experiment (randomised, 3 arms, 2008)",
    description=(
        "each row -> a customer (HS...) and a contact of one randomised e-mail campaign: "
        "No E-Mail = control, Mens / Womens E-Mail = treatments; visit, conversion, spend"
    ),
    default_files=("hillstrom.csv",),
    expected_rows={"customers": 64_000, "past_campaigns": 1, "campaign_contacts": 64_000},
    reader=read,
)
