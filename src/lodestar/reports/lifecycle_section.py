"""Report section for lifecycle stages: customers per stage at each month end (stacked bars)
and the month-over-month transition probabilities (a heatmap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lodestar.i18n import t
from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.profile.lifecycle import LifecycleResult


def lifecycle_section(result: LifecycleResult, locale: str) -> Section:
    import plotly.graph_objects as go

    from lodestar.profile.lifecycle import STAGES

    names = [zh if locale == "zh-CN" else en for _, zh, en in STAGES]
    months = [m.strftime("%Y-%m") for m in result.months]
    layout = {"height": 400, "margin": {"l": 70, "r": 20, "t": 30, "b": 60}}

    stacked = go.Figure()
    for i, name in enumerate(names):
        stacked.add_trace(go.Bar(x=months, y=result.stage_counts[:, i].tolist(), name=name))
    stacked.update_layout(barmode="stack", yaxis_title=t("lifecycle.customers", locale), **layout)

    probs = result.probabilities(result.transitions)
    text = [["" if np.isnan(v) else f"{v:.0%}" for v in row] for row in probs]
    heat = go.Figure(
        go.Heatmap(z=[[None if np.isnan(v) else float(v) for v in row] for row in probs],
                   x=names, y=names,
                   text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                   colorbar={"tickformat": ".0%"})
    )  # fmt: skip
    heat.update_layout(title=t("lifecycle.heatmap", locale), yaxis_autorange="reversed",
                       xaxis_title=t("lifecycle.from", locale).split("\\")[-1].strip(),
                       yaxis_title=t("lifecycle.from", locale).split("\\")[0].strip(),
                       **layout)  # fmt: skip
    title = t("lifecycle.section", locale, as_of=result.as_of)
    return Section(title, _fig_html(stacked) + _fig_html(heat))
