"""Where the store is: the data directory and the database a command uses, said in one line,
and whether that database exists yet.

Every `tampere` command runs against one data directory (`TAMPERE_DATA_DIR`, `--data-dir`, or
`./var` relative to where the command is run) and one database (`TAMPERE_DATABASE_URL`, or
SQLite in the data directory). A command that only uses a store (issuing a token, importing a
layer) refuses when that store does not exist yet, naming the directory it looked in and how to
point it elsewhere: run from another directory, it would otherwise make a second, empty store
the server never reads, and its token would be unknown there. Only `tampere serve` and
`tampere migrate` create a store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from service.db.database import Database
from service.settings import Settings

# Alembic's own table: present once a schema has been created by `upgrade`.
SCHEMA_MARKER = "alembic_version"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """The data directory and database of a command, and how they were chosen."""

    data_dir: Path
    data_dir_from: str
    database: str
    sqlite_file: Path | None

    @classmethod
    def of(cls, settings: Settings, *, data_dir_option: bool = False) -> StoreLocation:
        """Where `settings` point; `data_dir_option` says the data directory came from `--data-dir`."""
        data_dir = settings.data_dir.resolve()
        if data_dir_option:
            chosen = "--data-dir"
        elif os.environ.get("TAMPERE_DATA_DIR"):
            chosen = "TAMPERE_DATA_DIR"
        else:
            chosen = f"the default ./var under {Path.cwd()}"
        url = make_url(settings.resolved_database_url())
        sqlite_file = None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            sqlite_file = Path(url.database).resolve()
            database = f"SQLite {sqlite_file}"
        else:
            # Credentials never leave the process, not even on the operator's own terminal.
            database = url.render_as_string(hide_password=True)
        return cls(data_dir=data_dir, data_dir_from=chosen, database=database, sqlite_file=sqlite_file)

    def describe(self) -> str:
        """One line: which data directory (and why) and which database."""
        return f"data dir {self.data_dir} ({self.data_dir_from}); database {self.database}"

    def missing_message(self, command: str) -> str:
        """Why `command` refuses to run on a store that does not exist, and what to do."""
        where = self.sqlite_file if self.sqlite_file is not None else self.database
        return (
            f"{command}: no Tampere database at {where} (data dir {self.data_dir}, from "
            f"{self.data_dir_from}). Point this command at the server's data dir with "
            "TAMPERE_DATA_DIR=DIR (or --data-dir DIR) and TAMPERE_DATABASE_URL if the server uses "
            "one, as `tampere serve` prints on start; or create a new store here with "
            "`tampere migrate` (`tampere serve` also creates it)."
        )


async def store_exists(location: StoreLocation, settings: Settings) -> bool:
    """Whether the database exists and holds a Tampere schema (SQLite: its file is there; any
    other database: the schema's migration table is there). Never creates anything."""
    if location.sqlite_file is not None:
        return location.sqlite_file.is_file()
    db = Database(settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous)
    try:
        found: bool = await db.read(lambda conn: inspect(conn).has_table(SCHEMA_MARKER))
        return found
    finally:
        await db.close()
