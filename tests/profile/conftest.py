"""CDNOW, shared by the RFM, value-tier and lifecycle tests: imported once, and its raw file read
plainly in pandas for the independent reference computations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from lodestar.workspace import Workspace


@pytest.fixture(scope="session")
def cdnow(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Workspace]:
    """A workspace holding the CDNOW purchases (tests add profile tables, never rows)."""
    ws = Workspace.init(tmp_path_factory.mktemp("cdnow") / "ws")
    ws.import_dataset("cdnow", shared_data / "cdnow")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def _cdnow_raw(shared_data: Path) -> pd.DataFrame:
    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt", sep=r"\s+", header=0,
                      names=["customer", "date", "cds", "dollars"], dtype={"customer": str})  # fmt: skip
    raw["when"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    raw["customer_id"] = "CD" + raw["customer"].str.zfill(5)
    return raw


@pytest.fixture
def cdnow_raw(_cdnow_raw: pd.DataFrame) -> pd.DataFrame:
    """CDNOW_master.txt read plainly (a fresh copy per test), plus ``when`` (purchase day) and
    ``customer_id`` as the connector names customers (``CD`` + five digits)."""
    return _cdnow_raw.copy()
