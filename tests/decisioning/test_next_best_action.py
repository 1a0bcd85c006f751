"""Real-time next-best-action over a hand-made snapshot and a real operational store (SQLite and
PostgreSQL): the best allowed action, consent read at the moment of the decision, the holdout
kept out, and the caps held under concurrent decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from lodestar.decisioning.next_best_action import NextBestAction
from lodestar.decisioning.policy_rules import default_policy
from lodestar.decisioning.policy_store import add_do_not_contact
from lodestar.errors import ConfigError
from lodestar.storage.operational import OperationalStore, sqlite_url
from lodestar.storage.operational_tables import consents

AT = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: no quiet hours


def snapshot(directory: Path) -> Path:
    directory.mkdir()
    rows = [  # C1: loan by push is best, then card by sms; C2 is in the holdout
        ("C1", "LOAN", "app_push", 120.0, 2.0, "treatment", 50_000.0, 6.5),
        ("C1", "CARD", "sms", 60.0, 0.05, "treatment", None, None),
        ("C1", "INS", "app_push", 5.0, 0.01, "treatment", None, None),
        ("C2", "LOAN", "app_push", 90.0, 2.0, "control", 30_000.0, 7.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "offer_id", "channel", "gross", "cost",
                                        "arm", "credit_limit", "credit_rate"])  # fmt: skip
    frame["weighted"] = frame["gross"]
    pq.write_table(pa.Table.from_pandas(frame), directory / "candidates.parquet")
    people = pd.DataFrame({"customer_id": ["C1", "C2"], "time_zone": ["Asia/Shanghai"] * 2,
                           "phone": ["13800000001", "13800000002"],
                           "app_user_id": ["U1", "U2"]})  # fmt: skip
    pq.write_table(pa.Table.from_pandas(people), directory / "customers.parquet")
    (directory / "meta.json").write_text(json.dumps({"holdout": 0.05}))
    return directory


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OperationalStore]:
    url = (sqlite_url(tmp_path / "ops.sqlite") if request.param == "sqlite"
           else str(request.getfixturevalue("pg_schema_url")))  # fmt: skip
    ops = OperationalStore(url)
    ops.migrate()
    yield ops
    ops.dispose()


def grant(store: OperationalStore, channel: str, *, withdrawn: datetime | None = None,
          n: int = 0) -> None:  # fmt: skip
    with store.begin() as conn:
        conn.execute(sa.insert(consents).values(
            consent_id=f"K{channel}{n}", customer_id="C1", channel=channel, purpose="marketing",
            granted=True, source="app", ts=datetime(2025, 1, 1, tzinfo=UTC),
            withdrawn_at=withdrawn))  # fmt: skip


def engine(tmp_path: Path, store: OperationalStore) -> NextBestAction:
    return NextBestAction(snapshot(tmp_path / "snap"), default_policy(), store)


def test_the_best_allowed_action_with_its_limit_and_rate(tmp_path: Path,
                                                         store: OperationalStore) -> None:  # fmt: skip
    grant(store, "app_push")
    grant(store, "sms")
    nba = engine(tmp_path, store)
    got = nba.decide("C1", at=AT)
    assert (got.outcome, got.offer_id, got.channel) == ("offer", "LOAN", "app_push")
    assert got.credit_limit == 50_000.0 and got.credit_rate == 6.5
    assert got.reservation_id and got.expected_net == pytest.approx(118.0)
    card = nba.decide("C1", channel="sms", at=AT, reserve=False)
    assert card.offer_id == "CARD" and card.credit_limit is None and card.reservation_id is None
    assert nba.decide("C2", at=AT).outcome == "holdout"
    with pytest.raises(ConfigError, match="not in the decision snapshot"):
        nba.decide("C9", at=AT)


def test_consent_withdrawn_after_the_snapshot_counts_at_once(tmp_path: Path,
                                                             store: OperationalStore) -> None:  # fmt: skip
    grant(store, "sms")
    grant(store, "app_push", withdrawn=datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    nba = engine(tmp_path, store)
    got = nba.decide("C1", at=AT, reserve=False)
    # the push consent was withdrawn an hour ago: the card by SMS is the best allowed action
    assert (got.offer_id, got.channel) == ("CARD", "sms")
    assert any("consent_withdrawn" in r for r in got.reasons)
    add_do_not_contact(store, "C1", "all", "customer_request", actor="test",
                       at=datetime(2026, 12, 3, 2, 30, tzinfo=UTC))
    blocked = nba.decide("C1", at=AT, reserve=False)
    assert blocked.outcome == "none" and any("do_not_contact" in r for r in blocked.reasons)


def test_caps_hold_under_concurrent_decisions(tmp_path: Path, store: OperationalStore) -> None:
    grant(store, "app_push")
    grant(store, "sms")
    nba = engine(tmp_path, store)
    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(lambda _: nba.decide("C1", at=AT), range(40)))
    offers = [d for d in decisions if d.outcome == "offer"]
    policy = default_policy()
    # the global day cap of the example policy is 2 contacts a day, whatever the channel
    assert policy.frequency.global_.day == 2
    assert len(offers) == 2 and len({d.reservation_id for d in offers}) == 2
    assert all(d.outcome == "none" for d in decisions if d not in offers)
    assert nba.ledger.reservations("C1").shape[0] == 2
