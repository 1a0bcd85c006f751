"""Goals set up front, tracked against what was measured (seed 004: "+30% registrations, +25%
application conversion, +10% active").

A target is a lift on one metric (an event, counted once per customer in the attribution
window), relative (``+30%`` of the holdout's rate) or absolute (``+2pp``). Its verdict reads the
measured lift's interval, not only its point:

- **met** — the whole interval is at or above the target: the campaign reached it;
- **missed** — the whole interval is below the target: it did not, whatever more data says;
- **not yet** — the interval straddles the target (or nothing is measurable yet): more
  customers, or a longer window, are needed to tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from lodestar.experiments.campaign_effect import NOT_MEASURABLE, Effect

Verdict = Literal["met", "not_yet", "missed"]


class TargetLike(Protocol):
    """A goal target (:class:`lodestar.campaigns.definition.Goal.Target`), read only."""

    @property
    def metric(self) -> str: ...
    @property
    def event(self) -> str | None: ...
    @property
    def lift(self) -> float: ...
    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class TargetResult:
    metric: str
    event: str
    kind: str  # relative | absolute
    target: float
    measured: float | None
    ci: tuple[float, float] | None
    verdict: Verdict
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def column(index: int) -> str:
    """The exposure column of the ``index``-th target."""
    return f"target_{index}"


def verdict(target: float, ci: tuple[float, float] | None) -> Verdict:
    if ci is None:
        return "not_yet"
    if ci[0] >= target:
        return "met"
    if ci[1] < target:
        return "missed"
    return "not_yet"


def track(targets: Sequence[TargetLike], effect: Effect, default_event: str | None,
          columns: Sequence[str] | None = None) -> list[TargetResult]:  # fmt: skip
    """Each target against ``effect``'s measured lift on its exposure column (by default
    ``target_<i>``; ``converted`` when the target is the goal's own event)."""
    out = []
    for i, target in enumerate(targets):
        name = columns[i] if columns is not None else column(i)
        measured = effect.conversions if name == "converted" else effect.targets.get(name)
        event = target.event or default_event or ""
        if measured is None or not measured.measurable:
            note = measured.note if measured is not None else NOT_MEASURABLE
            out.append(TargetResult(target.metric, event, target.kind, target.lift, None, None,
                                    "not_yet", note))  # fmt: skip
            continue
        if target.kind == "relative":
            point, ci, note = measured.relative, measured.relative_ci, measured.note
        else:
            point, ci, note = measured.absolute, measured.absolute_ci, ""
        out.append(TargetResult(target.metric, event, target.kind, target.lift, point, ci,
                                verdict(target.lift, ci), note))  # fmt: skip
    return out
