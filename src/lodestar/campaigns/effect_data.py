"""The per-customer exposure of a campaign, as one DuckDB query, for
:mod:`lodestar.experiments.campaign_effect` to sum by arm.

Who is in it: every customer of the campaign's plan — its contacted arms and its random holdout
(arm ``control``, tracked, never contacted). The comparison is by assignment (intention to
treat): a treated customer whose send was skipped or failed still counts as treated, because
leaving them out would compare the reachable treated with the whole holdout.

When each customer's attribution window opens: at their first send (``sent_at`` from the outbox)
when there was one, otherwise — the holdout, and treated customers never sent — at the time the
plan meant to send. A conversion is the goal's event (``events``) in ``[start, start + window)``
or, when the goal names no event, the take-up of the planned product (``holdings`` opened in the
window). Money: ``value`` is the margin of a conversion (the goal's, else the offer's); ``cost``
is what was actually spent — the channel's contact cost of every message sent, and the offer's
cost for each contacted customer who took it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Terms:
    """What one offer by one channel costs and is worth (from the offer catalogue)."""

    offer_id: str
    channel: str
    contact_cost: float
    offer_cost: float
    value: float


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(value: float) -> str:
    return repr(float(value))


def _parquet(path: Path) -> str:
    return f"read_parquet({_text(str(path))})"


def exposure_sql(
    plan: Path,
    terms: Sequence[Terms],
    *,
    window_days: int,
    event: str | None,
    target_events: Sequence[str] = (),
    sends: Path | None = None,
    value: float | None = None,
    segment: Literal["plan", "profile"] | None = None,
) -> str:
    """The exposure query: one row per customer of ``plan`` (a plan.parquet) with ``arm``,
    ``segment``, ``sent``, ``responded``, ``converted``, ``value``, ``cost``, ``conv_day`` and
    ``target_<i>`` for each of ``target_events``. ``sends`` is a parquet of the campaign's sent
    messages (``customer_id``, ``offer_id``, ``channel``, ``sent_at`` naive UTC,
    ``responded`` 0/1); ``value`` overrides the offers' value of a conversion."""
    rows = [f"({_text(t.offer_id)}, {_text(t.channel)}, {_number(t.contact_cost)}, "
            f"{_number(t.offer_cost)}, {_number(t.value)})" for t in terms]  # fmt: skip
    # VALUES cannot be empty: one row no plan row can match stands in
    rows = rows or ["(NULL, NULL, 0.0, 0.0, 0.0)"]
    segment_sql = {"plan": "any_value(CAST(p.segment AS VARCHAR))",
                   "profile": "any_value(CAST(cp.value_tier AS VARCHAR))",
                   None: "CAST(NULL AS VARCHAR)"}[segment]  # fmt: skip
    profile_join = ("LEFT JOIN customer_profile cp ON cp.customer_id = p.customer_id"
                    if segment == "profile" else "")  # fmt: skip
    sends_sql = (f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, offer_id, channel, "
                 f"CAST(sent_at AS TIMESTAMP) AS sent_at, CAST(responded AS INTEGER) AS responded "
                 f"FROM {_parquet(sends)}" if sends is not None else
                 "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS offer_id, "
                 "NULL::VARCHAR AS channel, NULL::TIMESTAMP AS sent_at, 0 AS responded "
                 "WHERE false")  # fmt: skip
    worth = (_number(value) if value is not None else "coalesce(max(t.value), 0.0)")
    window = f"INTERVAL {int(window_days)} DAY"
    if event is not None:
        # instants on both sides: the plan's naive UTC times read as UTC, events' ts as stored
        first = (f"SELECT b.customer_id, min(e.ts) AS first_at FROM base b JOIN events e "
                 f"ON e.customer_id = b.customer_id AND e.event_name = {_text(event)} "
                 f"AND e.ts >= timezone('UTC', b.start_at) "
                 f"AND e.ts < timezone('UTC', b.start_at + {window}) GROUP BY 1")  # fmt: skip
    else:
        first = (f"SELECT b.customer_id, timezone('UTC', CAST(min(h.open_date) AS TIMESTAMP)) "
                 f"AS first_at FROM base b JOIN plan p ON p.customer_id = b.customer_id "
                 f"JOIN holdings h ON h.customer_id = b.customer_id "
                 f"AND h.product_id = p.product_id "
                 f"AND h.open_date >= CAST(b.start_at AS DATE) "
                 f"AND h.open_date < CAST(b.start_at + {window} AS DATE) GROUP BY 1")  # fmt: skip
    target_ctes = "".join(
        f", target_{i} AS (SELECT DISTINCT b.customer_id FROM base b JOIN events e "
        f"ON e.customer_id = b.customer_id AND e.event_name = {_text(name)} "
        f"AND e.ts >= timezone('UTC', b.start_at) "
        f"AND e.ts < timezone('UTC', b.start_at + {window}))"
        for i, name in enumerate(target_events))  # fmt: skip
    target_cols = "".join(
        f", CAST(target_{i}.customer_id IS NOT NULL AS INTEGER) AS target_{i}"
        for i in range(len(target_events)))  # fmt: skip
    target_joins = "".join(
        f" LEFT JOIN target_{i} ON target_{i}.customer_id = b.customer_id"
        for i in range(len(target_events)))  # fmt: skip
    return f"""
WITH plan AS (
    SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(arm AS VARCHAR) AS arm,
           offer_id, product_id, channel, CAST(send_at AS TIMESTAMP) AS send_at
           {", segment" if segment == "plan" else ""}
    FROM {_parquet(plan)}
),
terms(offer_id, channel, contact_cost, offer_cost, value) AS (VALUES {", ".join(rows)}),
customers AS (
    SELECT p.customer_id, any_value(p.arm) AS arm, {segment_sql} AS segment,
           min(p.send_at) AS planned_at, coalesce(max(t.offer_cost), 0.0) AS offer_cost,
           {worth} AS value
    FROM plan p LEFT JOIN terms t ON t.offer_id = p.offer_id AND t.channel = p.channel
    {profile_join}
    GROUP BY p.customer_id
),
sent AS (
    SELECT s.customer_id, min(s.sent_at) AS sent_at, max(s.responded) AS responded,
           sum(coalesce(t.contact_cost, 0.0)) AS contact_cost
    FROM ({sends_sql}) s LEFT JOIN terms t ON t.offer_id = s.offer_id AND t.channel = s.channel
    -- the campaign's earlier rounds sent to some of the same customers: not this plan's sends
    WHERE s.sent_at >= (SELECT min(send_at) FROM plan) - INTERVAL 1 DAY
    GROUP BY s.customer_id
),
base AS (
    SELECT c.*, s.sent_at IS NOT NULL AND c.arm <> 'control' AS sent,
           coalesce(s.responded, 0) AS responded, coalesce(s.contact_cost, 0.0) AS contact_cost,
           CASE WHEN c.arm <> 'control' AND s.sent_at IS NOT NULL THEN s.sent_at
                ELSE c.planned_at END AS start_at
    FROM customers c LEFT JOIN sent s ON s.customer_id = c.customer_id
),
converted AS ({first}){target_ctes}
SELECT b.customer_id, b.arm, b.segment, b.sent, b.responded,
       CAST(f.first_at IS NOT NULL AS INTEGER) AS converted,
       CASE WHEN f.first_at IS NOT NULL THEN b.value ELSE 0.0 END AS value,
       b.contact_cost + CASE WHEN f.first_at IS NOT NULL AND b.sent THEN b.offer_cost
                             ELSE 0.0 END AS cost,
       CAST(floor((epoch(f.first_at) - epoch(timezone('UTC', b.start_at))) / 86400)
            AS INTEGER) AS conv_day{target_cols}
FROM base b LEFT JOIN converted f ON f.customer_id = b.customer_id{target_joins}
"""


def contacts_exposure_sql(campaign_id: str) -> str:
    """The exposure of a past randomised campaign from ``campaign_contacts`` (its arms, the
    outcome its source recorded in its attribution window, the revenue attributed): the same
    columns as :func:`exposure_sql`, so the same sums and statistics measure it. What it cost
    is not in the data (``cost`` 0)."""
    return f"""
SELECT CAST(customer_id AS VARCHAR) AS customer_id,
       CASE WHEN arm = 'control' THEN 'control' ELSE coalesce(treatment, 'treatment') END AS arm,
       CAST(NULL AS VARCHAR) AS segment, arm <> 'control' AS sent,
       CAST(coalesce(responded, false) AS INTEGER) AS responded,
       CAST(coalesce(converted, false) AS INTEGER) AS converted,
       CASE WHEN converted THEN coalesce(revenue, 0.0) ELSE 0.0 END AS value, 0.0 AS cost,
       CASE WHEN converted AND outcome_at IS NOT NULL
            THEN CAST(floor((epoch(outcome_at) - epoch(contacted_at)) / 86400) AS INTEGER)
       END AS conv_day
FROM campaign_contacts WHERE campaign_id = {_text(campaign_id)}
"""
