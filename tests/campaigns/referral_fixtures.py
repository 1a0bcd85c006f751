"""Shared pieces of the referral tests: a programme, an event builder, and an identity
lookup the tests fill by hand (phones, ID numbers, devices)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lodestar.campaigns.referrals.engine import ReferralEvent
from lodestar.campaigns.referrals.fingerprints import Fingerprint, fingerprint

PROGRAMME_TEXT = """\
programme: {pid}
name: {{zh: 测额邀请, en: Quota referral}}
attribution_window_days: 7
code: {{prefix: LQ, length: 8}}
link: https://m.bank.example/mgm?from=app
steps:
  - {{id: register, event: register}}
  - id: quota_test
    event: quota_test
    rewards: [{{to: referrer, right: cashback_20}}, {{to: referee, points: 100}}]
  - id: drawdown
    event: loan_drawdown
    where: {{property: amount, at_least: 500000}}
    rewards: [{{to: referrer, right: voucher}}]
budget: {{points: {points_budget}}}
fraud:
  max_referees_per_device: 2
  max_referees_per_phone: 1
  velocity: {{per_hour: {per_hour}, per_day: 50}}
"""

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def programme_text(pid: str = "loan_quota", *, points_budget: int = 100000,
                   per_hour: int = 3) -> str:  # fmt: skip
    return PROGRAMME_TEXT.format(pid=pid, points_budget=points_budget, per_hour=per_hour)


def ev(event_id: str, name: str, ts: datetime, customer: str | None = None,
       anon: str | None = None, **properties: Any) -> ReferralEvent:  # fmt: skip
    return ReferralEvent(event_id, name, ts, customer, anon, dict(properties))


class Identities:
    """An identity lookup filled by the test (what the workspace reads from its customers
    and identities tables)."""

    def __init__(self) -> None:
        self.people: dict[str, dict[str, Any]] = {}

    def add(self, customer_id: str, *, phone: str | None = None, id_number: str | None = None,
            devices: Sequence[str] = ()) -> None:  # fmt: skip
        self.people[customer_id] = {"phone": phone, "id_number": id_number,
                                    "devices": list(devices)}  # fmt: skip

    def __call__(self, customer_ids: Sequence[str]) -> dict[str, Fingerprint]:
        return {c: fingerprint(c, **self.people[c]) for c in customer_ids if c in self.people}
