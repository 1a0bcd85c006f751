"""Report section for the model portfolio: each champion's held-out quality, the cumulative
gains of the classifiers on one chart, and how the customers' scores are spread.

It reads what :meth:`lodestar.workspace.Workspace.build_models` left: the registry's records and
held-out rows, and the ``profile_scores`` table.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    import pandas as pd

    from lodestar.modeling.registry import ModelRecord

TEXT = {
    "zh-CN": {
        "title": "模型：风险预筛、响应、增益、评分卡、流失预警、下一最佳产品",
        "kind": "模型类型", "model": "模型", "rows": "训练+验证行数", "quality": "验证集表现",
        "cutoff": "截止日", "gains": "累计捕获率（验证集）：按模型分数排序触达前 x% 客户",
        "population": "触达客户占比", "captured": "捕获的正例占比", "random": "随机",
        "scores": "客户分数分布", "customers": "客户数", "prescreen": "风险预筛：{n:,} 位客户未通过（{share:.1%}）",
        "bands": "评分卡等级分布",
        "note": "所有模型均以时点特征训练（特征截至截止日，标签取其后窗口），并已设为各类型的冠军模型；分数写入 profile_scores，可用于分群与决策。",
    },
    "en": {
        "title": "Models: risk pre-screen, response, uplift, scorecard, churn warning, next best product",
        "kind": "kind", "model": "model", "rows": "rows (train + held out)",
        "quality": "held-out quality", "cutoff": "cut-off",
        "gains": "Cumulative gains (held out): positives captured by contacting the top x% by score",
        "population": "share contacted", "captured": "share of positives captured",
        "random": "random", "scores": "Customers' scores", "customers": "customers",
        "prescreen": "Risk pre-screen: {n:,} customers declined ({share:.1%})",
        "bands": "Scorecard bands",
        "note": "Every model learns from point-in-time features (up to the cut-off; labels from the window after it) and is its kind's champion; the scores are in profile_scores for segments and decisions.",
    },
}  # fmt: skip

KIND_NAMES = {
    "zh-CN": {"risk": "风险（违约概率）", "scorecard": "信用评分卡", "churn": "流失预警",
              "response": "营销响应", "uplift": "增益（净效应）", "nbp": "下一最佳产品"},
    "en": {"risk": "risk (PD)", "scorecard": "credit scorecard", "churn": "churn warning",
           "response": "response", "uplift": "uplift", "nbp": "next best product"},
}  # fmt: skip


def quality_text(metrics: dict[str, Any]) -> str:
    """One line of the figures that matter for the model's task."""
    if metrics.get("auc") is not None and "qini" not in metrics:
        return (f"AUC {metrics['auc']:.3f} · KS {metrics['ks']:.3f} · "
                f"lift@10% {metrics['lift_top_decile']:.2f}")  # fmt: skip
    if "qini" in metrics:
        return f"Qini {metrics['qini']:.3f} · uplift@30% {metrics.get('uplift_at_30') or 0:.3f}"
    return (f"top-1 {metrics.get('top1', 0):.1%} · top-3 {metrics.get('top3', 0):.1%} "
            f"(popularity {metrics.get('baseline_top3', 0):.1%}) · MRR {metrics.get('mrr', 0):.3f}")  # fmt: skip


def models_section(
    records: list[ModelRecord],
    holdouts: dict[str, pd.DataFrame | None],
    scores: pd.DataFrame | None,
    locale: str,
) -> Section:
    """The champions' table, a gains chart of the classifiers, and the score distributions."""
    import plotly.graph_objects as go

    text = TEXT.get(locale, TEXT["en"])
    names = KIND_NAMES.get(locale, KIND_NAMES["en"])
    rows = []
    for r in records:
        frame = r.data.get("frame") or {}
        rows.append(
            f"<tr><td>{escape(names.get(r.kind, r.kind))}</td><td>{escape(r.id)}</td>"
            f"<td class='num'>{r.data.get('rows', 0):,}</td>"
            f"<td>{escape(str(frame.get('cutoff', '')))}</td>"
            f"<td>{escape(quality_text(r.metrics))}</td></tr>"
        )
    head = "".join(f"<th>{text[k]}</th>" for k in ("kind", "model", "rows", "cutoff", "quality"))
    parts = [f"<p>{escape(text['note'])}</p>",
             f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"]  # fmt: skip

    gains = go.Figure()
    for r in records:
        holdout = holdouts.get(r.id)
        if holdout is None or "score" not in holdout:
            continue
        order = np.argsort(-holdout["score"].to_numpy(), kind="stable")
        y = holdout["y"].to_numpy()[order]
        if y.sum() == 0:
            continue
        x = np.arange(1, y.size + 1) / y.size
        captured = np.cumsum(y) / y.sum()
        step = max(1, y.size // 200)
        gains.add_trace(go.Scatter(x=x[::step], y=captured[::step], name=names.get(r.kind, r.kind)))
    if gains.data:
        gains.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name=text["random"], line={"dash": "dash"}))
        gains.update_layout(title=text["gains"], xaxis_title=text["population"],
                            yaxis_title=text["captured"], xaxis_tickformat=".0%",
                            yaxis_tickformat=".0%", height=420)  # fmt: skip
        parts.append(_fig_html(gains))

    if scores is not None and len(scores):
        columns = [c for c in ("score_risk", "score_churn", "score_response", "score_uplift")
                   if c in scores.columns]  # fmt: skip
        if columns:
            spread = go.Figure()
            for c in columns:
                spread.add_trace(go.Histogram(x=scores[c], name=c, opacity=0.6, nbinsx=50))
            spread.update_layout(title=text["scores"], barmode="overlay", height=380,
                                 yaxis_title=text["customers"])  # fmt: skip
            parts.append(_fig_html(spread))
        if "risk_prescreen" in scores.columns:
            declined = int((scores["risk_prescreen"] == "decline").sum())
            parts.append(f"<p>{escape(text['prescreen'].format(n=declined, share=declined / len(scores)))}</p>")  # fmt: skip
        if "risk_band" in scores.columns:
            counts = scores["risk_band"].value_counts().sort_index()
            bands = go.Figure(go.Bar(x=counts.index.astype(str), y=counts.to_numpy()))
            bands.update_layout(title=text["bands"], height=320, yaxis_title=text["customers"])
            parts.append(_fig_html(bands))
    return Section(text["title"], "\n".join(parts))
