"""The live customer-event feed that triggers journeys (lodestar.campaigns.event_feed).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_feed",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("anonymous_id", sa.String(128)),
        sa.Column("event_name", sa.String(64), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.Text),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_event_feed"),
    )
    op.create_index("ix_event_feed_event_id", "event_feed", ["event_id"], unique=True)
    op.create_index("ix_event_feed_customer_id_event_name", "event_feed",
                    ["customer_id", "event_name"])  # fmt: skip


def downgrade() -> None:
    op.drop_table("event_feed")
