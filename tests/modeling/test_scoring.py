"""Scoring outputs, the risk pre-screen and the churn watch list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lodestar.errors import ConfigError
from lodestar.modeling.scoring import PrescreenPolicy, decile, prescreen, reason_codes
from lodestar.modeling.watch_list import WatchLevels, watch_list


@given(st.lists(st.floats(0, 1), min_size=1, max_size=300))
def test_deciles_are_1_to_10_and_follow_the_score(scores: list[float]) -> None:
    values = np.array(scores)
    d = decile(values)
    assert d.min() >= 1 and d.max() <= 10
    order = np.argsort(-values, kind="stable")
    assert np.all(np.diff(d[order]) >= 0)  # a higher score never gets a later decile
    if len(values) >= 10 and len(set(scores)) == len(scores):
        assert np.bincount(d, minlength=11)[1:].min() >= len(values) // 10


def test_prescreen_by_probability_share_and_band() -> None:
    scored = pd.DataFrame({
        "probability": [0.01, 0.20, 0.05, 0.50, 0.03],
        "band": ["A", "D", "E", "E", "B"],
        "reason_1": ["", "late_90d", "utilisation", "late_90d", ""],
        "reason_2": ["", "utilisation", "", "", ""],
    })  # fmt: skip
    by_pd = prescreen(scored, PrescreenPolicy(max_probability=0.1))
    assert by_pd["prescreen"].tolist() == ["pass", "decline", "pass", "decline", "pass"]
    assert by_pd["decline_reason"][1] == "probability>0.1: late_90d, utilisation"
    by_share = prescreen(scored, PrescreenPolicy(decline_share=0.4))
    assert by_share["prescreen"].tolist() == ["pass", "decline", "pass", "decline", "pass"]
    by_band = prescreen(scored, PrescreenPolicy(declined_bands=("E",)))
    assert by_band["prescreen"].tolist() == ["pass", "pass", "decline", "decline", "pass"]
    assert by_band["decline_reason"][2] == "band E: utilisation"
    assert by_band["decline_reason"][0] == ""


def test_prescreen_policy_errors() -> None:
    with pytest.raises(ConfigError, match="needs a cut-off"):
        PrescreenPolicy()
    with pytest.raises(ConfigError, match="between 0 and 1"):
        PrescreenPolicy(max_probability=8)
    with pytest.raises(ConfigError, match="unknown field"):
        PrescreenPolicy.from_dict({"max_pd": 0.1})
    with pytest.raises(ConfigError, match=r"prescreen\.max_probability: 'high'"):
        PrescreenPolicy.from_dict({"max_probability": "high"})
    assert PrescreenPolicy.from_dict({"declined_bands": ["E"]}).declined_bands == ("E",)


class _Contributions:
    """Just the contributions interface, to pin the ordering rule on known numbers."""

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"a": [0.5, -0.1], "b": [0.9, 0.2], "c": [-0.3, 0.1]})


def test_reason_codes_take_the_largest_positive_contributions() -> None:
    codes = reason_codes(_Contributions(), pd.DataFrame({"x": [1, 2]}), top=3)
    assert codes.values.tolist() == [["b", "a", ""], ["b", "c", ""]]


def test_watch_list_orders_by_value_at_risk_with_levels() -> None:
    scored = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "probability": [0.9, 0.3, 0.05, 0.6],
        "reason_1": ["fewer_logins", "salary_stopped", "", "balance_down"],
    })  # fmt: skip
    listed = watch_list(scored, value=pd.Series([100.0, 1000.0, 5.0, None]))
    assert listed["customer_id"].tolist() == ["b", "a", "d"]  # c is below the minimum
    assert listed["level"].tolist() == ["medium", "high", "high"]
    assert listed["value_at_risk"].tolist() == pytest.approx([300.0, 90.0, 0.0])
    assert listed["leading_indicators"][0] == "salary_stopped"
    assert watch_list(scored, top=1)["customer_id"].tolist() == ["a"]
    assert len(watch_list(scored, levels=WatchLevels(min_probability=0.0))) == 4
    with pytest.raises(ConfigError, match="medium"):
        WatchLevels(high=0.2, medium=0.5)
