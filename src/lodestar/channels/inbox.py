"""The in-app inbox: messages kept in the workspace's operational store, read by the app through
the API.

A send inserts one row into ``inbox_messages``; the idempotency key is unique, so a second send
with the same key stores nothing and answers ``duplicate`` with the first row's id. The API's
inbox route calls :meth:`InboxChannel.list_messages` and :meth:`InboxChannel.mark_read`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lodestar.channels.channel import OutboundMessage, SendResult
from lodestar.storage.operational_tables import inbox_messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxMessage:
    id: int
    customer_id: str
    campaign_id: str | None
    idempotency_key: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _message(row: Any) -> InboxMessage:
    created = _utc(row.created_at)
    assert created is not None
    return InboxMessage(
        id=int(row.id),
        customer_id=row.customer_id,
        campaign_id=row.campaign_id,
        idempotency_key=row.idempotency_key,
        title=row.title,
        body=row.body,
        created_at=created,
        read_at=_utc(row.read_at),
    )


class InboxChannel:
    """The in-app inbox as a channel. ``store`` is an ``OperationalStore`` or an SQLAlchemy
    engine (the table comes from the workspace's migrations)."""

    def __init__(
        self,
        store: Any,
        *,
        name: str = "inbox",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self._engine: Engine = store if isinstance(store, Engine) else store.engine
        self._clock = clock

    def __repr__(self) -> str:
        return f"InboxChannel(name={self.name!r}, dialect={self._engine.dialect.name!r})"

    def _insert(self) -> Any:
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(inbox_messages)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(inbox_messages)

    def send(self, message: OutboundMessage) -> SendResult:
        # ON CONFLICT DO NOTHING rather than catching an IntegrityError: on PostgreSQL a failed
        # statement would abort the caller's transaction, and concurrent workers race here.
        stmt = (
            self._insert()
            .values(
                customer_id=message.customer_id,
                campaign_id=message.campaign_id,
                idempotency_key=message.idempotency_key,
                title=message.subject or "",
                body=message.body,
                created_at=self._clock(),
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(inbox_messages.c.id)
        )
        try:
            with self._engine.begin() as conn:
                new_id = conn.execute(stmt).scalar()
                if new_id is None:
                    existing = conn.execute(
                        sa.select(inbox_messages.c.id).where(
                            inbox_messages.c.idempotency_key == message.idempotency_key
                        )
                    ).scalar()
        except sa.exc.OperationalError as exc:
            # Locked or unreachable database: worth another try later.
            log.warning("inbox: store unavailable for key %s", message.idempotency_key)
            return SendResult.transient("store_unavailable", type(exc.orig).__name__)
        if new_id is None:
            log.debug("inbox: key %s already stored", message.idempotency_key)
            return SendResult.duplicate(None if existing is None else str(existing))
        log.debug("inbox: stored key %s as %s", message.idempotency_key, new_id)
        return SendResult.sent(str(new_id))

    def list_messages(
        self, customer_id: str, *, unread_only: bool = False, limit: int = 100
    ) -> list[InboxMessage]:
        """The customer's messages, newest first."""
        q = sa.select(inbox_messages).where(inbox_messages.c.customer_id == customer_id)
        if unread_only:
            q = q.where(inbox_messages.c.read_at.is_(None))
        q = q.order_by(inbox_messages.c.created_at.desc(), inbox_messages.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_message(r) for r in conn.execute(q)]

    def unread_count(self, customer_id: str) -> int:
        q = (
            sa.select(sa.func.count())
            .select_from(inbox_messages)
            .where(inbox_messages.c.customer_id == customer_id)
            .where(inbox_messages.c.read_at.is_(None))
        )
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def mark_read(self, customer_id: str, message_id: int) -> bool:
        """Mark one of the customer's messages read (the first read time is kept). False when
        the customer has no such message: one customer cannot touch another's inbox."""
        with self._engine.begin() as conn:
            found = conn.execute(
                sa.select(inbox_messages.c.read_at)
                .where(inbox_messages.c.id == message_id)
                .where(inbox_messages.c.customer_id == customer_id)
            ).first()
            if found is None:
                return False
            if found.read_at is None:
                conn.execute(
                    sa.update(inbox_messages)
                    .where(inbox_messages.c.id == message_id)
                    .where(inbox_messages.c.read_at.is_(None))
                    .values(read_at=self._clock())
                )
        return True

    def close(self) -> None:
        """Nothing to release: the engine belongs to the workspace's store."""


