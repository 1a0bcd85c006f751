"""A budget is never overspent under concurrent issuance: 8 threads (SQLite and PostgreSQL) and
several processes (PostgreSQL, and SQLite across processes) race for a right with budget for
exactly N issues; exactly N succeed, the rest are refused, the ledger stays balanced."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

import lodestar
from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.campaigns.rights.ledger import RightsLedger
from lodestar.errors import BudgetExhausted
from lodestar.storage.operational import OperationalStore

N = 7
RIGHT_TEXT = (
    "rights:\n"
    "  - {id: scarce, name: {zh: 稀缺券, en: Scarce}, kind: coupon, face_value: 9.99,\n"
    f"     cost: 3.33, validity_days: 3, budget_cny: {Decimal('3.33') * N}}}\n"
)


def _race(store: OperationalStore, threads: int, attempts: int, prefix: str) -> tuple[int, int]:
    right = RightsCatalogue.from_text(RIGHT_TEXT).get("scarce")
    ledger = RightsLedger(store)

    def one(i: int) -> int:
        try:
            ledger.issue(right, f"C{i % 5}", key=f"{prefix}-{i}")
        except BudgetExhausted:
            return 0
        return 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        won = sum(pool.map(one, range(attempts)))
    return won, attempts - won


def _assert_exactly_n(store: OperationalStore) -> None:
    ledger = RightsLedger(store)
    assert ledger.issued_count("scarce") == N
    assert ledger.budget_left("scarce") == Decimal("0.00")
    assert ledger.unbalanced_entries() == []
    assert sum(ledger.balances().values()) == 0
    assert store.count("rights_coupons") == N


def test_threads_issue_exactly_the_budget(store: OperationalStore) -> None:
    won, refused = _race(store, threads=8, attempts=40, prefix="t")
    assert (won, refused) == (N, 40 - N)
    _assert_exactly_n(store)


_WORKER = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from lodestar.campaigns.rights.catalogue import RightsCatalogue
    from lodestar.campaigns.rights.ledger import RightsLedger
    from lodestar.errors import BudgetExhausted
    from lodestar.storage.operational import OperationalStore

    url, text, tag = sys.argv[1], sys.argv[2], sys.argv[3]
    store = OperationalStore(url)
    right = RightsCatalogue.from_text(text).get("scarce")
    ledger = RightsLedger(store)

    def one(i):
        try:
            ledger.issue(right, f"C{i % 5}", key=f"{tag}-{i}")
        except BudgetExhausted:
            return 0
        return 1

    with ThreadPoolExecutor(max_workers=4) as pool:
        print(sum(pool.map(one, range(10))))
    store.dispose()
    """
)


def test_processes_issue_exactly_the_budget(store: OperationalStore) -> None:
    env = dict(os.environ)
    src = str(Path(lodestar.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, store.url, RIGHT_TEXT, f"p{n}"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]  # fmt: skip
    results = [(proc.communicate(timeout=180), proc.returncode) for proc in procs]
    for (_, err), code in results:
        assert code == 0, err
    assert sum(int(out.strip()) for (out, _), _ in results) == N
    _assert_exactly_n(store)


@pytest.mark.parametrize("attempt", range(2))
def test_replays_racing_each_other_issue_once(store: OperationalStore, attempt: int) -> None:
    right = RightsCatalogue.from_text(RIGHT_TEXT).get("scarce")
    ledger = RightsLedger(store)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ledger.issue(right, "C1", key="same"), range(8)))
    assert len({r.coupon.coupon_id for r in results}) == 1
    assert ledger.issued_count("scarce") == 1
