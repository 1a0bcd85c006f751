"""SMS, app push, WeCom and the voice robot through HTTP gateways.

One adapter, parameterised by channel name and URL: each send is one ``POST`` of a JSON body,
signed as described in :mod:`lodestar.channels.webhooks`, with the idempotency key in
``X-Lodestar-Idempotency-Key`` (and in the body). The gateway answers:

- ``2xx`` -> ``sent``; a JSON body's ``message_id`` becomes the provider message id, and
  ``{"duplicate": true}`` or ``{"status": "duplicate"}`` means it already had the key;
- ``409`` -> ``duplicate`` (the gateway had the key);
- ``429``, ``408``, ``5xx``, timeouts and connection errors -> ``transient_failure``
  (``Retry-After`` is passed on);
- any other ``4xx`` -> ``permanent_failure``.

Connections are pooled and kept alive. Only *connecting* is retried here (``connect_retries``):
nothing has been sent then. A request that was sent and timed out is not retried: the outbox
owns retries, and the idempotency key makes its retry safe.

Body sent::

    {"idempotency_key": "spring:push1:C042", "channel": "sms", "customer_id": "C042",
     "to": "13800138000", "subject": null, "body": "...", "locale": "zh-CN",
     "campaign_id": "spring", "metadata": {}}
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lodestar.channels.channel import (
    OutboundMessage,
    SendResult,
    SendStatus,
    classify_http,
    scrub,
)
from lodestar.channels.webhooks import IDEMPOTENCY_HEADER, signature_headers
from lodestar.errors import ChannelError

log = logging.getLogger(__name__)

#: Channels that go through an HTTP gateway unless the settings say otherwise.
GATEWAY_CHANNELS = ("sms", "push", "wecom", "voice")


class HttpGatewayChannel:
    """A channel whose peer is an HTTP gateway.

    >>> ch = HttpGatewayChannel("sms", "http://127.0.0.1:9/send", secret="k")
    >>> ch.name
    'sms'
    >>> ch.close()
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: str | bytes,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        connect_retries: int = 2,
        max_connections: int = 8,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ChannelError(f"channel {name}: the gateway secret is empty")
        self.name = name
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self.connect_timeout = min(timeout, 3.0) if connect_timeout is None else connect_timeout
        self.connect_retries = connect_retries
        self.max_connections = max_connections
        self._headers = dict(headers or {})
        self._clock = clock
        self._pool: Any = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"HttpGatewayChannel(name={self.name!r}, url={self.url!r}, timeout={self.timeout})"

    def _manager(self) -> Any:
        # urllib3 is imported on first use: importing lodestar.channels stays cheap.
        with self._lock:
            if self._closed:
                raise ChannelError(f"channel {self.name}: the adapter is closed")
            if self._pool is None:
                import urllib3

                self._pool = urllib3.PoolManager(
                    num_pools=4, maxsize=self.max_connections, block=False
                )
            return self._pool

    def payload(self, message: OutboundMessage) -> bytes:
        """The exact bytes sent (and signed) for ``message``."""
        data = {
            "idempotency_key": message.idempotency_key,
            "channel": self.name,
            "customer_id": message.customer_id,
            "to": message.address,
            "subject": message.subject,
            "body": message.body,
            "locale": message.locale,
            "campaign_id": message.campaign_id,
            "metadata": dict(message.metadata),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def send(self, message: OutboundMessage) -> SendResult:
        import urllib3
        from urllib3.exceptions import (
            MaxRetryError,
            NewConnectionError,
            ProtocolError,
            TimeoutError,
        )

        body = self.payload(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            IDEMPOTENCY_HEADER: message.idempotency_key,
            **self._headers,
            **signature_headers(self._secret, body, now=self._clock()),
        }
        retries = urllib3.Retry(
            total=self.connect_retries,
            connect=self.connect_retries,
            read=0,
            status=0,
            other=0,
            redirect=0,
            raise_on_status=False,
            raise_on_redirect=False,
            backoff_factor=0.1,
        )
        started = time.perf_counter()
        try:
            response = self._manager().request(
                "POST",
                self.url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.timeout),
                retries=retries,
            )
        except (MaxRetryError, TimeoutError, ProtocolError, NewConnectionError, OSError) as exc:
            reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
            # NewConnectionError subclasses urllib3's TimeoutError: a refused connection is not
            # a timeout.
            timed_out = isinstance(reason, TimeoutError) and not isinstance(
                reason, NewConnectionError
            )
            code = "timeout" if timed_out else "connection_error"
            log.warning(
                "%s gateway: %s for key %s (%s)",
                self.name, code, message.idempotency_key, type(reason).__name__,
            )
            return SendResult.transient(
                code, f"{type(reason).__name__} calling the {self.name} gateway"
            )
        elapsed = time.perf_counter() - started
        result = self._result(response.status, response.data, response.headers, message)
        log.debug(
            "%s gateway: HTTP %s -> %s for key %s in %.0f ms",
            self.name, response.status, result.status.value, message.idempotency_key,
            elapsed * 1000,
        )
        return result

    def _result(
        self, status: int, data: bytes, headers: Mapping[str, str], message: OutboundMessage
    ) -> SendResult:
        parsed: Any = None
        if data:
            try:
                parsed = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                parsed = None
        info = parsed if isinstance(parsed, dict) else {}
        provider_id = info.get("message_id") or info.get("id")
        provider_id = None if provider_id is None else str(provider_id)
        kind = classify_http(status)
        if kind is SendStatus.SENT:
            if info.get("duplicate") is True or info.get("status") == "duplicate":
                return SendResult.duplicate(provider_id)
            return SendResult.sent(provider_id)
        if kind is SendStatus.DUPLICATE:
            return SendResult.duplicate(provider_id)
        text = info.get("error") or info.get("message") or data[:200].decode("utf-8", "replace")
        text = scrub(str(text)[:200], message.address)
        code = f"http_{status}"
        if kind is SendStatus.TRANSIENT_FAILURE:
            return SendResult.transient(code, text, retry_after=retry_after(headers))
        return SendResult.permanent(code, text)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.clear()
                self._pool = None


def retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), if any.

    >>> retry_after({"Retry-After": "7"})
    7.0
    >>> retry_after({"retry-after": "Thu, 01 Jan 1970 00:01:00 GMT"},
    ...             now=datetime(1970, 1, 1, tzinfo=UTC))
    60.0
    """
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
