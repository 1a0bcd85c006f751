"""Verification calls: run a script against a caller and return the path it took.

A caller is anything that answers ``(node_id, turn) -> text`` or ``None`` (hangs up); a list of
answers is the simplest caller (:func:`simulate`), the simulated backend's personas are another.
The path records the nodes visited, each answer's intent and confidence (not the answer text
filled into logs), how the call ended, the goal reached and a duration estimate from the prompts'
lengths (zh-CN ~4 characters a second, English ~14).

Batch mode (:func:`run_cases`) reads a CSV of test conversations — a bank's regression suite
before going live::

    case,answers,expect_node,expect_end
    yes_path,是我 | 有兴趣 | 好的,apply_link_sent,completed
    gibberish,是我 | 阿巴阿巴 | 呜呜 | 咕咕,transfer,transferred
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from lodestar.channels.voice_robot.intents import Recogniser
from lodestar.channels.voice_robot.script import CallScript, NodeKind
from lodestar.errors import ConfigError

Caller = Callable[[str, int], str | None]

CHARS_PER_SECOND = {"zh-CN": 4.0, "en": 14.0}
#: a caller's thinking pause before answering, seconds
ANSWER_PAUSE = 1.0


class End(StrEnum):
    COMPLETED = "completed"  # the script ended the call (goal or hangup node)
    TRANSFERRED = "transferred"  # handed to a human agent
    CALLER_HUNG_UP = "caller_hung_up"  # dropped off mid-call
    MAX_TURNS = "max_turns"  # the caller answered max_turns times without reaching an end


@dataclass(frozen=True)
class Turn:
    node: str
    intent: str | None
    confidence: float
    method: str


@dataclass(frozen=True)
class CallPath:
    nodes: tuple[str, ...]
    turns: tuple[Turn, ...]
    end: End
    last_node: str
    goals: tuple[str, ...]
    seconds: float
    fallbacks: int = 0

    @property
    def goal(self) -> str | None:
        return self.goals[-1] if self.goals else None

    @property
    def success(self) -> bool:
        return bool(self.goals)

    @property
    def transferred(self) -> bool:
        return self.end == End.TRANSFERRED


def _speak(text: str, locale: str) -> float:
    return len(text) / CHARS_PER_SECOND.get(locale, CHARS_PER_SECOND["en"])


def run_dialogue(
    script: CallScript,
    caller: Caller,
    *,
    recogniser: Recogniser | None = None,
    variables: dict[str, str] | None = None,
    locale: str = "zh-CN",
) -> CallPath:
    """One call from the start node to an end; always ends within ``script.max_turns`` answers
    (and a bounded number of spoken nodes, the check forbidding loops that never ask)."""
    recogniser = recogniser or Recogniser(script)
    values = {**script.variables, **(variables or {})}
    index = {n.id: n for n in script.nodes}
    node = index[script.start]
    visited: list[str] = []
    turns: list[Turn] = []
    goals: list[str] = []
    seconds = 0.0
    fallbacks = 0
    steps_left = script.max_turns * (len(index) + 1) + len(index)

    def done(end: End) -> CallPath:
        return CallPath(tuple(visited), tuple(turns), end, node.id, tuple(goals), round(seconds, 1),
                        fallbacks)  # fmt: skip

    while True:
        steps_left -= 1
        if steps_left < 0:  # unreachable for a checked script; a guard for unchecked ones
            return done(End.MAX_TURNS)
        visited.append(node.id)
        seconds += _speak(node.prompt.fill(locale, values), locale)
        if node.kind == NodeKind.GOAL:
            goals.append(node.id)
        if node.kind == NodeKind.TRANSFER:
            return done(End.TRANSFERRED)
        if node.ends_call:
            return done(End.COMPLETED)
        if node.kind != NodeKind.ASK:
            assert node.next is not None
            node = index[node.next]
            continue
        retries = 0
        while True:
            if len(turns) >= script.max_turns:
                return done(End.MAX_TURNS)
            answer = caller(node.id, len(turns))
            if answer is None:
                return done(End.CALLER_HUNG_UP)
            seconds += ANSWER_PAUSE + _speak(answer, locale)
            r = recogniser.recognise(answer)
            turns.append(Turn(node.id, r.intent, round(r.confidence, 3), r.method))
            target = None
            if r.intent is not None:
                target = node.branches.get(r.intent) or script.global_branches.get(r.intent)
            if target is not None:
                node = index[target]
                break
            fallbacks += 1
            retries += 1
            fallback = node.fallback
            assert fallback is not None  # check_script requires one on every question
            if retries > fallback.retries:
                node = index[fallback.then]
                break
            seconds += _speak(fallback.prompt.fill(locale, values), locale)


def answers_caller(answers: Sequence[str]) -> Caller:
    """A caller who gives ``answers`` in order and hangs up when they run out."""
    queue = list(answers)

    def answer(node: str, turn: int) -> str | None:
        return queue[turn] if turn < len(queue) else None

    return answer


def simulate(
    script: CallScript,
    answers: Sequence[str],
    *,
    variables: dict[str, str] | None = None,
    locale: str = "zh-CN",
    recogniser: Recogniser | None = None,
) -> CallPath:
    """A verification call with scripted answers.

    >>> from lodestar.channels.voice_robot.script import example_script_path, load_script
    >>> simulate(load_script(example_script_path()), ["是我", "不需要"]).last_node
    'goodbye'
    """
    return run_dialogue(script, answers_caller(answers), recogniser=recogniser,
                        variables=variables, locale=locale)  # fmt: skip


@dataclass(frozen=True)
class CaseResult:
    case: str
    line: int
    passed: bool
    path: CallPath
    expect_node: str | None
    expect_end: str | None
    problems: tuple[str, ...] = field(default=())


ANSWER_SEPARATOR = "|"


def run_cases(script: CallScript, path: str | Path, *, locale: str = "zh-CN") -> list[CaseResult]:
    """Run every conversation of a cases CSV (columns ``case``, ``answers`` separated by ``|``,
    ``expect_node`` and / or ``expect_end``; ``expect_goal`` optional)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    rows = list(csv.DictReader(text.splitlines()))
    needed = {"case", "answers"}
    header = set(rows[0]) if rows else set()
    if not rows or not needed <= header or not header & {"expect_node", "expect_end",
                                                          "expect_goal"}:  # fmt: skip
        raise ConfigError(f"{p}:1: a cases file needs the columns case, answers and at least "
                          "one of expect_node, expect_end, expect_goal")  # fmt: skip
    recogniser = Recogniser(script)
    node_ids = {n.id for n in script.nodes}
    results = []
    for line, row in enumerate(rows, start=2):
        answers = [a.strip() for a in (row.get("answers") or "").split(ANSWER_SEPARATOR)]
        answers = [a for a in answers if a]
        expect_node = (row.get("expect_node") or "").strip() or None
        expect_end = (row.get("expect_end") or "").strip() or None
        expect_goal = (row.get("expect_goal") or "").strip() or None
        if expect_node is not None and expect_node not in node_ids:
            raise ConfigError(f"{p}:{line}: expect_node '{expect_node}' is not a node of "
                              f"the script")  # fmt: skip
        if expect_end is not None and expect_end not in {e.value for e in End}:
            raise ConfigError(f"{p}:{line}: expect_end '{expect_end}' is not one of "
                              f"{', '.join(e.value for e in End)}")  # fmt: skip
        got = simulate(script, answers, locale=locale, recogniser=recogniser)
        problems = []
        if expect_node is not None and got.last_node != expect_node:
            problems.append(f"ended at {got.last_node}, expected {expect_node}")
        if expect_end is not None and got.end.value != expect_end:
            problems.append(f"ended {got.end.value}, expected {expect_end}")
        if expect_goal is not None and got.goal != expect_goal:
            problems.append(f"goal {got.goal}, expected {expect_goal}")
        results.append(CaseResult((row.get("case") or f"line {line}").strip(), line,
                                  not problems, got, expect_node, expect_end,
                                  tuple(problems)))  # fmt: skip
    return results
