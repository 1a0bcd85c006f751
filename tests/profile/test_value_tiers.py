"""Value tiers and concentration: the maths against independent formulas, the value parts on a
hand-built bank, CDNOW against a pandas computation from the raw file, the CLI and the report."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lodestar.data.catalogue import DEFAULT_PRODUCTS, products_table
from lodestar.errors import ConfigError
from lodestar.profile.value_tiers import (
    ValueConfig,
    lorenz,
    pareto,
    top_share,
    value_percentile,
)
from lodestar.reports.html import render_report
from lodestar.reports.overview import build_overview
from lodestar.reports.tiers_section import tiers_section
from lodestar.workspace import Workspace


# -- the maths -----------------------------------------------------------------------------------
def gini_pairs(values: list[float]) -> float:
    """Gini as the mean absolute difference over all ordered pairs, over twice the mean."""
    n = len(values)
    diff = sum(abs(a - b) for a, b in itertools.product(values, repeat=2))
    return diff / (2 * n * n * (sum(values) / n))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=1e7)), min_size=1,
                max_size=40))  # fmt: skip
def test_gini_matches_the_mean_absolute_difference(values: list[float]) -> None:
    if sum(values) <= 0:
        assert pareto(np.array(values)).gini == 0.0
        return
    assert pareto(np.array(values)).gini == pytest.approx(gini_pairs(values), abs=1e-9)


def test_gini_of_known_arrays() -> None:
    assert pareto(np.array([5.0, 5.0, 5.0])).gini == pytest.approx(0.0, abs=1e-12)
    assert pareto(np.array([0.0, 0.0, 0.0, 0.0, 1.0])).gini == pytest.approx(0.8)
    assert pareto(np.array([1.0, 2.0, 3.0, 4.0])).gini == pytest.approx(0.25)
    assert pareto(np.array([])).gini == 0.0


def test_top_shares_and_the_80_percent_point_against_pandas() -> None:
    rng = np.random.default_rng(7)
    values = np.round(rng.lognormal(8, 1.6, 997), 2)
    p = pareto(values)
    s = pd.Series(values)
    for share in (0.01, 0.05, 0.10, 0.20):
        k = max(1, round(len(s) * share))
        assert p.top_shares[share] == pytest.approx(s.nlargest(k).sum() / s.sum())
        assert top_share(values, share) == p.top_shares[share]
    running = s.sort_values(ascending=False).cumsum() / s.sum()
    assert p.customers_for_80 == pytest.approx((int((running < 0.8).sum()) + 1) / len(s))
    # Four of five equal customers hold exactly 80%.
    assert pareto(np.ones(5)).customers_for_80 == pytest.approx(0.8)
    assert p.total_value == pytest.approx(s.sum())


def test_lorenz_points_sit_on_the_curve() -> None:
    rng = np.random.default_rng(3)
    values = rng.pareto(1.3, 400)
    x, y, gini = lorenz(values, points=201)
    assert len(x) == 201 and x[0] == 0 and y[-1] == pytest.approx(1.0)
    ordered = np.sort(values)
    # With 400 customers every second customer is a grid point: y = share of the poorest k.
    for i in (0, 10, 100, 160, 200):
        k = i * 2
        assert y[i] == pytest.approx(ordered[:k].sum() / ordered.sum(), abs=1e-12)
    assert all(b >= a for a, b in itertools.pairwise(y))
    assert gini == pytest.approx(gini_pairs(values.tolist()), abs=1e-9)


def test_negative_values_count_as_zero() -> None:
    assert pareto(np.array([-5.0, 0.0, 10.0])).top_shares[0.2] == 1.0
    assert pareto(np.array([-5.0, 0.0, 10.0])).total_value == 10.0


def test_value_percentile_is_the_share_strictly_below() -> None:
    values = np.array([3.0, 1.0, 3.0, 0.0, 0.0, 7.0, 2.0])
    ranks = (pd.Series(values).rank(method="min") - 1) / len(values)
    assert np.allclose(value_percentile(values), ranks.to_numpy())


# -- a hand-built bank ---------------------------------------------------------------------------
MARGIN = {p.product_id: p.margin for p in DEFAULT_PRODUCTS}
FEE = {p.product_id: p.annual_fee for p in DEFAULT_PRODUCTS}
# (account, customer, product, opened, closed, balance)
HOLDINGS = [
    ("A1", "C1", "DEP_CURRENT", date(2020, 1, 1), None, 100_000.0),
    ("A2", "C1", "WM_FIXED", date(2026, 1, 1), None, 7_000_000.0),
    ("A3", "C2", "CC_PLATINUM", date(2019, 5, 1), None, 20_000.0),
    ("A4", "C2", "DEP_TERM_1Y", date(2021, 3, 1), None, 600_000.0),
    ("A5", "C3", "DEP_CURRENT", date(2018, 1, 1), None, 60_000.0),
    ("A6", "C3", "DEP_TERM_3Y", date(2018, 1, 1), date(2025, 12, 31), 0.0),
    ("A7", "C3", "LOAN_MORTGAGE", date(2022, 8, 1), None, 1_000_000.0),
    ("A8", "C4", "DEP_CURRENT", date(2023, 1, 1), None, 5_000.0),
    ("A9", "C4", "INS_HEALTH", date(2026, 4, 1), None, 0.0),
    ("A10", "C6", "WM_CASH", date(2024, 1, 1), None, 50_000.0),
    ("A11", "C6", "DEP_CURRENT", date(2026, 7, 5), None, 9_999_999.0),  # opened after as_of
]
# (customer, day, type, amount)
TRANSACTIONS = [
    ("C1", date(2026, 6, 30), "deposit", 10.0),  # sets the data date
    ("C2", date(2026, 2, 1), "fee", 50.0),
    ("C2", date(2025, 7, 1), "fee", 50.0),  # first day of the window
    ("C2", date(2025, 6, 30), "fee", 70.0),  # the day before: outside
    ("C5", date(2026, 3, 3), "card_purchase", 999.0),  # not revenue
]
AS_OF = date(2026, 6, 30)
WINDOW_START = date(2025, 7, 1)


def expected_revenue(customer: str) -> float:
    """Margin on balance plus annual fee, for the days open inside the window, plus fees."""
    total = 0.0
    end = date(2026, 7, 1)
    for _, cust, product, opened, closed, balance in HOLDINGS:
        if cust != customer or opened > AS_OF:
            continue
        stop = min(closed or end, end)
        days = max(0, (stop - max(opened, WINDOW_START)).days)
        total += (MARGIN[product] * balance + FEE[product]) * days / 365
    total += sum(a for c, d, kind, a in TRANSACTIONS
                 if c == customer and kind == "fee" and WINDOW_START <= d <= AS_OF)  # fmt: skip
    return total


def load_small_bank(ws: Workspace) -> None:
    ids = ["C1", "C2", "C3", "C4", "C5", "C6"]
    customers = pa.table({"customer_id": ids, "join_date": pa.array([date(2018, 1, 1)] * 6)})
    holdings = pa.table({
        "account_id": [h[0] for h in HOLDINGS], "customer_id": [h[1] for h in HOLDINGS],
        "product_id": [h[2] for h in HOLDINGS],
        "open_date": pa.array([h[3] for h in HOLDINGS], pa.date32()),
        "close_date": pa.array([h[4] for h in HOLDINGS], pa.date32()),
        "status": ["closed" if h[4] else "active" for h in HOLDINGS],
        "balance": [h[5] for h in HOLDINGS],
    })  # fmt: skip
    tx = pa.table({
        "transaction_id": [f"T{i}" for i in range(len(TRANSACTIONS))],
        "customer_id": [t[0] for t in TRANSACTIONS],
        "ts": pa.array([datetime(t[1].year, t[1].month, t[1].day, 3, tzinfo=UTC)
                        for t in TRANSACTIONS], pa.timestamp("us", tz="UTC")),
        "type": [t[2] for t in TRANSACTIONS], "amount": [t[3] for t in TRANSACTIONS],
    })  # fmt: skip
    ws.load_tables(
        [("products", products_table()), ("customers", customers), ("holdings", holdings),
         ("transactions", tx)],
        source="test:value-tiers",
    )  # fmt: skip


@pytest.fixture
def small_bank(sqlite_workspace: Workspace) -> Workspace:
    load_small_bank(sqlite_workspace)
    return sqlite_workspace


def test_value_parts_and_tiers_by_amount(small_bank: Workspace) -> None:
    result = small_bank.value_tiers()
    assert result.as_of == AS_OF
    rows = {r["customer_id"]: r for r in result.table.to_pylist()}
    aum = {"C1": 7_100_000.0, "C2": 600_000.0, "C3": 60_000.0, "C4": 5_000.0, "C5": 0.0,
           "C6": 50_000.0}  # fmt: skip
    tiers = {"C1": "private_banking", "C2": "affluent", "C3": "mass", "C4": "long_tail",
             "C5": "long_tail", "C6": "mass"}  # fmt: skip
    for cid, row in rows.items():
        assert row["aum"] == pytest.approx(aum[cid]), cid
        assert row["customer_value"] == row["aum"]
        assert row["revenue_12m"] == pytest.approx(expected_revenue(cid), abs=0.006), cid
        assert row["value_tier"] == tiers[cid], cid
    assert rows["C2"]["revenue_12m"] == pytest.approx(0.08 * 20_000 + 2000 + 0.008 * 600_000 + 100)
    assert rows["C1"]["value_tier_name"] == "私人银行客户"
    assert rows["C5"]["value_percentile"] == 0.0
    assert rows["C1"]["value_percentile"] == pytest.approx(5 / 6)
    by_tier = {s["value_tier"]: s for s in result.summary}
    assert [s["customers"] for s in result.summary] == [1, 1, 2, 2]
    total = sum(aum.values())
    assert by_tier["mass"]["value_share"] == pytest.approx(110_000 / total)
    assert by_tier["mass"]["mean_value"] == pytest.approx(55_000)
    assert result.summary[-1]["cumulative_value_share"] == pytest.approx(1.0)
    assert result.top_shares[0.2] == pytest.approx(7_100_000 / total)  # 1 of 6 customers
    # Saved: the columns join the customer_profile view.
    view = small_bank.query(
        "SELECT customer_id, value_tier, value_tier_name, value_aum FROM customer_profile "
        "ORDER BY customer_id"
    ).to_pylist()
    assert [r["value_tier"] for r in view] == [tiers[r["customer_id"]] for r in view]
    # the view names the tiers' AUM value_aum: the tag library owns the name aum
    assert [r["value_aum"] for r in view] == pytest.approx([aum[r["customer_id"]] for r in view])


def test_revenue_and_combined_measures(small_bank: Workspace) -> None:
    rev = small_bank.value_tiers(ValueConfig(measure="revenue", tier_by="percentile"), save=False)
    revenue = {r["customer_id"]: r["revenue_12m"] for r in rev.table.to_pylist()}
    assert {r["customer_id"]: r["customer_value"] for r in rev.table.to_pylist()} == revenue
    # Percentile tiers: 6 customers, top 1% needs 99% strictly below: nobody; top 20%: C1 only
    # (5/6 below), mass from 40%.
    ranks = pd.Series(revenue).rank(method="min").sub(1).div(6)
    expect = np.select([ranks >= 0.99, ranks >= 0.8, ranks >= 0.4], ["private_banking",
                       "affluent", "mass"], "long_tail")  # fmt: skip
    got = {r["customer_id"]: r["value_tier"] for r in rev.table.to_pylist()}
    assert [got[c] for c in ranks.index] == list(expect)
    comb = small_bank.value_tiers(ValueConfig(measure="combined", tier_by="percentile",
                                              aum_weight=0.25), save=False)  # fmt: skip
    table = comb.table.to_pandas().set_index("customer_id")
    index = (
        0.25 * table["aum"] / table["aum"].mean()
        + 0.75 * table["revenue_12m"] / table["revenue_12m"].mean()
    )
    assert np.allclose(table["customer_value"], index)
    # A narrower window and a fee-only revenue definition.
    fees = small_bank.value_tiers(
        ValueConfig(measure="revenue", tier_by="percentile", revenue_categories=(),
                    window_months=6), save=False,
    )  # fmt: skip
    only_fees = {r["customer_id"]: r["revenue_12m"] for r in fees.table.to_pylist()}
    assert only_fees["C2"] == pytest.approx(50 * 2)  # one fee in 6 months, annualised
    assert only_fees["C1"] == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"measure": "profit"}, "measure"), ({"tier_by": "kmeans"}, "tier_by"),
     ({"window_months": 0}, "window_months"), ({"thresholds": (1.0, 2.0, 3.0)}, "descending"),
     ({"tier_by": "percentile", "thresholds": (1.5, 0.8, 0.4)}, "percentile"),
     ({"measure": "revenue"}, "no default amounts"), ({"aum_categories": ("gold",)}, "gold"),
     ({"revenue_types": ("tips",)}, "tips"), ({"aum_weight": 2.0}, "aum_weight")],
)  # fmt: skip
def test_bad_settings_are_explained(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ValueConfig(**kwargs)  # type: ignore[arg-type]


def test_value_tiers_need_customers(sqlite_workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="need customers"):
        sqlite_workspace.value_tiers()


def test_overview_concentration_is_the_same_maths(small_bank: Workspace) -> None:
    ov = build_overview(small_bank.engine)
    assert ov.concentration is not None
    # The overview counts every open deposit / wealth holding (no as-of date): A11 included.
    values = np.array([7_100_000.0, 600_000.0, 60_000.0, 5_000.0, 0.0, 50_000.0 + 9_999_999.0])
    assert ov.concentration.gini == pytest.approx(gini_pairs(values.tolist()))
    assert ov.concentration.top20_share == pytest.approx(top_share(values, 0.2))


# -- the CLI and the report ----------------------------------------------------------------------
@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    import lodestar.cli.profile_analytics_commands  # noqa: F401  (registers the commands)
    from lodestar.cli.main import app, state

    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        state.lang = None
        return runner.invoke(app, list(args))

    return invoke


def test_profile_tiers_command(run, small_bank: Workspace) -> None:
    ws = str(small_bank.root)
    small_bank.close()
    zh = run("profile", "tiers", "-w", ws)
    assert zh.exit_code == 0, zh.output
    assert "私人银行客户" in zh.output and "基尼系数" in zh.output and "6,000,000" in zh.output
    en = run("--lang", "en", "profile", "tiers", "--thresholds", "600万,50万,1万", "-w", ws)
    assert en.exit_code == 0, en.output
    assert "private banking" in en.output and "Gini" in en.output and "10,000" in en.output
    pct = run("--lang", "en", "profile", "tiers", "--measure", "revenue", "--tier-by",
              "percentile", "--revenue-types", "fee", "--as-of", "2026-06-30", "-w", ws)  # fmt: skip
    assert pct.exit_code == 0, pct.output
    assert "99%" in pct.output and "annual revenue" in pct.output
    bad = run("--lang", "en", "profile", "tiers", "--thresholds", "1,2", "-w", ws)
    assert bad.exit_code == 1 and "--thresholds 1,2" in bad.output and "hint" in bad.output
    no_amounts = run("--lang", "en", "profile", "tiers", "--measure", "revenue", "-w", ws)
    assert no_amounts.exit_code == 1 and "--tier-by percentile" in no_amounts.output
    bad_day = run("--lang", "en", "profile", "tiers", "--as-of", "30/06/2026", "-w", ws)
    assert bad_day.exit_code == 1 and "YYYY-MM-DD" in bad_day.output


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_tiers_section_renders(small_bank: Workspace, tmp_path: Path, locale: str) -> None:
    result = small_bank.value_tiers(save=False)
    section = tiers_section(result, locale)
    assert ("客户价值分层" if locale == "zh-CN" else "Value tiers") in section.title
    assert section.html.count("Plotly.newPlot") == 2
    assert '"symbol":"diamond"' in section.html  # the 80/20 point
    at80 = 1 - result.top_shares[0.2]  # 6 customers: the grid point 0.8 is not a customer
    assert 0 <= at80 <= 1
    path = render_report(tmp_path / "r.html", build_overview(small_bank.engine), locale=locale,
                         extra_sections=[section])  # fmt: skip
    html = path.read_text(encoding="utf-8")
    assert section.title in html and not re.search(r"<script[^>]+src=", html)


# -- CDNOW ---------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_cdnow_pareto_matches_pandas_on_the_raw_file(
    cdnow: Workspace, cdnow_raw: pd.DataFrame
) -> None:
    raw = cdnow_raw
    spend = raw.groupby("customer")["dollars"].sum().sort_values()
    assert spend.sum() == pytest.approx(2_500_315.63)  # SOURCE.md
    n = len(spend)
    cfg = ValueConfig(measure="revenue", revenue_types=("purchase",), window_months=18,
                      tier_by="percentile")  # fmt: skip
    result = cdnow.value_tiers(cfg)
    assert result.as_of == date(1998, 6, 30)
    ours = result.table.to_pandas()
    assert len(ours) == n == 23_570
    # 18 months cover the whole log (1997-01-01 .. 1998-06-30); revenue is annualised.
    assert ours["revenue_12m"].sum() * 18 / 12 == pytest.approx(spend.sum(), abs=2.0)
    assert ours["aum"].eq(0).all()
    p = result.pareto
    for share in (0.01, 0.05, 0.10, 0.20):
        k = max(1, round(n * share))
        assert p.top_shares[share] == pytest.approx(spend.iloc[-k:].sum() / spend.sum(), abs=1e-6)
    # Gini from the rank formula G = 2 * sum(i * x_i) / (n * sum x) - (n + 1) / n.
    x = spend.to_numpy()
    ranked = 2 * np.sum(np.arange(1, n + 1) * x) / (n * x.sum()) - (n + 1) / n
    assert p.gini == pytest.approx(ranked, abs=1e-6)
    at80 = float(np.interp(0.8, p.lorenz_x, p.lorenz_y))
    assert at80 == pytest.approx(x[: int(0.8 * n)].sum() / x.sum(), abs=1e-6)
    assert len(p.lorenz_x) == 201
    assert p.top_shares[0.2] > 0.5  # the few bring most of the money
    # Percentile tiers: 1% / 19% / 40% / 40% of customers, ties kept together.
    pct = (pd.Series(x).rank(method="min") - 1) / n
    expected = [int((pct >= 0.99).sum()), int(((pct >= 0.8) & (pct < 0.99)).sum()),
                int(((pct >= 0.4) & (pct < 0.8)).sum()), int((pct < 0.4).sum())]  # fmt: skip
    assert [s["customers"] for s in result.summary] == expected
    assert abs(expected[0] - 0.01 * n) < 5 and abs(expected[1] - 0.19 * n) < 30
    assert sum(s["value_share"] for s in result.summary) == pytest.approx(1.0)
    saved = cdnow.query(
        "SELECT count(*) FILTER (WHERE value_tier = 'private_banking') FROM customer_profile"
    ).column(0)[0]
    assert saved.as_py() == expected[0]
