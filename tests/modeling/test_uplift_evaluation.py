"""evaluate_uplift and policy_value against small examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lodestar.modeling import metrics
from lodestar.modeling.uplift_evaluation import evaluate_uplift, policy_value


def test_policy_value_by_hand() -> None:
    # arm shares 4/6 (control) and 2/6; rows 0, 2, 4 and 5 got what the policy recommends:
    # (1 / (4/6) + 0 + 1 / (2/6) + 0) / 6 = (1.5 + 3) / 6 = 0.75
    y = np.array([1, 0, 0, 1, 1, 0])
    t = np.array(["no", "no", "no", "no", "mail", "mail"], dtype=object)
    policy = np.array(["no", "mail", "no", "mail", "mail", "mail"], dtype=object)
    result = policy_value(y, t, policy)
    assert result["value"] == pytest.approx(0.75)
    assert result["control_value"] == pytest.approx(0.5)
    assert result["gain"] == pytest.approx(0.25)
    assert result["followed_rows"] == 4
    assert result["share_by_arm"] == pytest.approx({"no": 2 / 6, "mail": 4 / 6})
    with pytest.raises(ValueError, match=r"not in treatment: \['sms'\]"):
        policy_value(y, t, np.where(policy == "mail", "sms", policy))


def test_several_treatments_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1])
    t = np.array(["none"] * 3 + ["a"] * 3 + ["b"] * 3, dtype=object)
    # best per row: a, none, none (a score of 0 is not a gain), a, b, a, b, none, b
    scores = np.array([[0.2, 0.1], [-0.1, -0.2], [-1.0, 0.0], [0.3, 0.1], [0.1, 0.5],
                       [0.4, -1.0], [0.0, 0.2], [-0.5, -0.5], [0.1, 0.3]])  # fmt: skip
    result = evaluate_uplift(y, t, scores)
    # followed: rows 1, 2 (none), 3, 5 (a), 6, 8 (b); each arm a third: (0+1+0+1+0+1) * 3 / 9
    assert result["policy"]["value"] == pytest.approx(1.0)
    assert result["policy"]["control_value"] == pytest.approx(2 / 3)
    assert result["policy"]["share_by_arm"] == pytest.approx(
        {"none": 1 / 3, "a": 1 / 3, "b": 1 / 3}
    )
    assert set(result["treatments"]) == {"a", "b"}
    a = result["treatments"]["a"]
    rows = np.r_[0:6]
    flags = (t[rows] == "a").astype(int)
    assert a["rows"] == 6 and a["treated_rows"] == 3
    assert a["qini"] == pytest.approx(metrics.qini_coefficient(y[rows], flags, scores[rows, 0]))
    assert result["qini"] == pytest.approx(np.mean([a["qini"], result["treatments"]["b"]["qini"]]))
    with pytest.raises(ValueError, match=r"must have shape \(9, 2\)"):
        evaluate_uplift(y, t, scores[:, 0])


def test_one_treatment_matches_the_metrics() -> None:
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, 2000)
    score = rng.normal(size=2000)
    y = (rng.random(2000) < 0.2 + 0.1 * t * (score > 0)).astype(int)
    result = evaluate_uplift(y, t, score)
    assert result["qini"] == pytest.approx(metrics.qini_coefficient(y, t, score))
    assert result["auuc"] == pytest.approx(metrics.auuc(y, t, score))
    assert result["uplift_at_30"] == pytest.approx(metrics.uplift_at(y, t, score, 0.3))
    assert result["uplift_at_10"] == pytest.approx(metrics.uplift_at(y, t, score, 0.1))
    deciles = metrics.uplift_by_decile(y, t, score).uplift
    np.testing.assert_allclose(result["uplift_by_decile"], deciles)
    # treat where the score is positive: the IPW value uses each arm's share of the rows
    treat = score > 0
    share = t.mean()
    expected = (y[treat & (t == 1)].sum() / share + y[~treat & (t == 0)].sum() / (1 - share)) / 2000
    assert result["policy"]["value"] == pytest.approx(expected)
    revenue = evaluate_uplift(y * 12.5, t, score)
    assert revenue["auuc"] is None
    assert revenue["qini"] == pytest.approx(result["qini"])
