"""Events into the live feed: posted batches (checked like ingestion, all or nothing, each id
once), the flush into the analytical store, and ingestion feeding the events live campaigns
listen to — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lodestar.campaigns import event_feed
from lodestar.campaigns.definition import CampaignDefinition
from lodestar.campaigns.lifecycle import Actor
from lodestar.campaigns.listeners import listened_event_names
from lodestar.config import EventSettings
from lodestar.errors import ValidationFailed
from lodestar.workspace import Workspace

MAKER, CHECKER = Actor("li", "marketer"), Actor("wang", "approver")


def customers(ws: Workspace, *ids: str) -> None:
    ws.load_tables([("customers", pa.table({"customer_id": list(ids),
                                            "join_date": ["2020-01-01"] * len(ids)}))],
                   source="test-customers")  # fmt: skip


def event(i: int, name: str = "app_open", **more: object) -> dict[str, object]:
    return {"event_id": f"E{i}", "ts": f"2026-12-01T09:{i:02d}:00+08:00", "customer_id": "C1",
            "event_name": name, **more}  # fmt: skip


def test_posted_events_are_stored_once_with_every_field(workspace: Workspace) -> None:
    customers(workspace, "C1", "C2")
    got = workspace.post_events([event(1, platform="app", page="home", properties={"a": 1}),
                                 event(2, customer_id="C2"),
                                 {**event(3), "customer_id": None, "anonymous_id": "D9"}])  # fmt: skip
    assert got.as_dict() == {"received": 3, "new": 3, "duplicates": 0}
    # a client's retry with the same ids plus one new event
    again = workspace.post_events([event(2, customer_id="C2"), event(4)])
    assert again.as_dict() == {"received": 2, "new": 1, "duplicates": 1}
    stored = event_feed.read_after(workspace.ops, 0)
    assert [e.event_id for e in stored] == ["E1", "E2", "E3", "E4"]
    assert stored[0].properties == {"a": 1} and stored[0].ts.isoformat() == "2026-12-01T01:01:00+00:00"
    assert stored[2].customer_id is None


def test_anonymous_events_are_attributed_in_the_feed_and_stored_as_sent(
        workspace: Workspace) -> None:  # fmt: skip
    customers(workspace, "C1", "C2")
    workspace.load_tables([("identities", pa.table({"id_type": ["device_id", "phone"],
                                                    "id_value": ["D1", "D2"],
                                                    "customer_id": ["C2", "C1"]}))],
                          source="test-identities")  # fmt: skip
    anonymous = [{**event(i), "customer_id": None, "anonymous_id": d} for i, d in
                 ((1, "D1"), (2, "D2"), (3, "D3"))]  # fmt: skip
    workspace.post_events(anonymous)
    fed = {e.event_id: e.customer_id for e in event_feed.read_after(workspace.ops, 0)}
    # a device id attributes; a phone number (shared too often) and an unknown id do not
    assert fed == {"E1": "C2", "E2": None, "E3": None}
    workspace.flush_events()
    stored = workspace.query("SELECT event_id, customer_id FROM events ORDER BY event_id")
    assert stored.column("customer_id").to_pylist() == [None, None, None]
    merged = workspace.query("SELECT customer_id FROM events_resolved WHERE identity_merged")
    assert merged.column(0).to_pylist() == ["C2"]


def test_a_bad_batch_is_refused_whole_with_every_problem_located(workspace: Workspace) -> None:
    customers(workspace, "C1")
    batch = [event(1),
             {"event_id": "E2", "ts": "2026-12-01 09:00", "customer_id": "C1",
              "event_name": "Apply Start", "colour": "red"},
             {"event_id": "E3", "ts": "yesterday", "event_name": "x",
              "properties": [1, 2], "page": {"a": 1}},
             event(4, customer_id="C404"),
             "not an object"]  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        workspace.post_events(batch)
    where = {(v.row, v.column, v.rule) for v in caught.value.report.detailed}
    assert {(1, "ts", "timestamp_offset"), (1, "event_name", "pattern"), (1, "colour", "unknown_column"),
            (2, "ts", "timestamp"), (2, None, "one_of"), (2, "properties", "json"),
            (2, "page", "type"), (3, "customer_id", "reference"), (4, None, "json"),
            (4, "event_id", "required")} <= where  # fmt: skip
    assert not any(row == 0 for row, _, _ in where)
    assert event_feed.last_seq(workspace.ops) == 0  # nothing stored, not even E1


def test_flush_moves_posted_events_into_the_analytical_store_once(workspace: Workspace) -> None:
    customers(workspace, "C1")
    workspace.post_events([event(1, platform="app", session_id="S1", properties={"k": "v"}),
                           event(2)])  # fmt: skip
    # an event that came from ingestion is in the analytical store already: not copied
    event_feed.append(workspace.ops, [event_feed.FeedEvent(
        "X1", "app_open", datetime(2026, 1, 1, tzinfo=UTC), customer_id="C1")],
        source="ingest")  # fmt: skip
    first = workspace.flush_events()
    assert (first.from_seq, first.to_seq, first.events, first.inserted) == (0, 3, 2, 2)
    rows = workspace.query("SELECT event_id, platform, session_id, properties, ts FROM events "
                           "ORDER BY event_id").to_pylist()  # fmt: skip
    assert [r["event_id"] for r in rows] == ["E1", "E2"]
    assert rows[0]["platform"] == "app" and rows[0]["session_id"] == "S1"
    assert rows[0]["properties"] == '{"k": "v"}'
    assert workspace.flushed_seq() == 3
    # nothing new: nothing done; new events: only they move
    assert workspace.flush_events().events == 0
    workspace.post_events([event(2), event(3)])
    second = workspace.flush_events()
    # (PostgreSQL's sequence also spends a number on the repeated id: compare with the feed's)
    last = event_feed.last_seq(workspace.ops)
    assert (second.from_seq, second.to_seq, second.events, second.inserted) == (3, last, 1, 1)
    assert workspace.counts()["events"] == 3
    runs = [r for r in workspace.runs() if r["kind"] == "event_feed"]
    assert [r["fingerprint"] for r in runs] == [f"event_feed:{last}", "event_feed:3"]


def campaign(ws: Workspace, cid: str, text: str, *, approve: bool = True) -> None:
    definition = CampaignDefinition.from_text(f"campaign: {cid}\nname: t\n{text}")
    ws.campaigns.save(definition, MAKER)
    if approve:
        ws.campaigns.act(cid, "submit", MAKER)
        ws.campaigns.act(cid, "approve", CHECKER)


def test_listened_event_names(workspace: Workspace) -> None:
    assert listened_event_names(workspace) == set()
    campaign(workspace, "CMP_A", "schedule: {event: app_open}\njourney:\n"
             "  - send: {channel: sms}\n  - wait: {days: 1, until_event: apply_start}\n"
             "  - branch:\n      if_responded: true\n      then: [wait: {days: 1}]\n"
             "      otherwise:\n        - branch: {if_event: card_view, then: [exit: {}]}\n"
             "goal: {event: drawdown}\n")  # fmt: skip
    campaign(workspace, "CMP_DRAFT", "schedule: {event: never_heard}\njourney: [send: {channel: sms}]\n", approve=False)
    assert listened_event_names(workspace) == {"app_open", "apply_start", "card_view", "drawdown"}
    workspace.campaigns.act("CMP_A", "cancel", MAKER)
    assert listened_event_names(workspace) == set()
    workspace.config.events = EventSettings(always_feed=["login"])
    assert listened_event_names(workspace) == {"login"}


def test_ingestion_feeds_the_events_live_campaigns_listen_to(workspace: Workspace,
                                                             tmp_path: Path) -> None:  # fmt: skip
    customers(workspace, "C1", "C2")
    workspace.load_tables([("identities", pa.table({"id_type": ["device_id"], "id_value": ["D1"],
                                                    "customer_id": ["C2"]}))],
                          source="test-identities")  # fmt: skip
    campaign(workspace, "CMP_T", "schedule: {event: apply_start}\njourney: [send: {channel: sms}]\n")
    lines = [
        '{"event_id": "I1", "ts": "2026-12-01T09:00:00+08:00", "customer_id": "C1", '
        '"event_name": "apply_start"}',
        '{"event_id": "I2", "ts": "2026-12-01T09:01:00+08:00", "customer_id": "C1", '
        '"event_name": "app_open"}',
        '{"event_id": "I3", "ts": "2026-12-01T09:02:00+08:00", "anonymous_id": "D1", '
        '"event_name": "apply_start"}',
        '{"event_id": "I4", "ts": "2026-12-01T09:03:00+08:00", "anonymous_id": "D404", '
        '"event_name": "apply_start"}',
    ]  # fmt: skip
    (tmp_path / "ev.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = workspace.ingest("events", tmp_path / "ev.jsonl")
    assert result.fed == 2 and workspace.feed_problem is None
    fed = event_feed.read_after(workspace.ops, 0)
    assert [(e.event_id, e.customer_id) for e in fed] == [("I1", "C1"), ("I3", "C2")]
    with workspace.ops.engine.connect() as conn:
        sources = conn.exec_driver_sql("SELECT DISTINCT source FROM event_feed").scalars().all()
    assert sources == ["ingest"]
    # a flush copies none of them back (they are in the analytical store already)
    assert workspace.flush_events().events == 0
    assert workspace.counts()["events"] == 4
