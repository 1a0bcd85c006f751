"""Call tasks on the simulated backend: statistics add up, calling windows hold in local time,
concurrency is never exceeded, runs are reproducible; and the HTML report."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lodestar.channels.voice_robot import example_script_path, load_script
from lodestar.channels.voice_robot.call_statistics import node_statistics, task_statistics
from lodestar.channels.voice_robot.call_task import (
    Callee,
    CallingWindow,
    CallResult,
    CallTask,
    SimulatedBackend,
    run_task,
    sample_callees,
)
from lodestar.channels.voice_robot.script import CallScript
from lodestar.decisioning.policy_rules import default_policy
from lodestar.reports.voice_report import write_voice_report

# 23:00 in Shanghai, 21:00 in Urumqi: outside the window everywhere
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def script() -> CallScript:
    return load_script(example_script_path())


@pytest.fixture(scope="module")
def results(script: CallScript) -> tuple[CallTask, list[CallResult]]:
    task = CallTask("t", script, sample_callees(150, seed=3), START, concurrency=5,
                    retry_after=timedelta(hours=1))  # fmt: skip
    return task, run_task(task, SimulatedBackend(seed=3))


def test_node_statistics_add_up(
    script: CallScript, results: tuple[CallTask, list[CallResult]]
) -> None:
    _, res = results
    nodes = node_statistics(script, res)
    connected = sum(r.connected for r in res)
    by_id = {n.node: n for n in nodes}
    assert by_id["intro"].reached == connected
    for n in nodes:
        assert n.reached == n.moved_on + n.dropped + n.finished
        if n.kind == "ask":
            assert n.finished == 0
            assert sum(n.intents.values()) >= n.reached - n.dropped
    ended = sum(n.dropped + n.finished for n in nodes)
    assert ended == connected


def test_task_statistics(results: tuple[CallTask, list[CallResult]]) -> None:
    task, res = results
    stats = task_statistics(res)
    assert stats.customers == 150
    assert stats.attempts == len(res) <= 150 * task.max_attempts
    assert 0 < stats.connect_rate <= 1 and 0 < stats.success_rate < 1
    assert stats.successes == sum(stats.goals.values())
    assert stats.average_seconds > 5
    unanswered = {r.customer_id for r in res if not r.connected}
    for cid in unanswered:  # retried up to max_attempts unless it connected
        tries = [r for r in res if r.customer_id == cid]
        assert len(tries) == task.max_attempts or tries[-1].connected


def test_calls_start_inside_the_local_window(results: tuple[CallTask, list[CallResult]]) -> None:
    task, res = results
    zones = {c.customer_id: ZoneInfo(c.timezone) for c in task.callees}
    assert len(set(zones.values())) > 1
    for r in res:
        local = r.started_at.astimezone(zones[r.customer_id]).time()
        assert time(9) <= local < time(20), (r.customer_id, local)
        assert r.started_at >= START


def test_concurrency_never_exceeded(results: tuple[CallTask, list[CallResult]]) -> None:
    task, res = results
    events = []
    for r in res:
        events.append((r.started_at, 1))
        events.append((r.started_at + timedelta(seconds=r.ring_seconds + r.seconds), -1))
    live = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        live += delta
        peak = max(peak, live)
    assert peak <= task.concurrency


def test_reproducible(script: CallScript) -> None:
    def run() -> list[tuple[str, int, bool, str | None]]:
        task = CallTask("t", script, sample_callees(30, seed=1), START, concurrency=3)
        return [(r.customer_id, r.attempt, r.connected, r.path.last_node if r.path else None)
                for r in run_task(task, SimulatedBackend(seed=9))]  # fmt: skip

    assert run() == run()


def test_window_from_policy_and_custom_zone(script: CallScript) -> None:
    window = CallingWindow.from_policy(default_policy())
    assert window.start < window.end
    callee = Callee("X1", "America/New_York")
    task = CallTask("t", script, [callee], START, window=CallingWindow(time(10), time(12)))
    (first, *_) = run_task(task, SimulatedBackend(seed=0))
    local = first.started_at.astimezone(ZoneInfo("America/New_York"))
    assert local.time() == time(10) and local.date().isoformat() == "2026-03-02"


def test_report(
    script: CallScript, results: tuple[CallTask, list[CallResult]], tmp_path: Path
) -> None:
    _, res = results
    out = write_voice_report(script, "t", task_statistics(res), node_statistics(script, res),
                             tmp_path / "r.html", locale="en")  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert "Call funnel" in html and "Where callers hang up" in html and "offer_link" in html
    assert html.count("plotly.js v") <= 2
