"""The in-app inbox beyond the contract: listing, unread, marking read, per customer; on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lodestar.channels.channel import OutboundMessage, SendStatus
from lodestar.channels.inbox import InboxChannel
from lodestar.storage.operational import OperationalStore, sqlite_url


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[OperationalStore]:
    s = OperationalStore(database_url or sqlite_url(tmp_path / "ops.sqlite"))
    s.migrate()
    yield s
    s.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 12, 4, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def msg(key: str, customer: str = "C1", title: str | None = "标题") -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, channel="inbox", customer_id=customer,
                           address=f"app-{customer}", subject=title, body=f"body {key}",
                           campaign_id="spring")


def test_list_mark_read_and_unread_only(store: OperationalStore) -> None:
    inbox = InboxChannel(store, clock=Clock())
    ids = [int(inbox.send(msg(f"spring:s{i}:C1")).provider_message_id or 0) for i in range(3)]
    inbox.send(msg("spring:s0:C2", customer="C2"))
    listed = inbox.list_messages("C1")
    assert [m.id for m in listed] == ids[::-1]  # newest first
    assert all(m.unread and m.campaign_id == "spring" for m in listed)
    assert listed[0].created_at.tzinfo is not None
    assert inbox.unread_count("C1") == 3

    assert inbox.mark_read("C1", ids[1]) is True
    first_read = next(m.read_at for m in inbox.list_messages("C1") if m.id == ids[1])
    assert first_read is not None
    assert inbox.mark_read("C1", ids[1]) is True  # again: the first read time stays
    assert next(m.read_at for m in inbox.list_messages("C1") if m.id == ids[1]) == first_read
    assert [m.id for m in inbox.list_messages("C1", unread_only=True)] == [ids[2], ids[0]]
    assert inbox.unread_count("C1") == 2
    assert len(inbox.list_messages("C1", limit=1)) == 1


def test_one_customer_cannot_touch_anothers_inbox(store: OperationalStore) -> None:
    inbox = InboxChannel(store)
    other = int(inbox.send(msg("k:1:C2", customer="C2")).provider_message_id or 0)
    assert inbox.mark_read("C1", other) is False
    assert inbox.mark_read("C1", 999_999) is False
    assert inbox.list_messages("C1") == []
    assert inbox.list_messages("C2")[0].unread


def test_duplicate_inside_a_busy_table_and_without_subject(store: OperationalStore) -> None:
    inbox = InboxChannel(store)
    first = inbox.send(msg("k:1:C1", title=None))
    assert first.status is SendStatus.SENT
    assert inbox.list_messages("C1")[0].title == ""
    for _ in range(3):
        again = inbox.send(msg("k:1:C1"))
        assert again.status is SendStatus.DUPLICATE
        assert again.provider_message_id == first.provider_message_id
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM inbox_messages")).scalar() == 1
