"""The automatic-iteration part of the :class:`~lodestar.workspace.Workspace` facade: one round
of a strategy pool on statistics from a file or from the workspace, and the pool's change log
(``experiments/<key>/`` in the workspace folder; see ``docs/experiments.md``).

Kept apart from ``workspace.py`` so each file stays readable; :class:`Workspace` inherits it and
callers see one object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodestar.experiments.iteration import RoundResult
    from lodestar.experiments.registry import ExperimentRegistry
    from lodestar.experiments.statistics import MetricStats
    from lodestar.experiments.strategy_pool import Change


class ExperimentsMixin:
    root: Path
    ops: Any
    query: Any  # Workspace.query

    @property
    def experiment_registry(self) -> ExperimentRegistry:
        """Registered experiments by key, in layers of mutually exclusive experiments
        (``lodestar experiment create | list | show | stop``)."""
        from lodestar.experiments.registry import ExperimentRegistry

        return ExperimentRegistry(self.ops)

    def iterate_strategies(self, key: str, stats: str | Path | Mapping[str, MetricStats], *,
                           champion: str | None = None, pause: Sequence[str] = (),
                           resume: Sequence[str] = (), by: str = "", why: str = "",
                           **rules: Any) -> RoundResult:  # fmt: skip
        """One round of the strategy pool ``key``: entries and exits by its rules, the new
        traffic split, every change appended to ``experiments/<key>/changes.jsonl``."""
        from lodestar.experiments.iteration import run_round

        return run_round(self.root, key, stats, champion=champion, pause=pause, resume=resume,
                         by=by, why=why, **rules)  # fmt: skip

    def strategy_log(self, key: str) -> list[Change]:
        """Every logged change of the strategy pool ``key``, oldest first."""
        from lodestar.experiments.change_log import ChangeLog

        return ChangeLog(self.root, key).read()

    def demo_iteration(self) -> RoundResult | None:
        """The demo's automatic strategy update: Thompson sampling over the variants of the
        past campaign with the most of them, on its treated customers' conversions (warm-up 100
        observations, exits after 1,000); ``None`` when no campaign has two variants."""
        from lodestar.experiments.statistics import MetricStats

        rows = self.query(
            "SELECT campaign_id, treatment, count(*) AS n, "
            "sum(CASE WHEN converted THEN 1 ELSE 0 END) AS conversions "
            "FROM campaign_contacts WHERE arm = 'treatment' AND treatment IS NOT NULL "
            "GROUP BY campaign_id, treatment ORDER BY campaign_id, treatment"
        ).to_pylist()
        by_campaign: dict[str, dict[str, MetricStats]] = {}
        for r in rows:
            by_campaign.setdefault(r["campaign_id"], {})[r["treatment"]] = \
                MetricStats.of_proportion(int(r["n"]), int(r["conversions"] or 0))  # fmt: skip
        candidates = [c for c, arms in by_campaign.items() if len(arms) >= 2]
        if not candidates:
            return None
        campaign = max(candidates, key=lambda c: (len(by_campaign[c]),
                                                  sum(s.n for s in by_campaign[c].values())))  # fmt: skip
        key, arms = f"demo-{campaign}", by_campaign[campaign]
        if not self.strategy_log(key):
            # round 1 records the split the campaign ran with (its variants, equal shares);
            # the update is round 2, on the campaign's results
            empty = {name: MetricStats(0, 0.0, 0.0) for name in arms}
            self.iterate_strategies(key, empty, policy="thompson", warmup=100, min_n=1000)
        return self.iterate_strategies(key, arms)
