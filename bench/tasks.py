"""What one contender does in its own process. ``python -m bench.tasks NAME ARGS...``; the last
line printed is the JSON answer the harness compares across contenders."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

#: What the ingestion race loads, parents first (transactions reference accounts).
TABLES = ("products", "customers", "holdings", "transactions")


def _fresh(path: str) -> Path:
    p = Path(path)
    shutil.rmtree(p, ignore_errors=True)
    p.mkdir(parents=True)
    return p


# -- generation ---------------------------------------------------------------------------------
def lodestar_generate(customers: str, scratch: str) -> dict[str, Any]:
    """Generate the synthetic bank and load it, validated, into a new workspace."""
    from lodestar.workspace import Workspace

    with Workspace.init(_fresh(scratch) / "ws") as ws:
        ws.generate(int(customers), seed=7)
        counts = ws.counts()
    return {"rows": sum(counts.values()), **{k: v for k, v in counts.items() if v}}


def parquet_generate(customers: str, scratch: str) -> dict[str, Any]:
    """Peer: the same generator written straight to Parquet, no validation and no store."""
    import pyarrow.parquet as pq

    from lodestar.data.synthetic import generate_bank

    out = _fresh(scratch)
    writers: dict[str, pq.ParquetWriter] = {}
    counts: Counter[str] = Counter()
    for name, table in generate_bank(int(customers), 7):
        if name not in writers:
            writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema)
        writers[name].write_table(table)
        counts[name] += table.num_rows
    for w in writers.values():
        w.close()
    return {"rows": sum(counts.values()), **dict(counts)}


# -- ingestion ----------------------------------------------------------------------------------
def lodestar_ingest(data: str, scratch: str) -> dict[str, Any]:
    """`lodestar ingest` of the CSVs: typed, validated (references too), atomic."""
    from lodestar.workspace import Workspace

    with Workspace.init(_fresh(scratch) / "ws") as ws:
        for name in TABLES:
            ws.ingest(name, Path(data) / f"{name}.csv")
        return _answer_duckdb(ws.engine.query)


def _answer_duckdb(query: Any) -> dict[str, Any]:
    row = query("SELECT count(*) AS n, round(sum(amount), 2) AS s FROM transactions").to_pylist()
    return {"rows": int(row[0]["n"]), "amount_sum": float(row[0]["s"])}


def duckdb_ingest(data: str, scratch: str) -> dict[str, Any]:
    """Peer: DuckDB's own CSV reader into a DuckDB file (types sniffed, no rule checks)."""
    import duckdb

    con = duckdb.connect(str(_fresh(scratch) / "peer.duckdb"))
    for name in TABLES:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{Path(data) / name}.csv')")
    answer = _answer_duckdb(lambda sql: con.sql(sql).to_arrow_table())
    con.close()
    return answer


def polars_ingest(data: str, scratch: str) -> dict[str, Any]:
    """Peer: Polars reads the CSVs and writes Parquet (types sniffed, no rule checks)."""
    import polars as pl

    out = _fresh(scratch)
    for name in TABLES:
        frame = pl.scan_csv(Path(data) / f"{name}.csv", try_parse_dates=True)
        frame.sink_parquet(out / f"{name}.parquet")
    tx = pl.scan_parquet(out / "transactions.parquet")
    row = tx.select(pl.len().alias("n"), pl.col("amount").sum().round(2).alias("s")).collect()
    return {"rows": int(row["n"][0]), "amount_sum": float(row["s"][0])}


def pandas_ingest(data: str, scratch: str) -> dict[str, Any]:
    """Peer: pandas reads the CSVs in chunks and writes Parquet (the common hand-rolled path)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = _fresh(scratch)
    n, total = 0, 0.0
    for name in TABLES:
        writer = None
        for chunk in pd.read_csv(Path(data) / f"{name}.csv", chunksize=500_000):
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out / f"{name}.parquet", table.schema)
            else:
                table = table.cast(writer.schema)
            writer.write_table(table)
            if name == "transactions":
                n += len(chunk)
                total += float(chunk["amount"].sum())
        if writer is not None:
            writer.close()
    return {"rows": n, "amount_sum": round(total, 2)}


# -- preparation (not timed) --------------------------------------------------------------------
def prepare_csv(customers: str, out: str) -> dict[str, Any]:
    """Generate a bank and export customers and transactions as CSV for the ingestion race."""
    import duckdb

    from lodestar.workspace import Workspace

    target = Path(out)
    with Workspace.init(_fresh(str(target / "ws")) / "bank") as ws:
        ws.generate(int(customers), seed=11)
        ws.engine.close()
        con = duckdb.connect(str(ws.root / "analytics.duckdb"), read_only=True)
        for name in TABLES:
            con.execute(
                f"COPY (SELECT * FROM {name}) TO '{target / name}.csv' (HEADER, DELIMITER ',')"
            )
        rows = con.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
        con.close()
    shutil.rmtree(target / "ws", ignore_errors=True)
    return {"rows": int(rows)}


# -- RFM ----------------------------------------------------------------------------------------
# Every contender computes the same definition (lodestar.profile.rfm): a 365-day window ending on
# the day of the last transaction, business transaction types, linear-interpolated 20/40/60/80%
# quantile cuts over customers active in the window, score = 1 + cuts below the value (recency
# reversed), inactive customers score 1, groups by each score against its mean.
RFM_TYPES = ("card_purchase", "purchase", "bill_payment", "wealth_purchase", "loan_drawdown",
             "insurance_premium", "deposit", "transfer_out")  # fmt: skip


def _rfm_answer(r: Any, f: Any, m: Any) -> dict[str, Any]:
    import numpy as np

    r, f, m = (np.asarray(x, dtype=np.int64) for x in (r, f, m))
    group = (r > r.mean()) * 4 + (f > f.mean()) * 2 + (m > m.mean())
    counts = np.bincount(group, minlength=8)
    return {"rows": len(r), "r_sum": int(r.sum()), "f_sum": int(f.sum()),
            "m_sum": int(m.sum()), "groups": [int(c) for c in counts]}  # fmt: skip


def lodestar_rfm(data: str, scratch: str) -> dict[str, Any]:
    """RFM from the workspace's own store (the bank was generated into it)."""
    from lodestar.workspace import Workspace

    with Workspace.open(Path(data) / "ws") as ws:
        started = time.perf_counter()
        t = ws.rfm(save=False).table
        answer = _rfm_answer(t["r"], t["f"], t["m"])
    return {**answer, "_op_seconds": time.perf_counter() - started}


def _scores(values: Any, active: Any, reverse: bool) -> Any:
    import numpy as np

    cuts = np.quantile(values[active], [0.2, 0.4, 0.6, 0.8])
    below = np.searchsorted(cuts, values, side="left")
    return np.where(active, (5 - below) if reverse else (1 + below), 1)


def duckdb_rfm(data: str, scratch: str) -> dict[str, Any]:
    """Peer: the whole definition in DuckDB SQL over the exported Parquet."""
    import duckdb

    types = ", ".join(f"'{t}'" for t in RFM_TYPES)
    d = Path(data)
    con = duckdb.connect()
    started = time.perf_counter()
    row = con.sql(f"""
        WITH t AS (SELECT * FROM read_parquet('{d}/transactions.parquet')),
        w AS (SELECT max(ts)::DATE AS as_of FROM t),
        agg AS (
            SELECT c.customer_id,
                   date_diff('day', max(t.ts)::DATE, (SELECT as_of FROM w)) AS rec,
                   count(t.ts) AS freq, round(coalesce(sum(t.amount), 0), 2) AS money
            FROM read_parquet('{d}/customers.parquet') c
            LEFT JOIN t ON t.customer_id = c.customer_id
                AND t.ts >= (SELECT as_of FROM w) - INTERVAL 364 DAY
                AND t.ts < (SELECT as_of FROM w) + INTERVAL 1 DAY
                AND t.type IN ({types})
            GROUP BY c.customer_id
        ),
        q AS (
            SELECT quantile_cont(rec, [0.2, 0.4, 0.6, 0.8]) AS qr,
                   quantile_cont(freq, [0.2, 0.4, 0.6, 0.8]) AS qf,
                   quantile_cont(money, [0.2, 0.4, 0.6, 0.8]) AS qm
            FROM agg WHERE freq > 0
        ),
        s AS (
            SELECT CASE WHEN freq = 0 THEN 1 ELSE 5 - len(list_filter(qr, lambda x: x < rec)) END AS r,
                   CASE WHEN freq = 0 THEN 1 ELSE 1 + len(list_filter(qf, lambda x: x < freq)) END AS f,
                   CASE WHEN freq = 0 THEN 1 ELSE 1 + len(list_filter(qm, lambda x: x < money)) END
                       AS m
            FROM agg, q
        )
        SELECT list(r), list(f), list(m) FROM s
    """).fetchall()[0]
    return {**_rfm_answer(*row), "_op_seconds": time.perf_counter() - started}


def polars_rfm(data: str, scratch: str) -> dict[str, Any]:
    """Peer: Polars lazy aggregation, scores in numpy."""
    import polars as pl

    d = Path(data)
    started = time.perf_counter()
    tx = pl.scan_parquet(d / "transactions.parquet")
    as_of = tx.select(pl.col("ts").max().dt.date()).collect().item()
    start = as_of - timedelta(days=364)
    agg = (
        tx.filter(pl.col("ts").dt.date().is_between(start, as_of)
                  & pl.col("type").is_in(list(RFM_TYPES)))
        .group_by("customer_id")
        .agg(last=pl.col("ts").max().dt.date(), freq=pl.len(), money=pl.col("amount").sum())
    )  # fmt: skip
    frame = (
        pl.scan_parquet(d / "customers.parquet").select("customer_id")
        .join(agg, on="customer_id", how="left")
        .with_columns(rec=(pl.lit(as_of) - pl.col("last")).dt.total_days(),
                      freq=pl.col("freq").fill_null(0), money=pl.col("money").fill_null(0.0))
        .collect()
    )  # fmt: skip
    active = frame["freq"].to_numpy() > 0
    rec = frame["rec"].fill_null(0).to_numpy().astype(float)
    answer = _rfm_answer(_scores(rec, active, True),
                         _scores(frame["freq"].to_numpy().astype(float), active, False),
                         _scores(frame["money"].to_numpy().round(2), active, False))  # fmt: skip
    return {**answer, "_op_seconds": time.perf_counter() - started}


def pandas_rfm(data: str, scratch: str) -> dict[str, Any]:
    """Peer: pandas groupby, scores in numpy."""
    import pandas as pd

    d = Path(data)
    started = time.perf_counter()
    tx = pd.read_parquet(d / "transactions.parquet")
    day = tx["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    as_of = day.max()
    keep = (day >= as_of - pd.Timedelta(days=364)) & tx["type"].isin(RFM_TYPES)
    tx = tx[keep].assign(day=day[keep])
    agg = tx.groupby("customer_id").agg(last=("day", "max"), freq=("amount", "size"),
                                        money=("amount", "sum"))  # fmt: skip
    frame = (
        pd.read_parquet(d / "customers.parquet", columns=["customer_id"])
        .set_index("customer_id")
        .join(agg)
    )
    active = frame["freq"].notna().to_numpy()
    rec = (as_of - frame["last"]).dt.days.fillna(0).to_numpy(float)
    answer = _rfm_answer(_scores(rec, active, True),
                         _scores(frame["freq"].fillna(0).to_numpy(float), active, False),
                         _scores(frame["money"].fillna(0).to_numpy(float).round(2), active,
                                 False))  # fmt: skip
    return {**answer, "_op_seconds": time.perf_counter() - started}


def prepare_rfm(customers: str, out: str) -> dict[str, Any]:
    """A generated bank in a workspace, and its customers and transactions as Parquet."""
    from lodestar.workspace import Workspace

    target = _fresh(out)
    with Workspace.init(target / "ws") as ws:
        ws.generate(int(customers), seed=13)
        ws.export_parquet("customers", target / "customers.parquet")
        ws.export_parquet("transactions", target / "transactions.parquet")
        return {"rows": ws.counts()["transactions"]}


def _tags_answer(ws: Any, table: str, plan: Any) -> dict[str, Any]:
    parts = ["count(*) AS rows"]
    for name, ct in plan.tags.items():
        q = '"' + name + '"'
        if ct.tag.type == "boolean":
            parts.append(f"count(*) FILTER (WHERE {q}) AS {q}")
        elif ct.tag.type == "number":
            parts.append(f"round(sum({q}), 4) AS {q}")
        else:
            parts.append(f"count(DISTINCT {q}) * 1000003 + count({q}) AS {q}")
    row = ws.query(f"SELECT {', '.join(parts)} FROM {table}").to_pylist()[0]
    return {k: (float(v) if isinstance(v, float) else v) for k, v in row.items()}


def lodestar_tags(data: str, scratch: str) -> dict[str, Any]:
    """The whole built-in library compiled to one query (shared scans), full build."""
    from lodestar.workspace import Workspace

    with Workspace.open(Path(data) / "ws") as ws:
        started = time.perf_counter()
        built = ws.build_tags(full=True)
        seconds = time.perf_counter() - started
        answer = _tags_answer(ws, "profile_tags", ws.check_tags())
    return {**answer, "tags": built.tags, "_op_seconds": seconds}


def per_tag_queries(data: str, scratch: str) -> dict[str, Any]:
    """The same tags, one query per tag (what a tool without shared scans does)."""
    from lodestar.profile.tag_build import TagLibrary
    from lodestar.profile.view import data_as_of
    from lodestar.workspace import Workspace

    with Workspace.open(Path(data) / "ws") as ws:
        started = time.perf_counter()
        library = TagLibrary(ws.engine, ws.root)
        day = data_as_of(ws.engine)
        base_sql, _, _ = library.base(day)
        plan = library.plan(day)
        ws.engine.execute(
            "CREATE OR REPLACE TEMP TABLE bench_tags AS SELECT customer_id FROM customers"
        )
        for name in plan.names:
            ws.engine.execute(
                f"CREATE OR REPLACE TEMP TABLE bench_one AS {plan.sql(base_sql, day, only=[name])}"
            )
            ws.engine.execute(
                f'CREATE OR REPLACE TEMP TABLE bench_tags AS SELECT t.*, o."{name}" '
                "FROM bench_tags t JOIN bench_one o USING (customer_id)"
            )
        seconds = time.perf_counter() - started
        answer = _tags_answer(ws, "bench_tags", plan)
    return {**answer, "tags": len(plan.names), "_op_seconds": seconds}


from bench.segment_tasks import TASKS as SEGMENT_TASKS  # noqa: E402

TASKS = {
    **SEGMENT_TASKS,
    "lodestar-generate": lodestar_generate,
    "parquet-generate": parquet_generate,
    "lodestar-ingest": lodestar_ingest,
    "duckdb-ingest": duckdb_ingest,
    "polars-ingest": polars_ingest,
    "pandas-ingest": pandas_ingest,
    "prepare-csv": prepare_csv,
    "lodestar-rfm": lodestar_rfm,
    "duckdb-rfm": duckdb_rfm,
    "polars-rfm": polars_rfm,
    "pandas-rfm": pandas_rfm,
    "prepare-rfm": prepare_rfm,
    "lodestar-tags": lodestar_tags,
    "per-tag-queries": per_tag_queries,
}


def _peak_kb() -> int:
    """This process's resident high-water mark. (A forked child's ru_maxrss starts from its
    parent's size, so the harness asks the child itself.)"""
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1])


if __name__ == "__main__":
    name, *args = sys.argv[1:]
    answer = TASKS[name](*args)
    print(json.dumps({**answer, "_peak_kb": _peak_kb()}, default=str))
