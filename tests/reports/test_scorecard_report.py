"""The scorecard report: one offline HTML file with the bins tables, charts and stability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lodestar.modeling.scorecard import Scorecard
from lodestar.reports.scorecard_report import write_scorecard_report


def sample(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    util = rng.uniform(0, 1.2, n)
    grade = rng.choice(["x", "y", "z"], n)
    logit = -2 + 2.5 * util + np.where(grade == "z", 1.0, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"utilisation": util, "grade": pd.Series(grade).astype("category")}), y


def test_report_is_written_with_tables_and_charts(tmp_path: Path) -> None:
    X, y = sample(2000, 0)
    X_test, y_test = sample(800, 1)
    X_test["utilisation"] += 0.3  # a drift the stability section must show
    card = Scorecard().fit(X, y)
    path = write_scorecard_report(card, X, y, X_test, y_test, tmp_path / "card.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and 'lang="zh-CN"' in html
    assert "<script src=" not in html and "Plotly" in html  # inlined: opens offline
    for text in ("信用评分卡报告", "utilisation 的分箱", "grade 的分箱", "WOE", "AUC", "KS 曲线",
                 "分数 PSI", "显著偏移"):  # fmt: skip
        assert text in html, text
    assert html.count('class="bins"') == len(card.selected_features_)


def test_report_in_english_without_second_sample(tmp_path: Path) -> None:
    X, y = sample(1500, 2)
    card = Scorecard().fit(X, y)
    path = write_scorecard_report(card, X, y, None, None, tmp_path / "card.html", locale="en")
    html = path.read_text(encoding="utf-8")
    assert "Credit scorecard report" in html and "Bins of utilisation" in html
    assert "No comparison sample was given" in html
