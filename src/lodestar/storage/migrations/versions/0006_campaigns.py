"""Campaigns, their versions and their lifecycle events (lodestar.campaigns.lifecycle).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("approved_version", sa.Integer),
        sa.Column("submitted_by", sa.String(128)),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_campaigns"),
    )
    op.create_table(
        "campaign_versions",
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "version", name="pk_campaign_versions"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.campaign_id"],
            name="fk_campaign_versions_campaign_id_campaigns",
        ),
    )
    op.create_table(
        "campaign_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_events"),
    )
    op.create_index(
        "ix_campaign_events_campaign_id", "campaign_events", ["campaign_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("campaign_events")
    op.drop_table("campaign_versions")
    op.drop_table("campaigns")
