"""A journey's steps compiled to a flat program: what the journey runner steps through.

Nested branches become forward jumps, so a customer's place in the journey is one number (the
program counter) stored on their journey entry, and a new version of the campaign cannot move a
customer who entered under the old one: the entry keeps the version it entered with.

Each instruction carries the **label** of the step it came from — ``"3"`` for the third
top-level step, ``"3t1"`` for the first step of its ``then`` branch, ``"3o2"`` for the second of
its ``otherwise`` — short enough for the outbox's step column and readable in the monitoring.

::

    send app_push         pc 0  label 1
    wait 3 days           pc 1  label 2
    branch if_event       pc 2  label 3     false -> pc 4
      exit goal           pc 3  label 3t1
    send sms              pc 4  label 4
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lodestar.campaigns.definition import Branch, SendStep, Step, WaitStep

Op = Literal["send", "wait", "branch", "exit", "jump"]


@dataclass(frozen=True)
class Instruction:
    op: Op
    label: str
    send: SendStep | None = None
    wait: WaitStep | None = None
    branch: Branch | None = None
    goal: bool = False
    #: branch: where to go when the test fails; jump: where to go
    target: int | None = None


@dataclass(frozen=True)
class Program:
    code: tuple[Instruction, ...]

    def __len__(self) -> int:
        return len(self.code)

    def labels(self) -> list[str]:
        """The labels of the steps, in program order (sends and waits, for monitoring)."""
        return [i.label for i in self.code if i.op != "jump"]


def compile_journey(steps: tuple[Step, ...]) -> Program:
    """Flatten ``steps``; falling off the end of the program completes the journey."""
    code: list[Instruction] = []
    _emit(steps, "", code)
    return Program(tuple(code))


def _emit(steps: tuple[Step, ...], prefix: str, code: list[Instruction]) -> None:
    for number, step in enumerate(steps, start=1):
        label = f"{prefix}{number}"
        if step.send is not None:
            code.append(Instruction("send", label, send=step.send))
        elif step.wait is not None:
            code.append(Instruction("wait", label, wait=step.wait))
        elif step.exit is not None:
            code.append(Instruction("exit", label, goal=step.exit.goal))
        elif step.branch is not None:
            test_at = len(code)
            code.append(Instruction("branch", label, branch=step.branch))  # target set below
            _emit(step.branch.then, f"{label}t", code)
            if step.branch.otherwise:
                jump_at = len(code)
                code.append(Instruction("jump", label))  # over the otherwise block
                otherwise_at = len(code)
                _emit(step.branch.otherwise, f"{label}o", code)
                code[jump_at] = Instruction("jump", label, target=len(code))
                code[test_at] = Instruction("branch", label, branch=step.branch,
                                            target=otherwise_at)  # fmt: skip
            else:
                code[test_at] = Instruction("branch", label, branch=step.branch,
                                            target=len(code))  # fmt: skip
