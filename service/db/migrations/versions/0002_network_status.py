"""Network status reports (sites or areas up, degraded or down).

Revision ID: 0002_network_status
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_network_status"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the table of status reports."""
    op.create_table(
        "network_status_reports",
        sa.Column("id", Id, primary_key=True),
        sa.Column("time", When, nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reporter_id", Id, nullable=False),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("area", sa.JSON()),
        sa.Column("min_lon", sa.Float()),
        sa.Column("min_lat", sa.Float()),
        sa.Column("max_lon", sa.Float()),
        sa.Column("max_lat", sa.Float()),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(1000)),
        sa.PrimaryKeyConstraint("id", name="pk_network_status_reports"),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["principals.id"], name="fk_network_status_reports_reporter_id_principals"
        ),
    )
    op.create_index("ix_network_status_reports_time", "network_status_reports", ["time"])


def downgrade() -> None:
    """Drop the table of status reports."""
    op.drop_index("ix_network_status_reports_time", table_name="network_status_reports")
    op.drop_table("network_status_reports")
