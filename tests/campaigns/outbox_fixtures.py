"""Shared pieces of the outbox tests: a directory and a composer over plain dicts, and consent
rows in the operational store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lodestar.campaigns.outbox import OutboxRow
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import consents


class DictDirectory:
    def __init__(self, people: dict[str, dict[str, Any]]) -> None:
        self.people = people

    def contacts(self, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {c: self.people[c] for c in customer_ids if c in self.people}


class PlainComposer:
    def compose(self, row: OutboxRow, contact: Mapping[str, Any]) -> tuple[str | None, str]:
        return "offer", f"{contact.get('name', '')}, {row.offer_id or 'hello'}"


def people(n: int, zone: str = "Asia/Shanghai") -> dict[str, dict[str, Any]]:
    return {f"C{i:04d}": {"customer_id": f"C{i:04d}", "time_zone": zone,
                          "phone": f"1380000{i:04d}", "app_user_id": f"U{i}", "name": f"客户{i}"}
            for i in range(n)}  # fmt: skip


def grant(store: OperationalStore, customer_ids: list[str], channel: str = "sms",
          *, withdrawn: datetime | None = None, tag: str = "") -> None:  # fmt: skip
    with store.begin() as conn:
        conn.execute(sa.insert(consents), [{
            "consent_id": f"K{tag}{channel}{c}", "customer_id": c, "channel": channel,
            "purpose": "marketing", "granted": True, "source": "app",
            "ts": datetime(2025, 1, 1, tzinfo=UTC), "withdrawn_at": withdrawn,
        } for c in customer_ids])  # fmt: skip
