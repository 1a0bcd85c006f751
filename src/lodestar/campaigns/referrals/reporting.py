"""Referral reporting: the funnel (codes issued -> touches -> each step, with the conversion
from the row before), the leaderboard of referrers, and rewards and cost against budget.

Counts come from SQL aggregates; referrals confirmed as fraud count in the funnel (they did
happen) but not on the leaderboard. Referrers appear by customer id, and with a masked name
when the caller passes names.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from lodestar.campaigns.referrals.engine import ELIGIBLE, ReferralEngine
from lodestar.campaigns.referrals.rewards import spent
from lodestar.data.pii import mask
from lodestar.data.schema import Pii
from lodestar.storage.operational_tables import (
    referral_codes,
    referral_rewards,
    referral_steps,
    referral_touches,
    referrals,
)


@dataclass(frozen=True)
class FunnelRow:
    stage: str
    count: int
    #: share of the row before (None for the first row, or when the row before is 0)
    rate: float | None


def funnel(engine: ReferralEngine) -> list[FunnelRow]:
    """codes issued -> touches (clicks and codes typed) -> attributed referees -> each step."""
    pid = engine.pid
    with engine.store.engine.connect() as conn:
        def count(q: Any) -> int:
            return int(conn.execute(q).scalar_one())

        counts = [
            ("codes", count(sa.select(sa.func.count()).select_from(referral_codes)
                            .where(referral_codes.c.programme_id == pid))),
            ("touches", count(sa.select(sa.func.count()).select_from(referral_touches)
                              .where(referral_touches.c.programme_id == pid))),
            ("attributed", count(sa.select(sa.func.count()).select_from(referrals)
                                 .where(referrals.c.programme_id == pid))),
        ]  # fmt: skip
        reached: dict[str, int] = dict(conn.execute(
            sa.select(referral_steps.c.step_id, sa.func.count())
            .join(referrals, referrals.c.referral_id == referral_steps.c.referral_id)
            .where(referrals.c.programme_id == pid)
            .group_by(referral_steps.c.step_id)).all())  # fmt: skip
    counts += [(s.id, int(reached.get(s.id, 0))) for s in engine.programme.steps]
    rows: list[FunnelRow] = []
    for i, (stage, n) in enumerate(counts):
        before = counts[i - 1][1] if i else 0
        rows.append(FunnelRow(stage, n, n / before if i and before else None))
    return rows


def leaderboard(engine: ReferralEngine, *, top: int = 20,
                names: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Top referrers by completed referrals (reached the last step, not fraud), then by
    rewards earned (CNY cost of rights, points), then id. ``names``: customer id -> name,
    shown masked (张**)."""
    pid = engine.pid
    last = engine.programme.steps[-1].id
    completed = (sa.select(referrals.c.referrer_id.label("rid"),
                           sa.func.count().label("n"))
                 .join(referral_steps, referral_steps.c.referral_id == referrals.c.referral_id)
                 .where(referrals.c.programme_id == pid)
                 .where(referrals.c.status.in_(ELIGIBLE))
                 .where(referral_steps.c.step_id == last)
                 .group_by(referrals.c.referrer_id))  # fmt: skip
    attributed = (sa.select(referrals.c.referrer_id.label("rid"), sa.func.count().label("n"),
                            sa.func.sum(sa.case((referrals.c.status == "flagged", 1),
                                                else_=0)).label("flagged"))
                  .where(referrals.c.programme_id == pid)
                  .where(referrals.c.status != "fraud")
                  .group_by(referrals.c.referrer_id))  # fmt: skip
    earned = (sa.select(referral_rewards.c.customer_id.label("rid"),
                        sa.func.coalesce(sa.func.sum(referral_rewards.c.cost), 0).label("cny"),
                        sa.func.coalesce(sa.func.sum(referral_rewards.c.points), 0)
                        .label("points"))
              .where(referral_rewards.c.programme_id == pid)
              .where(referral_rewards.c.role == "referrer")
              .group_by(referral_rewards.c.customer_id))  # fmt: skip
    with engine.store.engine.connect() as conn:
        done = {r: int(n) for r, n in conn.execute(completed).all()}
        made = {r: (int(n), int(f or 0)) for r, n, f in conn.execute(attributed).all()}
        paid = {r: (Decimal(c or 0), int(p or 0)) for r, c, p in conn.execute(earned).all()}
    rows = []
    for rid in set(made) | set(done) | set(paid):
        cny, points = paid.get(rid, (Decimal("0"), 0))
        rows.append({"referrer_id": rid,
                     "name": mask(names.get(rid), Pii.NAME) if names else None,
                     "referees": made.get(rid, (0, 0))[0], "flagged": made.get(rid, (0, 0))[1],
                     "completed": done.get(rid, 0),
                     "reward_cny": cny.quantize(Decimal("0.01")), "reward_points": points})  # fmt: skip
    rows.sort(key=lambda r: (-r["completed"], -r["reward_cny"], -r["reward_points"],
                             r["referrer_id"]))  # fmt: skip
    return rows[:top]


def costs(engine: ReferralEngine) -> dict[str, Any]:
    """Rewards issued, refused and withheld; CNY committed and points granted against the
    programme's caps; each rewarded right's budget left in the rights ledger."""
    pid = engine.pid
    with engine.store.engine.connect() as conn:
        cny, points = spent(conn, pid)
        by_status: dict[str, int] = dict(conn.execute(
            sa.select(referral_steps.c.reward_status, sa.func.count())
            .join(referrals, referrals.c.referral_id == referral_steps.c.referral_id)
            .where(referrals.c.programme_id == pid)
            .group_by(referral_steps.c.reward_status)).all())  # fmt: skip
        by_right = {r: (int(n), Decimal(c or 0)) for r, n, c in conn.execute(
            sa.select(referral_rewards.c.right_id, sa.func.count(),
                      sa.func.sum(referral_rewards.c.cost))
            .where(referral_rewards.c.programme_id == pid)
            .where(referral_rewards.c.right_id.is_not(None))
            .group_by(referral_rewards.c.right_id)).all()}  # fmt: skip
        n_rewards = int(conn.execute(sa.select(sa.func.count()).select_from(referral_rewards)
                                     .where(referral_rewards.c.programme_id == pid))
                        .scalar_one())  # fmt: skip
    budget = engine.programme.budget
    rights = []
    for right_id in engine.programme.right_ids:
        n, c = by_right.get(right_id, (0, Decimal("0")))
        rights.append({"right_id": right_id, "issued": n, "cost": c.quantize(Decimal("0.01")),
                       "budget_left": engine.ledger.budget_left(right_id)})  # fmt: skip
    return {"programme": pid, "rewards": n_rewards,
            "steps": {k: int(v) for k, v in by_status.items()},
            "cny": cny, "cny_budget": budget.cny,
            "cny_left": None if budget.cny is None else budget.cny - cny,
            "points": points, "points_budget": budget.points,
            "points_left": None if budget.points is None else budget.points - points,
            "rights": rights}  # fmt: skip
