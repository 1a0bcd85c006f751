"""In-app inbox messages (lodestar.channels.inbox).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("idempotency_key", sa.String(256), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_messages"),
    )
    op.create_index(
        "ix_inbox_messages_idempotency_key", "inbox_messages", ["idempotency_key"], unique=True
    )
    op.create_index(
        "ix_inbox_messages_customer_id_created_at",
        "inbox_messages",
        ["customer_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("inbox_messages")
