"""The campaign-execution half of the :class:`~lodestar.workspace.Workspace` facade: the
lifecycle, putting an approved campaign's plan into the outbox, and draining it.

Kept apart from ``workspace.py`` so each file stays readable; :class:`Workspace` inherits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lodestar.errors import CampaignError

if TYPE_CHECKING:
    from pathlib import Path

    from lodestar.campaigns.lifecycle import Campaigns
    from lodestar.campaigns.outbox import Outbox, OutboxRow
    from lodestar.campaigns.send_worker import SendStats

#: Campaign states in which its sends may go out.
SENDING = ("running",)
_CONTACT = ("customer_id", "name", "time_zone", "phone", "email", "app_user_id", "wecom_id")


class CampaignsMixin:
    root: Path
    ops: Any
    query: Any

    @property
    def campaigns(self) -> Campaigns:
        from lodestar.campaigns.lifecycle import Campaigns

        return Campaigns(self.ops)

    @property
    def outbox(self) -> Outbox:
        from lodestar.campaigns.outbox import Outbox

        return Outbox(self.ops)

    def enqueue_plan(self, campaign_id: str, plan_id: str, *, step: str = "1") -> int:
        """Put the contacts of ``plan_id`` into the outbox as step ``step`` of ``campaign_id``,
        which must be running (approved, then started): a plan goes out only under an approved
        campaign. Returns how many sends were new (enqueuing again adds nothing)."""
        record = self.campaigns.get(campaign_id)
        if record.state.value not in SENDING:
            raise CampaignError(f"campaign {campaign_id} is {record.state.value}: only a running "
                                "campaign sends",
                                hint="submit, approve and start it first")  # fmt: skip
        saved = self.saved_plan(plan_id)  # type: ignore[attr-defined]
        if saved.summary.get("campaign") != campaign_id:
            raise CampaignError(f"plan {plan_id} is for campaign {saved.summary.get('campaign')},"
                                f" not {campaign_id}")  # fmt: skip
        rows = saved.rows()
        contacts = rows[rows["contact"]]
        purpose = saved.summary.get("purpose", "marketing")
        sends = [{"campaign_id": campaign_id, "step": step, "customer_id": str(r.customer_id),
                  "channel": str(r.channel), "offer_id": str(r.offer_id), "purpose": purpose,
                  "send_at": _utc(r.send_at)}
                 for r in contacts.itertuples(index=False)]  # fmt: skip
        added = self.outbox.enqueue(sends)
        with self.ops.begin() as conn:
            self.ops.audit(conn, actor="lodestar", action="outbox.enqueue", entity="campaign",
                           entity_id=campaign_id, after={"plan": plan_id, "step": step,
                                                         "rows": len(sends), "new": added})  # fmt: skip
        return added

    def run_sends(self, *, once: bool = False, batch: int = 100,
                  channels: Mapping[str, Any] | None = None,
                  rate_per_second: Mapping[str, float] | None = None,
                  now: datetime | None = None) -> SendStats:  # fmt: skip
        """Drain the outbox with the workspace's channels (its ``channels:`` settings), the
        contact policy in force, the customers' addresses and the offers' messages. ``now``
        fixes the clock (a dry run of tomorrow morning, tests); by default it is the time."""
        from lodestar.campaigns.send_worker import SendWorker
        from lodestar.channels.registry import load_workspace_channels

        chosen = dict(channels) if channels is not None else load_workspace_channels(
            self.root, store=self.ops)  # fmt: skip
        worker = SendWorker(self.ops, chosen, self.contact_policy(),  # type: ignore[attr-defined]
                            WorkspaceDirectory(self), OfferComposer(self), batch=batch,
                            rate_per_second=rate_per_second, name=_worker_name())  # fmt: skip
        try:
            if once or now is not None:
                from lodestar.campaigns.send_worker import SendStats

                total = SendStats()
                while (got := worker.run_once(now=now)).claimed:
                    total.add(got)
                    if once:
                        break
                return total
            return worker.run(until_empty=True)
        finally:
            if channels is None:
                for channel in chosen.values():
                    channel.close()

    def campaign_status(self, campaign_id: str) -> dict[str, Any]:
        """Sends per status and the reasons of the skipped and dead ones, with the campaign's
        state."""
        import sqlalchemy as sa

        from lodestar.storage.operational_tables import outbox

        record = self.campaigns.get(campaign_id)
        with self.ops.engine.connect() as conn:
            reasons = conn.execute(
                sa.select(outbox.c.status, outbox.c.last_error, sa.func.count())
                .where((outbox.c.campaign_id == campaign_id)
                       & outbox.c.status.in_(("skipped", "dead")))
                .group_by(outbox.c.status, outbox.c.last_error)).all()  # fmt: skip
        from lodestar.campaigns.delivery import delivery_counts

        return {"campaign": record.as_dict(), "counts": self.outbox.counts(campaign_id),
                "delivery": delivery_counts(self.ops, campaign_id),
                "reasons": [{"status": s, "reason": r, "count": int(n)}
                            for s, r, n in reasons]}  # fmt: skip


class WorkspaceDirectory:
    """Customers' zones, addresses and names from the workspace's customers table."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def contacts(self, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not customer_ids:
            return {}
        marks = ", ".join("?" for _ in customer_ids)
        rows = self.ws.query(f"SELECT {', '.join(_CONTACT)} FROM customers "
                             f"WHERE customer_id IN ({marks})", list(customer_ids)).to_pylist()  # fmt: skip
        return {str(r["customer_id"]): r for r in rows}


class OfferComposer:
    """The offer's message for the row's channel, in the workspace's language, with the
    customer's name; a row without an offer says the campaign's name."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._catalogue: Any = None

    def compose(self, row: OutboxRow, contact: Mapping[str, Any]) -> tuple[str | None, str]:
        if self._catalogue is None:
            self._catalogue = self.ws.offer_catalogue()
        locale = getattr(self.ws.config, "locale", None) or "zh-CN"
        if row.offer_id and row.offer_id in self._catalogue.ids():
            offer = self._catalogue.get(row.offer_id)
            if row.channel in offer.channels:
                body = offer.render(row.channel, locale, {"name": contact.get("name") or ""})
                return offer.label(locale), body
        return row.campaign_id, row.campaign_id


def _utc(value: Any) -> datetime:
    stamp = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _worker_name() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
