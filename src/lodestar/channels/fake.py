"""``FakeChannel``: a channel for other code's tests (the outbox, journeys, the demo).

It records every attempt, "delivers" to an in-memory list, recognises a repeated idempotency key
as a well-behaved gateway would, and can be told what to answer next.

>>> ch = FakeChannel("sms")
>>> ch.fail_next(SendResult.transient("http_503", "busy", retry_after=2))
>>> m = OutboundMessage(idempotency_key="c:s:1", channel="sms", customer_id="1",
...                     address="13800138000", body="hi")
>>> [ch.send(m).status.value for _ in range(3)]
['transient_failure', 'sent', 'duplicate']
>>> len(ch.delivered), len(ch.attempts)
(1, 3)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from lodestar.channels.channel import OutboundMessage, SendResult, SendStatus


class FakeChannel:
    """An in-memory channel.

    - ``attempts``: every message ``send`` was called with, in order;
    - ``delivered``: the messages that went out (a duplicate or failure adds nothing);
    - ``fail_next(*results)``: the next sends answer these results instead of delivering;
    - ``fail_when(predicate, result)``: every message matching ``predicate`` answers ``result``
      (e.g. a customer whose number is unknown to the gateway);
    - ``deduplicate=False`` makes it a peer without idempotency (every send delivers).
    """

    def __init__(self, name: str = "fake", *, deduplicate: bool = True) -> None:
        self.name = name
        self.deduplicate = deduplicate
        self.attempts: list[OutboundMessage] = []
        self.delivered: list[OutboundMessage] = []
        self._ids: dict[str, str] = {}
        self._script: deque[SendResult] = deque()
        self._rules: list[tuple[Callable[[OutboundMessage], bool], SendResult]] = []
        self._lock = threading.Lock()
        self.closed = False

    def __repr__(self) -> str:
        return (
            f"FakeChannel(name={self.name!r}, attempts={len(self.attempts)}, "
            f"delivered={len(self.delivered)})"
        )

    def fail_next(self, *results: SendResult | Iterable[SendResult]) -> None:
        """Queue results for the next sends (then it delivers again)."""
        with self._lock:
            for r in results:
                if isinstance(r, SendResult):
                    self._script.append(r)
                else:
                    self._script.extend(r)

    def fail_when(self, predicate: Callable[[OutboundMessage], bool], result: SendResult) -> None:
        with self._lock:
            self._rules.append((predicate, result))

    def send(self, message: OutboundMessage) -> SendResult:
        with self._lock:
            self.attempts.append(message)
            if self._script:
                scripted = self._script.popleft()
                if scripted.status is not SendStatus.SENT:
                    return scripted
            for predicate, result in self._rules:
                if predicate(message):
                    return result
            key = message.idempotency_key
            if self.deduplicate and key in self._ids:
                return SendResult.duplicate(self._ids[key])
            provider_id = f"{self.name}-{len(self.delivered) + 1}"
            self._ids[key] = provider_id
            self.delivered.append(message)
            return SendResult.sent(provider_id)

    def sent_to(self, customer_id: str) -> list[OutboundMessage]:
        with self._lock:
            return [m for m in self.delivered if m.customer_id == customer_id]

    def reset(self) -> None:
        with self._lock:
            self.attempts.clear()
            self.delivered.clear()
            self._ids.clear()
            self._script.clear()
            self._rules.clear()

    def close(self) -> None:
        self.closed = True
