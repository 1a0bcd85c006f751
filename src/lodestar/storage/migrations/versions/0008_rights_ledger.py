"""Rights ledger: journal entries, postings and issued coupons (lodestar.campaigns.rights).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lodestar.storage.operational_tables import Amount

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_entries",
        sa.Column("entry_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reference", sa.String(256), nullable=False),
        sa.Column("reverses", sa.Integer),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("entry_id", name="pk_rights_entries"),
        sa.ForeignKeyConstraint(
            ["reverses"], ["rights_entries.entry_id"],
            name="fk_rights_entries_reverses_rights_entries",
        ),
    )
    op.create_index("ix_rights_entries_idempotency_key", "rights_entries", ["idempotency_key"],
                    unique=True)  # fmt: skip
    op.create_index("ix_rights_entries_reverses", "rights_entries", ["reverses"], unique=True)
    op.create_index("ix_rights_entries_kind_reference", "rights_entries", ["kind", "reference"])
    op.create_table(
        "rights_postings",
        sa.Column("posting_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.PrimaryKeyConstraint("posting_id", name="pk_rights_postings"),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["rights_entries.entry_id"],
            name="fk_rights_postings_entry_id_rights_entries",
        ),
        sa.CheckConstraint("unit IN ('CNY', 'points')", name="ck_rights_postings_unit"),
    )
    op.create_index("ix_rights_postings_account", "rights_postings", ["account"])
    op.create_index("ix_rights_postings_entry_id", "rights_postings", ["entry_id"])
    op.create_table(
        "rights_coupons",
        sa.Column("coupon_id", sa.String(64), nullable=False),
        sa.Column("right_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cost", Amount, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issue_entry_id", sa.Integer, nullable=False),
        sa.Column("closed_entry_id", sa.Integer),
        sa.PrimaryKeyConstraint("coupon_id", name="pk_rights_coupons"),
        sa.ForeignKeyConstraint(
            ["issue_entry_id"], ["rights_entries.entry_id"],
            name="fk_rights_coupons_issue_entry_id_rights_entries",
        ),
    )
    op.create_index("ix_rights_coupons_right_id_status", "rights_coupons", ["right_id", "status"])
    op.create_index("ix_rights_coupons_customer_id", "rights_coupons", ["customer_id"])
    op.create_index("ix_rights_coupons_status_expires_at", "rights_coupons",
                    ["status", "expires_at"])  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        # Append-only, like the audit trail: corrections are reversing entries.
        op.execute(
            """
            CREATE FUNCTION rights_ledger_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'the rights ledger is append-only: post a reversing entry';
            END $$ LANGUAGE plpgsql
            """
        )
        for table in ("rights_entries", "rights_postings"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION rights_ledger_append_only()"
            )
    else:
        for table in ("rights_entries", "rights_postings"):
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'the rights ledger is append-only: post a "
                    "reversing entry'); END"
                )


def downgrade() -> None:
    op.drop_table("rights_coupons")
    op.drop_table("rights_postings")
    op.drop_table("rights_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS rights_ledger_append_only()")
