"""What customers do: transactions, app / web / mini-program events in sessions, the lending
funnel, and the identifiers that tie anonymous devices to customers.

Volumes follow each customer's latent activity (heavy-tailed: many quiet customers, a few very
active), seasonality follows the calendar, and customers who churn fade out before they leave —
the leading indicators a churn model should find.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import EVENTS, IDENTITIES, TRANSACTIONS
from lodestar.data.synthetic.accounts import CATEGORY, Book, P
from lodestar.data.synthetic.calendar import Calendar, ids, sigmoid, take, timestamps
from lodestar.data.synthetic.people import Population

FUNNEL = ("register", "apply_start", "apply_submit", "credit_granted", "drawdown", "repay",
          "reborrow")  # fmt: skip
SOURCES = ("organic", "push", "sms", "wechat", "douyin", "branch_qr", "partner", "search")
MEDIUMS = ("none", "push", "sms", "social", "video", "offline", "referral", "cpc")
CAMPAIGNS = ("", "cc_activation", "spring_festival", "loan_rate_cut", "wealth_week",
             "mgm_referral", "", "brand_search")  # fmt: skip
SOURCE_P = (0.5, 0.14, 0.06, 0.12, 0.07, 0.04, 0.03, 0.04)
BROWSE = ("page_view", "product_view", "search", "banner_click", "coupon_view", "bill_pay",
          "transfer", "wealth_browse", "card_bill_view", "share")  # fmt: skip
BROWSE_P = (0.34, 0.15, 0.06, 0.05, 0.04, 0.07, 0.12, 0.07, 0.07, 0.03)
PAGE_OF = ("home", "product", "search", "activity", "coupon", "bills", "transfer", "wealth",
           "card", "share")  # fmt: skip
MERCHANTS = ("dining", "groceries", "online_shopping", "transport", "movies", "travel", "fuel",
             "healthcare", "education", "entertainment", "retail")  # fmt: skip
MERCHANT_P = (0.27, 0.17, 0.18, 0.08, 0.04, 0.04, 0.05, 0.04, 0.03, 0.04, 0.06)


def _active_window(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    lo = np.maximum(pop.join_day, 0)
    hi = np.maximum(lo, pop.churn_day - 1)
    return lo, np.minimum(hi, pop.churn_day.max() - 1)


def _expand(counts: np.ndarray) -> np.ndarray:
    """Row owner (customer position) for ``counts[i]`` rows of each customer."""
    return np.repeat(np.arange(len(counts)), counts)


def _within(owner: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """0..counts[i]-1 numbering of each customer's rows."""
    starts = np.cumsum(counts) - counts
    return np.arange(len(owner)) - starts[owner]


def _monthly(
    cal: Calendar, lo: np.ndarray, hi: np.ndarray, who: Any, day_of_month: int
) -> tuple[np.ndarray, np.ndarray]:
    """One row per customer in ``who`` per calendar month whose ``day_of_month`` falls inside
    the customer's active window: (owner, day index)."""
    months = np.arange(
        np.datetime64(cal.start, "M"), np.datetime64(cal.as_of, "M") + 1, dtype="datetime64[M]"
    )
    days = (months.astype("datetime64[D]") + (day_of_month - 1) - np.datetime64(cal.start)).astype(
        int
    )
    days = days[(days >= 0) & (days < cal.days)]
    first = np.searchsorted(days, lo, side="left")
    last = np.searchsorted(days, hi, side="right")
    counts = np.where(who, np.maximum(last - first, 0), 0)
    owner = _expand(counts)
    return owner, days[first[owner] + _within(owner, counts)]


def make_transactions(
    rng: np.random.Generator, pop: Population, book: Book, cal: Calendar
) -> pa.Table:
    lo, hi = _active_window(pop)
    months = np.maximum((hi - lo) / 30.4, 0)
    held = book.held
    has_card = held[:, [P["CC_STANDARD"], P["CC_GOLD"], P["CC_PLATINUM"]]].any(axis=1)
    has_wealth = held[:, CATEGORY == "wealth"].any(axis=1)
    has_loan = held[:, [P["LOAN_CONSUMER"], P["LOAN_SB"], P["LOAN_MORTGAGE"]]].any(axis=1)
    salaried = np.isin(pop.employment, (0, 1)) & (rng.random(pop.n) < 0.8)

    # Discretionary transactions.
    n_free = rng.poisson(pop.activity * months * 0.7)
    owner = _expand(n_free)
    kinds: tuple[str, ...] = ("card_purchase", "bill_payment", "transfer_out", "transfer_in",
                              "withdrawal", "deposit", "wealth_purchase", "wealth_redemption",
                              "loan_drawdown")  # fmt: skip
    weights = np.stack(
        [
            np.where(has_card, 0.55, 0.05),
            np.full(pop.n, 0.12),
            np.full(pop.n, 0.10),
            np.full(pop.n, 0.08),
            0.08 * (1 - pop.digital),
            np.full(pop.n, 0.05),
            np.where(has_wealth, 0.04, 0.0),
            np.where(has_wealth, 0.02, 0.0),
            np.where(held[:, P["LOAN_CONSUMER"]], 0.02, 0.0),
        ],
        axis=1,
    )
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    kind = (rng.random(len(owner))[:, None] > cum[owner]).sum(axis=1)
    kind = np.minimum(kind, len(kinds) - 1)
    # Churners fade: their transactions bunch early in their window.
    u = rng.random(len(owner))
    fading = pop.churn_day[owner] < cal.days
    u = np.where(fading, 1 - (1 - u) ** 2.2, u)
    a, b = cal.cdf[lo[owner]], cal.cdf[hi[owner] + 1]
    day = np.clip(np.searchsorted(cal.cdf, a + u * (b - a), side="right") - 1, lo[owner], hi[owner])

    # Monthly salary credits (around the 10th) and loan repayments (the 20th), by the calendar.
    sal_owner, sal_day = _monthly(cal, lo, hi, np.asarray(salaried, dtype=bool), 10)
    sal_day = np.minimum(sal_day + rng.integers(0, 3, len(sal_day)), hi[sal_owner])
    rep_owner, rep_day = _monthly(cal, lo, hi, has_loan, 20)

    kinds = (*kinds, "salary", "loan_repayment")
    code = {k: i for i, k in enumerate(kinds)}
    all_owner = np.concatenate([owner, sal_owner, rep_owner])
    all_kind = np.concatenate([kind, np.full(len(sal_owner), code["salary"]),
                               np.full(len(rep_owner), code["loan_repayment"])])  # fmt: skip
    all_day = np.concatenate([day, sal_day, rep_day])
    order = np.lexsort((all_day, all_owner))
    all_owner, all_kind, all_day = all_owner[order], all_kind[order], all_day[order]
    m = len(all_owner)
    income = pop.monthly_income[all_owner]
    # Typical amount of each kind as a share of monthly income.
    share = np.array([0.025, 0.04, 0.15, 0.15, 0.15, 0.15, 2.5, 2.5, 3.0, 1.0, 0.3])
    salary = all_kind == code["salary"]
    noise = np.exp(rng.normal(0, 0.7, m))
    noise[salary] = np.exp(rng.normal(0, 0.05, int(salary.sum())))
    amount = np.round(np.maximum(income * share[all_kind] * noise, 0.01), 2)
    credit = np.isin(all_kind, [code[k] for k in ("transfer_in", "deposit", "salary",
                                                  "wealth_redemption", "loan_drawdown")])  # fmt: skip
    is_card = all_kind == code["card_purchase"]
    digital = pop.digital[all_owner]
    channels = ("pos", "wechat_pay", "alipay", "online_banking", "mobile_app", "branch", "atm")
    channel = np.where(
        is_card,
        rng.choice(4, m, p=[0.35, 0.3, 0.25, 0.1]),
        np.where(rng.random(m) < digital, 4, np.where(rng.random(m) < 0.5, 5, 6)),
    )
    channel[salary] = 3
    merchants = (*MERCHANTS, "utilities", "telecom")
    bill = all_kind == code["bill_payment"]
    merchant = np.where(
        is_card,
        rng.choice(len(MERCHANTS), m, p=MERCHANT_P),
        len(MERCHANTS) + (rng.random(m) < 0.4),
    )
    account = pc.if_else(
        pa.array(is_card),
        book.card_account.take(pa.array(all_owner)),
        book.current_account.take(pa.array(all_owner)),
    )
    number = pop.number[all_owner] * 1_000_000 + _within(
        all_owner, np.bincount(all_owner, minlength=pop.n)
    )
    return pa.Table.from_arrays(
        [
            ids("T", number, 14),
            pop.customer_id.take(pa.array(all_owner)),
            account,
            timestamps(cal.sample_times(rng, all_day)),
            take(kinds, all_kind),
            pa.array(amount),
            take(("debit", "credit"), credit.astype(int)),
            take(("CNY",), np.zeros(m)),
            take(channels, channel),
            take(merchants, merchant, mask=~(is_card | bill)),
            pa.nulls(m, pa.string()),
            pa.nulls(m, pa.int64()),
        ],
        schema=TRANSACTIONS.arrow_schema,
    )


PLATFORMS = ("app", "mini_program", "web", "h5")
EVENT_NAMES = ("app_open", "page_view", "login", *BROWSE, *FUNNEL)
PAGES = (*PAGE_OF, "loan")


def make_events(
    rng: np.random.Generator, pop: Population, book: Book, cal: Calendar
) -> tuple[pa.Table, pa.Table]:
    """Events (sessions of browsing plus the lending funnel) and the identities table.

    Columns are built as integer codes and turned into text once, in Arrow: tens of millions of
    rows must not become Python strings.
    """
    lo, hi = _active_window(pop)
    months = np.maximum((hi - lo) / 30.4, 0)
    rate = np.where(pop.app_user, 0.78, 0.12) * pop.activity
    n_sessions = rng.poisson(rate * months)
    s_owner = _expand(n_sessions)
    n_s = len(s_owner)
    u = rng.random(n_s)
    fading = pop.churn_day[s_owner] < cal.days
    u = np.where(fading, 1 - (1 - u) ** 2.5, u)
    a, b = cal.cdf[lo[s_owner]], cal.cdf[hi[s_owner] + 1]
    s_day = np.clip(np.searchsorted(cal.cdf, a + u * (b - a), side="right") - 1,
                    lo[s_owner], hi[s_owner])  # fmt: skip
    s_start = cal.sample_times(rng, s_day)
    s_platform = np.where(
        pop.app_user[s_owner],
        np.where(rng.random(n_s) < 0.85, 0, 1),
        np.where(rng.random(n_s) < 0.7, 2, 3),
    )
    s_source = rng.choice(len(SOURCES), n_s, p=SOURCE_P)
    # Some sessions start before login: their first event is anonymous (device id only).
    s_anon = rng.random(n_s) < 0.18
    s_number = pop.number[s_owner] * 100_000 + _within(s_owner, n_sessions)

    n_events = 1 + rng.geometric(0.33, n_s)
    e_session = _expand(n_events)
    e_pos = _within(e_session, n_events)
    m = len(e_session)
    browse = rng.choice(len(BROWSE), m, p=BROWSE_P)
    first = e_pos == 0
    name = np.where(first, np.where(s_platform[e_session] <= 1, 0, 1), 3 + browse)
    name = np.where((e_pos == 1) & s_anon[e_session], 2, name)
    page = np.where(first, 0, browse)
    gap = rng.exponential(45_000_000, m).astype(np.int64)  # ~45 s between events
    cum = np.cumsum(gap)
    offset = cum - np.repeat(cum[np.cumsum(n_events) - n_events], n_events)
    ts = s_start[e_session] + offset

    f_owner, f_step, f_us = _funnel(rng, pop, book, cal)
    fm = len(f_owner)
    owner = np.concatenate([s_owner[e_session], f_owner])
    all_ts = np.concatenate([ts, f_us])
    all_ts = np.clip(all_ts, cal.start_us, cal.start_us + cal.days * 86_400_000_000 - 1)
    all_name = np.concatenate([name, 3 + len(BROWSE) + f_step])
    is_funnel = np.arange(m + fm) >= m
    anonymous = np.concatenate([s_anon[e_session] & first, np.zeros(fm, bool)])
    # Traffic source on the first event of a session and on funnel entry events.
    source = np.concatenate([s_source[e_session], rng.choice(len(SOURCES), fm, p=SOURCE_P)])
    no_utm = ~np.concatenate([first, f_step <= 1])
    campaign_missing = no_utm | (np.array(CAMPAIGNS)[source] == "")
    session = np.concatenate([s_number[e_session], np.zeros(fm, np.int64)])

    order = np.lexsort((all_ts, owner))
    owner, all_ts, all_name, anonymous = (
        owner[order],
        all_ts[order],
        all_name[order],
        anonymous[order],
    )
    is_funnel, source, no_utm = is_funnel[order], source[order], no_utm[order]
    campaign_missing, session = campaign_missing[order], session[order]
    platform = np.concatenate([s_platform[e_session], np.zeros(fm, int)])[order]
    page_code = np.concatenate([page, np.full(fm, len(PAGES) - 1)])[order]
    drawdown = all_name == EVENT_NAMES.index("drawdown")
    number = pop.number[owner] * 1_000_000 + _within(owner, np.bincount(owner, minlength=pop.n))
    session_id = pc.if_else(
        pa.array(is_funnel), pa.scalar(None, pa.string()), ids("S", session, 12)
    )
    device = ids("D", pop.number[owner], 9)
    table = pa.Table.from_arrays(
        [
            ids("E", number, 14),
            timestamps(all_ts),
            pc.if_else(
                pa.array(anonymous),
                pa.scalar(None, pa.string()),
                pop.customer_id.take(pa.array(owner)),
            ),
            pc.if_else(pa.array(anonymous), device, pa.scalar(None, pa.string())),
            take(PLATFORMS, platform),
            take(EVENT_NAMES, all_name),
            session_id,
            take(PAGES, page_code),
            pa.nulls(len(owner), pa.string()),
            take(SOURCES, source, mask=no_utm),
            take(MEDIUMS, source, mask=no_utm),
            take(CAMPAIGNS, source, mask=campaign_missing),
            take(('{"product_id": "LOAN_CONSUMER"}',), np.zeros(len(owner)), mask=~drawdown),
        ],
        schema=EVENTS.arrow_schema,
    )
    return table, _identities(rng, pop, cal, device_owner_mask=pop.app_user | (n_sessions > 0))


def _funnel(
    rng: np.random.Generator, pop: Population, book: Book, cal: Calendar
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lending funnel register -> apply_start -> ... -> reborrow, with realistic drop-off."""
    lo, hi = _active_window(pop)
    holds_loan = book.held[:, P["LOAN_CONSUMER"]]
    p_next = [
        np.where(pop.app_user, 0.9, 0.0),  # register in the app
        np.clip(0.16 + 0.5 * holds_loan + 0.1 * sigmoid(pop.credit_risk + 3), 0, 1),
        np.full(pop.n, 0.68),  # submit the application
        sigmoid(-pop.credit_risk - 1.2),  # granted (risk-based)
        np.full(pop.n, 0.72),  # first drawdown
        np.where(pop.credit_risk > -1.5, 0.7, 0.93),  # repays
        np.full(pop.n, 0.42),  # borrows again
    ]
    alive = np.ones(pop.n, bool)
    day = lo + (rng.random(pop.n) * np.maximum(hi - lo, 0) * 0.5).astype(int)
    owners, steps, times = [], [], []
    for step, p in enumerate(p_next):
        alive &= rng.random(pop.n) < p
        if step:
            day = day + rng.exponential([0, 3, 0.3, 1.5, 4, 30, 45][step], pop.n).astype(int)
        alive &= day <= hi
        idx = np.nonzero(alive)[0]
        owners.append(idx)
        steps.append(np.full(len(idx), step))
        times.append(cal.sample_times(rng, day[idx]))
    return np.concatenate(owners), np.concatenate(steps), np.concatenate(times)


def _identities(
    rng: np.random.Generator, pop: Population, cal: Calendar, device_owner_mask: np.ndarray
) -> pa.Table:
    owners = np.nonzero(device_owner_mask)[0]
    phone = pop.table.column("phone")
    first_day = np.maximum(pop.join_day, 0)
    parts = [
        ("device_id", owners, ids("D", pop.number[owners], 9)),
        ("phone", np.arange(pop.n), phone),
    ]
    wecom = np.nonzero(pop.has_wecom)[0]
    parts.append(("open_id", wecom, ids("OID", pop.number[wecom], 9)))
    tables = []
    for id_type, idx, values in parts:
        tables.append(
            pa.Table.from_arrays(
                [
                    pa.array(np.full(len(idx), id_type)),
                    values,
                    pop.customer_id.take(pa.array(idx)),
                    timestamps(cal.sample_times(rng, first_day[idx])),
                ],
                schema=IDENTITIES.arrow_schema,
            )
        )
    return pa.concat_tables(tables)
