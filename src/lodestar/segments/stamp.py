"""Version stamps: when is the in-memory profile index, or a cached bitmap, out of date?

Two stamps, one cheap and one certain:

- :func:`content_stamp` digests what ``customer_profile`` shows: the view's SQL (its tables,
  columns and the data date that ages are computed on) and, for ``customers`` and every
  ``profile_*`` table, its row count and an order-independent sum of row hashes. Equal stamps
  mean equal data. It reads every row once (about 0.1 s per million customers), so it is taken
  when a workspace first needs the index and after the quick stamp moves. The saved index is
  named by it, so a later process uses the saved arrays exactly when the content is the same.
- :func:`quick_stamp` moves whenever anything may have been written to the analytical store.
  For a DuckDB file it is the size and modification time of the file and of its write-ahead
  log: every committed write appends to the log (or, at a checkpoint, rewrites the file), and
  no other process can write while this one holds the file open. Reading two ``stat`` results
  takes microseconds, so every count can afford it. Stores without a file (in-memory DuckDB,
  other engines) fall back to digesting the tables themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lodestar.storage.analytical import AnalyticalEngine

VIEW = "customer_profile"
#: Tables that behaviour functions read (their changes matter to cached bitmaps).
BEHAVIOUR_TABLES = ("events", "identities", "transactions", "holdings", "products", "consents")


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


def _table_sums(engine: AnalyticalEngine, tables: list[str]) -> list[list[object]]:
    out: list[list[object]] = []
    for table in tables:
        q = '"' + table.replace('"', '""') + '"'
        row = engine.query(f"SELECT count(*) AS n, sum(hash(t)) AS h FROM {q} t").to_pylist()[0]
        out.append([table, row["n"], str(row["h"])])
    return out


def content_stamp(engine: AnalyticalEngine) -> str:
    tables = [t for t in engine.tables() if t == "customers" or t.startswith("profile_")]
    return _digest([_view_sql(engine), _table_sums(engine, tables)])


def quick_stamp(engine: AnalyticalEngine) -> str:
    path = getattr(engine, "path", None)
    if isinstance(path, str) and path not in ("", ":memory:") and Path(path).is_file():
        return _digest([_stat(path), _stat(path + ".wal")])
    present = set(engine.tables())
    return _digest([content_stamp(engine),
                    _table_sums(engine, [t for t in BEHAVIOUR_TABLES if t in present])])  # fmt: skip


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def _view_sql(engine: AnalyticalEngine) -> str:
    if engine.name == "duckdb":
        rows = engine.query(
            "SELECT sql FROM duckdb_views() WHERE schema_name = 'main' AND view_name = ?", [VIEW]
        ).to_pylist()
        if rows:
            return str(rows[0]["sql"])
    cols = engine.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [VIEW],
    ).to_pylist()
    return json.dumps(cols)
