"""Customer features as they were at a past date: the sources cut at T, the tag library on them.

A model trained on today's profile to predict what happened after some past date T learns from
the answer: today's balance of a customer who left is 0, today's account status says "closed".
Here every source is cut at T before anything is computed, so a feature can only see what the
bank knew at the end of day T:

- rows are kept only when they happened on or before T (``ts < T + 1 day``; holdings by
  ``open_date``, customers by ``join_date``, campaign contacts by ``contacted_at``);
- dated state is rewound: an account or customer closed after T is open at T, a complaint
  resolved after T is still in progress, a campaign outcome observed after T is unknown, KYC
  verified after T is unknown, an identity link first seen after T does not attribute events;
- undated snapshot state cannot be rewound and is blanked: holdings ``balance``,
  ``days_past_due`` and ``as_of_date`` are null, and ``dormant`` / ``delinquent`` account
  statuses read as ``active`` (the schema has no date for them). Tags that read a blanked column
  (balances, AUM, utilisation, delinquency...) are left out, with the reason, in
  :attr:`PointInTimeFeatures.excluded`, as are tags that read profile tables (RFM, tiers,
  lifecycle, personas, life events), which are computed at the data date.

Contract terms fixed at opening (``credit_limit``, ``interest_rate``) and the customer's
declared attributes (income band, employment, education, reachability) are the stored values:
the schema keeps no history of them, so they are taken as known at T. That is the one
approximation left; it is written here so a reader of a model card can weigh it.

The cut is a set of CTEs named like the canonical tables (``transactions``, ``holdings``,
``events_resolved``...) placed in front of the tag library's compiled query, which therefore
reads them instead of the tables (CTE names shadow catalog names in DuckDB); the cut CTEs read
``main.<table>``. Nothing is written to the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lodestar.data.schema import CUSTOMERS, Pii
from lodestar.profile import tag_expr
from lodestar.profile.tags import Aggregate
from lodestar.storage.analytical import MERGE_ID_TYPES_SQL

if TYPE_CHECKING:
    import pandas as pd

    from lodestar.profile.tag_compiler import TagPlan
    from lodestar.storage.analytical import AnalyticalEngine


class Store(Protocol):
    """What the frame builders need from a workspace (a :class:`~lodestar.workspace.Workspace`
    is one): its analytical engine and its folder (for the workspace's own tag files)."""

    @property
    def engine(self) -> AnalyticalEngine: ...

    @property
    def root(self) -> Path: ...


#: Canonical tables whose rows are cut at T; tags reading only these are point-in-time safe.
RAW_SOURCES = frozenset({"customers", "transactions", "events", "identities", "holdings",
                         "products", "complaints", "surveys", "campaign_contacts"})  # fmt: skip
#: Columns that hold the state at the data date with no date to rewind them by.
SNAPSHOT_COLUMNS: dict[str, frozenset[str]] = {
    "holdings": frozenset({"balance", "days_past_due", "as_of_date"}),
}
#: Customer columns never offered as features: personal data (by the schema's PII classes),
#: raw dates (age and tenure at T replace them), the state the labels are made of, free JSON.
_NOT_FEATURES = frozenset({"customer_id", "birth_date", "join_date", "status", "closed_date",
                           "kyc_verified_at", "attributes"})  # fmt: skip
PII_COLUMNS = frozenset(f.name for f in CUSTOMERS.fields if f.pii is not Pii.NONE)
ATTRIBUTE_FEATURES: tuple[str, ...] = (
    *(f.name for f in CUSTOMERS.fields
      if f.name not in _NOT_FEATURES and f.pii is Pii.NONE),
    "age",
    "tenure_months",
)  # fmt: skip


def day_sql(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def cut_ctes(as_of: date) -> str:
    """``name AS (...)`` CTEs of every source as known at the end of day ``as_of``."""
    end = day_sql(as_of + timedelta(days=1))  # exclusive bound on timestamps and dates
    ctes = {
        "customers": f"""
            SELECT * REPLACE (
                CASE WHEN closed_date < {end} THEN closed_date END AS closed_date,
                CASE WHEN closed_date < {end} OR (status = 'closed' AND closed_date IS NULL)
                     THEN 'closed' ELSE 'active' END AS status,
                CASE WHEN kyc_verified_at >= {end} THEN NULL ELSE kyc_status END AS kyc_status,
                CASE WHEN kyc_verified_at < {end} THEN kyc_verified_at END AS kyc_verified_at)
            FROM main.customers WHERE join_date < {end}""",
        # An account closed without a date is taken as closed all along: when it closed is
        # unknowable, and counting it open would invent activity.
        "holdings": f"""
            SELECT * REPLACE (
                CASE WHEN close_date < {end} THEN close_date END AS close_date,
                CASE WHEN close_date < {end} OR (status = 'closed' AND close_date IS NULL)
                     THEN 'closed' ELSE 'active' END AS status,
                CAST(NULL AS DOUBLE) AS balance,
                CAST(NULL AS BIGINT) AS days_past_due,
                CAST(NULL AS DATE) AS as_of_date)
            FROM main.holdings WHERE open_date < {end}""",
        "transactions": f"SELECT * FROM main.transactions WHERE ts < {end}",
        # Same as the events_resolved view (storage/analytical.py), with the events and the
        # identity links that existed at T only.
        "events_resolved": f"""
            SELECT e.* REPLACE (coalesce(e.customer_id, i.customer_id) AS customer_id),
                   e.customer_id IS NULL AND i.customer_id IS NOT NULL AS identity_merged
            FROM main.events e
            LEFT JOIN (
                SELECT id_value, min(customer_id) AS customer_id FROM main.identities
                WHERE id_type IN ({MERGE_ID_TYPES_SQL})
                  AND (first_seen IS NULL OR first_seen < {end})
                GROUP BY id_value
            ) i ON e.customer_id IS NULL AND e.anonymous_id = i.id_value
            WHERE e.ts < {end}""",
        "complaints": f"""
            SELECT * REPLACE (
                CASE WHEN resolved_at < {end} THEN resolved_at END AS resolved_at,
                CASE WHEN resolved_at >= {end} THEN 'in_progress' ELSE status END AS status)
            FROM main.complaints WHERE ts < {end}""",
        "surveys": f"SELECT * FROM main.surveys WHERE ts < {end}",
        # An outcome is known at T once observed; without outcome_at, once the campaign ended.
        "campaign_contacts": f"""
            SELECT c.* REPLACE (
                CASE WHEN known THEN c.outcome END AS outcome,
                CASE WHEN known THEN c.responded END AS responded,
                CASE WHEN known THEN c.converted END AS converted,
                CASE WHEN known THEN c.revenue END AS revenue,
                CASE WHEN known THEN c.outcome_at END AS outcome_at)
            FROM (
                SELECT c.*, CASE WHEN c.outcome_at IS NOT NULL THEN c.outcome_at < {end}
                                 ELSE coalesce(p.end_date < {end}, FALSE) END AS known
                FROM main.campaign_contacts c LEFT JOIN main.past_campaigns p USING (campaign_id)
                WHERE c.contacted_at < {end}
            ) c""",
    }
    return ", ".join(f"{name} AS ({sql.strip()})" for name, sql in ctes.items())


def _base_sql(as_of: date) -> str:
    # age and tenure_months as profile/view.py derives them, at T instead of the data date
    d = day_sql(as_of)
    return (
        f"SELECT c.*, CAST(date_diff('year', c.birth_date, {d}) - CASE WHEN "
        f"strftime(c.birth_date, '%m%d') > strftime({d}, '%m%d') THEN 1 ELSE 0 END AS INTEGER) "
        f"AS age, CAST(date_diff('month', c.join_date, {d}) AS INTEGER) AS tenure_months "
        "FROM customers c"
    )


@dataclass(frozen=True)
class PointInTimeFeatures:
    """Features of customers at the end of day ``as_of``."""

    frame: pd.DataFrame  # customer_id, attribute columns, tag columns
    as_of: date
    attributes: tuple[str, ...]
    tags: tuple[str, ...]
    #: tag -> why it is not in the frame
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.attributes, *self.tags)


def safe_tags(plan: TagPlan) -> tuple[list[str], dict[str, str]]:
    """Tags computable at a past date (reading only cut sources, no snapshot columns), in plan
    order, and the others with the reason each is left out."""
    excluded: dict[str, str] = {}
    # by level, not file order: a tag's dependencies must be judged before the tag
    for name, ct in sorted(plan.tags.items(), key=lambda kv: kv[1].level):
        derived = sorted(r for r in ct.reads if r not in RAW_SOURCES)
        if derived:
            excluded[name] = f"reads {', '.join(derived)}, computed at the data date"
            continue
        d = ct.tag.definition
        if isinstance(d, Aggregate):
            blanked = SNAPSHOT_COLUMNS.get(d.source, frozenset())
            used = {d.column} if d.column else set()
            if d.where:
                used |= {n.name for n in tag_expr.names(tag_expr.parse(d.where))}
            if used & blanked:
                excluded[name] = (f"reads {d.source}.{', '.join(sorted(used & blanked))}, "
                                  "known only at the data date")  # fmt: skip
                continue
        bad = [x for x in ct.deps if x in excluded]
        if bad:
            excluded[name] = f"uses {', '.join(bad)}, which is left out"
    return [n for n in plan.tags if n not in excluded], excluded


def features_at(
    store: Store,
    as_of: date,
    *,
    customers_sql: str | None = None,
    tags: Iterable[str] | None = None,
) -> PointInTimeFeatures:
    """Attributes and point-in-time-safe tags of every customer who had joined by ``as_of``
    (or of those ``customers_sql`` selects; it must name tables as ``main.<table>``).

    ``tags`` limits the tags to those names (default: every safe tag of the library).
    """
    from lodestar.profile.tag_build import TagLibrary

    plan = TagLibrary(store.engine, store.root).plan(as_of)
    names, excluded = safe_tags(plan)
    if tags is not None:
        wanted = set(tags)
        unknown = wanted - set(plan.tags)
        if unknown:
            from lodestar.errors import ConfigError

            raise ConfigError(
                f"unknown tags {', '.join(sorted(unknown))} asked for as features",
                hint="list the tags with: lodestar tags list",
            )
        bad = wanted & set(excluded)
        if bad:
            from lodestar.errors import ConfigError

            raise ConfigError(
                "tags not computable at a past date: "
                + "; ".join(f"{n} ({excluded[n]})" for n in sorted(bad))
            )
        names = [n for n in names if n in wanted]
    tag_sql = plan.sql(_base_sql(as_of), as_of, only=names, customers_sql=customers_sql)
    attrs = ", ".join(tag_expr.quote_ident(c) for c in ATTRIBUTE_FEATURES)
    restrict = f" WHERE customer_id IN ({customers_sql})" if customers_sql else ""
    sql = (
        f"WITH {cut_ctes(as_of)}, attrs AS (SELECT customer_id, {attrs} "
        f"FROM ({_base_sql(as_of)}){restrict}) "
        f"SELECT attrs.*, t.* EXCLUDE (customer_id) FROM attrs JOIN ({tag_sql}) t "
        "USING (customer_id) ORDER BY customer_id"
    )
    frame = store.engine.query(sql).to_pandas()
    return PointInTimeFeatures(frame, as_of, ATTRIBUTE_FEATURES, tuple(names), excluded)
