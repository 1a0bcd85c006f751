"""Every public-dataset connector on its real file: row counts, schema, keys, references, the
figures the datasets are known for, and clear errors for the wrong file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lodestar.data.connectors import DATASETS, get_connector
from lodestar.data.schema import any_entity
from lodestar.errors import DatasetError
from lodestar.workspace import Workspace

pytestmark = pytest.mark.realdata

FOLDERS = {
    "bank-marketing": "bank-marketing",
    "hillstrom": "hillstrom-email",
    "german-credit": "german-credit",
    "give-me-some-credit": "give-me-some-credit",
    "cdnow": "cdnow",
    "bank-churn": "bank-churn",
    "web-logs": "web-access-logs",
    "online-shoppers": "online-shoppers-intention",
}


def load(name: str, path: Path) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = defaultdict(list)
    for entity, table in get_connector(name).read(path):
        assert table.schema.equals(any_entity(entity).arrow_schema), (name, entity)
        parts[entity].append(table)
    return {k: pa.concat_tables(v) for k, v in parts.items()}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_connector_counts_keys_and_references(name: str, shared_data: Path) -> None:
    tables = load(name, shared_data / FOLDERS[name])
    for entity, expected in DATASETS[name].expected_rows.items():
        assert tables[entity].num_rows == expected, (entity, tables[entity].num_rows)
    for entity, table in tables.items():
        key = list(any_entity(entity).key)
        assert table.group_by(key).aggregate([]).num_rows == table.num_rows, entity
        for field in any_entity(entity).references:
            assert field.references is not None
            parent, column = field.references.split(".")
            if parent not in tables:
                continue
            values = pc.drop_null(table[field.name]).unique()
            assert pc.all(pc.is_in(values, tables[parent][column])).as_py() in (True, None)


def test_hillstrom_reproduces_the_published_arm_statistics(shared_data: Path) -> None:
    c = load("hillstrom", shared_data / "hillstrom-email")["campaign_contacts"]
    stats = {
        r["treatment"]: r
        for r in c.group_by("treatment")
        .aggregate(
            [
                ("contact_id", "count"),
                ("responded", "mean"),
                ("converted", "mean"),
                ("revenue", "mean"),
            ]
        )
        .to_pylist()
    }
    assert stats["mens_email"]["contact_id_count"] == 21_307
    assert stats["womens_email"]["contact_id_count"] == 21_387
    assert stats[None]["contact_id_count"] == 21_306
    assert stats["mens_email"]["responded_mean"] == pytest.approx(0.1828, abs=5e-5)
    assert stats["womens_email"]["converted_mean"] == pytest.approx(0.0088, abs=5e-5)
    assert stats[None]["revenue_mean"] == pytest.approx(0.6528, abs=5e-5)


def test_credit_and_churn_outcomes(shared_data: Path) -> None:
    gmsc = load("give-me-some-credit", shared_data / "give-me-some-credit")
    late = pc.sum(pc.equal(gmsc["holdings"]["status"], "delinquent")).as_py()
    assert late == 10_026
    assert pc.sum(pc.is_null(gmsc["customers"]["annual_income"])).as_py() == 29_731
    german = load("german-credit", shared_data / "german-credit")
    assert pc.sum(pc.equal(german["holdings"]["status"], "delinquent")).as_py() == 300
    churn = load("bank-churn", shared_data / "bank-churn")
    assert pc.sum(pc.equal(churn["customers"]["status"], "closed")).as_py() == 2_037


def test_cdnow_totals(shared_data: Path) -> None:
    cd = load("cdnow", shared_data / "cdnow")
    assert pc.sum(cd["transactions"]["quantity"]).as_py() == 167_881
    assert pc.sum(cd["transactions"]["amount"]).as_py() == pytest.approx(2_500_315.63, abs=0.01)


def test_web_logs_sessions_and_privacy(shared_data: Path) -> None:
    ev = load("web-logs", shared_data / "web-access-logs")["events"]
    assert not any("83.149.9.216" in v for v in ev["anonymous_id"].to_pylist())
    names = set(ev["event_name"].unique().to_pylist())
    assert {"page_view", "asset_load"} <= names
    sessions = pc.count_distinct(ev["session_id"]).as_py()
    visitors = pc.count_distinct(ev["anonymous_id"]).as_py()
    assert visitors <= sessions < ev.num_rows


def test_bank_additional_layout_is_detected(tmp_path: Path) -> None:
    header = ('"age";"job";"marital";"education";"default";"housing";"loan";"contact";"month";'
              '"day_of_week";"duration";"campaign";"pdays";"previous";"poutcome";"emp.var.rate";'
              '"cons.price.idx";"cons.conf.idx";"euribor3m";"nr.employed";"y"')  # fmt: skip
    rows = [
        '56;"housemaid";"married";"basic.4y";"no";"no";"no";"telephone";"may";"mon";261;1;999;0;'
        '"nonexistent";1.1;93.994;-36.4;4.857;5191;"no"',
        '37;"services";"married";"high.school";"unknown";"yes";"no";"telephone";"jun";"tue";226;'
        '1;999;0;"nonexistent";1.1;93.994;-36.4;4.857;5191;"yes"',
    ]
    path = tmp_path / "bank-additional.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    tables = load("bank-marketing", path)
    assert tables["customers"].num_rows == 2
    assert tables["customers"]["education"].to_pylist() == ["primary", "secondary"]
    assert tables["campaign_contacts"]["converted"].to_pylist() == [False, True]
    assert "DEP_CURRENT" not in tables["holdings"]["product_id"].to_pylist()  # no balance here


def test_wrong_or_missing_files_are_refused(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"not the UCI bank-marketing|missing column"):
        list(get_connector("bank-marketing").read(shared_data / "cdnow" / "CDNOW_master.txt"))
    with pytest.raises(DatasetError, match="none of"):
        list(get_connector("hillstrom").read(shared_data / "cdnow"))
    with pytest.raises(DatasetError, match="no such file"):
        list(get_connector("cdnow").read(tmp_path / "nope.txt"))
    with pytest.raises(DatasetError, match="not Apache combined-format"):
        list(get_connector("web-logs").read(shared_data / "hillstrom-email" / "hillstrom.csv"))
    with pytest.raises(DatasetError, match="unknown dataset"):
        get_connector("titanic")
    garbage = tmp_path / "german.data"
    garbage.write_bytes(bytes(range(256)) * 40)
    for name in ("german-credit", "bank-churn", "hillstrom", "give-me-some-credit", "cdnow"):
        with pytest.raises(DatasetError, match="not the"):
            list(get_connector(name).read(garbage))


def test_import_into_a_workspace(sqlite_workspace: Workspace, shared_data: Path) -> None:
    result = sqlite_workspace.import_dataset("bank-churn", shared_data / "bank-churn")
    assert result.stats["customers"].inserted == 10_000
    again = sqlite_workspace.import_dataset("bank-churn", shared_data / "bank-churn")
    assert again.stats["customers"].updated == 10_000
    assert sqlite_workspace.counts()["customers"] == 10_000
