"""Every channel implementation behind one ``Harness``, for the shared contract suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from channel_peers import GatewayPeer, Harness, Received, SmtpPeer

from lodestar.channels.channel import SendResult
from lodestar.channels.fake import FakeChannel
from lodestar.channels.http_gateway import HttpGatewayChannel
from lodestar.channels.inbox import InboxChannel
from lodestar.channels.smtp_email import SmtpEmailChannel
from lodestar.storage.operational import OperationalStore, sqlite_url

SECRET = b"gw-shared-secret-for-tests"
#: What each channel's address looks like (all of them personal data).
ADDRESSES = {
    "email": "li.lei@example.cn",
    "sms": "13800138000",
    "voice": "13900139000",
    "push": "app-user-8f3a2c",
    "wecom": "wecom-LiLei-0042",
    "inbox": "app-user-inbox-77",
    "fake": "13700137000",
}


def _store(url: str) -> OperationalStore:
    store = OperationalStore(url)
    store.migrate()
    return store


def _fake_modes(fake: FakeChannel) -> Callable[[str], None]:
    results = {
        "throttle": SendResult.transient("http_429", "slow down", retry_after=7),
        "server_error": SendResult.transient("http_500", "broke"),
        "reject": SendResult.permanent("http_400", "invalid number"),
        "hang": SendResult.transient("timeout", "no answer"),
    }

    def set_mode(mode: str) -> None:
        if mode in results:
            fake.fail_next(results[mode])

    return set_mode


IMPLEMENTATIONS = [
    "fake",
    "inbox-sqlite",
    pytest.param("inbox-postgres", marks=pytest.mark.postgres),
    "email-smtp",
    "sms",
    "push",
    "wecom",
    "voice",
]


@pytest.fixture(params=IMPLEMENTATIONS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    kind: str = request.param
    if kind == "fake":
        fake = FakeChannel("fake")
        yield Harness(fake, lambda: [
            Received(m.idempotency_key, m.address, m.subject, m.body) for m in fake.delivered
        ], _fake_modes(fake), True, True, ADDRESSES["fake"])
        return
    if kind.startswith("inbox"):
        url = (
            sqlite_url(tmp_path / "ops.sqlite") if kind == "inbox-sqlite"
            else str(request.getfixturevalue("pg_schema_url"))
        )
        store = _store(url)
        inbox = InboxChannel(store)
        customer = "C0042"
        yield Harness(inbox, lambda: [
            Received(m.idempotency_key, None, m.title, m.body)
            for m in reversed(inbox.list_messages(customer))
        ], None, True, False, ADDRESSES["inbox"])
        store.dispose()
        return
    if kind == "email-smtp":
        smtp_peer = SmtpPeer()
        mail = SmtpEmailChannel(
            smtp_peer.host, smtp_peer.port, sender="marketing@bank.example", timeout=0.5
        )

        def smtp_mode(mode: str) -> None:
            smtp_peer.mode = mode
            if mode == "ok":
                smtp_peer.release.set()

        yield Harness(mail, lambda: list(smtp_peer.received), smtp_mode, False, False,
                      ADDRESSES["email"], peer_loggers=("mail.log",))
        mail.close()
        smtp_peer.close()
        return
    gw_peer = GatewayPeer(SECRET)
    gateway = HttpGatewayChannel(kind, gw_peer.url, secret=SECRET, timeout=0.5)

    def gw_mode(mode: str) -> None:
        gw_peer.mode = mode
        if mode == "ok":
            gw_peer.release.set()

    yield Harness(gateway, lambda: list(gw_peer.received), gw_mode, True, True,
                  ADDRESSES[kind], secret=SECRET.decode())
    gateway.close()
    gw_peer.close()
    assert gw_peer.bad_signatures == 0
