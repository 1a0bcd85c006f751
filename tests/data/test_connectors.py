"""The public-dataset connectors on the real files in ``../shared/data``: exact row counts, exact
schemas, the schema's rules (through the ingestion validator), unique keys, references resolved
by what was yielded before, the figures each dataset is known for, and clear errors for a wrong
or missing file. Small hand-written files cover layouts and defects the real files lack."""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lodestar.data.connectors import DATASETS, get_connector
from lodestar.data.schema import ENTITIES
from lodestar.data.validation import ValidationReport, coerce_batch
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
# Written out here (not read from the connectors) so a wrong expected_rows cannot pass itself.
ROWS = {
    "bank-marketing": {"customers": 45_211, "holdings": 77_585, "past_campaigns": 1,
                       "campaign_contacts": 45_211},
    "hillstrom": {"customers": 64_000, "past_campaigns": 1, "campaign_contacts": 64_000},
    "german-credit": {"products": 18, "customers": 1_000, "holdings": 1_000},
    "give-me-some-credit": {"products": 18, "customers": 150_000, "holdings": 150_000},
    "cdnow": {"customers": 23_570, "transactions": 69_659},
    "bank-churn": {"products": 18, "customers": 10_000, "holdings": 17_055},
    "web-logs": {"events": 10_000},
    "online-shoppers": {"events": 14_238},
}  # fmt: skip


@pytest.fixture
def data(shared_data: Path) -> Path:
    """The datasets folder (conftest's ``shared_data`` skips with a message when it is absent)."""
    return shared_data


@cache
def _stream(name: str, path: Path) -> tuple[tuple[str, pa.Table], ...]:
    return tuple(get_connector(name).read(path))


def stream(name: str, data: Path) -> tuple[tuple[str, pa.Table], ...]:
    """The connector's output in yield order (read once per test session)."""
    return _stream(name, data / FOLDERS[name])


def tables(name: str, data: Path) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = defaultdict(list)
    for entity, table in stream(name, data):
        parts[entity].append(table)
    return {k: pa.concat_tables(v) for k, v in parts.items()}


def read_all(name: str, path: Path) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = defaultdict(list)
    for entity, table in get_connector(name).read(path):
        assert table.schema.equals(ENTITIES[entity].arrow_schema), (name, entity)
        parts[entity].append(table)
    return {k: pa.concat_tables(v) for k, v in parts.items()}


def attributes(table: pa.Table, column: str = "attributes") -> list[dict[str, object]]:
    return [json.loads(v) for v in table[column].to_pylist()]


# -- the registry -------------------------------------------------------------------------------
def test_registry_names_and_records() -> None:
    assert sorted(DATASETS) == sorted(FOLDERS)
    for name, connector in DATASETS.items():
        assert connector.name == name and get_connector(name) is connector
        assert connector.title and connector.description and connector.default_files
        assert set(connector.expected_rows) <= set(ENTITIES)
    with pytest.raises(DatasetError, match=r"unknown dataset 'titanic'.*bank-marketing.*cdnow"):
        get_connector("titanic")


# -- every connector on its real file -----------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_counts_schema_rules_keys_and_load_order(name: str, data: Path) -> None:
    seen: dict[str, list[pa.Table]] = defaultdict(list)
    for entity_name, table in stream(name, data):
        entity = ENTITIES[entity_name]
        assert table.schema.equals(entity.arrow_schema), (entity_name, table.schema)
        report = ValidationReport(source=name, kind=entity_name)
        coerce_batch(table, entity, report=report)
        assert report.ok, report.render()
        # Whatever a table refers to was yielded before it.
        for field in entity.references:
            assert field.references is not None
            parent, column = field.references.split(".")
            values = pc.drop_null(table[field.name]).unique()
            if len(values) == 0:
                continue
            assert seen[parent], f"{entity_name}.{field.name} before any {parent}"
            known = pa.chunked_array([t[column] for t in seen[parent]])
            orphans = pc.sum(pc.invert(pc.is_in(values, known))).as_py()
            assert orphans == 0, f"{orphans} {entity_name}.{field.name} not in earlier {parent}"
        seen[entity_name].append(table)

    counts = {e: sum(t.num_rows for t in ts) for e, ts in seen.items()}
    assert {e: counts[e] for e in ROWS[name]} == ROWS[name]
    assert {e: counts[e] for e in DATASETS[name].expected_rows} == dict(
        DATASETS[name].expected_rows
    )
    for entity_name, parts in seen.items():
        key = list(ENTITIES[entity_name].key)
        whole = pa.concat_tables(parts)
        assert whole.group_by(key).aggregate([]).num_rows == whole.num_rows, entity_name


def test_ids_are_prefixed_so_datasets_never_collide(data: Path) -> None:
    prefixes = {"bank-marketing": "BM", "hillstrom": "HS", "german-credit": "GC",
                "give-me-some-credit": "GMSC", "cdnow": "CD", "bank-churn": "CH"}  # fmt: skip
    for name, prefix in prefixes.items():
        ids = tables(name, data)["customers"]["customer_id"]
        assert pc.all(pc.starts_with(ids, prefix)).as_py(), name
    assert tables("german-credit", data)["customers"]["customer_id"][0].as_py() == "GC0001"
    assert tables("bank-churn", data)["customers"]["customer_id"][0].as_py() == "CH15634602"
    assert tables("give-me-some-credit", data)["customers"]["customer_id"][0].as_py() == (
        "GMSC000001"
    )


# -- what each dataset is known for -------------------------------------------------------------
def test_bank_marketing_contacts_in_file_order_within_the_campaign(data: Path) -> None:
    t = tables("bank-marketing", data)
    contacts = t["campaign_contacts"]
    assert pc.sum(contacts["converted"]).as_py() == 5_289
    at = contacts["contacted_at"].to_numpy().astype("datetime64[D]")
    assert str(at.min()) == "2008-05-05" and str(at.max()) == "2010-11-17"
    assert (np.diff(at.astype(np.int64)) >= 0).all()
    assert set(contacts["channel"].to_pylist()) == {"telemarketing"}
    assert set(contacts["offer_id"].to_pylist()) == {"DEP_TERM_1Y"}
    campaign = t["past_campaigns"].to_pylist()[0]
    assert campaign["randomised"] is False and campaign["product_id"] == "DEP_TERM_1Y"
    holdings = t["holdings"]
    counts = holdings["product_id"].value_counts().to_pylist()
    by_product = {c["values"]: c["counts"] for c in counts}
    assert by_product == {"DEP_CURRENT": 45_211, "LOAN_MORTGAGE": 25_130, "LOAN_CONSUMER": 7_244}
    first = attributes(t["customers"].slice(0, 1))[0]
    assert first["job"] == "management" and first["default"] == "no" and first["pdays"] is None
    assert first["housing"] == "yes" and first["date_basis"] == "file_order"
    assert t["customers"]["birth_date"][0].as_py().year == 1949  # aged 58 on 2008-05-05


def test_bank_marketing_sample_out_of_date_order(data: Path) -> None:
    # bank.csv is a random 10% sample: years cannot be counted from the order.
    t = read_all("bank-marketing", data / "bank-marketing" / "bank.csv")
    assert t["customers"].num_rows == 4_521
    at = t["campaign_contacts"]["contacted_at"].to_numpy().astype("datetime64[D]")
    assert np.datetime64("2008-05-01") <= at.min() and at.max() <= np.datetime64("2009-04-30")
    assert {a["date_basis"] for a in attributes(t["customers"])} == {"month_only"}


BANK_ADDITIONAL_HEADER = (
    '"age";"job";"marital";"education";"default";"housing";"loan";"contact";"month";'
    '"day_of_week";"duration";"campaign";"pdays";"previous";"poutcome";"emp.var.rate";'
    '"cons.price.idx";"cons.conf.idx";"euribor3m";"nr.employed";"y"'
)
BANK_ADDITIONAL_ROWS = [
    '56;"housemaid";"married";"basic.4y";"no";"no";"no";"telephone";"may";"mon";261;1;999;0;'
    '"nonexistent";1.1;93.994;-36.4;4.857;5191;"no"',
    '37;"services";"married";"high.school";"unknown";"yes";"no";"telephone";"may";"wed";226;1;'
    '999;0;"nonexistent";1.1;93.994;-36.4;4.857;5191;"no"',
    '41;"blue-collar";"divorced";"basic.9y";"no";"unknown";"yes";"cellular";"may";"tue";139;2;'
    '6;1;"success";-1.8;92.893;-46.2;1.313;5099.1;"yes"',
    '25;"student";"single";"university.degree";"no";"yes";"no";"cellular";"jun";"fri";380;1;'
    '999;0;"nonexistent";-2.9;92.963;-40.8;1.262;5076.2;"yes"',
    '60;"retired";"unknown";"illiterate";"no";"no";"no";"cellular";"mar";"thu";95;3;999;2;'
    '"failure";-1.8;93.369;-34.8;0.639;5008.7;"no"',
]


def test_bank_additional_layout_from_a_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "bank-additional.csv"
    path.write_text("\n".join([BANK_ADDITIONAL_HEADER, *BANK_ADDITIONAL_ROWS]) + "\n")
    t = read_all("bank-marketing", path)
    customers = t["customers"]
    assert customers["education"].to_pylist() == [
        "primary", "secondary", "secondary", "tertiary", "primary"
    ]  # fmt: skip
    assert customers["employment"].to_pylist() == [
        "employee", "employee", "employee", "student", "retired"
    ]  # fmt: skip
    assert customers["marital_status"].to_pylist()[-1] == "unknown"
    attrs = attributes(customers)
    assert [a["pdays"] for a in attrs] == [None, None, 6, None, None]  # 999 = never
    assert attrs[1]["default"] == "unknown" and attrs[0]["layout"] == "bank-additional"
    assert attrs[2]["euribor3m"] == 1.313 and "balance" not in attrs[0]
    assert t["campaign_contacts"]["converted"].to_pylist() == [False, False, True, True, False]
    # Weekdays, in date order: mon, wed, then tue of the next week; month goes back -> next year.
    at = t["campaign_contacts"]["contacted_at"].to_numpy().astype("datetime64[D]")
    assert [str(d) for d in at] == [
        "2008-05-05", "2008-05-07", "2008-05-13", "2008-06-06", "2009-03-05"
    ]  # fmt: skip
    products = t["holdings"]["product_id"].to_pylist()
    assert "DEP_CURRENT" not in products  # no balance in this layout
    assert sorted(products) == ["LOAN_CONSUMER", "LOAN_MORTGAGE", "LOAN_MORTGAGE"]


def test_hillstrom_arms_reproduce_the_published_group_statistics(data: Path) -> None:
    t = tables("hillstrom", data)
    contacts = t["campaign_contacts"]
    stats = {
        (r["arm"], r["treatment"]): r
        for r in contacts.group_by(["arm", "treatment"])
        .aggregate(
            [
                ("contact_id", "count"),
                ("responded", "mean"),
                ("converted", "mean"),
                ("revenue", "mean"),
                ("channel", "count"),
            ]
        )
        .to_pylist()
    }
    # SOURCE.md: segment, n, visit rate, conversion rate, spend per customer.
    published = {
        ("treatment", "mens_email"): (21_307, 0.1828, 0.0125, 1.4226),
        ("treatment", "womens_email"): (21_387, 0.1514, 0.0088, 1.0772),
        ("control", None): (21_306, 0.1062, 0.0057, 0.6528),
    }
    assert set(stats) == set(published)
    for arm, (n, visit, conversion, spend) in published.items():
        s = stats[arm]
        assert s["contact_id_count"] == n
        assert s["responded_mean"] == pytest.approx(visit, abs=5e-5)
        assert s["converted_mean"] == pytest.approx(conversion, abs=5e-5)
        assert s["revenue_mean"] == pytest.approx(spend, abs=5e-5)
        assert s["channel_count"] == (0 if arm[0] == "control" else n)  # control: no channel
    campaign = t["past_campaigns"].to_pylist()[0]
    assert campaign["randomised"] is True and campaign["channels"] == "email"
    first = attributes(t["customers"].slice(0, 1))[0]
    assert first == {"recency": 10, "history_segment": "2) $100 - $200", "history": 142.44,
                     "mens": 1, "womens": 0, "zip_code": "Surburban", "newbie": 0,
                     "channel": "Phone"}  # fmt: skip


def test_german_credit_outcome_and_decoding(data: Path) -> None:
    t = tables("german-credit", data)
    holdings = t["holdings"]
    bad = pc.equal(holdings["status"], "delinquent")
    assert pc.sum(bad).as_py() == 300
    assert pc.min(holdings.filter(bad)["days_past_due"]).as_py() > 90
    assert pc.max(holdings.filter(pc.invert(bad))["days_past_due"]).as_py() == 0
    assert pc.sum(holdings["balance"]).as_py() == pytest.approx(3_271_258)
    assert set(holdings["currency"].to_pylist()) == {"DEM"}
    attrs = attributes(t["customers"])
    assert [a["credit_outcome"] for a in attrs].count("bad") == 300
    assert attrs[0]["personal_status"] == "male: single"  # A93 in german.data, row 1
    assert attrs[1]["personal_status"] == "female: divorced/separated/married"  # A92
    assert attrs[0]["duration_months"] == 6 and attrs[0]["credit_amount"] == 1169
    assert not any(str(v).startswith("A1") for a in attrs for v in a.values())  # all decoded
    genders = t["customers"]["gender"].value_counts().to_pylist()
    assert {g["values"]: g["counts"] for g in genders} == {"male": 690, "female": 310}


def test_give_me_some_credit_delinquency_and_missing_values(data: Path) -> None:
    t = tables("give-me-some-credit", data)
    holdings = t["holdings"]
    late = pc.equal(holdings["status"], "delinquent")
    assert pc.sum(late).as_py() == 10_026
    assert pc.sum(pc.equal(holdings["days_past_due"], 90)).as_py() == 10_026
    customers = t["customers"]
    assert pc.sum(pc.is_null(customers["annual_income"])).as_py() == 29_731  # NA, not 0
    assert pc.sum(pc.equal(customers["income_band"], "unknown")).as_py() == 29_731
    attrs = attributes(customers)
    assert sum(a["SeriousDlqin2yrs"] for a in attrs) == 10_026
    assert sum(a["NumberOfDependents"] is None for a in attrs) == 3_924
    assert sum(a["MonthlyIncome"] is None for a in attrs) == 29_731
    assert attrs[0]["NumberOfDependents"] == 2 and attrs[0]["MonthlyIncome"] == 9120
    assert customers["annual_income"][0].as_py() == 9120 * 12
    # One borrower is aged 0: no birth date rather than a baby with a credit line.
    assert pc.sum(pc.is_null(customers["birth_date"])).as_py() == 1


def test_cdnow_purchases(data: Path) -> None:
    t = tables("cdnow", data)
    tx = t["transactions"]
    assert pc.sum(tx["quantity"]).as_py() == 167_881
    assert pc.sum(tx["amount"]).as_py() == pytest.approx(2_500_315.63, abs=0.01)
    assert pc.sum(pc.equal(tx["amount"], 0)).as_py() == 80  # free items, kept
    assert tx["transaction_id"][0].as_py() == "CDT000001"
    assert tx["transaction_id"][-1].as_py() == "CDT069659"
    ts = tx["ts"].to_numpy()
    assert str(ts.min())[:10] == "1997-01-01" and str(ts.max())[:10] == "1998-06-30"
    assert (ts.astype("datetime64[D]") == ts).all()  # dates at 00:00 UTC
    first = tx.group_by("customer_id").aggregate([("ts", "min")]).sort_by("customer_id")
    customers = t["customers"].sort_by("customer_id")
    joined = first["ts_min"].to_numpy().astype("datetime64[D]")
    assert (customers["join_date"].to_numpy(zero_copy_only=False) == joined).all()
    assert set(tx["merchant_category"].to_pylist()) == {"music"}


def test_cdnow_without_header_and_the_sample_layout(tmp_path: Path, data: Path) -> None:
    original = tmp_path / "CDNOW_master.txt"  # Hardie's original file has no header line
    original.write_text(" 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n"
                        " 00002 19970112  5   77.00\n")  # fmt: skip
    t = read_all("cdnow", original)
    assert t["customers"]["customer_id"].to_pylist() == ["CD00001", "CD00002"]
    assert t["transactions"]["quantity"].to_pylist() == [1, 1, 5]
    with pytest.raises(DatasetError, match=r"5 fields.*CDNOW_master"):
        list(get_connector("cdnow").read(data / "cdnow" / "CDNOW_sample.txt"))


def test_bank_churn_exits_and_holdings(data: Path) -> None:
    t = tables("bank-churn", data)
    customers = t["customers"]
    assert pc.sum(pc.equal(customers["status"], "closed")).as_py() == 2_037
    assert pc.sum(pc.is_valid(customers["closed_date"])).as_py() == 2_037
    regions = {r["values"]: r["counts"] for r in customers["region"].value_counts().to_pylist()}
    assert regions == {"France": 5_014, "Germany": 2_509, "Spain": 2_477}
    assert customers["name"][0].as_py() == "Hargrave"
    holdings = t["holdings"]
    cards = holdings.filter(pc.equal(holdings["product_id"], "CC_STANDARD"))
    assert cards.num_rows == 7_055
    current = holdings.filter(pc.equal(holdings["product_id"], "DEP_CURRENT"))
    assert current["balance"][1].as_py() == pytest.approx(83_807.86)
    first = attributes(customers.slice(0, 1))[0]
    assert first["CreditScore"] == 619 and first["Exited"] == 1 and first["HasCrCard"] == 1


def test_web_logs_events_sessions_and_privacy(data: Path) -> None:
    events = tables("web-logs", data)["events"]
    names = {r["values"]: r["counts"] for r in events["event_name"].value_counts().to_pylist()}
    assert set(names) == {"page_view", "asset_load", "feed_fetch", "bot_hit"}
    assert sum(names.values()) == 10_000
    raw = (data / "web-access-logs" / "apache_logs").read_text()
    ips = sorted({line.split(" ", 1)[0] for line in raw.splitlines()})
    assert len(ips) == 1_753
    assert pc.all(pc.match_substring_regex(events["anonymous_id"], r"^WV[0-9a-f]{20}$")).as_py()
    any_ip = r"(?:^|[^0-9.])(?:" + "|".join(re.escape(ip) for ip in ips) + r")(?:$|[^0-9.])"
    for column in events.schema.names:  # never the raw IP, not even inside a value
        if events[column].type == pa.string():
            hits = pc.sum(pc.match_substring_regex(events[column], any_ip)).as_py()
            assert not hits, (column, hits)
    assert pc.count_distinct(events["anonymous_id"]).as_py() == 1_862  # (IP, agent) pairs
    assert pc.count_distinct(events["session_id"]).as_py() == 3_224
    assert str(events["ts"].to_numpy().min())[:16] == "2015-05-17T10:05"
    # Sessions: no gap over 30 minutes inside one; more than that between two of a visitor.
    sessions = (
        events.group_by(["anonymous_id", "session_id"])
        .aggregate([("ts", "min"), ("ts", "max")])
        .sort_by([("anonymous_id", "ascending"), ("ts_min", "ascending")])
    )
    gap = 30 * 60 * 1_000_000
    visitor = sessions["anonymous_id"].to_numpy(zero_copy_only=False)
    start = sessions["ts_min"].to_numpy().astype(np.int64)
    end = sessions["ts_max"].to_numpy().astype(np.int64)
    same = visitor[1:] == visitor[:-1]
    assert (start[1:][same] - end[:-1][same] > gap).all()
    ordered = events.sort_by([("session_id", "ascending"), ("ts", "ascending")])
    ts = ordered["ts"].to_numpy().astype(np.int64)
    ids = ordered["session_id"].to_numpy(zero_copy_only=False)
    assert (np.diff(ts)[ids[1:] == ids[:-1]] <= gap).all()


def test_web_logs_offsets_bad_lines_and_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = (
        '10.0.0.1 - - [17/May/2015:12:00:00 +0200] "GET /blog/a.html?utm_source=news&utm_medium='
        'email&utm_campaign=May%20Launch HTTP/1.1" 200 512 "http://example.com/" "Mozilla/5.0"'
    )
    lines = [good] * 150
    lines.append('10.0.0.1 - - [17/May/2015:12:40:01 +0200] "GET /style.css HTTP/1.1" 304 - '
                 '"-" "Mozilla/5.0"')  # fmt: skip
    lines.append('10.0.0.2 - - [17/May/2015:10:00:00 +0000] "GET /?flav=rss20 HTTP/1.1" 200 9 '
                 '"-" "Tiny Tiny RSS/1.11"')  # fmt: skip
    lines.append('10.0.0.3 - - [17/May/2015:10:00:00 +0000] "GET /robots.txt HTTP/1.1" 404 9 '
                 '"-" "Googlebot/2.1"')  # fmt: skip
    lines.append("this is not a request")
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="lodestar.data.connectors.web_logs"):
        events = read_all("web-logs", tmp_path)["events"]
    assert events.num_rows == 153
    assert "skipped 1 of 154 lines; first at line 154" in caplog.text
    first = events.to_pylist()[0]
    assert first["ts"].isoformat() == "2015-05-17T10:00:00+00:00"  # +0200 -> UTC
    assert first["event_name"] == "page_view" and first["page"] == "/blog/a.html"
    assert (first["source"], first["medium"], first["campaign"]) == ("news", "email", "May Launch")
    assert first["referrer"] == "http://example.com/"
    assert json.loads(first["properties"]) == {
        "method": "GET", "status": 200, "bytes": 512, "protocol": "HTTP/1.1",
        "query": "utm_source=news&utm_medium=email&utm_campaign=May%20Launch",
        "user_agent": "Mozilla/5.0",
    }  # fmt: skip
    assert events["event_name"].to_pylist()[-3:] == ["asset_load", "feed_fetch", "bot_hit"]
    assert json.loads(events["properties"][150].as_py())["bytes"] is None
    # 12:40:01 is 40 minutes after 12:00:00: a second session for the same visitor.
    assert events["session_id"][150].as_py() != events["session_id"][0].as_py()
    assert events["anonymous_id"][150].as_py() == events["anonymous_id"][0].as_py()
    assert events["event_id"].to_pylist()[-1] == "WL000153"

    path.write_text("\n".join([good] * 50 + ["garbage"]) + "\n")
    with pytest.raises(DatasetError, match=r"1 of 51 lines are not Apache combined-format"):
        list(get_connector("web-logs").read(path))


def test_online_shoppers_sessions(data: Path) -> None:
    events = tables("online-shoppers", data)["events"]
    names = {r["values"]: r["counts"] for r in events["event_name"].value_counts().to_pylist()}
    assert names == {"session_start": 12_330, "purchase": 1_908}
    assert pc.count_distinct(events["session_id"]).as_py() == 12_330
    starts = events.filter(pc.equal(events["event_name"], "session_start"))
    props = attributes(starts, "properties")
    assert sum(p["Administrative"] is None for p in props) == 14  # blank in the file
    assert sum(p["Revenue"] for p in props) == 1_908
    weekend = np.array([p["Weekend"] for p in props])
    weekday = starts["ts"].to_numpy().astype("datetime64[D]").astype(np.int64) % 7
    assert (np.where(weekend, weekday == 2, weekday == 4)).all()  # Saturday / Monday (1970: Thu)


# -- wrong and missing files --------------------------------------------------------------------
def test_a_wrong_file_names_itself_and_the_dataset(data: Path) -> None:
    cdnow = data / "cdnow" / "CDNOW_master.txt"
    with pytest.raises(DatasetError, match=r"CDNOW_master\.txt: not the UCI bank-marketing"):
        list(get_connector("bank-marketing").read(cdnow))
    with pytest.raises(DatasetError, match=r"hillstrom\.csv.*not Apache combined-format"):
        list(get_connector("web-logs").read(data / "hillstrom-email" / "hillstrom.csv"))
    churn = data / "bank-churn" / "Churn_Modelling.csv"
    for name in ("hillstrom", "give-me-some-credit", "german-credit", "online-shoppers"):
        with pytest.raises(DatasetError, match=r"Churn_Modelling\.csv.*not the"):
            list(get_connector(name).read(churn))


def test_a_missing_path_or_file_is_refused(data: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope\.txt: no such file or folder.*CDNOW_master"):
        get_connector("cdnow").read(tmp_path / "nope.txt")
    with pytest.raises(DatasetError, match=r"none of hillstrom\.csv found.*CDNOW_master\.txt"):
        get_connector("hillstrom").read(data / "cdnow")


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_garbage_and_empty_files_are_refused(name: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(DatasetError, match=r"garbage\.bin"):
        list(get_connector(name).read(garbage))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DatasetError, match=r"empty\.csv"):
        list(get_connector(name).read(empty))


def test_bad_values_name_their_line(tmp_path: Path) -> None:
    rows = [BANK_ADDITIONAL_ROWS[0], BANK_ADDITIONAL_ROWS[1].replace("37;", '"x";', 1)]
    path = tmp_path / "bank-additional.csv"
    path.write_text("\n".join([BANK_ADDITIONAL_HEADER, *rows]) + "\n")
    with pytest.raises(DatasetError, match=r"bank-additional\.csv: line 3: age is 'x'"):
        list(get_connector("bank-marketing").read(path))
    hillstrom = tmp_path / "hillstrom.csv"
    hillstrom.write_text(
        "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,"
        'conversion,spend\n10,"2) $100 - $200",142.44,1,0,Surburban,0,Phone,SMS,0,0,0\n'
    )
    with pytest.raises(DatasetError, match=r"line 2: segment is 'SMS', expected one of"):
        list(get_connector("hillstrom").read(hillstrom))


def test_import_into_a_workspace_is_validated_and_repeatable(
    sqlite_workspace: Workspace, data: Path
) -> None:
    result = sqlite_workspace.import_dataset("bank-churn", data / "bank-churn")
    assert result.stats["customers"].inserted == 10_000
    again = sqlite_workspace.import_dataset("bank-churn", data / "bank-churn")
    assert again.stats["customers"].updated == 10_000
    assert sqlite_workspace.counts()["customers"] == 10_000
