"""A hand-built campaign for the campaign-effect tests: a plan of 10 treated (arm A) and 10
holdout customers, the messages actually sent, and the events that followed — small enough to
work every figure out by hand (see test_campaign_effect.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lodestar.campaigns.effect_data import Terms

SEND = datetime(2026, 11, 1, 9, 0)  # the planned send, naive UTC as plans store it
TERMS = [Terms("LOAN", "sms", contact_cost=0.5, offer_cost=20.0, value=300.0)]
TREATED = [f"T{i}" for i in range(1, 11)]
HOLDOUT = [f"C{i}" for i in range(1, 11)]


def write_plan(folder: Path) -> Path:
    rows = [{"customer_id": c, "arm": "A" if c.startswith("T") else "control",
             "offer_id": "LOAN", "product_id": "LOAN_CONSUMER", "channel": "sms",
             "send_at": SEND, "contact": c.startswith("T"),
             "segment": "mass" if int(c[1:]) <= 5 else "affluent"}
            for c in TREATED + HOLDOUT]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False),
                   folder / "plan.parquet")  # fmt: skip
    return folder / "plan.parquet"


def write_sends(folder: Path) -> Path:
    """T1..T8 were sent an hour after the planned time; T9 and T10 never were; T1..T3 replied."""
    at = SEND + timedelta(hours=1)
    rows = [{"customer_id": f"T{i}", "offer_id": "LOAN", "channel": "sms", "sent_at": at,
             "responded": int(i <= 3)} for i in range(1, 9)]  # fmt: skip
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False),
                   folder / "sends.parquet")  # fmt: skip
    return folder / "sends.parquet"


def _utc(days: float, hours: float = 0.0) -> datetime:
    return (SEND + timedelta(days=days, hours=hours)).replace(tzinfo=UTC)


#: (customer, event, when). Window 30 days from the send (T1..T8: 10:00, the rest 09:00).
EVENTS = [
    ("T1", "apply_done", _utc(0, 2)),     # day 0 after its 10:00 send
    ("T2", "apply_done", _utc(1, 2)),     # day 1
    ("T3", "apply_done", _utc(2, 2)),     # day 2
    ("T4", "apply_done", _utc(5, 2)),     # day 5
    ("T4", "apply_done", _utc(6, 2)),     # a second one: a customer converts once
    ("T9", "apply_done", _utc(3)),        # never sent, still treated (intention to treat), day 3
    ("T5", "apply_done", _utc(31)),       # after the window
    ("T6", "apply_done", _utc(0, 0.5)),   # 09:30: before its 10:00 send
    ("C1", "apply_done", _utc(1)),        # day 1
    ("C2", "apply_done", _utc(29, 23)),   # day 29, inside the window
    ("C3", "apply_done", _utc(-1)),       # before the planned send
    ("C4", "apply_done", _utc(30)),       # exactly 30 days: the window is half-open
    ("T1", "register", _utc(0, 3)),
    ("T2", "register", _utc(0, 3)),
    ("T7", "register", _utc(4)),
    ("T8", "register", _utc(4)),
    ("C5", "register", _utc(2)),
]  # fmt: skip


def connection(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the events and holdings tables as the workspace has them."""
    con = duckdb.connect()
    events = pa.table({
        "customer_id": [e[0] for e in EVENTS], "event_name": [e[1] for e in EVENTS],
        "ts": pa.array([e[2] for e in EVENTS], pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    holdings = pa.table({"customer_id": pa.array([], pa.string()),
                         "product_id": pa.array([], pa.string()),
                         "open_date": pa.array([], pa.date32())})  # fmt: skip
    con.register("events_in", events)
    con.register("holdings_in", holdings)
    con.execute("CREATE TABLE events AS SELECT * FROM events_in")
    con.execute("CREATE TABLE holdings AS SELECT * FROM holdings_in")
    return con
