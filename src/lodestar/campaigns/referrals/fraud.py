"""Anti-fraud rules, checked when a referee is attributed (inside the programme's lock, so
concurrent attributions see each other):

* ``self_referral`` — the referee is the referrer, or shares the referrer's phone, ID number
  or a device;
* ``shared_device`` / ``shared_phone`` — the referee's device (phone) already belongs to
  ``max_referees_per_device`` (``_phone``) other referees of the programme: one person
  registering friends on their own handset;
* ``velocity`` — the referrer gains more new referees than allowed in a rolling hour or day.

A hit is a rule and its evidence: digests shortened to 12 hex digits, counts and limits, never
a phone, ID number or device id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.campaigns.referrals.fingerprints import Fingerprint, short
from lodestar.campaigns.referrals.programme import FraudRules
from lodestar.storage.operational_tables import referral_fingerprints, referrals


class Rule(StrEnum):
    SELF_REFERRAL = "self_referral"
    SHARED_DEVICE = "shared_device"
    SHARED_PHONE = "shared_phone"
    VELOCITY = "velocity"


@dataclass(frozen=True)
class Hit:
    rule: Rule
    evidence: dict[str, Any]


def check(conn: Connection, programme_id: str, rules: FraudRules, referrer: Fingerprint,
          referee: Fingerprint, at: datetime) -> list[Hit]:  # fmt: skip
    """Every rule the new referral (``referrer`` -> ``referee`` at ``at``) hits."""
    hits = self_referral(referrer, referee) if rules.self_referral else []
    limits = (("device", rules.max_referees_per_device, Rule.SHARED_DEVICE),
              ("phone", rules.max_referees_per_phone, Rule.SHARED_PHONE))  # fmt: skip
    for kind, limit, rule in limits:
        if limit is None:
            continue
        for kind_, d in referee.items():
            if kind_ != kind:
                continue
            others = _referees_with(conn, programme_id, kind, d, referee.customer_id)
            if others >= limit:
                hits.append(Hit(rule, {"digest": short(d), "other_referees": others,
                                       "limit": limit}))  # fmt: skip
    for window, limit in (("hour", rules.velocity.per_hour), ("day", rules.velocity.per_day)):
        if limit is None:
            continue
        since = at - (timedelta(hours=1) if window == "hour" else timedelta(days=1))
        n = conn.execute(sa.select(sa.func.count()).select_from(referrals)
                         .where(referrals.c.programme_id == programme_id)
                         .where(referrals.c.referrer_id == referrer.customer_id)
                         .where(referrals.c.attributed_at > since)
                         .where(referrals.c.attributed_at <= at)).scalar_one()  # fmt: skip
        if int(n) + 1 > limit:
            hits.append(Hit(Rule.VELOCITY, {"window": window, "referees": int(n) + 1,
                                            "limit": limit}))  # fmt: skip
    return hits


def self_referral(referrer: Fingerprint, referee: Fingerprint) -> list[Hit]:
    if referrer.customer_id == referee.customer_id:
        return [Hit(Rule.SELF_REFERRAL, {"match": "customer"})]
    shared = [(kind, short(d)) for kind, d in referee.items()
              if (kind, d) in set(referrer.items())]  # fmt: skip
    if not shared:
        return []
    return [Hit(Rule.SELF_REFERRAL, {"match": sorted({k for k, _ in shared}),
                                     "digests": sorted(d for _, d in shared)})]  # fmt: skip


def _referees_with(conn: Connection, programme_id: str, kind: str, d: str,
                   referee_id: str) -> int:  # fmt: skip
    q = (sa.select(sa.func.count(sa.distinct(referrals.c.referee_id)))
         .select_from(referral_fingerprints.join(
             referrals, referrals.c.referral_id == referral_fingerprints.c.referral_id))
         .where(referral_fingerprints.c.programme_id == programme_id)
         .where(referral_fingerprints.c.kind == kind)
         .where(referral_fingerprints.c.digest == d)
         .where(referrals.c.referee_id != referee_id))  # fmt: skip
    return int(conn.execute(q).scalar_one())
