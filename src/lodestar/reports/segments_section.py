"""Report section for saved segments: how many customers each holds (bars), and how two or three
of them overlap (a Venn-style chart with the size of every region).

>>> from lodestar.reports.segments_section import segments_section
>>> segments_section([], {}, 0, None, "en").title
'Saved segments (data as of -)'
"""

from __future__ import annotations

import math
from datetime import date
from html import escape
from typing import TYPE_CHECKING, Any

from lodestar.i18n import t
from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.segments.session import Overlap
    from lodestar.segments.store import SegmentVersion

#: Circle centres (x, y) and radius for two and three sets, in a unit square.
_LAYOUTS: dict[int, tuple[list[tuple[float, float]], float]] = {
    2: ([(0.36, 0.5), (0.64, 0.5)], 0.27),
    3: ([(0.38, 0.6), (0.62, 0.6), (0.5, 0.38)], 0.25),
}
_COLOURS = ["rgba(31,119,180,0.30)", "rgba(255,127,14,0.30)", "rgba(44,160,44,0.30)"]


def overlap_figure(overlap: Overlap, locale: str) -> Any:
    """A Venn-style Plotly figure: one circle per segment (equal sizes; the numbers carry the
    sizes), each region labelled with its count."""
    import plotly.graph_objects as go

    k = len(overlap.labels)
    centres, radius = _LAYOUTS[k]
    fig = go.Figure()
    for (x, y), colour, label in zip(centres, _COLOURS, overlap.labels, strict=False):
        fig.add_shape(type="circle", x0=x - radius, y0=y - radius, x1=x + radius,
                      y1=y + radius, fillcolor=colour, line={"color": colour[:-5] + "0.9)"})  # fmt: skip
        dx, dy = x - 0.5, y - 0.5
        norm = math.hypot(dx, dy) or 1.0
        lx, ly = x + dx / norm * radius * 0.95, y + dy / norm * radius * 0.95 + 0.02
        fig.add_annotation(x=lx, y=ly + (0.06 if dy >= 0 else -0.06), showarrow=False,
                           text=f"<b>{escape(_short(label))}</b><br>{overlap.sizes[label]:,}")  # fmt: skip
    xs, ys, texts = [], [], []
    for key, n in overlap.regions.items():
        inside = [c for c, m in zip(centres, key, strict=True) if m]
        outside = [c for c, m in zip(centres, key, strict=True) if not m]
        cx = sum(c[0] for c in inside) / len(inside)
        cy = sum(c[1] for c in inside) / len(inside)
        for ox, oy in outside:  # push a region's label away from the circles it is not in
            cx += (cx - ox) * 0.35
            cy += (cy - oy) * 0.35
        xs.append(cx)
        ys.append(cy)
        texts.append(f"{n:,}")
    fig.add_trace(go.Scatter(x=xs, y=ys, text=texts, mode="text", hoverinfo="skip",
                             textfont={"size": 14}))  # fmt: skip
    pairs = "; ".join(
        t("seg.cli.overlap.jaccard", locale, a=a, b=b, value=v)
        for (a, b), v in overlap.jaccard.items()
    )
    fig.update_layout(
        title=t("seg.report.overlap", locale, labels=" / ".join(_short(x) for x in overlap.labels)),
        xaxis={"visible": False, "range": [0, 1]},
        yaxis={"visible": False, "range": [0, 1], "scaleanchor": "x"},
        height=460, showlegend=False, margin={"l": 20, "r": 20, "t": 60, "b": 40},
        annotations=[*fig.layout.annotations,
                     {"text": pairs, "x": 0.5, "y": -0.02, "xref": "paper", "yref": "paper",
                      "showarrow": False}],
    )  # fmt: skip
    return fig


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def segments_section(
    saved: list[SegmentVersion],
    counts: dict[str, int],
    population: int,
    as_of: date | None,
    locale: str,
    overlap: Overlap | None = None,
) -> Section:
    """Bars of the customers in each saved segment (``counts``: current members by name,
    ``population``: all customers), a table of the expressions, and the overlap chart."""
    import plotly.graph_objects as go

    title = t("seg.report.title", locale, as_of=as_of or "-")
    if not saved:
        return Section(title, f"<p>{escape(t('seg.report.none', locale))}</p>")
    names = [s.name for s in saved]
    values = [counts.get(n, s.count_at_save) for n, s in zip(names, saved, strict=True)]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h",
        text=[f"{v:,} ({v / population:.1%})" if population else f"{v:,}" for v in values],
        textposition="auto",
        hovertext=[s.description or s.expression for s in saved], hoverinfo="text",
    ))  # fmt: skip
    fig.update_layout(xaxis_title=t("seg.report.customers", locale),
                      yaxis={"autorange": "reversed"}, height=120 + 40 * len(saved),
                      margin={"l": 220, "r": 20, "t": 20, "b": 50})  # fmt: skip
    head = "".join(f"<th>{escape(t(k, locale))}</th>" for k in
                   ("seg.cli.name", "seg.cli.version", "seg.cli.expression", "seg.cli.now"))  # fmt: skip
    rows = "".join(
        f"<tr><td>{escape(s.name)}</td><td>{s.version}</td><td><code>{escape(s.expression)}"
        f"</code></td><td>{v:,}</td></tr>"
        for s, v in zip(saved, values, strict=True)
    )
    html = _fig_html(fig) + f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if overlap is not None:
        html += _fig_html(overlap_figure(overlap, locale))
    return Section(title, html)
