"""The ``segment`` scenario: count the customers matching an expression over 30 yes/no tags.

Tags are being built elsewhere, so the data is synthesised here: ``N`` customers and a
``profile_bench`` table of 30 boolean columns ``t00`` ... ``t29`` (seeded; each column has its own
share of true, and 1% NULLs so that three-valued logic matters). The expression ORs the tags in
ten groups of three, some negated, and ANDs the groups:
``(t00 or not t01 or t02) and (t03 or t04 or not t05) and ...``.

Every contender loads the data first (not timed) and then counts the same expression many
times; the figure is the median of those counts. NULL semantics are SQL's everywhere (Kleene
logic in Polars and pandas' nullable booleans; TRUE / FALSE bitmap pairs for roaring).
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TAGS = 30
GROUP = 3
REPEAT = 200


def structure() -> list[list[tuple[str, bool]]]:
    """Groups of (tag, negated): every third tag of every other group is negated."""
    groups = []
    for g in range(TAGS // GROUP):
        groups.append([(f"t{g * GROUP + i:02d}", (i == 1 and g % 2 == 0) or (i == 2 and g % 2 == 1))
                       for i in range(GROUP)])  # fmt: skip
    return groups


def expression() -> str:
    return " and ".join(
        "(" + " or ".join(("not " if neg else "") + tag for tag, neg in group) + ")"
        for group in structure()
    )


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    """The answer and the median seconds of REPEAT runs (after one warm-up)."""
    answer = fn()
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return answer, statistics.median(times)


def prepare_segment(customers: str, out: str) -> dict[str, Any]:
    """A workspace with N customers and the 30 tag columns as profile_bench, plus Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lodestar.workspace import Workspace

    target = Path(out)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    n = int(customers)
    rng = np.random.default_rng(17)
    ids = pa.array([f"C{i:08d}" for i in range(n)])
    cols: dict[str, pa.Array] = {"customer_id": ids}
    for j in range(TAGS):
        share = 0.35 + 0.5 * rng.random()
        values = rng.random(n) < share
        null = rng.random(n) < 0.01
        cols[f"t{j:02d}"] = pa.array(values, mask=null)
    tags = pa.table(cols)
    pq.write_table(tags, target / "profile_bench.parquet")
    with Workspace.init(target / "ws") as ws:
        join = pa.array(np.full(n, np.datetime64("2020-01-01", "D")), pa.date32())
        ws.load_tables([("customers", pa.table({"customer_id": ids, "join_date": join}))],
                       source=f"bench:segment:{n}")  # fmt: skip
        ws.save_profile_table("bench", tags)
        count = ws.segment_count(expression())  # builds and saves the index (not timed later)
    return {"rows": n, "count": count}


def lodestar_segment(data: str, scratch: str) -> dict[str, Any]:
    """The in-memory profile index (loaded from its saved arrays): the count kernel, and the
    whole Workspace call (freshness check, cached parse, count) for reference."""
    from lodestar.workspace import Workspace

    expr = expression()
    with Workspace.open(Path(data) / "ws") as ws:
        ws.segment_count(expr)  # load the saved index
        node = ws.parse_segment(expr).node
        index = ws.profile_index()
        count, kernel = _timed(lambda: index.count(node))
        _, whole = _timed(lambda: ws.segment_count(expr))
    return {"rows": index.n, "count": count, "workspace_call_ms": round(whole * 1000, 3),
            "_op_seconds": kernel}  # fmt: skip


def duckdb_segment(data: str, scratch: str) -> dict[str, Any]:
    """Peer: DuckDB SQL over the tags loaded into an in-memory table."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE t AS SELECT * FROM read_parquet('{Path(data) / 'profile_bench.parquet'}')"
    )
    sql = f"SELECT count(*) FROM t WHERE {expression()}"
    count, seconds = _timed(lambda: int(con.execute(sql).fetchall()[0][0]))
    return {"rows": int(con.execute("SELECT count(*) FROM t").fetchall()[0][0]),
            "count": count, "_op_seconds": seconds}  # fmt: skip


def polars_segment(data: str, scratch: str) -> dict[str, Any]:
    """Peer: a Polars expression (Kleene logic) summed over the in-memory frame."""
    import functools

    import polars as pl

    frame = pl.read_parquet(Path(data) / "profile_bench.parquet")
    groups = [
        functools.reduce(lambda a, b: a | b, [~pl.col(t) if neg else pl.col(t) for t, neg in g])
        for g in structure()
    ]
    expr = functools.reduce(lambda a, b: a & b, groups)
    count, seconds = _timed(lambda: int(frame.select(expr.sum()).item()))
    return {"rows": frame.height, "count": count, "_op_seconds": seconds}


def pandas_segment(data: str, scratch: str) -> dict[str, Any]:
    """Peer: pandas nullable booleans (Kleene logic)."""
    import functools

    import pandas as pd

    frame = pd.read_parquet(Path(data) / "profile_bench.parquet", dtype_backend="numpy_nullable")

    def run() -> int:
        groups = [functools.reduce(lambda a, b: a | b,
                                   [~frame[t] if neg else frame[t] for t, neg in g])
                  for g in structure()]  # fmt: skip
        return int(functools.reduce(lambda a, b: a & b, groups).sum())

    count, seconds = _timed(run)
    return {"rows": len(frame), "count": count, "_op_seconds": seconds}


def roaring_segment(data: str, scratch: str) -> dict[str, Any]:
    """Peer: roaring bitmaps (pyroaring), a TRUE and a FALSE bitmap per tag."""
    import numpy as np
    import pyarrow.parquet as pq
    from pyroaring import BitMap

    table = pq.read_table(Path(data) / "profile_bench.parquet")
    bits: dict[str, tuple[Any, Any]] = {}
    for name in table.column_names[1:]:
        col = table.column(name)
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
        values = np.asarray(col.fill_null(False).to_numpy(zero_copy_only=False), bool)
        bits[name] = (
            BitMap(np.flatnonzero(values & valid)),
            BitMap(np.flatnonzero(~values & valid)),
        )

    def run() -> int:
        t_all = None
        for group in structure():
            t_g = BitMap()
            for tag, neg in group:
                t, f = bits[tag]
                t_g |= f if neg else t
            t_all = t_g if t_all is None else t_all & t_g
        return len(t_all) if t_all is not None else 0

    count, seconds = _timed(run)
    return {"rows": table.num_rows, "count": count, "_op_seconds": seconds}


TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "prepare-segment": prepare_segment,
    "lodestar-segment": lodestar_segment,
    "duckdb-segment": duckdb_segment,
    "polars-segment": polars_segment,
    "pandas-segment": pandas_segment,
    "roaring-segment": roaring_segment,
}
