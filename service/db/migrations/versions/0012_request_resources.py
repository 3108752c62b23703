"""Assistance requests finished: a location and a GLIDE number on a request, and the EDXL-RM
messages that follow it (CommitResource, ReleaseResource, RequestReturn, ResponseToRequestReturn).

Revision ID: 0012_request_resources
Revises: 0011_deliveries
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_request_resources"
down_revision: str | None = "0011_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add location and glide to requests (NULL for requests filed before); create the messages."""
    with op.batch_alter_table("assistance_requests") as batch:
        batch.add_column(sa.Column("location", sa.JSON()))
        batch.add_column(sa.Column("glide", sa.String(32)))
    op.create_index("ix_assistance_requests_glide", "assistance_requests", ["glide"])
    op.create_table(
        "assistance_messages",
        sa.Column("request_id", Id, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("sent_at", When, nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("preceding", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(1000)),
        sa.Column("response", sa.String(16)),
        sa.PrimaryKeyConstraint("request_id", "number", name="pk_assistance_messages"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["assistance_requests.id"],
            name="fk_assistance_messages_request_id_assistance_requests",
        ),
    )


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("assistance_messages")
    op.drop_index("ix_assistance_requests_glide", table_name="assistance_requests")
    with op.batch_alter_table("assistance_requests") as batch:
        batch.drop_column("glide")
        batch.drop_column("location")
