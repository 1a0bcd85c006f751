"""Alembic environment: runs against the connection Lodestar hands over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from lodestar.storage.operational_tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
