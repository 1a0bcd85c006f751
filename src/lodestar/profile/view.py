"""``customer_profile``: one row per customer with everything the profile knows about them.

The view joins the ``customers`` table with every derived ``profile_*`` table (one row per
customer, keyed by ``customer_id``): tags, RFM, value tiers, lifecycle, personas. Segments, the
360° view and reports read this view, so a new profile table appears everywhere once it is saved
through :func:`save_profile_table`.

Conventions for a ``profile_<name>`` table: a ``customer_id`` column plus columns already named as
they should appear in the view (unique across profile tables). RFM is the exception kept for
compatibility: its columns are exposed with an ``rfm_`` prefix and its group as ``rfm_group``
(the zh-CN name, e.g. 重要发展客户) and ``rfm_group_code``.

Derived columns: ``age`` (whole years at the data date) and ``tenure_months`` (months since
``join_date``). "The data date" (:func:`data_as_of`) is the day of the latest transaction or
event in the store, so a bank loaded from last month's export is profiled as of last month, not
as of today.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from lodestar.storage.analytical import AnalyticalEngine

VIEW = "customer_profile"
PREFIX = "profile_"

#: profile_rfm column -> name in the view
RFM_COLUMNS = {
    "recency_days": "rfm_recency_days",
    "frequency": "rfm_frequency",
    "monetary": "rfm_monetary",
    "r": "rfm_r",
    "f": "rfm_f",
    "m": "rfm_m",
    "rfm_code": "rfm_code",
    "group": "rfm_group",
    "group_code": "rfm_group_code",
}


def data_as_of(engine: AnalyticalEngine) -> date | None:
    """The day of the latest transaction or event; for stores without either (a snapshot of
    customers and accounts, say), the latest campaign contact, balance date or account date.
    None for an empty store."""
    value = engine.scalar(
        "SELECT greatest((SELECT max(ts) FROM transactions), (SELECT max(ts) FROM events))::DATE"
    )
    if value is None:
        value = engine.scalar(
            "SELECT greatest((SELECT max(contacted_at) FROM campaign_contacts)::DATE,"
            " (SELECT max(as_of_date) FROM holdings),"
            " (SELECT greatest(max(open_date), max(close_date)) FROM holdings),"
            " (SELECT greatest(max(join_date), max(closed_date)) FROM customers))"
        )
    return value if isinstance(value, date) else None


def profile_tables(engine: AnalyticalEngine) -> list[str]:
    """Derived per-customer tables, in a stable order (RFM first, then by name)."""
    names = [t for t in engine.tables() if t.startswith(PREFIX)]
    return sorted(names, key=lambda t: (t != "profile_rfm", t))


def _columns(engine: AnalyticalEngine, table: str) -> list[str]:
    rows = engine.query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    )
    return [str(v) for v in rows.column(0).to_pylist()]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def profile_select(
    engine: AnalyticalEngine, as_of: date, *, exclude: tuple[str, ...] = ()
) -> tuple[str, list[str]]:
    """The SELECT behind ``customer_profile`` (without the tables in ``exclude``), and the
    profile table each non-customer column comes from (for change tracking)."""
    selects = ["c.*"]
    joins = []
    seen = set(_columns(engine, "customers"))
    origins: list[str] = []
    for i, table in enumerate(t for t in profile_tables(engine) if t not in exclude):
        alias = f"p{i}"
        for col in _columns(engine, table):
            if col == "customer_id":
                continue
            name = RFM_COLUMNS.get(col, f"rfm_{col}") if table == "profile_rfm" else col
            if name in seen:  # a clash would make the view ambiguous: the first table wins
                continue
            seen.add(name)
            selects.append(f"{alias}.{_q(col)} AS {_q(name)}")
            origins.append(table)
        joins.append(f"LEFT JOIN {_q(table)} {alias} USING (customer_id)")
    day_sql = f"DATE '{as_of.isoformat()}'"
    selects.append(
        f"CAST(date_diff('year', c.birth_date, {day_sql}) - CASE WHEN strftime(c.birth_date, '%m%d')"
        f" > strftime({day_sql}, '%m%d') THEN 1 ELSE 0 END AS INTEGER) AS age"
    )
    selects.append(f"CAST(date_diff('month', c.join_date, {day_sql}) AS INTEGER) AS tenure_months")
    sql = f"SELECT {', '.join(selects)} FROM customers c " + " ".join(joins)
    return sql, origins


def refresh_profile_view(engine: AnalyticalEngine, as_of: date | None = None) -> list[str]:
    """(Re)create ``customer_profile`` from the profile tables present; returns its columns."""
    day = as_of or data_as_of(engine) or date.today()
    sql, _ = profile_select(engine, day)
    engine.execute(f"CREATE OR REPLACE VIEW {VIEW} AS {sql}")
    return _columns(engine, VIEW)


def save_profile_table(engine: AnalyticalEngine, name: str, table: pa.Table) -> None:
    """Replace ``profile_<name>`` (one row per customer) and refresh the view."""
    full = name if name.startswith(PREFIX) else PREFIX + name
    if "customer_id" not in table.column_names:
        raise ValueError(f"{full}: a profile table needs a customer_id column")
    engine.replace_table(full, table)
    bump_profile_version(engine, full)
    refresh_profile_view(engine)


VERSIONS = "_lodestar_profile_versions"


def bump_profile_version(engine: AnalyticalEngine, table: str) -> None:
    """Count rewrites of a profile table, so caches (segment indexes) and dependent tags can
    tell that it changed even when its size did not."""
    engine.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSIONS} (table_name VARCHAR PRIMARY KEY, "
        "version BIGINT NOT NULL, saved_at TIMESTAMP NOT NULL)"
    )
    engine.execute(
        f"INSERT INTO {VERSIONS} VALUES (?, 1, now()) ON CONFLICT (table_name) "
        "DO UPDATE SET version = version + 1, saved_at = now()",
        [table],
    )


def profile_versions(engine: AnalyticalEngine) -> dict[str, int]:
    """Rewrite count of every profile table (empty before the first save)."""
    if VERSIONS not in engine.tables():
        return {}
    rows = engine.query(f"SELECT table_name, version FROM {VERSIONS}").to_pylist()
    return {str(r["table_name"]): int(r["version"]) for r in rows}
