"""Report section for value tiers: the Lorenz curve (with the line of equal shares and the 80/20
point) and, per tier, the share of customers against the share of value."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

import numpy as np

from lodestar.i18n import t
from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.profile.value_tiers import ValueTierResult


def tiers_section(result: ValueTierResult, locale: str) -> Section:
    """The value-tier table, the Pareto figures, a Lorenz curve and a tier bar chart."""
    import plotly.graph_objects as go

    zh = locale == "zh-CN"
    p = result.pareto
    layout = {"height": 380, "margin": {"l": 50, "r": 20, "t": 30, "b": 60}}

    lorenz = go.Figure()
    lorenz.add_trace(go.Scatter(x=p.lorenz_x, y=p.lorenz_y, name=t("tiers.lorenz", locale),
                                fill="tozeroy"))  # fmt: skip
    lorenz.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name=t("tiers.equality", locale),
                                line={"dash": "dash"}))  # fmt: skip
    # The curve is exact at the sampled points; 0.8 is one of them for the usual 201 points.
    at80 = float(np.interp(0.8, p.lorenz_x, p.lorenz_y))
    point = t("tiers.point80", locale, share=at80)
    lorenz.add_trace(go.Scatter(x=[0.8], y=[at80], mode="markers+text", name=point,
                                text=[point], textposition="top left",
                                marker={"size": 11, "symbol": "diamond"}))  # fmt: skip
    lorenz.update_layout(xaxis_title=t("tiers.population", locale),
                         yaxis_title=t("tiers.cum_value", locale), xaxis_tickformat=".0%",
                         yaxis_tickformat=".0%", **layout)  # fmt: skip

    names = [str(row["value_tier_name"] if zh else row["value_tier_en"]) for row in result.summary]
    bars = go.Figure()
    bars.add_trace(go.Bar(x=names, y=[row["customer_share"] for row in result.summary],
                          name=t("tiers.customer_share", locale)))  # fmt: skip
    bars.add_trace(go.Bar(x=names, y=[row["value_share"] for row in result.summary],
                          name=t("tiers.value_share", locale)))  # fmt: skip
    bars.update_layout(yaxis_tickformat=".0%", **layout)

    s = p.top_shares
    note = t("tiers.pareto", locale, top1=s[0.01], top5=s[0.05], top10=s[0.1], top20=s[0.2],
             for80=p.customers_for_80, gini=p.gini)  # fmt: skip
    heads = ("tiers.tier", "tiers.customers", "tiers.customer_share", "tiers.value_share",
             "tiers.mean_value")  # fmt: skip
    head = "".join(f"<th>{escape(t(h, locale))}</th>" for h in heads)
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{row['customers']:,}</td>"
        f"<td>{row['customer_share']:.1%}</td><td>{row['value_share']:.1%}</td>"
        f"<td>{'' if row['mean_value'] is None else format(row['mean_value'], ',.2f')}</td></tr>"
        for name, row in zip(names, result.summary, strict=True)
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    measure = t(f"tiers.measure.{result.config.measure}", locale)
    title = t("tiers.section", locale, measure=measure, as_of=result.as_of)
    return Section(title, f"<p>{escape(note)}</p>{table}" + _fig_html(lorenz) + _fig_html(bars))
