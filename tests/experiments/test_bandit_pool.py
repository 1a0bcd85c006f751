"""Strategy pool: champion / challenger with stepwise traffic, entry and exit rules (有进有出),
pauses by a person, and the append-only change log the pool is rebuilt from."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.errors import ConfigError, NotFound
from lodestar.experiments.bandit import probability_best
from lodestar.experiments.change_log import ChangeLog
from lodestar.experiments.statistics import MetricStats
from lodestar.experiments.strategy_pool import Change, PoolRules, StrategyPool

P = MetricStats.of_proportion
CHAMPION = PoolRules(policy="champion", min_n=1000, threshold=0.95, steps=(0.1, 0.3, 0.5))


def _round(pool: StrategyPool, **arms: tuple[int, int]) -> tuple[StrategyPool, list[Change]]:
    return pool.iterate({k: P(*v) for k, v in arms.items()})


def _by_arm(changes: list[Change]) -> dict[str, Change]:
    return {c.arm: c for c in changes}


def test_challenger_is_promoted_stepwise_only_past_threshold_and_minimum_sample() -> None:
    pool, changes = _round(StrategyPool("k", CHAMPION), A=(0, 0), B=(0, 0))
    assert pool.shares == {"A": pytest.approx(0.9), "B": pytest.approx(0.1)}
    assert {c.rule for c in changes} == {"entry"} and pool.champion() == "A"
    # B far ahead but only 900 observations: below the minimum sample, nothing moves
    pool, changes = _round(pool, A=(5000, 250), B=(900, 90))
    assert changes == [] and pool.shares["B"] == pytest.approx(0.1)
    # enough observations but not convincing (chance to beat ~0.8): held
    pool, changes = _round(pool, A=(5000, 250), B=(1200, 66))
    assert changes == []
    # past the threshold: one step at a time, 10% -> 30% -> 50%
    pool, changes = _round(pool, A=(6000, 300), B=(1500, 120))
    up = _by_arm(changes)["B"]
    assert (up.before, up.after, up.rule, up.stage) == (0.1, 0.3, "challenger-step-up", 1)
    assert up.stats["chance_to_beat_champion"] > 0.95 and up.stats["threshold"] == 0.95
    assert "steps up to 30%" in up.reason_en and "流量升至 30%" in up.reason_zh
    assert _by_arm(changes)["A"].after == pytest.approx(0.7)
    pool, changes = _round(pool, A=(7000, 350), B=(2500, 200))
    assert pool.shares["B"] == pytest.approx(0.5) and pool.champion() == "A"
    # passing again at the last step promotes it; the old champion is demoted to challenger
    pool, changes = _round(pool, A=(8000, 400), B=(5000, 400))
    by = _by_arm(changes)
    assert pool.champion() == "B"
    assert (by["B"].rule, by["B"].role, by["B"].after) == ("promotion", "champion",
                                                           pytest.approx(0.9))  # fmt: skip
    assert (by["A"].rule, by["A"].role, by["A"].after) == ("demotion", "challenger",
                                                           pytest.approx(0.1))  # fmt: skip
    assert "晋升为冠军策略" in by["B"].reason_zh and "demoted" in by["A"].reason_en


def test_a_challenger_the_champion_beats_steps_back_down() -> None:
    pool, _ = _round(StrategyPool("k", CHAMPION), A=(0, 0), B=(0, 0))
    pool, _ = _round(pool, A=(2000, 100), B=(1500, 120))
    pool, _ = _round(pool, A=(3000, 150), B=(2000, 150))
    assert pool.strategies["B"].stage == 2
    # B's later results collapse: the champion now beats it with > 95% confidence
    pool, changes = _round(pool, A=(6000, 360), B=(6000, 280))
    down = _by_arm(changes)["B"]
    assert (down.rule, down.before, down.after) == ("challenger-step-down", 0.5, 0.3)
    assert down.stats["chance_to_beat_champion"] < 0.05
    pool, changes = _round(pool, A=(9000, 540), B=(8000, 380))
    assert pool.shares["B"] == pytest.approx(0.1) and pool.champion() == "A"


def test_only_one_challenger_ramps_at_a_time() -> None:
    pool, _ = _round(StrategyPool("k", CHAMPION), A=(0, 0), B=(0, 0), C=(0, 0))
    pool, changes = _round(pool, A=(3000, 150), B=(1500, 120), C=(1500, 110))
    ramped = [c.arm for c in changes if c.rule == "challenger-step-up"]
    assert ramped == ["B"]  # the likelier winner goes first
    assert pool.shares == {"A": pytest.approx(0.6), "B": pytest.approx(0.3),
                           "C": pytest.approx(0.1)}  # fmt: skip


def test_strategies_enter_with_an_exploration_share_and_leave_by_the_exit_rule() -> None:
    rules = PoolRules(policy="thompson", floor=0.05, entry_share=0.1, warmup=200, min_n=1000,
                      exit_below=0.01, seed=2)  # fmt: skip
    pool, _ = _round(StrategyPool("k", rules), A=(0, 0), B=(0, 0), C=(0, 0))
    pool, _ = _round(pool, A=(800, 40), B=(800, 48), C=(800, 64))
    assert pool.shares["C"] > pool.shares["B"] > pool.shares["A"] >= 0.05
    # a new message enters: it holds the entry share while it warms up, and the warmed-up
    # arms' chances are not judged against its flat prior (with it, A's would fall below 1%)
    pool, changes = _round(pool, A=(1000, 52), B=(1000, 62), C=(1000, 66), D=(0, 0))
    d = _by_arm(changes)["D"]
    assert (d.rule, d.after, d.status) == ("entry", pytest.approx(0.1), "active")
    assert "exit" not in {c.rule for c in changes}
    flat = probability_best({"A": P(1000, 52), "B": P(1000, 62), "C": P(1000, 66), "D": P(0, 0)})
    assert flat["A"] < 0.01
    pool, changes = _round(pool, A=(1100, 57), B=(1100, 68), C=(1100, 73), D=(100, 5))
    assert _by_arm(changes).get("D") is None  # unchanged: still warming up at 10%
    assert pool.shares["D"] == pytest.approx(0.1)
    # A's chance to be best falls below 1% after 4,000 observations: it leaves; B stays
    pool, changes = _round(pool, A=(4000, 200), B=(4000, 285), C=(4000, 300), D=(400, 20))
    out = _by_arm(changes)["A"]
    assert (out.rule, out.status, out.after) == ("exit", "retired", 0.0)
    assert out.stats["p_best"] < 0.01 and "退出策略池" in out.reason_zh
    assert _by_arm(changes)["B"].rule == "thompson-sampling"
    assert sum(pool.shares.values()) == pytest.approx(1.0)
    # retired arms stay out in later rounds even though their statistics keep coming
    pool, _ = _round(pool, A=(4100, 205), B=(4100, 292), C=(4100, 307), D=(800, 40))
    assert pool.shares["A"] == 0.0
    assert pool.strategies["B"].status == "active"


def test_a_paused_strategy_gets_nothing_until_resumed() -> None:
    pool, _ = _round(StrategyPool("k", PoolRules(seed=1)), A=(0, 0), B=(0, 0), C=(0, 0))
    pool, changes = pool.pause("B", by="li.wei", why="客户投诉")
    by = _by_arm(changes)
    assert (by["B"].rule, by["B"].decided_by, by["B"].after) == ("paused-by-person", "li.wei", 0)
    assert by["A"].rule == "rebalance" and sum(pool.shares.values()) == pytest.approx(1.0)
    pool, _ = _round(pool, A=(1000, 50), B=(1000, 90), C=(1000, 60))
    assert pool.shares["B"] == 0.0  # however well it did before the pause
    pool, changes = pool.resume("B", by="li.wei")
    assert pool.shares["B"] == pytest.approx(0.1) and _by_arm(changes)["B"].status == "active"
    with pytest.raises(NotFound, match="no strategy 'Z'"):
        pool.pause("Z", by="li.wei")
    champ, _ = _round(StrategyPool("c", CHAMPION), A=(0, 0), B=(0, 0))
    with pytest.raises(ConfigError, match="champion"):
        champ.pause("A", by="li.wei")


def test_the_log_is_append_only_and_replays_to_the_same_pool(tmp_path: Path) -> None:
    log = ChangeLog(tmp_path, "card-offer")
    pool = StrategyPool("card-offer", CHAMPION)
    rounds = [dict(A=(0, 0), B=(0, 0)), dict(A=(2000, 100), B=(1500, 120)),
              dict(A=(3000, 150), B=(2500, 200))]  # fmt: skip
    for arms in rounds:
        pool, changes = _round(StrategyPool.replay("card-offer", CHAMPION, log.read()), **arms)
        before = log.path.read_text() if log.path.exists() else ""
        log.append(changes)
        assert log.path.read_text().startswith(before)
    assert log.path == tmp_path / "experiments" / "card-offer" / "changes.jsonl"
    again = StrategyPool.replay("card-offer", CHAMPION, log.read())
    assert again.shares == pytest.approx(pool.shares) and again.round == 3
    assert again.strategies == pool.strategies
    history = log.read()
    assert [c.rule for c in history if c.arm == "B"] == ["entry", "challenger-step-up",
                                                         "challenger-step-up"]  # fmt: skip
    assert all(c.reason_en and c.reason_zh and c.decided_by.startswith("rule:") and c.at
               for c in history)  # fmt: skip
    with log.path.open("a") as f:
        f.write("{not json\n")
    with pytest.raises(ConfigError, match=r"changes.jsonl:\d+"):
        log.read()
    with pytest.raises(ConfigError, match="experiment key"):
        ChangeLog(tmp_path, "../escape")


def test_rules_are_checked() -> None:
    with pytest.raises(ConfigError, match="steps"):
        PoolRules(steps=(0.3, 0.1))
    with pytest.raises(ConfigError, match="threshold"):
        PoolRules(threshold=0.4)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["thompson", "champion"]),
       st.lists(st.lists(st.tuples(st.integers(0, 400), st.floats(0.0, 0.2)), min_size=2,
                         max_size=5), min_size=1, max_size=6),
       st.lists(st.integers(0, 4), max_size=2))  # fmt: skip
def test_every_round_splits_all_traffic_among_active_strategies(
    policy: str, rounds: list[list[tuple[int, float]]], paused: list[int]
) -> None:
    rules = PoolRules(policy=policy, min_n=300, warmup=100, draws=500)  # type: ignore[arg-type]
    pool = StrategyPool("k", rules)
    totals: dict[str, list[int]] = {}
    for r, arms in enumerate(rounds):
        stats = {}
        for i, (more, rate) in enumerate(arms):  # cumulative: counts never go down
            n, s = totals.get(f"s{i}", [0, 0])
            totals[f"s{i}"] = [n + more, s + int(more * rate)]
            stats[f"s{i}"] = P(*totals[f"s{i}"])
        pool, changes = pool.iterate(stats)
        if r == 1:
            for i in paused:
                name = f"s{i}"
                if name in pool.strategies and pool.strategies[name].role != "champion":
                    if pool._active() == [name]:
                        with pytest.raises(ConfigError, match="last active"):
                            pool.pause(name, by="li.wei")
                        continue
                    pool, changes = pool.pause(name, by="li.wei")
        assert sum(pool.shares.values()) == pytest.approx(1.0)
        for s in pool.strategies.values():
            if s.status != "active":
                assert s.share == 0.0
            elif policy == "thompson":
                assert s.share >= min(rules.floor, 1 / len(pool._active())) - 1e-9
        assert all(c.reason_en and c.reason_zh for c in changes)
        assert sum(s.role == "champion" for s in pool.strategies.values()) == (
            1 if policy == "champion" else 0
        )
