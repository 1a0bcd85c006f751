"""Segments on a generated bank through the Workspace: index counts equal SQL counts, saved
segments and versions on SQLite and PostgreSQL, in_segment and loops, overlap, samples and
exports with personal data masked, and the index following the data when it changes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lodestar.data.pii import mask
from lodestar.data.schema import Pii
from lodestar.errors import SegmentError
from lodestar.profile.rfm import RfmConfig
from lodestar.workspace import Workspace

LEAVES = [
    "age >= 35", "age between 25 and 40", "age is null", "gender = 'female'",
    "income_band in ('10k_20k', '20k_50k', 'ge50k')", "region != '浙江'", "city like '%州%'",
    "name contains '王'", "annual_income > 200000", "rfm_group = '重要价值客户'", "rfm_r <= 2",
    "rfm_monetary >= 5000", "tenure_months < 24", "join_date >= date '2024-01-01'",
    "closed_date is not null", "status = 'active'", "kyc_status not in ('verified')",
    "did('app_open', within='30d')", "did('apply_start', within='6m')",
    "did('login', within='12w', times >= 3)", "transacted('salary', within='90d', times >= 2)",
    "transacted('card_purchase', within='1y', total >= 3000)",
    "transacted(within='60d')", "holds('CC_GOLD')", "holds(category='wealth', balance >= 50000)",
    "consent('sms')", "consent('app_push', purpose='service')", "email is null",
]  # fmt: skip


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in English here (str() of an error follows LODESTAR_LANG, default zh-CN)."""
    monkeypatch.setenv("LODESTAR_LANG", "en")


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace.init(tmp_path_factory.mktemp("seg") / "ws")
    ws.generate(1500, seed=3)
    ws.rfm()
    yield ws
    ws.close()


expressions = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda ab: f"({ab[0]}) and ({ab[1]})"),
        st.tuples(inner, inner).map(lambda ab: f"({ab[0]}) or ({ab[1]})"),
        inner.map(lambda a: f"not ({a})"),
    ),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_index_counts_equal_sql_counts_on_the_generated_bank(bank: Workspace, expr: str) -> None:
    fast = bank.segment_count(expr)
    assert fast == bank.segment_count(expr, method="sql") == bank.segment_members(expr).num_rows


def test_every_leaf_selects_someone_and_not_everyone(bank: Workspace) -> None:
    """Guards the agreement test against vacuous expressions."""
    n = bank.segment_population()
    assert n == 1500
    for leaf in LEAVES:
        if leaf not in ("age is null", "closed_date is not null"):
            assert 0 < bank.segment_count(leaf) < n, leaf


def test_members_are_the_sql_answer(bank: Workspace) -> None:
    members = bank.segment_members("age >= 60 and consent('sms')").column(0).to_pylist()
    direct = bank.query(
        "SELECT customer_id FROM customer_profile WHERE age >= 60 AND customer_id IN "
        "(SELECT customer_id FROM consents_current WHERE channel = 'sms' "
        "AND purpose = 'marketing' AND in_force) ORDER BY 1"
    ).column(0)
    assert members == direct.to_pylist() and members
    sql, params = bank.segment_sql("age >= 60 and consent('sms')")
    assert "?" in sql and 60 in params and "sms" in params


def test_unknown_events_warn_with_close_names(bank: Workspace) -> None:
    parsed = bank.parse_segment("did('aply_start') or age > 30")
    assert [w.key for w in parsed.warnings] == ["seg.warn.unknown_event"]
    assert "did you mean apply_start" in parsed.warnings[0].render("en")
    assert parsed.canonical == "did('aply_start') or age > 30"
    assert not bank.parse_segment("did('apply_start')").warnings


def test_errors_name_the_fields_of_the_bank(bank: Workspace) -> None:
    with pytest.raises(SegmentError) as info:
        bank.segment_count("rfm_groop = '重要价值客户'")
    assert "did you mean rfm_group" in info.value.render("en")
    with pytest.raises(SegmentError, match="is a number"):
        bank.segment_count("age = 'abc'")


# -- saved segments, on both operational stores ----------------------------------------------------
@pytest.fixture
def small(workspace: Workspace) -> Workspace:
    workspace.generate(300, seed=1)
    return workspace


def test_saving_versions_and_the_audit_trail(small: Workspace) -> None:
    v1 = small.save_segment("older", "age >= 40", "customers aged 40+", actor="u1")
    assert (v1.version, v1.expression, v1.count_at_save) == (1, "age >= 40",
                                                            small.segment_count("age >= 40"))  # fmt: skip
    assert v1.population_at_save == 300 and v1.created_by == "u1"
    assert v1.data_as_of is not None
    again = small.save_segment("older", "AGE>=40", "customers aged 40+", actor="u2")
    assert again.version == 1  # same canonical text: nothing new
    v2 = small.save_segment("older", "age >= 45 and consent('sms')", actor="u2")
    assert v2.version == 2 and v2.description is None
    assert [s.name for s in small.segments()] == ["older"]
    assert small.segments()[0].version == 2
    assert small.segment("older", version=1).expression == "age >= 40"
    assert [v.version for v in small.segment_versions("older")] == [1, 2]
    saves = [e for e in small.ops.audit_entries() if e["action"] == "segment.save"]
    assert len(saves) == 2
    assert json.loads(saves[0]["before"])["expression"] == "age >= 40"
    assert json.loads(saves[0]["after"])["version"] == 2 and saves[0]["actor"] == "u2"


def test_bad_names_unknown_segments_and_versions(small: Workspace) -> None:
    with pytest.raises(SegmentError) as info:
        small.save_segment("Older Customers", "age > 1")
    assert "lower-case letters" in info.value.render("en")
    small.save_segment("older", "age >= 40")
    with pytest.raises(SegmentError) as info:
        small.segment("oldr")
    assert "did you mean older?" in info.value.render("en")
    with pytest.raises(SegmentError, match="no version 7"):
        small.segment("older", version=7)
    with pytest.raises(SegmentError, match="unknown field"):
        small.save_segment("broken", "agee > 1")
    assert small.segments()[0].name == "older" and len(small.segments()) == 1


def test_segments_built_from_segments_and_loops(small: Workspace) -> None:
    small.save_segment("older", "age >= 40")
    small.save_segment("older_sms", "in_segment('older') and consent('sms')")
    combined = "age >= 40 and consent('sms')"
    assert small.segment_count("in_segment('older_sms')") == small.segment_count(combined)
    assert small.segment_count("in_segment('older_sms')", method="sql") == small.segment_count(
        combined
    )
    # the latest version is what in_segment means
    small.save_segment("older", "age >= 50")
    assert small.segment_count("in_segment('older_sms')") == small.segment_count(
        "age >= 50 and consent('sms')"
    )
    with pytest.raises(SegmentError) as info:
        small.save_segment("older", "in_segment('older_sms') or age > 70")
    text = info.value.render("en")
    assert "loop: older -> older_sms -> older" in text and "in saved segment older_sms" in text
    with pytest.raises(SegmentError) as info:
        small.segment_count("in_segment('oldr')")
    assert info.value.position == 1 and "did you mean older" in info.value.render("en")


def test_overlap_regions_add_up_to_the_sets(small: Workspace) -> None:
    exprs = {"a": "age >= 40", "b": "consent('sms')", "c": "gender = 'female'"}
    for name, expr in exprs.items():
        small.save_segment(name, expr)
    sets = {k: set(small.segment_members(v).column(0).to_pylist()) for k, v in exprs.items()}
    ov = small.segment_overlap(["a", "b", "c"])
    assert ov.labels == ["a", "b", "c"] and ov.population == 300
    everyone = set(small.segment_members("age >= 0 or age is null").column(0).to_pylist())
    for key, n in ov.regions.items():
        region = set(everyone)
        for label, inside in zip("abc", key, strict=True):
            region = region & sets[label] if inside else region - sets[label]
        assert n == len(region), key
    assert ov.union == len(sets["a"] | sets["b"] | sets["c"])
    assert ov.jaccard[("a", "b")] == pytest.approx(
        len(sets["a"] & sets["b"]) / len(sets["a"] | sets["b"])
    )
    two = small.segment_overlap(["a", "age < 40"])  # a name and an expression
    assert two.regions[(True, True)] == 0 and two.sizes["age < 40"] == small.segment_count(
        "age < 40"
    )
    with pytest.raises(SegmentError, match="2 or 3"):
        small.segment_overlap(["a"])


def test_samples_are_members_with_personal_data_masked(small: Workspace) -> None:
    small.save_segment("older", "age >= 40")
    sample = small.segment_sample("older", n=5, seed=11)
    assert sample.num_rows == 5
    members = set(small.segment_members("age >= 40").column(0).to_pylist())
    assert set(sample.column("customer_id").to_pylist()) <= members
    assert sample.equals(small.segment_sample("older", n=5, seed=11))
    names = dict(small.query("SELECT customer_id, name FROM customers").to_pylist() and
                 [(r["customer_id"], r["name"]) for r in
                  small.query("SELECT customer_id, name FROM customers").to_pylist()])  # fmt: skip
    for row in sample.to_pylist():
        assert row["name"] == mask(names[row["customer_id"]], Pii.NAME)
    assert small.segment_sample("age > 1000", n=5).num_rows == 0


def test_exports_mask_personal_data_unless_asked_and_are_audited(
    small: Workspace, tmp_path: Path
) -> None:
    small.save_segment("older", "age >= 40")
    n = small.segment_count("age >= 40")
    out = small.export_segment("older", tmp_path / "older.csv", columns=["phone", "age", "name"],
                               actor="analyst")  # fmt: skip
    assert out.rows == n and out.masked == ["phone", "name"]
    table = pacsv.read_csv(out.path)
    assert table.column_names == ["customer_id", "phone", "age", "name"]
    phones = {r["customer_id"]: r["phone"] for r in
              small.query("SELECT customer_id, phone FROM customers").to_pylist()}  # fmt: skip
    for row in table.to_pylist():
        assert str(row["phone"]) == mask(phones[row["customer_id"]], Pii.PHONE)
    raw = small.export_segment("older", tmp_path / "older.parquet", columns=["phone"],
                               unmask=True, actor="officer")  # fmt: skip
    assert raw.masked == []
    rows = pq.read_table(raw.path).to_pylist()
    assert len(rows) == n and all(r["phone"] == phones[r["customer_id"]] for r in rows)
    actions = [(e["action"], e["actor"]) for e in small.ops.audit_entries()]
    assert ("segment.export.unmasked", "officer") in actions
    assert ("segment.export", "analyst") in actions
    with pytest.raises(SegmentError, match="cannot export"):
        small.export_segment("older", tmp_path / "older.xlsx")
    with pytest.raises(SegmentError, match="unknown column 'phon'"):
        small.export_segment("older", tmp_path / "o.csv", columns=["phon"])


def test_example_segments_save_and_count(small: Workspace) -> None:
    small.rfm()
    saved = small.save_example_segments(actor="demo")
    assert len(saved) >= 5
    for version in saved:
        assert version.count_at_save == small.segment_count(f"in_segment('{version.name}')")
    assert [v.version for v in small.save_example_segments()] == [1] * len(saved)


# -- the index follows the data ------------------------------------------------------------------------
def test_the_index_is_rebuilt_when_the_data_changes_and_reused_when_not(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.generate(200, seed=5)
    ws.rfm(RfmConfig(window_days=365))
    before = ws.segment_count("rfm_r >= 4")
    folders = list((tmp_path / "ws" / "profile" / "index").iterdir())
    assert len(folders) == 1
    ws.rfm(RfmConfig(window_days=30))  # same row count, other scores
    after = ws.segment_count("rfm_r >= 4")
    assert after == ws.segment_count("rfm_r >= 4", method="sql")
    assert after != before
    stamp = {p.name for p in (tmp_path / "ws" / "profile" / "index").iterdir()}
    assert stamp != {f.name for f in folders}
    meta = next((tmp_path / "ws" / "profile" / "index").iterdir()) / "meta.json"
    written = meta.stat().st_mtime_ns
    ws.close()
    ws = Workspace.open(tmp_path / "ws")  # a new process: the saved arrays are reused
    assert ws.segment_count("rfm_r >= 4") == after
    assert meta.stat().st_mtime_ns == written
    csv = tmp_path / "c.csv"
    csv.write_text("customer_id,join_date,birth_date\nNEW1,2026-01-01,1950-01-01\n", "utf-8")
    ws.ingest("customers", csv)
    assert ws.segment_count("age >= 70") == ws.segment_count("age >= 70", method="sql")
    assert "NEW1" in ws.segment_members("age >= 70").column(0).to_pylist()
    ws.close()
