"""Issue 9's events bench: events per second accepted by ``POST /v1/events`` from a real
``lodestar serve`` on loopback, with batches of 100 and 1,000, on SQLite and PostgreSQL.

    PYTHONPATH=src python -m bench.events_speed --events 40000 --clients 4 --workers 2

Each accepted event went the whole path: the API key checked, the body parsed, every event
validated against the ``events`` entity (types, patterns, the UTC offset, its customer looked up
in the analytical store), and the batch stored in the live event feed in one transaction before
the 200. Clients keep one keep-alive connection each and send their batches back to back (the
bodies are encoded beforehand); a 429 (more batches than ``events.max_in_flight`` at once) is
counted and the batch sent again after a short pause. Afterwards the feed must hold every event
exactly once. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

PG_URL = os.environ.get("LODESTAR_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")  # fmt: skip
CUSTOMERS = 10_000
NAMES = ("app_open", "page_view", "apply_start", "card_view", "login")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bodies(run: str, events: int, size: int) -> list[bytes]:
    out = []
    for b in range(events // size):
        batch = [{"event_id": f"{run}-{b}-{i}", "ts": "2026-12-01T09:00:00+08:00",
                  "customer_id": f"C{(b * size + i) % CUSTOMERS:06d}",
                  "event_name": NAMES[i % len(NAMES)], "platform": "app", "page": "home",
                  "properties": {"amount": i, "sku": f"P{i % 17}"}}
                 for i in range(size)]  # fmt: skip
        out.append(json.dumps({"events": batch}).encode())
    return out


def _serve(root: Path, url: str | None, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    if url:
        env["LODESTAR_DATABASE_URL"] = url
    server = subprocess.Popen(
        [sys.executable, "-m", "lodestar", "serve", "-w", str(root), "--port", str(port),
         "--workers", str(workers), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def _send(port: int, key: str, bodies: list[bytes], latencies: list[float],
          refused: list[int]) -> None:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    for body in bodies:
        while True:
            started = time.perf_counter()
            conn.request("POST", "/v1/events", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200:
                latencies.append(time.perf_counter() - started)
                break
            if answer.status != 429:
                raise SystemExit(f"unexpected {answer.status}")
            refused.append(1)
            time.sleep(0.005)
    conn.close()


def _run(label: str, url: str | None, events: int, size: int, clients: int,
         workers: int) -> dict[str, Any]:  # fmt: skip
    from lodestar.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        ws = Workspace.init(root, database_url=url)
        ids = [f"C{i:06d}" for i in range(CUSTOMERS)]
        ws.load_tables([("customers", pa.table({"customer_id": ids,
                                                "join_date": ["2020-01-01"] * CUSTOMERS}))],
                       source="bench")  # fmt: skip
        _, key = ws.create_api_key("bench", "integration", actor="bench")
        ops_url = ws.ops.url
        ws.close()
        bodies = _bodies(uuid.uuid4().hex[:6], events, size)
        server, port = _serve(root, url, workers)
        latencies: list[float] = []
        refused: list[int] = []
        try:
            threads = [threading.Thread(target=_send, args=(port, key, bodies[c::clients],
                                                            latencies, refused))
                       for c in range(clients)]  # fmt: skip
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        engine = sa.create_engine(ops_url)
        with engine.connect() as conn:
            stored, distinct = conn.execute(sa.text(
                "SELECT count(*), count(DISTINCT event_id) FROM event_feed")).one()  # fmt: skip
        engine.dispose()
    sent = len(bodies) * size
    assert stored == distinct == sent, (stored, distinct, sent)
    lat = sorted(latencies)
    return {"label": label, "size": size, "events": sent, "seconds": seconds,
            "rate": sent / seconds, "p50": statistics.median(lat) * 1000,
            "p99": lat[int(0.99 * (len(lat) - 1))] * 1000, "refused": len(refused)}  # fmt: skip


def _pg_schema() -> tuple[str, Any, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", admin, schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000, help="events per run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--sizes", default="100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for size in sizes:
        results.append(_run("SQLite", None, args.events, size, args.clients, args.workers))
    for size in sizes:
        url, admin, schema = _pg_schema()
        try:
            results.append(_run("PostgreSQL", url, args.events, size, args.clients, args.workers))
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    load = os.getloadavg()
    print(f"## Events API: {args.clients} clients, {args.workers} server processes\n")
    print(f"load average after the runs {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    print("| store | batch | events | seconds | events/s | batch p50 ms | batch p99 ms | 429s |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for r in results:
        print(f"| {r['label']} | {r['size']:,} | {r['events']:,} | {r['seconds']:.1f} | "
              f"{r['rate']:,.0f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['refused']} |")  # fmt: skip
    print("\nEvery run: the feed held each event exactly once.")


if __name__ == "__main__":
    main()
