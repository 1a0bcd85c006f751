"""Tables of the operational store (SQLAlchemy Core). Alembic migrations create and evolve them;
this module is the current shape, used by queries and by ``alembic check`` in the tests.

Operational state is what several processes write concurrently and what must be exact: ingestion
runs, consents (checked again at send time), the audit trail; campaigns, the outbox, coupons and
approvals join it in later issues.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    }
)

ingestion_runs = Table(
    "ingestion_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("source", Text, nullable=False),
    #: sha256 of the file bytes, the mapping and the kind: the same load twice is a no-op.
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows_read", BigInteger, nullable=False, default=0),
    Column("rows_inserted", BigInteger, nullable=False, default=0),
    Column("rows_updated", BigInteger, nullable=False, default=0),
    Column("rows_skipped", BigInteger, nullable=False, default=0),
    Column("actor", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("details", Text),
    Index("ix_ingestion_runs_fingerprint", "fingerprint"),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("source", String(32)),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True)),
    Index("ix_consents_customer_channel", "customer_id", "channel", "purpose"),
)

#: Append-only: rows are inserted, never updated or deleted (PostgreSQL enforces it with a
#: trigger, see the migration).
audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("entity_id", String(256)),
    Column("before", Text),
    Column("after", Text),
    Index("ix_audit_log_ts", "ts"),
)

#: Saved audiences (segments): one row per name, pointing at its latest version.
segments = Table(
    "segments",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Every version of every segment; versions are never changed once written.
segment_versions = Table(
    "segment_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    #: The canonical text of the expression (lodestar.segments.printer).
    Column("expression", Text, nullable=False),
    Column("description", Text),
    #: Members when saved, out of how many customers, on which data date.
    Column("count_at_save", BigInteger, nullable=False),
    Column("population_at_save", BigInteger, nullable=False),
    Column("data_as_of", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
    ForeignKeyConstraint(["name"], ["segments.name"]),
)
