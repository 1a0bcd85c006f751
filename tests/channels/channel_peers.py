"""Real local peers for the channel contract suite: an HTTP gateway (http.server in a thread)
and an SMTP server (aiosmtpd in a thread). Both record exactly what arrived and can be told to
answer ok / throttle / server_error / reject / hang.

The HTTP peer checks the signature itself (its own HMAC code, not Lodestar's) and deduplicates
by idempotency key, answering 409 with the first message id, as a well-behaved gateway does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lodestar.channels.channel import Channel

MODES = ("ok", "throttle", "server_error", "reject", "hang")


@dataclass
class Received:
    """What a peer got, in the same terms for every channel."""

    idempotency_key: str
    address: str | None
    subject: str | None
    body: str
    raw: Any = None


@dataclass
class Harness:
    channel: Channel
    #: What the peer holds, in arrival order.
    received: Callable[[], list[Received]]
    #: Makes the peer answer ok / throttle / server_error / reject / hang; None when the peer
    #: cannot fail on request (the inbox is a table in the store).
    set_mode: Callable[[str], None] | None
    #: The peer recognises a repeated idempotency key (answers duplicate).
    deduplicates: bool
    #: A throttled answer carries Retry-After: 7.
    retry_after: bool
    address: str
    #: Loggers of the peer itself (it may log what it received; the adapter may not).
    peer_loggers: tuple[str, ...] = ()
    secret: str | None = None


class GatewayPeer:
    """A local HTTP gateway on 127.0.0.1, on a free port."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.mode = "ok"
        self.received: list[Received] = []
        self.headers: list[dict[str, str]] = []
        self.bad_signatures = 0
        self.ids: dict[str, str] = {}
        self.release = threading.Event()
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the adapter reuses its connections
            # headers and body are two writes: without this, each answer waits for the
            # client's delayed ACK (40 ms)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                peer.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        ts = h.headers.get("X-Lodestar-Timestamp", "")
        sig = h.headers.get("X-Lodestar-Signature", "")
        expected = "sha256=" + hmac.new(
            self.secret, ts.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, sig) or abs(time.time() - int(ts or 0)) > 300:
            with self.lock:
                self.bad_signatures += 1
            return self.answer(h, 401, {"error": "bad signature"})
        if self.mode == "hang":
            self.release.wait(10)
            return self.answer(h, 200, {"message_id": "late"})
        if self.mode == "throttle":
            return self.answer(h, 429, {"error": "slow down"}, {"Retry-After": "7"})
        if self.mode == "server_error":
            return self.answer(h, 500, {"error": "gateway broke"})
        data = json.loads(body)
        if self.mode == "reject":
            # A real gateway echoes the bad number; the adapter must scrub it.
            return self.answer(h, 400, {"error": f"invalid number {data['to']}"})
        key = h.headers.get("X-Lodestar-Idempotency-Key", "")
        with self.lock:
            if key in self.ids:
                return self.answer(h, 409, {"message_id": self.ids[key]})
            self.ids[key] = mid = f"gw-{len(self.ids) + 1}"
            self.received.append(
                Received(key, data["to"], data["subject"], data["body"], raw=data)
            )
            self.headers.append(dict(h.headers.items()))
        self.answer(h, 200, {"message_id": mid})

    def answer(
        self, h: BaseHTTPRequestHandler, status: int, data: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(data).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except OSError:  # the client gave up (timeout): nothing to answer
            h.close_connection = True

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class SmtpPeer:
    """aiosmtpd on a free local port; ``mode`` decides its answers to RCPT and DATA."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mode = "ok"
        self.received: list[Received] = []
        self.messages: list[Message] = []
        self.release = threading.Event()
        peer = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any,
                                  address: str, rcpt_options: Any) -> str:
                if peer.mode == "reject":
                    return f"550 5.1.1 <{address}>: mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if peer.mode == "hang":
                    while not peer.release.is_set():
                        await asyncio.sleep(0.02)
                    return "250 OK"
                if peer.mode == "throttle":
                    return "451 4.7.1 too many messages, try again later"
                if peer.mode == "server_error":
                    return "452 4.3.1 insufficient system storage"
                msg = message_from_bytes(envelope.content, policy=default_policy)
                peer.messages.append(msg)
                peer.received.append(
                    Received(
                        str(msg["X-Lodestar-Idempotency-Key"]),
                        envelope.rcpt_tos[0],
                        str(msg["Subject"]),
                        msg.get_content().replace("\r\n", "\n").rstrip("\n"),  # type: ignore[attr-defined]  # SMTP lines end in CRLF
                        raw=msg,
                    )
                )
                return "250 Message accepted"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        self.host, self.port = "127.0.0.1", port

    def close(self) -> None:
        self.release.set()
        self.controller.stop()
