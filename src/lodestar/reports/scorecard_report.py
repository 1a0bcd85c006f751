"""A self-contained HTML report on a fitted :class:`~lodestar.modeling.scorecard.Scorecard`.

Sections: summary (AUC, Gini, KS per sample, the points scaling), IV ranking, the features left
out and why, score distribution of goods and bads, the KS curve, stability (PSI of the score and
CSI per selected feature, training sample as reference) and the bins of every selected feature
(bin, count, bad rate, WOE, IV, points). plotly.js is inlined once, so it opens offline.

>>> # write_scorecard_report(card, X_train, y_train, X_test, y_test, "scorecard.html")
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lodestar.i18n import DEFAULT_LOCALE, t
from lodestar.modeling.drift import csi, psi_table
from lodestar.modeling.metrics import ks, roc_auc
from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.modeling.scorecard import Scorecard

_LAYOUT: dict[str, Any] = {"height": 380, "margin": {"l": 60, "r": 20, "t": 30, "b": 60}}
_STYLE = """
body { font-family: -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
       sans-serif; margin: 0; background: #f5f6f8; color: #1d2433; }
header { background: #16325c; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; }
main { padding: 20px 32px; max-width: 1280px; }
section { background: #fff; border-radius: 8px; padding: 16px 20px; margin: 16px 0;
          box-shadow: 0 1px 2px #0001; }
section h2 { font-size: 16px; margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; margin-bottom: 8px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e3e6ec; }
th { background: #f0f2f6; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
footer { color: #5a6478; font-size: 12px; padding: 8px 32px 24px; }
"""


def _table(head: list[str], rows: list[list[Any]], css: str = "") -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = ""
    for row in rows:
        body += "<tr>" + "".join(
            f'<td class="n">{escape(v)}</td>' if not isinstance(v, str) or v[:1].isdigit()
            else f"<td>{escape(v)}</td>" for v in map(_text, row)
        ) + "</tr>"  # fmt: skip
    return f'<table class="{css}"><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>'


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:,.4f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return str(value)


def _verdict(value: float, locale: str) -> str:
    key = "stable" if value < 0.1 else "some_shift" if value < 0.25 else "shift"
    return t(f"scorecard.{key}", locale)


def scorecard_sections(
    model: Scorecard,
    X_train: pd.DataFrame,
    y_train: npt.ArrayLike,
    X_test: pd.DataFrame | None = None,
    y_test: npt.ArrayLike | None = None,
    locale: str = DEFAULT_LOCALE,
) -> list[Section]:
    """The report's sections, for use inside another report."""
    import plotly.graph_objects as go

    samples: list[tuple[str, npt.NDArray[np.float64], npt.NDArray[np.int64]]] = [
        (t("scorecard.train", locale), model.score_points(X_train),
         np.asarray(y_train).astype(np.int64)),
    ]  # fmt: skip
    if X_test is not None and y_test is not None:
        samples.append((t("scorecard.test", locale), model.score_points(X_test),
                        np.asarray(y_test).astype(np.int64)))  # fmt: skip
    sections: list[Section] = []

    # Summary: discrimination on each sample, and what the points mean.
    rows = []
    for name, points, y in samples:
        auc = roc_auc(y, -points)  # higher points = safer, so bads rank by lower points
        rows.append([name, len(y), float(y.mean()), auc, 2 * auc - 1, ks(y, -points).statistic])
    head = [t("scorecard.sample", locale), t("scorecard.rows", locale),
            t("scorecard.bad_rate", locale), "AUC", "Gini", "KS"]  # fmt: skip
    scale = t("scorecard.scaling", locale, base_points=model.base_points,
              base_odds=model.base_odds, pdo=model.pdo, intercept=model.intercept_points_)  # fmt: skip
    sections.append(Section(t("scorecard.summary", locale),
                            f"<p>{escape(scale)}</p>" + _table(head, rows)))  # fmt: skip

    # IV ranking, selected and dropped in two colours.
    ranked = sorted(model.iv_, key=lambda n: model.iv_[n])
    chosen = set(model.selected_features_)
    fig = go.Figure()
    for flag, key in ((True, "selected"), (False, "dropped")):
        names = [n for n in ranked if (n in chosen) == flag]
        fig.add_trace(go.Bar(x=[model.iv_[n] for n in names], y=names, orientation="h",
                             name=t(f"scorecard.{key}", locale)))  # fmt: skip
    fig.update_layout(barmode="overlay", xaxis_title="IV",
                      **{**_LAYOUT, "height": max(300, 22 * len(ranked) + 80),
                         "margin": {"l": 260, "r": 20, "t": 30, "b": 50}})  # fmt: skip
    dropped_rows = [[name, why] for name, why in model.dropped_.items()]
    dropped_html = ""
    if dropped_rows:
        dropped_html = f"<h2>{escape(t('scorecard.dropped_title', locale))}</h2>" + _table(
            [t("scorecard.feature", locale), t("scorecard.reason", locale)], dropped_rows
        )
    sections.append(Section(t("scorecard.iv_ranking", locale), _fig_html(fig) + dropped_html))

    # Distribution of points, goods vs bads, and the KS curve, on the last sample given.
    name, points, y = samples[-1]
    dist = go.Figure()
    for label, key in ((0, "goods"), (1, "bads")):
        dist.add_trace(go.Histogram(x=points[y == label], name=t(f"scorecard.{key}", locale),
                                    histnorm="probability", opacity=0.6, nbinsx=40))  # fmt: skip
    dist.update_layout(barmode="overlay", xaxis_title=t("scorecard.points", locale), **_LAYOUT)
    sections.append(Section(t("scorecard.distribution", locale, sample=name), _fig_html(dist)))

    order = np.argsort(points, kind="mergesort")  # riskiest (lowest points) first
    grid = points[order]
    cum_bad = np.cumsum(y[order]) / max(int(y.sum()), 1)
    cum_good = np.cumsum(1 - y[order]) / max(int((1 - y).sum()), 1)
    k = ks(y, -points)
    curve = go.Figure()
    curve.add_trace(go.Scatter(x=grid, y=cum_bad, name=t("scorecard.cum_bads", locale)))
    curve.add_trace(go.Scatter(x=grid, y=cum_good, name=t("scorecard.cum_goods", locale)))
    curve.add_vline(x=-k.threshold, line_dash="dash")
    curve.update_layout(xaxis_title=t("scorecard.points", locale), yaxis_tickformat=".0%",
                        **_LAYOUT)  # fmt: skip
    title = t("scorecard.ks_curve", locale, sample=name, ks=k.statistic, threshold=-k.threshold)
    sections.append(Section(title, _fig_html(curve)))

    # Stability against the training sample.
    if len(samples) > 1 and X_test is not None:
        table = psi_table(samples[0][1], samples[1][1], bins=10)
        stab_rows = [[label, float(e), float(a), float(c)] for label, e, a, c in zip(
            table.labels, table.expected_share, table.actual_share, table.contribution,
            strict=True)]  # fmt: skip
        psi_html = _table([t("scorecard.points", locale), t("scorecard.expected_share", locale),
                           t("scorecard.actual_share", locale), "PSI"], stab_rows)  # fmt: skip
        selected = model.selected_features_
        per_feature = csi(_csi_columns(X_train, selected), _csi_columns(X_test, selected))
        csi_html = _table([t("scorecard.feature", locale), t("scorecard.csi", locale)],
                          [[n, per_feature[n]] for n in selected])  # fmt: skip
        stitle = t("scorecard.stability", locale, psi=table.value,
                   verdict=_verdict(table.value, locale))  # fmt: skip
        sections.append(Section(stitle, psi_html + csi_html))
    else:
        sections.append(Section(t("scorecard.stability", locale, psi=float("nan"), verdict="-"),
                                f"<p>{escape(t('scorecard.no_test', locale))}</p>"))  # fmt: skip

    # The bins of every selected feature, strongest first.
    head = [t(f"scorecard.{c}", locale) for c in ("bin", "count", "event_rate", "woe", "iv",
                                                 "points")]  # fmt: skip
    bins_html = ""
    for feature in sorted(model.selected_features_, key=lambda n: -model.iv_[n]):
        part = model.points_table_[model.points_table_["feature"] == feature]
        rows = [
            [r["bin"], int(r["count"]), float(r["event_rate"]), float(r["woe"]), float(r["iv"]),
             f"{r['points']:.1f}"]
            for r in part.to_dict("records")
        ]  # fmt: skip
        bins_html += f"<h2>{escape(t('scorecard.bins', locale, feature=feature, iv=model.iv_[feature]))}</h2>"
        bins_html += _table(head, rows, css="bins")
    sections.append(Section(t("scorecard.points", locale), bins_html))
    return sections


def _csi_columns(X: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    # Categories as plain text with None for missing: what drift.psi bins by category.
    out: dict[str, np.ndarray] = {}
    for name in names:
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
            column
        ):
            out[name] = column.astype(object).where(column.notna(), None).to_numpy(dtype=object)
        else:
            out[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def write_scorecard_report(
    model: Scorecard,
    X_train: pd.DataFrame,
    y_train: npt.ArrayLike,
    X_test: pd.DataFrame | None,
    y_test: npt.ArrayLike | None,
    path: str | Path,
    locale: str = DEFAULT_LOCALE,
) -> Path:
    """Write the report to ``path`` (one HTML file that opens offline) and return the path."""
    from plotly.offline import get_plotlyjs

    target = Path(path)
    sections = scorecard_sections(model, X_train, y_train, X_test, y_test, locale)
    body = "".join(f"<section><h2>{escape(s.title)}</h2>{s.html}</section>" for s in sections)
    title = escape(t("scorecard.title", locale))
    html = (
        f'<!doctype html><html lang="{escape(locale)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><script>{get_plotlyjs()}</script><style>{_STYLE}</style>"
        f"</head><body><header><h1>{title}</h1></header><main>{body}</main>"
        f"<footer>{escape(t('scorecard.footer', locale))}</footer></body></html>"
    )
    target.write_text(html, encoding="utf-8")
    return target
