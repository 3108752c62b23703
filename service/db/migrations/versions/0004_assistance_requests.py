"""Assistance requests (WTDC Res. 34), their recipients and their history.

Revision ID: 0004_assistance_requests
Revises: 0003_feed_sources
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_assistance_requests"
down_revision: str | None = "0003_feed_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the request, recipient and history tables."""
    op.create_table(
        "assistance_requests",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("region", sa.String(32)),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(5000), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("related_alerts", sa.JSON(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requester_id", Id, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assistance_requests"),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["principals.id"], name="fk_assistance_requests_requester_id_principals"
        ),
    )
    op.create_index("ix_assistance_requests_region", "assistance_requests", ["region"])
    op.create_index("ix_assistance_requests_state", "assistance_requests", ["state"])
    op.create_index("ix_assistance_requests_country_state", "assistance_requests", ["country", "state"])
    op.create_table(
        "assistance_recipients",
        sa.Column("request_id", Id, nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("ack_within_seconds", sa.Integer()),
        sa.Column("deadline_at", When),
        sa.Column("escalate_to", sa.JSON(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", When),
        sa.Column("acknowledged_at", When),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.Column("ack_note", sa.String(1000)),
        sa.PrimaryKeyConstraint("request_id", "contact_id", name="pk_assistance_recipients"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["assistance_requests.id"],
            name="fk_assistance_recipients_request_id_assistance_requests",
        ),
    )
    op.create_index("ix_assistance_recipients_contact_id", "assistance_recipients", ["contact_id"])
    op.create_index(
        "ix_assistance_recipients_next_escalation_at", "assistance_recipients", ["next_escalation_at"]
    )
    op.create_table(
        "assistance_history",
        sa.Column("id", Id, primary_key=True),
        sa.Column("request_id", Id, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("note", sa.String(1000)),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assistance_history"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["assistance_requests.id"],
            name="fk_assistance_history_request_id_assistance_requests",
        ),
    )
    op.create_index("ix_assistance_history_request_id", "assistance_history", ["request_id"])


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("assistance_history")
    op.drop_table("assistance_recipients")
    op.drop_table("assistance_requests")
