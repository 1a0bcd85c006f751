"""Hillstrom's MineThatData e-mail experiment (2008): 64,000 customers randomised into a men's
e-mail, a women's e-mail, or no e-mail, with visits, conversions and spend over two weeks.

Mapping: each row is a customer (``HS00001``...) and a contact of the randomised campaign
``HS_EMAIL_2008``: ``No E-Mail`` is the control arm, ``Mens E-Mail`` / ``Womens E-Mail`` are
treatments ``mens_email`` / ``womens_email`` on channel e-mail; ``visit`` -> ``responded``,
``conversion`` -> ``converted``, ``spend`` -> ``revenue``. Purchase history (recency, history,
mens, womens, zip code, newbie, channel) goes into ``attributes``. The file has no relationship
start: ``newbie`` customers joined within the year before the campaign (2007-09-01 stands in),
the others earlier (2007-03-01).
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
    json_rows,
    numbered,
    read_frame,
    utc_timestamps,
)
from lodestar.data.schema import CAMPAIGN_CONTACTS, CUSTOMERS, PAST_CAMPAIGNS
from lodestar.errors import DatasetError

CAMPAIGN_ID = "HS_EMAIL_2008"
START = np.datetime64("2008-03-01")
ARMS = {"No E-Mail": None, "Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email"}
COLUMNS = ("recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
           "channel", "segment", "visit", "conversion", "spend")  # fmt: skip


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    frame = read_frame(path, "Hillstrom e-mail", COLUMNS)
    unknown = sorted(set(frame["segment"]) - set(ARMS))
    if unknown:
        raise DatasetError(f"{path}: unknown segment value(s) {unknown}; expected {list(ARMS)}")
    n = len(frame)
    ids = numbered("HS", n, 5)
    newbie = frame["newbie"].to_numpy() == 1
    join = np.where(newbie, np.datetime64("2007-09-01", "D"), np.datetime64("2007-03-01", "D"))
    yield (
        "customers",
        canonical(
            CUSTOMERS,
            {
                "customer_id": ids,
                "join_date": dates(join),
                "time_zone": pa.array(["America/New_York"] * n),
                "status": pa.array(["active"] * n),
                "attributes": pa.array(
                    json_rows(
                        frame[
                            [
                                "recency",
                                "history_segment",
                                "history",
                                "mens",
                                "womens",
                                "zip_code",
                                "newbie",
                                "channel",
                            ]
                        ]
                    )
                ),
            },
            n,
        ),
    )
    yield (
        "past_campaigns",
        canonical(
            PAST_CAMPAIGNS,
            {
                "campaign_id": pa.array([CAMPAIGN_ID]),
                "name": pa.array(["Hillstrom e-mail test (men's / women's / none)"]),
                "objective": pa.array(["website visits and purchases within two weeks"]),
                "start_date": dates([START]),
                "end_date": dates([START + np.timedelta64(14, "D")]),
                "randomised": pa.array([True]),
                "control_share": pa.array([1 / 3]),
                "channels": pa.array(["email"]),
            },
            1,
        ),
    )
    treatment = frame["segment"].map(ARMS)
    control = treatment.isna().to_numpy()
    visit = frame["visit"].to_numpy() == 1
    converted = frame["conversion"].to_numpy() == 1
    contacted = np.full(n, START.astype("datetime64[us]"))
    yield (
        "campaign_contacts",
        canonical(
            CAMPAIGN_CONTACTS,
            {
                "contact_id": numbered("HSK", n, 5),
                "campaign_id": pa.array([CAMPAIGN_ID] * n),
                "customer_id": ids,
                "arm": pa.array(np.where(control, "control", "treatment")),
                "treatment": pa.array(treatment.to_numpy(), pa.string(), from_pandas=True),
                "channel": pa.array(["email"] * n, mask=control),
                "contacted_at": utc_timestamps(contacted),
                "outcome": pa.array(
                    np.where(converted, "converted", np.where(visit, "responded", "no_response"))
                ),
                "responded": pa.array(visit),
                "converted": pa.array(converted),
                "revenue": pa.array(frame["spend"].to_numpy(float)),
                "outcome_at": utc_timestamps(contacted + np.timedelta64(14, "D")),
            },
            n,
        ),
    )


CONNECTOR = DatasetConnector(
    name="hillstrom",
    title="Hillstrom MineThatData e-mail experiment (randomised, 3 arms)",
    description="64,000 customers and the randomised e-mail campaign with visits, conversions",
    default_files=("hillstrom.csv",),
    expected_rows={"customers": 64_000, "campaign_contacts": 64_000},
    reader=read,
)
