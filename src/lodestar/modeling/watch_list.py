"""The churn watch list: who is likely to leave in the next N days, what is at stake, and why.

Rows come from :func:`lodestar.modeling.scoring.score_frame` of a churn model (``probability``
and ``reason_*`` columns). Each customer's *value at risk* is the probability times the value
given (e.g. deposits and wealth, or yearly revenue); the list is ordered by it so retention
teams call the customers whose loss would cost most first, not merely the likeliest leavers.
Levels: ``high`` at or above ``high`` (default 0.5), ``medium`` at or above ``medium``
(default 0.2), else ``low``; only rows at or above ``min_probability`` are listed.

>>> import pandas as pd
>>> scored = pd.DataFrame({"customer_id": ["a", "b", "c"], "probability": [0.9, 0.3, 0.05]})
>>> watch_list(scored, value=pd.Series([100.0, 1000.0, 5.0]))["customer_id"].tolist()
['b', 'a']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lodestar.errors import ConfigError
from lodestar.modeling.scoring import joined_reasons


@dataclass(frozen=True)
class WatchLevels:
    """Probability thresholds of the levels, and the lowest probability listed."""

    high: float = 0.5
    medium: float = 0.2
    min_probability: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.medium <= self.high <= 1:
            raise ConfigError(
                f"watch-list levels need 0 <= medium ({self.medium}) <= high ({self.high}) <= 1"
            )
        if not 0 <= self.min_probability <= 1:
            raise ConfigError(f"min_probability must be in [0, 1], not {self.min_probability}")


def watch_list(
    scored: pd.DataFrame,
    *,
    value: pd.Series | None = None,
    levels: WatchLevels | None = None,
    top: int | None = None,
) -> pd.DataFrame:
    """The watch list from churn scores (see the module doc), highest value at risk first."""
    levels = levels or WatchLevels()
    if "probability" not in scored.columns:
        raise ConfigError("a watch list needs churn scores: a 'probability' column")
    out = scored.reset_index(drop=True).copy()
    probability = out["probability"].to_numpy(dtype=np.float64)
    if value is not None:
        if len(value) != len(out):
            raise ConfigError(f"value has {len(value)} rows but the scores have {len(out)}")
        amounts = pd.to_numeric(pd.Series(value).reset_index(drop=True), errors="coerce")
        out["value"] = amounts.fillna(0.0).to_numpy(dtype=np.float64)
        out["value_at_risk"] = probability * out["value"].to_numpy()
        order_by = "value_at_risk"
    else:
        order_by = "probability"
    out["level"] = np.select(
        [probability >= levels.high, probability >= levels.medium], ["high", "medium"], "low"
    )
    reasons = [c for c in out.columns if re.fullmatch(r"reason_\d+", c)]
    if reasons:
        out["leading_indicators"] = joined_reasons(out, reasons)
        out = out.drop(columns=[c for c in out.columns if c.startswith("reason_")])
    listed = out.loc[probability >= levels.min_probability]
    listed = listed.sort_values([order_by, "probability"], ascending=False, kind="stable")
    if top is not None:
        listed = listed.head(top)
    return listed.reset_index(drop=True)
