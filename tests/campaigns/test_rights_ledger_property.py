"""Random sequences of issue / redeem / expire / reverse / earn / spend (and replays of earlier
keys) against a plain Python model of the ledger: after every step each entry balances to zero
per unit, budgets and points are never negative, balances equal the sums of the postings and
the model, a second reversal is refused, and a replayed key changes nothing."""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.campaigns.rights.ledger import (
    EntryKind,
    RightsLedger,
    Unit,
    budget_account,
    points_account,
)
from lodestar.errors import BudgetExhausted, InsufficientPoints, RightsError
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import rights_postings

CATALOGUE = RightsCatalogue.from_text("""\
rights:
  - {id: cash, name: {zh: 返现, en: Cash}, kind: cashback, face_value: 10, cost: 10,
     validity_days: 2, budget_cny: 35}
  - {id: voucher, name: {zh: 券, en: Voucher}, kind: partner_voucher, face_value: 30,
     cost: 12.34, validity_days: 1, budget_count: 3, points_price: 50}
""")
CUSTOMERS = ("C1", "C2", "C3")
START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


class LedgerMachine(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        shutil.copy(self.template, self.dir / "ops.sqlite")
        self.store = OperationalStore(f"sqlite:///{self.dir / 'ops.sqlite'}")
        self.now = START
        self.ledger = RightsLedger(self.store, clock=lambda: self.now)
        self.n = 0
        # the model
        self.points: dict[str, Decimal] = defaultdict(Decimal)
        self.budget = {r.id: r.cny_budget for r in CATALOGUE.rights}
        self.coupons: dict[str, tuple[str, str, Decimal, datetime]] = {}  # id -> right, cust..
        self.status: dict[str, str] = {}
        self.entries: list[tuple[int, EntryKind, str | None]] = []  # id, kind, coupon
        self.reversed: set[int] = set()
        self.done: list[tuple[Callable[[], Any], Any]] = []  # replays and their first result

    def teardown(self) -> None:
        self.store.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def key(self) -> str:
        self.n += 1
        return f"k{self.n}"

    def _issued(self, right_id: str) -> int:
        return sum(1 for c, (r, *_rest) in self.coupons.items()
                   if r == right_id and self.status[c] != "reversed")  # fmt: skip

    @rule(right=st.sampled_from(("cash", "voucher")), customer=st.sampled_from(CUSTOMERS))
    def issue(self, right: str, customer: str) -> None:
        r = CATALOGUE.get(right)
        key = self.key()
        fits = self.budget[right] >= r.cost and (
            r.budget_count is None or self._issued(right) < r.budget_count)  # fmt: skip
        if not fits:
            with pytest.raises(BudgetExhausted):
                self.ledger.issue(r, customer, key)
            return
        issued = self.ledger.issue(r, customer, key)
        self._new_coupon(issued, r.id, customer, r.cost)
        self.done.append((lambda: self.ledger.issue(r, customer, key), issued))

    def _new_coupon(self, issued: Any, right: str, customer: str, cost: Decimal) -> None:
        self.budget[right] -= cost
        self.coupons[issued.coupon.coupon_id] = (right, customer, cost, issued.coupon.expires_at)
        self.status[issued.coupon.coupon_id] = "issued"
        self.entries.append((issued.entry.entry_id, issued.entry.kind, issued.coupon.coupon_id))

    @rule(customer=st.sampled_from(CUSTOMERS), points=st.integers(1, 80))
    def earn(self, customer: str, points: int) -> None:
        key = self.key()
        entry = self.ledger.earn_points(customer, points, "test", key)
        assert entry is not None
        self.points[customer] += points
        self.entries.append((entry.entry_id, EntryKind.EARN, None))
        self.done.append((lambda: self.ledger.earn_points(customer, points, "test", key), entry))

    @rule(customer=st.sampled_from(CUSTOMERS))
    def spend(self, customer: str) -> None:
        r = CATALOGUE.get("voucher")
        key = self.key()
        if self.points[customer] < 50:
            with pytest.raises(InsufficientPoints):
                self.ledger.spend_points(customer, r, key)
            return
        if self.budget["voucher"] < r.cost or self._issued("voucher") >= 3:
            with pytest.raises(BudgetExhausted):
                self.ledger.spend_points(customer, r, key)
            return
        issued = self.ledger.spend_points(customer, r, key)
        self.points[customer] -= 50
        self._new_coupon(issued, "voucher", customer, r.cost)

    @precondition(lambda self: bool(self.coupons))
    @rule(data=st.data())
    def redeem(self, data: st.DataObject) -> None:
        coupon = list(self.coupons)[data.draw(st.integers(0, len(self.coupons) - 1))]
        _, _, _, expires = self.coupons[coupon]
        key = self.key()
        if self.status[coupon] != "issued" or self.now >= expires:
            with pytest.raises(RightsError):
                self.ledger.redeem(coupon, key)
            return
        entry = self.ledger.redeem(coupon, key)
        self.status[coupon] = "redeemed"
        self.entries.append((entry.entry_id, EntryKind.REDEEM, coupon))
        self.done.append((lambda: self.ledger.redeem(coupon, key), entry))

    @rule(hours=st.integers(1, 60))
    def pass_time_and_expire(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        expired = self.ledger.expire(self.now)
        due = {c for c, (_, _, _, exp) in self.coupons.items()
               if self.status[c] == "issued" and exp <= self.now}  # fmt: skip
        assert {e.reference.removeprefix("coupon:") for e in expired} == due
        for c in due:
            self.status[c] = "expired"
            self.budget[self.coupons[c][0]] += self.coupons[c][2]

    @precondition(lambda self: bool(self.entries))
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        entry_id, kind, coupon = self.entries[data.draw(st.integers(0, len(self.entries) - 1))]
        key = self.key()
        if entry_id in self.reversed:
            with pytest.raises(RightsError, match="already reversed"):
                self.ledger.reverse(entry_id, "test", key=key)
            return
        if kind is EntryKind.EARN:
            e = self.ledger.entry(entry_id)
            customer = e.postings[0].account.split(":")[1]
            amount = e.postings[0].amount
            if self.points[customer] < amount:
                with pytest.raises(InsufficientPoints):
                    self.ledger.reverse(entry_id, "test", key=key)
                return
            self.ledger.reverse(entry_id, "test", key=key)
            self.points[customer] -= amount
        else:
            assert coupon is not None
            right, customer, cost, _ = self.coupons[coupon]
            wanted = "redeemed" if kind is EntryKind.REDEEM else "issued"
            if self.status[coupon] != wanted:
                with pytest.raises(RightsError):
                    self.ledger.reverse(entry_id, "test", key=key)
                return
            self.ledger.reverse(entry_id, "test", key=key)
            if kind is EntryKind.REDEEM:
                self.status[coupon] = "issued"
            else:
                self.status[coupon] = "reversed"
                self.budget[right] += cost
                if kind is EntryKind.SPEND:
                    self.points[customer] += 50
        self.reversed.add(entry_id)

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        again, first = self.done[data.draw(st.integers(0, len(self.done) - 1))]
        before = self.store.count("rights_entries"), self.store.count("rights_postings")
        result = again()
        if hasattr(first, "coupon"):  # an issue's replay: the first entry, the coupon as it is now
            assert (result.entry, result.coupon.coupon_id) == (first.entry, first.coupon.coupon_id)
        else:
            assert result == first
        assert (self.store.count("rights_entries"), self.store.count("rights_postings")) == before

    @invariant()
    def every_entry_balances(self) -> None:
        assert self.ledger.unbalanced_entries() == []

    @invariant()
    def balances_are_sums_of_postings_and_match_the_model(self) -> None:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(rights_postings.c.account, rights_postings.c.unit,
                                          rights_postings.c.amount)).all()  # fmt: skip
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for account, unit, amount in rows:
            assert isinstance(amount, Decimal)
            sums[(account, unit)] += amount
        assert self.ledger.balances() == dict(sums)
        for right in CATALOGUE.rights:
            # a budget account is funded by the right's first issue
            funded = any(r == right.id for r, *_ in self.coupons.values())
            left = self.ledger.balance(budget_account(right.id))
            assert left >= 0
            assert left == (self.budget[right.id] if funded else 0)
        for customer in CUSTOMERS:
            have = self.ledger.balance(points_account(customer), Unit.POINTS)
            assert have >= 0 and have == self.points[customer]
        stored = {c.coupon_id: c.status for c in self.ledger.coupons()}
        assert stored == self.status


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "ops.sqlite"
    store = OperationalStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


def test_ledger_invariants_hold_for_random_operation_sequences(template: Path) -> None:
    LedgerMachine.template = template
    LedgerMachine.TestCase.settings = settings(
        max_examples=60, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )  # fmt: skip
    LedgerMachine.TestCase().runTest()
