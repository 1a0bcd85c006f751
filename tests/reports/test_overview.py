"""The overview report: concentration maths against an independent formula, and the HTML."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.data.catalogue import products_table
from lodestar.reports.overview import build_overview, lorenz
from lodestar.workspace import Workspace


def gini_mean_difference(values: np.ndarray) -> float:
    """Gini as the mean absolute difference over twice the mean (an independent definition)."""
    v = values.astype(float)
    n = len(v)
    diff = np.abs(v[:, None] - v[None, :]).sum()
    return float(diff / (2 * n * n * v.mean()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=2, max_size=60))
def test_gini_matches_the_mean_difference_definition(values: list[float]) -> None:
    arr = np.array(values)
    if arr.sum() <= 0:
        return
    _, _, gini = lorenz(arr)
    assert gini == pytest.approx(gini_mean_difference(arr), abs=1e-9)


def test_lorenz_curve_is_monotone_and_ends_at_one() -> None:
    rng = np.random.default_rng(1)
    x, y, g = lorenz(rng.pareto(1.2, 10_000))
    assert x[0] == 0 and y[0] == 0 and y[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in itertools.pairwise(y))
    assert all(yy <= xx + 1e-12 for xx, yy in zip(x, y, strict=True))
    assert 0.5 < g < 1


def _small_bank(ws: Workspace) -> None:
    n = 50
    customers = pa.table(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "join_date": pa.array([date(2020, 1, 1)] * n),
            "birth_date": pa.array([date(1950 + i, 6, 1) for i in range(n)]),
            "income_band": ["10k_20k"] * 25 + ["ge50k"] * 25,
        }
    )
    # Customer i holds 2^(i/5) in a current account: a steep concentration.
    holdings = pa.table(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "customer_id": [f"C{i}" for i in range(n)],
            "product_id": ["DEP_CURRENT"] * n,
            "open_date": pa.array([date(2020, 1, 1)] * n),
            "balance": [float(2 ** (i / 5)) for i in range(n)],
        }
    )
    events = pa.table(
        {
            "event_id": [f"E{i}" for i in range(6)],
            "ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 6),
            "customer_id": ["C1", "C2", "C3", "C1", "C2", "C1"],
            "event_name": ["register"] * 3 + ["apply_start"] * 2 + ["credit_granted"],
        }
    )
    ws.load_tables(
        [("products", products_table()), ("customers", customers), ("holdings", holdings),
         ("events", events)],
        source="test:small-bank",
    )  # fmt: skip


def test_overview_figures(sqlite_workspace: Workspace) -> None:
    _small_bank(sqlite_workspace)
    ov = build_overview(sqlite_workspace.engine)
    assert ov.kpis["customers"] == 50
    values = np.array([2 ** (i / 5) for i in range(50)])
    top = np.sort(values)[::-1][:10].sum() / values.sum()
    assert ov.concentration is not None
    assert ov.concentration.top20_share == pytest.approx(top)
    assert ov.concentration.gini == pytest.approx(gini_mean_difference(values))
    assert dict(ov.funnel)["register"] == 3
    assert dict(ov.funnel)["apply_start"] == 2
    assert dict(ov.funnel)["reborrow"] == 0
    assert sum(n for _, n in ov.income_bands) == 50


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_report_html_is_self_contained(sqlite_workspace: Workspace, locale: str) -> None:
    _small_bank(sqlite_workspace)
    path = sqlite_workspace.report(locale=locale)
    html = Path(path).read_text(encoding="utf-8")
    # plotly.js is inlined: no script is fetched from the network.
    assert not re.search(r"<script[^>]+src=", html)
    assert "Plotly.newPlot" in html
    assert ("客户价值集中度" if locale == "zh-CN" else "Value concentration") in html
    assert "test:small-bank" in html  # the data loads table


def test_report_of_an_empty_workspace(sqlite_workspace: Workspace) -> None:
    html = Path(sqlite_workspace.report(locale="en")).read_text(encoding="utf-8")
    assert "Lodestar bank overview" in html
