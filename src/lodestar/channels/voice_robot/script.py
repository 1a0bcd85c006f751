"""A call script: a dialogue graph in YAML, checked with errors that name the file, line and field.

::

    script: consumer_loan_quota
    start: intro
    variables: {name: 王先生, limit: "50,000"}     # the sample values used in verification calls
    max_turns: 10                                 # caller answers before the robot gives up
    intents:
      yes: {keywords: [有兴趣, 好的, yes], patterns: ["想(要|了解)"], examples: [那挺好的]}
      human: {keywords: [转人工, 人工客服]}
    global_branches: {human: transfer}            # understood at every question
    nodes:
      - id: intro
        kind: ask                                 # ask | say | goal | transfer | hangup
        prompt: {zh-CN: "您好，请问是{name}吗？", en: "Hello, am I speaking to {name}?"}
        branches: {yes: quota, no: wrong_person}
        fallback: {retries: 2, then: transfer,
                   prompt: {zh-CN: "不好意思，我没听清。", en: "Sorry, I didn't catch that."}}

``ask`` nodes wait for an answer and branch on its intent; ``say`` and ``goal`` nodes speak and
go on to ``next`` (a goal without ``next`` ends the call, as do ``transfer`` and ``hangup``).
Reaching a goal node makes the call a success.

Checks beyond the shape (:func:`check_script`): duplicate node ids, unknown targets and intents,
nodes the start cannot reach, nodes from which no end can be reached, questions without a
fallback, loops that never ask anything (the robot would talk forever), and prompts that use a
variable the script does not declare. Prompts lacking ``zh-CN`` or ``en`` fail the shape check.
"""

from __future__ import annotations

import string
from collections import deque
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lodestar.errors import DefinitionError
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located

WHAT = "call script"


class NodeKind(StrEnum):
    ASK = "ask"
    SAY = "say"
    GOAL = "goal"
    TRANSFER = "transfer"
    HANGUP = "hangup"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Prompt(_Frozen):
    """What the robot says, in both locales; ``{variable}`` placeholders are filled per call and
    the filled text is never logged."""

    zh_cn: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    def text(self, locale: str) -> str:
        return self.zh_cn if locale == "zh-CN" else self.en

    def fill(self, locale: str, variables: dict[str, str]) -> str:
        # format_map with a default keeps an unfilled placeholder visible instead of failing a call
        return self.text(locale).format_map(_Default(variables))


class _Default(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Intent(_Frozen):
    """How an answer is recognised: keywords (substrings of the normalised text), regular
    expressions (searched in the normalised text) and examples (for the classifier)."""

    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> Intent:
        if not (self.keywords or self.patterns or self.examples):
            raise ValueError("give keywords, patterns or examples")
        import re

        for p in self.patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a regular expression: {exc}") from None
        return self


class Fallback(_Frozen):
    """What happens when an answer is not understood: ``prompt`` and ask again up to
    ``retries`` times, then go to ``then``."""

    prompt: Prompt
    retries: int = Field(default=2, ge=0, le=5)
    then: str


class Node(_Frozen):
    id: str = Field(min_length=1)
    kind: NodeKind = NodeKind.ASK
    prompt: Prompt
    branches: dict[str, str] = Field(default_factory=dict)
    fallback: Fallback | None = None
    next: str | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> Node:
        if self.kind != NodeKind.ASK and (self.branches or self.fallback):
            raise ValueError(f"a {self.kind.value} node takes no branches or fallback")
        if self.kind == NodeKind.ASK and self.next is not None:
            raise ValueError("an ask node goes on through its branches, not 'next'")
        if self.kind == NodeKind.SAY and self.next is None:
            raise ValueError("a say node needs 'next'")
        if self.kind in (NodeKind.TRANSFER, NodeKind.HANGUP) and self.next is not None:
            raise ValueError(f"a {self.kind.value} node ends the call: remove 'next'")
        return self

    @property
    def ends_call(self) -> bool:
        return self.kind in (NodeKind.TRANSFER, NodeKind.HANGUP) or (
            self.kind == NodeKind.GOAL and self.next is None
        )

    def prompts(self) -> list[tuple[tuple[str, ...], Prompt]]:
        out: list[tuple[tuple[str, ...], Prompt]] = [(("prompt",), self.prompt)]
        if self.fallback is not None:
            out.append((("fallback", "prompt"), self.fallback.prompt))
        return out


class ClassifierSettings(_Frozen):
    """The character n-gram classifier used when no keyword or pattern matches."""

    enabled: bool = True
    min_confidence: float = Field(default=0.55, gt=0, le=1)


class CallScript(_Frozen):
    script: str = Field(min_length=1)
    title: Prompt | None = None
    start: str
    variables: dict[str, str] = Field(default_factory=dict)
    max_turns: int = Field(default=10, ge=1, le=100)
    intents: dict[str, Intent]
    global_branches: dict[str, str] = Field(default_factory=dict)
    classifier: ClassifierSettings = ClassifierSettings()
    nodes: tuple[Node, ...] = Field(min_length=1)

    def node(self, node_id: str) -> Node:
        return self._index[node_id]

    @property
    def _index(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    def targets(self, node: Node) -> list[str]:
        """Every node ``node`` can lead to (global branches apply at every question)."""
        out = list(node.branches.values())
        if node.kind == NodeKind.ASK:
            out += list(self.global_branches.values())
        if node.fallback is not None:
            out.append(node.fallback.then)
        if node.next is not None:
            out.append(node.next)
        return out

    def order(self) -> list[str]:
        """Node ids in breadth-first order from the start (for funnels and tables)."""
        index = self._index
        seen, queue = [self.start], deque([self.start])
        while queue:
            for t in self.targets(index[queue.popleft()]):
                if t in index and t not in seen:
                    seen.append(t)
                    queue.append(t)
        return seen + [n.id for n in self.nodes if n.id not in seen]


def load_script(path: str | Path) -> CallScript:
    """Read, shape-check and graph-check a script file; :class:`DefinitionError` lists every
    problem as ``file:line: field 'x': message``."""
    return _checked(load_located(path))


def load_script_text(text: str, source: str = "<script>") -> CallScript:
    return _checked(load_located_text(text, source))


def example_script_path() -> Path:
    """Seed 002's consumer-loan quota call, shipped with the package."""
    return Path(__file__).parent / "examples" / "consumer_loan_quota.yaml"


def _checked(doc: LocatedDocument) -> CallScript:
    script: CallScript = validate_located(CallScript, doc, what=WHAT)
    problems = check_script(script, doc)
    if problems:
        raise DefinitionError(problems, what=WHAT)
    return script


def check_script(script: CallScript, doc: LocatedDocument | None = None) -> list[str]:
    """Graph problems of a shape-valid script, each located when ``doc`` is given."""

    def at(*path: str | int) -> str:
        return doc.where(*path) if doc is not None else "<script>"

    problems: list[str] = []
    position: dict[str, int] = {}
    for i, node in enumerate(script.nodes):
        if node.id in position:
            first = at("nodes", position[node.id], "id")
            problems.append(f"{at('nodes', i, 'id')}: field 'nodes[{i}].id': duplicate node id "
                            f"'{node.id}' (first defined at {first})")  # fmt: skip
        else:
            position[node.id] = i

    def target(t: str, *path: str | int) -> None:
        if t not in position:
            known = ", ".join(sorted(position))
            problems.append(f"{at(*path)}: field '{_name(path)}': no node '{t}' (nodes: {known})")

    def intent(name: str, *path: str | int) -> None:
        if name not in script.intents:
            known = ", ".join(sorted(script.intents))
            problems.append(f"{at(*path)}: field '{_name(path)}': unknown intent '{name}' "
                            f"(intents: {known})")  # fmt: skip

    target(script.start, "start")
    for name, t in script.global_branches.items():
        intent(name, "global_branches", name)
        target(t, "global_branches", name)
    for i, node in enumerate(script.nodes):
        for name, t in node.branches.items():
            intent(name, "nodes", i, "branches", name)
            target(t, "nodes", i, "branches", name)
        if node.next is not None:
            target(node.next, "nodes", i, "next")
        if node.fallback is not None:
            target(node.fallback.then, "nodes", i, "fallback", "then")
        elif node.kind == NodeKind.ASK:
            problems.append(f"{at('nodes', i)}: field 'nodes[{i}].fallback': a question needs a "
                            "fallback for answers it does not understand")  # fmt: skip
        for path, prompt in node.prompts():
            for loc in ("zh-CN", "en"):
                for var in _variables(prompt.text(loc)):
                    if var not in script.variables:
                        where = at("nodes", i, *path, loc)
                        problems.append(f"{where}: field '{_name(('nodes', i, *path, loc))}': "
                                        f"unknown variable {{{var}}} (declare it under "
                                        "'variables')")  # fmt: skip
    if problems:  # the graph checks below need every target to exist
        return problems

    index = {n.id: n for n in script.nodes}
    reachable = _reach(script, [script.start])
    for i, node in enumerate(script.nodes):
        if node.id not in reachable:
            problems.append(f"{at('nodes', i, 'id')}: field 'nodes[{i}].id': node '{node.id}' "
                            f"cannot be reached from the start '{script.start}'")  # fmt: skip
    ending = _can_end(script)
    for i, node in enumerate(script.nodes):
        if node.id not in ending:
            problems.append(f"{at('nodes', i, 'id')}: field 'nodes[{i}].id': from node "
                            f"'{node.id}' the call can never end (no path to a goal, transfer "
                            "or hangup)")  # fmt: skip
    for node_id in _silent_loops(index):
        i = position[node_id]
        problems.append(f"{at('nodes', i, 'next')}: field 'nodes[{i}].next': node '{node_id}' "
                        "is in a loop that never asks a question (the robot would talk "
                        "forever)")  # fmt: skip
    return problems


def _name(path: tuple[str | int, ...]) -> str:
    from lodestar.located_yaml import field_name

    return field_name(path)


def _variables(text: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(text) if f]
    except ValueError:
        return []


def _reach(script: CallScript, starts: list[str]) -> set[str]:
    index = {n.id: n for n in script.nodes}
    seen, stack = set(starts), list(starts)
    while stack:
        for t in script.targets(index[stack.pop()]):
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return seen


def _can_end(script: CallScript) -> set[str]:
    """Nodes from which some path reaches a node that ends the call (a fixed point)."""
    ending = {n.id for n in script.nodes if n.ends_call}
    changed = True
    while changed:
        changed = False
        for n in script.nodes:
            if n.id not in ending and any(t in ending for t in script.targets(n)):
                ending.add(n.id)
                changed = True
    return ending


def _silent_loops(index: dict[str, Node]) -> list[str]:
    """Nodes on a cycle of say / goal nodes (they go on through ``next`` without waiting)."""
    out = []
    for start, node in index.items():
        if node.kind not in (NodeKind.SAY, NodeKind.GOAL):
            continue
        seen: set[str] = set()
        current: Node | None = node
        while current is not None and current.next is not None and current.id not in seen:
            seen.add(current.id)
            current = index.get(current.next)
            if current is not None and current.id == start:
                out.append(start)
                break
            if current is not None and current.kind not in (NodeKind.SAY, NodeKind.GOAL):
                break
    return out


def script_summary(script: CallScript) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for n in script.nodes:
        kinds[n.kind.value] = kinds.get(n.kind.value, 0) + 1
    return {"script": script.script, "nodes": len(script.nodes), "intents": len(script.intents),
            "kinds": kinds}  # fmt: skip
