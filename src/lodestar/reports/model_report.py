"""One self-contained HTML report per model: evaluation charts, feature importance and, when
given, monitoring (drift and decay with its alerts). zh-CN by default, English with
``locale="en"``.

Classifiers (response, risk, churn, ...) get the metrics summary, the gains / lift table, ROC,
KS (cumulative share of each class, KS point marked), lift, calibration and the score
distribution by class. Uplift models get the Qini and uplift curves against random targeting
and the observed uplift by predicted-uplift decile. The function takes plain arrays, so it
does not care where the model lives; the maths is :mod:`lodestar.modeling.metrics` and the
charts only draw its small results (curves are thinned to a few hundred points and histograms
are binned here), so the file stays a few megabytes, almost all of it plotly.js, inlined once
by :func:`lodestar.reports.html.render_page`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lodestar.i18n import DEFAULT_LOCALE, t
from lodestar.reports.html import Section, _fig_html, render_page

if TYPE_CHECKING:
    from lodestar.modeling.monitoring import MonitoringResult

UPLIFT_KINDS = ("uplift",)
#: Curves drawn with at most this many points: enough to look smooth, and a million-row
#: evaluation does not put a million points in the file.
MAX_CURVE_POINTS = 400
MAX_FEATURES_SHOWN = 30
_LAYOUT: dict[str, Any] = {"height": 380, "margin": {"l": 60, "r": 20, "t": 30, "b": 60}}
# Metrics shown as percentages; the rest with four decimals.
_PERCENT = ("positive_rate", "capture_top_20", "treated_share", "response_rate",
            "cumulative_capture")  # fmt: skip
_COUNTS = ("rows", "customers", "positives")


# --------------------------------------------------------------------------- small helpers


def _float_array(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty one-dimensional array")
    return array


def _thin(n: int) -> npt.NDArray[np.int64]:
    """Indices of at most ``MAX_CURVE_POINTS`` points of an ``n``-point curve, ends kept."""
    if n <= MAX_CURVE_POINTS:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(np.int64))


def _format(key: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "-"
        if key in _COUNTS:
            return f"{value:,.0f}"
        return f"{value:.2%}" if key in _PERCENT else f"{value:.4f}"
    return str(value)


def _table(heads: list[str], rows: list[list[str]], numeric_from: int = 0) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_label(key: str, locale: str) -> str:
    label = t(f"mreport.m.{key}", locale)
    return key if label == f"mreport.m.{key}" else label


def _summary_section(values: Mapping[str, Any], locale: str) -> Section:
    rows = [[_metric_label(k, locale), _format(k, v)] for k, v in values.items()]
    heads = [t("mreport.metric", locale), t("mreport.value", locale)]
    return Section(t("mreport.summary", locale), _table(heads, rows, numeric_from=1))


def _merge(computed: dict[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    # Figures given by the caller (e.g. the registry's held-out metrics) win over the ones
    # recomputed here, and extra ones are shown after them.
    return {**computed, **dict(given or {})}


# --------------------------------------------------------------------------- classifiers


def _cumulative_counts(
    y: npt.NDArray[np.float64], score: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Rows, positives and negatives scoring at or above each distinct score (highest first),
    starting from (0, 0, 0): the ROC and KS curves are drawn between groups of equal scores."""
    order = np.argsort(-score, kind="stable")
    sorted_score = score[order]
    ends = np.r_[np.flatnonzero(np.diff(sorted_score)), score.size - 1]
    positives = np.cumsum(y[order])[ends]
    rows = (ends + 1).astype(np.float64)
    return np.r_[0.0, rows], np.r_[0.0, positives], np.r_[0.0, rows - positives]


def _classifier_sections(
    kind: str, y: npt.NDArray[np.float64], score: npt.NDArray[np.float64], locale: str
) -> tuple[dict[str, Any], list[Section]]:
    import plotly.graph_objects as go

    from lodestar.modeling import metrics

    probabilities = bool(score.min() >= 0 and score.max() <= 1)
    ks = metrics.ks(y, score)
    auc = metrics.roc_auc(y, score)
    summary: dict[str, Any] = {
        "rows": int(y.size),
        "positive_rate": float(y.mean()),
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks.statistic,
        "lift_top_decile": metrics.lift_at(y, score, 0.1),
        "capture_top_20": metrics.capture_at(y, score, 0.2),
    }
    if probabilities:
        summary["brier"] = metrics.brier(y, score)
    sections: list[Section] = []

    gains = metrics.gains_table(y, score, bins=min(10, y.size))
    columns = ["bin", "customers", "positives", "min_score", "max_score", "response_rate",
               "cumulative_capture", "lift", "cumulative_lift"]  # fmt: skip
    rows = [[_format(c, row[c]) for c in columns] for row in gains.rows()]
    heads = [t(f"mreport.g.{c}", locale) for c in columns]
    sections.append(Section(t("mreport.gains", locale), _table(heads, rows)))

    n_rows, n_pos, n_neg = _cumulative_counts(y, score)
    keep = _thin(n_rows.size)
    tpr, fpr = n_pos / n_pos[-1], n_neg / n_neg[-1]
    roc = go.Figure()
    roc.add_trace(go.Scatter(x=fpr[keep], y=tpr[keep], name=t("mreport.model", locale)))
    roc.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name=t("mreport.random", locale),
                             line={"dash": "dash", "color": "#999"}))  # fmt: skip
    roc.update_layout(xaxis_title=t("mreport.fpr", locale), yaxis_title=t("mreport.tpr", locale),
                      **_LAYOUT)  # fmt: skip
    sections.append(Section(t("mreport.roc", locale, auc=auc), _fig_html(roc)))

    bad = kind == "risk"  # in credit risk the positive class is the bad customer
    pos_name = t("mreport.class.bad" if bad else "mreport.class.positive", locale)
    neg_name = t("mreport.class.good" if bad else "mreport.class.negative", locale)
    share = n_rows / n_rows[-1]
    ks_x = float(np.mean(score >= ks.threshold))
    ks_fig = go.Figure()
    ks_fig.add_trace(go.Scatter(x=share[keep], y=tpr[keep], name=pos_name))
    ks_fig.add_trace(go.Scatter(x=share[keep], y=fpr[keep], name=neg_name))
    point = t("mreport.ks_point", locale, ks=ks.statistic, threshold=ks.threshold)
    ks_fig.add_trace(go.Scatter(x=[ks_x, ks_x],
                                y=[ks.negative_share_above, ks.positive_share_above],
                                mode="lines+markers", name=point,
                                line={"dash": "dot", "color": "#b3261e"}))  # fmt: skip
    ks_fig.update_layout(xaxis_title=t("mreport.targeted", locale), xaxis_tickformat=".0%",
                         yaxis_title=t("mreport.cumulative", locale), yaxis_tickformat=".0%",
                         **_LAYOUT)  # fmt: skip
    sections.append(Section(t("mreport.ks", locale, ks=ks.statistic), _fig_html(ks_fig)))

    bins = list(range(1, gains.lift.size + 1))
    lift = go.Figure()
    lift.add_trace(go.Bar(x=bins, y=gains.lift, name=t("mreport.g.lift", locale)))
    lift.add_trace(go.Scatter(x=bins, y=gains.cumulative_lift, mode="lines+markers",
                              name=t("mreport.g.cumulative_lift", locale)))  # fmt: skip
    lift.add_hline(y=1.0, line_dash="dash", line_color="#999")
    lift.update_layout(xaxis_title=t("mreport.decile", locale), xaxis_dtick=1, **_LAYOUT)
    sections.append(Section(t("mreport.lift", locale), _fig_html(lift)))

    if probabilities:
        curve = metrics.calibration_curve(y, score, bins=10)
        cal = go.Figure()
        cal.add_trace(go.Scatter(x=curve.mean_predicted, y=curve.observed_rate,
                                 mode="lines+markers", name=t("mreport.model", locale),
                                 text=[f"n={n:,}" for n in curve.count]))  # fmt: skip
        cal.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name=t("mreport.perfect", locale),
                                 line={"dash": "dash", "color": "#999"}))  # fmt: skip
        cal.update_layout(xaxis_title=t("mreport.mean_predicted", locale),
                          yaxis_title=t("mreport.observed", locale), **_LAYOUT)  # fmt: skip
        cal_html = _fig_html(cal)
    else:
        cal_html = f'<p class="note">{escape(t("mreport.not_probabilities", locale))}</p>'
    sections.append(Section(t("mreport.calibration", locale), cal_html))

    edges = np.histogram_bin_edges(score, bins=40)
    centres = (edges[:-1] + edges[1:]) / 2
    dist = go.Figure()
    for label, name in ((1.0, pos_name), (0.0, neg_name)):
        counts, _ = np.histogram(score[y == label], bins=edges)
        dist.add_trace(go.Bar(x=centres, y=counts / counts.sum(), name=name, opacity=0.6))
    dist.update_layout(barmode="overlay", bargap=0, xaxis_title=t("mreport.score", locale),
                       yaxis_title=t("mreport.class_share", locale), yaxis_tickformat=".0%",
                       **_LAYOUT)  # fmt: skip
    sections.append(Section(t("mreport.distribution", locale), _fig_html(dist)))
    return summary, sections


# --------------------------------------------------------------------------- uplift models


def _uplift_sections(
    y: npt.NDArray[np.float64],
    treatment: npt.NDArray[np.float64],
    uplift: npt.NDArray[np.float64],
    locale: str,
) -> tuple[dict[str, Any], list[Section]]:
    import plotly.graph_objects as go

    from lodestar.modeling import metrics

    treated = treatment == 1
    summary: dict[str, Any] = {
        "rows": int(y.size),
        "treated_share": float(treated.mean()),
        "treated_rate": float(y[treated].mean()) if treated.any() else float("nan"),
        "control_rate": float(y[~treated].mean()) if (~treated).any() else float("nan"),
    }
    summary["ate"] = summary["treated_rate"] - summary["control_rate"]
    summary["qini"] = metrics.qini_coefficient(y, treatment, uplift)
    if np.isin(y, (0.0, 1.0)).all():
        summary["auuc"] = metrics.auuc(y, treatment, uplift)
    # When the top 30% holds only one group there is no uplift to show there.
    with contextlib.suppress(ValueError):
        summary["uplift_top_30"] = metrics.uplift_at(y, treatment, uplift, 0.3)

    sections: list[Section] = []
    for key, curve in (("mreport.qini", metrics.qini_curve(y, treatment, uplift)),
                       ("mreport.uplift_curve", metrics.uplift_curve(y, treatment, uplift))):  # fmt: skip
        keep = _thin(curve.n_targeted.size)
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=curve.n_targeted[keep], y=curve.value[keep],
                                 name=t("mreport.model", locale)))  # fmt: skip
        fig.add_trace(go.Scatter(x=[0, int(curve.n_targeted[-1])], y=[0.0, curve.value[-1]],
                                 name=t("mreport.random", locale),
                                 line={"dash": "dash", "color": "#999"}))  # fmt: skip
        fig.update_layout(xaxis_title=t("mreport.targeted_n", locale),
                          yaxis_title=t("mreport.incremental", locale), **_LAYOUT)  # fmt: skip
        sections.append(Section(t(key, locale), _fig_html(fig)))

    by_bin = metrics.uplift_by_decile(y, treatment, uplift, bins=min(10, y.size))
    deciles = list(range(1, by_bin.uplift.size + 1))
    bars = go.Figure()
    bars.add_trace(go.Bar(x=deciles, y=by_bin.uplift, name=t("mreport.uplift", locale)))
    bars.add_trace(go.Scatter(x=deciles, y=by_bin.treatment_mean, mode="lines+markers",
                              name=t("mreport.treated", locale)))  # fmt: skip
    bars.add_trace(go.Scatter(x=deciles, y=by_bin.control_mean, mode="lines+markers",
                              name=t("mreport.control", locale)))  # fmt: skip
    bars.update_layout(xaxis_title=t("mreport.uplift_decile", locale), xaxis_dtick=1, **_LAYOUT)
    sections.append(Section(t("mreport.by_decile", locale), _fig_html(bars)))
    return summary, sections


# --------------------------------------------------------------------------- shared sections


def _importance_section(importance: Mapping[str, float], locale: str) -> Section:
    import plotly.graph_objects as go

    ranked = sorted(importance.items(), key=lambda item: -float(item[1]))
    shown = ranked[:MAX_FEATURES_SHOWN][::-1]  # plotly draws horizontal bars bottom-up
    fig = go.Figure(go.Bar(x=[float(v) for _, v in shown], y=[str(k) for k, _ in shown],
                           orientation="h"))  # fmt: skip
    height = max(300, 22 * len(shown) + 80)
    fig.update_layout(xaxis_title=t("mreport.importance_axis", locale),
                      **{**_LAYOUT, "height": height})  # fmt: skip
    note = ""
    if len(ranked) > MAX_FEATURES_SHOWN:
        text = t("mreport.top_n", locale, n=MAX_FEATURES_SHOWN, total=len(ranked))
        note = f'<p class="note">{escape(text)}</p>'
    return Section(t("mreport.importance", locale), note + _fig_html(fig))


def _monitoring_section(result: MonitoringResult, locale: str) -> Section:
    import plotly.graph_objects as go

    limits = result.thresholds
    status = t(f"mreport.status.{result.status}", locale)
    head = (
        f'<p class="{result.status}">'
        f"{escape(t('mreport.status', locale, status=status, rows=result.rows))}</p>"
    )
    if result.auc_reference is not None:

        def number(v: float | None) -> str:
            return t("mreport.na", locale) if v is None else f"{v:.4f}"

        line = t("mreport.auc_line", locale, reference=number(result.auc_reference),
                 new=number(result.auc_new), drop=number(result.auc_drop))  # fmt: skip
        head += f"<p>{escape(line)}</p>"

    ranked = sorted(result.feature_csi.items(), key=lambda item: -item[1].value)
    if len(ranked) > MAX_FEATURES_SHOWN:
        text = t("mreport.top_n", locale, n=MAX_FEATURES_SHOWN, total=len(ranked))
        head += f'<p class="note">{escape(text)}</p>'
        ranked = ranked[:MAX_FEATURES_SHOWN]
    names = [t("mreport.score_psi", locale), *(name for name, _ in ranked)]
    values = [result.score_psi.value, *(table.value for _, table in ranked)]
    colours = [
        "#b3261e" if v >= alert else "#e69500" if v >= warning else "#4c78a8"
        for v, (warning, alert) in zip(
            values,
            [(limits.psi_warning, limits.psi_alert)]
            + [(limits.csi_warning, limits.csi_alert)] * len(ranked),
            strict=True,
        )
    ]
    drift = go.Figure(go.Bar(x=names, y=values, marker_color=colours, showlegend=False))
    for value, key, dash in ((limits.csi_warning, "mreport.warning_line", "dash"),
                             (limits.csi_alert, "mreport.alert_line", "dot")):  # fmt: skip
        drift.add_hline(y=value, line_dash=dash, line_color="#888",
                        annotation_text=t(key, locale, value=value))  # fmt: skip
    if (limits.psi_warning, limits.psi_alert) != (limits.csi_warning, limits.csi_alert):
        # The score has its own thresholds: mark them on its bar.
        drift.add_trace(go.Scatter(x=[names[0]] * 2, y=[limits.psi_warning, limits.psi_alert],
                                   mode="markers", showlegend=False,
                                   marker={"symbol": "line-ew-open", "size": 40,
                                           "color": "#888"}))  # fmt: skip
    drift.update_layout(yaxis_title="PSI / CSI", **_LAYOUT)
    html = head + f"<h3>{escape(t('mreport.drift', locale))}</h3>" + _fig_html(drift)

    psi = result.score_psi
    shift = go.Figure()
    shift.add_trace(go.Bar(x=list(psi.labels), y=psi.expected_share,
                           name=t("mreport.reference", locale)))  # fmt: skip
    shift.add_trace(go.Bar(x=list(psi.labels), y=psi.actual_share, name=t("mreport.new", locale)))
    shift.update_layout(yaxis_title=t("mreport.share", locale), yaxis_tickformat=".0%", **_LAYOUT)
    html += f"<h3>{escape(t('mreport.score_shift', locale, psi=psi.value))}</h3>"
    html += _fig_html(shift)

    html += f"<h3>{escape(t('mreport.alerts', locale))}</h3>"
    if result.alerts:
        keys = ("level", "metric", "feature", "value", "threshold", "message")
        heads = [t(f"mreport.a.{key}", locale) for key in keys]
        rows = [
            [t(f"mreport.status.{a.level}", locale), a.metric.upper(), a.feature or "",
             f"{a.value:.4f}", f"{a.threshold:g}", a.message(locale)]
            for a in result.alerts
        ]  # fmt: skip
        html += _table(heads, rows)
    else:
        html += f'<p class="ok">{escape(t("mreport.no_alerts", locale))}</p>'
    return Section(t("mreport.monitoring", locale), html)


# --------------------------------------------------------------------------- entry point


def write_model_report(
    path: str | Path,
    *,
    title: str,
    kind: str,
    y: npt.ArrayLike | None = None,
    scores: npt.ArrayLike | None = None,
    treatment: npt.ArrayLike | None = None,
    uplift: npt.ArrayLike | None = None,
    importance: Mapping[str, float] | None = None,
    metrics: Mapping[str, Any] | None = None,
    monitoring: MonitoringResult | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Path:
    """Write the report of one model to ``path`` (one HTML file that opens offline).

    ``kind`` "uplift" reads ``y`` (outcome), ``treatment`` (0/1) and ``uplift`` (predicted
    uplift; ``scores`` if ``uplift`` is not given); any other kind is a classifier and reads
    ``y`` (0/1) and ``scores``. Without those arrays the evaluation sections are left out.
    ``importance`` maps feature names to global importance, ``metrics`` adds or overrides
    summary figures (e.g. the registry's), ``monitoring`` adds the monitoring section.
    """
    target = Path(path)
    sections: list[Section] = []
    summary: dict[str, Any] = {}
    if kind in UPLIFT_KINDS:
        ranking = uplift if uplift is not None else scores
        given = {"y": y, "treatment": treatment, "uplift": ranking}
        if any(v is not None for v in given.values()):
            missing = [name for name, v in given.items() if v is None]
            if missing:
                raise ValueError(f"an uplift report needs y, treatment and uplift; no {missing}")
            arrays = {name: _float_array(name, v) for name, v in given.items()}  # type: ignore[arg-type]
            summary, sections = _uplift_sections(
                arrays["y"], arrays["treatment"], arrays["uplift"], locale
            )
    elif y is not None or scores is not None:
        if y is None or scores is None:
            raise ValueError("a classifier report needs both y and scores")
        labels, values = _float_array("y", y), _float_array("scores", scores)
        if labels.size != values.size:
            raise ValueError(f"y has {labels.size} rows but scores has {values.size}")
        summary, sections = _classifier_sections(kind, labels, values, locale)
    summary = _merge(summary, metrics)
    if summary:
        sections.insert(0, _summary_section(summary, locale))
    if importance:
        sections.append(_importance_section(importance, locale))
    if monitoring is not None:
        sections.append(_monitoring_section(monitoring, locale))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render_page(
        target,
        "model.html",
        lang=locale,
        title=title,
        subtitle=t("mreport.subtitle", locale, kind=kind, when=when),
        sections=sections,
        footer=t("mreport.footer", locale),
    )
