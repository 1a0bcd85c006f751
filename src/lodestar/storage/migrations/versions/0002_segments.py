"""Saved segments: one row per name and every version of its expression.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_segments"),
    )
    op.create_table(
        "segment_versions",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("count_at_save", sa.BigInteger, nullable=False),
        sa.Column("population_at_save", sa.BigInteger, nullable=False),
        sa.Column("data_as_of", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_segment_versions"),
        sa.ForeignKeyConstraint(
            ["name"], ["segments.name"], name="fk_segment_versions_name_segments"
        ),
    )


def downgrade() -> None:
    op.drop_table("segment_versions")
    op.drop_table("segments")
