"""The offer catalogue: loading, located errors, templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from lodestar.decisioning.offers import EffectSource, OfferCatalogue
from lodestar.errors import DefinitionError

GOOD = """\
offers:
  - id: CC_ACT
    name: 信用卡激活返现
    name_en: Card activation
    content: {kind: cashback, amount: 50}
    value: 180
    offer_cost: 50
    channels:
      sms:
        cost: 0.05
        template: {zh-CN: "{name}您好，激活即享{amount}元返现", en: "Hi {name}"}
      app_push: {cost: 0.01, effect_factor: 0.8}
    effect: {source: uplift, treatments: {sms: sms_cashback}}
  - id: INS
    name: 健康险
    product: INS_HEALTH
    value: 180
    channels: {app_push: {cost: 0.01}}
    effect: {source: rate, rate: 0.004}
"""


def test_a_good_catalogue_loads() -> None:
    catalogue = OfferCatalogue.from_text(GOOD, "offers.yaml")
    assert catalogue.ids() == ["CC_ACT", "INS"]
    assert catalogue.channels() == ["sms", "app_push"]  # the schema's channel order
    act = catalogue.get("CC_ACT")
    assert act.effect.source is EffectSource.UPLIFT and act.channels["app_push"].effect_factor == 0.8
    assert act.render("sms", "zh-CN", {"name": "王先生", "amount": 50}) == "王先生您好，激活即享50元返现"
    assert act.render("app_push", "en", {}) == "Card activation"  # no template: the offer's name
    assert catalogue.get("INS").label("en") == "健康险"  # no English name: the Chinese one


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (("sms:\n", "fax:\n"), "offers.yaml:8", "unknown channel(s) fax"),
        (("Hi {name}", "Hi {nickname}"), "offers.yaml:11", "unknown variable(s) nickname"),
        (("id: INS", "id: CC_ACT"), "offers.yaml", "appears more than once"),
        (("rate: 0.004", "rate: 0"), "offers.yaml:19", "needs rate > 0"),
        (("value: 180\n    offer_cost", "value: -1\n    offer_cost"), "offers.yaml:6",
         "greater than or equal to 0"),
        (("    offer_cost: 50\n", "    offer_cost: 50\n    colour: red\n"), "offers.yaml:8",
         "unknown field"),
        (("id: INS", "id: 'bad id'"), "offers.yaml:14", "not a valid id"),
    ],
)
def test_every_problem_names_the_line_and_field(change: tuple[str, str], where: str,
                                                message: str) -> None:  # fmt: skip
    text = GOOD.replace(*change, 1)
    with pytest.raises(DefinitionError) as raised:
        OfferCatalogue.from_text(text, "offers.yaml")
    rendered = str(raised.value)
    assert message in rendered and where in rendered, rendered


def test_all_problems_are_reported_at_once() -> None:
    text = GOOD.replace("sms:\n", "fax:\n", 1).replace("rate: 0.004", "rate: 0", 1)
    with pytest.raises(DefinitionError) as raised:
        OfferCatalogue.from_text(text, "offers.yaml")
    assert len(raised.value.problems) == 2


def test_unknown_products_are_refused() -> None:
    catalogue = OfferCatalogue.from_text(GOOD, "offers.yaml")
    with pytest.raises(DefinitionError, match="product 'INS_HEALTH' is not in the product"):
        catalogue.check_products({"CC_STANDARD": {}}, "offers.yaml")


def test_the_shipped_examples_are_valid() -> None:
    from lodestar.data.catalogue import DEFAULT_PRODUCTS
    from lodestar.decisioning.plan_spec import PlanSpec

    examples = Path(__file__).resolve().parents[2] / "src/lodestar/decisioning/examples"
    catalogue = OfferCatalogue.from_yaml(examples / "offers.yaml")
    catalogue.check_products({p.product_id: {} for p in DEFAULT_PRODUCTS}, "offers.yaml")
    spec = PlanSpec.from_yaml(examples / "campaign.yaml")
    assert set(spec.capacity) <= set(catalogue.channels())
    assert spec.holdout == 0.1 and [a.name for a in spec.arms] == ["A", "B"]


def test_plan_spec_errors_are_located() -> None:
    from lodestar.decisioning.plan_spec import PlanSpec

    text = "campaign: C1\nholdout: 1.5\narms: [{name: control}]\ncapacity: {fax: 3}\n"
    with pytest.raises(DefinitionError) as raised:
        PlanSpec.from_text(text, "c.yaml")
    rendered = str(raised.value)
    assert "c.yaml:2: field 'holdout'" in rendered
    assert "c.yaml:3: field 'arms[0].name'" in rendered and "reserved" in rendered
    assert "unknown channel 'fax'" in rendered
