"""Hypothesis strategies: arbitrary syntax trees (for the printer/parser round trip) and
well-typed expressions over a small bank (for the three evaluators' agreement)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from lodestar.segments.nodes import (
    COMPARE_OPS,
    WINDOW_LIMITS,
    And,
    Between,
    Compare,
    Condition,
    Consent,
    Did,
    Flag,
    Holds,
    InList,
    InSegment,
    IsNull,
    Node,
    Not,
    Or,
    TextMatch,
    Transacted,
    Window,
)

# -- any tree -------------------------------------------------------------------------------------
names = st.one_of(
    st.sampled_from(
        [
            "age",
            "rfm_group",
            "has_card",
            "x1",
            "And",
            "date",
            "my field",
            'a"b',
            "客户等级",
            "_x",
            "9lives",
            "did",
            "times",
        ]
    ),
    st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s),
)
texts = st.text(max_size=10)
numbers = st.one_of(
    st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
values = st.one_of(numbers, texts, st.booleans(), dates)


def same_kind_values(min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        *(
            st.lists(s, min_size=min_size, max_size=max_size).map(tuple)
            for s in (numbers, texts, st.booleans(), dates)
        )
    )


windows = st.sampled_from(list(WINDOW_LIMITS)).flatmap(
    lambda u: st.integers(1, WINDOW_LIMITS[u]).map(lambda n: Window(n, u))
)
ops = st.sampled_from(COMPARE_OPS)
counts = st.builds(Condition, ops, st.integers(0, 10_000)).filter(
    lambda c: not ((c.op in ("=", "<=") and c.value < 1) or (c.op == "<" and c.value <= 1))
)
amounts = st.builds(Condition, ops, numbers)
codes = st.text(min_size=1, max_size=8).filter(lambda s: s.strip() != "")


def _valid_like(p: str) -> bool:
    i = 0
    while i < len(p):
        if p[i] == "\\":
            if i + 1 >= len(p) or p[i + 1] not in "%_\\":
                return False
            i += 2
        else:
            i += 1
    return True


like_patterns = st.text(alphabet="ab%_\\日'", max_size=6).filter(_valid_like)


def _between(v: tuple[Any, ...]) -> st.SearchStrategy[Between]:
    return st.builds(Between, names, st.just(v[0]), st.just(v[1]), st.booleans())


leaves = st.one_of(
    st.builds(Compare, names, ops, values),
    same_kind_values(2, 2).flatmap(_between),
    st.builds(InList, names, same_kind_values(), st.booleans()),
    st.builds(IsNull, names, st.booleans()),
    st.builds(Flag, names),
    st.builds(TextMatch, names, st.just("contains"), texts),
    st.builds(TextMatch, names, st.just("like"), like_patterns),
    st.builds(Did, codes, st.none() | windows, st.none() | counts),
    st.builds(
        Transacted,
        st.none() | st.sampled_from(["salary", "fee", "card_purchase"]),
        st.none() | windows,
        st.none() | amounts,
        st.none() | counts,
        st.none() | amounts,
    ),
    st.builds(Holds, codes, st.none(), st.none() | amounts),
    st.builds(Holds, st.none(), st.sampled_from(["wealth", "credit_card"]), st.none() | amounts),
    st.builds(
        Consent,
        st.sampled_from(["sms", "email", "app_push"]),
        st.sampled_from(["marketing", "service"]),
    ),
    st.builds(InSegment, codes),
)


def trees(leaf: st.SearchStrategy[Node] = leaves) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=4).map(lambda xs: And(tuple(xs))),
            st.lists(inner, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs))),
            inner.map(Not),
        ),
        max_leaves=12,
    )


# -- well-typed expressions over the test bank ----------------------------------------------------
AS_OF = date(2026, 6, 30)
TEXTS = ["a", "b", "ab", "B", "é", "日本", "", "it's", "a%b", "a_b", "x\ny"]
small_ints = st.integers(-3, 3)
small_floats = st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.25, 3.0])
small_dates = st.integers(-5, 5).map(lambda d: date(2026, 1, 10) + timedelta(days=d))
small_texts = st.sampled_from(TEXTS)
typed_fields: dict[str, st.SearchStrategy[Any]] = {
    "num": small_ints,
    "amt": small_floats,
    "txt": small_texts,
    "day": small_dates,
}
EVENTS = ["e1", "e2", "e3"]
TYPES = ["salary", "fee", "card_purchase"]
PRODUCTS = ["P1", "P2", "P3"]
CATEGORIES = ["wealth", "credit_card"]
CHANNELS = ["sms", "email"]


def _typed_leaf(name: str, v: st.SearchStrategy[Any]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Compare, st.just(name), ops, v),
        st.builds(Between, st.just(name), v, v, st.booleans()),
        st.builds(
            InList, st.just(name), st.lists(v, min_size=1, max_size=3).map(tuple), st.booleans()
        ),
        st.builds(IsNull, st.just(name), st.booleans()),
    )


small_windows = st.sampled_from(
    [
        Window(1, "d"),
        Window(30, "d"),
        Window(2, "w"),
        Window(1, "m"),
        Window(6, "m"),
        Window(1, "y"),
    ]
)
small_counts = st.builds(Condition, ops, st.integers(0, 3)).filter(
    lambda c: not ((c.op in ("=", "<=") and c.value < 1) or (c.op == "<" and c.value <= 1))
)
small_amounts = st.builds(Condition, ops, st.sampled_from([0, 50, 100, 150, 250]))

typed_leaves = st.one_of(
    *(_typed_leaf(n, s) for n, s in typed_fields.items()),
    st.builds(Flag, st.just("flag")),
    st.builds(Compare, st.just("flag"), st.sampled_from(["=", "!="]), st.booleans()),
    st.builds(
        InList,
        st.just("flag"),
        st.lists(st.booleans(), min_size=1, max_size=2).map(tuple),
        st.booleans(),
    ),
    st.builds(IsNull, st.just("flag"), st.booleans()),
    st.builds(TextMatch, st.just("txt"), st.just("contains"), small_texts),
    st.builds(
        TextMatch,
        st.just("txt"),
        st.just("like"),
        st.sampled_from(["a%", "%b", "_", "__", "%", "a\\%b", "a\\_b", "日%", "x%y"]),
    ),
    st.builds(Did, st.sampled_from(EVENTS), st.none() | small_windows, st.none() | small_counts),
    st.builds(
        Transacted,
        st.none() | st.sampled_from(TYPES),
        st.none() | small_windows,
        st.none() | small_amounts,
        st.none() | small_counts,
        st.none() | small_amounts,
    ),
    st.builds(Holds, st.sampled_from(PRODUCTS), st.none(), st.none() | small_amounts),
    st.builds(Holds, st.none(), st.sampled_from(CATEGORIES), st.none() | small_amounts),
    st.builds(Consent, st.sampled_from(CHANNELS), st.sampled_from(["marketing", "service"])),
    st.builds(InSegment, st.sampled_from(["s_num", "s_txt"])),
)
typed_trees = trees(typed_leaves)
