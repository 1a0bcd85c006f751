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
    import threading
    from pathlib import Path

    from lodestar.campaigns.definition import CampaignDefinition
    from lodestar.campaigns.journeys import JourneyStats
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

    def run_journeys(self, *, now: datetime | None = None) -> JourneyStats:
        """One pass of the journey runner: due schedules fire, new events trigger, enter,
        end waits and reach goals, due customers take their next steps (sends go to the
        outbox). Safe to run in several processes at once."""
        from lodestar.campaigns.journeys import JourneyRunner

        return JourneyRunner(self.ops, WorkspaceAudience(self)).tick(now)

    def run_worker(self, *, follow: bool = False, poll: float = 0.5, batch: int = 100,
                   channels: Mapping[str, Any] | None = None,
                   stop: threading.Event | None = None,
                   on_round: Any = None) -> tuple[JourneyStats, SendStats]:  # fmt: skip
        """Journeys and sends together: each round runs the journeys once and drains the due
        outbox. Without ``follow`` it stops when a round finds nothing to do; with it, it
        polls every ``poll`` seconds until ``stop`` is set (the trigger latency is about one
        poll plus a send)."""
        from lodestar.campaigns.journeys import JourneyRunner, JourneyStats
        from lodestar.campaigns.send_worker import SendStats, SendWorker
        from lodestar.channels.registry import load_workspace_channels

        chosen = dict(channels) if channels is not None else load_workspace_channels(
            self.root, store=self.ops)  # fmt: skip
        runner = JourneyRunner(self.ops, WorkspaceAudience(self), batch=max(batch, 500))
        sender = SendWorker(self.ops, chosen, self.contact_policy(),  # type: ignore[attr-defined]
                            WorkspaceDirectory(self), OfferComposer(self), batch=batch,
                            name=_worker_name())  # fmt: skip
        journeys, sends = JourneyStats(), SendStats()
        try:
            while stop is None or not stop.is_set():
                runner.audience = WorkspaceAudience(self)  # fresh segment answers each round
                got = runner.tick()
                journeys.add(got)
                sent = SendStats()
                while (one := sender.run_once()).claimed:
                    sent.add(one)
                sends.add(sent)
                if on_round is not None:
                    on_round(got, sent)
                busy = got.entered or got.advanced or got.started or sent.claimed
                if not follow and not busy:
                    break
                if not busy:
                    if stop is not None:
                        stop.wait(poll)
                    else:
                        import time

                        time.sleep(poll)
            return journeys, sends
        finally:
            if channels is None:
                for channel in chosen.values():
                    channel.close()

    def campaign_status(self, campaign_id: str) -> dict[str, Any]:
        """What a campaign manager watches: the state; sends per status with the reasons of
        the skipped and dead ones; delivery receipts; per journey step the customers who
        reached it and its sends, deliveries, opens, clicks and replies; journey entries by
        outcome (converted = left at the goal); cost so far against the budget."""
        from lodestar.campaigns.delivery import delivery_counts
        from lodestar.campaigns.monitoring import (
            conversions,
            journey_counts,
            spend_so_far,
            step_funnel,
        )

        record = self.campaigns.get(campaign_id)
        definition = self.campaigns.definition(campaign_id, record.version)
        budget = definition.plan.budget if definition.plan is not None else None
        return {"campaign": record.as_dict(), "counts": self.outbox.counts(campaign_id),
                "delivery": delivery_counts(self.ops, campaign_id),
                "reasons": _stop_reasons(self.ops, campaign_id),
                "steps": step_funnel(self.ops, campaign_id),
                "journeys": journey_counts(self.ops, campaign_id),
                "converted": conversions(self.ops, campaign_id, definition.goal.event,
                                         definition.goal.window_days),
                "cost": spend_so_far(self.ops, campaign_id, _catalogue_or_none(self), budget)}


class WorkspaceAudience:
    """The journey runner's view of the workspace: fresh plans for scheduled rounds and
    audience expressions on the profile (answers cached for the life of this object)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._members: dict[str, set[str]] = {}

    def plan_contacts(self, definition: CampaignDefinition, at: datetime) -> list[dict[str, Any]]:
        if definition.plan is None:
            return []
        saved = self.ws.plan(definition.plan, actor="scheduler")
        rows = saved.rows()
        contacts = rows[rows["contact"]]
        purpose = saved.summary.get("purpose", "marketing")
        return [{"customer_id": str(r.customer_id), "channel": str(r.channel),
                 "offer_id": str(r.offer_id), "send_at": _utc(r.send_at), "purpose": purpose}
                for r in contacts.itertuples(index=False)]  # fmt: skip

    def matching(self, expression: str, customer_ids: Any) -> set[str]:
        if expression not in self._members:
            table = self.ws.segment_members(expression)
            self._members[expression] = {str(c) for c in table.column("customer_id").to_pylist()}
        members = self._members[expression]
        return {c for c in customer_ids if c in members}


def _stop_reasons(ops: Any, campaign_id: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from lodestar.storage.operational_tables import outbox

    with ops.engine.connect() as conn:
        reasons = conn.execute(
            sa.select(outbox.c.status, outbox.c.last_error, sa.func.count())
            .where((outbox.c.campaign_id == campaign_id)
                   & outbox.c.status.in_(("skipped", "dead")))
            .group_by(outbox.c.status, outbox.c.last_error)).all()  # fmt: skip
    return [{"status": s, "reason": r, "count": int(n)} for s, r, n in reasons]


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
            self._catalogue = _catalogue_or_none(self.ws) or False
        locale = getattr(self.ws.config, "locale", None) or "zh-CN"
        if self._catalogue and row.offer_id and row.offer_id in self._catalogue.ids():
            offer = self._catalogue.get(row.offer_id)
            if row.channel in offer.channels:
                body = offer.render(row.channel, locale, {"name": contact.get("name") or ""})
                return offer.label(locale), body
        return row.campaign_id, row.campaign_id


def _catalogue_or_none(ws: Any) -> Any:
    """The workspace's offer catalogue, or None when it has none (a campaign of plain
    messages)."""
    from lodestar.workspace_decisioning import OFFERS_FILE

    if not (ws.root / OFFERS_FILE).is_file():
        return None
    return ws.offer_catalogue()


def _utc(value: Any) -> datetime:
    stamp = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _worker_name() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"
