"""The ``Channel`` interface: one message out, one classified result back.

The outbox (lodestar.campaigns) calls ``send`` once per attempt and decides what to do with the
result: ``sent`` and ``duplicate`` close the row, ``transient_failure`` is retried with backoff
(after ``retry_after`` seconds when the peer said so), ``permanent_failure`` goes to the dead
letter at once. Adapters never raise for a failed send and never retry a send themselves; at most
they retry *setting up a connection*, which cannot deliver anything twice.

Addresses (phone numbers, e-mail addresses, app user ids, WeCom ids) are personal data: they are
masked in every repr and never written to a log.

>>> m = OutboundMessage(idempotency_key="c1:s1:42", channel="sms", customer_id="42",
...                     address="13800138000", body="您好")
>>> "13800138000" in repr(m)
False
>>> SendResult.transient("http_429", "rate limited", retry_after=7).retryable
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol, runtime_checkable


class SendStatus(StrEnum):
    SENT = "sent"
    #: Worth retrying later: timeouts, connection errors, 429, 5xx, SMTP 4xx.
    TRANSIENT_FAILURE = "transient_failure"
    #: Retrying cannot help: a 4xx other than 408/409/429, SMTP 5xx, a bad address.
    PERMANENT_FAILURE = "permanent_failure"
    #: The peer already had this idempotency key: the message went out on an earlier attempt.
    DUPLICATE = "duplicate"


def mask(address: str) -> str:
    """What may be shown of an address: its kind of shape, never its characters.

    >>> mask("13800138000"), mask("a@b.cn"), mask("")
    ('***(11)', '***@***(6)', '')
    """
    if not address:
        return ""
    at = "@***" if "@" in address else ""
    return f"***{at}({len(address)})"


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every occurrence of each secret (an address, a key) replaced by ``***``.

    Peers echo addresses in their error messages; those messages end up in the outbox and logs.
    """
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one customer on one channel.

    ``idempotency_key`` is ``campaign:step:customer`` from the outbox: the same key means the
    same message, and every adapter passes it to its peer so a repeated attempt is recognised.
    ``address`` is the phone / e-mail / app user id / WeCom id (masked in the repr).
    """

    idempotency_key: str
    channel: str
    customer_id: str
    address: str = field(repr=False)
    body: str
    subject: str | None = None
    locale: str = "zh-CN"
    campaign_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("an outbound message needs an idempotency key")
        # Frozen means frozen: a caller's dict must not change the message afterwards.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __repr__(self) -> str:
        return (
            f"OutboundMessage(idempotency_key={self.idempotency_key!r}, channel={self.channel!r}, "
            f"customer_id={self.customer_id!r}, address={mask(self.address)!r}, "
            f"campaign_id={self.campaign_id!r})"
        )


@dataclass(frozen=True)
class SendResult:
    """What one send attempt came to. ``error_message`` has addresses scrubbed by the adapter."""

    status: SendStatus
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: Seconds the peer asked us to wait (HTTP Retry-After), when it said.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """The message is out (now or on an earlier attempt)."""
        return self.status in (SendStatus.SENT, SendStatus.DUPLICATE)

    @property
    def retryable(self) -> bool:
        return self.status is SendStatus.TRANSIENT_FAILURE

    @classmethod
    def sent(cls, provider_message_id: str | None = None) -> SendResult:
        return cls(SendStatus.SENT, provider_message_id)

    @classmethod
    def duplicate(cls, provider_message_id: str | None = None) -> SendResult:
        return cls(SendStatus.DUPLICATE, provider_message_id)

    @classmethod
    def transient(
        cls, code: str, message: str = "", *, retry_after: float | None = None
    ) -> SendResult:
        return cls(SendStatus.TRANSIENT_FAILURE, None, code, message, retry_after)

    @classmethod
    def permanent(cls, code: str, message: str = "") -> SendResult:
        return cls(SendStatus.PERMANENT_FAILURE, None, code, message)


def classify_http(status: int) -> SendStatus:
    """The outbox's retry input from an HTTP status.

    >>> [classify_http(s).value for s in (200, 409, 429, 503, 408, 400)]
    ['sent', 'duplicate', 'transient_failure', 'transient_failure', 'transient_failure', 'permanent_failure']
    """
    if 200 <= status < 300:
        return SendStatus.SENT
    if status == 409:
        return SendStatus.DUPLICATE
    if status in (408, 425, 429) or status >= 500:
        return SendStatus.TRANSIENT_FAILURE
    return SendStatus.PERMANENT_FAILURE


def classify_smtp(code: int) -> SendStatus:
    """SMTP reply codes: 2xx sent, 4xx (try again later) transient, 5xx permanent.

    >>> [classify_smtp(c).value for c in (250, 421, 451, 550)]
    ['sent', 'transient_failure', 'transient_failure', 'permanent_failure']
    """
    if 200 <= code < 400:
        return SendStatus.SENT
    if 400 <= code < 500:
        return SendStatus.TRANSIENT_FAILURE
    return SendStatus.PERMANENT_FAILURE


@runtime_checkable
class Channel(Protocol):
    """Anything that can carry an :class:`OutboundMessage` to a customer.

    Implementations: :class:`~lodestar.channels.smtp_email.SmtpEmailChannel`,
    :class:`~lodestar.channels.http_gateway.HttpGatewayChannel` (SMS, push, WeCom, voice robot),
    :class:`~lodestar.channels.inbox.InboxChannel`, and :class:`~lodestar.channels.fake.FakeChannel`
    for tests. ``send`` may be called from several threads at once.
    """

    #: The channel's name in campaigns and settings: ``email``, ``sms``, ``push``...
    name: str

    def send(self, message: OutboundMessage) -> SendResult:
        """Try once to deliver ``message``; never raises for a failed delivery."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...
