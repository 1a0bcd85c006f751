"""Round over round (seed 000: "each round adds 2-5 percentage points"): a campaign's successive
rounds — its plans over time — each with its measured lift in percentage points and the change
from the round before.

The change between two rounds is a difference of two independent differences (different
customers, different holdouts), so its standard error is the root of the two squared ones; the
interval uses the normal quantile like the rounds' own intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

from lodestar.experiments.campaign_effect import Effect


@dataclass(frozen=True)
class Round:
    label: str
    treated: int
    control: int
    #: treated minus holdout conversion rate, in percentage points
    lift_pp: float | None
    lift_pp_ci: tuple[float, float] | None
    #: this round's lift minus the previous round's, percentage points
    change_pp: float | None = None
    change_pp_ci: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rounds(labelled: Sequence[tuple[str, Effect]], *, alpha: float = 0.05) -> list[Round]:
    """One :class:`Round` per ``(label, effect)``, oldest first."""
    q = float(stats.norm.ppf(1 - alpha / 2))
    out: list[Round] = []
    previous: tuple[float, float] | None = None  # (lift, its standard error)
    for label, effect in labelled:
        c = effect.conversions
        if c.absolute is None or c.absolute_ci is None:
            out.append(Round(label, effect.treated, effect.control, None, None))
            previous = None
            continue
        lift = 100 * c.absolute
        ci = (100 * c.absolute_ci[0], 100 * c.absolute_ci[1])
        se = (ci[1] - ci[0]) / (2 * q)
        change = change_ci = None
        if previous is not None:
            change = lift - previous[0]
            half = q * math.hypot(se, previous[1])
            change_ci = (change - half, change + half)
        out.append(Round(label, effect.treated, effect.control, lift, ci, change, change_ci))
        previous = (lift, se)
    return out
