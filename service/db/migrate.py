"""Alembic migrations, run programmatically at startup and by the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from service.db.database import WRITE_LOCK_KEY, Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Tables PostGIS creates in `public`: never ours to drop, whatever autogenerate thinks.
FOREIGN_TABLES = frozenset({"spatial_ref_sys"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic filter: leave alone the tables of extensions (PostGIS) found in the database."""
    return not (type_ == "table" and reflected and compare_to is None and name in FOREIGN_TABLES)


def alembic_config() -> Config:
    """An Alembic configuration pointing at this package's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision, in one transaction."""
    if db.is_sqlite:
        # In the writer thread, waiting for a second process that migrates at the same time.
        await db.write(_upgrade, long=True)
        return
    async with db.async_engine.begin() as connection:
        # Several instances starting together migrate one after another.
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
