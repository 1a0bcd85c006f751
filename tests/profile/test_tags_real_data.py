"""The built-in tags on real public data: bank churn (customers + holdings) and bank marketing
(customers + past campaigns), checked against the raw files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lodestar.workspace import Workspace

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("churn") / "ws")
    ws.import_dataset("bank-churn", shared_data / "bank-churn")
    ws.build_tags()
    yield ws
    ws.close()


def test_bank_churn_tags_match_the_raw_file(churn: Workspace, shared_data: Path) -> None:
    raw = pd.read_csv(next((shared_data / "bank-churn").glob("*.csv")))
    raw["customer_id"] = "CH" + raw["CustomerId"].astype(str)
    tags = (
        churn.query(
            "SELECT customer_id, has_credit_card, deposit_balance, product_count, age_band "
            "FROM customer_profile"
        )
        .to_pandas()
        .merge(raw, on="customer_id", validate="one_to_one")
    )
    assert len(tags) == len(raw) == 10_000
    # the connector closes the accounts of customers who left (Exited = 1)
    stayed = tags["Exited"] == 0
    assert (tags["has_credit_card"] == ((tags["HasCrCard"] == 1) & stayed)).all()
    assert np.allclose(tags["deposit_balance"], tags["Balance"].where(stayed, 0.0))
    assert (tags["product_count"] == (1 + tags["HasCrCard"]).where(stayed, 0)).all()
    assert tags["age_band"].notna().all()


def test_bank_marketing_tags_build_on_customers_and_campaigns(
    tmp_path: Path, shared_data: Path
) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        ws.import_dataset("bank-marketing", shared_data / "bank-marketing")
        built = ws.build_tags()
        assert built.customers == ws.counts()["customers"] > 40_000
        row = ws.query(
            "SELECT count(*) FILTER (WHERE responded_365d) AS responded, "
            "count(DISTINCT age_band) AS bands, count(*) FILTER (WHERE has_phone) AS phones "
            "FROM customer_profile"
        ).to_pylist()[0]
        assert row["bands"] >= 5
        # responded_365d against the contacts read back and filtered in pandas
        contacts = ws.table("campaign_contacts").to_pandas()
        when = pd.to_datetime(contacts["contacted_at"]).dt.tz_localize(None)
        end = pd.Timestamp(built.as_of) + pd.Timedelta(days=1)
        recent = contacts[(when >= end - pd.DateOffset(days=365)) & (when < end)
                          & (contacts["responded"].fillna(False) | contacts["converted"].fillna(False))]  # fmt: skip
        assert row["responded"] == recent["customer_id"].nunique() > 0
