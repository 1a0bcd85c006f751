"""The events API with real processes: ``lodestar serve`` is killed with SIGKILL while clients
stream batches, restarted, and the clients send again what was not acknowledged (the same
event ids). Every acknowledged event is then in the feed exactly once, nothing twice — on
SQLite and PostgreSQL. And with one batch in flight allowed, concurrent batches get 429 with
Retry-After instead of a queue, and all of them land once retried."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

import lodestar
from lodestar.workspace import Workspace

pytestmark = pytest.mark.slow
CUSTOMERS = [f"C{i}" for i in range(50)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``lodestar serve`` over a workspace, started, killed and restarted by the test."""

    def __init__(self, root: Path, database_url: str | None, log: Path) -> None:
        self.root, self.log_path = root, log
        self.port = free_port()
        self.env = {**os.environ, "PYTHONPATH": str(Path(lodestar.__file__).parents[1])}
        if database_url:
            self.env["LODESTAR_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lodestar", "serve", "-w", str(self.root), "--port",
             str(self.port), "--no-access-log"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        deadline = time.monotonic() + 90
        while True:
            try:
                if post(self.port, "/health", None, "", method="GET")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("server did not start:\n" + self.log_path.read_text())
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def post(port: int, path: str, body: dict | None, key: str,  # type: ignore[type-arg]
         method: str = "POST") -> tuple[int, dict, dict[str, str]]:  # type: ignore[type-arg]
    """(status, JSON body, headers); a connection that breaks raises OSError."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                        "Authorization": f"Bearer {key}"})  # fmt: skip
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read()), dict(answer.getheaders())
    except http.client.HTTPException as exc:  # e.g. RemoteDisconnected: no answer, retry
        raise OSError(str(exc)) from exc
    finally:
        conn.close()


def batch(b: int, size: int) -> dict[str, list[dict[str, object]]]:
    return {"events": [{"event_id": f"B{b}-{i}", "ts": "2026-12-01T09:00:00+08:00",
                        "customer_id": CUSTOMERS[(b + i) % len(CUSTOMERS)],
                        "event_name": "app_open", "properties": {"b": b, "i": i}}
                       for i in range(size)]}  # fmt: skip


@pytest.fixture
def workspace_root(tmp_path: Path, database_url: str | None) -> Iterator[tuple[Path, str]]:
    """A workspace with 50 customers and an integration key: (folder, key)."""
    ws = Workspace.init(tmp_path / "ws", database_url=database_url)
    ws.load_tables([("customers", pa.table({"customer_id": CUSTOMERS,
                                            "join_date": ["2020-01-01"] * len(CUSTOMERS)}))],
                   source="test")  # fmt: skip
    _, key = ws.create_api_key("event-source", "integration", actor="test")
    ws.close()
    yield tmp_path / "ws", key


def feed_ids(root: Path, database_url: str | None) -> list[str]:
    engine = sa.create_engine(database_url or f"sqlite:///{root / 'operational.sqlite'}")
    with engine.connect() as conn:
        ids = conn.exec_driver_sql("SELECT event_id FROM event_feed").scalars().all()
    engine.dispose()
    return list(ids)


def test_sigkill_mid_stream_loses_no_acknowledged_event(
        workspace_root: tuple[Path, str], database_url: str | None, tmp_path: Path) -> None:  # fmt: skip
    root, key = workspace_root
    server = Server(root, database_url, tmp_path / "server.log")
    batches, size, clients = 48, 200, 4
    acked: dict[int, dict[str, int]] = {}
    unacked: list[int] = []
    lock = threading.Lock()
    try:
        server.start()
        killed = threading.Event()

        def send(b: int) -> None:
            try:
                status, answer, _ = post(server.port, "/v1/events", batch(b, size), key)
            except OSError:
                status, answer = 0, {}
            with lock:
                if status == 200:
                    acked[b] = answer
                else:  # no answer (the server died under it) or refused: send it again
                    unacked.append(b)
                if len(acked) >= 12 and not killed.is_set():
                    killed.set()
                    server.kill()  # mid-stream: other clients' batches are in flight

        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(send, range(batches)))
        assert killed.is_set() and unacked, "the kill should leave batches unacknowledged"
        before_restart = set(acked)
        # every acknowledged event survived the kill
        stored = set(feed_ids(root, database_url))
        assert all(f"B{b}-{i}" in stored for b in before_restart for i in range(size))
        server.start()
        for b in sorted(unacked):  # the client's retry: the same batches, the same ids
            status, answer, _ = post(server.port, "/v1/events", batch(b, size), key)
            assert status == 200, answer
            acked[b] = answer
    finally:
        server.stop()
    ids = feed_ids(root, database_url)
    assert len(ids) == len(set(ids)) == batches * size  # everything once, nothing twice
    assert all(a["received"] == size for a in acked.values())
    assert all(acked[b]["duplicates"] == 0 for b in before_restart)
    # a batch the server stored just before the kill but never acknowledged comes back whole as
    # duplicates, one it had not stored comes back whole as new (a batch is all or nothing);
    # the counts add up to exactly what is stored
    retried = [acked[b] for b in unacked]
    assert all(a["duplicates"] in (0, size) for a in retried)
    assert sum(a["new"] for a in acked.values()) + sum(a["duplicates"] for a in retried) == len(ids)


def test_concurrent_batches_beyond_the_limit_get_429_then_land_once(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.load_tables([("customers", pa.table({"customer_id": CUSTOMERS,
                                            "join_date": ["2020-01-01"] * len(CUSTOMERS)}))],
                   source="test")  # fmt: skip
    _, key = ws.create_api_key("event-source", "integration", actor="test")
    with (tmp_path / "ws" / "lodestar.yaml").open("a", encoding="utf-8") as fh:
        fh.write("events:\n  max_in_flight: 1\n")
    ws.close()
    server = Server(tmp_path / "ws", None, tmp_path / "server.log")
    refused: list[str] = []
    lock = threading.Lock()

    def send(b: int) -> int:
        while True:
            status, answer, headers = post(server.port, "/v1/events", batch(b, 1000), key)
            if status != 429:
                assert status == 200, answer
                return int(answer["new"])
            with lock:
                refused.append(headers.get("retry-after", ""))
            assert answer["error"]["code"] == "too_many_requests"
            time.sleep(float(headers["retry-after"]) / 10)  # sooner, to keep the test short

    try:
        server.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            new = sum(pool.map(send, range(16)))
    finally:
        server.stop()
    assert refused and set(refused) == {"1"}
    assert new == 16_000 and len(feed_ids(tmp_path / "ws", None)) == 16_000
