"""Verification calls on the shipped script, regression cases, and a property: random valid
graphs always end within max_turns."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.channels.voice_robot import End, example_script_path, load_script, simulate
from lodestar.channels.voice_robot.intents import Recogniser
from lodestar.channels.voice_robot.script import CallScript, check_script
from lodestar.channels.voice_robot.simulator import run_cases, run_dialogue


@pytest.fixture(scope="module")
def script() -> CallScript:
    return load_script(example_script_path())


def test_yes_path_sends_the_link(script: CallScript) -> None:
    path = simulate(script, ["是我", "有兴趣", "好的"])
    assert path.nodes == ("intro", "quota", "interested", "offer_link", "apply_link_sent")
    assert path.goal == "apply_link_sent" and path.success and path.end == End.COMPLETED
    assert [t.intent for t in path.turns] == ["affirm"] * 3
    assert 20 < path.seconds < 120


def test_english_yes_path(script: CallScript) -> None:
    path = simulate(script, ["yes, speaking", "tell me more please", "ok"], locale="en")
    assert path.goal == "apply_link_sent"


def test_no_path_hangs_up_politely(script: CallScript) -> None:
    path = simulate(script, ["是我", "不需要，谢谢"])
    assert path.last_node == "goodbye" and path.end == End.COMPLETED and not path.success


def test_gibberish_falls_back_then_transfers(script: CallScript) -> None:
    path = simulate(script, ["是我", "阿巴阿巴", "呜呜呜", "咕咕咕"])
    assert path.last_node == "transfer" and path.end == End.TRANSFERRED
    assert path.fallbacks == 3  # quota allows 2 retries; the third miss transfers
    assert [t.intent for t in path.turns[1:]] == [None, None, None]


def test_global_branch_and_caller_hang_up(script: CallScript) -> None:
    assert simulate(script, ["转人工"]).last_node == "transfer"
    assert simulate(script, ["是我", "别再打了"]).last_node == "do_not_call"
    dropped = simulate(script, ["是我"])
    assert dropped.end == End.CALLER_HUNG_UP and dropped.last_node == "quota"


def test_cases_csv(script: CallScript, tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "case,answers,expect_node,expect_end,expect_goal\n"
        "yes,是我 | 有兴趣 | 好的,apply_link_sent,completed,apply_link_sent\n"
        "no,是我 | 不需要,goodbye,completed,\n"
        "wrong,是我 | 不需要,apply_link_sent,,\n", encoding="utf-8")  # fmt: skip
    results = run_cases(script, cases)
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].line == 4 and "ended at goodbye" in results[2].problems[0]


@st.composite
def graphs(draw: st.DrawFn) -> CallScript:
    """Random scripts of 2-8 ask nodes plus an end; every edge target is a real node, and every
    fallback leads to an end, so the script is valid (checked)."""
    n = draw(st.integers(2, 8))
    ids = [f"n{i}" for i in range(n)]
    ends = ["bye", "agent", "won"]
    intents = ["a", "b", "c"]
    prompt = {"zh-CN": "问", "en": "ask"}
    nodes = []
    for i in ids:
        branches = {k: draw(st.sampled_from(ids + ends)) for k in intents
                    if draw(st.booleans())}  # fmt: skip
        nodes.append({"id": i, "prompt": prompt, "branches": branches,
                      "fallback": {"prompt": prompt, "retries": draw(st.integers(0, 3)),
                                   "then": draw(st.sampled_from(ends))}})  # fmt: skip
    nodes += [{"id": "bye", "kind": "hangup", "prompt": prompt},
              {"id": "agent", "kind": "transfer", "prompt": prompt},
              {"id": "won", "kind": "goal", "prompt": prompt}]  # fmt: skip
    s = CallScript.model_validate({
        "script": "random", "start": "n0", "max_turns": draw(st.integers(1, 12)),
        "intents": {k: {"keywords": [k * 3]} for k in intents},
        "classifier": {"enabled": False}, "nodes": nodes,
    })  # fmt: skip
    return s


@settings(max_examples=60, deadline=None)
@given(graphs(), st.lists(st.sampled_from(["aaa", "bbb", "ccc", "zzz"]), max_size=40))
def test_random_graphs_terminate_within_max_turns(s: CallScript, answers: list[str]) -> None:
    # unreachable nodes are a check problem but harmless to the simulator
    assert all("unreachable" not in p and "never end" not in p for p in check_script(s))
    calls = iter(answers)
    path = run_dialogue(s, lambda node, turn: next(calls, "aaa"), recogniser=Recogniser(s))
    assert len(path.turns) <= s.max_turns
    assert path.end in set(End)
    if path.end != End.MAX_TURNS:
        assert s.node(path.last_node).ends_call
