"""Alembic environment: the connection is handed in by ``flagward.storage.migrate``."""

from __future__ import annotations

from alembic import context

from flagward.storage.records import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
