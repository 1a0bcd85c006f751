"""The personas section of the HTML report: persona sizes, how each persona differs from the
overall mean on every feature (a heatmap of z-scores), and the score of every k tried.

>>> from lodestar.reports.personas_section import personas_section  # doctest: +SKIP
>>> section = personas_section(ws.personas(), "en")  # doctest: +SKIP
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from lodestar.profile.features import FEATURES
from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.profile.personas import PersonaResult

TEXT = {
    "en": {
        "title": "Personas ({k}, {method}, as of {as_of})",
        "sizes": "Customers per persona",
        "heatmap": "How each persona differs from the average customer (standard deviations)",
        "scores_silhouette": "Mean silhouette by number of personas (higher is better)",
        "scores_bic": "BIC by number of personas (lower is better)",
        "persona": "persona",
        "customers": "customers",
        "share": "share",
        "traits": "traits",
        "dropped": "Features left out: {items}",
        "all_null": "no values",
        "constant": "same for everyone",
        "not_requested": "not requested",
    },
    "zh-CN": {
        "title": "客群画像（{k} 个，{method}，截至 {as_of}）",
        "sizes": "各客群客户数",
        "heatmap": "各客群与全体客户的差异（标准差）",
        "scores_silhouette": "不同客群数的平均轮廓系数（越高越好）",
        "scores_bic": "不同客群数的 BIC（越低越好）",
        "persona": "客群",
        "customers": "客户数",
        "share": "占比",
        "traits": "主要特征",
        "dropped": "未使用的特征：{items}",
        "all_null": "无数据",
        "constant": "取值相同",
        "not_requested": "未选用",
    },
}


def personas_section(result: PersonaResult, locale: str) -> Section:
    """A report :class:`~lodestar.reports.html.Section` for a :class:`PersonaResult`."""
    import plotly.graph_objects as go

    zh = locale == "zh-CN"
    L = TEXT["zh-CN" if zh else "en"]
    names = [p.name if zh else p.name_en for p in result.profiles]
    layout = {"height": 380, "margin": {"l": 60, "r": 20, "t": 40, "b": 110}}

    sizes = go.Figure(go.Bar(x=names, y=[p.size for p in result.profiles],
                             text=[f"{p.share:.1%}" for p in result.profiles]))  # fmt: skip
    sizes.update_layout(title=L["sizes"], **layout)

    labels = [FEATURES[f].label if zh else FEATURES[f].label_en for f in result.features]
    z = [[p.z[f] for f in result.features] for p in result.profiles]
    heat = go.Figure(go.Heatmap(z=z, x=labels, y=names, zmid=0, colorscale="RdBu",
                                reversescale=True, colorbar={"title": "z"}))  # fmt: skip
    heat.update_layout(title=L["heatmap"], height=max(320, 60 * len(names) + 200),
                       margin={"l": 220, "r": 20, "t": 40, "b": 140})  # fmt: skip

    ks = sorted(result.scores)
    scores = go.Figure(go.Scatter(x=ks, y=[result.scores[k] for k in ks], mode="lines+markers"))
    scores.add_vline(x=result.k, line_dash="dash")
    scores.update_layout(title=L[f"scores_{result.metric}"], xaxis_title="k",
                         **{**layout, "margin": {"l": 60, "r": 20, "t": 40, "b": 50}})  # fmt: skip

    head = "".join(f"<th>{escape(L[c])}</th>" for c in ("persona", "customers", "share", "traits"))
    rows = "".join(
        "<tr>"
        f"<td>{escape(p.name if zh else p.name_en)}</td><td>{p.size:,}</td>"
        f"<td>{p.share:.1%}</td>"
        f"<td>{escape(('、' if zh else ', ').join(t.label if zh else t.label_en for t in p.traits))}</td>"
        "</tr>"
        for p in result.profiles
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    note = ""
    if result.dropped:
        items = ("、" if zh else ", ").join(
            f"{FEATURES[d.feature].label if zh else FEATURES[d.feature].label_en} ({L[d.reason]})"
            for d in result.dropped
        )
        note = f"<p>{escape(L['dropped'].format(items=items))}</p>"
    title = L["title"].format(k=result.k, method=result.model.meta.get("params", {}).get(
        "method", "kmeans"), as_of=result.as_of)  # fmt: skip
    body = table + note + _fig_html(sizes) + _fig_html(heat) + _fig_html(scores)
    return Section(title, body)
