"""Life events: dated moments in a customer's relationship that triggers and strategies act on.

Detected in SQL over the store, relative to the data date (or a given ``as_of``):

=========================  =====================================================================
event type                 rule (thresholds in :class:`LifeEventConfig`)
=========================  =====================================================================
``salary_change``          a month's salary differs by >= 20% from the median of the three
                           months before it (three consecutive months needed). Salary = credits
                           of type ``salary``; for customers with none, their largest monthly
                           ``transfer_in``/``deposit`` credit when that is regular (most
                           month-to-month steps within 10%, at least four months, among the
                           months read: the lookback and the five months before it).
``large_inflow`` /         one credit / debit of at least ``large_amount`` and at least
``large_outflow``          ``large_multiple`` x the customer's typical (median) amount in that
                           direction over the past ``typical_days`` (with fewer than
                           ``min_history`` such transactions the threshold alone decides).
``deposit_maturity`` /     an open deposit or wealth holding (``loan_maturity``: loan) reaches
``loan_maturity``          ``open_date + term_months`` within ``horizon_days``; deposits and
                           wealth roll over by whole terms unless ``rollover_deposits`` is off.
``repayment_due``          an open card or loan with a balance has its monthly due date (the day
                           of month it was opened: the canonical model has no statement or due
                           date) within ``horizon_days``.
``card_anniversary``       a credit card's opening anniversary (1 year or more) within the
                           horizon.
``birthday``               the customer's birthday within the horizon (29 February: 28th).
``relocation``             the city in the ``city`` property of the customer's app / web events
                           over the last ``relocation_days`` (at least ``relocation_min_events``
                           events, ``relocation_share`` of them) differs from ``customers.city``.
                           Dated at the first event in the new city after the last one at home.
                           The canonical model keeps no city history, so this needs events that
                           carry a city; without them nothing can fire.
``first_mortgage_payment`` the first ``loan_repayment`` on a mortgage account; repayments not
                           booked on a loan account count when they are the customer's first
                           within ``first_payment_days`` after the mortgage opened. Only for
                           mortgages opened after the first transaction in the store.
=========================  =====================================================================

Past events (salary change, large flows, relocation, first mortgage payment) are kept when they
happened in the ``lookback_days`` up to the data date; upcoming ones (maturity, repayment due,
anniversary, birthday) when due 0..``horizon_days`` days after it.

Each event's ``event_id`` is a hash of customer, type and date, so running the detection again
gives the same ids (a trigger fires once per event) and ``detected_at`` keeps the time an event
was first seen.

>>> LifeEventConfig().horizon_days
30
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

from lodestar.errors import ConfigError
from lodestar.profile.life_event_rules import detect_sql
from lodestar.storage.analytical import AnalyticalEngine

TABLE = "life_events"


class EventType(StrEnum):
    SALARY_CHANGE = "salary_change"
    LARGE_INFLOW = "large_inflow"
    LARGE_OUTFLOW = "large_outflow"
    DEPOSIT_MATURITY = "deposit_maturity"
    LOAN_MATURITY = "loan_maturity"
    REPAYMENT_DUE = "repayment_due"
    CARD_ANNIVERSARY = "card_anniversary"
    BIRTHDAY = "birthday"
    RELOCATION = "relocation"
    FIRST_MORTGAGE_PAYMENT = "first_mortgage_payment"


#: zh-CN names for people reading counts and reports.
EVENT_NAMES: dict[str, str] = {
    "salary_change": "代发工资变动", "large_inflow": "大额资金流入", "large_outflow": "大额资金流出",
    "deposit_maturity": "存款理财到期", "loan_maturity": "贷款到期", "repayment_due": "还款日临近",
    "card_anniversary": "信用卡开卡周年", "birthday": "生日", "relocation": "常驻城市变化",
    "first_mortgage_payment": "房贷首次还款",
}  # fmt: skip


@dataclass(frozen=True)
class LifeEventConfig:
    as_of: date | None = None
    types: tuple[str, ...] = tuple(EventType)
    #: Upcoming events: due within this many days after the data date.
    horizon_days: int = 30
    #: Past events: happened within this many days up to the data date.
    lookback_days: int = 90
    salary_change: float = 0.20
    salary_baseline_months: int = 3
    regular_tolerance: float = 0.10
    regular_min_months: int = 4
    large_amount: float = 50_000.0
    large_multiple: float = 5.0
    typical_days: int = 365
    min_history: int = 3
    rollover_deposits: bool = True
    relocation_days: int = 60
    relocation_min_events: int = 5
    relocation_share: float = 0.6
    first_payment_days: int = 62

    def __post_init__(self) -> None:
        unknown = [t for t in self.types if t not in EventType.__members__.values()]
        if unknown:
            raise ConfigError(
                f"life events: unknown type {', '.join(unknown)}",
                hint=f"choose from {', '.join(EventType)}",
            )
        for name in ("horizon_days", "lookback_days", "typical_days", "relocation_days",
                     "first_payment_days", "salary_baseline_months", "regular_min_months",
                     "relocation_min_events", "min_history"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"life events {name} must be at least 1, got {getattr(self, name)}"
                )
        for name in ("salary_change", "regular_tolerance", "relocation_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(
                    f"life events {name} must be in (0, 1], got {getattr(self, name)}"
                )
        if self.large_amount < 0 or self.large_multiple < 1:
            raise ConfigError("life events large_amount must be >= 0 and large_multiple >= 1")


@dataclass
class LifeEventResult:
    table: pa.Table  # event_id, customer_id, event_type, ts, detected_at, details
    profile: pa.Table  # one row per customer: profile_life_events
    as_of: date
    counts: dict[str, int]
    #: event type -> why the data cannot produce it (empty when it can)
    unsupported: dict[str, str] = field(default_factory=dict)


def _unsupported(engine: AnalyticalEngine, types: tuple[str, ...]) -> dict[str, str]:
    """Event types the data in the store cannot produce, with the reason."""
    checks = {
        "salary_change": ("SELECT EXISTS (SELECT 1 FROM transactions WHERE type IN "
                          "('salary', 'transfer_in', 'deposit'))",
                          "no salary, transfer_in or deposit credits in transactions"),
        "large_inflow": ("SELECT EXISTS (SELECT 1 FROM transactions)", "no transactions"),
        "large_outflow": ("SELECT EXISTS (SELECT 1 FROM transactions)", "no transactions"),
        "deposit_maturity": ("SELECT EXISTS (SELECT 1 FROM holdings h JOIN products p USING "
                             "(product_id) WHERE p.term_months > 0 AND p.category IN "
                             "('deposit', 'wealth'))",
                             "no deposit or wealth holdings of a product with term_months"),
        "loan_maturity": ("SELECT EXISTS (SELECT 1 FROM holdings h JOIN products p USING "
                          "(product_id) WHERE p.term_months > 0 AND p.category IN "
                          "('consumer_loan', 'small_business_loan', 'mortgage'))",
                          "no loan holdings of a product with term_months"),
        "repayment_due": ("SELECT EXISTS (SELECT 1 FROM holdings h JOIN products p USING "
                          "(product_id) WHERE h.balance > 0 AND p.category IN ('credit_card', "
                          "'consumer_loan', 'small_business_loan', 'mortgage'))",
                          "no card or loan holdings with a balance"),
        "card_anniversary": ("SELECT EXISTS (SELECT 1 FROM holdings h JOIN products p USING "
                             "(product_id) WHERE p.category = 'credit_card')",
                             "no credit-card holdings"),
        "birthday": ("SELECT EXISTS (SELECT 1 FROM customers WHERE birth_date IS NOT NULL)",
                     "no customer has a birth_date"),
        "relocation": ("SELECT EXISTS (SELECT 1 FROM events WHERE "
                       "json_extract_string(properties, '$.city') IS NOT NULL) AND EXISTS "
                       "(SELECT 1 FROM customers WHERE city IS NOT NULL)",
                       "no event carries a city property (or no customer has a city): the "
                       "canonical model keeps no city history"),
        "first_mortgage_payment": ("SELECT EXISTS (SELECT 1 FROM holdings h JOIN products p "
                                   "USING (product_id) WHERE p.category = 'mortgage') AND "
                                   "EXISTS (SELECT 1 FROM transactions WHERE type = "
                                   "'loan_repayment')",
                                   "no mortgage holdings or no loan_repayment transactions"),
    }  # fmt: skip
    return {str(t): reason for t in types
            for sql, reason in [checks[t]] if not engine.scalar(sql)}  # fmt: skip


def compute_life_events(
    engine: AnalyticalEngine, config: LifeEventConfig | None = None
) -> LifeEventResult:
    """Detect the events of :class:`LifeEventConfig` and build the per-customer profile."""
    from lodestar.profile.features import feature_as_of

    cfg = config or LifeEventConfig()
    day = cfg.as_of or feature_as_of(engine)
    if day is None:
        raise ConfigError(
            "life events need customers: the workspace has none",
            hint="load data first, e.g. lodestar generate 5000",
        )
    now = datetime.now(UTC).replace(microsecond=0)
    previous = TABLE in engine.tables()
    keep = ("LEFT JOIN (SELECT event_id, detected_at FROM life_events) o USING (event_id)"
            if previous else "")  # fmt: skip
    detected = "coalesce(o.detected_at, n.detected_at)" if previous else "n.detected_at"
    sql = f"""
        WITH n AS (
            SELECT substr(md5(customer_id || '|' || event_type || '|'
                              || strftime(ts::DATE, '%Y-%m-%d')), 1, 20) AS event_id,
                   customer_id, event_type, ts, CAST(? AS TIMESTAMPTZ) AS detected_at, details
            FROM ({detect_sql(cfg, day)})
            -- one event per customer, type and day (each rule already groups by them)
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts, details) = 1
        )
        SELECT n.event_id, n.customer_id, n.event_type, n.ts, {detected} AS detected_at,
               n.details
        FROM n {keep}
        ORDER BY n.ts, n.customer_id, n.event_type
    """
    table = engine.query(sql, [now.isoformat()])
    counts = {str(t): 0 for t in cfg.types}
    if table.num_rows:
        for row in table.group_by("event_type").aggregate([("event_id", "count")]).to_pylist():
            counts[str(row["event_type"])] = int(row["event_id_count"])
    return LifeEventResult(
        table=table,
        profile=_profile(engine, table, day),
        as_of=day,
        counts=counts,
        unsupported=_unsupported(engine, cfg.types),
    )


#: profile_life_events columns: days until the next upcoming event of a type (null: none within
#: the horizon) and whether a past event happened in a fixed recent window.
DAYS_COLUMNS = {"deposit_maturity": "deposit_maturity_days", "loan_maturity": "loan_maturity_days",
                "repayment_due": "repayment_due_days", "card_anniversary": "card_anniversary_days",
                "birthday": "birthday_in_days"}  # fmt: skip
RECENT_COLUMNS = {"salary_change": ("salary_changed_90d", 90),
                  "large_inflow": ("large_inflow_30d", 30),
                  "large_outflow": ("large_outflow_30d", 30),
                  "relocation": ("relocated_90d", 90),
                  "first_mortgage_payment": ("first_mortgage_payment_90d", 90)}  # fmt: skip


def _profile(engine: AnalyticalEngine, events: pa.Table, day: date) -> pa.Table:
    """One row per customer with the DAYS_COLUMNS and RECENT_COLUMNS (pyarrow group-bys)."""
    customers = engine.query("SELECT customer_id FROM customers ORDER BY customer_id")
    out: dict[str, pa.Array | pa.ChunkedArray] = {"customer_id": customers["customer_id"]}
    ts_day = pc.cast(pc.cast(events["ts"], pa.timestamp("us")), pa.date32())
    days = pc.days_between(pa.scalar(day, pa.date32()), ts_day)
    frame = pa.table({"customer_id": events["customer_id"], "event_type": events["event_type"],
                      "days": days})  # fmt: skip
    ids = customers["customer_id"]
    for event, column in DAYS_COLUMNS.items():
        sub = frame.filter(pc.equal(frame["event_type"], event))
        agg = sub.group_by("customer_id").aggregate([("days", "min")])
        pos = pc.index_in(ids, agg["customer_id"])
        out[column] = pc.cast(pc.take(agg["days_min"], pos), pa.int32())
    for event, (column, window) in RECENT_COLUMNS.items():
        sub = frame.filter(pc.and_(pc.equal(frame["event_type"], event),
                                   pc.greater(frame["days"], -window)))  # fmt: skip
        out[column] = pc.is_in(ids, sub["customer_id"])
    recent = frame.filter(pc.less_equal(frame["days"], 0))
    last = recent.group_by("customer_id").aggregate([("days", "max")])
    pos = pc.index_in(ids, last["customer_id"])
    out["days_since_life_event"] = pc.cast(pc.negate(pc.take(last["days_max"], pos)), pa.int32())
    return pa.table(out)
