"""Delivery receipts and responses from the gateways' webhooks (lodestar.campaigns.delivery).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(256)),
        sa.Column("provider_message_id", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_events"),
    )
    op.create_index("ix_delivery_events_event_key", "delivery_events", ["event_key"],
                    unique=True)  # fmt: skip
    op.create_index("ix_delivery_events_idempotency_key", "delivery_events",
                    ["idempotency_key"])  # fmt: skip


def downgrade() -> None:
    op.drop_table("delivery_events")
