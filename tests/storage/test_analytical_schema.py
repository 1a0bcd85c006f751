"""The analytical store's tables follow the schema, also in a workspace made before a column was
added."""

from __future__ import annotations

from pathlib import Path

from lodestar.storage.analytical import DuckDBEngine


def test_optional_columns_added_later_appear_in_old_tables(tmp_path: Path) -> None:
    engine = DuckDBEngine(tmp_path / "old.duckdb")
    engine.execute(
        "CREATE TABLE campaign_truth (campaign_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL,"
        " treatment VARCHAR NOT NULL, response_type VARCHAR NOT NULL, p_control DOUBLE NOT NULL,"
        " p_treated DOUBLE NOT NULL, uplift DOUBLE NOT NULL, expected_revenue DOUBLE)"
    )
    engine.execute(
        "INSERT INTO campaign_truth VALUES ('K', 'C1', 'sms', 'persuadable', 0.1, 0.2, 0.1, 5)"
    )
    engine.ensure_schema()
    engine.ensure_schema()  # twice: nothing left to add
    row = engine.query(
        "SELECT uplift, expected_p_control, expected_p_treated, expected_uplift FROM campaign_truth"
    ).to_pylist()
    assert row == [{"uplift": 0.1, "expected_p_control": None, "expected_p_treated": None,
                    "expected_uplift": None}]  # fmt: skip
    engine.close()
