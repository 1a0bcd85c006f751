"""Call tasks: dial a list of customers with a script, within calling windows and a concurrency
limit, retrying unanswered calls.

The runner is a discrete-event schedule over ``concurrency`` lines: each attempt starts at the
later of its earliest time and the first free line, moved out of the customer's quiet hours in
their own time zone (the calling window's complement, held with the contact policy's
:func:`~lodestar.decisioning.contact_windows.hold_until`); a line is busy for the ringing plus
the talk time. Unanswered attempts are retried ``retry_after`` later, up to ``max_attempts``.

Calls go through a :class:`CallBackend`. :class:`SimulatedBackend` (shipped) answers with
scripted personas drawn from a seeded distribution, so a whole task can be run and measured
without a telephony provider. A live backend over the ``voice`` HTTP gateway channel is not
built yet (docs/voice-robot.md).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from lodestar.channels.voice_robot.intents import Recogniser
from lodestar.channels.voice_robot.script import CallScript
from lodestar.channels.voice_robot.simulator import CallPath, run_dialogue
from lodestar.decisioning.contact_windows import hold_until
from lodestar.decisioning.policy_rules import ContactPolicy, QuietHours


@dataclass(frozen=True)
class CallingWindow:
    """Calls start between ``start`` and ``end``, the customer's local time."""

    start: time = time(9)
    end: time = time(20)

    def quiet(self) -> QuietHours:
        return QuietHours(start=self.end, end=self.start)

    def allows(self, at: datetime, zone: ZoneInfo) -> bool:
        return not self.quiet().contains(at.astimezone(zone).time().replace(tzinfo=None))

    @classmethod
    def from_policy(cls, policy: ContactPolicy, channel: str = "voice_robot") -> CallingWindow:
        """The complement of the policy's quiet hours for the voice robot (09:00-20:00 when
        it sets none)."""
        quiet = policy.rules_for(channel).quiet_hours
        return cls() if quiet is None else cls(start=quiet.end, end=quiet.start)


@dataclass(frozen=True)
class Callee:
    customer_id: str
    timezone: str = "Asia/Shanghai"
    #: values for the prompts' placeholders; used to speak, never logged
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallTask:
    task_id: str
    script: CallScript
    callees: Sequence[Callee]
    start_at: datetime
    concurrency: int = 10
    window: CallingWindow = CallingWindow()
    max_attempts: int = 3
    retry_after: timedelta = timedelta(hours=2)
    locale: str = "zh-CN"


@dataclass(frozen=True)
class CallResult:
    customer_id: str
    attempt: int
    started_at: datetime
    connected: bool
    ring_seconds: float
    path: CallPath | None = None

    @property
    def seconds(self) -> float:
        return self.path.seconds if self.path is not None else 0.0

    @property
    def success(self) -> bool:
        return self.path is not None and self.path.success

    @property
    def transferred(self) -> bool:
        return self.path is not None and self.path.transferred


class CallBackend(Protocol):
    def call(self, task: CallTask, callee: Callee, at: datetime, attempt: int) -> CallResult: ...


@dataclass(frozen=True)
class Persona:
    """A kind of caller: how likely they answer the phone, which intent they show at a
    question, how often they mumble something the robot cannot understand, and how likely they
    hang up at each question."""

    name: str
    weight: float
    answer_rate: float
    intents: Mapping[str, float]
    mumble: float = 0.05
    hang_up: float = 0.05


DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona("eager", 0.2, 0.7, {"affirm": 0.9, "ask_rate": 0.1}),
    Persona("curious", 0.2, 0.6, {"affirm": 0.5, "ask_rate": 0.3, "deny": 0.2}),
    Persona("reluctant", 0.3, 0.5, {"affirm": 0.2, "deny": 0.7, "stop": 0.1}, hang_up=0.15),
    Persona("busy", 0.15, 0.4, {"affirm": 0.3, "busy": 0.7}, hang_up=0.1),
    Persona("confused", 0.1, 0.6, {"affirm": 0.4, "human": 0.3, "deny": 0.3}, mumble=0.4),
    Persona("wary", 0.05, 0.3, {"deny": 0.5, "stop": 0.5}, hang_up=0.3),
)

MUMBLES = ("嗯嗯啊啊", "喂喂", "什么东西", "听不清", "呃呃", "sorry what")


class SimulatedBackend:
    """A telephony stand-in: each (seed, customer, attempt) draws its own random stream, so a
    task's results do not depend on the order calls are placed."""

    def __init__(self, seed: int = 0, personas: Sequence[Persona] = DEFAULT_PERSONAS) -> None:
        self.seed = seed
        self.personas = tuple(personas)
        self._recognisers: dict[str, Recogniser] = {}

    def persona_of(self, customer_id: str) -> Persona:
        rng = random.Random(f"{self.seed}:persona:{customer_id}")
        return rng.choices(self.personas, weights=[p.weight for p in self.personas])[0]

    def call(self, task: CallTask, callee: Callee, at: datetime, attempt: int) -> CallResult:
        rng = random.Random(f"{self.seed}:{callee.customer_id}:{attempt}")
        persona = self.persona_of(callee.customer_id)
        if rng.random() >= persona.answer_rate:
            return CallResult(callee.customer_id, attempt, at, False, 30.0)
        script = task.script
        recogniser = self._recognisers.setdefault(script.script, Recogniser(script))
        index = {n.id: n for n in script.nodes}

        def answer(node_id: str, turn: int) -> str | None:
            if rng.random() < persona.hang_up:
                return None
            if rng.random() < persona.mumble:
                return rng.choice(MUMBLES)
            offered = set(index[node_id].branches) | set(script.global_branches)
            weights = {i: w for i, w in persona.intents.items()
                       if i in offered and i in script.intents}  # fmt: skip
            if not weights:
                return rng.choice(MUMBLES)
            intent = rng.choices(list(weights), weights=list(weights.values()))[0]
            phrases = script.intents[intent].keywords or script.intents[intent].examples
            return rng.choice(phrases)

        path = run_dialogue(script, answer, recogniser=recogniser,
                            variables=dict(callee.variables), locale=task.locale)  # fmt: skip
        return CallResult(callee.customer_id, attempt, at, True, rng.uniform(5, 20), path)


def run_task(task: CallTask, backend: CallBackend) -> list[CallResult]:
    """Every attempt of the task, in the order placed."""
    if task.concurrency < 1 or task.max_attempts < 1:
        raise ValueError("concurrency and max_attempts must be at least 1")
    quiet = task.window.quiet()
    zones = {c.customer_id: ZoneInfo(c.timezone) for c in task.callees}
    start = task.start_at.astimezone(UTC)
    pending: list[tuple[datetime, int, int]] = []  # (earliest, position, attempt)
    for i, callee in enumerate(task.callees):
        heapq.heappush(pending, (hold_until(quiet, start, zones[callee.customer_id]), i, 1))
    lines = [start] * task.concurrency
    heapq.heapify(lines)
    results: list[CallResult] = []
    while pending:
        earliest, i, attempt = heapq.heappop(pending)
        callee = task.callees[i]
        line_free = heapq.heappop(lines)
        at = hold_until(quiet, max(earliest, line_free), zones[callee.customer_id])
        result = backend.call(task, callee, at, attempt)
        results.append(result)
        heapq.heappush(lines, at + timedelta(seconds=result.ring_seconds + result.seconds))
        if not result.connected and attempt < task.max_attempts:
            retry = hold_until(quiet, at + task.retry_after, zones[callee.customer_id])
            heapq.heappush(pending, (retry, i, attempt + 1))
    return results


def sample_callees(n: int, *, seed: int = 0) -> list[Callee]:
    """``n`` made-up customers across China's and two other zones, with made-up limits (no real
    data: the ids are ``V00001``...)."""
    rng = random.Random(f"{seed}:callees")
    zones = ("Asia/Shanghai",) * 8 + ("Asia/Urumqi", "Asia/Hong_Kong")
    return [Callee(f"V{i:05d}", rng.choice(zones),
                   {"name": "客户", "limit": f"{rng.choice([2, 3, 5, 8, 10]) * 10_000:,}"})
            for i in range(1, n + 1)]  # fmt: skip
