"""Caps under concurrent HTTP requests: a real uvicorn server (two worker processes) on a free
loopback port, over a workspace on PostgreSQL, answers 50 simultaneous decide requests for one
customer with exactly as many offers as the policy's day cap."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_workspace_data import prepare

import lodestar
from lodestar.decisioning.policy_rules import default_policy
from lodestar.workspace import Workspace

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(url: str, body: dict | None = None, key: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def served(tmp_path: Path, pg_schema_url: str) -> Iterator[tuple[str, str]]:
    """(base URL, a decisioning key) of a two-worker server over a PostgreSQL workspace."""
    ws = Workspace.init(tmp_path / "ws", database_url=pg_schema_url)
    prepare(ws)
    _, key = ws.create_api_key("app-backend", "decisioning", actor="test")
    ws.close()
    port = free_port()
    env = {**os.environ, "LODESTAR_DATABASE_URL": pg_schema_url,
           "PYTHONPATH": str(Path(lodestar.__file__).parents[1])}  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "lodestar", "serve", "-w", str(tmp_path / "ws"), "--port",
         str(port), "--workers", "2", "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if call(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.3)
        yield base, key
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_caps_hold_under_concurrent_http_requests(served: tuple[str, str],
                                                  pg_schema_url: str) -> None:  # fmt: skip
    base, key = served
    body = {"customer_id": "C1", "context": {"page": "home"}}
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: call(f"{base}/v1/decide", body, key), range(50)))
    assert {status for status, _ in answers} == {200}
    offers = [a for _, a in answers if a["outcome"] == "offer"]
    cap = default_policy().frequency.global_.day
    assert cap == 2
    assert len(offers) == cap and len({a["reservation_id"] for a in offers}) == cap
    engine = sa.create_engine(pg_schema_url)
    with engine.connect() as conn:
        booked = conn.execute(sa.text(
            "SELECT count(*) FROM contact_ledger WHERE customer_id = 'C1'")).scalar_one()  # fmt: skip
    engine.dispose()
    assert booked == cap
