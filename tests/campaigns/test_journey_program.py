"""The journey compiler against a direct interpreter of the step tree (hypothesis), and cron
expressions against worked examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.campaigns import cron
from lodestar.campaigns.definition import Branch, ExitStep, SendStep, Step, WaitStep
from lodestar.campaigns.journey_program import compile_journey

CHANNELS = ("sms", "app_push", "email")


def steps(depth: int = 2) -> st.SearchStrategy[tuple[Step, ...]]:
    leaf = st.one_of(
        st.sampled_from(CHANNELS).map(lambda c: Step(send=SendStep(channel=c))),
        st.floats(0.5, 5).map(lambda d: Step(wait=WaitStep(days=d))),
        st.booleans().map(lambda g: Step(exit=ExitStep(goal=g))),
    )
    if depth == 0:
        return st.lists(leaf, max_size=4).map(tuple)
    branch = st.tuples(steps(depth - 1), steps(depth - 1), st.floats(0.1, 0.9)).map(
        lambda t: Step(branch=Branch(random_split=t[2], then=t[0], otherwise=t[1])))
    return st.lists(st.one_of(leaf, branch), max_size=5).map(tuple)


def interpret(tree: tuple[Step, ...], choose, path: str = "") -> tuple[list[str], bool]:
    """What a customer does, walking the tree itself: (labels of sends and waits, exited)."""
    done: list[str] = []
    for n, step in enumerate(tree, start=1):
        label = f"{path}{n}"
        if step.send or step.wait:
            done.append(label)
        elif step.exit:
            return done, True
        elif step.branch:
            side = step.branch.then if choose(label) else step.branch.otherwise
            inner, exited = interpret(side, choose, f"{label}{'t' if choose(label) else 'o'}")
            done += inner
            if exited:
                return done, True
    return done, False


def execute(tree: tuple[Step, ...], choose) -> tuple[list[str], bool]:
    program = compile_journey(tree)
    pc, done = 0, []
    for _ in range(len(program) + 1):
        if pc >= len(program):
            return done, False
        ins = program.code[pc]
        assert ins.target is None or ins.target > pc  # forward jumps only: it terminates
        if ins.op in ("send", "wait"):
            done.append(ins.label)
            pc += 1
        elif ins.op == "exit":
            return done, True
        elif ins.op == "jump":
            pc = ins.target
        else:
            pc = pc + 1 if choose(ins.label) else ins.target
    raise AssertionError("did not terminate")


@settings(max_examples=300, deadline=None)
@given(tree=steps(), seed=st.integers(0, 2**16))
def test_the_program_does_what_the_tree_says(tree, seed) -> None:
    def choose(label: str) -> bool:
        return hash((seed, label)) % 2 == 0

    assert execute(tree, choose) == interpret(tree, choose)


def test_labels_of_the_seeds_journey() -> None:
    tree = (Step(send=SendStep(channel="app_push")), Step(wait=WaitStep(days=3)),
            Step(branch=Branch(if_event="apply_start", then=(Step(exit=ExitStep(goal=True)),))),
            Step(send=SendStep(channel="sms")))  # fmt: skip
    program = compile_journey(tree)
    assert [(i.op, i.label, i.target) for i in program.code] == [
        ("send", "1", None), ("wait", "2", None), ("branch", "3", 4), ("exit", "3t1", None),
        ("send", "4", None)]  # fmt: skip


SH = "Asia/Shanghai"


@pytest.mark.parametrize(("expr", "zone", "after", "until", "fire"), [
    # Monday 09:00 Beijing is 01:00 UTC
    ("0 9 * * 1", SH, "2026-03-09T00:00", "2026-03-09T01:00:30", "2026-03-09T01:00"),
    ("0 9 * * 1", SH, "2026-03-09T01:00:30", "2026-03-10T01:00:30", None),
    ("*/15 * * * *", "UTC", "2026-03-09T00:01", "2026-03-09T00:31", "2026-03-09T00:30"),
    # day of month OR day of week when both are given: the 1st, or any Friday
    ("0 0 1 * 5", "UTC", "2026-03-05T00:00", "2026-03-06T00:00", "2026-03-06T00:00"),
    ("0 0 1 * 5", "UTC", "2026-03-30T00:00", "2026-04-01T00:00", "2026-04-01T00:00"),
    # 7 is Sunday too; 2026-03-08 is a Sunday
    ("30 2 * * 7", "UTC", "2026-03-07T00:00", "2026-03-09T00:00", "2026-03-08T02:30"),
    # 02:30 does not exist in New York on 2026-03-08 (clocks jump from 2 to 3): no firing
    ("30 2 8 3 *", "America/New_York", "2026-03-08T05:00", "2026-03-08T09:00", None),
    # a scheduler down for three days fires once, for the latest slot it missed
    ("0 9 * * *", SH, "2026-03-01T00:00", "2026-03-04T02:00", "2026-03-04T01:00"),
])  # fmt: skip
def test_cron_last_fire(expr, zone, after, until, fire) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    got = cron.last_fire(expr, zone, utc(after), utc(until))
    assert (got.astimezone(UTC) if got else None) == (utc(fire) if fire else None)


@pytest.mark.parametrize("expr", ["61 * * * *", "* * 0 * *", "*/0 * * * *", "5-1 * * * *",
                                  "* * * *"])  # fmt: skip
def test_bad_cron_is_refused(expr) -> None:
    with pytest.raises(ValueError, match="cron"):
        cron.parse(expr)


def test_cron_lookback_is_bounded() -> None:
    now = datetime(2026, 3, 20, tzinfo=UTC)
    assert cron.last_fire("0 0 1 1 *", "UTC", now - timedelta(days=400), now) is None
