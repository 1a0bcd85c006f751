"""The synthetic bank: schema, keys and references, reproducibility, and the realism later
stages rely on (80/20 value, funnel drop-off, consents, randomised campaigns with known effects).
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy import stats

from lodestar.data.schema import any_entity
from lodestar.data.synthetic import generate_bank
from lodestar.reports.overview import FUNNEL_STEPS
from lodestar.workspace import Workspace

N = 12_000


@pytest.fixture(scope="module")
def bank() -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = defaultdict(list)
    for name, table in generate_bank(N, seed=3, chunk_size=5_000):
        parts[name].append(table)
    return {name: pa.concat_tables(tables) for name, tables in parts.items()}


def test_every_table_has_the_canonical_schema(bank: dict[str, pa.Table]) -> None:
    for name, table in bank.items():
        assert table.schema.equals(any_entity(name).arrow_schema), name
    assert bank["customers"].num_rows == N


def test_keys_are_unique_across_chunks(bank: dict[str, pa.Table]) -> None:
    for name, table in bank.items():
        key = any_entity(name).key
        distinct = table.group_by(list(key)).aggregate([]).num_rows
        assert distinct == table.num_rows, name


def test_references_resolve(bank: dict[str, pa.Table]) -> None:
    for name, table in bank.items():
        for field in any_entity(name).references:
            assert field.references is not None
            parent, column = field.references.split(".")
            values = pc.drop_null(table.column(field.name)).unique()
            known = bank[parent].column(column)
            assert pc.all(pc.is_in(values, known)).as_py() in (True, None), f"{name}.{field.name}"


def test_same_seed_same_bank_other_seed_other_bank() -> None:
    a = [t for _, t in generate_bank(800, seed=5)]
    b = [t for _, t in generate_bank(800, seed=5)]
    c = [t for _, t in generate_bank(800, seed=6)]
    assert all(x.equals(y) for x, y in zip(a, b, strict=True))
    assert not all(x.equals(y) for x, y in zip(a, c, strict=True))


def test_value_is_concentrated_80_20(bank: dict[str, pa.Table]) -> None:
    h = bank["holdings"]
    deposit = pc.is_in(h["product_id"], pa.array(["DEP_CURRENT", "DEP_TERM_1Y", "DEP_TERM_3Y",
                                                 "DEP_LARGE_CD", "WM_CASH", "WM_FIXED",
                                                 "WM_MIXED", "WM_EQUITY", "WM_ALT"]))  # fmt: skip
    per = h.filter(deposit).group_by("customer_id").aggregate([("balance", "sum")])
    v = np.sort(per["balance_sum"].to_numpy())[::-1]
    top = v[: len(v) // 5].sum() / v.sum()
    assert 0.72 <= top <= 0.88, top


def test_holdings_follow_age_and_income(bank: dict[str, pa.Table]) -> None:
    c = bank["customers"]
    age = 2026 - pc.year(c["birth_date"]).to_numpy()
    ids = c["customer_id"].to_numpy(zero_copy_only=False)
    h = bank["holdings"]

    def holders(product: str) -> set[str]:
        return set(h.filter(pc.equal(h["product_id"], product))["customer_id"].to_pylist())

    cards, mortgages = holders("CC_STANDARD") | holders("CC_GOLD"), holders("LOAN_MORTGAGE")
    young = {i for i, a in zip(ids, age, strict=True) if a < 35}
    old = {i for i, a in zip(ids, age, strict=True) if a >= 60}
    assert len(cards & young) / len(young) > len(cards & old) / len(old)
    assert len(mortgages & old) / len(old) < 0.1
    owners = set(c.filter(pc.equal(c["employment"], "business_owner"))["customer_id"].to_pylist())
    sb = holders("LOAN_SB")
    assert len(sb & owners) / len(owners) > 5 * len(sb - owners) / (N - len(owners))


def test_wealth_products_respect_risk_tolerance(bank: dict[str, pa.Table]) -> None:
    c = bank["customers"]
    tol = dict(zip(c["customer_id"].to_pylist(), c["risk_tolerance"].to_pylist(), strict=True))
    risk = {"WM_CASH": "R1", "WM_FIXED": "R2", "WM_MIXED": "R3", "WM_EQUITY": "R4",
            "WM_ALT": "R5"}  # fmt: skip
    h = bank["holdings"].filter(pc.is_in(bank["holdings"]["product_id"], pa.array(list(risk))))
    rows = h.select(["customer_id", "product_id"]).to_pylist()
    breaches = sum(risk[r["product_id"]] > tol[r["customer_id"]] for r in rows)
    assert 0 < breaches < 0.02 * len(rows)  # rare mis-selling, for compliance checks to find


def test_lending_funnel_drops_at_every_step(bank: dict[str, pa.Table]) -> None:
    e = bank["events"]
    reached = [
        len(set(e.filter(pc.equal(e["event_name"], step))["customer_id"].to_pylist()))
        for step in FUNNEL_STEPS
    ]
    assert all(a > b > 0 for a, b in itertools.pairwise(reached)), reached


def test_anonymous_events_belong_to_known_devices(bank: dict[str, pa.Table]) -> None:
    e = bank["events"]
    anon = e.filter(pc.is_null(e["customer_id"]))
    assert anon.num_rows > 0.01 * e.num_rows
    devices = bank["identities"].filter(pc.equal(bank["identities"]["id_type"], "device_id"))
    assert pc.all(pc.is_in(anon["anonymous_id"], devices["id_value"])).as_py()


def test_consents_some_refused_some_withdrawn(bank: dict[str, pa.Table]) -> None:
    k = bank["consents"].filter(pc.equal(bank["consents"]["purpose"], "marketing"))
    refused = 1 - pc.mean(k["granted"].cast(pa.float64())).as_py()
    withdrawn = pc.sum(pc.is_valid(k["withdrawn_at"])).as_py() / k.num_rows
    assert 0.05 < refused < 0.4 and 0.01 < withdrawn < 0.2
    assert set(k["channel"].unique().to_pylist()) >= {"sms", "app_push", "voice_robot"}


def test_campaigns_are_randomised_and_match_their_truth(bank: dict[str, pa.Table]) -> None:
    contacts, truth, customers = (
        bank["campaign_contacts"],
        bank["campaign_truth"],
        bank["customers"],
    )
    income = dict(zip(customers["customer_id"].to_pylist(),
                      customers["annual_income"].to_pylist(), strict=True))  # fmt: skip
    for campaign in bank["past_campaigns"]["campaign_id"].to_pylist():
        c = contacts.filter(pc.equal(contacts["campaign_id"], campaign))
        treated = pc.equal(c["arm"], "treatment").to_numpy(zero_copy_only=False)
        conv = c["converted"].to_numpy(zero_copy_only=False).astype(float)
        # Balance: a covariate does not differ between arms beyond chance.
        inc = np.array([income[i] or np.nan for i in c["customer_id"].to_pylist()])
        ok = ~np.isnan(inc)
        assert stats.ttest_ind(inc[ok & treated], inc[ok & ~treated]).pvalue > 0.001, campaign
        # The observed effect matches the mean true uplift within sampling error.
        observed = conv[treated].mean() - conv[~treated].mean()
        se = np.sqrt(conv[treated].var() / treated.sum() + conv[~treated].var() / (~treated).sum())
        t = truth.filter(pc.equal(truth["campaign_id"], campaign))
        true_uplift = pc.mean(t["uplift"]).as_py()
        assert abs(observed - true_uplift) < 4 * se + 0.005, (campaign, observed, true_uplift)
        # The realised draws scatter around their expectation given the traits.
        draws = t["uplift"].to_numpy()
        expected = t["expected_uplift"].to_numpy()
        assert abs(draws.mean() - expected.mean()) < 4 * draws.std() / np.sqrt(len(draws))
        np.testing.assert_allclose(
            t["expected_p_treated"].to_numpy() - t["expected_p_control"].to_numpy(),
            expected,
            atol=1e-12,
        )
    types = set(truth["response_type"].unique().to_pylist())
    assert types == {"persuadable", "sure_thing", "lost_cause", "do_not_disturb"}
    dnd = truth.filter(pc.equal(truth["response_type"], "do_not_disturb"))
    assert pc.max(dnd["uplift"]).as_py() <= 0


def test_surveys_stay_on_their_scales(bank: dict[str, pa.Table]) -> None:
    s = bank["surveys"]
    for kind, (lo, hi) in {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.items():
        scores = s.filter(pc.equal(s["survey_type"], kind))["score"]
        assert lo <= pc.min(scores).as_py() and pc.max(scores).as_py() <= hi
        assert pc.count_distinct(scores).as_py() >= min(hi - lo, 5)
    assert bank["complaints"].num_rows > 0


def test_churners_fade_before_they_leave(bank: dict[str, pa.Table]) -> None:
    c = bank["customers"]
    churned = c.filter(pc.equal(c["status"], "closed"))
    assert 0.01 < churned.num_rows / N < 0.15
    tx = bank["transactions"]
    mine = tx.filter(pc.is_in(tx["customer_id"], churned["customer_id"]))
    last = dict(zip(churned["customer_id"].to_pylist(), churned["closed_date"].to_pylist(),
                    strict=True))  # fmt: skip
    days_before = np.array(
        [(last[cid] - ts.date()).days for cid, ts in
         zip(mine["customer_id"].to_pylist(), mine["ts"].to_pylist(), strict=True)]
    )  # fmt: skip
    assert (days_before >= -1).all()


def test_generated_bank_loads_through_validation(sqlite_workspace: Workspace) -> None:
    result = sqlite_workspace.generate(3_000, seed=9)
    counts = sqlite_workspace.counts()
    assert counts["customers"] == 3_000
    assert result.stats["events"].inserted == counts["events"] > 100_000
    merged = (
        sqlite_workspace.query("SELECT count(*) FROM events_resolved WHERE identity_merged")
        .column(0)[0]
        .as_py()
    )
    assert merged > 0
    assert sqlite_workspace.ops.count("consents") == counts["consents"]
