"""A local stand-in for the SMS, push and voice gateways: real HTTP on 127.0.0.1, for the demo,
a sandbox and trials before a bank connects its carriers.

It behaves as the gateways that :class:`~lodestar.channels.http_gateway.HttpGatewayChannel`
talks to are expected to:

- it checks each request's HMAC signature and timestamp with the channel's secret
  (:func:`lodestar.channels.webhooks.verify`) and answers 401 when they are wrong;
- it remembers idempotency keys and answers a repeat with 409 and the first message id (so a
  worker's retry after a crash is recognised, never delivered twice);
- after accepting a message it reports what happened to it — delivered, opened, clicked,
  replied, failed, as a ``respond`` function decides — as **signed webhook bodies**, handed to
  ``on_receipts`` (the demo passes them through the webhook route's own verification and
  storage, :func:`lodestar.channels.webhooks.receive_webhook`).

Receipts are reported from a background thread, as a carrier does; :meth:`LocalGateway.drain`
waits until every receipt so far has been handed over.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lodestar.channels.webhooks import signature_headers, verify
from lodestar.errors import WebhookRejected

#: ``respond(channel, message) -> [{"status": ..., "at": ISO time, "reason": ...}, ...]``
Responder = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
#: ``on_receipts(channel, headers, body)``: a signed webhook delivery
ReceiptSink = Callable[[str, Mapping[str, str], bytes], None]


@dataclass(frozen=True)
class Accepted:
    channel: str
    message_id: str
    idempotency_key: str
    customer_id: str


class LocalGateway:
    """One HTTP server for several channels: ``POST /{channel}``."""

    def __init__(self, secrets: Mapping[str, str], *, respond: Responder | None = None,
                 on_receipts: ReceiptSink | None = None) -> None:  # fmt: skip
        self.secrets = dict(secrets)
        self.respond = respond
        self.on_receipts = on_receipts
        self.accepted: list[Accepted] = []
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()
        self._receipts: queue.Queue[tuple[str, list[dict[str, Any]]] | None] = queue.Queue()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # a gateway's log would hold addresses and message bodies

            def do_POST(self) -> None:
                channel = self.path.strip("/")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = gateway._accept(channel, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True),
                         threading.Thread(target=self._report, daemon=True)]  # fmt: skip
        for t in self._threads:
            t.start()

    def url(self, channel: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{channel}"

    def _accept(self, channel: str, headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, Any]]:  # fmt: skip
        secret = self.secrets.get(channel)
        if secret is None:
            return 404, {"error": f"no channel {channel}"}
        try:
            verify(secret, headers, body)
        except WebhookRejected as exc:
            return 401, {"error": exc.reason}
        try:
            message = json.loads(body)
            key = str(message["idempotency_key"])
        except (ValueError, KeyError):
            return 400, {"error": "bad body"}
        with self._lock:
            if key in self._keys:
                return 409, {"message_id": self._keys[key], "duplicate": True}
            message_id = f"{channel}-{uuid.uuid4().hex[:16]}"
            self._keys[key] = message_id
            self.accepted.append(Accepted(channel, message_id, key,
                                          str(message.get("customer_id"))))  # fmt: skip
        if self.respond is not None and self.on_receipts is not None:
            events = [{**e, "message_id": message_id, "idempotency_key": key}
                      for e in self.respond(channel, message)]  # fmt: skip
            if events:
                self._receipts.put((channel, events))
        return 200, {"message_id": message_id}

    def _report(self) -> None:
        while (item := self._receipts.get()) is not None:
            channel, events = item
            try:
                body = json.dumps({"events": events}).encode()
                headers = {"Content-Type": "application/json",
                           **signature_headers(self.secrets[channel], body)}  # fmt: skip
                assert self.on_receipts is not None
                self.on_receipts(channel, headers, body)
            finally:
                self._receipts.task_done()

    def drain(self) -> None:
        """Wait until every receipt reported so far has been handed to ``on_receipts``."""
        self._receipts.join()

    def close(self) -> None:
        self._receipts.put(None)
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
