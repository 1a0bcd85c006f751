"""The durable outbox and its worker: idempotent enqueue, the contact policy re-checked at send
time, holds, retries with backoff, the dead letter, and exactly-once when a worker dies."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbox_fixtures import DictDirectory, PlainComposer, grant, people

from lodestar.campaigns.outbox import Outbox
from lodestar.campaigns.send_worker import SendWorker
from lodestar.channels.channel import OutboundMessage, SendResult
from lodestar.channels.fake import FakeChannel
from lodestar.decisioning.policy_rules import default_policy
from lodestar.storage.operational import OperationalStore, sqlite_url

NOON = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: SMS quiet hours


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OperationalStore]:
    url = (sqlite_url(tmp_path / "ops.sqlite") if request.param == "sqlite"
           else str(request.getfixturevalue("pg_schema_url")))  # fmt: skip
    ops = OperationalStore(url)
    ops.migrate()
    yield ops
    ops.dispose()


def rows(n: int, *, step: str = "1", channel: str = "sms") -> list[dict[str, object]]:
    return [{"campaign_id": "CMP_T", "step": step, "customer_id": f"C{i:04d}", "channel": channel,
             "offer_id": "CARD", "send_at": NOON - timedelta(minutes=1)} for i in range(n)]  # fmt: skip


def worker(store: OperationalStore, fake: FakeChannel, n: int, **kw: object) -> SendWorker:
    return SendWorker(store, {"sms": fake}, default_policy(), DictDirectory(people(n)),
                      PlainComposer(), **kw)  # type: ignore[arg-type]


def test_enqueue_is_idempotent_and_all_or_nothing(store: OperationalStore) -> None:
    box = Outbox(store)
    assert box.enqueue(rows(30), now=NOON) == 30
    assert box.enqueue(rows(40), now=NOON) == 10  # the first 30 are already there
    assert box.counts() == {"pending": 40}
    with pytest.raises(KeyError):  # a malformed row: nothing of this batch is written
        box.enqueue([*rows(50)[40:], {"campaign_id": "CMP_T"}], now=NOON)
    assert box.counts() == {"pending": 40}


def test_sends_once_with_the_key_and_rechecks_consent(store: OperationalStore) -> None:
    everyone = [f"C{i:04d}" for i in range(20)]
    grant(store, everyone)
    box = Outbox(store)
    box.enqueue(rows(20), now=NOON)
    # between the plan and the send, one customer withdraws the SMS consent
    grant(store, ["C0007"], withdrawn=NOON - timedelta(minutes=5), tag="w")
    fake = FakeChannel("sms")
    stats = worker(store, fake, 20).run_once(now=NOON)
    assert (stats.sent, stats.skipped) == (19, 1)
    assert stats.reasons == {"consent_withdrawn": 1}
    assert sorted(m.idempotency_key for m in fake.delivered) == sorted(
        f"CMP_T:1:C{i:04d}" for i in range(20) if i != 7)  # fmt: skip
    assert fake.delivered[0].body.startswith("客户")
    assert box.counts() == {"sent": 19, "skipped": 1}
    assert worker(store, fake, 20).run_once(now=NOON).claimed == 0  # nothing left


def test_quiet_hours_hold_and_caps_skip(store: OperationalStore) -> None:
    grant(store, ["C0000", "C0001"])
    box = Outbox(store)
    box.enqueue(rows(1), now=NIGHT)
    fake = FakeChannel("sms")
    held = worker(store, fake, 2).run_once(now=NIGHT)
    assert held.held == 1 and not fake.delivered
    [row] = box.rows()
    assert row["status"] == "pending" and row["attempts"] == 0
    due = row["next_attempt_at"] if row["next_attempt_at"].tzinfo else row[
        "next_attempt_at"].replace(tzinfo=UTC)  # fmt: skip
    assert due == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert worker(store, fake, 2).run_once(now=due).sent == 1
    # the example policy allows one SMS a day: a second step the same day is skipped
    box.enqueue(rows(1, step="2"), now=due)
    capped = worker(store, fake, 2).run_once(now=due + timedelta(hours=1))
    assert capped.skipped == 1 and capped.reasons == {"frequency_day": 1}


def test_retries_back_off_then_dead_letter(store: OperationalStore) -> None:
    grant(store, ["C0000", "C0001"])
    box = Outbox(store, max_attempts=3, base_backoff=60)
    box.enqueue(rows(2), now=NOON)
    fake = FakeChannel("sms")
    fake.fail_when(lambda m: m.customer_id == "C0000", SendResult.transient("http_503", "busy"))
    fake.fail_when(lambda m: m.customer_id == "C0001", SendResult.permanent("http_400", "bad"))
    w = SendWorker(store, {"sms": fake}, default_policy(), DictDirectory(people(2)),
                   PlainComposer(), outbox=box)  # fmt: skip
    first = w.run_once(now=NOON)
    assert (first.retried, first.dead) == (1, 1)
    by_id = {r["customer_id"]: r for r in box.rows()}
    assert by_id["C0001"]["status"] == "dead" and "http_400" in by_id["C0001"]["last_error"]
    # the permanent failure gave its booking back; the retried one keeps it
    assert list(w.ledger.reservations()["customer_id"]) == ["C0000"]
    at = NOON
    for _ in range(2):
        at += timedelta(hours=1)  # past any backoff, still inside the SMS hours
        w.run_once(now=at)
    final = {r["customer_id"]: r for r in box.rows()}["C0000"]
    assert final["status"] == "dead" and final["attempts"] == 3
    assert "after 3 attempts" in final["last_error"]
    assert len(w.ledger.reservations()) == 1  # retries never booked the contact twice


def test_a_worker_dying_mid_batch_never_sends_twice(store: OperationalStore) -> None:
    n = 40
    grant(store, [f"C{i:04d}" for i in range(n)])
    box = Outbox(store)
    box.enqueue(rows(n), now=NOON)
    fake = FakeChannel("sms")  # deduplicates by key, as the gateways do
    # the first worker claims a batch, gets half of it out, and dies before recording anything
    claimed = box.claim("doomed", limit=n, lease_seconds=30, now=NOON)
    for r in claimed[: n // 2]:
        fake.send(OutboundMessage(r.idempotency_key, "sms", r.customer_id, "x", "body"))
    # its lease runs out; another worker takes the rows over
    later = NOON + timedelta(seconds=31)
    stats = worker(store, fake, n, name="rescuer").run_once(now=later)
    assert stats.claimed == n and stats.duplicate == n // 2 and stats.sent == n // 2
    assert len({m.idempotency_key for m in fake.delivered}) == n == len(fake.delivered)
    assert box.counts() == {"sent": n}
    # the dead worker's late result changes nothing: it no longer holds the rows
    assert box.sent(claimed[0], "doomed", "late") is False


def test_concurrent_workers_take_each_row_once(store: OperationalStore) -> None:
    n = 120
    grant(store, [f"C{i:04d}" for i in range(n)])
    box = Outbox(store)
    box.enqueue(rows(n), now=NOON)
    fake = FakeChannel("sms")
    results = []

    def drain(name: str) -> None:
        w = worker(store, fake, n, name=name, batch=10)
        total = 0
        while (got := w.run_once(now=NOON)).claimed:
            total += got.sent
        results.append(total)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    attempts = Counter(m.idempotency_key for m in fake.attempts)
    assert sum(results) == n and set(attempts.values()) == {1}  # no row was sent twice
    assert box.counts() == {"sent": n}
