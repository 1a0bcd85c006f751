"""Mapping files: errors name the file, line and field; translations, constants, formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from lodestar.data.mapping import load_mapping
from lodestar.errors import ConfigError, ValidationFailed
from lodestar.workspace import Workspace


def mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("kind: customers\ndelimeter: ','\n", 2, "delimeter", "unknown setting"),
        ("format: xlsx\n", 1, "format", "not one of csv, parquet, jsonl"),
        ("delimiter: ';;'\n", 1, "delimiter", "single character"),
        ("encoding: klingon\n", 1, "encoding", "unknown encoding"),
        ("time_zone: Asia/Beijing\n", 1, "time_zone", "IANA"),
        ("columns:\n  customer_id: ID\n  phone: {column: TEL, value: x}\n", 3, "columns.phone",
         "exactly one of"),
        ("columns:\n  customer_id: {source: ID}\n", 2, "columns.customer_id", "unknown keys"),
        ("ignore: BRANCH\n", 1, "ignore", "list"),
    ],
)  # fmt: skip
def test_mapping_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_mapping(mapping(tmp_path, text))
    message = str(info.value)
    assert f"m.yaml:{line}" in message and f"field '{field}'" in message and words in message


def test_invalid_yaml_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"m\.yaml:3"):
        load_mapping(mapping(tmp_path, "kind: customers\ncolumns:\n\tcustomer_id: ID\n"))


def test_fields_and_kind_are_checked_against_the_entity(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "c.csv"
    src.write_text("ID,JOINED\nC1,2020-01-01\n")
    bad_field = mapping(tmp_path, "columns:\n  customer_no: ID\n")
    with pytest.raises(ConfigError, match="customers has no field 'customer_no'"):
        sqlite_workspace.ingest("customers", src, mapping=bad_field)
    wrong_kind = mapping(tmp_path, "kind: transactions\n")
    with pytest.raises(ConfigError, match="mapping is for 'transactions'"):
        sqlite_workspace.ingest("customers", src, mapping=wrong_kind)


def test_formats_values_constants_nulls_and_ignore(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "c.csv"
    src.write_text(
        "ID;JOINED;SEX;INCOME;NOTE\nC1;01/02/2020;M;-;x\nC2;15/06/2021;F;12000;y\n",
        encoding="utf-8",
    )
    m = mapping(
        tmp_path,
        """
columns:
  customer_id: ID
  join_date: {column: JOINED, format: "%d/%m/%Y"}
  gender: {column: SEX, values: {M: male, F: female}}
  annual_income: INCOME
  time_zone: {value: Asia/Shanghai}
null_values: ["", "-"]
ignore: [NOTE]
""",
    )
    sqlite_workspace.ingest("customers", src, mapping=m)
    rows = sqlite_workspace.query(
        "SELECT customer_id, join_date::VARCHAR AS d, gender, annual_income, time_zone "
        "FROM customers ORDER BY 1"
    ).to_pylist()
    assert rows == [
        {"customer_id": "C1", "d": "2020-02-01", "gender": "male", "annual_income": None,
         "time_zone": "Asia/Shanghai"},
        {"customer_id": "C2", "d": "2021-06-15", "gender": "female", "annual_income": 12000.0,
         "time_zone": "Asia/Shanghai"},
    ]  # fmt: skip


def test_a_row_that_does_not_match_the_format_is_reported(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "c.csv"
    src.write_text("ID,JOINED\nC1,01/02/2020\nC2,2021-06-15\n")
    m = mapping(
        tmp_path, 'columns:\n  customer_id: ID\n  join_date: {column: JOINED, format: "%d/%m/%Y"}\n'
    )
    with pytest.raises(ValidationFailed) as info:
        sqlite_workspace.ingest("customers", src, mapping=m)
    text = info.value.report.render("en")
    assert "line 3, column 'join_date': value '2021-06-15'" in text
    assert "'%d/%m/%Y'" in text
    assert sqlite_workspace.counts()["customers"] == 0
