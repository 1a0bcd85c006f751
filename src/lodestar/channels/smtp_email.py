"""E-mail over SMTP (the standard library's smtplib).

Each message carries ``X-Lodestar-Idempotency-Key`` and a ``Message-ID`` derived from the key,
so a repeated attempt sends the same Message-ID and the receiving side can recognise it (SMTP
itself has no idempotency). STARTTLS and authentication are optional. One connection is kept and
reused between sends; a connection the server has dropped is replaced before sending (the only
retry here: nothing was sent on it).

Reply codes classify the result: 4xx (e.g. ``451 try again later``) and lost connections or
timeouts are transient, 5xx (``550 no such mailbox``) permanent.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formatdate

from lodestar.channels.channel import (
    OutboundMessage,
    SendResult,
    SendStatus,
    classify_smtp,
    scrub,
)
from lodestar.channels.webhooks import IDEMPOTENCY_HEADER

log = logging.getLogger(__name__)


def message_id(idempotency_key: str, domain: str) -> str:
    """The Message-ID of the message with this key: the same key, the same id.

    >>> message_id("spring:mail1:C042", "bank.example")
    '<lodestar.5b191dc3e4893565292c306583544a90@bank.example>'
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<lodestar.{digest}@{domain}>"


class SmtpEmailChannel:
    """E-mail through an SMTP server (a relay or the bank's mail gateway)."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        name: str = "email",
        starttls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        message_id_domain: str | None = None,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self._ssl_context = ssl_context
        self.username = username
        self._password = password
        self.timeout = timeout
        self.message_id_domain = message_id_domain or sender.rpartition("@")[2] or "lodestar"
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SmtpEmailChannel(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"starttls={self.starttls}, auth={self.username is not None})"
        )

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The e-mail that ``send`` transmits for ``message``."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id(message.idempotency_key, self.message_id_domain)
        mail[IDEMPOTENCY_HEADER] = message.idempotency_key
        if message.campaign_id:
            mail["X-Lodestar-Campaign"] = message.campaign_id
        mail.set_content(message.body)
        # After set_content, which clears every Content-* header set before it.
        mail["Content-Language"] = message.locale
        return mail

    def _connect(self) -> smtplib.SMTP:
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=self._ssl_context or ssl.create_default_context())
                conn.ehlo()
            if self.username is not None:
                conn.login(self.username, self._password or "")
        except BaseException:
            _quietly_close(conn)
            raise
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            _quietly_close(self._conn)
            self._conn = None
        self._conn = self._connect()
        return self._conn

    def send(self, message: OutboundMessage) -> SendResult:
        mail = self.build(message)
        mid = str(mail["Message-ID"])
        with self._lock:
            try:
                conn = self._connection()
                conn.send_message(mail, from_addr=self.sender, to_addrs=[message.address])
            except smtplib.SMTPRecipientsRefused as exc:
                # One recipient: its (code, reply) is the answer. The dict is keyed by address.
                code, reply = next(iter(exc.recipients.values()), (550, b""))
                return self._failure(code, reply, message)
            except smtplib.SMTPResponseException as exc:
                self._drop_if(exc.smtp_code == 421)
                return self._failure(exc.smtp_code, exc.smtp_error, message)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop_if(True)
                # smtplib turns a read timeout into SMTPServerDisconnected; the cause tells.
                timed_out = isinstance(exc, TimeoutError) or isinstance(
                    exc.__context__, TimeoutError
                )
                problem = "timeout" if timed_out else "connection_error"
                log.warning(
                    "e-mail: %s for key %s (%s)", problem, message.idempotency_key,
                    type(exc).__name__,
                )
                return SendResult.transient(problem, f"{type(exc).__name__} talking to {self.host}")
            except smtplib.SMTPException as exc:
                # e.g. STARTTLS or AUTH not offered by the server: the settings are wrong.
                self._drop_if(True)
                text = scrub(str(exc), message.address)[:200]
                log.warning("e-mail: %s for key %s", type(exc).__name__, message.idempotency_key)
                return SendResult.permanent("smtp_error", text)
        log.debug("e-mail: sent key %s as %s", message.idempotency_key, mid)
        return SendResult.sent(mid)

    def _failure(self, code: int, reply: bytes | str, message: OutboundMessage) -> SendResult:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = scrub(text, message.address)[:200]
        kind = classify_smtp(code)
        log.warning("e-mail: SMTP %s for key %s", code, message.idempotency_key)
        if kind is SendStatus.TRANSIENT_FAILURE:
            return SendResult.transient(f"smtp_{code}", text)
        return SendResult.permanent(f"smtp_{code}", text)

    def _drop_if(self, condition: bool) -> None:
        if condition and self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None
        elif self._conn is not None:
            # After a refused transaction the session is still usable once reset.
            try:
                self._conn.rset()
            except (smtplib.SMTPException, OSError):
                _quietly_close(self._conn)
                self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._conn.quit()
                _quietly_close(self._conn)
                self._conn = None


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()
