"""Storage: SQLAlchemy 2 (async) models, the database handle and Alembic migrations."""

from service.db.database import Database
from service.db.migrate import upgrade

__all__ = ["Database", "upgrade"]
