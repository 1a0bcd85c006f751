"""SMTP specifics beyond the contract: login, and the headers each message carries."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

from lodestar.channels.channel import OutboundMessage, SendStatus
from lodestar.channels.smtp_email import SmtpEmailChannel, message_id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_login_and_headers() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[bytes, bytes]] = []
    got: list[Any] = []
    lock = threading.Lock()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        with lock:
            logins.append((auth_data.login, auth_data.password))
        # handled=False: the server answers 535 itself (True would leave the client waiting).
        return AuthResult(success=auth_data.password == b"pw-ok", handled=False)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append(message_from_bytes(envelope.content, policy=default_policy))
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        m = OutboundMessage(idempotency_key="spring:mail:C7", channel="email", customer_id="C7",
                            address="c7@example.cn", subject="Hi", body="Body",
                            campaign_id="spring", locale="en")
        good = SmtpEmailChannel("127.0.0.1", port, sender="mk@bank.example", username="lode",
                                password="pw-ok", timeout=2)
        bad = SmtpEmailChannel("127.0.0.1", port, sender="mk@bank.example", username="lode",
                               password="wrong", timeout=2)
        try:
            assert good.send(m).status is SendStatus.SENT
            assert good.send(m).status is SendStatus.SENT  # the same connection, reused
            refused = bad.send(m)
        finally:
            good.close()
            bad.close()
    finally:
        controller.stop()
    assert logins[0] == (b"lode", b"pw-ok")
    # One login for the reused connection; the bad channel tries each offered mechanism.
    assert logins.count((b"lode", b"pw-ok")) == 1
    assert refused.status is SendStatus.PERMANENT_FAILURE and refused.error_code == "smtp_535"
    mail = got[0]
    assert mail["Message-ID"] == message_id("spring:mail:C7", "bank.example")
    assert mail["X-Lodestar-Idempotency-Key"] == "spring:mail:C7"
    assert mail["X-Lodestar-Campaign"] == "spring"
    assert mail["Content-Language"] == "en"
    assert "password" not in repr(good) and "pw-ok" not in repr(good)
