"""A file larger than the memory the load may use: it streams, stays within bounded memory,
and an error in its last row still means nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lodestar.workspace import Workspace

pytestmark = pytest.mark.slow

ROWS = 4_000_000


def _big_csv(path: Path, rows: int, bad_last_row: bool) -> int:
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT 'T' || i AS transaction_id,
                   'C' || (i % 1000) AS customer_id,
                   strftime(TIMESTAMP '2024-01-01' + to_seconds(i), '%Y-%m-%dT%H:%M:%S+08:00') AS ts,
                   CASE WHEN {str(bad_last_row).lower()} AND i = {rows - 1} THEN 'teleport'
                        ELSE 'card_purchase' END AS type,
                   round(random() * 1000, 2) AS amount,
                   'debit' AS direction,
                   'mobile_app' AS channel,
                   'dining' AS merchant_category,
                   'merchant number ' || (i % 5000) || ' with a long descriptive name' AS merchant_name
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    con.close()
    return path.stat().st_size


# The child reports its own high-water mark (VmHWM) on exit. ru_maxrss from wait4 would not do:
# a forked child's counter starts from the parent's resident size (here, pytest's).
LAUNCHER = """
import atexit, sys
target = sys.argv[1]
def report():
    with open(target, "w") as out:
        out.write(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")))
atexit.register(report)
sys.argv = ["lodestar", *sys.argv[2:]]
from lodestar.cli.main import main
main()
"""


def _run_ingest(ws_path: Path, path: Path, log: Path) -> tuple[int, str, int]:
    """Run `lodestar ingest` in a child process; return exit code, output, its peak RSS."""
    env = {**os.environ, "LODESTAR_LANG": "en"}
    hwm = log.with_suffix(".hwm")
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(hwm), "ingest", "transactions", str(path),
         "-w", str(ws_path)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    peak_kb = int(hwm.read_text().split()[1])
    return proc.returncode, proc.stdout + proc.stderr, peak_kb * 1024


@pytest.fixture
def small_memory_workspace(tmp_path: Path) -> Path:
    from lodestar.config import WorkspaceConfig

    ws = Workspace.init(tmp_path / "ws", config=WorkspaceConfig(memory_limit="200MB", threads=2))
    customers = tmp_path / "c.csv"
    customers.write_text(
        "customer_id,join_date\n" + "".join(f"C{i},2020-01-01\n" for i in range(1000))
    )
    ws.ingest("customers", customers)
    ws.close()
    return tmp_path / "ws"


def test_file_larger_than_the_memory_budget(small_memory_workspace: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    size = _big_csv(bad, ROWS, bad_last_row=True)
    assert size > 500 << 20
    code, output, peak = _run_ingest(small_memory_workspace, bad, tmp_path / "bad.log")
    assert code == 2, output
    assert f"line {ROWS + 1}, column 'type': value 'teleport'" in output
    assert peak < size, f"peak RSS {peak >> 20} MB for a {size >> 20} MB file"
    with Workspace.open(small_memory_workspace) as ws:
        assert ws.counts()["transactions"] == 0

    good = tmp_path / "good.csv"
    _big_csv(good, ROWS, bad_last_row=False)
    code, output, peak = _run_ingest(small_memory_workspace, good, tmp_path / "good.log")
    assert code == 0, output
    assert peak < size, f"peak RSS {peak >> 20} MB for a {size >> 20} MB file"
    with Workspace.open(small_memory_workspace) as ws:
        assert ws.counts()["transactions"] == ROWS
