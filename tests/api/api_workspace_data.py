"""A hand-made workspace for the API tests: a decision snapshot and a saved plan (no models
needed) and consents in the operational store. Imported by conftest.py and by tests that build
their own workspace (the served test, on PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from lodestar.storage.operational_tables import consents
from lodestar.workspace import Workspace


def write_snapshot(directory: Path) -> None:
    """C1: a loan by push is best, then a card by SMS; C2 is in the holdout; C3 has nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [
        ("C1", "LOAN", "app_push", 120.0, 2.0, "treatment", 50_000.0, 6.5),
        ("C1", "CARD", "sms", 60.0, 0.05, "treatment", None, None),
        ("C2", "LOAN", "app_push", 90.0, 2.0, "control", 30_000.0, 7.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "offer_id", "channel", "gross", "cost",
                                        "arm", "credit_limit", "credit_rate"])  # fmt: skip
    frame["weighted"] = frame["gross"]
    pq.write_table(pa.Table.from_pandas(frame), directory / "candidates.parquet")
    people = pd.DataFrame({"customer_id": ["C1", "C2", "C3"],
                           "time_zone": ["Asia/Shanghai"] * 3,
                           "phone": ["13800000001", "13800000002", None],
                           "app_user_id": ["U1", "U2", None]})  # fmt: skip
    pq.write_table(pa.Table.from_pandas(people), directory / "customers.parquet")
    (directory / "meta.json").write_text(json.dumps({"holdout": 0.05}))


def write_plan(plans_root: Path) -> str:
    """A saved plan CMP_TEST-v1 in which C1 is contacted with the loan by push."""
    folder = plans_root / "CMP_TEST" / "v1"
    folder.mkdir(parents=True)
    action = pd.DataFrame([{"customer_id": "C1", "offer_id": "LOAN", "channel": "app_push",
                            "contact": True, "arm": "treatment", "expected_value": 120.0,
                            "expected_cost": 2.0, "expected_net": 118.0,
                            "product_id": "LOAN_CONSUMER",
                            "send_at": datetime(2026, 12, 2, 1, 0)}])  # fmt: skip
    pq.write_table(pa.Table.from_pandas(action), folder / "plan.parquet")
    cand = pd.DataFrame([{"customer_id": "C1", "offer_id": "LOAN", "channel": "app_push",
                          "weighted": 120.0, "cost": 2.0, "profitable": True}])  # fmt: skip
    pq.write_table(pa.Table.from_pandas(cand), folder / "candidates.parquet")
    for name, cols in (("offer_rules.parquet", ["customer_id", "offer_id", "rule"]),
                       ("channel_rules.parquet", ["customer_id", "channel", "rule"])):  # fmt: skip
        pq.write_table(pa.table({c: pa.array([], pa.string()) for c in cols}), folder / name)
    summary = {"plan_id": "CMP_TEST-v1", "version": 1, "created_at": "2026-12-01T00:00:00+00:00",
               "created_by": "test", "contacts": 1, "expected_cost": 2.0}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    return "CMP_TEST-v1"


def grant_consents(ws: Workspace, customer_id: str = "C1") -> None:
    with ws.ops.begin() as conn:
        for channel in ("app_push", "sms"):
            conn.execute(sa.insert(consents).values(
                consent_id=f"K-{customer_id}-{channel}", customer_id=customer_id,
                channel=channel, purpose="marketing", granted=True, source="app",
                ts=datetime(2025, 1, 1, tzinfo=UTC)))  # fmt: skip


def prepare(ws: Workspace) -> None:
    write_snapshot(ws.snapshot_dir)
    write_plan(ws.plans_root)
    grant_consents(ws)
