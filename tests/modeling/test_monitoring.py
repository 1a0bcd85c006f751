"""Model monitoring: PSI / CSI worked by hand on small frames, alerts on a real shift and none on
a fresh sample of the same distribution, unseen categories, AUC decay, thresholds and the JSON
round trip of the reference profile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lodestar.modeling.drift import PSI_EMPTY_SHARE
from lodestar.modeling.monitoring import (
    MonitoringError,
    ReferenceProfile,
    Thresholds,
    monitor,
    reference_profile,
)
from lodestar.modeling.tabular import read_training_data

E = PSI_EMPTY_SHARE


def term(actual: float, expected: float) -> float:
    a, e = max(actual, E), max(expected, E)
    return (a - e) * math.log(a / e)


def small_reference() -> ReferenceProfile:
    X = pd.DataFrame({"age": np.arange(10.0), "city": ["a"] * 6 + ["b"] * 4})
    scores = np.arange(10) / 10
    return reference_profile(X, scores, None, {"age": "numeric", "city": "categorical"}, bins=2)


def test_reference_bins_and_shares_by_hand() -> None:
    ref = small_reference()
    age, city = ref.features["age"], ref.features["city"]
    assert age.edges == (4.5,)  # the median of 0..9
    assert age.labels == ("(-inf, 4.5]", "(4.5, inf]", "missing")
    assert age.shares == (0.5, 0.5, 0.0)
    assert city.categories == ("a", "b")
    assert city.labels == ("a", "b", "other", "missing")
    assert city.shares == (0.6, 0.4, 0.0, 0.0)
    assert ref.score.edges == (0.45,)
    assert ref.rows == 10 and ref.auc is None


def test_psi_and_csi_by_hand() -> None:
    ref = small_reference()
    X_new = pd.DataFrame(
        {"age": [0.0] * 8 + [9.0, np.nan], "city": ["a"] * 5 + ["c"] * 3 + [None] * 2}
    )
    scores_new = np.array([0.1] * 10)
    result = monitor(ref, X_new, scores_new)
    # age: shares 0.5/0.5/0 become 0.8/0.1/0.1 (the NaN is its own bin).
    assert result.feature_csi["age"].value == pytest.approx(
        term(0.8, 0.5) + term(0.1, 0.5) + term(0.1, 0.0)
    )
    # city: "c" was never seen, so it is "other"; None is missing; "b" disappears.
    assert result.feature_csi["city"].value == pytest.approx(
        term(0.5, 0.6) + term(0.0, 0.4) + term(0.3, 0.0) + term(0.2, 0.0)
    )
    assert result.feature_csi["city"].actual_share.tolist() == pytest.approx([0.5, E, 0.3, 0.2])
    # score: everyone now in the lower half.
    assert result.score_psi.value == pytest.approx(term(1.0, 0.5) + term(0.0, 0.5))
    assert result.score_psi.labels == ("(-inf, 0.45]", "(0.45, inf]")  # empty missing bin dropped


def test_a_shifted_distribution_raises_alerts_and_a_fresh_sample_does_not() -> None:
    rng = np.random.default_rng(7)

    def sample(n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
        income = rng.lognormal(9 + shift, 0.5, n)
        channel = rng.choice(["app", "branch", "web"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4])
        score = 1 / (1 + np.exp(-(np.log(income) - 9 - rng.normal(0, 1, n))))
        return pd.DataFrame({"income": income, "channel": channel}), score

    kinds = {"income": "numeric", "channel": "categorical"}
    X_ref, s_ref = sample(20_000, 0.0)
    ref = reference_profile(X_ref, s_ref, None, kinds)

    same = monitor(ref, *sample(20_000, 0.0))
    assert same.alerts == ()
    assert same.status == "ok"
    assert same.score_psi.value < 0.01
    assert max(t.value for t in same.feature_csi.values()) < 0.01

    shifted = monitor(ref, *sample(20_000, 1.0))
    assert shifted.status == "alert"
    by_what = {(a.metric, a.feature): a for a in shifted.alerts}
    assert by_what["csi", "income"].level == "alert"
    assert by_what["csi", "income"].threshold == 0.25
    assert by_what["psi", None].level == "alert"
    # channel moves 0.5/0.3/0.2 -> 0.25/0.3/0.45: CSI ~0.33 (an alert too)
    assert by_what["csi", "channel"].value == pytest.approx(
        term(0.25, 0.5) + term(0.45, 0.2), abs=0.03
    )
    assert "CSI" in by_what["csi", "income"].message_en
    assert "income" in by_what["csi", "income"].message_zh
    assert by_what["csi", "income"].message("zh-CN").startswith("告警")


def test_unseen_categories_go_to_other_and_rare_ones_are_pooled() -> None:
    X = pd.DataFrame({"job": ["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5})
    ref = reference_profile(X, np.zeros(100), None, {"job": "categorical"}, max_categories=2)
    job = ref.features["job"]
    assert job.categories == ("a", "b")
    assert job.shares == (0.5, 0.3, 0.2, 0.0)  # c and d pooled as "other"
    new = pd.DataFrame({"job": ["a"] * 50 + ["b"] * 30 + ["zz"] * 20})
    result = monitor(ref, new, np.zeros(100))
    assert result.feature_csi["job"].value == pytest.approx(0.0)  # "zz" takes other's place
    # Numbers in a categorical column compare as text, as the classifier's columns do.
    numeric_codes = reference_profile(
        pd.DataFrame({"code": [1, 1, 2]}), np.zeros(3), None, {"code": "categorical"}
    )
    assert numeric_codes.features["code"].categories == ("1", "2")


def test_auc_decay_when_labels_are_partly_flipped() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame({"x": rng.normal(size=n)})
    score = 1 / (1 + np.exp(-3 * X["x"].to_numpy()))
    y = (rng.uniform(size=n) < score).astype(int)
    ref = reference_profile(X, score, y, {"x": "numeric"})
    assert ref.auc == pytest.approx(roc_auc_score(y, score))
    assert ref.positive_rate == pytest.approx(y.mean())

    unchanged = monitor(ref, X, score, y)
    assert unchanged.auc_drop == pytest.approx(0.0)
    assert unchanged.alerts == ()

    flipped = y.copy()
    flip = rng.uniform(size=n) < 0.2
    flipped[flip] = 1 - flipped[flip]
    result = monitor(ref, X, score, flipped)
    assert result.auc_new == pytest.approx(roc_auc_score(flipped, score))
    assert result.auc_drop == pytest.approx(ref.auc - roc_auc_score(flipped, score))
    assert result.auc_drop is not None and result.auc_drop > 0.05
    (alert,) = result.alerts  # same rows, so no drift: only the AUC alert
    assert (alert.level, alert.metric, alert.feature) == ("alert", "auc_drop", None)

    mild = Thresholds(auc_drop_warning=0.0, auc_drop_alert=1.0)
    assert monitor(ref, X, score, flipped, mild).alerts[0].level == "warning"
    # One class only: no AUC to compare, drift is still reported.
    assert monitor(ref, X, score, np.zeros(n)).auc_new is None


def test_thresholds_boundaries_and_from_dict_errors() -> None:
    ref = small_reference()
    X_new = pd.DataFrame({"age": [0.0] * 8 + [9.0] * 2, "city": ["a"] * 6 + ["b"] * 4})
    csi_age = 0.3 * math.log(4)  # 0.4159
    exact = Thresholds(csi_warning=0.1, csi_alert=csi_age)
    (alert,) = [a for a in monitor(ref, X_new, np.arange(10) / 10, thresholds=exact).alerts]
    assert (alert.level, alert.feature, alert.threshold) == ("alert", "age", csi_age)

    assert Thresholds.from_dict({}) == Thresholds()
    assert Thresholds.from_dict({"psi_warning": 0.2, "psi_alert": 1}).psi_alert == 1.0
    with pytest.raises(MonitoringError, match=r"monitor.yaml: unknown threshold\(s\) psi"):
        Thresholds.from_dict({"psi": 0.2}, source="monitor.yaml")
    with pytest.raises(MonitoringError, match="csi_alert must be a number, got 'high'"):
        Thresholds.from_dict({"csi_alert": "high"})
    with pytest.raises(MonitoringError, match=r"x.yaml: psi_warning \(0.3\) is above psi_alert"):
        Thresholds.from_dict({"psi_warning": 0.3}, source="x.yaml")
    with pytest.raises(MonitoringError, match=">= 0"):
        Thresholds(auc_drop_warning=-0.1)
    with pytest.raises(MonitoringError, match="mapping"):
        Thresholds.from_dict([0.1])


def test_reference_profile_round_trips_through_json_and_stays_small() -> None:
    rng = np.random.default_rng(1)
    n = 50_000
    columns: dict[str, object] = {f"num{i}": rng.normal(size=n) for i in range(40)}
    columns |= {f"cat{i}": rng.choice([f"c{k}" for k in range(60)], n) for i in range(10)}
    columns["opened"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 2000, n), unit="D"
    )
    X = pd.DataFrame(columns)
    kinds = {name: "numeric" if name.startswith("num") else "categorical" for name in columns}
    kinds["opened"] = "datetime"
    score = rng.uniform(size=n)
    ref = reference_profile(X, score, (score > 0.5).astype(int), kinds)
    text = json.dumps(ref.to_dict())
    assert len(text) < 40_000  # 51 features in a few tens of kilobytes at most
    again = ReferenceProfile.from_dict(json.loads(text))
    assert again == ref
    assert again.features["opened"].labels[0].startswith("(-inf, 2020-")
    result = monitor(again, X, score, (score > 0.5).astype(int))
    assert result.alerts == () and result.auc_drop == 0.0
    json.dumps(result.to_dict())  # JSON-ready
    assert result.to_dict()["bins"]["score"][0]["expected_share"] == pytest.approx(0.1)
    assert len(result.to_dict()["bins"]["features"]["cat0"]) == 20 + 1  # top 20 + other


def test_bad_inputs_and_bad_profiles_say_what() -> None:
    ref = small_reference()
    with pytest.raises(ValueError, match="X_new has no column\\(s\\) city"):
        monitor(ref, pd.DataFrame({"age": [1.0]}), [0.5])
    with pytest.raises(ValueError, match="scores_new must be one score per row"):
        monitor(ref, pd.DataFrame({"age": [1.0], "city": ["a"]}), [0.5, 0.4])
    with pytest.raises(ValueError, match="kind must be one of"):
        reference_profile(pd.DataFrame({"a": [1]}), [0.1], None, {"a": "text"})
    data = ref.to_dict()
    with pytest.raises(MonitoringError, match="version 9 is not supported"):
        ReferenceProfile.from_dict({**data, "version": 9}, source="reference.json")
    del data["features"]["age"]["shares"]
    with pytest.raises(MonitoringError, match=r"reference\.json: features\.age: field 'shares'"):
        ReferenceProfile.from_dict(data, source="reference.json")


@pytest.mark.realdata
def test_bank_marketing_drifts_over_time_but_not_between_random_halves(shared_data: Path) -> None:
    """UCI Bank Marketing is in time order (May 2008 to November 2010): a random half matches
    the other half, while the last rows (2010) differ from the first ones in month and in the
    outcome of earlier campaigns."""
    data = read_training_data(shared_data / "bank-marketing" / "bank-full.csv", "y")
    X = data.X
    score = np.log1p(X["balance"].clip(lower=0).to_numpy()) + X["age"].to_numpy() / 10
    order = np.random.default_rng(0).permutation(len(X))
    half, rest = order[: len(X) // 2], order[len(X) // 2 :]
    ref = reference_profile(X.iloc[half], score[half], data.y[half], data.features)
    same = monitor(ref, X.iloc[rest], score[rest], data.y[rest])
    assert same.status == "ok", same.alerts
    assert abs(same.auc_drop or 0.0) < 0.03

    early = reference_profile(X.iloc[:20_000], score[:20_000], None, data.features)
    late = monitor(early, X.iloc[-5_000:], score[-5_000:])
    alerted = {a.feature for a in late.alerts if a.level == "alert"}
    assert {"month", "poutcome"} <= alerted
