"""The rights catalogue: amounts are exact, budgets required, errors name file, line, field."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

import pytest

from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.errors import DefinitionError, NotFound

GOOD = ("rights:\n  - id: r1\n    name: {zh: 甲, en: A}\n    kind: coupon\n    face_value: 9.9\n"
        "    cost: 0.1\n    validity_days: 7\n    budget_count: 3\n")  # fmt: skip


def test_amounts_are_decimals_and_the_count_budget_implies_cny() -> None:
    right = RightsCatalogue.from_text(GOOD).get("r1")
    assert right.face_value == Decimal("9.90") and right.cost == Decimal("0.10")
    assert right.cny_budget == Decimal("0.30")
    with pytest.raises(NotFound, match="known rights: r1"):
        RightsCatalogue.from_text(GOOD).get("r2")


def test_the_shipped_example_is_valid() -> None:
    with resources.as_file(resources.files("lodestar.campaigns.rights") / "examples"
                           / "rights.yaml") as path:  # fmt: skip
        assert len(RightsCatalogue.from_yaml(path).rights) >= 3


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("kind: coupon", "kind: gift"), 4, "rights[0].kind"),
        (("cost: 0.1", "cost: 0.123"), 6, "more than two decimals"),
        (("cost: 0.1", "cost: -1"), 6, "must not be negative"),
        (("    budget_count: 3\n", ""), 2, "needs a budget"),
        (("validity_days: 7", "validity_days: 0"), 7, "rights[0].validity_days"),
        (("kind: coupon", "kind: coupon\n    colour: red"), 5, "unknown field"),
    ],
)
def test_errors_name_file_line_and_field(change: tuple[str, str], line: int, message: str) -> None:
    text = GOOD.replace(*change)
    with pytest.raises(DefinitionError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        RightsCatalogue.from_text(text, "rights.yaml")
    assert info.value.problems[0].startswith(f"rights.yaml:{line}:")


def test_duplicate_ids_are_refused() -> None:
    text = GOOD + GOOD.removeprefix("rights:\n")
    with pytest.raises(DefinitionError, match="appears twice"):
        RightsCatalogue.from_text(text, "rights.yaml")
