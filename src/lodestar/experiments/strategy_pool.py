"""A pool of strategies (offers, messages, channels) that updates its own traffic split each
round, by rules, and says why: 有进有出 -- strategies enter, earn or lose traffic, and leave.

Two policies share the pool's entry and exit rules:

- ``thompson``: :class:`~lodestar.experiments.bandit.Bandit` over the warmed-up arms, with a
  minimum exploration share; a new arm holds a fixed entry share until it has ``warmup``
  observations (a uniform prior would otherwise hand an unseen arm most of the traffic when the
  others convert at a few percent).
- ``champion``: one champion takes most of the traffic, challengers ``steps[0]`` each. A
  challenger whose chance to beat the champion exceeds ``threshold``, both with at least
  ``min_n`` observations, moves one step up (10% -> 30% -> 50%) per round, one challenger at a
  time; passing again at the last step promotes it and the old champion becomes a challenger.
  A challenger the champion beats with the same confidence steps back down.

Every change -- share, status, role, step -- is a :class:`Change` with the rule that decided it,
the reason in English and zh-CN and the statistics behind it; :mod:`change_log` appends them to
a JSON-lines file, and :meth:`StrategyPool.replay` rebuilds the pool from that file.

>>> from lodestar.experiments.statistics import MetricStats
>>> pool = StrategyPool("offer-test", PoolRules(policy="champion", min_n=100))
>>> pool, changes = pool.iterate({"A": MetricStats.of_proportion(0, 0),
...                               "B": MetricStats.of_proportion(0, 0)})
>>> {c.arm: (c.role, round(c.after, 2)) for c in changes}
{'A': ('champion', 0.9), 'B': ('challenger', 0.1)}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from lodestar.errors import ConfigError, NotFound
from lodestar.experiments.bandit import Bandit, Kind, probability_best, thompson_reason
from lodestar.experiments.statistics import MetricStats, _beta_chance

Policy = Literal["thompson", "champion"]
TOLERANCE = 5e-4  # share moves smaller than this are not logged as changes


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    RETIRED = "retired"


class Role(StrEnum):
    ARM = "arm"
    CHAMPION = "champion"
    CHALLENGER = "challenger"


class Rule(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    PAUSE = "paused-by-person"
    RESUME = "resumed-by-person"
    THOMPSON = "thompson-sampling"
    WARMUP = "warm-up"
    STEP_UP = "challenger-step-up"
    STEP_DOWN = "challenger-step-down"
    PROMOTION = "promotion"
    DEMOTION = "demotion"
    REBALANCE = "rebalance"


@dataclass(frozen=True)
class PoolRules:
    """The pool's rules; every threshold is a parameter, recorded with each change."""

    policy: Policy = "thompson"
    kind: Kind = "proportion"
    floor: float = 0.05  # thompson: minimum share of every active arm
    entry_share: float = 0.10  # thompson: a new arm's share until it has `warmup` observations
    warmup: int = 200
    exit_below: float = 0.01  # leave when P(best) falls below this...
    min_n: int = 1000  # ...with at least this many observations (also for promotions)
    threshold: float = 0.95  # champion: chance to beat needed to step up / promote
    steps: tuple[float, ...] = (0.10, 0.30, 0.50)
    draws: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.policy not in ("thompson", "champion"):
            raise ConfigError(f"policy must be 'thompson' or 'champion', got {self.policy!r}")
        if not self.steps or any(not 0 < s <= 0.5 for s in self.steps) or \
                list(self.steps) != sorted(self.steps):  # fmt: skip
            raise ConfigError(f"steps must rise within (0, 0.5], got {self.steps}",
                              hint="e.g. 0.1, 0.3, 0.5: the champion keeps at least half")  # fmt: skip
        if not 0.5 < self.threshold < 1:
            raise ConfigError(f"threshold must be in (0.5, 1), got {self.threshold}")
        if not 0 <= self.entry_share <= 0.5 or not 0 <= self.exit_below < 1:
            raise ConfigError("entry_share must be in [0, 0.5] and exit_below in [0, 1)")
        Bandit(self.floor, self.kind, self.draws, self.seed)  # validates floor and draws


@dataclass(frozen=True)
class Strategy:
    name: str
    status: Status = Status.ACTIVE
    role: Role = Role.ARM
    share: float = 0.0
    stage: int = 0  # champion policy: index into PoolRules.steps


@dataclass(frozen=True)
class Change:
    """One logged change of one strategy: its share before and after, its state after, the
    rule that decided it (or the person), the reason in plain words, the numbers behind it."""

    round: int
    arm: str
    before: float
    after: float
    status: str
    role: str
    stage: int
    rule: str
    decided_by: str
    reason_en: str
    reason_zh: str
    stats: dict[str, Any] = field(default_factory=dict)
    at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def reason(self, locale: str) -> str:
        return self.reason_en if locale == "en" else self.reason_zh


@dataclass(frozen=True)
class StrategyPool:
    key: str
    rules: PoolRules = PoolRules()
    strategies: Mapping[str, Strategy] = field(default_factory=dict)
    round: int = 0

    @classmethod
    def replay(cls, key: str, rules: PoolRules, changes: Iterable[Change]) -> StrategyPool:
        """The pool as the log leaves it: each strategy's state after its last change."""
        strategies: dict[str, Strategy] = {}
        last = 0
        for c in changes:
            strategies[c.arm] = Strategy(c.arm, Status(c.status), Role(c.role), c.after, c.stage)
            last = max(last, c.round)
        return cls(key, rules, strategies, last)

    @property
    def shares(self) -> dict[str, float]:
        return {n: s.share for n, s in self.strategies.items()}

    def champion(self) -> str | None:
        return next((n for n, s in self.strategies.items() if s.role == Role.CHAMPION), None)

    # -- a person's decisions --------------------------------------------------------------
    def pause(self, name: str, by: str, why: str = "") -> tuple[StrategyPool, list[Change]]:
        """Take a strategy out of traffic now; the others share its traffic."""
        s = self._get(name)
        if s.role == Role.CHAMPION:
            raise ConfigError(f"'{name}' is the champion of '{self.key}' and cannot be paused",
                              hint="promote a challenger first, or pause the challengers")  # fmt: skip
        if self._active() == [name]:
            # someone must get the traffic: a pool with nothing active would send nothing
            raise ConfigError(f"'{name}' is the last active strategy of '{self.key}'",
                              hint="resume or add another strategy before pausing this one")  # fmt: skip
        note = f": {why}" if why else ""
        return self._rebalanced(name, replace(s, status=Status.PAUSED, share=0.0, stage=0),
                                Rule.PAUSE, by, f"paused by {by}{note}", f"由 {by} 暂停{note}")  # fmt: skip

    def resume(self, name: str, by: str, why: str = "") -> tuple[StrategyPool, list[Change]]:
        """Bring a paused or retired strategy back; it re-enters at the entry share."""
        s = self._get(name)
        share = self.rules.steps[0] if self.rules.policy == "champion" else self.rules.entry_share
        note = f": {why}" if why else ""
        return self._rebalanced(name, replace(s, status=Status.ACTIVE, share=share, stage=0),
                                Rule.RESUME, by, f"resumed by {by}{note}", f"由 {by} 恢复{note}")  # fmt: skip

    def _get(self, name: str) -> Strategy:
        if name not in self.strategies:
            raise NotFound(f"no strategy '{name}' in experiment '{self.key}'",
                           hint=f"strategies: {', '.join(self.strategies) or 'none yet'}")  # fmt: skip
        return self.strategies[name]

    def _rebalanced(self, name: str, new: Strategy, rule: Rule, by: str, en: str,
                    zh: str) -> tuple[StrategyPool, list[Change]]:  # fmt: skip
        """``new`` replaces ``name``; the other active strategies are scaled to fill 1."""
        others = {n: s for n, s in self.strategies.items()
                  if n != name and s.status == Status.ACTIVE}  # fmt: skip
        room, total = 1.0 - new.share, sum(s.share for s in others.values())
        updated = dict(self.strategies)
        updated[name] = new
        for n, s in others.items():
            updated[n] = replace(s, share=s.share / total * room if total > 0
                                 else room / len(others))  # fmt: skip
        pool = replace(self, strategies=updated)
        changes = [self._change(self.round, name, new, rule, by, en, zh, {})]
        for n in others:
            changes += self._diff(n, updated[n], Rule.REBALANCE, _rebalance_reason(name, rule))
        return pool, changes

    # -- one round ---------------------------------------------------------------------------
    def iterate(self, stats_by_arm: Mapping[str, MetricStats], *,
                champion: str | None = None) -> tuple[StrategyPool, list[Change]]:  # fmt: skip
        """One round: new arms enter, losing arms leave, traffic is re-split by the policy.

        ``stats_by_arm`` holds each arm's cumulative statistics; arms not seen before enter
        the pool. ``champion`` names the first champion (else the first arm listed).
        """
        rules, round_ = self.rules, self.round + 1
        strategies = dict(self.strategies)
        stats = {n: stats_by_arm.get(n, MetricStats(0, 0.0, 0.0)) for n in
                 [*strategies, *(n for n in stats_by_arm if n not in strategies)]}  # fmt: skip
        entered: list[str] = []
        for name in stats_by_arm:
            if name not in strategies:
                strategies[name] = Strategy(name, role=Role.ARM)
                entered.append(name)
        if rules.policy == "champion":
            if not any(s.role == Role.CHAMPION for s in strategies.values()):
                first = champion or next((n for n in stats_by_arm
                                          if strategies[n].status == Status.ACTIVE), None)  # fmt: skip
                if first is None or first not in strategies:
                    raise NotFound(f"champion '{first}' is not an arm of '{self.key}'")
                strategies[first] = replace(strategies[first], role=Role.CHAMPION)
            for n, s in strategies.items():
                if s.role == Role.ARM:
                    strategies[n] = replace(s, role=Role.CHALLENGER)
        pool = replace(self, strategies=strategies, round=round_)
        notes: dict[str, tuple[Rule, str, str, dict[str, Any]]] = {}
        for name in entered:
            notes[name] = (Rule.ENTRY, "a new strategy enters the pool with an exploration share",
                           "新策略进入策略池，先获得探索流量", {})  # fmt: skip
        pool = pool._exit(stats, notes)
        if rules.policy == "thompson":
            pool = pool._thompson(stats, notes)
        else:
            pool = pool._champion(stats, notes)
        changes = []
        for name, s in pool.strategies.items():
            rule, en, zh, extra = notes.get(name, (Rule.REBALANCE, "", "", {}))
            if not en:
                en, zh = "share follows the other strategies' changes", "随其他策略调整而重新分配"
            st = stats[name]
            numbers = {"n": st.n, "mean": st.mean if st.n else None, **extra}
            changes += self._diff(name, s, rule, (en, zh), numbers, round_)
        return pool, changes

    def _active(self) -> list[str]:
        return [n for n, s in self.strategies.items() if s.status == Status.ACTIVE]

    def _exit(self, stats: Mapping[str, MetricStats],
              notes: dict[str, tuple[Rule, str, str, dict[str, Any]]]) -> StrategyPool:  # fmt: skip
        """Retire active non-champion arms whose chance to be best fell below ``exit_below``
        after ``min_n`` observations; at least two arms stay. The chance is taken among the
        warmed-up arms only: an unseen arm's flat prior says little and would push them out."""
        rules, active = self.rules, self._active()
        warm = [n for n in active if stats[n].n >= rules.warmup]
        if len(active) < 3 or len(warm) < 2:
            return self
        best = probability_best({n: stats[n] for n in warm}, kind=rules.kind,
                                draws=rules.draws, seed=rules.seed + self.round)  # fmt: skip
        losers = sorted((n for n in warm if stats[n].n >= rules.min_n
                         and best[n] < rules.exit_below
                         and self.strategies[n].role != Role.CHAMPION), key=best.__getitem__)  # fmt: skip
        losers = losers[: len(active) - 2]
        strategies = dict(self.strategies)
        for n in losers:
            strategies[n] = replace(strategies[n], status=Status.RETIRED, share=0.0, stage=0)
            notes[n] = (Rule.EXIT,
                        f"leaves the pool: {best[n]:.2%} chance to be best after {stats[n].n:,} "
                        f"observations, below {rules.exit_below:.0%}",
                        f"退出策略池：观测 {stats[n].n:,} 次后为最优的概率仅 {best[n]:.2%}，"
                        f"低于 {rules.exit_below:.0%}",
                        {"p_best": best[n], "exit_below": rules.exit_below,
                         "min_n": rules.min_n})  # fmt: skip
        return replace(self, strategies=strategies)

    def _thompson(self, stats: Mapping[str, MetricStats],
                  notes: dict[str, tuple[Rule, str, str, dict[str, Any]]]) -> StrategyPool:  # fmt: skip
        rules, active = self.rules, self._active()
        warming = [n for n in active if stats[n].n < rules.warmup]
        warm = [n for n in active if n not in warming]
        shares = {n: 0.0 for n in self.strategies}
        if not warm:
            shares.update({n: 1.0 / len(warming) for n in warming})
        else:
            entry = min(rules.entry_share, 0.5 / len(warming)) if warming else 0.0
            shares.update({n: entry for n in warming})
            room = 1.0 - entry * len(warming)
            bandit = Bandit(min(rules.floor / room, 1.0), rules.kind, rules.draws,
                            rules.seed + self.round)  # fmt: skip
            allocation = bandit.allocate({n: stats[n] for n in warm})
            for n in warm:
                shares[n] = allocation.shares[n] * room
                note = notes.get(n)
                en, zh = thompson_reason(stats[n], allocation.probabilities[n], shares[n],
                                         rules.floor)  # fmt: skip
                if warming:
                    en += f" (new strategies hold {1 - room:.0%} while they warm up)"
                    zh += f"（新策略预热中，占用 {1 - room:.0%}）"
                extra = {"p_best": allocation.probabilities[n], "floor": rules.floor}
                if note is None or note[0] != Rule.ENTRY:
                    notes[n] = (Rule.THOMPSON, en, zh, extra)
        for n in warming:
            notes.setdefault(n, (Rule.WARMUP,
                                 f"warming up: {stats[n].n:,} of {rules.warmup:,} observations, "
                                 f"holds the entry share",
                                 f"预热中：已观测 {stats[n].n:,}/{rules.warmup:,} 次，保持进入流量",
                                 {"warmup": rules.warmup}))  # fmt: skip
        strategies = {n: replace(s, share=shares[n]) for n, s in self.strategies.items()}
        return replace(self, strategies=strategies)

    def _champion(self, stats: Mapping[str, MetricStats],
                  notes: dict[str, tuple[Rule, str, str, dict[str, Any]]]) -> StrategyPool:  # fmt: skip
        rules = self.rules
        strategies = dict(self.strategies)
        champ = next(n for n, s in strategies.items() if s.role == Role.CHAMPION)
        challengers = [n for n in self._active() if n != champ]
        ramping = next((n for n in challengers if strategies[n].stage > 0), None)
        last = len(rules.steps) - 1
        # the challenger most likely to beat the champion is considered first
        beats = {n: _chance_to_beat(stats[champ], stats[n], rules.kind) for n in challengers}
        for n in sorted(challengers, key=lambda n: -beats[n]):
            s, beat = strategies[n], beats[n]
            enough = min(stats[n].n, stats[champ].n) >= rules.min_n
            numbers = {"chance_to_beat_champion": beat, "champion": champ,
                       "threshold": rules.threshold, "min_n": rules.min_n,
                       "champion_n": stats[champ].n}  # fmt: skip
            said = (f"{beat:.1%} chance to beat champion {champ} "
                    f"({stats[n].n:,} vs {stats[champ].n:,} observations)")  # fmt: skip
            said_zh = f"优于冠军策略 {champ} 的概率 {beat:.1%}（观测 {stats[n].n:,} 对 {stats[champ].n:,} 次）"
            if not enough or (ramping is not None and ramping != n) or \
                    1 - rules.threshold <= beat <= rules.threshold:  # fmt: skip
                continue
            if beat > rules.threshold and s.stage < last:
                strategies[n] = replace(s, stage=s.stage + 1)
                ramping = n
                notes[n] = (Rule.STEP_UP, f"{said} > {rules.threshold:.0%}: traffic steps up to "
                            f"{rules.steps[s.stage + 1]:.0%}",
                            f"{said_zh}，超过 {rules.threshold:.0%}：流量升至 "
                            f"{rules.steps[s.stage + 1]:.0%}", numbers)  # fmt: skip
            elif beat > rules.threshold:
                strategies[n] = replace(s, role=Role.CHAMPION, stage=0)
                strategies[champ] = replace(strategies[champ], role=Role.CHALLENGER, stage=0)
                notes[n] = (Rule.PROMOTION, f"{said} > {rules.threshold:.0%} at the last step: "
                            "promoted to champion", f"{said_zh}，在最高一级仍超过 "
                            f"{rules.threshold:.0%}：晋升为冠军策略", numbers)  # fmt: skip
                notes[champ] = (Rule.DEMOTION, f"challenger {n} beat it ({beat:.1%} > "
                                f"{rules.threshold:.0%}): demoted to challenger",
                                f"挑战者 {n} 胜出（{beat:.1%} > {rules.threshold:.0%}）：降为挑战者",
                                numbers)  # fmt: skip
                break  # one promotion a round; the new champion is judged next round
            elif s.stage > 0:  # the champion is clearly better: back one step
                strategies[n] = replace(s, stage=s.stage - 1)
                ramping = n if s.stage - 1 > 0 else None
                notes[n] = (Rule.STEP_DOWN, f"{said} < {1 - rules.threshold:.0%}: traffic steps "
                            f"down to {rules.steps[s.stage - 1]:.0%}",
                            f"{said_zh}，低于 {1 - rules.threshold:.0%}：流量降至 "
                            f"{rules.steps[s.stage - 1]:.0%}", numbers)  # fmt: skip
        champ = next(n for n, s in strategies.items() if s.role == Role.CHAMPION)
        shares = {n: 0.0 for n in strategies}
        active = [n for n, s in strategies.items() if s.status == Status.ACTIVE and n != champ]
        for n in active:
            shares[n] = rules.steps[strategies[n].stage]
        taken = sum(shares.values())
        if taken > 1 - rules.steps[0]:  # many challengers: they share what the champion spares
            scale = (1 - rules.steps[0]) / taken
            shares = {n: v * scale for n, v in shares.items()}
        shares[champ] = 1.0 - sum(shares.values())
        notes.setdefault(champ, (Rule.REBALANCE, "champion: keeps the traffic the challengers "
                                 "do not take", "冠军策略：承接挑战者之外的全部流量", {}))  # fmt: skip
        return replace(self, strategies={n: replace(s, share=shares[n])
                                         for n, s in strategies.items()})  # fmt: skip

    def _diff(self, name: str, new: Strategy, rule: Rule, reason: tuple[str, str],
              numbers: dict[str, Any] | None = None, round_: int | None = None) -> list[Change]:  # fmt: skip
        """A change for ``name`` if its share or state moved, else nothing."""
        old = self.strategies.get(name)
        if old is not None and abs(old.share - new.share) < TOLERANCE and \
                (old.status, old.role, old.stage) == (new.status, new.role, new.stage):  # fmt: skip
            return []
        return [self._change(self.round if round_ is None else round_, name, new, rule,
                             f"rule:{rule}", *reason, numbers or {})]  # fmt: skip

    def _change(self, round_: int, name: str, new: Strategy, rule: Rule, by: str, en: str,
                zh: str, numbers: dict[str, Any]) -> Change:  # fmt: skip
        old = self.strategies.get(name)
        return Change(round_, name, old.share if old else 0.0, new.share, str(new.status),
                      str(new.role), new.stage, str(rule), by, en, zh,
                      {k: v for k, v in numbers.items()}, datetime.now(UTC).isoformat())  # fmt: skip


def _chance_to_beat(champion: MetricStats, challenger: MetricStats, kind: Kind) -> float:
    if kind == "proportion":
        return _beta_chance(champion, challenger)[0]
    return probability_best({"champion": champion, "challenger": challenger}, kind="mean")[
        "challenger"
    ]


def _rebalance_reason(name: str, rule: Rule) -> tuple[str, str]:
    what = "paused" if rule == Rule.PAUSE else "resumed"
    what_zh = "暂停" if rule == Rule.PAUSE else "恢复"
    return (f"rescaled because {name} was {what}", f"因 {name} 被{what_zh}而按比例调整")
