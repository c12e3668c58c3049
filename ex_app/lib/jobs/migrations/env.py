"""Alembic environment for the job database.

Migrations only run through :func:`ex_app.lib.jobs.db.upgrade_database`, which hands over a connection that is
already inside a transaction (and holds the migration lock); Alembic then runs inside that transaction.
"""

from __future__ import annotations

from alembic import context

from ex_app.lib.jobs.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the job database migrations through ex_app.lib.jobs.db.upgrade_database()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite can only change a table by copying it; batch mode lets later migrations do that for us.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
