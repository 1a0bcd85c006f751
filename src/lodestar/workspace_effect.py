"""The campaign-effect part of the :class:`~lodestar.workspace.Workspace` facade: a campaign's
incremental effect against the holdout of its plan, its goals' targets against the measured
lifts, and its rounds (plans over time) one after the other (see ``docs/experiments.md``).

Kept apart from ``workspace.py`` so each file stays readable; :class:`Workspace` inherits it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lodestar.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from lodestar.campaigns.definition import Goal
    from lodestar.campaigns.effect_data import Terms
    from lodestar.decisioning.plan_store import SavedPlan
    from lodestar.experiments.campaign_effect import CampaignEffect
    from lodestar.experiments.goal_tracking import TargetResult
    from lodestar.experiments.rounds import Round


@dataclass(frozen=True)
class EffectResult:
    """What ``lodestar campaign effect`` shows: the measurement, the goals' verdicts, the
    rounds, and what it was measured on."""

    campaign_id: str
    plan_id: str
    window_days: int
    event: str | None
    #: the attribution window of the last customer is still open: figures can still move
    window_open: bool
    effect: CampaignEffect
    targets: list[TargetResult] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from lodestar.experiments.campaign_effect import _plain

        return _plain({
            "campaign_id": self.campaign_id, "plan_id": self.plan_id,
            "window_days": self.window_days,
            "conversion": self.event or "product take-up", "window_open": self.window_open,
            **self.effect.as_dict(),
            "targets": [t.as_dict() for t in self.targets],
            "rounds": [r.as_dict() for r in self.rounds],
            "cumulative": self.effect.cumulative(self.window_days), "notes": self.notes,
        })  # fmt: skip


class EffectMixin:
    root: Path
    ops: Any
    query: Any

    def campaign_effect(self, campaign_id: str, *, plan_id: str | None = None,
                        window_days: int | None = None, alpha: float = 0.05,
                        with_rounds: bool = True, now: datetime | None = None) -> EffectResult:  # fmt: skip
        """The incremental effect of ``campaign_id``'s plan (default: its latest) against the
        plan's holdout, inside the goal's attribution window (or ``window_days``)."""
        from lodestar.experiments.goal_tracking import track
        from lodestar.experiments.rounds import rounds

        goal = self._campaign_goal(campaign_id)
        plans = self._campaign_plans(campaign_id)
        saved = next((p for p in plans if p.plan_id == plan_id), None) if plan_id else plans[-1]
        if saved is None:
            raise NotFound(f"no plan '{plan_id}' for campaign {campaign_id}",
                           hint="its plans: " + ", ".join(p.plan_id for p in plans))  # fmt: skip
        window = window_days or goal.window_days
        columns, events = _target_columns(goal)
        notes: list[str] = []
        effect, last_start = self._measure(campaign_id, saved, goal, window, events, alpha,
                                           notes)  # fmt: skip
        targets = track(goal.targets, effect.overall, goal.event, columns)
        history = []
        if with_rounds:
            for p in plans:
                measured = effect if p.plan_id == saved.plan_id else self._measure(
                    campaign_id, p, goal, window, (), alpha, [])[0]  # fmt: skip
                history.append((p.plan_id, measured.overall))
        open_ = last_start is not None and (now or datetime.now(UTC)) < last_start + timedelta(
            days=window)  # fmt: skip
        return EffectResult(campaign_id, saved.plan_id, window, goal.event, open_, effect,
                            targets, rounds(history, alpha=alpha), notes)  # fmt: skip

    def past_campaign_effect(self, campaign_id: str, *,
                             alpha: float = 0.05) -> tuple[CampaignEffect, float | None]:  # fmt: skip
        """The incremental effect of a past randomised campaign (``campaign_contacts``) with
        the same statistics, and — for the synthetic bank, which knows it — the true
        incremental conversions of its treated customers (the sum of their true uplifts from
        ``campaign_truth``; ``None`` elsewhere)."""
        from lodestar.campaigns.effect_data import contacts_exposure_sql
        from lodestar.experiments.campaign_effect import (
            cell_statistics,
            daily_conversions,
            measure,
        )

        sql = contacts_exposure_sql(campaign_id)
        cells = cell_statistics(self._rows, sql)
        if not cells:
            raise NotFound(f"no contacts of campaign '{campaign_id}' in campaign_contacts")
        effect = measure(cells, daily_conversions(self._rows, sql), alpha=alpha)
        truth = self._rows(
            "SELECT sum(t.uplift) FROM campaign_contacts c JOIN campaign_truth t "
            "ON t.campaign_id = c.campaign_id AND t.customer_id = c.customer_id "
            "AND t.treatment = c.treatment WHERE c.arm <> 'control' AND c.campaign_id = "
            "'" + campaign_id.replace("'", "''") + "'")  # fmt: skip
        true = truth[0][0] if truth else None
        return effect, None if true is None else float(true)

    def past_effect_result(self, campaign_id: str, effect: CampaignEffect) -> EffectResult:
        """A past campaign's effect in the shape the report draws: conversions as its source
        recorded them (take-up), the window as long as its latest recorded conversion."""
        last = max((d for by in effect.daily.values() for d in by), default=29)
        return EffectResult(campaign_id, "campaign_contacts", last + 1, None, False, effect)

    def demo_effect(self) -> tuple[str, CampaignEffect, float | None] | None:
        """The demo's campaign effect: the past cross-sell campaign with the most customers,
        measured against its holdout (``None`` when there is none)."""
        rows = self._rows("SELECT campaign_id, count(*) AS n FROM campaign_contacts "
                          "GROUP BY 1 HAVING count(DISTINCT arm) = 2 ORDER BY 2 DESC, 1 LIMIT 1")  # fmt: skip
        if not rows:
            return None
        campaign = str(rows[0][0])
        effect, true = self.past_campaign_effect(campaign)
        return campaign, effect, true

    # -- internals ----------------------------------------------------------------------------
    def _campaign_goal(self, campaign_id: str) -> Goal:
        """The campaign's goal from its definition; a campaign known only by its plans (made
        with ``lodestar plan``, never saved as a campaign) is judged on product take-up."""
        from lodestar.campaigns.definition import Goal
        from lodestar.campaigns.lifecycle import Campaigns

        try:
            return Campaigns(self.ops).definition(campaign_id).goal
        except NotFound:
            self._campaign_plans(campaign_id)  # NotFound when there is no plan either
            return Goal()

    def _campaign_plans(self, campaign_id: str) -> list[SavedPlan]:
        plans = [p for p in self.plans() if p.plan_id.rsplit("-v", 1)[0] == campaign_id]  # type: ignore[attr-defined]
        if not plans:
            raise NotFound(f"no campaign '{campaign_id}' with a plan",
                           hint="make its plan with lodestar plan CAMPAIGN.yaml; the holdout "
                                "of the plan is what the effect is measured against")  # fmt: skip
        return sorted(plans, key=lambda p: int(p.plan_id.rsplit("-v", 1)[1]))

    def _measure(self, campaign_id: str, saved: SavedPlan, goal: Goal, window: int,
                 events: Sequence[str], alpha: float,
                 notes: list[str]) -> tuple[CampaignEffect, datetime | None]:  # fmt: skip
        import pyarrow.parquet as pq

        from lodestar.campaigns.effect_data import exposure_sql
        from lodestar.experiments.campaign_effect import (
            METRICS,
            cell_statistics,
            daily_conversions,
            measure,
        )

        plan_file = saved.path / "plan.parquet"
        plan = pq.read_table(plan_file, columns=None)
        columns = set(plan.column_names)
        missing = sorted({"customer_id", "arm", "offer_id", "product_id", "channel",
                          "send_at"} - columns)  # fmt: skip
        if missing:
            raise ConfigError(f"plan {saved.plan_id} has no {', '.join(missing)} column(s): it "
                              "was made by an older Lodestar",
                              hint="make the plan again with lodestar plan")  # fmt: skip
        pairs = sorted({(str(o), str(c)) for o, c in zip(plan.column("offer_id").to_pylist(),
                                                         plan.column("channel").to_pylist(),
                                                         strict=True)})  # fmt: skip
        terms = self._terms(pairs, notes)
        segment: Any = "plan" if "segment" in columns else (
            "profile" if self._has_value_tiers() else None)  # fmt: skip
        starts = plan.column("send_at").to_pylist() if "send_at" in columns else []
        last = max((s for s in starts if s is not None), default=None)
        last_start = last.replace(tzinfo=UTC) if last is not None and last.tzinfo is None else last
        with tempfile.TemporaryDirectory(prefix="lodestar-effect-") as tmp:
            sends = self._sends_file(campaign_id, Path(tmp) / "sends.parquet")
            sql = exposure_sql(plan_file, terms, window_days=window, event=goal.event,
                               target_events=events, sends=sends, value=goal.value,
                               segment=segment)  # fmt: skip
            metrics = [*METRICS, *(f"target_{i}" for i in range(len(events)))]
            cells = cell_statistics(self._rows, sql, metrics)
            daily = daily_conversions(self._rows, sql)
        return measure(cells, daily, alpha=alpha), last_start

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.query(sql)
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))

    def _terms(self, pairs: Sequence[tuple[str, str]], notes: list[str]) -> list[Terms]:
        """Each planned offer x channel's contact cost, offer cost and value, from the offer
        catalogue; without one, zero (and a note saying the money cannot be read)."""
        from lodestar.campaigns.effect_data import Terms
        from lodestar.workspace_decisioning import OFFERS_FILE

        if not (self.root / OFFERS_FILE).is_file():
            notes.append("no offer catalogue: costs and conversion values are taken as 0")
            return []
        catalogue = self.offer_catalogue()  # type: ignore[attr-defined]  # a bad one says so
        out = []
        for offer_id, channel in pairs:
            try:
                offer = catalogue.get(offer_id)
            except (ConfigError, NotFound, KeyError):
                notes.append(f"offer {offer_id} is no longer in the catalogue: its costs and "
                             "value are taken as 0")  # fmt: skip
                continue
            terms = offer.channels.get(channel)
            out.append(Terms(offer_id, channel, terms.cost if terms else 0.0, offer.offer_cost,
                             offer.value))  # fmt: skip
        return out

    def _has_value_tiers(self) -> bool:
        try:
            self.query("SELECT value_tier FROM customer_profile LIMIT 0")
        except Exception:  # no profile built yet, or no tiers in it
            return False
        return True

    def _sends_file(self, campaign_id: str, path: Path) -> Path:
        """The campaign's sent messages from the outbox, with whether the customer replied or
        clicked (delivery receipts), as a parquet file DuckDB reads."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        import sqlalchemy as sa

        from lodestar.storage.operational_tables import delivery_events, outbox

        responded = sa.exists().where(
            delivery_events.c.status.in_(("clicked", "replied")),
            sa.or_(sa.and_(delivery_events.c.idempotency_key.is_not(None),
                           delivery_events.c.idempotency_key == outbox.c.idempotency_key),
                   sa.and_(delivery_events.c.provider_message_id.is_not(None),
                           delivery_events.c.provider_message_id
                           == outbox.c.provider_message_id)))  # fmt: skip
        q = (sa.select(outbox.c.customer_id, outbox.c.offer_id, outbox.c.channel,
                       outbox.c.sent_at, responded.label("responded"))
             .where((outbox.c.campaign_id == campaign_id) & (outbox.c.status == "sent")))  # fmt: skip
        with self.ops.engine.connect() as conn:
            rows = conn.execute(q).all()

        def naive_utc(at: datetime | None) -> datetime | None:
            if at is None or at.tzinfo is None:
                return at
            return at.astimezone(UTC).replace(tzinfo=None)

        table = pa.table({
            "customer_id": pa.array([r[0] for r in rows], pa.string()),
            "offer_id": pa.array([r[1] for r in rows], pa.string()),
            "channel": pa.array([r[2] for r in rows], pa.string()),
            "sent_at": pa.array([naive_utc(r[3]) for r in rows], pa.timestamp("us")),
            "responded": pa.array([int(bool(r[4])) for r in rows], pa.int32()),
        })  # fmt: skip
        pq.write_table(table, path)
        return path


def _target_columns(goal: Goal) -> tuple[list[str], list[str]]:
    """Each target's exposure column, and the events needing a column of their own (a target
    on the goal's own event reads ``converted``)."""
    columns: list[str] = []
    events: list[str] = []
    for target in goal.targets:
        event = target.event or goal.event
        if event is None or event == goal.event:
            columns.append("converted")
            continue
        if event not in events:
            events.append(event)
        columns.append(f"target_{events.index(event)}")
    return columns, events
