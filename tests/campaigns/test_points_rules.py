"""Points rules: earning from transactions and events is idempotent by source id, daily caps and
once-a-day rules count the bank's local days, and member levels hold at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from lodestar.campaigns.rights.ledger import RightsLedger
from lodestar.campaigns.rights.points_rules import PointsRules, earn_from_events, member_levels
from lodestar.errors import DefinitionError
from lodestar.storage.operational import OperationalStore

RULES = PointsRules.from_text("""\
time_zone: Asia/Shanghai
rules:
  - id: card_spend
    on: transaction
    where: "type = 'card_purchase'"
    points_per: 1 per 10 CNY
    cap_per_day: 500
  - id: checkin
    on: event
    event: app_checkin
    points: 5
    once_per: day
levels:
  window_days: 365
  tiers:
    - {id: regular, name: {zh: 普通, en: Regular}, min_points: 0}
    - {id: silver, name: {zh: 银卡, en: Silver}, min_points: 1000}
    - {id: gold, name: {zh: 金卡, en: Gold}, min_points: 5000}
""", "points.yaml")
# 10 March 2026, 10:00 in Shanghai
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _tx(rows: list[tuple[str, str, datetime, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["transaction_id", "customer_id", "ts", "type", "amount"])


def _ev(rows: list[tuple[str, str, datetime, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "customer_id", "ts", "event_name"])


def test_transactions_earn_by_whole_multiples_up_to_the_daily_cap(
    store: OperationalStore, clock: Any
) -> None:
    ledger = RightsLedger(store, clock=clock)
    tx = _tx([("T1", "C1", T0, "card_purchase", 25.0),         # 2 points
              ("T2", "C1", T0, "bill_payment", 900.0),         # not a card purchase
              ("T3", "C1", T0 + timedelta(hours=1), "card_purchase", 4990.0),  # 499 -> capped 498
              ("T4", "C1", T0 + timedelta(hours=2), "card_purchase", 100.0),   # capped to 0
              ("T5", "C1", T0 + timedelta(days=1), "card_purchase", 100.0),    # next day: 10
              ("T6", "C2", T0 + timedelta(days=9), "card_purchase", 100.0)])   # after as_of
    summary = earn_from_events(ledger, RULES, transactions=tx, as_of=T0 + timedelta(days=2))
    assert ledger.points("C1") == Decimal("510.00")
    assert (summary.posted, summary.points, summary.skipped) == (3, Decimal("510.00"), 1)
    again = earn_from_events(ledger, RULES, transactions=tx, as_of=T0 + timedelta(days=2))
    assert again.posted == 0 and ledger.points("C1") == Decimal("510.00")
    # a later run with new rows of the same day still respects the cap
    late = _tx([("T7", "C1", T0 + timedelta(hours=3), "card_purchase", 1000.0)])
    assert earn_from_events(ledger, RULES, transactions=late, as_of=T0 + timedelta(days=2)).posted == 0


def test_once_a_day_counts_the_banks_local_day(store: OperationalStore, clock: Any) -> None:
    ledger = RightsLedger(store, clock=clock)
    # 15:30 and 16:30 UTC on 10 March are 23:30 on the 10th and 00:30 on the 11th in Shanghai
    ev = _ev([("E1", "C1", datetime(2026, 3, 10, 15, 30, tzinfo=UTC), "app_checkin"),
              ("E2", "C1", datetime(2026, 3, 10, 15, 45, tzinfo=UTC), "app_checkin"),
              ("E3", "C1", datetime(2026, 3, 10, 16, 30, tzinfo=UTC), "app_checkin"),
              ("E4", "C1", datetime(2026, 3, 10, 16, 40, tzinfo=UTC), "app_open")])
    summary = earn_from_events(ledger, RULES, events=ev, as_of=datetime(2026, 3, 12, tzinfo=UTC))
    assert summary.posted == 2 and ledger.points("C1") == Decimal("10.00")


def test_member_levels_at_the_boundaries(store: OperationalStore, clock: Any) -> None:
    ledger = RightsLedger(store, clock=clock)
    as_of = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)
    window_start = as_of - timedelta(days=365)
    ledger.earn_points("AT", 1000, "x", "a1", effective_at=as_of)          # exactly silver
    ledger.earn_points("BELOW", 999, "x", "b1", effective_at=as_of)        # one short
    ledger.earn_points("OLD", 5000, "x", "o1", effective_at=window_start)  # just outside
    ledger.earn_points("OLD", 5000, "x", "o2",
                       effective_at=window_start + timedelta(seconds=1))  # just inside: gold
    gone = ledger.earn_points("REV", 2000, "x", "r1", effective_at=as_of)
    assert gone is not None
    ledger.reverse(gone.entry_id, "chargeback")
    levels = member_levels(ledger, RULES.levels, as_of).set_index("customer_id")  # type: ignore[arg-type]
    assert levels.loc["AT", "level"] == "silver" and levels.loc["AT", "level_zh"] == "银卡"
    assert levels.loc["BELOW", "level"] == "regular"
    assert levels.loc["OLD", "points"] == Decimal("5000.00") and levels.loc["OLD", "level"] == "gold"
    assert levels.loc["REV", "points"] == Decimal("0.00")
    assert RULES.levels is not None and RULES.levels.level_of(4999).id == "silver"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("rules:\n  - id: a\n    on: transaction\n    points: 5\n", "points.yaml:2",
         "needs points_per"),
        ("rules:\n  - id: a\n    on: transaction\n    points_per: ten per CNY\n", "points.yaml:4",
         "N per M CNY"),
        ("rules:\n  - id: a\n    on: event\n    event: x\n    points: 1\n    where: \"nope > 1\"\n",
         "points.yaml:6", "is not a condition"),
        ("levels:\n  tiers:\n    - {id: a, name: {zh: 甲, en: A}, min_points: 10}\n",
         "points.yaml:2", "must start at min_points 0"),
        ("time_zone: Mars/Base\n", "points.yaml:1", "unknown time zone"),
    ],
)
def test_rules_errors_name_file_line_and_field(text: str, where: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        PointsRules.from_text(text, "points.yaml")
    assert info.value.problems[0].startswith(where)
