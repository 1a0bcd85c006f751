"""The outbound voice robot (智能外呼), following seed 002's process: requirement analysis ->
robot configuration (:mod:`.script`, a call script as a dialogue graph in YAML) -> verification
calls (:mod:`.simulator`, scripted answers and regression cases) -> live calls (:mod:`.call_task`,
a task runner over a :class:`~.call_task.CallBackend`) -> statistics (:mod:`.call_statistics`).

Why ``channels/`` and not ``campaigns/``: a call script is the *configuration of a channel* — what
the robot says and understands once a campaign or journey has decided to call someone — in the
same way an SMS template belongs to the SMS channel. Campaigns decide *whom* and *when*; a
journey's voice step hands the customer to this package, whose live backend is the ``voice``
HTTP gateway channel next door (:mod:`lodestar.channels.http_gateway`).

>>> from lodestar.channels.voice_robot import example_script_path, load_script, simulate
>>> script = load_script(example_script_path())
>>> simulate(script, ["是我", "有兴趣", "好的"]).goal
'apply_link_sent'
"""

from __future__ import annotations

from lodestar.channels.voice_robot.script import (
    CallScript,
    NodeKind,
    check_script,
    example_script_path,
    load_script,
    load_script_text,
)
from lodestar.channels.voice_robot.simulator import CallPath, End, simulate

__all__ = [
    "CallPath",
    "CallScript",
    "End",
    "NodeKind",
    "check_script",
    "example_script_path",
    "load_script",
    "load_script_text",
    "simulate",
]
