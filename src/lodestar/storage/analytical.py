"""The analytical store: the ``AnalyticalEngine`` interface and its embedded DuckDB implementation.

Customers, transactions, events and everything computed from them live here. Loads are staged as
Parquet first and then applied in one transaction, so a failed or rejected load leaves no trace.
Spark joins later behind the same interface (DESIGN.md: embedded by default, distributed when
outgrown).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lodestar.data.schema import AUXILIARY, ENTITIES, SQL_TYPES, Entity, any_entity
from lodestar.errors import StorageError

ROW_COLUMN = "_row"  # the source row number carried by staged data, for error reports
#: Identifier kinds through which an anonymous event is attributed to a customer (identity
#: merge); phones, e-mails and IPs are shared too often to attribute behaviour by.
MERGE_ID_TYPES = ("device_id", "cookie_id", "open_id", "union_id", "app_user_id")
MERGE_ID_TYPES_SQL = ", ".join(f"'{t}'" for t in MERGE_ID_TYPES)


@dataclass(frozen=True)
class LoadStats:
    entity: str
    rows: int
    inserted: int
    updated: int
    skipped: int


@dataclass(frozen=True)
class KeyProblem:
    """Examples of duplicate keys or orphan references found in staged data."""

    count: int
    examples: list[tuple[int, str, int | None]]  # (source row, value, row it repeats)


class AnalyticalEngine(ABC):
    """What the rest of Lodestar needs from an analytical engine."""

    name: str

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create the canonical tables and views if they are missing."""

    @abstractmethod
    def tables(self) -> list[str]: ...

    @abstractmethod
    def count(self, table: str) -> int: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a read-only query and return the whole result as Arrow."""

    @abstractmethod
    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement that writes derived state (profile tables, views). Canonical tables
        are written only through ingestion (:meth:`apply`)."""

    @abstractmethod
    def duplicate_keys(self, entity: Entity, staged: Sequence[Path]) -> KeyProblem:
        """Keys that occur more than once in the staged files."""

    @abstractmethod
    def orphans(
        self,
        entity: Entity,
        column: str,
        staged: Sequence[Path],
        parent: Entity,
        parent_column: str,
        parent_staged: Sequence[Path],
    ) -> KeyProblem:
        """Staged rows whose ``column`` matches no parent row, stored or staged."""

    @abstractmethod
    def apply(self, staged: Mapping[str, Sequence[Path]]) -> dict[str, LoadStats]:
        """Apply staged loads for several entities atomically."""

    @abstractmethod
    def replace_table(self, name: str, data: pa.Table) -> None:
        """Create or replace a derived table (profiles, scores) from Arrow, atomically."""

    @abstractmethod
    def export_parquet(self, table: str, path: Path) -> Path: ...

    @abstractmethod
    def close(self) -> None: ...


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _files(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(_sql_str(str(p)) for p in paths) + "]"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBEngine(AnalyticalEngine):
    """Embedded DuckDB in one file. One connection, guarded by a lock: DuckDB 2 blocks a
    connection while a result is unfinished, so every call fetches its result completely."""

    name = "duckdb"

    def __init__(
        self,
        path: Path | str,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: Path | None = None,
        read_only: bool = False,
    ) -> None:
        import duckdb

        self.path = str(path)
        self._lock = threading.RLock()
        # Timestamps are stored in UTC. The ICU extension (time-zone arithmetic in SQL) is not
        # bundled with DuckDB 2 and cannot be downloaded offline, so zone conversion happens in
        # Arrow (validation) and, later, in Python where local time matters.
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        if temp_directory is not None:
            config["temp_directory"] = str(temp_directory)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
            # DuckDB draws its own progress bar on stderr for long queries; it would interleave
            # with Lodestar's (rich) progress and land in logs, so it is off.
            self._con.execute("SET enable_progress_bar = false")
        except duckdb.IOException as exc:
            raise StorageError(
                f"cannot open the analytical store {self.path}: {exc}",
                hint="another Lodestar process may hold it open; close it and retry",
            ) from exc

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._lock:
            yield self._con

    def ensure_schema(self) -> None:
        with self._cursor() as con:
            for entity in [*ENTITIES.values(), *AUXILIARY.values()]:
                cols = ", ".join(
                    f"{_ident(f.name)} {SQL_TYPES[f.type]}{' NOT NULL' if f.required else ''}"
                    for f in entity.fields
                )
                con.execute(f"CREATE TABLE IF NOT EXISTS {_ident(entity.name)} ({cols})")
            # Optional columns added to an entity after a workspace was created (such as
            # campaign_truth's expected_* columns) are added to its table, empty for old rows.
            present = set(con.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).fetchall())  # fmt: skip
            for entity in [*ENTITIES.values(), *AUXILIARY.values()]:
                for f in entity.fields:
                    if not f.required and (entity.name, f.name) not in present:
                        con.execute(f"ALTER TABLE {_ident(entity.name)} ADD COLUMN "
                                    f"{_ident(f.name)} {SQL_TYPES[f.type]}")  # fmt: skip
            # Identity merge: anonymous events are attributed to the customer that owns the
            # device / cookie / open id they carry, once that link is known.
            con.execute(
                f"""
                CREATE OR REPLACE VIEW events_resolved AS
                SELECT e.* REPLACE (coalesce(e.customer_id, i.customer_id) AS customer_id),
                       e.customer_id IS NULL AND i.customer_id IS NOT NULL AS identity_merged
                FROM events e
                LEFT JOIN (
                    SELECT id_value, min(customer_id) AS customer_id
                    FROM identities
                    WHERE id_type IN ({MERGE_ID_TYPES_SQL})
                    GROUP BY id_value
                ) i ON e.customer_id IS NULL AND e.anonymous_id = i.id_value
                """
            )
            # The consent in force per customer, channel and purpose: the latest record.
            con.execute(
                """
                CREATE OR REPLACE VIEW consents_current AS
                SELECT customer_id, channel, purpose, granted AND withdrawn_at IS NULL AS in_force,
                       ts, withdrawn_at, consent_id
                FROM consents
                QUALIFY row_number() OVER (
                    PARTITION BY customer_id, channel, purpose
                    ORDER BY ts DESC, consent_id DESC) = 1
                """
            )

            # Customers touched by loads since the last tag build, so a refresh recomputes only
            # them (customer_id NULL: every customer, e.g. a product changed).
            con.execute(
                "CREATE TABLE IF NOT EXISTS _lodestar_changes (entity VARCHAR NOT NULL, "
                "customer_id VARCHAR)"
            )

    def tables(self) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY table_name"
        )
        return [str(v) for v in rows.column(0).to_pylist()]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {_ident(table)}"))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self._cursor() as con:
            rel = con.sql(sql, params=list(params)) if params else con.sql(sql)
            return rel.to_arrow_table() if rel is not None else pa.table({})

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self._cursor() as con:
            rows = con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self._cursor() as con:
            con.execute(sql, params or [])

    def duplicate_keys(self, entity: Entity, staged: Sequence[Path]) -> KeyProblem:
        if not staged:
            return KeyProblem(0, [])
        key = ", ".join(_ident(k) for k in entity.key)
        shown = " || '/' || ".join(
            f"coalesce(CAST({_ident(k)} AS VARCHAR), '')" for k in entity.key
        )
        not_null = " AND ".join(f"{_ident(k)} IS NOT NULL" for k in entity.key)
        src = f"read_parquet({_files(staged)})"
        # Count per key first (a hash aggregate that spills), then fetch rows of repeated keys
        # only: lists per key for every key would hold the whole file in memory.
        sql = f"""
            WITH dk AS (
                SELECT {key} FROM {src} WHERE {not_null} GROUP BY {key} HAVING count(*) > 1
            ),
            r AS (
                SELECT {shown} AS shown, {ROW_COLUMN} AS row_,
                       min({ROW_COLUMN}) OVER (PARTITION BY {key}) AS first
                FROM {src} SEMI JOIN dk USING ({key})
            )
            SELECT count(*) FILTER (WHERE row_ <> first) AS n,
                   list({{'row': row_, 'value': shown, 'first': first}} ORDER BY row_)
                       FILTER (WHERE row_ <> first) AS examples
            FROM r
        """
        with self._cursor() as con:
            n, examples = con.execute(sql).fetchall()[0]
        return KeyProblem(
            int(n),
            [(e["row"], str(e["value"]), e["first"]) for e in (examples or [])[:20]],
        )

    def orphans(
        self,
        entity: Entity,
        column: str,
        staged: Sequence[Path],
        parent: Entity,
        parent_column: str,
        parent_staged: Sequence[Path],
    ) -> KeyProblem:
        if not staged:
            return KeyProblem(0, [])
        parents = f"SELECT {_ident(parent_column)} AS k FROM {_ident(parent.name)}"
        if parent_staged:
            parents += f" UNION ALL SELECT {_ident(parent_column)} FROM read_parquet({_files(parent_staged)})"
        sql = f"""
            WITH o AS (
                SELECT s.{ROW_COLUMN} AS r, s.{_ident(column)} AS v
                FROM read_parquet({_files(staged)}) s
                WHERE s.{_ident(column)} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM ({parents}) p WHERE p.k = s.{_ident(column)})
            )
            SELECT (SELECT count(*) FROM o),
                   (SELECT list({{'row': r, 'value': v}} ORDER BY r)[1:20] FROM o)
        """
        with self._cursor() as con:
            n, examples = con.execute(sql).fetchall()[0]
        return KeyProblem(int(n), [(e["row"], str(e["value"]), None) for e in examples or []])

    def apply(self, staged: Mapping[str, Sequence[Path]]) -> dict[str, LoadStats]:
        stats: dict[str, LoadStats] = {}
        with self._cursor() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                track = bool(
                    con.execute(
                        "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = '_lodestar_tag_state'"
                    ).fetchall()[0][0]
                )
                for name, files in staged.items():
                    if files:
                        entity = any_entity(name)
                        stats[name] = self._apply_one(con, entity, files)
                        if track:
                            self._record_changes(con, entity, files)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return stats

    def _record_changes(self, con: Any, entity: Entity, files: Sequence[Path]) -> None:
        name = _sql_str(entity.name)
        if "customer_id" in entity.field_names:
            con.execute(
                f"INSERT INTO _lodestar_changes SELECT DISTINCT {name}, customer_id "
                f"FROM read_parquet({_files(files)}) WHERE customer_id IS NOT NULL"
            )
            if entity.name == "events":  # anonymous events count for the customer they merge to
                con.execute(
                    f"INSERT INTO _lodestar_changes SELECT DISTINCT {name}, i.customer_id "
                    f"FROM read_parquet({_files(files)}) e JOIN identities i "
                    "ON e.customer_id IS NULL AND e.anonymous_id = i.id_value"
                )
        else:
            con.execute(f"INSERT INTO _lodestar_changes VALUES ({name}, NULL)")

    def _apply_one(self, con: Any, entity: Entity, files: Sequence[Path]) -> LoadStats:
        table = _ident(entity.name)
        cols = ", ".join(_ident(f.name) for f in entity.fields)
        src = f"(SELECT {cols} FROM read_parquet({_files(files)}))"
        rows = int(
            con.execute(f"SELECT count(*) FROM read_parquet({_files(files)})").fetchall()[0][0]
        )
        existing = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        if existing == 0:
            # Fast path for first loads (the synthetic bank): no key lookups.
            con.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM {src}")
            return LoadStats(entity.name, rows, rows, 0, 0)
        key = ", ".join(_ident(k) for k in entity.key)
        matched = int(
            con.execute(
                f"SELECT count(*) FROM {src} s SEMI JOIN {table} t USING ({key})"
            ).fetchall()[0][0]
        )
        if entity.on_existing == "upsert":
            cond = " AND ".join(f"t.{_ident(k)} = s.{_ident(k)}" for k in entity.key)
            con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {src} s WHERE {cond})")
            con.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM {src}")
            return LoadStats(entity.name, rows, rows - matched, matched, 0)
        con.execute(
            f"INSERT INTO {table} ({cols}) SELECT s.* FROM {src} s ANTI JOIN {table} t USING ({key})"
        )
        return LoadStats(entity.name, rows, rows - matched, 0, matched)

    def replace_table(self, name: str, data: pa.Table) -> None:
        if name in ENTITIES or name in AUXILIARY:
            raise StorageError(f"{name} is a canonical table: load it through ingestion")
        with self._cursor() as con:
            con.register("_replacement", data)
            try:
                con.execute(f"CREATE OR REPLACE TABLE {_ident(name)} AS SELECT * FROM _replacement")
            finally:
                con.unregister("_replacement")

    def export_parquet(self, table: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._cursor() as con:
            con.execute(f"COPY {_ident(table)} TO {_sql_str(str(path))} (FORMAT parquet)")
        return path

    def close(self) -> None:
        with self._lock:
            self._con.close()
