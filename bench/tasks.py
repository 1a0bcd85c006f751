"""What one contender does in its own process. ``python -m bench.tasks NAME ARGS...``; the last
line printed is the JSON answer the harness compares across contenders."""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
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


TASKS = {
    "lodestar-generate": lodestar_generate,
    "parquet-generate": parquet_generate,
    "lodestar-ingest": lodestar_ingest,
    "duckdb-ingest": duckdb_ingest,
    "polars-ingest": polars_ingest,
    "pandas-ingest": pandas_ingest,
    "prepare-csv": prepare_csv,
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
