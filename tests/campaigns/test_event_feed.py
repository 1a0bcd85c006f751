"""The live event feed: each event once, batches all-or-nothing, cursors that skip nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from lodestar.campaigns import event_feed
from lodestar.campaigns.event_feed import FeedEvent

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _ev(i: int, name: str = "apply_start", customer: str = "C1") -> FeedEvent:
    return FeedEvent(event_id=f"E{i}", event_name=name, ts=T0 + timedelta(seconds=i),
                     customer_id=customer, properties={"n": i})  # fmt: skip


def test_repeated_ids_are_stored_once_and_read_in_order(store) -> None:
    assert event_feed.append(store, [_ev(1), _ev(2)]) == 2
    assert event_feed.append(store, [_ev(2), _ev(3)]) == 1  # a client's retry
    got = event_feed.read_after(store, 0)
    assert [e.event_id for e in got] == ["E1", "E2", "E3"]
    assert got[0].properties == {"n": 1} and got[0].ts == T0 + timedelta(seconds=1)
    assert event_feed.read_after(store, got[1].seq) == [got[2]]
    assert event_feed.last_seq(store) == got[2].seq


def test_read_by_name_and_customer_history(store) -> None:
    event_feed.append(store, [_ev(1, "app_open"), _ev(2, "apply_start"), _ev(3, "x", "C2")])
    assert [e.event_id for e in event_feed.read_after(store, 0, names=["apply_start"])] == ["E2"]
    assert event_feed.customer_had(store, "C1", ["apply_start"], T0)
    assert not event_feed.customer_had(store, "C1", ["apply_start"], T0 + timedelta(seconds=3))
    assert not event_feed.customer_had(store, "C2", ["apply_start"], T0)


def test_concurrent_appends_leave_no_gap_behind_a_cursor(store) -> None:
    """Four writers append while a reader follows the feed by cursor: the reader sees every
    event exactly once (sequence numbers commit in order)."""
    seen: list[str] = []
    done = threading.Event()

    def write(w: int) -> None:
        for b in range(10):
            event_feed.append(store, [_ev(w * 1000 + b * 10 + k) for k in range(10)])

    def read() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            for e in event_feed.read_after(store, cursor):
                seen.append(e.event_id)
                cursor = e.seq
            if finished:
                return

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    assert len(seen) == 400 and len(set(seen)) == 400
