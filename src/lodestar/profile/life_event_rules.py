"""The SQL of each life-event rule (see :mod:`lodestar.profile.life_events` for the rules in
words). Each builder returns a query with the columns ``customer_id, event_type, ts, details``
(details as JSON text); :func:`detect_sql` joins the ones a configuration asks for.

Dates are inlined as literals (they are computed here, never user text); thresholds come from a
validated :class:`~lodestar.profile.life_events.LifeEventConfig`.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lodestar.profile.life_events import LifeEventConfig

CREDIT_TYPES = ("deposit", "transfer_in", "salary", "loan_drawdown", "wealth_redemption",
                "interest", "refund")  # fmt: skip
LOANS = ("consumer_loan", "small_business_loan", "mortgage")


def _d(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _open_holding(alias: str, as_of: str) -> str:
    """A holding open on the data date (``alias`` empty: unqualified columns)."""
    a = f"{alias}." if alias else ""
    return (f"{a}open_date <= {as_of} AND ({a}close_date IS NULL OR {a}close_date > {as_of}) "
            f"AND coalesce({a}status, 'active') <> 'closed'")  # fmt: skip


DIRECTION = ("coalesce(direction, CASE WHEN type IN ("
             + ", ".join(f"'{t}'" for t in CREDIT_TYPES) + ") THEN 'credit' ELSE 'debit' END)")  # fmt: skip


def _salary_sql(c: LifeEventConfig, end: str, since: str, start: str) -> str:
    n = c.salary_baseline_months
    return f"""
    SELECT customer_id, 'salary_change' AS event_type, ts,
           json_object('amount', round(amount, 2), 'previous', round(previous, 2),
                       'change', round(amount / previous - 1, 4), 'source', source)::VARCHAR
    FROM (
        WITH typed AS (
            SELECT customer_id, ts, amount FROM transactions
            WHERE type = 'salary' AND {DIRECTION} = 'credit' AND ts >= {start} AND ts < {end}
        ),
        cand AS (
            SELECT customer_id, year(ts) * 12 + month(ts) AS m,
                   arg_max(ts, amount) AS ts, max(amount) AS amount
            FROM transactions ANTI JOIN (SELECT DISTINCT customer_id FROM typed) USING (customer_id)
            WHERE type IN ('transfer_in', 'deposit') AND {DIRECTION} = 'credit'
              AND ts >= {start} AND ts < {end}
            GROUP BY ALL
        ),
        steps AS (
            SELECT customer_id, m - lag(m) OVER w AS gap, amount / lag(amount) OVER w AS ratio
            FROM cand WINDOW w AS (PARTITION BY customer_id ORDER BY m)
        ),
        regular AS (
            SELECT customer_id FROM steps WHERE gap IS NOT NULL GROUP BY customer_id
            HAVING count(*) >= {c.regular_min_months - 1}
               AND count(*) FILTER (WHERE gap = 1 AND abs(ratio - 1) <= {c.regular_tolerance})
                   >= 0.75 * count(*)
        ),
        monthly AS (
            SELECT customer_id, year(ts) * 12 + month(ts) AS m, min(ts) AS ts,
                   sum(amount) AS amount, 'salary' AS source
            FROM typed GROUP BY ALL
            UNION ALL
            SELECT customer_id, m, ts, amount, 'regular_credit' AS source
            FROM cand SEMI JOIN regular USING (customer_id)
        )
        SELECT *, median(amount) OVER w AS previous, count(*) OVER w AS n_prev,
               lag(m, {n}) OVER (PARTITION BY customer_id ORDER BY m) AS m_first
        FROM monthly
        WINDOW w AS (PARTITION BY customer_id ORDER BY m
                     ROWS BETWEEN {n} PRECEDING AND 1 PRECEDING)
    )
    WHERE n_prev = {n} AND m_first = m - {n} AND previous > 0
      AND abs(amount / previous - 1) >= {c.salary_change} AND ts >= {since}
    """


def _large_sql(c: LifeEventConfig, end: str, since: str, typical_start: str) -> str:
    return f"""
    SELECT customer_id,
           CASE dir WHEN 'credit' THEN 'large_inflow' ELSE 'large_outflow' END AS event_type,
           min(ts) AS ts,
           json_object('amount', max(amount), 'count', count(*),
                       'typical', round(any_value(typical), 2),
                       'type', arg_max(type, amount),
                       'transaction_id', arg_max(transaction_id, amount))::VARCHAR
    FROM (
        WITH tx AS (
            SELECT transaction_id, customer_id, ts, amount, type, {DIRECTION} AS dir
            FROM transactions WHERE ts >= {typical_start} AND ts < {end}
        ),
        typical AS (
            SELECT customer_id, dir, median(amount) AS typical, count(*) AS n
            FROM tx GROUP BY ALL
        )
        SELECT tx.*, typical.typical, typical.n FROM tx JOIN typical USING (customer_id, dir)
        WHERE tx.ts >= {since} AND tx.amount >= {c.large_amount}
          AND (typical.n < {c.min_history} OR tx.amount >= {c.large_multiple} * typical.typical)
    )
    GROUP BY customer_id, dir, ts::DATE
    """


def _maturity_sql(c: LifeEventConfig, as_of: str, until: str) -> str:
    rollover = "TRUE" if c.rollover_deposits else "FALSE"
    loans = ", ".join(f"'{x}'" for x in LOANS)
    return f"""
    SELECT customer_id,
           CASE WHEN category IN ('deposit', 'wealth') THEN 'deposit_maturity'
                ELSE 'loan_maturity' END AS event_type,
           CAST(due AS TIMESTAMPTZ) AS ts,
           json_object('accounts', list(account_id ORDER BY account_id),
                       'products', list(product_id ORDER BY account_id),
                       'balance', round(sum(balance), 2))::VARCHAR
    FROM (
        SELECT *, CASE WHEN d1 < {as_of} AND rolls
                       THEN (open_date + to_months(CAST((k1 + 1) * term AS INTEGER)))::DATE
                       ELSE d1 END AS due
        FROM (
            SELECT *, (open_date + to_months(CAST(k1 * term AS INTEGER)))::DATE AS d1
            FROM (
                SELECT h.account_id, h.customer_id, h.product_id, p.category, h.open_date,
                       h.balance, p.term_months AS term,
                       {rollover} AND p.category IN ('deposit', 'wealth') AS rolls,
                       CASE WHEN {rollover} AND p.category IN ('deposit', 'wealth')
                            THEN greatest(1, ceil(date_diff('month', h.open_date, {as_of})
                                                  / p.term_months))
                            ELSE 1 END AS k1
                FROM holdings h JOIN products p USING (product_id)
                WHERE p.term_months > 0 AND {_open_holding("h", as_of)}
                  AND p.category IN ('deposit', 'wealth', {loans})
            )
        )
    )
    WHERE due BETWEEN {as_of} AND {until}
    GROUP BY customer_id, event_type, due
    """


def _repayment_sql(as_of_day: date, as_of: str, until: str) -> str:
    y, m = as_of_day.year, as_of_day.month
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    last_this = calendar.monthrange(y, m)[1]
    last_next = calendar.monthrange(ny, nm)[1]
    cats = ", ".join(f"'{x}'" for x in ("credit_card", *LOANS))
    return f"""
    SELECT customer_id, 'repayment_due' AS event_type, CAST(due AS TIMESTAMPTZ) AS ts,
           json_object('accounts', list(account_id ORDER BY account_id),
                       'categories', list(category ORDER BY account_id),
                       'balance', round(sum(balance), 2))::VARCHAR
    FROM (
        SELECT *, CASE WHEN d_this >= {as_of} AND d_this > open_date THEN d_this
                       ELSE d_next END AS due
        FROM (
            SELECT h.account_id, h.customer_id, p.category, h.open_date, h.balance,
                   make_date({y}, {m}, least(day(h.open_date), {last_this})) AS d_this,
                   make_date({ny}, {nm}, least(day(h.open_date), {last_next})) AS d_next
            FROM holdings h JOIN products p USING (product_id)
            WHERE p.category IN ({cats}) AND h.balance > 0 AND {_open_holding("h", as_of)}
        )
    )
    WHERE due <= {until}
    GROUP BY customer_id, due
    """


def _anniversary_sql(event: str, source: str, column: str, key: str, as_of: str,
                     until: str, filt: str) -> str:  # fmt: skip
    """Next anniversary of a date column on or after the data date (29 Feb -> 28 Feb)."""
    ids = ", 'accounts', list(id ORDER BY id)" if event == "card_anniversary" else ""
    return f"""
    SELECT customer_id, '{event}' AS event_type, CAST(due AS TIMESTAMPTZ) AS ts,
           json_object('{key}', years{ids})::VARCHAR
    FROM (
        SELECT customer_id, id,
               CASE WHEN a0 >= {as_of} THEN a0 ELSE a1 END AS due,
               CASE WHEN a0 >= {as_of} THEN y0 ELSE y0 + 1 END AS years
        FROM (
            SELECT customer_id, id, y0,
                   ({column} + to_months(CAST(12 * y0 AS INTEGER)))::DATE AS a0,
                   ({column} + to_months(CAST(12 * (y0 + 1) AS INTEGER)))::DATE AS a1
            FROM (SELECT *, year({as_of}) - year({column}) AS y0 FROM {source} WHERE {filt})
        )
    )
    WHERE due <= {until} AND years >= 1
    GROUP BY customer_id, due, years
    """


def _relocation_sql(c: LifeEventConfig, end: str, since: str, window_start: str) -> str:
    return f"""
    WITH ev AS (
        SELECT customer_id, ts, trim(json_extract_string(properties, '$.city')) AS city
        FROM events_resolved
        WHERE customer_id IS NOT NULL AND properties IS NOT NULL AND ts < {end}
          AND nullif(trim(json_extract_string(properties, '$.city')), '') IS NOT NULL
    ),
    recent AS (
        SELECT customer_id, city, count(*) AS n FROM ev WHERE ts >= {window_start} GROUP BY ALL
    ),
    dom AS (
        SELECT customer_id, arg_max(city, n) AS city, max(n) AS n, sum(n) AS total
        FROM recent GROUP BY customer_id
    ),
    moved AS (
        SELECT d.customer_id, trim(c.city) AS home, d.city AS new_city, d.n, d.total
        FROM dom d JOIN customers c USING (customer_id)
        WHERE nullif(trim(c.city), '') IS NOT NULL AND d.n >= {c.relocation_min_events}
          AND d.n >= {c.relocation_share} * d.total AND lower(d.city) <> lower(trim(c.city))
    ),
    last_home AS (
        SELECT m.customer_id, max(e.ts) AS last_ts
        FROM moved m JOIN ev e ON e.customer_id = m.customer_id AND lower(e.city) = lower(m.home)
        GROUP BY m.customer_id
    )
    SELECT m.customer_id, 'relocation' AS event_type, min(e.ts) AS ts,
           json_object('from', m.home, 'to', m.new_city, 'events', m.n,
                       'share', round(m.n / m.total, 3))::VARCHAR
    FROM moved m
    JOIN ev e ON e.customer_id = m.customer_id AND e.city = m.new_city
    LEFT JOIN last_home l ON l.customer_id = m.customer_id
    WHERE l.last_ts IS NULL OR e.ts > l.last_ts
    GROUP BY m.customer_id, m.home, m.new_city, m.n, m.total
    HAVING min(e.ts) >= {since}
    """


def _mortgage_sql(c: LifeEventConfig, end: str, since: str) -> str:
    loans = ", ".join(f"'{x}'" for x in LOANS)
    return f"""
    WITH mort AS (
        SELECT h.account_id, h.customer_id, h.open_date
        FROM holdings h JOIN products p USING (product_id) WHERE p.category = 'mortgage'
    ),
    loan_accounts AS (
        SELECT h.account_id FROM holdings h JOIN products p USING (product_id)
        WHERE p.category IN ({loans})
    ),
    rep AS (
        SELECT customer_id, account_id, ts, amount FROM transactions
        WHERE type = 'loan_repayment' AND ts < {end}
    ),
    cand AS (
        SELECT m.customer_id, m.account_id, m.open_date, r.ts, r.amount, 'account' AS matched
        FROM mort m JOIN rep r ON r.account_id = m.account_id
        UNION ALL
        SELECT m.customer_id, m.account_id, m.open_date, r.ts, r.amount, 'customer' AS matched
        FROM mort m JOIN rep r ON r.customer_id = m.customer_id
        WHERE (r.account_id IS NULL OR r.account_id NOT IN (SELECT account_id FROM loan_accounts))
          AND r.ts::DATE > m.open_date
          AND r.ts::DATE <= m.open_date + {c.first_payment_days}
          AND NOT EXISTS (SELECT 1 FROM rep r2 WHERE r2.account_id = m.account_id)
    ),
    firsts AS (
        SELECT customer_id, account_id, any_value(open_date) AS open_date,
               any_value(matched) AS matched, min(ts) AS ts, arg_min(amount, ts) AS amount
        FROM cand GROUP BY customer_id, account_id
    )
    SELECT customer_id, 'first_mortgage_payment' AS event_type, min(ts) AS ts,
           json_object('account_id', arg_min(account_id, ts), 'amount', arg_min(amount, ts),
                       'opened', strftime(arg_min(open_date, ts), '%Y-%m-%d'),
                       'matched', arg_min(matched, ts))::VARCHAR
    FROM firsts
    WHERE ts >= {since} AND open_date >= (SELECT min(ts)::DATE FROM transactions)
    GROUP BY customer_id, ts::DATE
    """


def detect_sql(cfg: LifeEventConfig, as_of_day: date) -> str:
    """The SQL that lists this run's events (before ids are attached)."""
    as_of = _d(as_of_day)
    end = _d(as_of_day + timedelta(days=1))
    until = _d(as_of_day + timedelta(days=cfg.horizon_days))
    since = _d(as_of_day - timedelta(days=cfg.lookback_days - 1))
    parts: dict[str, str] = {}
    want = set(cfg.types)
    if "salary_change" in want:
        # Only the months a change in the lookback can compare with (and enough of them to
        # tell a regular credit) are read.
        back = (as_of_day - timedelta(days=cfg.lookback_days - 1)).replace(day=1)
        for _ in range(max(cfg.salary_baseline_months, cfg.regular_min_months) + 1):
            back = (back - timedelta(days=1)).replace(day=1)
        parts["salary_change"] = _salary_sql(cfg, end, since, _d(back))
    if want & {"large_inflow", "large_outflow"}:
        typical_start = _d(as_of_day - timedelta(days=cfg.typical_days - 1))
        parts["large"] = _large_sql(cfg, end, since, typical_start)
    if want & {"deposit_maturity", "loan_maturity"}:
        parts["maturity"] = _maturity_sql(cfg, as_of, until)
    if "repayment_due" in want:
        parts["repayment_due"] = _repayment_sql(as_of_day, as_of, until)
    if "card_anniversary" in want:
        cards = ("(SELECT h.*, h.account_id AS id FROM holdings h JOIN products p "
                 "USING (product_id) WHERE p.category = 'credit_card')")  # fmt: skip
        parts["card_anniversary"] = _anniversary_sql(
            "card_anniversary",
            cards,
            "open_date",
            "years",
            as_of,
            until,
            _open_holding("", as_of),
        )
    if "birthday" in want:
        people = "(SELECT *, customer_id AS id FROM customers)"
        parts["birthday"] = _anniversary_sql(
            "birthday",
            people,
            "birth_date",
            "age",
            as_of,
            until,
            "birth_date IS NOT NULL AND coalesce(status, 'active') <> 'closed'",
        )
    if "relocation" in want:
        start = _d(as_of_day - timedelta(days=cfg.relocation_days - 1))
        parts["relocation"] = _relocation_sql(cfg, end, since, start)
    if "first_mortgage_payment" in want:
        parts["first_mortgage_payment"] = _mortgage_sql(cfg, end, since)
    selects = [f"SELECT * FROM ({sql})" for sql in parts.values()]
    body = "\nUNION ALL\n".join(selects) if selects else (
        "SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::TIMESTAMPTZ, NULL::VARCHAR WHERE FALSE"
    )  # fmt: skip
    wanted = ", ".join(f"'{t}'" for t in sorted(want))
    return f"""
    SELECT customer_id, event_type, ts, details FROM (
        SELECT * FROM ({body}) AS u(customer_id, event_type, ts, details)
    ) WHERE event_type IN ({wanted})
    """
