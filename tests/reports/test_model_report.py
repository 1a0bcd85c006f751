"""The model report: one offline HTML file per model, for a classifier and for an uplift model,
in zh-CN and English, with the monitoring section when a monitoring result is given."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from lodestar.i18n import t
from lodestar.modeling.metrics import gains_table
from lodestar.modeling.monitoring import monitor, reference_profile
from lodestar.reports.model_report import MAX_CURVE_POINTS, write_model_report

PLOTLY_HEAD = get_plotlyjs()[:300]


def classifier_data(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=n)
    prob = 1 / (1 + np.exp(-(2 * x - 1)))
    y = (rng.uniform(size=n) < prob).astype(int)
    return y, prob


def uplift_data(n: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.uniform(size=n)
    treatment = (rng.uniform(size=n) < 0.5).astype(int)
    y = (rng.uniform(size=n) < 0.05 + 0.2 * treatment * x).astype(int)
    return y, treatment, x + rng.normal(0, 0.1, n)


def in_figure(text: str, html: str) -> bool:
    # Figure JSON escapes non-ASCII characters (\\uXXXX), so look for either spelling.
    return text in html or json.dumps(text)[1:-1] in html


def visible_text(html: str) -> str:
    # Titles and table cells, without the inlined plotly.js and figure JSON.
    return re.sub(r"<script.*?</script>", "", html, flags=re.S)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_classifier_report_has_every_chart_the_gains_table_and_one_plotly_bundle(
    tmp_path: Path, locale: str
) -> None:
    y, prob = classifier_data()
    path = write_model_report(
        tmp_path / "model.html",
        title="response-v3",
        kind="response",
        y=y,
        scores=prob,
        importance={"age": 12.0, "balance": 30.5, "tenure": 4.0},
        metrics={"auc": 0.81234, "train_rows": 12000},
        locale=locale,
    )
    html = path.read_text(encoding="utf-8")
    assert html.count(PLOTLY_HEAD) == 1
    assert html.count("Plotly.newPlot") == 6  # ROC, KS, lift, calibration, distribution, importance
    assert f'<html lang="{locale}">' in html
    text = visible_text(html)
    for key in ("mreport.summary", "mreport.gains", "mreport.lift", "mreport.calibration",
                "mreport.distribution", "mreport.importance"):  # fmt: skip
        assert t(key, locale) in text, key
    assert t("mreport.roc", locale, auc=0.5).split("（")[0].split("(")[0] in text
    assert t("mreport.ks", locale, ks=0.5).split("（")[0].split("(")[0] in text
    assert "KS" in text and "ROC" in text
    # The gains table: one row per decile with the numbers of metrics.gains_table.
    gains = gains_table(y, prob)
    assert t("mreport.g.cumulative_lift", locale) in text
    assert f"{gains.lift[0]:.4f}" in text and f"{gains.cumulative_capture[1]:.2%}" in text
    assert "0.8123" in text  # a given metric overrides the recomputed one
    assert "train_rows" in text and "12,000" in text
    assert t("mreport.monitoring", locale) not in text
    if locale == "zh-CN":
        assert "分数十分位收益与提升表" in text and in_figure("正样本（1）", html)
    else:
        assert "Gains and lift table" in text and in_figure("positives (1)", html)


def test_risk_classes_are_goods_and_bads_and_non_probabilities_skip_calibration(
    tmp_path: Path,
) -> None:
    y, prob = classifier_data()
    logit = np.log(prob / (1 - prob))
    html = write_model_report(
        tmp_path / "risk.html", title="risk", kind="risk", y=y, scores=logit, locale="en"
    ).read_text(encoding="utf-8")
    assert "bads (1)" in html and "goods (0)" in html
    assert t("mreport.not_probabilities", "en") in html
    assert t("mreport.m.brier", "en") not in visible_text(html)


def test_curves_are_thinned_for_large_inputs(tmp_path: Path) -> None:
    y, prob = classifier_data(60_000)
    path = write_model_report(tmp_path / "big.html", title="big", kind="churn", y=y, scores=prob)
    size_without_plotly = len(path.read_text(encoding="utf-8")) - len(get_plotlyjs())
    assert size_without_plotly < 400_000  # 60,000 distinct scores, drawn with ~400 points
    assert MAX_CURVE_POINTS <= 400


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_uplift_report_has_qini_uplift_and_decile_charts(tmp_path: Path, locale: str) -> None:
    y, treatment, uplift = uplift_data()
    html = write_model_report(
        tmp_path / "uplift.html",
        title="uplift-v1",
        kind="uplift",
        y=y,
        treatment=treatment,
        uplift=uplift,
        locale=locale,
    ).read_text(encoding="utf-8")
    assert html.count(PLOTLY_HEAD) == 1
    assert html.count("Plotly.newPlot") == 3
    text = visible_text(html)
    for key in ("mreport.qini", "mreport.uplift_curve", "mreport.by_decile", "mreport.m.qini",
                "mreport.m.auuc", "mreport.m.uplift_top_30"):  # fmt: skip
        assert t(key, locale) in text, key
    assert t("mreport.gains", locale) not in text
    assert t("mreport.random", locale) in html


def test_monitoring_section_shows_drift_chart_and_alerts(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"income": rng.lognormal(9, 0.5, 5000), "city": rng.choice(["a", "b"], 5000)})
    y, prob = classifier_data(5000)
    ref = reference_profile(X, prob, y, {"income": "numeric", "city": "categorical"})
    X_new = X.assign(income=X["income"] * 2)
    result = monitor(ref, X_new, prob, y)
    assert result.status == "alert"
    for locale in ("zh-CN", "en"):
        html = write_model_report(
            tmp_path / f"monitor-{locale}.html",
            title="response-v3",
            kind="response",
            y=y,
            scores=prob,
            monitoring=result,
            locale=locale,
        ).read_text(encoding="utf-8")
        text = visible_text(html)
        assert html.count(PLOTLY_HEAD) == 1
        assert t("mreport.monitoring", locale) in text
        assert t("mreport.drift", locale) in text
        assert t("mreport.alerts", locale) in text
        alert = next(a for a in result.alerts if a.feature == "income")
        assert alert.message(locale) in text
        assert in_figure(t("mreport.warning_line", locale, value=0.1), html)  # threshold lines
        assert in_figure(t("mreport.alert_line", locale, value=0.25), html)
    # Monitoring alone (no evaluation arrays) is a valid report too.
    alone = write_model_report(
        tmp_path / "alone.html", title="m", kind="risk", monitoring=monitor(ref, X, prob)
    ).read_text(encoding="utf-8")
    assert t("mreport.no_alerts", "zh-CN") in alone
    assert t("mreport.gains", "zh-CN") not in alone


def test_inputs_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs both y and scores"):
        write_model_report(tmp_path / "x.html", title="x", kind="response", y=[0, 1])
    with pytest.raises(ValueError, match="no \\['treatment'\\]"):
        write_model_report(tmp_path / "x.html", title="x", kind="uplift", y=[0, 1], uplift=[1, 2])
    with pytest.raises(ValueError, match="2 rows but scores has 3"):
        write_model_report(
            tmp_path / "x.html", title="x", kind="response", y=[0, 1], scores=[0.1, 0.2, 0.3]
        )
