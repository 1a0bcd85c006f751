"""The event feed keeps the rest of an event's canonical fields (platform, page, session...),
so events posted through the API reach the analytical ``events`` table whole
(``lodestar events flush``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_feed") as batch:
        batch.add_column(sa.Column("context", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("event_feed") as batch:
        batch.drop_column("context")
