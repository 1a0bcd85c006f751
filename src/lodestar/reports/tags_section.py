"""Report section: what the tag library says about the base — how many customers carry each
boolean tag (by theme), and the split of the main category tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lodestar.profile.tag_summary import TagStats
from lodestar.profile.tags import TagDef
from lodestar.reports.html import Section, _fig_html

#: category tags worth a chart in the overview, in this order
HEADLINE_CATEGORIES = ("aum_band", "income_level", "preferred_channel", "age_band")


def tags_section(
    stats: Sequence[TagStats], definitions: Mapping[str, TagDef], locale: str
) -> Section:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    zh = locale == "zh-CN"
    booleans = sorted((s for s in stats if s.share_true is not None),
                      key=lambda s: (definitions[s.name].group if s.name in definitions else "",
                                     -(s.share_true or 0.0)))  # fmt: skip
    labels = [definitions[s.name].label(locale) if s.name in definitions else s.name
              for s in booleans]  # fmt: skip
    groups = [definitions[s.name].group if s.name in definitions else "custom" for s in booleans]
    bars = go.Figure(go.Bar(
        x=[s.share_true for s in booleans], y=labels, orientation="h",
        customdata=groups, hovertemplate="%{y} (%{customdata}): %{x:.1%}<extra></extra>",
    ))  # fmt: skip
    bars.update_layout(height=max(360, 18 * len(booleans)), xaxis_tickformat=".0%",
                       yaxis={"autorange": "reversed"},
                       margin={"l": 220, "r": 20, "t": 30, "b": 40})  # fmt: skip
    cats = [s for name in HEADLINE_CATEGORIES for s in stats if s.name == name and s.top_values]
    html = _fig_html(bars)
    if cats:
        grid = make_subplots(rows=1, cols=len(cats), specs=[[{"type": "domain"}] * len(cats)],
                             subplot_titles=[definitions[s.name].label(locale)
                                             if s.name in definitions else s.name for s in cats])  # fmt: skip
        for i, s in enumerate(cats, start=1):
            tag = definitions.get(s.name)
            names = [tag.value_label(v, locale) if tag else v for v, _ in s.top_values]
            grid.add_trace(go.Pie(labels=names, values=[k for _, k in s.top_values], hole=0.45,
                                  textinfo="percent", showlegend=False), 1, i)  # fmt: skip
        grid.update_layout(height=340, margin={"l": 20, "r": 20, "t": 60, "b": 20})
        html += _fig_html(grid)
    n = len(stats)
    title = (f"客户标签（{n} 个标签：布尔标签覆盖率与主要分类分布）" if zh
             else f"Customer tags ({n} tags: coverage of yes/no tags, main category splits)")  # fmt: skip
    return Section(title, html)
