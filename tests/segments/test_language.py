"""The audience language: parse(print(tree)) == tree for any tree, canonical text, windows, and
precise errors (column, caret, what was expected) in both languages."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from segment_strategies import trees

from lodestar.errors import SegmentError
from lodestar.segments.catalogue import Catalogue
from lodestar.segments.nodes import (
    And,
    Between,
    Compare,
    Condition,
    Consent,
    Did,
    Flag,
    Holds,
    InList,
    IsNull,
    Not,
    Or,
    TextMatch,
    Transacted,
    Window,
)
from lodestar.segments.parser import parse
from lodestar.segments.printer import to_text

CATALOGUE = Catalogue.from_types({
    "customer_id": "VARCHAR", "age": "INTEGER", "annual_income": "DOUBLE",
    "rfm_group": "VARCHAR", "has_credit_card": "BOOLEAN", "join_date": "DATE",
    "tags": "VARCHAR[]", "balance": "DECIMAL(18,2)", "region": "VARCHAR",
})  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(trees())
def test_printing_then_parsing_gives_the_same_tree(tree) -> None:
    text = to_text(tree)
    assert parse(text) == tree, text
    assert to_text(parse(text)) == text  # canonical text is a fixed point


def test_the_issue_example_parses_to_the_expected_tree() -> None:
    text = ("age between 25 and 40 and rfm_group = '重要发展客户' and did('apply_start', "
            "within='30d') and not did('apply_submit', within='30d') and consent('sms')")  # fmt: skip
    assert parse(text, CATALOGUE) == And((
        Between("age", 25, 40),
        Compare("rfm_group", "=", "重要发展客户"),
        Did("apply_start", Window(30, "d")),
        Not(Did("apply_submit", Window(30, "d"))),
        Consent("sms", "marketing"),
    ))  # fmt: skip
    assert to_text(parse(text)) == text


def test_keywords_any_case_quotes_escapes_and_precedence() -> None:
    node = parse("NOT Age >= 3 AND \"rfm group\" = 'it''s' Or has_credit_card")
    assert node == Or((And((Not(Compare("Age", ">=", 3)), Compare("rfm group", "=", "it's"))),
                       Flag("has_credit_card")))  # fmt: skip
    assert to_text(node) == "(not Age >= 3 and \"rfm group\" = 'it''s') or has_credit_card"
    assert parse("x <> 1") == Compare("x", "!=", 1)
    assert parse("d >= date '2026-02-28'") == Compare("d", ">=", date(2026, 2, 28))
    assert parse("x = -1.5e3") == Compare("x", "=", -1500.0)
    assert parse("x not in (1, 2)") == InList("x", (1, 2), negated=True)
    assert parse("x not between 1 and 2") == Between("x", 1, 2, negated=True)
    assert parse("x is not null") == IsNull("x", negated=True)
    assert parse("name like 'W\\_%'") == TextMatch("name", "like", "W\\_%")


def test_functions_and_their_arguments() -> None:
    assert parse("did('app_open', within='12W', times >= 5)") == Did(
        "app_open", Window(12, "w"), Condition(">=", 5)
    )
    assert parse("transacted('salary', within='90d', amount>=5000)") == Transacted(
        "salary", Window(90, "d"), amount=Condition(">=", 5000)
    )
    assert parse("transacted(total > 100.5)") == Transacted(total=Condition(">", 100.5))
    assert parse("holds('CC_GOLD')") == Holds(product="CC_GOLD")
    assert parse("holds(category='wealth', balance >= 1e5)") == Holds(
        category="wealth", balance=Condition(">=", 100000.0)
    )
    assert parse("consent('sms', purpose='service')") == Consent("sms", "service")
    assert to_text(parse("consent('sms', purpose='marketing')")) == "consent('sms')"


@pytest.mark.parametrize(
    ("as_of", "window", "first"),
    [
        (date(2026, 6, 30), Window(30, "d"), date(2026, 6, 1)),
        (date(2026, 6, 30), Window(1, "w"), date(2026, 6, 24)),
        (date(2026, 6, 30), Window(1, "m"), date(2026, 5, 31)),
        (date(2026, 3, 31), Window(1, "m"), date(2026, 3, 1)),  # Feb has 28 days
        (date(2024, 3, 31), Window(1, "m"), date(2024, 3, 1)),  # leap year: 29 Feb + 1
        (date(2026, 6, 30), Window(6, "m"), date(2025, 12, 31)),
        (date(2024, 2, 29), Window(1, "y"), date(2023, 3, 1)),
        (date(2026, 1, 15), Window(13, "m"), date(2024, 12, 16)),
    ],
)
def test_windows_end_on_the_data_date_and_count_calendar_months(as_of, window, first) -> None:
    assert window.start(as_of) == first


def error(text: str, catalogue: Catalogue | None = CATALOGUE) -> SegmentError:
    with pytest.raises(SegmentError) as info:
        parse(text, catalogue)
    return info.value


def test_a_missing_value_names_the_column_and_draws_a_caret() -> None:
    exc = error("age >= 25 and age =")
    assert exc.position == 20
    assert exc.render("en").splitlines() == [
        "expected a value after '=' at column 20",
        "  age >= 25 and age =",
        "                     ^",
        "  hint: a value is a number, 'text', true/false or date 'YYYY-MM-DD'",
    ]
    assert "第 20 列：'=' 之后应为一个值" in exc.render("zh-CN")
    exc = error("age = and x")
    assert exc.render("en").startswith("expected a value after '=' at column 7, found and")


def test_unknown_fields_suggest_close_names() -> None:
    exc = error("agee >= 25")
    assert exc.position == 1
    assert "unknown field 'agee' at column 1" in exc.render("en")
    assert "did you mean age?" in exc.render("en")
    assert parse("AGE >= 25", CATALOGUE) == Compare("age", ">=", 25)  # case-insensitive


def test_type_mismatches_point_at_the_value() -> None:
    exc = error("age = 'abc'")
    assert exc.position == 7
    assert exc.render("en").startswith("age is a number, but 'abc' at column 7 is text")
    assert "age 是数值，但第 7 列的 'abc' 是文本" in exc.render("zh-CN")
    assert "is a date" in error("join_date > '2026-01-01'").render("en")
    assert "does not apply to has_credit_card" in error("has_credit_card > 1").render("en")
    assert "not a yes/no field" in error("age and has_credit_card").render("en")
    assert "'contains' at column 5 does not apply to age" in error("age contains '1'").render("en")
    assert "only 'is null'" in error("tags = 'a'").render("en")
    assert parse("tags is not null", CATALOGUE) == IsNull("tags", negated=True)
    assert "the values mix text and a number" in error("region in ('a', 1)", None).render("en")


def test_bad_windows_codes_functions_and_arguments() -> None:
    exc = error("did('x', within='30x')")
    assert exc.position == 17 and "bad window '30x' at column 17" in exc.render("en")
    assert "d (days), w (weeks), m (calendar months)" in exc.render("en")
    assert "bad window '0d'" in error("did('x', within='0d')").render("en")
    exc = error("transacted('salery')")
    assert "'salery' at column 12 is not a known transaction type" in exc.render("en")
    assert "did you mean salary?" in exc.render("en")
    exc = error("consent('fax')")
    assert "one of: sms, email" in exc.render("en")
    exc = error("didd('x')")
    assert "unknown function 'didd' at column 1" in exc.render("en")
    assert "did you mean did?" in exc.render("en")
    assert "has no argument 'when'" in error("did('x', when='30d')").render("en")
    assert "given 'within' twice" in error("did('x', within='1d', within='2d')").render("en")
    assert "never holds" in error("did('x', times = 0)").render("en")
    assert "never holds" in error("did('x', times < 1)").render("en")
    assert "must be a whole number" in error("did('x', times >= 1.5)").render("en")
    assert "holds() at column 1 takes a product id or category" in error("holds()").render("en")
    assert "did() needs an event name" in error("did(within='1d')").render("en")


def test_other_syntax_errors() -> None:
    assert "the expression is empty" in error("   ").render("en")
    assert "has no closing quote" in error("region = 'abc").render("en")
    assert "')' at column 9 closes nothing" in error("age > 1 )").render("en")
    assert "expected ')' at column 9, but the expression ends" in error("(age > 1").render("en")
    exc = error("age 25")
    assert "expected an operator" in exc.render("en") and exc.position == 5
    assert "unexpected character '$' at column 7" in error("age > $5").render("en")
    assert "not a date" in error("join_date > date '2026-02-30'").render("en")
    assert "backslash" in error("region like 'a\\b'").render("en")
    assert "out of range" in error("age > 99999999999999999999").render("en")


def test_wide_characters_shift_the_caret_by_two_columns() -> None:
    exc = error("rfm_group = '重要' and agee > 1")
    assert exc.position == 22
    line, caret = exc.render("en").splitlines()[1:3]
    assert caret.index("^") == 2 + 19 + 2 * 2  # indent, 19 narrow characters, 2 wide ones
    assert line[2:][exc.position - 1 :].startswith("agee")
