"""Segments on real customers: bank churn and bank marketing, counted from the index and by the
engine, and checked against the raw files in pandas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from lodestar.profile.view import data_as_of
from lodestar.workspace import Workspace

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("seg-churn") / "ws")
    ws.import_dataset("bank-churn", shared_data / "bank-churn")
    ws.build_tags()
    yield ws
    ws.close()


def test_a_snapshot_without_transactions_is_profiled_as_of_its_own_date(churn: Workspace) -> None:
    # bank churn is a 2019-01-01 snapshot: ages are counted to it, not to today
    assert data_as_of(churn.engine) == date(2019, 1, 1)


def test_bank_churn_segments_match_the_raw_file(churn: Workspace, shared_data: Path) -> None:
    raw = pd.read_csv(next((shared_data / "bank-churn").glob("*.csv")))
    stayed = raw["Exited"] == 0
    cases = {
        "region = 'Germany' and has_credit_card and age between 30 and 45":
            (raw["Geography"] == "Germany") & (raw["HasCrCard"] == 1) & stayed
            & raw["Age"].between(30, 45),
        "deposit_balance >= 100000 and not has_credit_card and gender = 'female'":
            (raw["Balance"] >= 100000) & ~((raw["HasCrCard"] == 1) & stayed) & stayed
            & (raw["Gender"] == "Female"),
        "status = 'closed' and region in ('France', 'Spain')":
            ~stayed & raw["Geography"].isin(["France", "Spain"]),
    }  # fmt: skip
    for expr, expected in cases.items():
        want = int(expected.sum())
        assert churn.segment_count(expr) == want, expr
        assert churn.segment_count(expr, method="sql") == want, expr
        assert want > 0


def test_bank_marketing_segments_on_past_campaign_outcomes(
    tmp_path: Path, shared_data: Path
) -> None:
    with Workspace.init(tmp_path / "ws") as ws:
        ws.import_dataset("bank-marketing", shared_data / "bank-marketing")
        ws.build_tags()
        total = ws.counts()["customers"]
        married = ws.segment_count("marital_status = 'married'")
        assert 0 < married < total
        assert married == ws.segment_count("marital_status = 'married'", method="sql")
        saved = ws.save_segment("older_married", "marital_status = 'married' and age >= 50")
        assert saved.version == 1
        older = ws.segment_count("marital_status = 'married' and age >= 50")
        overlap = ws.segment_overlap(["older_married", "marital_status = 'married'"])
        # the older married are a subset of the married
        assert overlap.regions[(True, True)] == older
        assert overlap.regions[(True, False)] == 0
        assert overlap.regions[(False, True)] == married - older
        assert overlap.union == married
