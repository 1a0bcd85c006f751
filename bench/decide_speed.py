"""Real-time decide speed: ``POST /v1/decide`` under a fixed request rate from an open-loop load
generator on loopback, beside in-process ``Workspace.decide``; then the caps are checked in the
contact ledger.

    PYTHONPATH=src python -m bench.decide_speed --customers 100000 --rate 500 --seconds 20

Synthetic snapshot written directly (no models): ``--customers`` customers x 3-9 candidate
offer x channel actions (6 offers, 5 channels; gross value lognormal, costs by channel, credit
limit and rate on the loan offers, a 5% holdout), 8 time zones; every customer has marketing
consent on each channel (2% withdrawn), 0.5% are on the do-not-contact list. The shipped
default policy (2 contacts a day, SMS 1 a day, ...).

The load generator is open loop: request *i* is due at ``start + i / rate`` whatever happened
to earlier ones, sent on a free keep-alive connection (a new one is opened when all are busy),
and its latency is measured from when it was *due*, so a slow server cannot hide its queue
(no coordinated omission). 10% of requests go to 200 "hot" customers, so the caps are hit.
Server: uvicorn, ``--workers`` processes, access log off, SQLite operational store (WAL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lodestar.decisioning.policy_rules import default_policy
from lodestar.workspace import Workspace

ZONES = ["Asia/Shanghai"] * 5 + ["Asia/Hong_Kong", "Asia/Singapore", "Europe/London"]
CHANNELS = ["sms", "email", "app_push", "in_app", "wecom"]
OFFERS = {"LOAN_CASH": 180.0, "CARD_GOLD": 90.0, "DEPOSIT_3M": 40.0, "FUND_STARTER": 60.0,
          "INS_TRAVEL": 25.0, "POINTS_X2": 8.0}  # fmt: skip
COST = {"sms": 0.05, "email": 0.01, "app_push": 0.005, "in_app": 0.0, "wecom": 0.02}


def ids(n: int) -> np.ndarray:
    return np.char.add("C", np.char.zfill(np.arange(n).astype(str), 7)).astype(object)


def build(root: Path, n: int, seed: int = 0) -> tuple[Workspace, str]:
    rng = np.random.default_rng(seed)
    ws = Workspace.init(root)
    cust = ids(n)
    k = rng.integers(3, 10, n)  # candidates per customer (about 6)
    who = np.repeat(cust, k)
    offer = rng.choice(list(OFFERS), len(who))
    channel = rng.choice(CHANNELS, len(who))
    gross = np.array([OFFERS[o] for o in offer]) * rng.lognormal(-1.0, 0.8, len(who))
    control = rng.random(n) < 0.05
    loan = offer == "LOAN_CASH"
    frame = pd.DataFrame({
        "customer_id": who, "offer_id": offer, "channel": channel, "gross": gross,
        "weighted": gross, "cost": np.array([COST[c] for c in channel]) + 0.5,
        "arm": np.where(np.repeat(control, k), "control", "treatment"),
        "credit_limit": np.where(loan, rng.choice([20e3, 50e3, 80e3], len(who)), np.nan),
        "credit_rate": np.where(loan, rng.choice([4.35, 6.5, 9.9], len(who)), np.nan),
    })  # fmt: skip
    snap = ws.snapshot_dir
    snap.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), snap / "candidates.parquet")
    people = pd.DataFrame({"customer_id": cust, "time_zone": rng.choice(ZONES, n),
                           "phone": np.char.add("138", np.char.zfill(np.arange(n).astype(str), 8)),
                           "email": np.char.add(cust.astype(str), "@example.com"),
                           "app_user_id": np.char.add("U", cust.astype(str)),
                           "wecom_id": np.char.add("W", cust.astype(str))})  # fmt: skip
    pq.write_table(pa.Table.from_pandas(people, preserve_index=False), snap / "customers.parquet")
    (snap / "meta.json").write_text(json.dumps({"made_at": datetime.now(UTC).isoformat(),
                                                "candidates": len(frame), "customers": n,
                                                "holdout": 0.05}))  # fmt: skip
    m = n * len(CHANNELS)
    since = pd.Timestamp("2025-01-01", tz="UTC")
    withdrawn = rng.random(m) < 0.02
    consents = pa.table({
        "consent_id": [f"K{i}" for i in range(m)],
        "customer_id": pa.array(np.repeat(cust, len(CHANNELS)).astype(str)),
        "channel": pa.array(np.tile(CHANNELS, n)), "purpose": pa.array(["marketing"] * m),
        "granted": pa.array(np.ones(m, bool)), "source": pa.array(["app"] * m),
        "ts": pa.array([since] * m, pa.timestamp("us", tz="UTC")),
        "withdrawn_at": pa.array([since + pd.Timedelta(days=30) if w else None for w in withdrawn],
                                 pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    blocked = rng.choice(cust, n // 200, replace=False)
    dnc = pa.table({
        "entry_id": pa.array(np.arange(1, len(blocked) + 1)),
        "customer_id": pa.array(blocked.astype(str)), "channel": ["all"] * len(blocked),
        "reason": ["customer_request"] * len(blocked), "note": [None] * len(blocked),
        "added_at": pa.array([since] * len(blocked), pa.timestamp("us", tz="UTC")),
        "added_by": ["bench"] * len(blocked),
        "expires_at": pa.array([None] * len(blocked), pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    with ws.ops.begin() as conn:
        ws.ops.bulk_upsert(conn, "consents", consents)
        ws.ops.bulk_upsert(conn, "do_not_contact", dnc)
    _, key = ws.create_api_key("bench", "decisioning", actor="bench")
    return ws, key


def in_process(ws: Workspace, customers: list[str]) -> list[float]:
    ws.next_best_action()  # load outside the timing
    out = []
    for cid in customers:
        started = time.perf_counter()
        ws.decide(cid)
        out.append((time.perf_counter() - started) * 1000)
    return out


class Loader:
    """Open-loop HTTP/1.1 load on keep-alive connections (see the module doc)."""

    def __init__(self, port: int, key: str, rate: float, seconds: float,
                 customers: list[str], hot: list[str], seed: int = 1) -> None:  # fmt: skip
        self.port, self.key, self.rate, self.seconds = port, key, rate, seconds
        self.customers, self.hot = customers, hot
        self.random = random.Random(seed)
        #: keep-alive connections with the time each was last used (uvicorn closes a
        #: connection idle for 5 s; one idle for 4 s is dropped, not reused)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        self.connections = 0

    def request(self) -> bytes:
        pool = self.hot if self.random.random() < 0.10 else self.customers
        body = json.dumps({"customer_id": self.random.choice(pool),
                           "context": {"page": "home", "event": "login"}}).encode()  # fmt: skip
        head = (f"POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                f"{self.key}\r\nContent-Type: application/json\r\nContent-Length: "
                f"{len(body)}\r\n\r\n")  # fmt: skip
        return head.encode() + body

    async def one(self, due: float, payload: bytes) -> None:
        try:
            while self.idle and time.perf_counter() - self.idle[-1][2] > 4.0:
                self.idle.pop()[1].close()
            if self.idle:
                reader, writer, _ = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.connections += 1
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))  # fmt: skip
            body = await reader.readexactly(length)
            self.latencies.append((time.perf_counter() - due) * 1000)
            if status != 200:
                self.errors[str(status)] = self.errors.get(str(status), 0) + 1
            else:
                outcome = json.loads(body)["outcome"]
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.idle.append((reader, writer, time.perf_counter()))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1

    async def run(self) -> float:
        total = int(self.rate * self.seconds)
        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(total):
            due = start + i / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(due, self.request())))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        for _, writer, _ in self.idle:
            writer.close()
        return total / elapsed


def caps_check(ws: Workspace) -> dict[str, Any]:
    """Reservations per customer and local day (and per channel) against the policy's caps."""
    policy = default_policy()
    ledger = ws.next_best_action().ledger.reservations()
    per_day = ledger.groupby(["customer_id", "local_day"]).size()
    worst = {"global_day": int(per_day.max()) if len(per_day) else 0,
             "global_day_cap": policy.frequency.global_.day}  # fmt: skip
    over = int((per_day > policy.frequency.global_.day).sum())
    for channel, caps in policy.frequency.channels.items():
        if caps.day is None:
            continue
        rows = ledger[ledger["channel"] == channel.value]
        counts = rows.groupby(["customer_id", "local_day"]).size()
        worst[f"{channel.value}_day"] = int(counts.max()) if len(counts) else 0
        worst[f"{channel.value}_day_cap"] = caps.day
        over += int((counts > caps.day).sum())
    return {"reservations": len(ledger), "customers": int(ledger["customer_id"].nunique()),
            "over_cap": over, **worst}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--in-process", type=int, default=3000, help="in-process decisions")
    parser.add_argument("--dir", help="workspace folder (default: a temporary one)")
    args = parser.parse_args()

    root = Path(args.dir or tempfile.mkdtemp(prefix="lodestar-decide-")) / "bank"
    t0 = time.perf_counter()
    ws, key = build(root, args.customers)
    print(f"built {args.customers:,} customers in {time.perf_counter() - t0:.1f} s", flush=True)
    everyone = ids(args.customers).tolist()
    rng = random.Random(7)
    local = rng.sample(everyone[args.customers // 2:], min(args.in_process, args.customers // 2))
    inproc = in_process(ws, local)
    ws.close()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    log = open(root.parent / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "lodestar", "serve", "-w", str(root),
                               "--port", str(port), "--workers", str(args.workers),
                               "--no-access-log"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("server did not start; see " + log.name) from None
                time.sleep(0.3)
        time.sleep(2.0 * args.workers)  # let every worker load the snapshot
        hot = rng.sample(everyone[: args.customers // 2], 200)
        http_customers = everyone[: args.customers // 2]
        warm = Loader(port, key, 100, 2, http_customers, hot, seed=99)
        asyncio.run(warm.run())
        loader = Loader(port, key, args.rate, args.seconds, http_customers, hot)
        achieved = asyncio.run(loader.run())
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    with Workspace.open(root, analytics_read_only=True) as again:
        caps = caps_check(again)
    lat = loader.latencies
    print()
    print("| what | rate /s | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| HTTP POST /v1/decide, {args.workers} worker(s), open loop at {args.rate:.0f}/s for "
          f"{args.seconds:.0f} s ({len(lat):,} requests, {loader.connections} connections) | "
          f"{achieved:.0f} | {pct(lat, 50):.2f} | {pct(lat, 95):.2f} | {pct(lat, 99):.2f} | "
          f"{max(lat):.1f} | {sum(loader.errors.values())} |")  # fmt: skip
    print(f"| in-process Workspace.decide, one thread ({len(inproc):,} calls) | "
          f"{1000 / statistics.mean(inproc):.0f} | {pct(inproc, 50):.2f} | "
          f"{pct(inproc, 95):.2f} | {pct(inproc, 99):.2f} | {max(inproc):.1f} | 0 |")  # fmt: skip
    print()
    print(f"outcomes: {loader.outcomes}; errors: {loader.errors or 'none'}")
    print(f"caps: {caps}")
    if caps["over_cap"]:
        raise SystemExit("a cap was exceeded")


if __name__ == "__main__":
    main()
