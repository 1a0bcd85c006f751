"""Fixtures of the rights ledger tests: a migrated operational store on SQLite and PostgreSQL,
a settable clock, and a small catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.storage.operational import OperationalStore

CATALOGUE_TEXT = """\
rights:
  - id: cashback_20
    name: {zh: 20元返现, en: CNY 20 cashback}
    kind: cashback
    face_value: 20
    cost: 20
    validity_days: 30
    budget_cny: 100
  - id: voucher
    name: {zh: 咖啡券, en: Coffee voucher}
    kind: partner_voucher
    face_value: 30
    cost: 12.5
    validity_days: 1
    budget_cny: 50
    budget_count: 3
    points_price: 300
  - id: bundle_500
    name: {zh: 500积分包, en: 500 points bundle}
    kind: points_bundle
    face_value: 500
    cost: 5
    validity_days: 7
    budget_count: 10
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def catalogue() -> RightsCatalogue:
    return RightsCatalogue.from_text(CATALOGUE_TEXT, "rights.yaml")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[OperationalStore]:
    url = database_url or f"sqlite:///{tmp_path / 'ops.sqlite'}"
    s = OperationalStore(url)
    s.migrate()
    yield s
    s.dispose()
