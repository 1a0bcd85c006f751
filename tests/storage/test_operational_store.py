"""The operational store on SQLite and PostgreSQL: migrations match the tables, upgrades are
idempotent and reversible, the audit trail is append-only, bad URLs are explained."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lodestar.errors import StorageError
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import metadata


@pytest.fixture
def store(tmp_path, database_url) -> OperationalStore:
    url = database_url or f"sqlite:///{tmp_path / 'ops.sqlite'}"
    s = OperationalStore(url)
    s.migrate()
    yield s
    s.dispose()


def test_migrations_build_exactly_the_declared_tables(store: OperationalStore) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert store.revision() == "0014"


def test_migrate_is_idempotent_and_reversible(store: OperationalStore) -> None:
    from alembic import command
    from alembic.config import Config

    from lodestar.storage.operational import MIGRATIONS

    store.migrate()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert "consents" not in sa.inspect(store.engine).get_table_names()
    store.migrate()
    assert {"consents", "audit_log", "ingestion_runs"} <= set(
        sa.inspect(store.engine).get_table_names()
    )


def test_audit_log_is_append_only(store: OperationalStore) -> None:
    with store.begin() as conn:
        store.audit(conn, actor="u1", action="approve", entity="campaign", entity_id="C1",
                    before={"state": "submitted"}, after={"state": "approved"})  # fmt: skip
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.begin() as conn:
            conn.execute(sa.text(statement))
    entry = store.audit_entries()[0]
    assert entry["actor"] == "u1" and '"approved"' in entry["after"]


def test_bulk_upsert_replaces_by_key(store: OperationalStore) -> None:
    ts = pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC"))
    rows = pa.table({
        "consent_id": ["K1", "K2"], "customer_id": ["C1", "C2"], "channel": ["sms", "email"],
        "purpose": ["marketing", "service"], "granted": [True, False], "source": ["app", None],
        "ts": ts, "withdrawn_at": pa.nulls(2, pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    with store.begin() as conn:
        assert store.bulk_upsert(conn, "consents", rows) == 2
    changed = rows.set_column(4, "granted", pa.array([False, True])).slice(0, 1)
    with store.begin() as conn:
        store.bulk_upsert(conn, "consents", changed)
    assert store.count("consents") == 2
    with store.engine.connect() as conn:
        granted = dict(conn.execute(sa.text("SELECT consent_id, granted FROM consents")).all())
    assert bool(granted["K1"]) is False and bool(granted["K2"]) is False


def test_find_run_sees_only_successful_runs(store: OperationalStore) -> None:
    now = datetime.now(UTC)
    common = {"kind": "customers", "source": "a.csv", "rows_read": 1, "rows_inserted": 1,
              "rows_updated": 0, "rows_skipped": 0, "actor": "t", "started_at": now,
              "finished_at": now}  # fmt: skip
    with store.begin() as conn:
        store.record_run(conn, fingerprint="f1", status="failed", **common)
    assert store.find_run("f1") is None
    with store.begin() as conn:
        run_id = store.record_run(conn, fingerprint="f1", status="succeeded", **common)
    assert store.find_run("f1")["run_id"] == run_id
    assert store.find_run("f2") is None


def test_bad_urls_are_explained_without_leaking_passwords() -> None:
    with pytest.raises(StorageError) as info:
        OperationalStore("nosuchdb://user:s3cret@host/db")
    assert "s3cret" not in str(info.value)
    assert "postgresql+psycopg" in str(info.value)
    unreachable = OperationalStore("postgresql+psycopg://u:s3cret@127.0.0.1:1/db")
    with pytest.raises(StorageError) as info:
        unreachable.migrate()
    assert "s3cret" not in str(info.value) and "cannot reach" in str(info.value)
