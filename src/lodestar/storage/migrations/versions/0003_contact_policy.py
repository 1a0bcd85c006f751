"""Contact policy: stored policy versions, the do-not-contact list, the contact ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_policies",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_contact_policies"),
    )
    op.create_table(
        "do_not_contact",
        sa.Column("entry_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("entry_id", name="pk_do_not_contact"),
    )
    op.create_index("ix_do_not_contact_customer_id", "do_not_contact", ["customer_id"])
    op.create_table(
        "contact_ledger",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_day", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_ledger"),
    )
    op.create_index("ix_contact_ledger_customer_id_ts", "contact_ledger", ["customer_id", "ts"])


def downgrade() -> None:
    op.drop_table("contact_ledger")
    op.drop_table("do_not_contact")
    op.drop_table("contact_policies")
