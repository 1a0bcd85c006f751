"""Statistics of a call task: per node (where callers drop off) and per task.

Per node, every entry of a call into the node is one ``reached``; it leaves by exactly one of
``moved_on`` (to another node), ``dropped`` (the caller hung up, or ran out of turns, there) or
``finished`` (the node ended the call as the script meant: goal, hang-up, transfer). So
``reached == moved_on + dropped + finished`` for every node; ``intents`` counts what callers
said there (``None`` for answers not understood).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from lodestar.channels.voice_robot.call_task import CallResult
from lodestar.channels.voice_robot.script import CallScript
from lodestar.channels.voice_robot.simulator import End


@dataclass(frozen=True)
class NodeStats:
    node: str
    kind: str
    reached: int = 0
    moved_on: int = 0
    dropped: int = 0
    finished: int = 0
    intents: dict[str | None, int] = field(default_factory=dict)

    @property
    def drop_rate(self) -> float:
        return self.dropped / self.reached if self.reached else 0.0


@dataclass(frozen=True)
class TaskStats:
    customers: int
    attempts: int
    connected_customers: int
    connected_calls: int
    successes: int
    transfers: int
    caller_hang_ups: int
    average_seconds: float
    goals: dict[str, int]

    @property
    def connect_rate(self) -> float:
        return self.connected_customers / self.customers if self.customers else 0.0

    @property
    def success_rate(self) -> float:
        """Successful calls per connected call."""
        return self.successes / self.connected_calls if self.connected_calls else 0.0

    @property
    def transfer_rate(self) -> float:
        return self.transfers / self.connected_calls if self.connected_calls else 0.0


def node_statistics(script: CallScript, results: Sequence[CallResult]) -> list[NodeStats]:
    """One row per node, in breadth-first order from the start."""
    reached: Counter[str] = Counter()
    moved: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    finished: Counter[str] = Counter()
    intents: dict[str, Counter[str | None]] = {n.id: Counter() for n in script.nodes}
    for r in results:
        if r.path is None:
            continue
        nodes = r.path.nodes
        reached.update(nodes)
        moved.update(nodes[:-1])
        last = nodes[-1]
        if r.path.end in (End.CALLER_HUNG_UP, End.MAX_TURNS):
            dropped[last] += 1
        else:
            finished[last] += 1
        for turn in r.path.turns:
            intents[turn.node][turn.intent] += 1
    kinds = {n.id: n.kind.value for n in script.nodes}
    return [NodeStats(i, kinds[i], reached[i], moved[i], dropped[i], finished[i],
                      dict(intents[i].most_common()))
            for i in script.order()]  # fmt: skip


def task_statistics(results: Sequence[CallResult]) -> TaskStats:
    connected = [r for r in results if r.connected]
    goals: Counter[str] = Counter(r.path.goal for r in connected if r.path and r.path.goal)
    return TaskStats(
        customers=len({r.customer_id for r in results}),
        attempts=len(results),
        connected_customers=len({r.customer_id for r in connected}),
        connected_calls=len(connected),
        successes=sum(r.success for r in connected),
        transfers=sum(r.transferred for r in connected),
        caller_hang_ups=sum(1 for r in connected if r.path and r.path.end == End.CALLER_HUNG_UP),
        average_seconds=(sum(r.seconds for r in connected) / len(connected)) if connected else 0.0,
        goals=dict(goals.most_common()),
    )
