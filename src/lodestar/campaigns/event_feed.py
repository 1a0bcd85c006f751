"""The live customer-event feed: events as they arrive, in the order they were stored.

Journeys read it to start (an event-triggered campaign), to end a wait early (``until_event``),
to branch (``if_event``) and to stop at the goal. Events arrive through the events API
(``POST /v1/events``) and through ingestion (the event names a running journey listens to).

Two guarantees the readers rely on:

- **each event once**: the event id is unique; a batch that repeats ids (a client's retry)
  stores only the new ones, and a batch is one transaction (all of it or none);
- **no event skipped by a cursor**: appends hold one lock (``OperationalStore.locked``), so
  sequence numbers commit in order and a reader that remembers the last ``seq`` it saw never
  misses a row that was still being written with a lower number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import event_feed

_LOCK = "event_feed"
# one encoder: json.dumps with options builds a new one per call (a third of its cost here)
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class FeedEvent:
    event_id: str
    event_name: str
    ts: datetime
    customer_id: str | None = None
    anonymous_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    #: the other canonical fields of the ``events`` entity (platform, page, session_id...),
    #: kept for the analytical store; journeys do not read them
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event_id: str
    event_name: str
    ts: datetime
    customer_id: str | None
    properties: dict[str, Any]
    #: the device or cookie the event came from (referral fraud rules compare devices)
    anonymous_id: str | None = None


def append(store: OperationalStore, events: Iterable[FeedEvent], *, source: str = "api",
           now: datetime | None = None) -> int:  # fmt: skip
    """Store the events whose ids are new, in one transaction; returns how many were new."""
    at = now or datetime.now(UTC)
    values: list[dict[str, Any]] = [{"event_id": e.event_id, "customer_id": e.customer_id,
               "anonymous_id": e.anonymous_id, "event_name": e.event_name,
               "ts": e.ts if e.ts.tzinfo is not None else e.ts.replace(tzinfo=UTC),
               "properties": _JSON.encode(e.properties) if e.properties else None,
               "context": _JSON.encode(e.context) if e.context else None,
               } for e in events]  # fmt: skip
    if not values:
        return 0
    # One statement a chunk, not SQLAlchemy's executemany with RETURNING: that renders a
    # multi-row VALUES text that psycopg re-parses on every call (about 100 ms for 1,000
    # events). Counting inserted rows is enough here; the id index keeps each event once.
    added = 0
    with store.locked(_LOCK) as conn:
        for start in range(0, len(values), 5000):
            chunk = values[start : start + 5000]
            if store.engine.dialect.name == "postgresql":
                arrays = {c: [v[c] for v in chunk] for c in _COLUMNS}
                result = conn.execute(_PG_APPEND, {**arrays, "source": source, "at": at})
            else:
                rows = [(v["event_id"], v["customer_id"], v["anonymous_id"], v["event_name"],
                         _sqlite_time(v["ts"]), v["properties"], v["context"], source,
                         _sqlite_time(at)) for v in chunk]  # fmt: skip
                result = conn.exec_driver_sql(_SQLITE_APPEND, rows)
            added += max(result.rowcount, 0)
    return added


_COLUMNS = ("event_id", "customer_id", "anonymous_id", "event_name", "ts", "properties",
            "context")  # fmt: skip
_INSERT = f"INSERT INTO event_feed ({', '.join(_COLUMNS)}, source, received_at) "
# unnest keeps the order of the arrays (WITH ORDINALITY makes it explicit), so sequence
# numbers follow the batch; a repeated id inside one batch is skipped like any other
_PG_APPEND = sa.text(
    _INSERT + "SELECT u.event_id, u.customer_id, u.anonymous_id, u.event_name, u.ts, "
    "u.properties, u.context, :source, :at FROM unnest(CAST(:event_id AS text[]), "
    "CAST(:customer_id AS text[]), CAST(:anonymous_id AS text[]), CAST(:event_name AS text[]), "
    "CAST(:ts AS timestamptz[]), CAST(:properties AS text[]), CAST(:context AS text[])) "
    "WITH ORDINALITY AS u(event_id, customer_id, anonymous_id, event_name, ts, properties, "
    "context, n) ORDER BY u.n ON CONFLICT (event_id) DO NOTHING")
_SQLITE_APPEND = _INSERT + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"


def _sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite ``DateTime`` stores (UTC, no zone), so reads parse it."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_after(store: OperationalStore, after_seq: int, *, names: Sequence[str] | None = None,
               limit: int = 10_000, conn: sa.Connection | None = None) -> list[StoredEvent]:  # fmt: skip
    """Events stored after ``after_seq`` (optionally only these names), oldest first; on
    ``conn`` when given (a reader inside its own locked transaction)."""
    q = sa.select(event_feed).where(event_feed.c.seq > after_seq)
    if names is not None:
        q = q.where(event_feed.c.event_name.in_(list(names)))
    q = q.order_by(event_feed.c.seq).limit(limit)
    if conn is not None:
        return [_stored(r) for r in conn.execute(q).mappings()]
    with store.engine.connect() as own:
        return [_stored(r) for r in own.execute(q).mappings()]


def last_seq(store: OperationalStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(event_feed.c.seq), 0)))
                   .scalar_one())  # fmt: skip


def customer_had(store: OperationalStore, customer_id: str, names: Sequence[str],
                 since: datetime, until: datetime | None = None) -> bool:  # fmt: skip
    """Did the customer do one of ``names`` at or after ``since`` (and before ``until``)?"""
    q = sa.select(event_feed.c.seq).where(
        (event_feed.c.customer_id == customer_id) & event_feed.c.event_name.in_(list(names))
        & (event_feed.c.ts >= since))  # fmt: skip
    if until is not None:
        q = q.where(event_feed.c.ts < until)
    with store.engine.connect() as conn:
        return conn.execute(q.limit(1)).first() is not None


def _stored(r: Any) -> StoredEvent:
    ts = r["ts"]
    if ts.tzinfo is None:  # SQLite keeps no zone: the feed stores UTC
        ts = ts.replace(tzinfo=UTC)
    return StoredEvent(seq=int(r["seq"]), event_id=r["event_id"], event_name=r["event_name"],
                       ts=ts, customer_id=r["customer_id"],
                       properties=json.loads(r["properties"]) if r["properties"] else {},
                       anonymous_id=r["anonymous_id"])  # fmt: skip
