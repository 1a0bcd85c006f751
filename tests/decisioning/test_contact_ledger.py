"""The contact ledger holds the caps under concurrent callers (threads and processes, SQLite
and PostgreSQL); stored policy versions and the do-not-contact list."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import lodestar
from lodestar.decisioning.contact_ledger import ContactLedger
from lodestar.decisioning.contact_policy import Reason, check, evaluate
from lodestar.decisioning.policy_rules import default_policy_text, parse_policy_text
from lodestar.decisioning.policy_store import (
    add_do_not_contact,
    do_not_contact_frame,
    load_policy,
    policy_versions,
    save_policy,
)
from lodestar.errors import ConfigError, DefinitionError
from lodestar.storage.operational import OperationalStore

POLICY_TEXT = (
    "name: hammer\n"
    "channels: {sms: {quiet_hours: {start: '21:00', end: '08:00'}}}\n"
    "frequency: {global: {day: 3, week: 4}, channels: {telemarketing: {week: 1}}}\n"
    "pressure: {window_days: 7, max_weight: 4, weights: {marketing: {sms: 1, telemarketing: 3}}}\n"
)
POLICY = parse_policy_text(POLICY_TEXT)
AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def store(tmp_path: Path, database_url: str | None):
    url = database_url or f"sqlite:///{tmp_path / 'ops.sqlite'}"
    s = OperationalStore(url)
    s.migrate()
    yield s
    s.dispose()


def test_reservations_follow_the_caps_and_the_send_day(store: OperationalStore) -> None:
    ledger = ContactLedger(store)
    verdicts = [ledger.try_reserve(POLICY, "C1", "Asia/Shanghai", "sms", "marketing", "K1", AT)
                for _ in range(4)]  # fmt: skip
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].reason == Reason.FREQUENCY_DAY
    frame = ledger.reservations("C1")
    assert len(frame) == 3 and set(frame["local_day"]) == {date(2026, 3, 10)}
    assert list(frame["weight"]) == [1.0, 1.0, 1.0]
    # pressure: 3 sms + a call (3) > 4
    call = ledger.try_reserve(POLICY, "C1", "Asia/Shanghai", "telemarketing", "marketing", "K2",
                              AT + timedelta(days=1))  # fmt: skip
    assert call.reason == Reason.PRESSURE
    # at 22:00 local the sms is held to 08:00 the next day and counted on that day
    late = datetime(2026, 3, 11, 14, 0, tzinfo=UTC)
    held = ledger.try_reserve(POLICY, "C2", "Asia/Shanghai", "sms", "marketing", None, late)
    assert held.allowed and held.held and held.send_at == datetime(2026, 3, 12, 0, 0, tzinfo=UTC)
    assert ledger.reservations("C2")["local_day"].tolist() == [date(2026, 3, 12)]
    # a released reservation gives its place back
    assert ledger.release(verdicts[0].detail["reservation_id"])
    assert ledger.try_reserve(POLICY, "C1", "Asia/Shanghai", "sms", "marketing", "K1", AT).allowed


def test_history_counts_with_the_ledger(store: OperationalStore) -> None:
    ledger = ContactLedger(store)
    history = [{"customer_id": "C1", "channel": "telemarketing",
                "contacted_at": AT - timedelta(days=1)},  # Monday, this week
               {"customer_id": "OTHER", "channel": "sms", "contacted_at": AT}]  # fmt: skip
    v = ledger.try_reserve(POLICY, "C1", "Asia/Shanghai", "telemarketing", "marketing", None, AT,
                           history)  # fmt: skip
    assert v.reason == Reason.FREQUENCY_WEEK and v.detail["scope"] == "telemarketing"
    assert ledger.try_reserve(POLICY, "C1", None, "sms", "marketing", None, AT, history).allowed
    # the ledger's reservations are contacts for the batch too
    # the ledger's reservations are contacts for the batch too: call 3 + sms 1 + sms 1 > 4
    both = pd.concat([ledger.reservations("C1"), pd.DataFrame(history)], ignore_index=True)
    customers = pd.DataFrame([{"customer_id": "C1", "time_zone": "Asia/Shanghai", "phone": "1"}])
    consents = pd.DataFrame([{"customer_id": "C1", "channel": "sms", "purpose": "marketing",
                              "granted": True, "ts": AT - timedelta(days=9),
                              "withdrawn_at": None}])  # fmt: skip
    decision = evaluate(POLICY, customers, ["sms"], "marketing", AT, both, consents)
    assert decision.frame["reason"].tolist() == ["pressure"]


def _hammer_threads(store: OperationalStore, attempts: int, threads: int) -> list[bool]:
    ledger = ContactLedger(store)

    def one(i: int) -> bool:
        channel = "telemarketing" if i % 5 == 0 else "sms"
        verdict = ledger.try_reserve(POLICY, "HOT", "Asia/Shanghai", channel, "marketing",
                                     f"K{i}", AT)  # fmt: skip
        return verdict.allowed

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(attempts)))


def _assert_within_caps(store: OperationalStore) -> None:
    frame = ContactLedger(store).reservations("HOT")
    assert 1 <= len(frame) <= 3  # day cap
    assert frame["weight"].sum() <= 4  # pressure
    assert (frame["channel"] == "telemarketing").sum() <= 1


def test_caps_hold_under_concurrent_threads(store: OperationalStore) -> None:
    allowed = _hammer_threads(store, attempts=80, threads=12)
    _assert_within_caps(store)
    assert sum(allowed) == len(ContactLedger(store).reservations("HOT"))


_WORKER = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime
    from lodestar.decisioning.contact_ledger import ContactLedger
    from lodestar.decisioning.policy_rules import parse_policy_text
    from lodestar.storage.operational import OperationalStore

    url, text = sys.argv[1], sys.argv[2]
    policy = parse_policy_text(text)
    store = OperationalStore(url)
    ledger = ContactLedger(store)
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

    def one(i):
        channel = "telemarketing" if i % 5 == 0 else "sms"
        return ledger.try_reserve(policy, "HOT", "Asia/Shanghai", channel, "marketing", None,
                                  at).allowed

    with ThreadPoolExecutor(max_workers=4) as pool:
        print(sum(pool.map(one, range(20))))
    store.dispose()
    """
)


def test_caps_hold_across_processes(store: OperationalStore) -> None:
    env = dict(os.environ)
    src = str(Path(lodestar.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    url = store.url
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, url, POLICY_TEXT], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    results = [(proc.communicate(timeout=120), proc.returncode) for proc in procs]
    for (_, err), code in results:
        assert code == 0, err
    granted = sum(int(out.strip()) for (out, _), _ in results)
    _assert_within_caps(store)
    assert granted == len(ContactLedger(store).reservations("HOT"))


# --- stored policies and the do-not-contact list -----------------------------------------------


def test_policy_versions_are_kept_and_audited(store: OperationalStore) -> None:
    text = default_policy_text()
    first = save_policy(store, text, actor="ops1", source="default_contact_policy.yaml")
    assert first.version == 1
    assert save_policy(store, text, actor="ops1").version == 1  # unchanged: no new version
    changed = text.replace("global: {day: 2,", "global: {day: 1,")
    assert changed != text
    assert save_policy(store, changed, actor="ops2").version == 2
    assert load_policy(store, "retail_default").frequency.global_.day == 1
    v1 = load_policy(store, "retail_default", 1)
    assert v1.frequency.global_.day == 2 and v1.version == 1
    assert [v["created_by"] for v in policy_versions(store, "retail_default")] == ["ops1", "ops2"]
    entries = [e for e in store.audit_entries() if e["entity"] == "contact_policy"]
    assert [e["entity_id"] for e in entries] == ["retail_default@2", "retail_default@1"]
    with pytest.raises(DefinitionError, match=r"frequency\.global\.day"):
        save_policy(store, "name: retail_default\nfrequency: {global: {day: x}}\n", actor="o")
    assert len(policy_versions(store, "retail_default")) == 2
    with pytest.raises(ConfigError, match="no version 7"):
        load_policy(store, "retail_default", 7)


def test_do_not_contact_list_feeds_the_policy(store: OperationalStore) -> None:
    add_do_not_contact(store, "C1", "sms", "customer_request", actor="ops1",
                       expires_at=AT + timedelta(days=30), at=AT - timedelta(days=1))  # fmt: skip
    add_do_not_contact(store, "C2", "all", "deceased", actor="ops1", at=AT - timedelta(days=1))
    with pytest.raises(ValueError):
        add_do_not_contact(store, "C3", "sms", "because", actor="ops1")
    frame = do_not_contact_frame(store)
    assert len(frame) == 2
    policy = parse_policy_text("name: d\n")
    consents = [
        {
            "customer_id": c,
            "channel": "sms",
            "purpose": "marketing",
            "granted": True,
            "ts": AT - timedelta(days=90),
            "withdrawn_at": None,
        }
        for c in ("C1", "C2")
    ]
    for cid, when, expected in (
        ("C1", AT, Reason.DO_NOT_CONTACT),
        ("C1", AT + timedelta(days=31), None),
        ("C2", AT + timedelta(days=999), Reason.DO_NOT_CONTACT),
    ):
        cust = {"customer_id": cid, "phone": "1", "time_zone": "Asia/Shanghai"}
        assert check(policy, cust, "sms", "marketing", when, consents=consents,
                     do_not_contact=frame).reason == expected  # fmt: skip
    assert any(e["entity"] == "do_not_contact" for e in store.audit_entries())
