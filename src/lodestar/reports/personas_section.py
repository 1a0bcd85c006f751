"""The personas section of the HTML report: persona sizes, how each persona differs from the
overall mean on every feature (a heatmap of z-scores), and the score of every k tried.

>>> from lodestar.reports.personas_section import personas_section  # doctest: +SKIP
>>> section = personas_section(ws.personas(), "en")  # doctest: +SKIP
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from lodestar.i18n import t
from lodestar.profile.features import FEATURES
from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.profile.personas import PersonaResult


def personas_section(result: PersonaResult, locale: str) -> Section:
    """A report :class:`~lodestar.reports.html.Section` for a :class:`PersonaResult`."""
    import plotly.graph_objects as go

    zh = locale == "zh-CN"
    names = [p.name if zh else p.name_en for p in result.profiles]
    layout = {"height": 380, "margin": {"l": 60, "r": 20, "t": 40, "b": 110}}

    sizes = go.Figure(go.Bar(x=names, y=[p.size for p in result.profiles],
                             text=[f"{p.share:.1%}" for p in result.profiles]))  # fmt: skip
    sizes.update_layout(title=t("personas.sizes", locale), **layout)

    labels = [FEATURES[f].label if zh else FEATURES[f].label_en for f in result.features]
    z = [[p.z[f] for f in result.features] for p in result.profiles]
    heat = go.Figure(go.Heatmap(z=z, x=labels, y=names, zmid=0, colorscale="RdBu",
                                reversescale=True, colorbar={"title": "z"}))  # fmt: skip
    # Largest persona on top, in the table's order.
    heat.update_layout(title=t("personas.heatmap", locale), height=max(320, 60 * len(names) + 200),
                       margin={"l": 220, "r": 20, "t": 40, "b": 140},
                       yaxis={"autorange": "reversed"})  # fmt: skip

    ks = sorted(result.scores)
    scores = go.Figure(go.Scatter(x=ks, y=[result.scores[k] for k in ks], mode="lines+markers"))
    scores.add_vline(x=result.k, line_dash="dash")
    scores.update_layout(title=t(f"personas.k_chart.{result.metric}", locale), xaxis_title="k",
                         **{**layout, "margin": {"l": 60, "r": 20, "t": 40, "b": 50}})  # fmt: skip

    head = "".join(
        f"<th>{escape(t(f'personas.{c}', locale))}</th>"
        for c in ("persona", "customers", "share", "traits")
    )
    rows = "".join(
        "<tr>"
        f"<td>{escape(p.name if zh else p.name_en)}</td><td>{p.size:,}</td>"
        f"<td>{p.share:.1%}</td>"
        f"<td>{escape(('、' if zh else ', ').join(tr.label if zh else tr.label_en for tr in p.traits))}</td>"
        "</tr>"
        for p in result.profiles
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    note = ""
    if result.dropped:
        items = ("、" if zh else ", ").join(
            f"{FEATURES[d.feature].label if zh else FEATURES[d.feature].label_en}"
            f" ({t(f'personas.reason.{d.reason}', locale)})"
            for d in result.dropped
        )
        note = f"<p>{escape(t('personas.dropped', locale, items=items))}</p>"
    method = result.model.meta.get("params", {}).get("method", "kmeans")
    title = t("personas.section", locale, k=result.k, method=method, as_of=result.as_of)
    body = table + note + _fig_html(sizes) + _fig_html(heat) + _fig_html(scores)
    return Section(title, body)
