"""Issue 6's outbox bench: sends per second through a local HTTP gateway, with 1 and 2 worker
processes on PostgreSQL (claims with ``FOR UPDATE SKIP LOCKED``) and 1 on SQLite.

    PYTHONPATH=src python -m bench.outbox_speed --sends 5000

Each send is the whole path a real one takes: claim with a lease, the contact policy checked
with consent and the do-not-contact list read from the store, the contact booked in the ledger,
the message composed, an HMAC-signed JSON POST to the gateway (a ThreadingHTTPServer on
loopback that checks nothing and answers 200), the result recorded. The customers live in a
zone where it is midday now, so no quiet hours hold anything. Afterwards the gateway must hold
each idempotency key once. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_URL = os.environ.get("LODESTAR_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")  # fmt: skip
SECRET = "bench-secret"


class Gateway:
    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two small writes: with Nagle on, the second waits
            # for the client's delayed ACK (40 ms a request on Linux) — a gateway artefact
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("X-Lodestar-Idempotency-Key", "")
                with gateway.lock:
                    status = 409 if key in gateway.keys else 200
                    gateway.keys.add(key)
                payload = json.dumps({"message_id": key}).encode()
                del body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _zone() -> str:
    offset = (12 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def _people(n: int, zone: str) -> dict[str, dict[str, Any]]:
    return {f"C{i:06d}": {"customer_id": f"C{i:06d}", "time_zone": zone,
                          "phone": f"138{i:08d}", "name": f"客户{i}"} for i in range(n)}  # fmt: skip


class _Directory:
    def __init__(self, people: dict[str, dict[str, Any]]) -> None:
        self.people = people

    def contacts(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.people[i] for i in ids if i in self.people}


class _Composer:
    def compose(self, row: Any, contact: Any) -> tuple[str | None, str]:
        return "offer", f"{contact['name']}您好，您有一笔专属额度"


def _work(url: str, gateway: str, n: int, zone: str, name: str) -> None:
    from lodestar.campaigns.send_worker import SendWorker
    from lodestar.channels.http_gateway import HttpGatewayChannel
    from lodestar.decisioning.policy_rules import default_policy
    from lodestar.storage.operational import OperationalStore

    store = OperationalStore(url)
    channel = HttpGatewayChannel("sms", gateway, secret=SECRET)
    SendWorker(store, {"sms": channel}, default_policy(), _Directory(_people(n, zone)),
               _Composer(), name=name, batch=200).run(until_empty=True)  # fmt: skip
    channel.close()
    store.dispose()


def _prepare(url: str, n: int) -> None:
    from lodestar.campaigns.outbox import Outbox
    from lodestar.storage.operational import OperationalStore
    from lodestar.storage.operational_tables import consents

    store = OperationalStore(url)
    store.migrate()
    with store.begin() as conn:
        conn.execute(sa.insert(consents), [{
            "consent_id": f"K{i}", "customer_id": f"C{i:06d}", "channel": "sms",
            "purpose": "marketing", "granted": True, "source": "app",
            "ts": datetime(2025, 1, 1, tzinfo=UTC), "withdrawn_at": None} for i in range(n)])  # fmt: skip
    Outbox(store).enqueue([{"campaign_id": "BENCH", "step": "1", "customer_id": f"C{i:06d}",
                            "channel": "sms",
                            "send_at": datetime.now(UTC) - timedelta(minutes=1)}
                           for i in range(n)])  # fmt: skip
    store.dispose()


def _run(url: str, n: int, workers: int, label: str) -> dict[str, Any]:
    from lodestar.campaigns.outbox import Outbox
    from lodestar.storage.operational import OperationalStore

    _prepare(url, n)
    gateway = Gateway()
    zone = _zone()
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    procs = [ctx.Process(target=_work, args=(url, gateway.url, n, zone, f"w{i}"))
             for i in range(workers)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    store = OperationalStore(url)
    counts = Outbox(store).counts()
    store.dispose()
    gateway.close()
    assert counts == {"sent": n}, counts
    assert len(gateway.keys) == n
    return {"label": label, "workers": workers, "sends": n, "seconds": seconds,
            "rate": n / seconds}  # fmt: skip


def _pg_schema() -> tuple[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", (admin, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=5000)
    args = parser.parse_args()
    from lodestar.storage.operational import sqlite_url

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(_run(sqlite_url(Path(tmp) / "ops.sqlite"), args.sends, 1, "SQLite"))
    for workers in (1, 2):
        url, (admin, schema) = _pg_schema()
        try:
            results.append(_run(url, args.sends, workers, "PostgreSQL"))
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    load = os.getloadavg()
    print(f"## Outbox: {args.sends:,} sends through a local HTTP gateway\n")
    print(f"load average after the runs {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    print("| store | worker processes | sends | seconds | sends/s |\n|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['label']} | {r['workers']} | {r['sends']:,} | {r['seconds']:.1f} | "
              f"{r['rate']:.0f} |")  # fmt: skip
    print("\nEvery run: the gateway held each idempotency key once; the outbox ended all sent.")


if __name__ == "__main__":
    main()
