"""Lifecycle stages on a hand-built bank where every stage is known, the transition matrix
against a pandas crosstab of the saved history, CDNOW against rules written plainly in pandas,
the CLI and the report section."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lodestar.data.catalogue import products_table
from lodestar.errors import ConfigError
from lodestar.profile.lifecycle import STAGE_CODES, LifecycleConfig, latest_complete_month
from lodestar.reports.html import render_report
from lodestar.reports.lifecycle_section import lifecycle_section
from lodestar.reports.overview import build_overview
from lodestar.workspace import Workspace


def monthly(days: tuple[int, ...], first: str, last: str) -> list[date]:
    """The given days of every month from ``first`` to ``last`` (YYYY-MM), inclusive."""
    months = pd.period_range(first, last, freq="M")
    return [date(m.year, m.month, d) for m in months for d in days]


STEADY = (4, 14, 24)
# customer -> (join date, closed date, activity days)
CUSTOMERS: dict[str, tuple[date, date | None, list[date]]] = {
    "M1": (date(2020, 1, 1), None, [*monthly(STEADY, "2024-12", "2026-06"), date(2026, 6, 30)]),
    "G1": (date(2020, 1, 1), None,
           monthly((5,), "2024-12", "2026-03") + monthly((3, 8, 13, 18), "2026-04", "2026-06")),
    "D1": (date(2020, 1, 1), None,
           monthly((2, 6, 10, 14, 18, 22), "2024-12", "2026-03")
           + monthly((15,), "2026-04", "2026-06")),
    "S1": (date(2020, 1, 1), None, monthly(STEADY, "2024-12", "2025-12")),
    "X1": (date(2020, 1, 1), None, monthly(STEADY, "2024-12", "2025-12")),
    "X2": (date(2020, 1, 1), date(2026, 5, 10),
           [*monthly(STEADY, "2024-12", "2026-04"), date(2026, 5, 4)]),
    "R1": (date(2020, 1, 1), None,
           [*monthly(STEADY, "2024-12", "2026-02"), date(2026, 6, 5), date(2026, 6, 12)]),
    "H1": (date(2020, 1, 1), None, monthly(STEADY, "2024-12", "2026-06")),
    "N1": (date(2026, 5, 15), None, [date(2026, 5, 20), date(2026, 6, 10)]),
    "N2": (date(2026, 2, 10), None, monthly((12, 20, 28), "2026-02", "2026-06")),
    "E1": (date(2020, 1, 1), None, []),  # active through anonymous app events only
    "F1": (date(2026, 7, 15), None, []),  # joins after the data date
    "Q1": (date(2020, 1, 1), None, []),  # never active, money in the bank
}  # fmt: skip
E1_EVENTS = monthly(STEADY, "2024-12", "2026-06")
# (account, customer, product, opened, closed, balance)
HOLDINGS = [
    ("A1", "M1", "DEP_CURRENT", date(2020, 1, 1), None, 3000.0),
    ("A2", "S1", "DEP_CURRENT", date(2020, 1, 1), None, 10_000.0),
    ("A3", "X2", "DEP_CURRENT", date(2020, 1, 1), date(2026, 5, 10), 0.0),
    ("A4", "H1", "DEP_CURRENT", date(2020, 1, 1), None, 2000.0),
    ("A5", "H1", "WM_CASH", date(2026, 5, 3), None, 5000.0),
    ("A6", "Q1", "DEP_CURRENT", date(2020, 1, 1), None, 1000.0),
]
EXPECTED_NOW = {"M1": "mature", "G1": "growing", "D1": "declining", "S1": "declining",
                "X1": "churned", "X2": "churned", "R1": "resurrected", "H1": "growing",
                "N1": "new", "N2": "growing", "E1": "mature", "F1": None, "Q1": "declining"}  # fmt: skip
EXPECTED_SINCE = {"M1": date(2025, 7, 1), "G1": date(2026, 4, 1), "D1": date(2026, 5, 1),
                  "S1": date(2026, 2, 1), "X1": date(2026, 6, 1), "X2": date(2026, 5, 1),
                  "R1": date(2026, 6, 1), "H1": date(2026, 5, 1), "N1": date(2026, 5, 1),
                  "N2": date(2026, 5, 1), "E1": date(2025, 7, 1), "Q1": date(2025, 7, 1)}  # fmt: skip
# Stages at chosen month ends, worked out by hand from the rules.
EXPECTED_HISTORY = {
    "G1": {"2026-03": "mature", "2026-04": "growing", "2026-05": "growing"},
    "D1": {"2026-04": "mature", "2026-05": "declining"},
    "S1": {"2026-01": "mature", "2026-02": "declining", "2026-05": "declining"},
    "X1": {"2026-01": "mature", "2026-02": "declining", "2026-05": "declining"},
    "X2": {"2026-04": "mature", "2026-05": "churned"},
    "R1": {"2026-03": "mature", "2026-04": "declining", "2026-05": "declining"},
    "H1": {"2026-04": "mature", "2026-05": "growing"},
    "N1": {"2026-05": "new"},
    "N2": {"2026-02": "new", "2026-04": "new", "2026-05": "growing"},
}


def _ts(days: list[date]) -> pa.Array:
    return pa.array([datetime(d.year, d.month, d.day, 3, tzinfo=UTC) for d in days],
                    pa.timestamp("us", tz="UTC"))  # fmt: skip


def load_bank(ws: Workspace) -> None:
    ids = list(CUSTOMERS)
    customers = pa.table({
        "customer_id": ids,
        "join_date": pa.array([CUSTOMERS[c][0] for c in ids], pa.date32()),
        "closed_date": pa.array([CUSTOMERS[c][1] for c in ids], pa.date32()),
        "status": ["closed" if CUSTOMERS[c][1] else "active" for c in ids],
    })  # fmt: skip
    owners = [c for c in ids for _ in CUSTOMERS[c][2]]
    days = [d for c in ids for d in CUSTOMERS[c][2]]
    # A fee the bank charges is not the customer being active.
    owners.append("X1")
    days.append(date(2026, 6, 15))
    kinds = ["deposit"] * (len(days) - 1) + ["fee"]
    tx = pa.table({
        "transaction_id": [f"T{i}" for i in range(len(days))], "customer_id": owners,
        "ts": _ts(days), "type": kinds, "amount": [100.0] * len(days),
    })  # fmt: skip
    events = pa.table({
        "event_id": [f"E{i}" for i in range(len(E1_EVENTS))], "ts": _ts(E1_EVENTS),
        "anonymous_id": ["DEV-E1"] * len(E1_EVENTS), "event_name": ["app_open"] * len(E1_EVENTS),
    })  # fmt: skip
    identities = pa.table({"id_type": ["device_id"], "id_value": ["DEV-E1"],
                           "customer_id": ["E1"]})  # fmt: skip
    holdings = pa.table({
        "account_id": [h[0] for h in HOLDINGS], "customer_id": [h[1] for h in HOLDINGS],
        "product_id": [h[2] for h in HOLDINGS],
        "open_date": pa.array([h[3] for h in HOLDINGS], pa.date32()),
        "close_date": pa.array([h[4] for h in HOLDINGS], pa.date32()),
        "status": ["closed" if h[4] else "active" for h in HOLDINGS],
        "balance": [h[5] for h in HOLDINGS],
    })  # fmt: skip
    ws.load_tables(
        [("products", products_table()), ("customers", customers), ("holdings", holdings),
         ("identities", identities), ("transactions", tx), ("events", events)],
        source="test:lifecycle",
    )  # fmt: skip


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace.init(tmp_path_factory.mktemp("lifecycle") / "ws")
    load_bank(ws)
    yield ws
    ws.close()


def test_every_stage_on_a_hand_built_bank(bank: Workspace) -> None:
    result = bank.lifecycle()
    assert result.as_of == date(2026, 6, 30)
    assert result.months[0] == date(2025, 7, 1) and result.months[-1] == date(2026, 6, 1)
    rows = {r["customer_id"]: r for r in result.table.to_pylist()}
    assert {c: r["lifecycle_stage"] for c, r in rows.items()} == EXPECTED_NOW
    assert {c: r["lifecycle_since"] for c, r in rows.items() if c != "F1"} == EXPECTED_SINCE
    assert rows["R1"]["lifecycle_stage_name"] == "回流"
    assert rows["F1"]["lifecycle_since"] is None
    assert rows["X1"]["lifecycle_days_inactive"] == (date(2026, 6, 30) - date(2025, 12, 24)).days
    assert (rows["G1"]["lifecycle_recent_active_days"],
            rows["G1"]["lifecycle_previous_active_days"]) == (12, 3)  # fmt: skip
    history = result.history.to_pandas()
    history["m"] = pd.to_datetime(history["month"]).dt.strftime("%Y-%m")
    got = history.set_index(["customer_id", "m"])["stage"]
    for cid, months in EXPECTED_HISTORY.items():
        for month, stage in months.items():
            assert got[(cid, month)] == stage, (cid, month)
    assert not (history["customer_id"] == "F1").any()
    assert set(history.loc[history["customer_id"] == "N1", "m"]) == {"2026-05", "2026-06"}
    assert (got.loc["M1"] == "mature").all() and (got.loc["Q1"] == "declining").all()
    # Saved: the view has the current stage, the history table one row per customer and month.
    view = bank.query(
        "SELECT lifecycle_stage FROM customer_profile WHERE customer_id = 'R1'"
    ).to_pylist()
    assert view == [{"lifecycle_stage": "resurrected"}]
    assert bank.engine.count("lifecycle_history") == len(history)


def test_transition_matrix_against_a_crosstab(bank: Workspace) -> None:
    result = bank.lifecycle(save=False)
    wide = result.history.to_pandas().pivot(index="customer_id", columns="month", values="stage")
    months = sorted(wide.columns)
    pairs = [
        wide[[a, b]].dropna().set_axis(["before", "after"], axis=1)
        for a, b in itertools.pairwise(months)
    ]
    pooled = pd.concat(pairs)
    for counts, frame in ((result.transitions, pooled), (result.latest_transitions, pairs[-1])):
        table = pd.crosstab(frame["before"], frame["after"]).reindex(
            index=list(STAGE_CODES), columns=list(STAGE_CODES), fill_value=0
        )
        assert (counts == table.to_numpy()).all()
    probs = result.probabilities(result.transitions)
    filled = result.transitions.sum(axis=1) > 0
    assert np.allclose(probs[filled].sum(axis=1), 1.0)
    assert np.isnan(probs[~filled]).all()
    # Into June: X1 declining -> churned, R1 declining -> resurrected.
    latest = {(r["from"], to): r[to] for r in result.transition_rows(latest=True)
              for to in STAGE_CODES}  # fmt: skip
    assert latest[("declining", "churned")] == 1 and latest[("declining", "resurrected")] == 1
    counts = result.history.to_pandas().groupby(["month", "stage"]).size()
    for k, month in enumerate(result.months):
        for i, code in enumerate(STAGE_CODES):
            assert result.stage_counts[k, i] == counts.get((month, code), 0)
    assert result.distribution()["churned"] == pytest.approx(2 / 12)


def test_settings_change_the_stages(bank: Workspace) -> None:
    no_events = bank.lifecycle(LifecycleConfig(events=False), save=False).table.to_pylist()
    stages = {r["customer_id"]: r["lifecycle_stage"] for r in no_events}
    assert stages["E1"] == "churned"  # no activity left, no money in the bank
    patient = bank.lifecycle(LifecycleConfig(churn_days=400, months=6), save=False)
    stages = {r["customer_id"]: r["lifecycle_stage"] for r in patient.table.to_pylist()}
    assert stages["X1"] == "declining" and len(patient.months) == 6
    # A mid-month data date evaluates the month before (the latest complete one).
    earlier = bank.lifecycle(LifecycleConfig(as_of=date(2026, 6, 15)), save=False)
    assert earlier.months[-1] == date(2026, 5, 1)
    stages = {r["customer_id"]: r["lifecycle_stage"] for r in earlier.table.to_pylist()}
    assert stages["R1"] == "declining" and stages["N1"] == "new"


def test_latest_complete_month() -> None:
    assert latest_complete_month(date(2026, 6, 30)) == 2026 * 12 + 5
    assert latest_complete_month(date(2026, 6, 29)) == 2026 * 12 + 4
    assert latest_complete_month(date(2024, 2, 29)) == 2024 * 12 + 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"months": 1}, "months"), ({"dormant_days": 200}, "less than churn_days"),
     ({"decline_ratio": 1.2}, "decline_ratio"), ({"growth_ratio": 0.9}, "growth_ratio"),
     ({"activity_types": ("shopping",)}, "shopping"), ({"min_activity": 0}, "min_activity"),
     ({"activity_types": (), "events": False}, "needs activity"),
     ({"window_months": 0}, "window_months")],
)  # fmt: skip
def test_bad_settings_are_explained(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LifecycleConfig(**kwargs)  # type: ignore[arg-type]


def test_lifecycle_needs_activity(sqlite_workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="needs activity"):
        sqlite_workspace.lifecycle()


def test_profile_lifecycle_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import lodestar.cli.profile_analytics_commands  # noqa: F401  (registers the commands)
    from lodestar.cli.main import app, state

    monkeypatch.delenv("LODESTAR_LANG", raising=False)
    with Workspace.init(tmp_path / "ws") as ws:
        load_bank(ws)
    runner = CliRunner()
    state.lang = None
    zh = runner.invoke(app, ["profile", "lifecycle", "-w", str(tmp_path / "ws")])
    assert zh.exit_code == 0, zh.output
    assert "回流" in zh.output and "2026-06" in zh.output and "lifecycle_history" in zh.output
    state.lang = None
    en = runner.invoke(app, ["--lang", "en", "profile", "lifecycle", "--months", "6", "--latest",
                             "-w", str(tmp_path / "ws")])  # fmt: skip
    assert en.exit_code == 0, en.output
    assert "into 2026-06" in en.output and "resurrected" in en.output
    assert "2025-12" not in en.output  # six months: 2026-01 .. 2026-06
    state.lang = None
    bad = runner.invoke(app, ["--lang", "en", "profile", "lifecycle", "--dormant-days", "300",
                              "-w", str(tmp_path / "ws")])  # fmt: skip
    assert bad.exit_code == 1 and "churn_days" in bad.output


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_lifecycle_section_renders(bank: Workspace, tmp_path: Path, locale: str) -> None:
    section = lifecycle_section(bank.lifecycle(save=False), locale)
    assert ("客户生命周期" if locale == "zh-CN" else "Customer lifecycle") in section.title
    assert section.html.count("Plotly.newPlot") == 2 and '"type":"heatmap"' in section.html
    path = render_report(tmp_path / "r.html", build_overview(bank.engine), locale=locale,
                         extra_sections=[section])  # fmt: skip
    html = path.read_text(encoding="utf-8")
    assert section.title in html and not re.search(r"<script[^>]+src=", html)


# -- CDNOW: purchases only, one acquisition cohort -----------------------------------------------
@pytest.mark.realdata
def test_cdnow_against_the_rules_in_pandas(cdnow: Workspace, cdnow_raw: pd.DataFrame) -> None:
    raw = cdnow_raw
    raw["day"] = raw["when"]
    result = cdnow.lifecycle()
    assert result.as_of == date(1998, 6, 30) and result.months[-1] == date(1998, 6, 1)
    ours = result.table.to_pandas().set_index("customer_id")["lifecycle_stage"]
    end = pd.Timestamp("1998-06-30")
    last = raw.groupby("customer_id")["day"].max()
    # No accounts in a shop's log: 180 days without a purchase is churn.
    churned = set(last.index[(end - last).dt.days >= 180])
    assert set(ours.index[ours == "churned"]) == churned
    # Resurrected in June 1998: bought in June after 60 days or more without buying.
    june = raw[raw["day"] >= "1998-06-01"].groupby("customer_id")["day"].min()
    before = raw[raw["day"] < "1998-06-01"].groupby("customer_id")["day"].max()
    gap = (june - before.reindex(june.index)).dt.days
    assert set(ours.index[ours == "resurrected"]) == set(gap.index[gap >= 60])
    # Everyone joined in the first quarter of 1997: nobody is new a year later.
    assert (ours != "new").all() and ours.notna().all()
    quiet = set(last.index[((end - last).dt.days >= 60) & ((end - last).dt.days < 180)])
    assert quiet <= set(ours.index[ours == "declining"])
    share = result.distribution()
    assert 0.5 < share["churned"] < 0.9  # most of a one-off cohort has gone a year later
    assert share["mature"] + share["growing"] > 0.02
    assert result.history.num_rows == 12 * len(ours)  # everyone was a customer all year
