"""The rights ledger: every issue, redemption, expiry, reversal and points movement is a journal
entry whose postings sum to zero per unit (CNY, points).

Accounts (``account`` strings; a balance is the sum of its postings):

* ``right:<id>:budget`` — CNY a right may still commit; funded from ``bank:rights_allocation``
  up to the catalogue's budget, drawn down by each issue;
* ``customer:<id>:wallet`` — CNY committed to a customer's unredeemed coupons;
* ``bank:rights_expense`` — CNY of redeemed rights (what the bank actually paid);
* ``customer:<id>:points`` and ``bank:points_liability`` — loyalty points.

====================  =============================================================
entry                 postings
====================  =============================================================
fund                  budget +B, allocation −B
issue                 budget −cost, wallet +cost (and a coupon row)
spend                 as issue, plus customer points −price, points liability +price
redeem                wallet −cost, expense +cost (points bundle: + points to customer)
expire                wallet −cost, budget +cost (an unused right frees its budget)
earn                  customer points +p, points liability −p
reverse               the opposite of every posting of the entry it reverses
====================  =============================================================

Concurrency: an operation that checks a balance holds a lock on it while checking and posting
— per right's budget, per customer's points — so concurrent issuers, threads or processes,
never overspend: SQLite ``BEGIN IMMEDIATE`` (one writer), PostgreSQL
``pg_advisory_xact_lock`` per key, taken in sorted order. Every operation takes an idempotency
key (unique in the database); a repeat returns the first result and writes nothing.

>>> # ledger = RightsLedger(store)
>>> # issued = ledger.issue(catalogue.get("cashback_20"), "C1", key="campaign-7:C1")
>>> # ledger.redeem(issued.coupon.coupon_id, key="pos-991")
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lodestar.campaigns.rights.catalogue import Right
from lodestar.errors import BudgetExhausted, InsufficientPoints, NotFound, RightsError
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import rights_coupons, rights_entries, rights_postings

ALLOCATION = "bank:rights_allocation"
EXPENSE = "bank:rights_expense"
POINTS_LIABILITY = "bank:points_liability"
ZERO = Decimal("0.00")


class EntryKind(StrEnum):
    FUND = "fund"
    ISSUE = "issue"
    SPEND = "spend"
    REDEEM = "redeem"
    EXPIRE = "expire"
    EARN = "earn"
    REVERSE = "reverse"


class Unit(StrEnum):
    CNY = "CNY"
    POINTS = "points"


REVERSIBLE = frozenset({EntryKind.ISSUE, EntryKind.SPEND, EntryKind.REDEEM, EntryKind.EARN})


def budget_account(right_id: str) -> str:
    return f"right:{right_id}:budget"


def wallet_account(customer_id: str) -> str:
    return f"customer:{customer_id}:wallet"


def points_account(customer_id: str) -> str:
    return f"customer:{customer_id}:points"


@dataclass(frozen=True)
class Posting:
    account: str
    unit: Unit
    amount: Decimal


@dataclass(frozen=True)
class Entry:
    entry_id: int
    kind: EntryKind
    key: str
    created_at: datetime
    effective_at: datetime
    actor: str
    reference: str
    reverses: int | None
    note: str | None
    postings: tuple[Posting, ...]


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    right_id: str
    customer_id: str
    status: str  # issued, redeemed, expired, reversed
    cost: Decimal
    issued_at: datetime
    expires_at: datetime
    issue_entry_id: int
    closed_entry_id: int | None


@dataclass(frozen=True)
class Issued:
    entry: Entry
    coupon: Coupon


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise unless the postings sum to zero in every unit (amounts exact, two decimals)."""
    totals: dict[Unit, Decimal] = defaultdict(Decimal)
    for p in postings:
        if not isinstance(p.amount, Decimal) or p.amount != p.amount.quantize(Decimal("0.01")):
            raise RightsError(f"posting to {p.account}: {p.amount!r} is not an exact amount "
                              "with at most two decimals")  # fmt: skip
        totals[p.unit] += p.amount
    bad = {u.value: str(t) for u, t in totals.items() if t != 0}
    if bad:
        raise RightsError(f"unbalanced entry: postings sum to {bad}, not zero per unit")


def expiry_of(issued_at: datetime, validity_days: int, zone: ZoneInfo) -> datetime:
    """A right issued at ``issued_at`` is valid through the whole local day ``validity_days``
    days after the day of issue (in the bank's zone); it expires at the next local midnight."""
    local_day = issued_at.astimezone(zone).date() + timedelta(days=validity_days + 1)
    return datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone).astimezone(UTC)


class RightsLedger:
    """The rights and points ledger of one operational store."""

    def __init__(self, store: OperationalStore, *, time_zone: str = "Asia/Shanghai",
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.store = store
        self.zone = ZoneInfo(time_zone)
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- locking and entries ----------------------------------------------------------------
    def _post(self, conn: Connection, kind: EntryKind, key: str, reference: str, actor: str,
              postings: list[Posting], *, effective_at: datetime | None = None,
              reverses: int | None = None, note: str | None = None) -> Entry:  # fmt: skip
        check_balanced(postings)
        now = self.clock()
        effective_at = effective_at or now
        result = conn.execute(sa.insert(rights_entries).values(
            kind=kind.value, idempotency_key=key, created_at=_db(now),
            effective_at=_db(effective_at), actor=actor, reference=reference,
            reverses=reverses, note=note))  # fmt: skip
        entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        conn.execute(sa.insert(rights_postings), [
            {"entry_id": entry_id, "account": p.account, "unit": p.unit.value, "amount": p.amount}
            for p in postings
        ])  # fmt: skip
        return Entry(entry_id, kind, key, now, effective_at, actor, reference, reverses, note,
                     tuple(postings))  # fmt: skip

    def _replay(self, conn: Connection, key: str, kind: EntryKind, reference: str) -> Entry | None:
        row = conn.execute(sa.select(rights_entries.c.entry_id)
                           .where(rights_entries.c.idempotency_key == key)).first()  # fmt: skip
        if row is None:
            return None
        entry = _load_entry(conn, int(row[0]))
        if entry.kind != kind or entry.reference != reference:
            raise RightsError(f"idempotency key '{key}' was already used for another operation "
                              f"(entry {entry.entry_id}, {entry.kind.value})",
                              hint="use a new key for a new operation")  # fmt: skip
        return entry

    def _balance(self, conn: Connection, account: str, unit: Unit) -> Decimal:
        q = (sa.select(sa.func.coalesce(sa.func.sum(rights_postings.c.amount), ZERO))
             .where(rights_postings.c.account == account)
             .where(rights_postings.c.unit == unit.value))  # fmt: skip
        return Decimal(conn.execute(q).scalar_one()).quantize(Decimal("0.01"))

    # -- budgets ------------------------------------------------------------------------------
    def _fund(self, conn: Connection, right: Right, actor: str) -> None:
        """Bring the right's budget account to the catalogue's budget (a change of budget is
        a fund entry; a lowered budget takes back at most what is uncommitted)."""
        account = budget_account(right.id)
        funded_q = (sa.select(sa.func.coalesce(sa.func.sum(rights_postings.c.amount), ZERO),
                              sa.func.count(sa.distinct(rights_entries.c.entry_id)))
                    .join(rights_entries, rights_entries.c.entry_id == rights_postings.c.entry_id)
                    .where(rights_entries.c.kind == EntryKind.FUND.value)
                    .where(rights_postings.c.account == account))  # fmt: skip
        funded, n = conn.execute(funded_q).one()
        change = right.cny_budget - Decimal(funded)
        if change < 0:
            change = -min(-change, self._balance(conn, account, Unit.CNY))
        if change == 0:
            return
        self._post(conn, EntryKind.FUND, f"fund:{right.id}:{int(n) + 1}", f"right:{right.id}",
                   actor, [Posting(account, Unit.CNY, change),
                           Posting(ALLOCATION, Unit.CNY, -change)],
                   note=f"budget {right.cny_budget}")  # fmt: skip
        self.store.audit(conn, actor=actor, action="rights.fund", entity="right",
                         entity_id=right.id, before={"funded": str(funded)},
                         after={"funded": str(Decimal(funded) + change)})  # fmt: skip

    def fund(self, right: Right, *, actor: str = "system") -> Decimal:
        """Bring the right's budget account to the catalogue's budget now (issuing does it
        too); returns the budget left."""
        with self.store.locked(budget_lock(right.id)) as conn:
            self._fund(conn, right, actor)
            return self._balance(conn, budget_account(right.id), Unit.CNY)

    def _issue_locked(self, conn: Connection, right: Right, customer_id: str, key: str,
                      kind: EntryKind, reference: str, actor: str,
                      extra: list[Posting]) -> Issued:  # fmt: skip
        self._fund(conn, right, actor)
        budget = self._balance(conn, budget_account(right.id), Unit.CNY)
        if budget < right.cost:
            raise BudgetExhausted(f"right '{right.id}': budget left CNY {budget} cannot cover "
                                  f"one more issue at CNY {right.cost}; nothing was issued",
                                  hint="raise budget_cny in the rights catalogue, or wait for "
                                       "unused rights to expire")  # fmt: skip
        if right.budget_count is not None:
            count = self._issued_count(conn, right.id)
            if count >= right.budget_count:
                raise BudgetExhausted(f"right '{right.id}': all {right.budget_count} issues of "
                                      "its budget_count are used; nothing was issued",
                                      hint="raise budget_count in the rights catalogue")  # fmt: skip
        postings = [Posting(budget_account(right.id), Unit.CNY, -right.cost),
                    Posting(wallet_account(customer_id), Unit.CNY, right.cost), *extra]  # fmt: skip
        entry = self._post(conn, kind, key, reference, actor, postings)
        coupon = Coupon(f"CP{uuid.uuid4().hex[:20].upper()}", right.id, customer_id, "issued",
                        right.cost, entry.created_at,
                        expiry_of(entry.created_at, right.validity_days, self.zone),
                        entry.entry_id, None)  # fmt: skip
        conn.execute(sa.insert(rights_coupons).values(
            coupon_id=coupon.coupon_id, right_id=right.id, customer_id=customer_id,
            status=coupon.status, cost=coupon.cost, issued_at=_db(coupon.issued_at),
            expires_at=_db(coupon.expires_at), issue_entry_id=entry.entry_id))  # fmt: skip
        self.store.audit(conn, actor=actor, action=f"rights.{kind.value}", entity="right",
                         entity_id=right.id,
                         after={"coupon": coupon.coupon_id, "entry": entry.entry_id})  # fmt: skip
        return Issued(entry, coupon)

    def _issued_count(self, conn: Connection, right_id: str) -> int:
        q = (sa.select(sa.func.count()).select_from(rights_coupons)
             .where(rights_coupons.c.right_id == right_id)
             .where(rights_coupons.c.status != "reversed"))  # fmt: skip
        return int(conn.execute(q).scalar_one())

    # -- operations ---------------------------------------------------------------------------
    def issue(self, right: Right, customer_id: str, key: str, *, actor: str = "system") -> Issued:
        """Issue ``right`` to the customer, within its budget (else :class:`BudgetExhausted`,
        nothing written). A repeat of ``key`` returns the first issue."""
        reference = f"right:{right.id}:customer:{customer_id}"
        return self._once(key, lambda conn: self._issue_or_replay(
            conn, right, customer_id, key, EntryKind.ISSUE, reference, actor, []),
            budget_lock(right.id))  # fmt: skip

    def spend_points(self, customer_id: str, right: Right, key: str, *,
                     actor: str = "system") -> Issued:  # fmt: skip
        """Buy ``right`` with the customer's points (its ``points_price``)."""
        if right.points_price is None:
            raise RightsError(f"right '{right.id}' cannot be bought with points (it has no "
                              "points_price)", hint="set points_price in the catalogue")  # fmt: skip
        price = Decimal(right.points_price).quantize(Decimal("0.01"))
        reference = f"right:{right.id}:customer:{customer_id}"

        def run(conn: Connection) -> Issued:
            replay = self._replay(conn, key, EntryKind.SPEND, reference)
            if replay is not None:
                return Issued(replay, _coupon_of_entry(conn, replay.entry_id))
            have = self._balance(conn, points_account(customer_id), Unit.POINTS)
            if have < price:
                raise InsufficientPoints(f"customer {customer_id} has {have:f} points; right "
                                         f"'{right.id}' costs {right.points_price}; nothing was "
                                         "spent")  # fmt: skip
            extra = [Posting(points_account(customer_id), Unit.POINTS, -price),
                     Posting(POINTS_LIABILITY, Unit.POINTS, price)]  # fmt: skip
            return self._issue_locked(conn, right, customer_id, key, EntryKind.SPEND, reference,
                                      actor, extra)  # fmt: skip

        return self._once(key, run, budget_lock(right.id), points_lock(customer_id))

    def _issue_or_replay(self, conn: Connection, right: Right, customer_id: str, key: str,
                         kind: EntryKind, reference: str, actor: str,
                         extra: list[Posting]) -> Issued:  # fmt: skip
        replay = self._replay(conn, key, kind, reference)
        if replay is not None:
            return Issued(replay, _coupon_of_entry(conn, replay.entry_id))
        return self._issue_locked(conn, right, customer_id, key, kind, reference, actor, extra)

    # -- on a caller's locked transaction ----------------------------------------------------
    def issue_in(self, conn: Connection, right: Right, customer_id: str, key: str, *,
                 actor: str = "system") -> Issued:  # fmt: skip
        """:meth:`issue` on the caller's transaction, which must come from
        ``store.locked(budget_lock(right.id), ...)``: for callers whose own rows must commit
        with the issue or not at all (referral rewards)."""
        reference = f"right:{right.id}:customer:{customer_id}"
        return self._issue_or_replay(conn, right, customer_id, key, EntryKind.ISSUE, reference,
                                     actor, [])  # fmt: skip

    def earn_in(self, conn: Connection, customer_id: str, points: int, rule: str, key: str, *,
                actor: str = "system") -> Entry:  # fmt: skip
        """Credit ``points`` under ``rule`` on the caller's transaction, which must come from
        ``store.locked(points_lock(customer_id), ...)``. A repeat of ``key`` returns the first
        entry."""
        amount = Decimal(points).quantize(Decimal("0.01"))
        if amount <= 0 or amount != amount.to_integral_value():
            raise RightsError(f"points earned must be a positive whole number, got {points}")
        reference = f"rule:{rule}:customer:{customer_id}"
        replay = self._replay(conn, key, EntryKind.EARN, reference)
        if replay is not None:
            return replay
        return self._post(conn, EntryKind.EARN, key, reference, actor,
                          [Posting(points_account(customer_id), Unit.POINTS, amount),
                           Posting(POINTS_LIABILITY, Unit.POINTS, -amount)], note=rule)  # fmt: skip

    def redeem(self, coupon_id: str, key: str, *, face_points: int | None = None,
               actor: str = "system") -> Entry:  # fmt: skip
        """Redeem an issued, unexpired coupon: its cost moves from the customer's wallet to the
        bank's expense. ``face_points`` (a points bundle's face value) credits the points."""
        coupon = self.coupon(coupon_id)
        reference = f"coupon:{coupon_id}"

        def run(conn: Connection) -> Entry:
            replay = self._replay(conn, key, EntryKind.REDEEM, reference)
            if replay is not None:
                return replay
            current = _load_coupon(conn, coupon_id)
            if current.status != "issued":
                raise RightsError(f"coupon {coupon_id} is {current.status}, not redeemable")
            now = self.clock()
            if now >= current.expires_at:
                ends = current.expires_at.astimezone(self.zone)
                raise RightsError(f"coupon {coupon_id} expired at {ends:%Y-%m-%d %H:%M} "
                                  f"({self.zone.key})")  # fmt: skip
            postings = [Posting(wallet_account(current.customer_id), Unit.CNY, -current.cost),
                        Posting(EXPENSE, Unit.CNY, current.cost)]  # fmt: skip
            if face_points:
                pts = Decimal(face_points).quantize(Decimal("0.01"))
                postings += [Posting(points_account(current.customer_id), Unit.POINTS, pts),
                             Posting(POINTS_LIABILITY, Unit.POINTS, -pts)]  # fmt: skip
            entry = self._post(conn, EntryKind.REDEEM, key, reference, actor, postings)
            _close_coupon(conn, coupon_id, "redeemed", entry.entry_id)
            return entry

        return self._once(key, run, budget_lock(coupon.right_id),
                          points_lock(coupon.customer_id))  # fmt: skip

    def expire(self, as_of: datetime | None = None, *, actor: str = "system") -> list[Entry]:
        """Expire every issued coupon whose validity ended by ``as_of`` (default now): its cost
        goes back to the right's budget. Safe to run again (keys ``expire:<coupon>``)."""
        as_of = as_of or self.clock()
        q = (sa.select(rights_coupons.c.coupon_id, rights_coupons.c.right_id)
             .where(rights_coupons.c.status == "issued")
             .where(rights_coupons.c.expires_at <= _db(as_of))
             .order_by(rights_coupons.c.right_id, rights_coupons.c.coupon_id))  # fmt: skip
        with self.store.engine.connect() as conn:
            due: dict[str, list[str]] = defaultdict(list)
            for coupon_id, right_id in conn.execute(q).all():
                due[str(right_id)].append(str(coupon_id))
        entries: list[Entry] = []
        for right_id, coupon_ids in due.items():
            with self.store.locked(budget_lock(right_id)) as conn:
                for coupon_id in coupon_ids:
                    c = _load_coupon(conn, coupon_id)
                    if c.status != "issued" or c.expires_at > as_of:
                        continue  # redeemed or reversed meanwhile
                    entry = self._post(conn, EntryKind.EXPIRE, f"expire:{coupon_id}",
                                       f"coupon:{coupon_id}", actor,
                                       [Posting(wallet_account(c.customer_id), Unit.CNY, -c.cost),
                                        Posting(budget_account(right_id), Unit.CNY, c.cost)],
                                       effective_at=c.expires_at)  # fmt: skip
                    _close_coupon(conn, coupon_id, "expired", entry.entry_id)
                    entries.append(entry)
        return entries

    def earn_points(self, customer_id: str, points: int | Decimal, rule: str, key: str, *,
                    effective_at: datetime | None = None, cap: int | None = None,
                    cap_reference: str | None = None, actor: str = "system") -> Entry | None:  # fmt: skip
        """Credit ``points`` earned under ``rule``. With ``cap``, entries sharing
        ``cap_reference`` (e.g. one rule, customer and day) credit at most ``cap`` in total;
        returns None when the cap leaves nothing to credit."""
        amount = Decimal(points).quantize(Decimal("0.01"))
        if amount <= 0 or amount != amount.to_integral_value():
            raise RightsError(f"points earned must be a positive whole number, got {points}")
        reference = cap_reference or f"rule:{rule}:customer:{customer_id}"

        def run(conn: Connection) -> Entry | None:
            replay = self._replay(conn, key, EntryKind.EARN, reference)
            if replay is not None:
                return replay
            grant = amount
            if cap is not None:
                so_far = conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(rights_postings.c.amount), ZERO))
                    .join(rights_entries, rights_entries.c.entry_id == rights_postings.c.entry_id)
                    .where(rights_entries.c.kind == EntryKind.EARN.value)
                    .where(rights_entries.c.reference == reference)
                    .where(rights_postings.c.account == points_account(customer_id))
                ).scalar_one()  # fmt: skip
                grant = min(amount, Decimal(cap) - Decimal(so_far))
                if grant <= 0:
                    return None
            return self._post(conn, EntryKind.EARN, key, reference, actor,
                              [Posting(points_account(customer_id), Unit.POINTS, grant),
                               Posting(POINTS_LIABILITY, Unit.POINTS, -grant)],
                              effective_at=effective_at, note=rule)  # fmt: skip

        return self._once(key, run, points_lock(customer_id))

    def reverse(self, entry_id: int, reason: str, *, key: str | None = None,
                actor: str = "system") -> Entry:  # fmt: skip
        """Post the opposite of entry ``entry_id`` (never an update). Refused for an entry
        already reversed, for fund / expire / reverse entries, for a coupon no longer in the
        state the entry left it, and when points would go below zero."""
        key = key or f"reverse:{entry_id}"
        with self.store.engine.connect() as conn:
            original = _load_entry(conn, entry_id)
            coupon = _coupon_for(conn, original)
        if original.kind not in REVERSIBLE:
            raise RightsError(f"entry {entry_id} is a {original.kind.value} entry, which cannot "
                              "be reversed", hint="reversible: issue, spend, redeem, earn")  # fmt: skip
        customers = {p.account.split(":")[1] for p in original.postings
                     if p.account.startswith("customer:")}  # fmt: skip
        locks = [points_lock(c) for c in customers]
        if coupon is not None:
            locks.append(budget_lock(coupon.right_id))
        reference = f"entry:{entry_id}"

        def run(conn: Connection) -> Entry:
            replay = self._replay(conn, key, EntryKind.REVERSE, reference)
            if replay is not None:
                return replay
            done = conn.execute(sa.select(rights_entries.c.entry_id)
                                .where(rights_entries.c.reverses == entry_id)).first()  # fmt: skip
            if done is not None:
                raise RightsError(f"entry {entry_id} was already reversed by entry {done[0]}")
            postings = [Posting(p.account, p.unit, -p.amount) for p in original.postings]
            for p in postings:
                if p.unit is Unit.POINTS and p.account.startswith("customer:") and p.amount < 0:
                    have = self._balance(conn, p.account, Unit.POINTS)
                    if have + p.amount < 0:
                        raise InsufficientPoints(f"reversing entry {entry_id} would leave "
                                                 f"{p.account} at {have + p.amount:f} points")  # fmt: skip
            if coupon is not None:
                now = _load_coupon(conn, coupon.coupon_id)
                wanted = "redeemed" if original.kind is EntryKind.REDEEM else "issued"
                if now.status != wanted:
                    raise RightsError(f"coupon {now.coupon_id} is {now.status}; reversing entry "
                                      f"{entry_id} needs it {wanted}",
                                      hint="reverse the later entry first")  # fmt: skip
            entry = self._post(conn, EntryKind.REVERSE, key, reference, actor, postings,
                               reverses=entry_id, note=reason)  # fmt: skip
            if coupon is not None:
                if original.kind is EntryKind.REDEEM:
                    _close_coupon(conn, coupon.coupon_id, "issued", None)
                else:
                    _close_coupon(conn, coupon.coupon_id, "reversed", entry.entry_id)
            self.store.audit(conn, actor=actor, action="rights.reverse", entity="rights_entry",
                             entity_id=str(entry_id),
                             after={"entry": entry.entry_id, "reason": reason})  # fmt: skip
            return entry

        return self._once(key, run, *locks)

    def _once(self, key: str, run: Callable[[Connection], Any], *locks: str) -> Any:
        """``run`` under the locks; a concurrent insert of the same key (from a caller holding
        other locks) loses on the unique index and is answered by a replay."""
        try:
            with self.store.locked(*locks) as conn:
                return run(conn)
        except sa.exc.IntegrityError:
            with self.store.locked(*locks) as conn:
                return run(conn)

    # -- reading ------------------------------------------------------------------------------
    def balance(self, account: str, unit: Unit | str = Unit.CNY) -> Decimal:
        with self.store.engine.connect() as conn:
            return self._balance(conn, account, Unit(unit))

    def points(self, customer_id: str) -> Decimal:
        return self.balance(points_account(customer_id), Unit.POINTS)

    def budget_left(self, right_id: str) -> Decimal:
        return self.balance(budget_account(right_id), Unit.CNY)

    def issued_count(self, right_id: str) -> int:
        with self.store.engine.connect() as conn:
            return self._issued_count(conn, right_id)

    def entry(self, entry_id: int) -> Entry:
        with self.store.engine.connect() as conn:
            return _load_entry(conn, entry_id)

    def coupon(self, coupon_id: str) -> Coupon:
        with self.store.engine.connect() as conn:
            return _load_coupon(conn, coupon_id)

    def coupons(self, customer_id: str | None = None) -> list[Coupon]:
        q = sa.select(rights_coupons).order_by(rights_coupons.c.issued_at)
        if customer_id is not None:
            q = q.where(rights_coupons.c.customer_id == customer_id)
        with self.store.engine.connect() as conn:
            return [_coupon(r) for r in conn.execute(q).mappings()]

    def balances(self) -> dict[tuple[str, str], Decimal]:
        """Every account's balance per unit, summed from the postings."""
        q = (sa.select(rights_postings.c.account, rights_postings.c.unit,
                       sa.func.sum(rights_postings.c.amount))
             .group_by(rights_postings.c.account, rights_postings.c.unit))  # fmt: skip
        with self.store.engine.connect() as conn:
            return {(a, u): Decimal(s) for a, u, s in conn.execute(q).all()}

    def unbalanced_entries(self) -> list[tuple[int, str, Decimal]]:
        """Entries whose postings do not sum to zero in a unit: always empty (checked in SQL,
        independently of :func:`check_balanced`)."""
        total = sa.func.sum(rights_postings.c.amount)
        q = (sa.select(rights_postings.c.entry_id, rights_postings.c.unit, total)
             .group_by(rights_postings.c.entry_id, rights_postings.c.unit)
             .having(total != 0))  # fmt: skip
        with self.store.engine.connect() as conn:
            return [(int(e), str(u), Decimal(s)) for e, u, s in conn.execute(q).all()]


def budget_lock(right_id: str) -> str:
    return f"rights:budget:{right_id}"


def points_lock(customer_id: str) -> str:
    return f"rights:points:{customer_id}"


def _load_entry(conn: Connection, entry_id: int) -> Entry:
    row = conn.execute(sa.select(rights_entries)
                       .where(rights_entries.c.entry_id == entry_id)).mappings().first()  # fmt: skip
    if row is None:
        raise NotFound(f"no ledger entry {entry_id}")
    postings = conn.execute(
        sa.select(rights_postings.c.account, rights_postings.c.unit, rights_postings.c.amount)
        .where(rights_postings.c.entry_id == entry_id).order_by(rights_postings.c.posting_id)
    ).all()  # fmt: skip
    return Entry(int(row["entry_id"]), EntryKind(row["kind"]), row["idempotency_key"],
                 _utc(row["created_at"]), _utc(row["effective_at"]), row["actor"],
                 row["reference"], row["reverses"], row["note"],
                 tuple(Posting(a, Unit(u), Decimal(m)) for a, u, m in postings))  # fmt: skip


def _coupon(row: Any) -> Coupon:
    return Coupon(row["coupon_id"], row["right_id"], row["customer_id"], row["status"],
                  Decimal(row["cost"]), _utc(row["issued_at"]), _utc(row["expires_at"]),
                  int(row["issue_entry_id"]), row["closed_entry_id"])  # fmt: skip


def _load_coupon(conn: Connection, coupon_id: str) -> Coupon:
    row = conn.execute(sa.select(rights_coupons)
                       .where(rights_coupons.c.coupon_id == coupon_id)).mappings().first()  # fmt: skip
    if row is None:
        raise NotFound(f"no coupon '{coupon_id}'", hint="lodestar rights coupons CUSTOMER lists "
                                                        "a customer's coupons")  # fmt: skip
    return _coupon(row)


def _coupon_of_entry(conn: Connection, entry_id: int) -> Coupon:
    row = conn.execute(sa.select(rights_coupons)
                       .where(rights_coupons.c.issue_entry_id == entry_id)).mappings().one()  # fmt: skip
    return _coupon(row)


def _coupon_for(conn: Connection, entry: Entry) -> Coupon | None:
    if entry.kind in (EntryKind.ISSUE, EntryKind.SPEND):
        return _coupon_of_entry(conn, entry.entry_id)
    if entry.kind is EntryKind.REDEEM:
        return _load_coupon(conn, entry.reference.removeprefix("coupon:"))
    return None


def _close_coupon(conn: Connection, coupon_id: str, status: str, entry_id: int | None) -> None:
    conn.execute(sa.update(rights_coupons).where(rights_coupons.c.coupon_id == coupon_id)
                 .values(status=status, closed_entry_id=entry_id))  # fmt: skip


def _db(value: datetime) -> datetime:
    # SQLite keeps datetimes as text without the offset: always write and compare UTC.
    if value.tzinfo is None:
        raise RightsError(f"time {value} has no time zone; pass an aware datetime")
    return value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
