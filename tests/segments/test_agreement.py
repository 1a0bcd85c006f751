"""Three evaluators, one answer: the compiled SQL (DuckDB), the in-memory index (numpy bitmaps)
and a plain Python reference agree on random banks and random expressions, NULLs and all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segment_reference import Bank, Reference
from segment_strategies import (
    AS_OF,
    CATEGORIES,
    CHANNELS,
    EVENTS,
    PRODUCTS,
    TEXTS,
    TYPES,
    typed_trees,
)

from lodestar.profile.view import refresh_profile_view
from lodestar.segments.catalogue import Catalogue
from lodestar.segments.compiler import CompileContext, members_sql
from lodestar.segments.index import ProfileIndex
from lodestar.segments.nodes import InSegment, Node
from lodestar.segments.parser import parse
from lodestar.segments.session import engine_bits
from lodestar.storage.analytical import DuckDBEngine

SEGMENTS = {
    "s_num": parse("num >= 0 or txt = 'a'"),
    "s_txt": parse("in_segment('s_num') and not txt like 'a%'"),
}

maybe = lambda s: st.none() | s  # noqa: E731
timestamps = st.integers(0, 800).map(
    lambda d: datetime(2026, 6, 30, 23, 59, tzinfo=UTC) - timedelta(days=d, hours=d % 24)
)
customer = st.fixed_dictionaries({
    "num": maybe(st.integers(-3, 3)),
    "amt": maybe(st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.25, 3.0, float("nan")])),
    "txt": maybe(st.sampled_from(TEXTS)),
    "flag": maybe(st.booleans()),
    "day": maybe(st.integers(-5, 5).map(lambda d: date(2026, 1, 10) + timedelta(days=d))),
})  # fmt: skip


@st.composite
def banks(draw: st.DrawFn) -> Bank:
    n = draw(st.integers(0, 12))
    ids = [f"C{i:02d}" for i in range(n)]
    profile = [{"customer_id": cid, **draw(customer)} for cid in ids]
    who = st.sampled_from(ids) if ids else st.none()
    events = [{"customer_id": draw(maybe(who)), "event_name": draw(st.sampled_from(EVENTS)),
               "ts": draw(timestamps)} for _ in range(draw(st.integers(0, 25)))]  # fmt: skip
    transactions = [{"customer_id": draw(who), "type": draw(st.sampled_from(TYPES)),
                     "amount": float(draw(st.integers(0, 200))), "ts": draw(timestamps)}
                    for _ in range(draw(st.integers(0, 25) if ids else st.just(0)))]  # fmt: skip
    days = st.integers(-400, 30).map(lambda d: AS_OF + timedelta(days=d))
    holdings = [{"customer_id": draw(who), "product_id": draw(st.sampled_from(PRODUCTS)),
                 "status": draw(maybe(st.sampled_from(["active", "dormant", "closed"]))),
                 "open_date": draw(days), "close_date": draw(maybe(days)),
                 "balance": draw(maybe(st.sampled_from([0.0, 50.0, 100.0, 150.0, 200.0])))}
                for _ in range(draw(st.integers(0, 12) if ids else st.just(0)))]  # fmt: skip
    consents = [{"consent_id": f"K{i}", "customer_id": draw(who),
                 "channel": draw(st.sampled_from(CHANNELS)),
                 "purpose": draw(st.sampled_from(["marketing", "service"])),
                 "granted": draw(st.booleans()), "ts": draw(timestamps),
                 "withdrawn_at": draw(maybe(timestamps))}
                for i in range(draw(st.integers(0, 12) if ids else st.just(0)))]  # fmt: skip
    products = [{"product_id": p, "category": CATEGORIES[i % 2]} for i, p in enumerate(PRODUCTS)]
    return Bank(profile, AS_OF, events, transactions, holdings, products, consents, SEGMENTS)


def _insert(engine: DuckDBEngine, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    marks = ", ".join(["(" + ", ".join("?" for _ in cols) + ")"] * len(rows))
    engine.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES {marks}",
                   [r[c] for r in rows for c in cols])  # fmt: skip


def load(engine: DuckDBEngine, bank: Bank) -> None:
    for table in ("customers", "events", "transactions", "holdings", "products", "consents"):
        engine.execute(f"DELETE FROM {table}")
    _insert(engine, "customers",
            [{"customer_id": r["customer_id"], "join_date": date(2020, 1, 1)} for r in bank.profile])  # fmt: skip
    fields = {"num": pa.int64(), "amt": pa.float64(), "txt": pa.string(), "flag": pa.bool_(),
              "day": pa.date32()}  # fmt: skip
    profile = pa.table(
        {"customer_id": pa.array([r["customer_id"] for r in bank.profile], pa.string()),
         **{f: pa.array([r[f] for r in bank.profile], t) for f, t in fields.items()}}
    )  # fmt: skip
    engine.replace_table("profile_t", profile)
    _insert(engine, "events", [{"event_id": f"E{i}", **e} for i, e in enumerate(bank.events)])
    _insert(engine, "transactions",
            [{"transaction_id": f"T{i}", **t} for i, t in enumerate(bank.transactions)])  # fmt: skip
    _insert(engine, "holdings",
            [{"account_id": f"A{i}", **h} for i, h in enumerate(bank.holdings)])  # fmt: skip
    _insert(engine, "products",
            [{"name": p["product_id"], **p} for p in bank.products])  # fmt: skip
    _insert(engine, "consents", bank.consents)
    refresh_profile_view(engine, AS_OF)


@pytest.fixture(scope="module")
def engine() -> DuckDBEngine:
    e = DuckDBEngine(":memory:")
    e.ensure_schema()
    yield e
    e.close()


def three_ways(engine: DuckDBEngine, bank: Bank, node: Node, index: ProfileIndex) -> None:
    catalogue = Catalogue.from_engine(engine)

    def resolve(ref: InSegment) -> Node:
        return SEGMENTS[ref.name]

    ctx = CompileContext(catalogue, AS_OF, resolve)
    c = members_sql(node, ctx)
    sql = {str(v) for v in engine.query(c.sql, c.params).column(0).to_pylist()}
    fast = index.evaluate(node, lambda n: engine_bits(engine, index, ctx, n), resolve)
    ref = Reference(bank).members(node)
    assert sql == ref, (node, c.sql, c.params)
    assert {str(v) for v in index.members(fast).to_pylist()} == ref, node


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])  # fmt: skip
@given(bank=banks(), nodes=st.lists(typed_trees, min_size=1, max_size=4))
def test_sql_index_and_reference_agree(engine: DuckDBEngine, bank: Bank, nodes) -> None:
    load(engine, bank)
    index = ProfileIndex.build(engine, Catalogue.from_engine(engine), "test")
    for node in nodes:
        three_ways(engine, bank, node, index)


def test_three_valued_logic_on_a_null(engine: DuckDBEngine) -> None:
    bank = Bank([{"customer_id": "C1", "num": None, "amt": float("nan"), "txt": None,
                  "flag": None, "day": None},
                 {"customer_id": "C2", "num": 1, "amt": 1.0, "txt": "a", "flag": False,
                  "day": date(2026, 1, 1)}], AS_OF, segments=SEGMENTS)  # fmt: skip
    load(engine, bank)
    index = ProfileIndex.build(engine, Catalogue.from_engine(engine), "test")
    for text, expected in [
        ("num = 1", {"C2"}), ("not num = 1", set()), ("not num != 1", {"C2"}),
        ("num is null", {"C1"}), ("not (num = 1 or flag)", set()),
        ("num = 1 or not flag", {"C2"}), ("not flag", {"C2"}), ("amt is null", {"C1"}),
        ("not amt > 5", {"C2"}), ("not txt in ('b')", {"C2"}), ("num not between 2 and 3", {"C2"}),
        # membership is yes or no: an unknown predicate makes a non-member
        ("in_segment('s_num')", {"C2"}), ("not in_segment('s_num')", {"C1"}),
        ("not (num >= 0 and in_segment('s_num'))", {"C1"}),
    ]:  # fmt: skip
        node = parse(text)
        three_ways(engine, bank, node, index)
        assert Reference(bank).members(node) == expected, text
