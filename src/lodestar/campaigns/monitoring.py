"""Live counts for a running campaign: per journey step, per journey outcome, and spend.

All counts come from the operational store as it is now (the outbox, the gateways' receipts,
the journey entries), so they move while the campaign runs: ``lodestar campaign status``,
``GET /v1/campaigns/{id}/status`` and the report's campaign funnel read the same figures.

A message counts once per receipt status however often the gateway reported it. The step of a
journey send is its label (``3t1@42`` is step ``3t1`` of entry 42); a plan sent by hand has
the step it was enqueued as.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import delivery_events, journey_entries, outbox

#: the order a campaign funnel reads in
FUNNEL = ("queued", "sent", "delivered", "opened", "clicked", "replied", "converted")
RECEIPTS = ("delivered", "opened", "clicked", "replied", "failed")


def step_of(step: str) -> str:
    return step.partition("@")[0]


def step_funnel(store: OperationalStore, campaign_id: str) -> list[dict[str, Any]]:
    """Per step (and channel): queued, pending, sent, skipped, dead and the receipts."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def bucket(step: str, channel: str) -> dict[str, Any]:
        key = (step_of(step), channel)
        if key not in rows:
            rows[key] = {"step": key[0], "channel": channel, "queued": 0, "pending": 0,
                         "claimed": 0, "sent": 0, "skipped": 0, "dead": 0,
                         **{r: 0 for r in RECEIPTS}}  # fmt: skip
        return rows[key]

    by_status = (sa.select(outbox.c.step, outbox.c.channel, outbox.c.status, sa.func.count())
                 .where(outbox.c.campaign_id == campaign_id)
                 .group_by(outbox.c.step, outbox.c.channel, outbox.c.status))  # fmt: skip
    by_key = sa.and_(delivery_events.c.idempotency_key.is_not(None),
                     delivery_events.c.idempotency_key == outbox.c.idempotency_key)  # fmt: skip
    by_id = sa.and_(delivery_events.c.provider_message_id.is_not(None),
                    delivery_events.c.provider_message_id == outbox.c.provider_message_id)  # fmt: skip
    receipts = (sa.select(outbox.c.step, outbox.c.channel, delivery_events.c.status,
                          sa.func.count(sa.distinct(outbox.c.id)))
                .select_from(outbox.join(delivery_events, sa.or_(by_key, by_id)))
                .where(outbox.c.campaign_id == campaign_id)
                .group_by(outbox.c.step, outbox.c.channel, delivery_events.c.status))  # fmt: skip
    with store.engine.connect() as conn:
        for step, channel, status, n in conn.execute(by_status):
            b = bucket(step, channel)
            b["queued"] += int(n)
            b[str(status)] = b.get(str(status), 0) + int(n)
        for step, channel, status, n in conn.execute(receipts):
            b = bucket(step, channel)
            b[str(status)] = b.get(str(status), 0) + int(n)
    return sorted(rows.values(), key=lambda r: (_order(r["step"]), r["channel"]))


def journey_counts(store: OperationalStore, campaign_id: str) -> dict[str, int]:
    """Journey entries: entered, active, and how the others left (``goal`` = converted)."""
    q = (sa.select(journey_entries.c.status, journey_entries.c.exit_reason, sa.func.count())
         .where(journey_entries.c.campaign_id == campaign_id)
         .group_by(journey_entries.c.status, journey_entries.c.exit_reason))  # fmt: skip
    out: dict[str, int] = defaultdict(int)
    with store.engine.connect() as conn:
        for status, reason, n in conn.execute(q):
            out["entered"] += int(n)
            out[str(reason) if status == "done" else "active"] += int(n)
    return dict(out)


def conversions(store: OperationalStore, campaign_id: str, goal_event: str | None,
                window_days: int) -> int:  # fmt: skip
    """Customers who entered the journey and did the goal event within the attribution window
    of their entry — whether that ended their journey or came after its last step."""
    if not goal_event:
        return 0
    from datetime import timedelta

    from lodestar.storage.operational_tables import event_feed

    q = (sa.select(journey_entries.c.customer_id, journey_entries.c.entered_at, event_feed.c.ts)
         .select_from(journey_entries.join(
             event_feed, event_feed.c.customer_id == journey_entries.c.customer_id))
         .where((journey_entries.c.campaign_id == campaign_id)
                & (event_feed.c.event_name == goal_event)
                & (event_feed.c.ts >= journey_entries.c.entered_at)))  # fmt: skip
    window = timedelta(days=window_days)
    with store.engine.connect() as conn:
        return len({c for c, entered, ts in conn.execute(q) if ts - entered < window})


def funnel(status: dict[str, Any]) -> list[tuple[str, int]]:
    """The campaign funnel of a :meth:`Workspace.campaign_status` answer: messages queued,
    sent, delivered, opened, clicked, replied, then customers converted (the goal event within
    the attribution window of entering)."""
    steps = status.get("steps", [])
    totals = {name: sum(int(s.get(name, 0)) for s in steps) for name in FUNNEL[:-1]}
    totals["converted"] = int(status.get("converted", status.get("journeys", {}).get("goal", 0)))
    return [(name, totals[name]) for name in FUNNEL]


def spend_so_far(store: OperationalStore, campaign_id: str, catalogue: Any,
                 budget: float | None) -> dict[str, Any]:  # fmt: skip
    """The contact cost of the messages sent so far (the offer's cost per contact on the
    channel; ``catalogue`` None when the workspace has none), against the plan's budget. A message with no offer, or an offer without that
    channel, is counted as unpriced rather than guessed."""
    q = (sa.select(outbox.c.offer_id, outbox.c.channel, sa.func.count())
         .where((outbox.c.campaign_id == campaign_id) & (outbox.c.status == "sent"))
         .group_by(outbox.c.offer_id, outbox.c.channel))  # fmt: skip
    spent, unpriced = 0.0, 0
    ids = set(catalogue.ids()) if catalogue is not None else set()
    with store.engine.connect() as conn:
        for offer_id, channel, n in conn.execute(q):
            offer = catalogue.get(offer_id) if offer_id in ids else None
            if offer is None or channel not in offer.channels:
                unpriced += int(n)
                continue
            spent += offer.channels[channel].cost * int(n)
    return {"spent": round(spent, 2), "budget": budget, "unpriced_messages": unpriced,
            "remaining": None if budget is None else round(budget - spent, 2),
            "used_share": None if not budget else round(spent / budget, 4)}  # fmt: skip


def _order(step: str) -> tuple[Any, ...]:
    """'2' < '3' < '3t1' < '3o1' < '10' (numbers as numbers)."""
    import re

    return tuple(int(p) if p.isdigit() else (0 if p == "t" else 1)
                 for p in re.findall(r"\d+|[a-z]", step))  # fmt: skip
