"""The operational store: SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL.

Schema changes go through Alembic migrations shipped in ``lodestar/storage/migrations``; opening a
store upgrades it to the newest revision. Writes happen inside ``store.begin()`` so a caller can
put an ingestion's rows, its run record and its audit entry in one transaction.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lodestar.errors import StorageError
from lodestar.storage.operational_tables import audit_log, ingestion_runs, metadata

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _redact(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


class OperationalStore:
    """Operational state of one workspace."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            self.engine: Engine = sa.create_engine(url, echo=echo, future=True)
        except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise StorageError(
                f"cannot use database URL {_redact(url)}: {exc}",
                hint="e.g. sqlite:///path/ops.sqlite or postgresql+psycopg://user@host/db "
                "(PostgreSQL needs: pip install 'lodestar[postgres]')",
            ) from exc
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.OperationalError as exc:
            raise StorageError(
                f"cannot reach the operational store at {_redact(self.url)}: {exc.orig}"
            ) from exc

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            except sa.exc.DatabaseError:
                return None

    @contextmanager
    def locked(self, *keys: str) -> Iterator[Connection]:
        """A transaction that writers serialise on, per key: what every counter with a limit
        needs (contact caps, budgets, a campaign's state, claiming outbox rows) so that a
        check and the write after it happen as one.

        * **SQLite**: ``BEGIN IMMEDIATE`` takes the database's write lock before any read, so
          one writer at a time (``keys`` change nothing). Threads of this process queue on a
          Python lock first: SQLite's busy handler polls with sleeps of 1 ms growing to
          100 ms, far longer than these transactions hold the lock, so contention inside one
          server process would otherwise show up as tail latency. Other processes wait in
          ``BEGIN IMMEDIATE``.
        * **PostgreSQL**: ``pg_advisory_xact_lock(hashtext(key))`` for each key, in sorted
          order (two callers never wait on each other in opposite orders), released at commit;
          under READ COMMITTED every read after the lock sees what was committed before it.
          Without keys it is a plain transaction (for ``FOR UPDATE SKIP LOCKED`` claims).
        """
        if self.dialect == "sqlite":
            with _writer_lock(self.url), self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                conn.exec_driver_sql("COMMIT")
            return
        if self.dialect != "postgresql":
            raise StorageError(f"locked transactions need SQLite or PostgreSQL, not "
                               f"{self.dialect}")  # fmt: skip
        with self.engine.begin() as conn:
            for key in sorted(set(keys)):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                             {"key": key})  # fmt: skip
            yield conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def insert_new(self, table: sa.Table, key: str) -> Any:
        """An INSERT that skips rows whose unique ``key`` column is already held (ON CONFLICT
        DO NOTHING on both engines): how idempotent appends (outbox, receipts, events,
        journey entries) add only what is new."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing(index_elements=[key])
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])

    def count(self, table: str) -> int:
        t = metadata.tables[table]
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    def bulk_upsert(self, conn: Connection, table: str, data: pa.Table) -> int:
        """Upsert an Arrow table by primary key: the fast path for millions of rows.

        PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT. SQLite: one
        prepared statement over tuples (timestamps as the text SQLAlchemy itself stores).
        """
        t = metadata.tables[table]
        columns = [c.name for c in t.columns]
        key = [c.name for c in t.primary_key.columns]
        data = data.select(columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        col_list = ", ".join(columns)
        if self.dialect == "postgresql":
            dbapi: Any = conn.connection.dbapi_connection  # a psycopg 3 connection
            with dbapi.cursor() as cur:
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS _load_{table} "
                    f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
                )
                cur.execute(f"TRUNCATE _load_{table}")
                with cur.copy(f"COPY _load_{table} ({col_list}) FROM STDIN") as copy:
                    for batch in data.to_batches(max_chunksize=50_000):
                        for row in zip(*(col.to_pylist() for col in batch.columns), strict=True):
                            copy.write_row(row)
                cur.execute(
                    f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM _load_{table} "
                    f"{conflict}"
                )
            return data.num_rows
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({col_list}) VALUES ({marks}) {conflict}"
        for batch in data.to_batches(max_chunksize=50_000):
            cols = [_sqlite_values(col) for col in batch.columns]
            conn.exec_driver_sql(sql, list(zip(*cols, strict=True)))
        return data.num_rows

    def find_run(self, fingerprint: str) -> dict[str, Any] | None:
        """The latest successful ingestion run with this fingerprint, if any."""
        q = (
            sa.select(ingestion_runs)
            .where(ingestion_runs.c.fingerprint == fingerprint)
            .where(ingestion_runs.c.status == "succeeded")
            .order_by(ingestion_runs.c.run_id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    def record_run(self, conn: Connection, **values: Any) -> int:
        result = conn.execute(sa.insert(ingestion_runs).values(**values))
        pk = result.inserted_primary_key
        return int(pk[0]) if pk else 0

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        q = sa.select(ingestion_runs).order_by(ingestion_runs.c.run_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_id: str | None = None,
        before: Any = None,
        after: Any = None,
    ) -> None:
        """Append one entry to the audit trail. Values are JSON; callers pass no PII."""
        conn.execute(
            sa.insert(audit_log).values(
                ts=datetime.now(UTC),
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                before=None if before is None else json.dumps(before, default=str),
                after=None if after is None else json.dumps(after, default=str),
            )
        )

    def audit_entries(self, limit: int = 50) -> list[dict[str, Any]]:
        q = sa.select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def dispose(self) -> None:
        self.engine.dispose()


_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(url: str) -> threading.Lock:
    """One lock per SQLite database in this process."""
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(url, threading.Lock())


def _sqlite_values(col: pa.Array) -> list[Any]:
    if pa.types.is_timestamp(col.type):
        # SQLAlchemy's SQLite DateTime format; Arrow prints the microseconds after %S.
        col = pc.strftime(col.cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    return col.to_pylist()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (the console, reports) work while a worker writes.
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives a crash
    # of the process (and cannot corrupt the file), only an OS crash or power cut may lose the
    # latest commits. FULL made each real-time decision wait for an fsync (about 4 ms here,
    # most of the decide budget); a bank's production store is PostgreSQL anyway.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
