"""Issuing a step's rewards through the rights ledger, on the caller's locked transaction.

A step's rewards are all or nothing: under a savepoint each is issued (a right: budget checked
by the ledger; points: the programme's points cap checked here), and if any cannot be covered
— the right's budget, or the programme's own CNY or points cap — everything the step issued is
rolled back and the step is recorded as *refused* with the reason. The caller holds the
programme's lock and the budget / points locks of every right and customer involved
(:func:`locks`), so the checks and the writes are one.

Each reward's ledger key is ``referral:<programme>:<referral>:<step>:<role>``: the ledger's
unique key is the last guard against paying a reward twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.campaigns.referrals.programme import Programme, Role, Step
from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.campaigns.rights.ledger import RightsLedger, budget_lock, points_lock
from lodestar.errors import BudgetExhausted
from lodestar.storage.operational_tables import referral_rewards

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Outcome:
    status: str  # issued, none, refused
    reason: str | None = None
    rewards: int = 0


def programme_lock(programme_id: str) -> str:
    return f"referrals:{programme_id}"


def locks(programme: Programme, *customers: str) -> list[str]:
    """The locks a transaction that may issue this programme's rewards takes."""
    keys = [programme_lock(programme.programme)]
    keys += [budget_lock(r) for r in programme.right_ids]
    if any(r.points for s in programme.steps for r in s.rewards):
        keys += [points_lock(c) for c in customers]
    return keys


def spent(conn: Connection, programme_id: str) -> tuple[Decimal, int]:
    """CNY committed and points granted by the programme's rewards so far."""
    cny, points = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(referral_rewards.c.cost), ZERO),
                  sa.func.coalesce(sa.func.sum(referral_rewards.c.points), 0))
        .where(referral_rewards.c.programme_id == programme_id)).one()  # fmt: skip
    return Decimal(cny).quantize(Decimal("0.01")), int(points)


def grant(conn: Connection, ledger: RightsLedger, catalogue: RightsCatalogue | None,
          programme: Programme, step: Step, *, referral_id: int, referrer_id: str,
          referee_id: str, at: datetime, actor: str) -> Outcome:  # fmt: skip
    if not step.rewards:
        return Outcome("none")
    conn.exec_driver_sql("SAVEPOINT referral_rewards")
    try:
        n = _issue_all(conn, ledger, catalogue, programme, step, referral_id, referrer_id,
                       referee_id, at, actor)  # fmt: skip
    except BudgetExhausted as exc:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT referral_rewards")
        conn.exec_driver_sql("RELEASE SAVEPOINT referral_rewards")
        return Outcome("refused", str(exc))
    conn.exec_driver_sql("RELEASE SAVEPOINT referral_rewards")
    return Outcome("issued", None, n)


def _issue_all(conn: Connection, ledger: RightsLedger, catalogue: RightsCatalogue | None,
               programme: Programme, step: Step, referral_id: int, referrer_id: str,
               referee_id: str, at: datetime, actor: str) -> int:  # fmt: skip
    pid = programme.programme
    for reward in step.rewards:
        customer = referrer_id if reward.to is Role.REFERRER else referee_id
        key = f"referral:{pid}:{referral_id}:{step.id}:{reward.to.value}"
        cny, points = spent(conn, pid)
        row = {"referral_id": referral_id, "programme_id": pid, "step_id": step.id,
               "role": reward.to.value, "customer_id": customer, "issued_at": at}  # fmt: skip
        if reward.right is not None:
            if catalogue is None:
                raise BudgetExhausted(f"step '{step.id}' rewards right '{reward.right}' but no "
                                      "rights catalogue was given; nothing was issued")  # fmt: skip
            right = catalogue.get(reward.right)
            cap = programme.budget.cny
            if cap is not None and cny + right.cost > cap:
                raise BudgetExhausted(
                    f"programme '{pid}': CNY {cny} of its budget CNY {cap} is committed; "
                    f"right '{right.id}' (CNY {right.cost}) for step '{step.id}' would exceed "
                    "it; nothing was issued for the step",
                    hint="raise budget.cny in referrals.yaml")  # fmt: skip
            issued = ledger.issue_in(conn, right, customer, key, actor=actor)
            row.update(right_id=right.id, points=None, cost=right.cost,
                       entry_id=issued.entry.entry_id, coupon_id=issued.coupon.coupon_id)  # fmt: skip
        else:
            amount = int(reward.points or 0)
            cap_points = programme.budget.points
            if cap_points is not None and points + amount > cap_points:
                raise BudgetExhausted(
                    f"programme '{pid}': {points} of its {cap_points} budget points are "
                    f"granted; {amount} more for step '{step.id}' would exceed it; nothing "
                    "was issued for the step", hint="raise budget.points in referrals.yaml")  # fmt: skip
            entry = ledger.earn_in(conn, customer, amount, f"referral:{pid}:{step.id}", key,
                                   actor=actor)  # fmt: skip
            row.update(right_id=None, points=amount, cost=ZERO, entry_id=entry.entry_id,
                       coupon_id=None)  # fmt: skip
        conn.execute(sa.insert(referral_rewards).values(**row))
    return len(step.rewards)
