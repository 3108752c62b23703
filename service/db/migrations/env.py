"""Alembic environment: runs on the connection handed over by `service.db.migrate`."""

from __future__ import annotations

from alembic import context

from service.db.migrate import include_object
from service.db.models import Base

target_metadata = Base.metadata


def run_offline() -> None:
    """Emit SQL for the URL given in the Alembic config (`sqlalchemy.url`)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        include_object=include_object,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate on the live connection the caller opened (sync side of an async engine)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through service.db.migrate.upgrade()")
    # render_as_batch: SQLite alters tables by copy-and-move; PostgreSQL ignores it.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
