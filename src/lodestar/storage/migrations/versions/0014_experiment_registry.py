"""The experiment registry, with layers of mutually exclusive experiments
(lodestar.experiments.registry).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("layer", sa.String(64), nullable=False),
        sa.Column("arms", sa.Text, nullable=False),
        sa.Column("holdout", sa.Float, nullable=False),
        sa.Column("bucket_start", sa.Integer, nullable=False),
        sa.Column("bucket_end", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("bucket_start >= 0 AND bucket_end <= 10000 "
                           "AND bucket_start < bucket_end", name="ck_experiments_buckets"),
        sa.PrimaryKeyConstraint("key", name="pk_experiments"),
    )
    op.create_index("ix_experiments_layer_status", "experiments", ["layer", "status"])


def downgrade() -> None:
    op.drop_table("experiments")
