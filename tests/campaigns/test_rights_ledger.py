"""The rights ledger: issue, redeem, expire, reverse, earn and spend as balanced entries;
budgets and points never go below zero; keys make every operation idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from lodestar.campaigns.rights.catalogue import RightsCatalogue
from lodestar.campaigns.rights.ledger import (
    EXPENSE,
    Posting,
    RightsLedger,
    Unit,
    budget_account,
    check_balanced,
    expiry_of,
    points_account,
    wallet_account,
)
from lodestar.errors import BudgetExhausted, InsufficientPoints, RightsError
from lodestar.storage.operational import OperationalStore


def test_issue_commits_cost_against_the_budget_until_it_is_exhausted(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    right = catalogue.get("cashback_20")
    for n in range(5):
        ledger.issue(right, f"C{n}", key=f"k{n}")
    assert ledger.budget_left("cashback_20") == Decimal("0.00")
    before = store.count("rights_entries"), store.count("rights_postings")
    with pytest.raises(BudgetExhausted, match=r"cashback_20.*budget left CNY 0.00"):
        ledger.issue(right, "C9", key="k9")
    assert (store.count("rights_entries"), store.count("rights_postings")) == before
    assert ledger.balance(wallet_account("C0")) == Decimal("20.00")
    assert ledger.unbalanced_entries() == []


def test_count_budget_and_cny_budget_both_hold(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    right = catalogue.get("voucher")  # CNY 50 at 12.50 would allow 4; the count allows 3
    for n in range(3):
        ledger.issue(right, "C1", key=f"k{n}")
    with pytest.raises(BudgetExhausted, match="budget_count"):
        ledger.issue(right, "C1", key="k3")
    assert ledger.issued_count("voucher") == 3


def test_a_repeated_key_returns_the_first_result_and_writes_nothing(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    first = ledger.issue(catalogue.get("cashback_20"), "C1", key="campaign-1:C1")
    rows = store.count("rights_postings")
    again = ledger.issue(catalogue.get("cashback_20"), "C1", key="campaign-1:C1")
    assert again == first and store.count("rights_postings") == rows
    with pytest.raises(RightsError, match="already used for another operation"):
        ledger.issue(catalogue.get("cashback_20"), "C2", key="campaign-1:C1")


def test_redeem_moves_the_cost_to_expense_once(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    issued = ledger.issue(catalogue.get("voucher"), "C1", key="i1")
    entry = ledger.redeem(issued.coupon.coupon_id, key="pos-1")
    assert ledger.redeem(issued.coupon.coupon_id, key="pos-1") == entry
    assert ledger.balance(EXPENSE) == Decimal("12.50")
    assert ledger.balance(wallet_account("C1")) == Decimal("0.00")
    with pytest.raises(RightsError, match="is redeemed, not redeemable"):
        ledger.redeem(issued.coupon.coupon_id, key="pos-2")


def test_expiry_is_by_the_banks_local_date(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    # 23:30 on 10 March in Shanghai is 15:30 UTC: a one-day voucher is valid through 11 March
    # local, i.e. until 16:00 UTC on 11 March.
    clock.now = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    ledger = RightsLedger(store, clock=clock, time_zone="Asia/Shanghai")
    issued = ledger.issue(catalogue.get("voucher"), "C1", key="i1")
    assert issued.coupon.expires_at == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
    assert ledger.expire(datetime(2026, 3, 11, 15, 59, tzinfo=UTC)) == []
    clock.now = datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
    with pytest.raises(RightsError, match="expired at 2026-03-12 00:00"):
        ledger.redeem(issued.coupon.coupon_id, key="late")
    expired = ledger.expire(datetime(2026, 3, 11, 16, 0, tzinfo=UTC))
    assert [e.kind.value for e in expired] == ["expire"]
    assert ledger.expire(datetime(2026, 3, 20, tzinfo=UTC)) == []  # done once
    assert ledger.coupon(issued.coupon.coupon_id).status == "expired"
    assert ledger.budget_left("voucher") == Decimal("50.00")  # an unused right frees budget
    # Dated in UTC the same issue would run 8 hours longer: until midnight UTC after 11 March.
    in_utc = expiry_of(datetime(2026, 3, 10, 15, 30, tzinfo=UTC), 1, ZoneInfo("UTC"))
    assert in_utc == datetime(2026, 3, 11, 16, 0, tzinfo=UTC) + timedelta(hours=8)


def test_points_earned_spent_and_refused_when_short(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    right = catalogue.get("voucher")
    ledger.earn_points("C1", 299, "checkin", key="e1")
    before = store.count("rights_entries")
    with pytest.raises(InsufficientPoints, match=r"299.00 points.*costs 300"):
        ledger.spend_points("C1", right, key="s1")
    assert store.count("rights_entries") == before
    ledger.earn_points("C1", 1, "checkin", key="e2")
    bought = ledger.spend_points("C1", right, key="s1")
    assert ledger.points("C1") == Decimal("0.00") and bought.coupon.right_id == "voucher"
    with pytest.raises(RightsError, match="cannot be bought with points"):
        ledger.spend_points("C1", catalogue.get("cashback_20"), key="s2")


def test_points_bundle_credits_points_on_redemption(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    issued = ledger.issue(catalogue.get("bundle_500"), "C1", key="b1")
    ledger.redeem(issued.coupon.coupon_id, key="rb1", face_points=500)
    assert ledger.points("C1") == Decimal("500.00")


def test_reversal_is_a_new_opposite_entry_and_happens_once(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    issued = ledger.issue(catalogue.get("cashback_20"), "cust-0042", key="i1")
    redeemed = ledger.redeem(issued.coupon.coupon_id, key="r1")
    with pytest.raises(RightsError, match=r"is redeemed; reversing entry .* needs it issued"):
        ledger.reverse(issued.entry.entry_id, "wrong customer")
    back = ledger.reverse(redeemed.entry_id, "till error")
    assert back.reverses == redeemed.entry_id
    assert back.postings == tuple(Posting(p.account, p.unit, -p.amount) for p in redeemed.postings)
    assert ledger.coupon(issued.coupon.coupon_id).status == "issued"
    with pytest.raises(RightsError, match="already reversed"):
        ledger.reverse(redeemed.entry_id, "again", key="another-key")
    ledger.reverse(issued.entry.entry_id, "wrong customer")
    assert ledger.coupon(issued.coupon.coupon_id).status == "reversed"
    assert ledger.budget_left("cashback_20") == Decimal("100.00")
    with pytest.raises(RightsError, match="cannot be reversed"):
        ledger.reverse(back.entry_id, "undo the undo")
    actions = [a["action"] for a in store.audit_entries()]
    assert actions.count("rights.reverse") == 2 and "rights.issue" in actions
    audited = " ".join(f"{a['entity_id']} {a['after']}" for a in store.audit_entries())
    assert "cust-0042" not in audited  # no customer ids in the audit trail


def test_reversing_earned_points_that_were_spent_is_refused(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    earned = ledger.earn_points("C1", 300, "purchase", key="e1")
    assert earned is not None
    ledger.spend_points("C1", catalogue.get("voucher"), key="s1")
    with pytest.raises(InsufficientPoints, match=r"would leave customer:C1:points at -300.00"):
        ledger.reverse(earned.entry_id, "chargeback")


def test_the_ledger_is_append_only_in_the_database(
    store: OperationalStore, catalogue: RightsCatalogue, clock: Any
) -> None:
    RightsLedger(store, clock=clock).issue(catalogue.get("cashback_20"), "C1", key="i1")
    for statement in ("UPDATE rights_postings SET amount = 0", "DELETE FROM rights_entries"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.begin() as conn:
            conn.execute(sa.text(statement))


def test_unbalanced_postings_are_refused_in_code() -> None:
    with pytest.raises(RightsError, match="unbalanced"):
        check_balanced([Posting("a", Unit.CNY, Decimal("1.00")),
                        Posting("b", Unit.POINTS, Decimal("-1.00"))])  # fmt: skip
    with pytest.raises(RightsError, match="exact amount"):
        check_balanced([Posting("a", Unit.CNY, 0.1)])  # type: ignore[arg-type]


def test_earn_cap_counts_earlier_entries_of_the_same_reference(
    store: OperationalStore, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    ref = "rule:card:C1:2026-03-10"
    assert ledger.earn_points("C1", 400, "card", key="t1", cap=500, cap_reference=ref)
    second = ledger.earn_points("C1", 400, "card", key="t2", cap=500, cap_reference=ref)
    assert second is not None and second.postings[0].amount == Decimal("100.00")
    assert ledger.earn_points("C1", 10, "card", key="t3", cap=500, cap_reference=ref) is None
    assert ledger.points("C1") == Decimal("500.00")
    assert points_account("C1") in {p.account for p in second.postings}
    assert budget_account("x") == "right:x:budget"
