"""Tags as data: the built-in library against an independent pandas computation, bad
definitions with file / line / field errors, and incremental refresh equal to a full build."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lodestar.data.schema import entity
from lodestar.errors import DefinitionError
from lodestar.profile import tag_expr
from lodestar.profile.tag_expr import ExprError
from lodestar.profile.tags import builtin_tag_files, load_tags
from lodestar.workspace import Workspace

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("tags") / "ws")
    ws.generate(3000, seed=11)
    ws.build_tags()
    yield ws
    ws.close()


def frame(ws: Workspace, sql: str) -> pd.DataFrame:
    return ws.query(sql).to_pandas()


def test_the_builtin_library_is_about_fifty_valid_tags() -> None:
    tags = load_tags([], builtin_tag_files())
    assert len(tags) >= 50
    assert {t.type for t in tags} == {"boolean", "category", "number"}
    groups = {t.group for t in tags}
    for needed in ("demographics", "holdings", "balances", "activity", "digital", "credit",
                   "salary", "cross_sell"):  # fmt: skip
        assert needed in groups
    assert all(t.label_zh and t.label_en for t in tags)


def test_tags_equal_an_independent_pandas_computation(bank: Workspace) -> None:
    tags = frame(bank, "SELECT * FROM profile_tags").set_index("customer_id").sort_index()
    tx = frame(bank, "SELECT customer_id, ts, type, amount, direction, channel FROM transactions")
    ev = frame(bank, "SELECT customer_id, ts, event_name FROM events_resolved")
    holdings = frame(
        bank, "SELECT h.*, p.category FROM holdings h JOIN products p USING (product_id)"
    )
    customers = frame(bank, "SELECT customer_id, birth_date FROM customers").set_index(
        "customer_id"
    )
    ids = tags.index
    end = pd.Timestamp(AS_OF + timedelta(days=1))
    tx["ts"] = pd.to_datetime(tx["ts"]).dt.tz_localize(None)
    ev["ts"] = pd.to_datetime(ev["ts"]).dt.tz_localize(None)
    in90 = tx[(tx["ts"] >= end - pd.Timedelta(days=90)) & (tx["ts"] < end)]

    count90 = in90.groupby("customer_id").size().reindex(ids, fill_value=0)
    assert (tags["txn_count_90d"] == count90).all()
    inflow = in90[in90["direction"] == "credit"].groupby("customer_id")["amount"].sum()
    assert np.allclose(tags["inflow_90d"], inflow.reindex(ids, fill_value=0.0))

    salary = in90[in90["type"] == "salary"].groupby("customer_id").size().reindex(ids, fill_value=0)
    assert (tags["is_salary_customer"] == (salary >= 2)).all()
    assert tags["is_salary_customer"].mean() > 0.05  # the demo bank has salary customers

    last_open = ev[ev["event_name"] == "app_open"].groupby("customer_id")["ts"].max()
    days = (pd.Timestamp(AS_OF) - last_open.dt.normalize()).dt.days.reindex(ids)
    assert tags["days_since_last_app_open"].astype("float").equals(days.astype("float"))

    # the most frequent channel in 90 days, ties to the smallest value
    counts = in90.groupby(["customer_id", "channel"]).size().reset_index(name="n")
    counts = counts.sort_values(["customer_id", "n", "channel"], ascending=[True, False, True])
    mode = counts.drop_duplicates("customer_id").set_index("customer_id")["channel"].reindex(ids)
    assert (tags["preferred_channel"].fillna("-") == mode.fillna("-")).all()

    open_ = holdings[holdings["status"].fillna("active") != "closed"]
    cards = open_[open_["category"] == "credit_card"].groupby("customer_id")
    balance = cards["balance"].sum().reindex(ids, fill_value=0.0)
    limit = cards["credit_limit"].sum().reindex(ids, fill_value=0.0)
    util = (balance / limit.replace(0, np.nan)).astype(float)
    assert np.allclose(tags["credit_utilisation"].astype(float), util, equal_nan=True)
    assert (tags["has_credit_card"] == cards.size().reindex(ids, fill_value=0).gt(0)).all()

    birth = pd.to_datetime(customers["birth_date"]).reindex(ids)
    age = AS_OF.year - birth.dt.year - (
        (birth.dt.month > AS_OF.month) | ((birth.dt.month == AS_OF.month) & (birth.dt.day > AS_OF.day))
    )  # fmt: skip
    bands = pd.cut(age, [-np.inf, 25, 35, 45, 55, 65, np.inf], right=False,
                   labels=["lt25", "25_34", "35_44", "45_54", "55_64", "ge65"]).astype(str)  # fmt: skip
    assert (tags["age_band"] == bands).all()


def test_boolean_tags_are_never_null_and_the_view_carries_them(bank: Workspace) -> None:
    nulls = bank.query(
        "SELECT count(*) FILTER (WHERE gap_credit_card IS NULL) AS a, "
        "count(*) FILTER (WHERE has_wealth IS NULL) AS b, count(*) AS n FROM customer_profile"
    ).to_pylist()[0]
    assert nulls == {"a": 0, "b": 0, "n": 3000}


def write(ws: Workspace, name: str, text: str) -> Path:
    folder = ws.root / "tags"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def scratch(tmp_path: Path, bank: Workspace) -> Iterator[Workspace]:
    """A workspace sharing nothing with ``bank``: a few customers, tags folder empty."""
    ws = Workspace.init(tmp_path / "ws")
    ws.generate(200, seed=3)
    yield ws
    ws.close()


BAD = """\
tags:
  - name: ok_tag
    type: number
    expr: "card_spend_90d / 2"
  - name: typo
    type: number
    expr: "card_spnd_90d * 2"
  - name: wrong_type
    type: boolean
    expr: "age + 1"
  - name: loop_a
    type: number
    expr: "loop_b + 1"
  - name: loop_b
    type: number
    expr: "loop_a + 1"
  - name: bad_window
    type: number
    aggregate: {source: transactions, function: count, window: 30x}
  - name: broken
    type: boolean
    expr: "age >"
  - name: mismatch
    type: boolean
    expr: "kyc_status = 3"
"""


def test_bad_definitions_name_file_line_and_field(scratch: Workspace) -> None:
    path = write(scratch, "bad.yaml", BAD)
    with pytest.raises(DefinitionError) as info:
        scratch.check_tags()
    problems = info.value.problems
    text = "\n".join(problems)
    assert f"{path}:7" in text and "unknown name 'card_spnd_90d'" in text
    assert "did you mean 'card_spend_90d'" in text
    assert f"{path}:9" in text and "declared boolean" in text and "gives number" in text
    assert "cycle" in text and "loop_a -> loop_b -> loop_a" in text.replace(
        "loop_b -> loop_a -> loop_b", "loop_a -> loop_b -> loop_a"
    )
    assert f"{path}:19" in text and "'30x' is not a window" in text
    assert f"{path}:22" in text and "expected a value" in text and "column 6" in text
    assert "cannot compare text with number" in text
    assert "ok_tag" not in text  # the good tag is not blamed
    assert len(problems) == 6


def test_a_yaml_syntax_error_names_the_line(scratch: Workspace) -> None:
    path = write(scratch, "broken.yaml", "tags:\n  - name: x\n    type: [number\n")
    with pytest.raises(Exception, match=rf"{path}:\d+: not valid YAML"):
        scratch.check_tags()


def test_duplicate_names_and_unquoted_numeric_labels(scratch: Workspace) -> None:
    write(scratch, "a.yaml", 'tags:\n  - {name: dup, type: number, expr: "age"}\n')
    write(scratch, "b.yaml", (
        'tags:\n  - {name: dup, type: number, expr: "age"}\n'
        "  - name: bands_bad\n    type: category\n"
        "    bands: {of: age, cuts: [30], labels: [lt30, 30_99]}\n"
    ))  # fmt: skip
    with pytest.raises(DefinitionError) as info:
        scratch.check_tags()
    text = "\n".join(info.value.problems)
    assert "already defined at" in text and "a.yaml:2" in text
    assert "put each in quotes" in text


def test_a_workspace_tag_replaces_a_builtin_and_adds_its_own(scratch: Workspace) -> None:
    write(scratch, "mine.yaml", (
        "tags:\n"
        "  - name: is_senior\n    type: boolean\n    expr: \"age >= 55\"\n"
        "  - name: senior_wealth\n    type: boolean\n    expr: \"is_senior and has_wealth\"\n"
    ))  # fmt: skip
    scratch.build_tags()
    row = scratch.query(
        "SELECT count(*) FILTER (WHERE is_senior) AS s, count(*) FILTER (WHERE age >= 55) AS a,"
        " count(*) FILTER (WHERE senior_wealth) AS w,"
        " count(*) FILTER (WHERE age >= 55 AND has_wealth) AS aw FROM customer_profile"
    ).to_pylist()[0]
    assert row["s"] == row["a"] > 0
    assert row["w"] == row["aw"]


def test_expression_errors_point_at_the_column() -> None:
    with pytest.raises(ExprError) as info:
        tag_expr.parse("a and (b or")
    assert info.value.column == 12
    with pytest.raises(ExprError, match="unclosed string"):
        tag_expr.parse("x = 'abc")
    with pytest.raises(ExprError, match=r"the left side of 'and' must be boolean"):
        tag_expr.check(tag_expr.parse("n and true"), {"n": "number"}.get)
    node = tag_expr.parse("not x between 1 and 3 or y in ('a', 'b')")
    assert tag_expr.check(node, {"x": "number", "y": "text"}.get) == "boolean"


def _transactions(ws: Workspace, rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=entity("transactions").arrow_schema)


def test_refresh_recomputes_only_the_touched_customers_and_equals_a_full_build(
    scratch: Workspace,
) -> None:
    scratch.config.refresh_tags_after_load = False  # refresh by hand, to see what it does
    first = scratch.build_tags()
    assert first.mode == "full"
    assert scratch.build_tags().mode == "unchanged"
    ids = [r["customer_id"] for r in scratch.query(
        "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 3").to_pylist()]  # fmt: skip
    # same data date: a salary credit a week before it, for three customers
    when = pd.Timestamp("2026-06-23T02:00:00Z").to_pydatetime()
    rows = [{"transaction_id": f"NEW{i}", "customer_id": c, "ts": when, "type": "salary",
             "amount": 9000.0 + i, "direction": "credit", "currency": "CNY",
             "channel": "other"} for i, c in enumerate(ids)]  # fmt: skip
    scratch.load_tables([("transactions", _transactions(scratch, rows))], source="test:salary")
    refreshed = scratch.build_tags()
    assert refreshed.mode == "incremental"
    assert refreshed.recomputed["salary_credit_count_90d"] == 3
    assert "has_credit_card" not in refreshed.recomputed  # holdings did not change
    incremental = scratch.query("SELECT * FROM profile_tags ORDER BY customer_id")
    scratch.build_tags(full=True)
    assert scratch.query("SELECT * FROM profile_tags ORDER BY customer_id").equals(incremental)

    # a later transaction moves the data date: tags with windows recompute for everyone
    later = pd.Timestamp("2026-07-10T02:00:00Z").to_pydatetime()
    rows = [{"transaction_id": "LATER", "customer_id": ids[0], "ts": later, "type": "deposit",
             "amount": 10.0, "direction": "credit", "currency": "CNY", "channel": "branch"}]  # fmt: skip
    scratch.load_tables([("transactions", _transactions(scratch, rows))], source="test:later")
    moved = scratch.build_tags()
    assert moved.as_of == date(2026, 7, 10)
    assert moved.recomputed["txn_count_90d"] == 200
    incremental = scratch.query("SELECT * FROM profile_tags ORDER BY customer_id")
    scratch.build_tags(full=True)
    assert scratch.query("SELECT * FROM profile_tags ORDER BY customer_id").equals(incremental)


def test_new_customers_get_whole_rows_on_refresh(scratch: Workspace) -> None:
    scratch.build_tags()
    customers = scratch.query("SELECT * FROM customers LIMIT 1").to_pylist()
    customers[0].update(customer_id="NEWCUST", phone=None, app_user_id=None)
    table = pa.Table.from_pylist(customers, schema=entity("customers").arrow_schema)
    scratch.load_tables([("customers", table)], source="test:new-customer")
    result = scratch.build_tags()
    assert result.customers == 201
    row = scratch.query(
        "SELECT has_phone, has_app, txn_count_90d FROM profile_tags WHERE customer_id = 'NEWCUST'"
    ).to_pylist()
    assert row == [{"has_phone": False, "has_app": False, "txn_count_90d": 0}]


def test_a_load_refreshes_the_tags_by_itself(scratch: Workspace) -> None:
    scratch.build_tags()
    cid = str(scratch.query("SELECT min(customer_id) FROM customers").column(0)[0])
    before = scratch.query(
        "SELECT salary_credit_count_90d AS n FROM customer_profile WHERE customer_id = ?", [cid]
    ).to_pylist()[0]["n"]
    when = pd.Timestamp("2026-06-20T02:00:00Z").to_pydatetime()
    rows = [{"transaction_id": "AUTO1", "customer_id": cid, "ts": when, "type": "salary",
             "amount": 8000.0, "direction": "credit", "currency": "CNY", "channel": "other"}]  # fmt: skip
    scratch.load_tables([("transactions", _transactions(scratch, rows))], source="test:auto")
    after = scratch.query(
        "SELECT salary_credit_count_90d AS n FROM customer_profile WHERE customer_id = ?", [cid]
    ).to_pylist()[0]["n"]
    assert after == before + 1
    assert scratch.build_tags().mode == "unchanged"  # nothing left to do


def test_tags_cli(scratch: Workspace) -> None:
    from typer.testing import CliRunner

    from lodestar.cli.main import app, register_commands

    register_commands()
    runner = CliRunner()
    ws = str(scratch.root)
    built = runner.invoke(app, ["tags", "build", "--full", "-w", ws])
    assert built.exit_code == 0, built.output
    assert "80 个标签" in built.output and "全量" in built.output
    listed = runner.invoke(app, ["--lang", "en", "tags", "list", "--group", "salary", "--stats",
                                 "-w", ws])  # fmt: skip
    assert listed.exit_code == 0 and "is_salary_customer" in listed.output
    assert "true" in listed.output and "has_credit_card" not in listed.output
    shown = runner.invoke(app, ["--lang", "en", "tags", "show", "age_band", "-w", ws])
    assert shown.exit_code == 0 and "bands" in shown.output and "uses tags" not in shown.output
    assert "did you mean" in runner.invoke(app, ["tags", "show", "age_bnd", "-w", ws]).output
    created = runner.invoke(app, ["tags", "new", "mine.yaml", "-w", ws])
    assert created.exit_code == 0 and (scratch.root / "tags" / "mine.yaml").is_file()
    assert runner.invoke(app, ["tags", "check", "-w", ws]).exit_code == 0  # the example is valid
    (scratch.root / "tags" / "bad.yaml").write_text(
        'tags:\n  - {name: oops, type: number, expr: "nope + 1"}\n', encoding="utf-8"
    )
    bad = runner.invoke(app, ["tags", "check", "-w", ws])
    assert bad.exit_code == 1
    assert "bad.yaml:2" in bad.output and "unknown name 'nope'" in bad.output


def test_a_broken_tag_file_does_not_fail_a_load(scratch: Workspace) -> None:
    scratch.build_tags()
    write(scratch, "wip.yaml", 'tags:\n  - {name: wip, type: number, expr: "nope"}\n')
    cid = str(scratch.query("SELECT min(customer_id) FROM customers").column(0)[0])
    when = pd.Timestamp("2026-06-21T02:00:00Z").to_pydatetime()
    rows = [{"transaction_id": "WIP1", "customer_id": cid, "ts": when, "type": "fee",
             "amount": 5.0, "direction": "debit", "currency": "CNY", "channel": "other"}]  # fmt: skip
    result = scratch.load_tables([("transactions", _transactions(scratch, rows))], source="wip")
    assert result.stats["transactions"].inserted == 1  # the load stands
    assert (
        scratch.tag_refresh_problem is not None
        and "unknown name 'nope'" in scratch.tag_refresh_problem
    )
    (scratch.root / "tags" / "wip.yaml").unlink()
    assert scratch.build_tags().mode == "incremental"  # the touched customer is still pending
