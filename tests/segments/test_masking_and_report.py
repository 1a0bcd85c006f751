"""Masking in SQL equals lodestar.data.pii.mask; the report section and its overlap chart."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodestar.data.pii import mask
from lodestar.data.schema import Pii
from lodestar.reports.segments_section import overlap_figure, segments_section
from lodestar.segments.masking import PII_COLUMNS, mask_sql
from lodestar.segments.session import Overlap
from lodestar.segments.store import SegmentVersion
from lodestar.storage.analytical import DuckDBEngine


@pytest.fixture(scope="module")
def engine() -> DuckDBEngine:
    e = DuckDBEngine(":memory:")
    yield e
    e.close()


def test_personal_columns_come_from_the_schema() -> None:
    assert PII_COLUMNS["name"] is Pii.NAME and PII_COLUMNS["phone"] is Pii.PHONE
    assert {"id_number", "email", "wecom_id", "app_user_id"} <= set(PII_COLUMNS)
    assert "city" not in PII_COLUMNS


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=20),
                                 st.sampled_from(["13812345678", "张三丰", "王", "a@b.cn",
                                                  "@x.cn", "wang.li@example.cn", "110101199003071234",
                                                  "1234567", "123456", "a@@b"])),
                       min_size=1, max_size=8))  # fmt: skip
def test_sql_masking_equals_python_masking(engine: DuckDBEngine, values: list[str | None]) -> None:
    for kind in (Pii.NAME, Pii.PHONE, Pii.ID_NUMBER, Pii.EMAIL, Pii.ACCOUNT_ID):
        got = engine.query(
            f"SELECT {mask_sql('v', kind)} AS m FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(v, i) "
            "ORDER BY i",
            [values],
        ).column(0).to_pylist()  # fmt: skip
        assert got == [mask(v, kind) for v in values], kind


def _version(name: str, expression: str, count: int) -> SegmentVersion:
    return SegmentVersion(name, 1, expression, None, count, 100, date(2026, 6, 30),
                          datetime(2026, 7, 1, tzinfo=UTC), "u")  # fmt: skip


def test_report_section_shows_counts_expressions_and_overlap() -> None:
    ov = Overlap(["a", "b"], {"a": 30, "b": 20}, {(True, True): 5, (True, False): 25,
                 (False, True): 15}, {("a", "b"): 5 / 45}, 45, 100)  # fmt: skip
    section = segments_section([_version("a", "age >= 40", 30), _version("b", "x < 'y'", 20)],
                               {"a": 31, "b": 20}, 100, date(2026, 6, 30), "en", overlap=ov)  # fmt: skip
    assert section.title == "Saved segments (data as of 2026-06-30)"
    assert "age &gt;= 40" in section.html and "x &lt; &#x27;y&#x27;" in section.html
    assert "31 (31.0%)" in section.html  # the current count, not the one at save
    assert "Jaccard a \\u002f b: 0.111" in section.html  # JSON inside the figure escapes /
    fig = overlap_figure(ov, "zh-CN")
    texts = list(fig.data[0].text)
    assert sorted(texts) == ["15", "25", "5"]
    empty = segments_section([], {}, 0, None, "zh-CN")
    assert "还没有已保存的客群" in empty.html
