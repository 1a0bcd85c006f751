"""A plan's contacts checked again against the contact policy, as things are now.

Between a plan and its sends, a customer may withdraw a consent, join the do-not-contact list,
complain, or be contacted by another campaign. :func:`recheck` evaluates the policy for every
planned contact at its own send time (or ``at``, if later), reading consents and the
do-not-contact list from the **operational store** — the copy that is exact at every moment —
and says which contacts may still go and why the others may not. The outbox (campaign
execution) calls it before sending; ``lodestar plans ID --recheck`` shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from lodestar.decisioning.policy_batch import evaluate
from lodestar.decisioning.policy_rules import ContactPolicy
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import consents


def operational_consents(store: OperationalStore, customer_ids: list[str]) -> pd.DataFrame:
    """The consent records of ``customer_ids`` as the operational store has them now."""
    columns = ["customer_id", "channel", "purpose", "granted", "ts", "withdrawn_at"]
    parts = []
    with store.engine.connect() as conn:
        for start in range(0, len(customer_ids), 10_000):  # bounded IN lists
            chunk = customer_ids[start : start + 10_000]
            query = sa.select(*[consents.c[c] for c in columns])
            rows = conn.execute(query.where(consents.c.customer_id.in_(chunk))).all()
            parts.append(pd.DataFrame(rows, columns=columns))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    for name in ("ts", "withdrawn_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def recheck(
    rows: pd.DataFrame,
    policy: ContactPolicy,
    customers: pd.DataFrame,
    *,
    purpose: str,
    consents_now: pd.DataFrame,
    do_not_contact: pd.DataFrame,
    history: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    at: datetime | None = None,
) -> pd.DataFrame:
    """``rows`` (a plan's, with ``customer_id``, ``channel``, ``send_at``, ``contact``) with
    ``still_allowed`` and ``reason`` for each contact (holdout rows are left out: they are never
    sent). Contacts are grouped by send time, so each is judged at its own hour."""
    now = at or datetime.now(UTC)
    planned = rows[rows["contact"]].copy()
    planned["still_allowed"] = False
    planned["reason"] = None
    sends = pd.to_datetime(planned["send_at"], utc=True)
    for when, idx in planned.groupby(sends).groups.items():
        moment = max(pd.Timestamp(str(when)).to_pydatetime(), now)
        part = planned.loc[idx]
        people = customers[customers["customer_id"].isin(part["customer_id"])]
        for channel, group in part.groupby("channel"):
            decision = evaluate(policy, people[people["customer_id"].isin(group["customer_id"])],
                                [str(channel)], purpose, moment, history=history,
                                consents=consents_now, do_not_contact=do_not_contact,
                                complaints=complaints).frame  # fmt: skip
            verdict = decision.set_index("customer_id")
            ids = group["customer_id"].astype(str).to_numpy()
            planned.loc[group.index, "still_allowed"] = verdict["allowed"].reindex(ids).fillna(
                False).to_numpy(dtype=bool)  # fmt: skip
            reasons = verdict["reason"].astype(object).reindex(ids)
            planned.loc[group.index, "reason"] = reasons.where(reasons.notna(), None).to_numpy()
    return planned
