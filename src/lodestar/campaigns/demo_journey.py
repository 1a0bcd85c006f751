"""The demo's journey campaign, end to end through gateways started locally.

Seed 004's loan journey as the issue writes it — app push, wait three days, no application ->
SMS, wait two days, no response -> voice robot call — triggered by customers viewing the loan
page, under maker-checker approval, sent by the outbox worker over real HTTP to a
:class:`~lodestar.channels.local_gateway.LocalGateway` that verifies signatures, recognises
repeated idempotency keys and reports receipts as signed webhooks, which go through the webhook
route's own verification into the store. Consent, the do-not-contact list, caps and quiet hours
are checked at send time as for any campaign.

Six days pass on a simulated clock (each morning at ten, Beijing time), and the customers'
behaviour is simulated: whether a message is delivered, opened, clicked or answered, and
whether a customer then starts an application (the goal, which ends their journey and withdraws
anything still waiting). The rates are plain constants below, fixed per customer by a hash so
a rerun tells the same story. What the campaign monitor shows afterwards — the per-step funnel,
the journeys' outcomes, the cost against the budget — is computed from the store, as in
production.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CAMPAIGN = "CMP_DEMO_JOURNEY"
DEFINITION = f"""\
campaign: {CAMPAIGN}
name: 消费贷申请唤醒旅程
name_en: Consumer-loan application nudge
description: seed 004 — push, 3 days, SMS, 2 days, voice robot
schedule: {{event: loan_page_view, reentry: once}}
goal: {{event: apply_start, window_days: 14}}
journey:
  - send: {{channel: app_push, offer: LOAN_RATE_DISCOUNT}}
  - wait: {{days: 3, until_event: apply_start}}
  - branch:
      if_event: apply_start
      then: [{{exit: {{goal: true}}}}]
  - send: {{channel: sms, offer: LOAN_RATE_DISCOUNT}}
  - wait: {{days: 2}}
  - branch:
      if_responded: false
      then: [{{send: {{channel: voice_robot, offer: LOAN_RATE_DISCOUNT}}}}]
"""
CHANNELS = ("app_push", "sms", "voice_robot")
#: per channel: P(delivered), P(opened | delivered), P(clicked or replied | delivered)
RATES = {"app_push": (0.95, 0.30, 0.08), "sms": (0.97, 0.0, 0.05), "voice_robot": (0.60, 0.0, 0.18)}
#: P(apply_start the same day | clicked or replied), and per day without a response
CONVERT_AFTER_RESPONSE, CONVERT_BASELINE = 0.35, 0.01
DAYS = 6
MAKER, CHECKER = ("demo.maker", "marketer"), ("demo.checker", "approver")


def _u(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class _Customers:
    """How the demo's customers answer messages (the gateway's receipts) and when they apply."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.responded: set[str] = set()

    def respond(self, channel: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        key, customer = str(message["idempotency_key"]), str(message["customer_id"])
        delivered, opened, acted = RATES.get(channel, (0.95, 0.0, 0.0))
        at = self.now
        if _u(key, "delivered") >= delivered:
            return [{"status": "failed", "at": at.isoformat(),
                     "reason": "unreachable" if channel == "voice_robot" else "undeliverable"}]  # fmt: skip
        events = [{"status": "delivered", "at": (at + timedelta(seconds=5)).isoformat()}]
        if _u(key, "opened") < opened:
            events.append({"status": "opened", "at": (at + timedelta(minutes=20)).isoformat()})
        if _u(key, "acted") < acted:
            status = "replied" if channel == "voice_robot" else "clicked"
            events.append({"status": status, "at": (at + timedelta(minutes=30)).isoformat()})
            self.responded.add(customer)
        return events


def run_demo_journey(ws: Any, *, triggers: int = 2000) -> dict[str, Any] | None:
    """Run the journey campaign once in this workspace; returns its status (what
    ``lodestar campaign status`` shows), or the status of the earlier run when there was one."""
    from lodestar.campaigns.definition import CampaignDefinition
    from lodestar.campaigns.delivery import record_events
    from lodestar.campaigns.lifecycle import Actor
    from lodestar.channels.http_gateway import HttpGatewayChannel
    from lodestar.channels.local_gateway import LocalGateway
    from lodestar.channels.webhooks import receive_webhook
    from lodestar.errors import NotFound

    campaigns = ws.campaigns
    try:
        campaigns.get(CAMPAIGN)
        return dict(ws.campaign_status(CAMPAIGN))  # ran before in this workspace
    except NotFound:
        pass
    maker, checker = Actor(*MAKER), Actor(*CHECKER)
    campaigns.save(CampaignDefinition.from_text(DEFINITION, "demo journey"), maker)
    campaigns.act(CAMPAIGN, "submit", maker)
    campaigns.act(CAMPAIGN, "approve", checker, comment="demo: checked by a second person")
    campaigns.act(CAMPAIGN, "start", maker)

    people = _Customers()
    secrets = {c: hashlib.sha256(f"demo-secret-{c}".encode()).hexdigest() for c in CHANNELS}

    def receipts(channel: str, headers: Any, body: bytes) -> None:
        # the webhook route's own path: signature, timestamp, parsing, stored once
        record_events(ws.ops, receive_webhook(channel, secrets[channel], headers, body))

    # the first morning at ten, Beijing time, after now
    zone = ZoneInfo("Asia/Shanghai")
    local = datetime.now(zone)
    day0 = local.replace(hour=10, minute=0, second=0, microsecond=0)
    if day0 <= local:
        day0 += timedelta(days=1)
    who = _trigger_customers(ws, triggers)
    with LocalGateway(secrets, respond=people.respond, on_receipts=receipts) as gateway:
        channels = {c: HttpGatewayChannel(c, gateway.url(c), secret=secrets[c]) for c in CHANNELS}
        try:
            ws.run_journeys(now=day0 - timedelta(minutes=10))  # arms the trigger
            ws.post_events([{"event_id": f"demo-view-{c}", "customer_id": c,
                             "event_name": "loan_page_view", "platform": "app",
                             "ts": (day0 - timedelta(minutes=5)).isoformat()} for c in who])  # fmt: skip
            converted: set[str] = set()
            for day in range(DAYS + 1):
                now = (day0 + timedelta(days=day)).astimezone(UTC)
                people.now = now
                ws.run_journeys(now=now)
                ws.run_sends(channels=channels, now=now)
                gateway.drain()
                converted |= _applications(ws, people, who, converted, now, day)
            ws.run_journeys(now=day0 + timedelta(days=DAYS, hours=1))
            campaigns.act(CAMPAIGN, "complete", Actor("scheduler", "system"),
                          comment="demo: the journey's last step is done")  # fmt: skip
        finally:
            for channel in channels.values():
                channel.close()
    return dict(ws.campaign_status(CAMPAIGN))


def _trigger_customers(ws: Any, n: int) -> list[str]:
    """Active customers who view the loan page on day 0 (a stable pseudo-random sample)."""
    rows = ws.query("SELECT customer_id FROM customers WHERE status = 'active' "
                    "ORDER BY hash(customer_id || 'loan_page_view') LIMIT ?", [n]).to_pylist()  # fmt: skip
    return [str(r["customer_id"]) for r in rows]


def _applications(ws: Any, people: _Customers, who: list[str], converted: set[str],
                  now: datetime, day: int) -> set[str]:  # fmt: skip
    """Customers who start an application today: most after responding, a few regardless."""
    started = [c for c in who if c not in converted and (
        (c in people.responded and _u(c, "apply", str(day)) < CONVERT_AFTER_RESPONSE)
        or _u(c, "baseline", str(day)) < CONVERT_BASELINE)]  # fmt: skip
    people.responded.clear()
    if started:
        at = (now + timedelta(hours=3)).isoformat()
        ws.post_events([{"event_id": f"demo-apply-{c}", "customer_id": c,
                         "event_name": "apply_start", "platform": "app", "ts": at}
                        for c in started])  # fmt: skip
    return set(started)
