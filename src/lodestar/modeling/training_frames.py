"""Labelled training frames from a workspace, with features from before a cut-off and labels
from after it.

Every frame is one row per customer: ``customer_id``, the features the bank knew at the end of
the cut-off day T (:mod:`lodestar.modeling.point_in_time`: customer attributes at T and the tag
library computed on the sources cut at T), and a target observed in the days after T. The
default cut-off is the data date minus the horizon, so the label window ends on the data date.

Conventions shared by every frame (dates are calendar days, timestamps compared in UTC as the
tag library does):

- features: data up to the end of day T (``ts < T + 1 day``);
- label window: the ``horizon_days`` days after T, ``(T, T + horizon]``; it must end on or
  before the data date, or the labels would be cut short (an error says so);
- "open at T": joined on or before T and not closed on or before T.

The targets:

``churn``   Population: customers open at T who were active in the ``horizon_days`` before T
            (up to and including T). Active means a transaction the customer made (any type but
            bank-posted ``interest`` and ``fee``) or an identified behavioural event; customers
            already silent are left out, since they cannot *become* inactive. ``churned`` is
            true when, in (T, T + horizon], the customer's relationship was closed
            (``customers.closed_date``), or every account open at T was closed with no new
            account opened, or the customer did nothing at all (no such transaction or event).
``risk``    Population: customers open at T holding a credit product (card, consumer,
            small-business or mortgage loan) open at T. ``delinquent`` is true when one of the
            customer's credit accounts reached more than 30 days past due in (T, T + horizon].
            The schema keeps delinquency only as a snapshot (``days_past_due`` and status on the
            holdings row, dated by ``as_of_date``), so the day the current spell passed 30 days
            is reconstructed as ``as_of_date - days_past_due + 31`` (a ``delinquent`` status
            without days past due counts from ``as_of_date``). Customers whose spell had already
            passed 30 days at T are left out. Spells cured before the snapshot are invisible, so
            with a snapshot after T + horizon some positives are missed; the snapshot must be
            after T.
``response`` / ``uplift``
            Features at the end of the day before the campaign's ``start_date``; one row per
            customer in ``campaign_contacts`` for the campaign (the first contact), who had joined
            by then. Target ``converted`` (or ``responded``); missing outcomes count as false.
            ``response`` keeps the treatment arm; ``uplift`` keeps both with column ``treatment``
            holding the variant (``control`` for the control arm).
``nbp``     Population: customers open at T. ``held_products`` lists the products (or product
            families with ``level="category"``) held at T, joined by ``|``, with one
            ``holds_<x>`` flag per catalogue value; ``next_product`` is the first product (by
            open date, then name) opened in (T, T + horizon] that was not held at T, or
            ``none``.

>>> frame, info = churn_frame(ws)  # doctest: +SKIP
>>> data = prepare(frame, info.target, exclude=info.exclude, positive=info.positive)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from lodestar.errors import ConfigError
from lodestar.modeling.point_in_time import Store, day_sql, features_at

if TYPE_CHECKING:
    import pandas as pd

FrameKind = Literal["churn", "risk", "response", "uplift", "nbp"]
FRAME_KINDS: tuple[str, ...] = ("churn", "risk", "response", "uplift", "nbp")
CREDIT_CATEGORIES = ("credit_card", "consumer_loan", "small_business_loan", "mortgage")
#: Transactions the bank posts by itself: they say nothing about the customer being active.
BANK_POSTED = ("interest", "fee")
HELD_COLUMN = "held_products"
NONE_PRODUCT = "none"
CONTROL = "control"


@dataclass(frozen=True)
class FrameInfo:
    """What a training frame holds: its target and how to read it, the cut-off and the counts."""

    kind: str
    target: str
    #: value of ``target`` that is the positive class (None for the multi-class ``nbp``)
    positive: str | None
    cutoff: date  # features know the data up to the end of this day
    horizon_days: int | None  # label window (cutoff, cutoff + horizon]; None: campaign outcome
    rows: int
    #: share of positive rows (``nbp``: share of rows taking up a product, not ``none``)
    positive_rate: float
    features: tuple[str, ...]
    #: columns that are neither features nor the target (pass to ``prepare(exclude=...)``)
    exclude: tuple[str, ...]
    treatment: str | None = None  # column with the variant (``uplift``)
    population: str = ""
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> customers
    excluded_tags: dict[str, str] = field(default_factory=dict)  # tag -> why not a feature
    campaign_id: str | None = None

    def summary(self) -> dict[str, Any]:
        """A flat JSON-ready description (for the CLI and model cards)."""
        return {
            "kind": self.kind, "target": self.target, "positive": self.positive,
            "cutoff": self.cutoff.isoformat(), "horizon_days": self.horizon_days,
            "rows": self.rows, "positive_rate": round(self.positive_rate, 6),
            "features": len(self.features), "campaign_id": self.campaign_id,
            "left_out": dict(self.left_out),
        }  # fmt: skip


# -- cut-off dates ------------------------------------------------------------------------------
def _data_date(store: Store) -> date:
    from lodestar.profile.view import data_as_of

    day = data_as_of(store.engine)
    if day is None:
        raise ConfigError(
            "the workspace has no transactions or events to build training frames from",
            hint="load data first: lodestar ingest / generate / import-dataset",
        )
    return day


def _cutoff(store: Store, horizon_days: int, as_of: date | None) -> date:
    if horizon_days < 1:
        raise ConfigError(f"horizon_days must be at least 1, not {horizon_days}")
    latest = _data_date(store)
    cutoff = as_of or latest - timedelta(days=horizon_days)
    if cutoff + timedelta(days=horizon_days) > latest:
        raise ConfigError(
            f"the label window {cutoff} + {horizon_days} days ends after the data date {latest}: "
            "labels would be cut short",
            hint=f"use an as_of on or before {latest - timedelta(days=horizon_days)} "
            "or a shorter horizon",
        )
    return cutoff


def _open_at(t: str) -> str:
    # the population "open at T" in main tables (the frames' SQL is not inside the cut)
    return (
        f"SELECT customer_id FROM main.customers WHERE join_date <= {t} "
        f"AND (closed_date > {t} OR (closed_date IS NULL AND coalesce(status, '') != 'closed'))"
    )


def _held_at(t: str, alias: str = "") -> str:
    """An account open at T (one closed without a date counts as closed all along)."""
    a = f"{alias}." if alias else ""
    return (
        f"{a}open_date <= {t} AND ({a}close_date > {t} "
        f"OR ({a}close_date IS NULL AND coalesce({a}status, '') != 'closed'))"
    )


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _finish(
    store: Store,
    kind: str,
    labels: pd.DataFrame,
    target: str,
    positive: str | None,
    cutoff: date,
    horizon: int | None,
    population: str,
    left_out: dict[str, int],
    population_sql: str,
    extra: tuple[str, ...] = (),
    treatment: str | None = None,
    campaign_id: str | None = None,
) -> tuple[pd.DataFrame, FrameInfo]:
    feats = features_at(store, cutoff, customers_sql=population_sql)
    frame = feats.frame.merge(labels, on="customer_id", how="inner", validate="one_to_one")
    frame = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    values = frame[target]
    rate = float((values != NONE_PRODUCT).mean() if positive is None else values.mean())
    info = FrameInfo(
        kind=kind, target=target, positive=positive, cutoff=cutoff, horizon_days=horizon,
        rows=len(frame), positive_rate=rate if len(frame) else 0.0,
        features=(*feats.features, *(c for c in extra if c not in (HELD_COLUMN, treatment))),
        exclude=("customer_id",
                 *(c for c in (HELD_COLUMN, treatment) if c and c in frame.columns)),
        treatment=treatment, population=population, left_out=left_out,
        excluded_tags=feats.excluded, campaign_id=campaign_id,
    )  # fmt: skip
    return frame, info


# -- churn ----------------------------------------------------------------------------------
def churn_frame(
    store: Store, *, horizon_days: int = 90, as_of: date | None = None
) -> tuple[pd.DataFrame, FrameInfo]:
    """Customers active before T and whether they closed or went silent in the horizon (see the
    module docstring). Target ``churned`` (bool), positive ``true``."""
    cutoff = _cutoff(store, horizon_days, as_of)
    t, end = day_sql(cutoff), day_sql(cutoff + timedelta(days=horizon_days))
    start = day_sql(cutoff - timedelta(days=horizon_days))
    # Timestamps by day: (a, b] on dates is ts >= a + 1 AND ts < b + 1.
    activity = (
        f"SELECT customer_id, ts FROM main.transactions WHERE customer_id IS NOT NULL "
        f"AND type NOT IN ({_quoted(BANK_POSTED)}) "
        "UNION ALL SELECT customer_id, ts FROM main.events_resolved WHERE customer_id IS NOT NULL"
    )
    sql = f"""
        WITH pop AS ({_open_at(t)}),
        act AS (
            SELECT customer_id,
                   bool_or(ts >= {start} + 1 AND ts < {t} + 1) AS before,
                   bool_or(ts >= {t} + 1 AND ts < {end} + 1) AS after
            FROM ({activity}) a WHERE ts >= {start} + 1 AND ts < {end} + 1 GROUP BY customer_id
        ),
        acc AS (
            SELECT customer_id,
                   count(*) FILTER (WHERE {_held_at(t)}) AS held,
                   count(*) FILTER (WHERE {_held_at(t)} AND close_date <= {end}) AS held_closed,
                   count(*) FILTER (WHERE open_date > {t} AND open_date <= {end}) AS opened
            FROM main.holdings GROUP BY customer_id
        )
        SELECT p.customer_id, coalesce(a.before, FALSE) AS active_before,
               c.closed_date > {t} AND c.closed_date <= {end} AS customer_closed,
               coalesce(h.held > 0 AND h.held_closed = h.held AND h.opened = 0, FALSE)
                   AS accounts_closed,
               NOT coalesce(a.after, FALSE) AS inactive
        FROM pop p JOIN main.customers c USING (customer_id)
        LEFT JOIN act a USING (customer_id) LEFT JOIN acc h USING (customer_id)
    """
    raw = store.engine.query(sql).to_pandas()
    active = raw["active_before"].astype(bool)
    kept = raw.loc[active].copy()
    kept["churned"] = (
        kept["customer_closed"].fillna(False).astype(bool)
        | kept["accounts_closed"].astype(bool)
        | kept["inactive"].astype(bool)
    )
    labels = kept[["customer_id", "churned"]]
    population = (
        f"{_open_at(t)} AND customer_id IN (SELECT customer_id FROM ({activity}) a "
        f"WHERE ts >= {start} + 1 AND ts < {t} + 1)"
    )
    return _finish(store, "churn", labels, "churned", "true", cutoff, horizon_days,
                   "customers open at T and active in the horizon before T",
                   {"inactive_before_cutoff": int((~active).sum())}, population)  # fmt: skip


# -- credit risk ----------------------------------------------------------------------------
def risk_frame(
    store: Store, *, horizon_days: int = 180, as_of: date | None = None
) -> tuple[pd.DataFrame, FrameInfo]:
    """Credit customers at T and whether an account passed 30 days past due in the horizon
    (reconstructed from the holdings snapshot; see the module docstring). Target
    ``delinquent`` (bool), positive ``true``."""
    cutoff = _cutoff(store, horizon_days, as_of)
    t, end = day_sql(cutoff), day_sql(cutoff + timedelta(days=horizon_days))
    latest = day_sql(_data_date(store))
    snapshot = store.engine.scalar(
        "SELECT max(coalesce(as_of_date, " + latest + ")) FROM main.holdings"
    )
    if snapshot is None or snapshot <= cutoff:
        raise ConfigError(
            f"the holdings snapshot (as_of_date {snapshot}) is not after the cut-off {cutoff}: "
            "delinquency after the cut-off cannot be observed",
            hint="choose an earlier as_of, or load holdings with a later as_of_date",
        )
    credit = (
        "SELECT h.* FROM main.holdings h JOIN main.products p USING (product_id) "
        f"WHERE p.category IN ({_quoted(CREDIT_CATEGORIES)})"
    )
    sql = f"""
        WITH credit AS ({credit}),
        crossing AS (
            SELECT customer_id, CASE
                WHEN days_past_due > 30
                    THEN coalesce(as_of_date, {latest}) - CAST(days_past_due AS INTEGER) + 31
                WHEN status = 'delinquent' THEN coalesce(as_of_date, {latest}) END AS day
            FROM credit WHERE coalesce(status, '') != 'closed'
        ),
        holders AS (SELECT DISTINCT customer_id FROM credit WHERE {_held_at(t)})
        SELECT customer_id,
               coalesce(bool_or(x.day <= {t}), FALSE) AS already,
               coalesce(bool_or(x.day > {t} AND x.day <= {end}), FALSE) AS delinquent
        FROM ({_open_at(t)}) p JOIN holders USING (customer_id)
        LEFT JOIN crossing x USING (customer_id)
        GROUP BY customer_id
    """
    raw = store.engine.query(sql).to_pandas()
    already = raw["already"].astype(bool)
    labels = raw.loc[~already, ["customer_id", "delinquent"]].copy()
    labels["delinquent"] = labels["delinquent"].astype(bool)
    population = (
        f"{_open_at(t)} AND customer_id IN (SELECT customer_id FROM ({credit}) c "
        f"WHERE {_held_at(t)})"
    )
    return _finish(store, "risk", labels, "delinquent", "true", cutoff, horizon_days,
                   "customers open at T holding a credit product open at T",
                   {"delinquent_at_cutoff": int(already.sum())}, population)  # fmt: skip


# -- campaigns ------------------------------------------------------------------------------
def _campaign_frame(
    store: Store, kind: str, campaign_id: str, outcome: str, treated_only: bool
) -> tuple[pd.DataFrame, FrameInfo]:
    if outcome not in ("converted", "responded"):
        raise ConfigError(f"outcome must be converted or responded, not {outcome!r}")
    row = store.engine.query(
        "SELECT start_date FROM main.past_campaigns WHERE campaign_id = ?", [campaign_id]
    ).to_pylist()
    if not row:
        known = store.engine.query(
            "SELECT campaign_id FROM main.past_campaigns ORDER BY start_date"
        ).column(0)
        raise ConfigError(
            f"no past campaign '{campaign_id}' in the workspace",
            hint=f"known campaigns: {', '.join(map(str, known.to_pylist())) or 'none'}",
        )
    cutoff = row[0]["start_date"] - timedelta(days=1)
    t = day_sql(cutoff)
    arm = "AND arm = 'treatment'" if treated_only else ""
    contacts = f"""
        SELECT customer_id,
               CASE WHEN arm = 'control' THEN '{CONTROL}'
                    ELSE coalesce(treatment, 'treatment') END AS treatment,
               coalesce({outcome}, FALSE) AS {outcome}
        FROM main.campaign_contacts WHERE campaign_id = ? {arm}
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY contacted_at, contact_id) = 1
    """
    raw = store.engine.query(
        f"SELECT c.*, m.join_date <= {t} AS joined FROM ({contacts}) c "
        "JOIN main.customers m USING (customer_id)",
        [campaign_id],
    ).to_pandas()
    if raw.empty:
        raise ConfigError(
            f"campaign '{campaign_id}' has no {'treated ' if treated_only else ''}contacts"
        )
    joined = raw["joined"].astype(bool)
    labels = raw.loc[joined, ["customer_id", "treatment", outcome]].copy()
    labels[outcome] = labels[outcome].astype(bool)
    if treated_only:
        labels = labels.drop(columns="treatment")
    quoted = campaign_id.replace("'", "''")
    population = (
        f"SELECT customer_id FROM main.campaign_contacts WHERE campaign_id = '{quoted}' {arm}"
    )
    return _finish(store, kind, labels, outcome, "true", cutoff, None,
                   f"customers in campaign {campaign_id}"
                   + (" (treatment arm)" if treated_only else " (both arms)"),
                   {"joined_after_start": int((~joined).sum())}, population,
                   treatment=None if treated_only else "treatment",
                   campaign_id=campaign_id)  # fmt: skip


def response_frame(
    store: Store, campaign_id: str, *, outcome: str = "converted"
) -> tuple[pd.DataFrame, FrameInfo]:
    """The treated customers of a past campaign and whether they ``converted`` (or
    ``responded``), with features at the end of the day before it started."""
    return _campaign_frame(store, "response", campaign_id, outcome, treated_only=True)


def uplift_frame(
    store: Store, campaign_id: str, *, outcome: str = "converted"
) -> tuple[pd.DataFrame, FrameInfo]:
    """Both arms of a past randomised campaign: features before it started, the outcome, and
    ``treatment`` (the variant, ``control`` for the control arm). For a binary uplift model:
    ``fit(X, y, treatment=(frame.treatment != "control"))``."""
    return _campaign_frame(store, "uplift", campaign_id, outcome, treated_only=False)


# -- next best product ----------------------------------------------------------------------
def _flag_name(value: str) -> str:
    return "holds_" + re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


def nbp_frame(
    store: Store,
    *,
    horizon_days: int = 180,
    as_of: date | None = None,
    level: Literal["product", "category"] = "product",
) -> tuple[pd.DataFrame, FrameInfo]:
    """Customers open at T, what they held at T, and the first new product (or product family)
    they opened in the horizon, else ``none``. Target ``next_product`` (multi-class)."""
    import pandas as pd

    if level not in ("product", "category"):
        raise ConfigError(f"level must be product or category, not {level!r}")
    cutoff = _cutoff(store, horizon_days, as_of)
    t, end = day_sql(cutoff), day_sql(cutoff + timedelta(days=horizon_days))
    col = "h.product_id" if level == "product" else "p.category"
    sql = f"""
        WITH acc AS (
            SELECT h.customer_id, {col} AS item, h.open_date, {_held_at(t, "h")} AS held
            FROM main.holdings h JOIN main.products p USING (product_id)
        ),
        held AS (SELECT customer_id, list(DISTINCT item ORDER BY item) AS items
                 FROM acc WHERE held GROUP BY customer_id),
        nxt AS (
            SELECT a.customer_id, first(a.item ORDER BY a.open_date, a.item) AS item
            FROM acc a LEFT JOIN held USING (customer_id)
            WHERE a.open_date > {t} AND a.open_date <= {end}
              AND NOT list_contains(coalesce(held.items, []), a.item)
            GROUP BY a.customer_id
        )
        SELECT p.customer_id, coalesce(held.items, []) AS items,
               coalesce(nxt.item, '{NONE_PRODUCT}') AS next_product
        FROM ({_open_at(t)}) p LEFT JOIN held USING (customer_id) LEFT JOIN nxt USING (customer_id)
    """
    raw = store.engine.query(sql).to_pandas()
    held = _held_columns(store, raw, level)
    labels = pd.concat([held, raw["next_product"]], axis=1)
    return _finish(store, "nbp", labels, "next_product", None, cutoff, horizon_days,
                   f"customers open at T; {level}s held at T", {}, _open_at(t),
                   extra=tuple(held.columns[1:]))  # fmt: skip


def _held_columns(store: Store, raw: pd.DataFrame, level: str) -> pd.DataFrame:
    """``customer_id``, ``held_products`` ("a|b") and one ``holds_<x>`` flag per catalogue
    value, from ``raw``'s ``customer_id`` and ``items`` (a list per customer)."""
    import pandas as pd

    catalogue_col = "product_id" if level == "product" else "category"
    catalogue = sorted(
        str(v)
        for v in store.engine.query(f"SELECT DISTINCT {catalogue_col} FROM main.products")
        .column(0)
        .to_pylist()
    )
    items = raw["items"].map(lambda xs: [str(x) for x in xs])
    flags = pd.DataFrame(
        {_flag_name(v): items.map(lambda xs, v=v: v in xs).astype(bool) for v in catalogue},
        index=raw.index,
    )
    return pd.concat([raw[["customer_id"]], items.map("|".join).rename(HELD_COLUMN), flags], axis=1)


# -- scoring ----------------------------------------------------------------------------------
def scoring_frame(
    store: Store, kind: str, *, as_of: date | None = None, level: str = "product"
) -> pd.DataFrame:
    """The features a ``kind`` model trained on a frame of this module takes, for every
    customer open at ``as_of`` (default: the data date), without a label: what scoring the
    workspace's customers reads. ``nbp`` adds what each customer holds."""
    day = as_of or _data_date(store)
    t = day_sql(day)
    frame = features_at(store, day, customers_sql=_open_at(t)).frame
    if kind != "nbp":
        return frame
    col = "h.product_id" if level == "product" else "p.category"
    raw = store.engine.query(
        f"SELECT c.customer_id, coalesce(held.items, []) AS items FROM ({_open_at(t)}) c "
        f"LEFT JOIN (SELECT h.customer_id, list(DISTINCT {col} ORDER BY {col}) AS items "
        f"FROM main.holdings h JOIN main.products p USING (product_id) "
        f"WHERE {_held_at(t, 'h')} GROUP BY h.customer_id) held USING (customer_id)"
    ).to_pandas()
    held = _held_columns(store, raw, level)
    return frame.merge(held, on="customer_id", how="left", validate="one_to_one")


def build_frame(store: Store, kind: str, **options: Any) -> tuple[pd.DataFrame, FrameInfo]:
    """Dispatch by name (``churn``, ``risk``, ``response``, ``uplift``, ``nbp``): the call the
    workspace and the CLI make."""
    builders = {"churn": churn_frame, "risk": risk_frame, "response": response_frame,
                "uplift": uplift_frame, "nbp": nbp_frame}  # fmt: skip
    if kind not in builders:
        raise ConfigError(
            f"no training frame of kind '{kind}'", hint=f"choose one of: {', '.join(builders)}"
        )
    if kind in ("response", "uplift") and not options.get("campaign_id"):
        raise ConfigError(f"a {kind} frame needs a campaign_id (a past campaign)")
    return builders[kind](store, **options)  # type: ignore[operator]
