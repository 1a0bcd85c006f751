"""Ingestion of good files on both operational stores: formats, time zones, idempotency, consents
in the operational store, mappings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lodestar.workspace import Workspace

CUSTOMERS = """customer_id,name,gender,birth_date,join_date,phone,time_zone,income_band,risk_tolerance
C001,张三,male,1985-04-02,2019-01-15,13800000001,Asia/Shanghai,10k_20k,R3
C002,李四,female,1992-11-30,2021-06-01,13800000002,,5k_10k,R2
C003,王五,unknown,,2023-02-28,,Asia/Urumqi,,
"""

TRANSACTIONS = """transaction_id,customer_id,ts,type,amount,direction,channel,merchant_category
T1,C001,2024-01-01 10:00:00,salary,12000.50,credit,online_banking,
T2,C001,2024-01-02T09:30:00+00:00,card_purchase,88.2,debit,pos,dining
T3,C002,2024-01-03T09:30:00Z,card_purchase,15,debit,mobile_app,movies
T4,C003,2024-01-04,fee,1,debit,,
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_customers_and_transactions(workspace: Workspace, tmp_path: Path) -> None:
    r1 = workspace.ingest("customers", write(tmp_path, "c.csv", CUSTOMERS))
    r2 = workspace.ingest("transactions", write(tmp_path, "t.csv", TRANSACTIONS))
    assert r1.stats["customers"].inserted == 3
    assert r2.stats["transactions"].inserted == 4
    rows = {r["transaction_id"]: r for r in workspace.table("transactions").to_pylist()}
    # No offset: the workspace's zone (Asia/Shanghai, UTC+8); offsets and Z are honoured.
    assert rows["T1"]["ts"] == datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    assert rows["T2"]["ts"] == datetime(2024, 1, 2, 9, 30, tzinfo=UTC)
    assert rows["T3"]["ts"] == datetime(2024, 1, 3, 9, 30, tzinfo=UTC)
    assert rows["T4"]["ts"] == datetime(2024, 1, 3, 16, 0, tzinfo=UTC)
    assert rows["T1"]["amount"] == pytest.approx(12000.5)
    assert rows["T4"]["channel"] is None
    cust = {r["customer_id"]: r for r in workspace.table("customers").to_pylist()}
    assert cust["C003"]["birth_date"] is None
    assert cust["C002"]["time_zone"] is None
    assert cust["C001"]["name"] == "张三"
    runs = workspace.runs()
    assert [r["kind"] for r in runs] == ["transactions", "customers"]
    assert runs[0]["rows_inserted"] == 4


def test_reingesting_the_same_file_is_a_no_op(
    workspace: Workspace, tmp_path: Path, state_of
) -> None:
    path = write(tmp_path, "c.csv", CUSTOMERS)
    workspace.ingest("customers", path)
    before = state_of(workspace)
    again = workspace.ingest("customers", path)
    assert again.already_ingested
    assert state_of(workspace) == before
    forced = workspace.ingest("customers", path, force=True)
    assert forced.stats["customers"].updated == 3
    assert workspace.counts()["customers"] == 3


def test_changed_dimension_rows_replace_and_repeated_facts_are_skipped(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest("customers", write(tmp_path, "c.csv", CUSTOMERS))
    workspace.ingest("transactions", write(tmp_path, "t.csv", TRANSACTIONS))
    changed = (
        CUSTOMERS.replace("C002,李四,female", "C002,李四,female").replace("5k_10k,R2", "20k_50k,R4")
        + "C004,赵六,male,1970-01-01,2024-01-01,,,,\n"
    )
    r = workspace.ingest("customers", write(tmp_path, "c2.csv", changed))
    assert (r.stats["customers"].inserted, r.stats["customers"].updated) == (1, 3)
    c2 = workspace.query("SELECT income_band FROM customers WHERE customer_id = 'C002'")
    assert c2.column(0).to_pylist() == ["20k_50k"]
    more = TRANSACTIONS + "T5,C004,2024-02-01T00:00:00+08:00,deposit,5,credit,branch,\n"
    r = workspace.ingest("transactions", write(tmp_path, "t2.csv", more))
    assert (r.stats["transactions"].inserted, r.stats["transactions"].skipped) == (1, 4)
    assert workspace.counts()["transactions"] == 5


def test_jsonl_and_parquet(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest("customers", write(tmp_path, "c.csv", CUSTOMERS))
    events = [
        {"event_id": "E1", "ts": "2024-03-01T08:00:00+08:00", "customer_id": "C001",
         "platform": "app", "event_name": "app_open", "properties": {"screen": "home"}},
        {"event_id": "E2", "ts": "2024-03-01T08:01:00+08:00", "anonymous_id": "dev-9",
         "platform": "app", "event_name": "apply_start", "session_id": "s1"},
    ]  # fmt: skip
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n\n")
    r = workspace.ingest("events", path)
    assert r.stats["events"].inserted == 2
    props = workspace.query("SELECT properties FROM events WHERE event_id = 'E1'")
    assert json.loads(props.column(0)[0].as_py()) == {"screen": "home"}

    table = pa.table(
        {
            "account_id": ["A1", "A2"],
            "customer_id": ["C001", "C002"],
            "product_id": ["DEP_CURRENT", "CC_STANDARD"],
            "open_date": pa.array([datetime(2020, 1, 1), datetime(2021, 5, 5)], pa.timestamp("ms")),
            "balance": pa.array([1000, -250], pa.int32()),
            "credit_limit": [None, 20000.0],
        }
    )
    from lodestar.data.catalogue import products_table

    pq.write_table(products_table(), tmp_path / "p.parquet")
    workspace.ingest("products", tmp_path / "p.parquet")
    pq.write_table(table, tmp_path / "h.parquet")
    r = workspace.ingest("holdings", tmp_path / "h.parquet")
    assert r.stats["holdings"].inserted == 2
    bal = workspace.query("SELECT balance FROM holdings ORDER BY account_id").column(0)
    assert bal.to_pylist() == [1000.0, -250.0]


def test_identity_merge_attributes_anonymous_events(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest("customers", write(tmp_path, "c.csv", CUSTOMERS))
    workspace.ingest("events", write(tmp_path, "e.csv", (
        "event_id,ts,customer_id,anonymous_id,event_name\n"
        "E1,2024-03-01T08:00:00Z,,dev-9,app_open\n"
        "E2,2024-03-01T08:05:00Z,C001,dev-9,login\n"
        "E3,2024-03-01T08:06:00Z,,dev-unknown,app_open\n"
    )))  # fmt: skip
    workspace.ingest("identities", write(tmp_path, "i.csv", (
        "id_type,id_value,customer_id\ndevice_id,dev-9,C001\n"
    )))  # fmt: skip
    rows = workspace.query(
        "SELECT event_id, customer_id, identity_merged FROM events_resolved ORDER BY event_id"
    ).to_pylist()
    assert rows == [
        {"event_id": "E1", "customer_id": "C001", "identity_merged": True},
        {"event_id": "E2", "customer_id": "C001", "identity_merged": False},
        {"event_id": "E3", "customer_id": None, "identity_merged": False},
    ]


def test_consents_land_in_the_operational_store(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest("customers", write(tmp_path, "c.csv", CUSTOMERS))
    consents = (
        "consent_id,customer_id,channel,purpose,granted,source,ts,withdrawn_at\n"
        "K1,C001,sms,marketing,true,app,2024-01-01T00:00:00Z,\n"
        "K2,C001,sms,marketing,yes,app,2024-02-01T00:00:00Z,2024-03-01T00:00:00Z\n"
        "K3,C002,email,service,1,branch,2024-01-01T00:00:00Z,\n"
        "K4,C003,app_push,marketing,false,web,2024-01-01T00:00:00Z,\n"
    )
    workspace.ingest("consents", write(tmp_path, "k.csv", consents))
    assert workspace.ops.count("consents") == 4
    assert workspace.counts()["consents"] == 4
    current = workspace.query(
        "SELECT customer_id, channel, in_force FROM consents_current ORDER BY 1, 2"
    ).to_pylist()
    assert current == [
        {"customer_id": "C001", "channel": "sms", "in_force": False},  # withdrawn later
        {"customer_id": "C002", "channel": "email", "in_force": True},
        {"customer_id": "C003", "channel": "app_push", "in_force": False},  # refused
    ]
    audit = workspace.ops.audit_entries()
    assert audit[0]["action"] == "ingest" and audit[0]["entity"] == "consents"
    # The operational copy reads back with the right types through SQLAlchemy.
    import sqlalchemy as sa

    from lodestar.storage.operational_tables import consents as consents_table

    with workspace.ops.engine.connect() as conn:
        rows = (
            conn.execute(sa.select(consents_table).where(consents_table.c.consent_id == "K2"))
            .mappings()
            .one()
        )
    assert rows["granted"] is True
    assert rows["ts"].replace(tzinfo=UTC) == datetime(2024, 2, 1, tzinfo=UTC)
    assert rows["withdrawn_at"].replace(tzinfo=UTC) == datetime(2024, 3, 1, tzinfo=UTC)


def test_mapping_file_for_a_foreign_layout(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest("customers", write(tmp_path, "c.csv", CUSTOMERS))
    foreign = (
        "流水号|客户号|交易时间|交易码|金额|网点名称\n"
        "X1|C001|20240105083000|01|100.00|总行营业部\n"
        "X2|C002|20240106120000|02|35.5|城西支行\n"
    )
    src = write(tmp_path, "gbk.txt", foreign, encoding="gb18030")
    mapping = write(
        tmp_path,
        "m.yaml",
        """
kind: transactions
format: csv
delimiter: "|"
encoding: gb18030
time_zone: Asia/Shanghai
columns:
  transaction_id: 流水号
  customer_id: 客户号
  ts: {column: 交易时间, format: "%Y%m%d%H%M%S"}
  type: {column: 交易码, values: {"01": deposit, "02": withdrawal}}
  amount: 金额
  currency: {value: CNY}
ignore: [网点名称]
""",
    )
    r = workspace.ingest("transactions", src, mapping=mapping)
    assert r.stats["transactions"].inserted == 2
    rows = workspace.query(
        "SELECT transaction_id, ts, type, currency FROM transactions ORDER BY 1"
    ).to_pylist()
    assert rows[0] == {
        "transaction_id": "X1",
        "ts": datetime(2024, 1, 5, 0, 30, tzinfo=UTC),
        "type": "deposit",
        "currency": "CNY",
    }
    assert rows[1]["type"] == "withdrawal"
