"""Apache access logs (combined format) as behavioural web events.

Each request becomes an ``events`` row: ``anonymous_id`` is a stable hash of (client IP, user
agent) — never the raw IP, which is personal data; ``platform`` web; ``page`` the path;
``referrer`` (``-`` = none); ``properties`` holds method, status, bytes and the user agent.
Requests are named by what they are: ``bot_hit`` for crawlers (user agent mentions bot, crawl,
spider, slurp...), ``asset_load`` for static files (images, CSS, JS, fonts), ``feed_fetch`` for
RSS / Atom / XML feeds, ``page_view`` for the rest. Sessions: per visitor, a new session after
30 minutes without a request. Timestamps keep their offset and are stored in UTC.

Lines that do not parse are counted and skipped; more than 1% of them means this is not an
access log and the import stops with an error.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lodestar.data.connectors.base import DatasetConnector, canonical, numbered
from lodestar.data.schema import EVENTS
from lodestar.errors import DatasetError

LINE = re.compile(
    r'^(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)(?: [^"]*)?" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)")?'
)
BOT = re.compile(r"bot|crawl|spider|slurp|fetch|monitor|curl|wget|python", re.IGNORECASE)
ASSET = re.compile(r"\.(png|jpe?g|gif|ico|svg|css|js|woff2?|ttf|eot|map)(\?|$)", re.IGNORECASE)
FEED = re.compile(r"(rss|atom|feed|\.xml)(\?|/|$)", re.IGNORECASE)
SESSION_GAP_US = 30 * 60 * 1_000_000
MAX_BAD_SHARE = 0.01


def _event_name(path: str, agent: str) -> str:
    if BOT.search(agent):
        return "bot_hit"
    if ASSET.search(path):
        return "asset_load"
    if FEED.search(path):
        return "feed_fetch"
    return "page_view"


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    rows: list[dict[str, Any]] = []
    bad = 0
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = LINE.match(line)
            if not m:
                bad += 1
                continue
            try:
                ts = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z")
            except ValueError:
                bad += 1
                continue
            agent = m["agent"] or ""
            visitor = hashlib.sha256(f"{m['ip']}|{agent}".encode()).hexdigest()[:20]
            rows.append({
                "ts_us": int(ts.timestamp() * 1_000_000),
                "visitor": f"W{visitor}",
                "name": _event_name(m["path"], agent),
                "page": m["path"][:512],
                "referrer": None if m["referrer"] in (None, "-") else m["referrer"][:512],
                "props": json.dumps({"method": m["method"], "status": int(m["status"]),
                                     "bytes": None if m["bytes"] == "-" else int(m["bytes"]),
                                     "user_agent": agent}, ensure_ascii=False),
            })  # fmt: skip
    total = len(rows) + bad
    if total == 0 or bad > MAX_BAD_SHARE * total:
        raise DatasetError(
            f"{path}: {bad} of {total} lines are not Apache combined-format requests",
            hint='expected lines like: 1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" '
            '200 123 "-" "Mozilla/5.0"',
        )
    n = len(rows)
    ts_us = np.array([r["ts_us"] for r in rows], dtype=np.int64)
    visitors = np.array([r["visitor"] for r in rows])
    order = np.lexsort((ts_us, visitors))
    # A new session when the visitor changes or 30 minutes pass without a request.
    gap = np.diff(ts_us[order], prepend=ts_us[order][0])
    new = np.concatenate([[True], visitors[order][1:] != visitors[order][:-1]]) | (
        gap > SESSION_GAP_US
    )
    session_sorted = np.cumsum(new)
    session = np.empty(n, dtype=np.int64)
    session[order] = session_sorted
    yield (
        "events",
        canonical(
            EVENTS,
            {
                "event_id": numbered("WL", n, 6),
                "ts": pa.array(ts_us.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
                "anonymous_id": pa.array(visitors),
                "platform": pa.array(["web"] * n),
                "event_name": pa.array([r["name"] for r in rows]),
                "session_id": pa.array([f"WS{s:06d}" for s in session]),
                "page": pa.array([r["page"] for r in rows]),
                "referrer": pa.array([r["referrer"] for r in rows], pa.string()),
                "properties": pa.array([r["props"] for r in rows]),
            },
            n,
        ),
    )


CONNECTOR = DatasetConnector(
    name="web-logs",
    title="Apache access logs (Elastic sample, 10,000 requests)",
    description="anonymous web events with sessions, pages, referrers; visitors hashed",
    default_files=("apache_logs", "access.log", "access_log"),
    expected_rows={"events": 10_000},
    reader=read,
)
