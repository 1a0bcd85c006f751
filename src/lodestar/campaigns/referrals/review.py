"""Review of flagged referrals: list what the fraud rules caught, then clear (the referral
earns again, and the rewards withheld for the steps it already reached are issued now) or
confirm (it stays without rewards for good; withheld rewards are forfeited). Every decision
names the reviewer and is audited."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from lodestar.campaigns.referrals import rewards
from lodestar.campaigns.referrals.engine import ReferralEngine, referral_from
from lodestar.errors import CampaignError, NotFound
from lodestar.storage.operational_tables import referral_flags, referral_steps, referrals


class Decision(StrEnum):
    CLEAR = "clear"
    CONFIRM = "confirm"


def flags(engine: ReferralEngine, *, open_only: bool = True) -> list[dict[str, Any]]:
    """Flags of the programme's referrals with their evidence (no personal data), oldest
    first; ``open_only``: those still waiting for a review."""
    q = (sa.select(referral_flags, referrals.c.referee_id, referrals.c.referrer_id,
                   referrals.c.status)
         .join(referrals, referrals.c.referral_id == referral_flags.c.referral_id)
         .where(referrals.c.programme_id == engine.pid)
         .order_by(referral_flags.c.flag_id))  # fmt: skip
    if open_only:
        q = q.where(referral_flags.c.review == "open")
    with engine.store.engine.connect() as conn:
        return [{**dict(r), "evidence": json.loads(r["evidence"])}
                for r in conn.execute(q).mappings()]  # fmt: skip


def review(engine: ReferralEngine, referral_id: int, decision: Decision | str, *,
           reviewer: str, note: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Clear or confirm a flagged referral; returns its new status and what was issued."""
    decision = Decision(decision)
    with engine.store.engine.connect() as conn:
        row = conn.execute(sa.select(referrals)
                           .where(referrals.c.referral_id == referral_id)
                           .where(referrals.c.programme_id == engine.pid)).mappings().first()  # fmt: skip
    if row is None:
        raise NotFound(f"no referral {referral_id} in programme '{engine.pid}'",
                       hint="lodestar referral review lists the flagged referrals")  # fmt: skip
    first = referral_from(row)
    issued = refused = 0
    with engine.store.locked(*rewards.locks(engine.programme, first.referee_id,
                                            first.referrer_id)) as conn:  # fmt: skip
        current = referral_from(conn.execute(sa.select(referrals).where(
            referrals.c.referral_id == referral_id)).mappings().one())  # fmt: skip
        if current.status != "flagged":
            raise CampaignError(f"referral {referral_id} is {current.status}, not flagged; "
                                "only a flagged referral is reviewed")  # fmt: skip
        now = engine.clock()
        conn.execute(sa.update(referral_flags)
                     .where(referral_flags.c.referral_id == referral_id)
                     .where(referral_flags.c.review == "open")
                     .values(review="cleared" if decision is Decision.CLEAR else "confirmed",
                             reviewer=reviewer, reviewed_at=now, note=note))  # fmt: skip
        status = "cleared" if decision is Decision.CLEAR else "fraud"
        conn.execute(sa.update(referrals).where(referrals.c.referral_id == referral_id)
                     .values(status=status))  # fmt: skip
        withheld = set(conn.execute(sa.select(referral_steps.c.step_id)
                                    .where(referral_steps.c.referral_id == referral_id)
                                    .where(referral_steps.c.reward_status == "withheld"))
                       .scalars())  # fmt: skip
        for step in engine.programme.steps:  # in the programme's order
            if step.id not in withheld:
                continue
            if decision is Decision.CLEAR:
                outcome = rewards.grant(conn, engine.ledger, engine.catalogue, engine.programme,
                                        step, referral_id=referral_id,
                                        referrer_id=current.referrer_id,
                                        referee_id=current.referee_id, at=now,
                                        actor=reviewer)  # fmt: skip
                values = {"reward_status": outcome.status, "reason": outcome.reason}
                issued += int(outcome.status == "issued")
                refused += int(outcome.status == "refused")
            else:
                values = {"reward_status": "forfeited", "reason": "fraud confirmed"}
            conn.execute(sa.update(referral_steps)
                         .where(referral_steps.c.referral_id == referral_id)
                         .where(referral_steps.c.step_id == step.id).values(**values))  # fmt: skip
        engine.store.audit(conn, actor=reviewer, action=f"referral.{decision.value}",
                           entity="referral", entity_id=str(referral_id),
                           before={"status": "flagged"},
                           after={"status": status, "steps_issued": issued})  # fmt: skip
    return {"referral_id": referral_id, "status": status, "steps_issued": issued,
            "steps_refused": refused}  # fmt: skip
