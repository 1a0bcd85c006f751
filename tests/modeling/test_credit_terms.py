"""Credit limit and rate rules: boundaries, declines, rounding, clipping, policy errors, and
properties (monotonic in the band, never above a cap, the frame path agrees with the scalar)."""

from __future__ import annotations

import copy
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.errors import DefinitionError
from lodestar.modeling.credit_terms import (
    DEFAULT_POLICY,
    CreditPolicy,
    credit_terms,
    credit_terms_frame,
)

# A revolving line repaid at 5% a month keeps the DTI arithmetic easy to check by hand.
SIMPLE: dict[str, Any] = {**copy.deepcopy(DEFAULT_POLICY), "repayment_share": 0.05}


@pytest.fixture
def policy() -> CreditPolicy:
    return CreditPolicy.from_mapping(SIMPLE)


def with_changes(**changes: Any) -> CreditPolicy:
    data = copy.deepcopy(SIMPLE)
    data.update(changes)
    return CreditPolicy.from_mapping(data)


# -- the three caps ----------------------------------------------------------------------------
def test_band_cap_binds(policy: CreditPolicy) -> None:
    terms = credit_terms("A", 100_000, 0, policy)
    assert (terms.limit, terms.binding, terms.declined) == (Decimal(200_000), "band_cap", False)


def test_income_multiple_binds(policy: CreditPolicy) -> None:
    # C: 3 x 10,000 = 30,000; DTI room 5,000 / 5% = 100,000; band cap 50,000
    terms = credit_terms("C", 10_000, 0, policy)
    assert (terms.limit, terms.binding) == (Decimal(30_000), "income_multiple")


def test_dti_headroom_binds_and_is_rounded_down(policy: CreditPolicy) -> None:
    # B: room 0.5 x 10,000 - 4,420 = 580 a month; 580 / 5% = 11,600 -> 11,000 (step 1,000)
    terms = credit_terms("B", 10_000, 4_420, policy)
    assert (terms.limit, terms.binding) == (Decimal(11_000), "dti_headroom")
    # The new line's repayment fits under the cap; one more step would not.
    assert Decimal("0.05") * terms.limit + 4_420 <= Decimal("0.5") * 10_000
    assert Decimal("0.05") * (terms.limit + 1_000) + 4_420 > Decimal("0.5") * 10_000


def test_exact_multiple_is_kept_despite_float_inputs(policy: CreditPolicy) -> None:
    # 0.5 x 3,000.3 - 1,400.15 = 100 exactly; 100 / 0.05 = 2,000 (binary floats would give
    # 1,999.99...; money is Decimal)
    terms = credit_terms("D", 3_000.3, 1_400.15, policy)
    assert terms.limit == Decimal(2_000)


def test_dti_headroom_exhausted_declines_with_reason(policy: CreditPolicy) -> None:
    terms = credit_terms("A", 10_000, 5_000, policy, locale="en")
    assert terms.declined and terms.decline_reason == "dti_exhausted"
    assert terms.limit == 0 and terms.rate is None
    assert any("no headroom" in line for line in terms.explanation)
    assert any("DTI" in line for line in terms.explain("zh-CN"))


def test_below_minimum_declines(policy: CreditPolicy) -> None:
    # room 50 / 5% = 1,000 < min_limit 2,000
    terms = credit_terms("A", 10_000, 4_950, policy)
    assert terms.declined and terms.decline_reason == "below_minimum"
    assert terms.binding == "dti_headroom"


@pytest.mark.parametrize("income", [None, float("nan"), 0])
def test_missing_or_zero_income_declines(policy: CreditPolicy, income: Any) -> None:
    terms = credit_terms("A", income, 0, policy, locale="en")
    assert terms.decline_reason == "income_missing"
    assert "affordability" in terms.explanation[-1]


def test_missing_debt_declines_rather_than_assuming_none(policy: CreditPolicy) -> None:
    assert credit_terms("A", 10_000, None, policy).decline_reason == "debt_missing"


def test_band_without_credit_declines(policy: CreditPolicy) -> None:
    assert credit_terms(400.0, 50_000, 0, policy).decline_reason == "band_declined"


@pytest.mark.parametrize("bad", [-1, float("inf"), "100", True])
def test_nonsense_amounts_are_errors_naming_the_argument(policy: CreditPolicy, bad: Any) -> None:
    with pytest.raises(ValueError, match="monthly_income"):
        credit_terms("A", bad, 0, policy)


# -- bands and rates ---------------------------------------------------------------------------
def test_points_map_to_bands_at_the_boundaries(policy: CreditPolicy) -> None:
    assert credit_terms(620.0, 10_000, 0, policy).band == "A"
    assert credit_terms(619.99, 10_000, 0, policy).band == "B"
    assert credit_terms(500.0, 10_000, 0, policy).band == "D"
    assert credit_terms(499.0, 10_000, 0, policy).band == "E"
    with pytest.raises(ValueError, match="no band named 'Z'"):
        credit_terms("Z", 10_000, 0, policy)


def test_rate_is_base_plus_premium_rounded_to_cents() -> None:
    policy = with_changes(base_rate="5.555")
    terms = credit_terms("B", 10_000, 0, policy, locale="en")
    assert terms.rate == Decimal("8.06")  # 5.555 + 2.5 = 8.055 -> half up
    assert "base 5.555% + band B premium 2.5%" in terms.explanation[1]


def test_rate_clipped_at_floor_and_cap() -> None:
    low = credit_terms("A", 10_000, 0, with_changes(base_rate=3.0), locale="en")
    assert low.rate == Decimal("4.35")
    assert any("floor" in line for line in low.explanation)
    high = credit_terms("D", 10_000, 0, with_changes(base_rate=15.0), locale="en")
    assert high.rate == Decimal("24.00")  # 15 + 12 = 27 -> cap
    assert any("cap 24" in line for line in high.explanation)


def test_annuity_repayment_when_no_share_is_given() -> None:
    policy = CreditPolicy.from_mapping(DEFAULT_POLICY)
    # 6% a year over 36 months: 0.0304219 per unit; room 1,000 -> 32,871.1 -> 32,000
    terms = credit_terms("A", 10_000, 4_000, policy)
    assert terms.limit == Decimal(32_000) and terms.binding == "dti_headroom"
    assert abs(policy.repayment_per_unit(Decimal(6)) - Decimal("0.0304219")) < Decimal("1e-7")


def test_explanation_defaults_to_chinese(policy: CreditPolicy) -> None:
    terms = credit_terms("C", 10_000, 0, policy)
    assert terms.explanation[-1] == "额度受收入倍数约束"
    assert terms.explain("en")[-1] == "the income multiple set the limit"


# -- policy errors -----------------------------------------------------------------------------
def test_policy_errors_name_each_field() -> None:
    data = copy.deepcopy(SIMPLE)
    data["dti_cap"] = 1.5
    data["bands"][1]["max_limit"] = "lots"
    data["bands"][2]["rate_premium"] = 1  # below B's 2.5
    data["colour"] = "blue"
    with pytest.raises(DefinitionError) as err:
        CreditPolicy.from_mapping(data, source="policy.yaml")
    text = str(err.value)
    assert "field 'bands[1].max_limit': must be a number, got 'lots'" in text
    assert "field 'colour': unknown field" in text
    # cross-field rules are checked once the values parse
    data["bands"][1]["max_limit"] = 100_000
    del data["colour"]
    with pytest.raises(DefinitionError) as err:
        CreditPolicy.from_mapping(data, source="policy.yaml")
    text = str(err.value)
    assert "field 'dti_cap': must be in (0, 1]" in text
    assert "field 'bands[2].rate_premium'" in text and "cannot pay less" in text


def test_policy_from_yaml_gives_the_line(tmp_path: Path) -> None:
    import yaml

    data = copy.deepcopy(SIMPLE)
    data["bands"][3]["max_limit"] = 80_000  # D above C
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        CreditPolicy.from_yaml(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "80000" in text)
    assert f"policy.yaml:{line}: field 'bands[3].max_limit'" in str(err.value)
    data["bands"][3]["max_limit"] = 20_000
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert CreditPolicy.from_yaml(path).band("D").max_limit == Decimal(20_000)


def test_missing_fields_are_listed() -> None:
    with pytest.raises(DefinitionError, match="field 'dti_cap': is required"):
        CreditPolicy.from_mapping({"bands": SIMPLE["bands"]})


# -- properties --------------------------------------------------------------------------------
money = st.decimals(min_value=0, max_value=200_000, places=2, allow_nan=False)
BANDS = [b["name"] for b in SIMPLE["bands"]]


@settings(max_examples=300, deadline=None)
@given(income=money, debt=money, share=st.sampled_from([None, 0.03, 0.05]))
def test_better_band_never_gets_a_lower_limit_or_higher_rate(
    income: Decimal, debt: Decimal, share: float | None
) -> None:
    policy = with_changes(repayment_share=share)
    offers = [credit_terms(b, income, debt, policy) for b in BANDS]
    for better, worse in itertools.pairwise(offers):
        assert better.limit >= worse.limit
        if not better.declined and not worse.declined:
            assert better.rate is not None and worse.rate is not None
            assert better.rate <= worse.rate
        assert not (better.declined and not worse.declined)


@settings(max_examples=300, deadline=None)
@given(points=st.floats(300, 800), income=money, debt=money)
def test_limits_never_exceed_any_cap(points: float, income: Decimal, debt: Decimal) -> None:
    policy = CreditPolicy.from_mapping(DEFAULT_POLICY)
    terms = credit_terms(points, income, debt, policy)
    band = policy.band(terms.band)
    if terms.declined:
        assert terms.limit == 0 and terms.rate is None
        return
    assert policy.min_limit <= terms.limit <= band.max_limit
    assert terms.limit <= band.income_multiple * income
    assert terms.limit % policy.rounding_step == 0
    assert terms.rate is not None
    repayment = policy.repayment_per_unit(terms.rate) * terms.limit
    assert repayment + debt <= policy.dti_cap * income
    assert policy.rate_floor <= terms.rate <= policy.rate_cap


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(300, 800),
            st.one_of(st.none(), money),
            st.one_of(st.none(), money),
        ),
        min_size=1,
        max_size=30,
    ),
    share=st.sampled_from([None, 0.05]),
)
def test_frame_agrees_with_the_scalar_reference(
    rows: list[tuple[float, Decimal | None, Decimal | None]], share: float | None
) -> None:
    policy = with_changes(repayment_share=share)
    frame = pd.DataFrame(
        {
            "points": [r[0] for r in rows],
            "monthly_income": [np.nan if r[1] is None else float(r[1]) for r in rows],
            "monthly_debt": [np.nan if r[2] is None else float(r[2]) for r in rows],
        }
    )
    out = credit_terms_frame(frame, policy)
    for i, (points, income, debt) in enumerate(rows):
        ref = credit_terms(points, income, debt, policy)
        got = out.iloc[i]
        assert got["band"] == ref.band
        assert got["declined"] == ref.declined
        assert got["decline_reason"] == ref.decline_reason
        assert got["binding"] == ref.binding
        assert got["limit"] == float(ref.limit)
        if ref.rate is None:
            assert np.isnan(got["rate"])
        else:
            assert got["rate"] == float(ref.rate)


def test_frame_by_band_column_and_errors(policy: CreditPolicy) -> None:
    frame = pd.DataFrame({"grade": ["A", "E"], "monthly_income": [10_000, 10_000],
                          "monthly_debt": [0, 0]})  # fmt: skip
    out = credit_terms_frame(frame, policy, band="grade", points=None)
    assert out["limit"].tolist() == [80_000.0, 0.0]
    assert out["decline_reason"].tolist() == [None, "band_declined"]
    with pytest.raises(ValueError, match="no column 'points'"):
        credit_terms_frame(frame, policy)
