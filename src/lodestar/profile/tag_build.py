"""Building tags into ``profile_tags``: in full, or refreshing only what a load changed.

A full build runs the compiled query over every customer. A refresh after loads recomputes:

- for the customers the loads touched (recorded by the engine in ``_lodestar_changes``), the
  tags that read the tables loaded;
- for every customer, the tags that depend on the data date (windows, recency, age), when the
  data date moved, and the tags that read a profile table (RFM, tiers...) rewritten since;
- whole rows for customers who are new.

A changed definition (any tag file) means a full build: the table's columns may change.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lodestar.errors import ConfigError
from lodestar.profile.tag_compiler import TagPlan, plan_tags
from lodestar.profile.tag_expr import ExprType, quote_ident
from lodestar.profile.tags import (
    TagDef,
    builtin_tag_files,
    collect_tags,
    load_tags,
    workspace_tag_files,
)
from lodestar.profile.view import (
    bump_profile_version,
    data_as_of,
    profile_select,
    profile_versions,
    refresh_profile_view,
)
from lodestar.storage.analytical import AnalyticalEngine

TABLE = "profile_tags"
STATE = "_lodestar_tag_state"
CHANGES = "_lodestar_changes"
Progress = Callable[[str, int, int | None], None]


@dataclass
class TagBuild:
    """What a build or refresh did."""

    mode: str  # full | incremental | unchanged
    tags: int
    customers: int
    as_of: date
    seconds: float
    recomputed: dict[str, int] = field(default_factory=dict)  # tag -> customers recomputed
    reason: str = ""


def _expr_type(duck_type: str) -> ExprType:
    t = duck_type.upper()
    if t == "BOOLEAN":
        return "boolean"
    if t.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if t.startswith(("VARCHAR", "JSON", "UUID", "ENUM")):
        return "text"
    if t.startswith(("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
                     "DOUBLE", "FLOAT", "DECIMAL", "REAL", "USMALLINT", "UTINYINT")):  # fmt: skip
        return "number"
    return "text"


class TagLibrary:
    """The tags of one workspace: the built-in library plus ``tags/*.yaml``."""

    def __init__(self, engine: AnalyticalEngine, root: Path) -> None:
        self.engine = engine
        self.root = root

    def files(self) -> tuple[list[Path], list[Path]]:
        return workspace_tag_files(self.root), builtin_tag_files()

    def definitions(self) -> list[TagDef]:
        workspace, builtin = self.files()
        return load_tags(workspace, builtin)

    def fingerprint(self) -> str:
        workspace, builtin = self.files()
        h = hashlib.sha256()
        for p in [*builtin, *workspace]:
            h.update(p.name.encode())
            h.update(p.read_bytes())
        return h.hexdigest()[:16]

    def base(self, as_of: date) -> tuple[str, dict[str, ExprType], dict[str, str]]:
        sql, origins = profile_select(self.engine, as_of, exclude=(TABLE,))
        described = self.engine.query(f"DESCRIBE {sql}").to_pylist()
        types = {str(r["column_name"]): _expr_type(str(r["column_type"])) for r in described}
        customer_cols = [c for c in types if c not in ("age", "tenure_months")]
        origin_of = dict.fromkeys(customer_cols, "customers")
        extra = [c for c in customer_cols if c not in _customer_columns(self.engine)]
        origin_of.update(zip(extra, origins, strict=False))
        return sql, types, origin_of

    def plan(self, as_of: date | None = None) -> TagPlan:
        day = as_of or data_as_of(self.engine) or date.today()
        _, types, origins = self.base(day)
        return self._plan(types, origins)

    def _plan(self, types: dict[str, ExprType], origins: dict[str, str]) -> TagPlan:
        workspace, builtin = self.files()
        tags, problems, broken = collect_tags(workspace, builtin)
        return plan_tags(tags, types, origins, problems=problems, broken=broken)


def _customer_columns(engine: AnalyticalEngine) -> set[str]:
    rows = engine.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'"
    )
    return {str(v) for v in rows.column(0).to_pylist()}


def _state(engine: AnalyticalEngine) -> dict[str, object] | None:
    if STATE not in engine.tables():
        return None
    value = engine.scalar(f"SELECT state FROM {STATE}")
    return json.loads(value) if value else None


def _save_state(engine: AnalyticalEngine, state: dict[str, object]) -> None:
    engine.execute(f"CREATE TABLE IF NOT EXISTS {STATE} (state VARCHAR)")
    engine.execute(f"DELETE FROM {STATE}")
    engine.execute(f"INSERT INTO {STATE} VALUES (?)", [json.dumps(state)])


def build_tags(
    engine: AnalyticalEngine,
    root: Path,
    *,
    as_of: date | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> TagBuild:
    """Build (``full``) or refresh ``profile_tags``; see the module docstring."""
    started = time.perf_counter()
    step = progress or (lambda stage, done, total: None)
    library = TagLibrary(engine, root)
    day = as_of or data_as_of(engine)
    if day is None:
        if not engine.count("customers"):
            raise ConfigError("tags need customers: the workspace has none",
                              hint="load data first: lodestar ingest / generate / import-dataset")  # fmt: skip
        day = date.today()
    step("tags", 0, 3)
    base_sql, types, origins = library.base(day)
    plan = library._plan(types, origins)
    step("tags", 1, 3)
    fingerprint = library.fingerprint()
    versions = profile_versions(engine)
    state = _state(engine)
    reason = ""
    if full or state is None:
        reason = "requested" if full else "first build"
    elif state.get("fingerprint") != fingerprint:
        reason = "tag definitions changed"
    elif as_of is not None and str(as_of) != state.get("as_of"):
        reason = "a different as-of date"
    elif TABLE not in engine.tables():
        reason = "profile_tags is missing"
    if reason:
        engine.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {plan.sql(base_sql, day)}")
        recomputed = dict.fromkeys(plan.names, engine.count(TABLE))
        mode = "full"
    else:
        assert state is not None
        recomputed = _refresh(engine, plan, base_sql, day, state, versions)
        mode = "incremental" if recomputed else "unchanged"
    step("tags", 2, 3)
    if STATE not in engine.tables():
        engine.execute(f"CREATE TABLE IF NOT EXISTS {STATE} (state VARCHAR)")
    engine.execute(f"DELETE FROM {CHANGES}")
    _save_state(engine, {"fingerprint": fingerprint, "as_of": str(day),
                         "versions": {k: v for k, v in versions.items() if k != TABLE}})  # fmt: skip
    if mode != "unchanged":
        bump_profile_version(engine, TABLE)
        refresh_profile_view(engine)
    step("tags", 3, 3)
    return TagBuild(mode, len(plan.names), engine.count(TABLE), day,
                    time.perf_counter() - started, recomputed, reason)  # fmt: skip


def _refresh(
    engine: AnalyticalEngine,
    plan: TagPlan,
    base_sql: str,
    day: date,
    state: dict[str, object],
    versions: dict[str, int],
) -> dict[str, int]:
    recomputed: dict[str, int] = {}
    changed = engine.query(
        f"SELECT entity, count(customer_id) AS customers, count(*) - count(customer_id) AS everyone"
        f" FROM {CHANGES} GROUP BY entity"
    ).to_pylist()
    everyone_entities = {str(r["entity"]) for r in changed if r["everyone"]}
    some_entities = {str(r["entity"]) for r in changed if r["customers"]} - everyone_entities
    old_versions = state.get("versions") or {}
    assert isinstance(old_versions, dict)
    rewritten = {t for t, v in versions.items() if t != TABLE and old_versions.get(t) != v}
    date_moved = state.get("as_of") != str(day)
    for_everyone = [
        n for n, ct in plan.tags.items()
        if (date_moved and ct.time_dependent) or ct.reads & (everyone_entities | rewritten)
    ]  # fmt: skip
    for_some = [n for n, ct in plan.tags.items()
                if n not in for_everyone and ct.reads & some_entities]  # fmt: skip
    # whole rows for customers the table does not have yet
    new_customers = f"SELECT customer_id FROM customers ANTI JOIN {TABLE} USING (customer_id)"
    n_new = int(engine.scalar(f"SELECT count(*) FROM ({new_customers})"))
    if n_new:
        engine.execute(
            f"INSERT INTO {TABLE} BY NAME {plan.sql(base_sql, day, customers_sql=new_customers)}"
        )
    if for_everyone:
        _update(engine, plan, base_sql, day, for_everyone, None)
        total = engine.count(TABLE)
        recomputed.update(dict.fromkeys(for_everyone, total))
    if for_some:
        affected = (
            f"SELECT DISTINCT customer_id FROM {CHANGES} WHERE customer_id IS NOT NULL "
            f"AND entity IN ({', '.join(repr(e) for e in sorted(some_entities))})"
        )
        n = int(engine.scalar(f"SELECT count(*) FROM ({affected})"))
        _update(engine, plan, base_sql, day, for_some, affected)
        recomputed.update(dict.fromkeys(for_some, n))
    if n_new:
        for name in plan.names:
            recomputed[name] = recomputed.get(name, 0) + n_new
    return recomputed


def _update(engine: AnalyticalEngine, plan: TagPlan, base_sql: str, day: date,
            names: list[str], customers_sql: str | None) -> None:  # fmt: skip
    sets = ", ".join(f"{quote_ident(n)} = s.{quote_ident(n)}" for n in names)
    sql = plan.sql(base_sql, day, only=names, customers_sql=customers_sql)
    engine.execute(
        f"UPDATE {TABLE} SET {sets} FROM ({sql}) s WHERE {TABLE}.customer_id = s.customer_id"
    )
