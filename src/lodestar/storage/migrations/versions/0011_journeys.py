"""Journeys' entries and the runner's cursors (lodestar.campaigns.journeys).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journey_entries",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("entry_key", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pc", sa.Integer, nullable=False),
        sa.Column("wake_at", sa.DateTime(timezone=True)),
        sa.Column("waiting_since", sa.DateTime(timezone=True)),
        sa.Column("until_event", sa.String(64)),
        sa.Column("channel", sa.String(32)),
        sa.Column("offer_id", sa.String(64)),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("trigger_event_id", sa.String(128)),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exited_at", sa.DateTime(timezone=True)),
        sa.Column("exit_reason", sa.String(32)),
        sa.Column("exit_label", sa.String(32)),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_journey_entries"),
    )
    op.create_index("ix_journey_entries_entry_key", "journey_entries", ["entry_key"],
                    unique=True)  # fmt: skip
    op.create_index("ix_journey_entries_status_wake_at", "journey_entries",
                    ["status", "wake_at"])  # fmt: skip
    op.create_index("ix_journey_entries_campaign_id_customer_id", "journey_entries",
                    ["campaign_id", "customer_id"])  # fmt: skip
    op.create_table(
        "journey_cursors",
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("checked_until", sa.DateTime(timezone=True)),
        sa.Column("rounds", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_journey_cursors"),
    )


def downgrade() -> None:
    op.drop_table("journey_cursors")
    op.drop_table("journey_entries")
