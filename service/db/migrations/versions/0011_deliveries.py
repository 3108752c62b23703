"""Deliveries: webhook and e-mail channels of contact points, the outbox, its attempts and cursor.

Revision ID: 0011_deliveries
Revises: 0010_switchboard_routing
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_deliveries"
down_revision: str | None = "0010_switchboard_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the channels, deliveries, attempts and cursor tables."""
    op.create_table(
        "delivery_channels",
        sa.Column("id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("principal_id", Id, nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(200)),
        sa.Column("language", sa.String(35)),
        sa.Column("digest_minutes", sa.Float()),
        sa.Column("next_digest_at", When),
        sa.Column("after_event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", When),
        sa.Column("last_success_at", When),
        sa.Column("last_failure_at", When),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", When),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_channels"),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_delivery_channels_principal_id_principals"
        ),
    )
    op.create_index("ix_delivery_channels_contact_id_kind", "delivery_channels", ["contact_id", "kind"])
    op.create_table(
        "deliveries",
        sa.Column("id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("give_up_at", When, nullable=False),
        sa.Column("last_attempt_at", When),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.String(1000)),
        sa.Column("delivered_at", When),
        sa.Column("dead_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["delivery_channels.id"], name="fk_deliveries_channel_id_delivery_channels"
        ),
        sa.UniqueConstraint("channel_id", "event_id", name="uq_deliveries_channel_id_event_id"),
    )
    op.create_index(
        "ix_deliveries_channel_id_state_next_attempt_at",
        "deliveries",
        ["channel_id", "state", "next_attempt_at"],
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", Id, nullable=False),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("error", sa.String(1000)),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name="fk_delivery_attempts_delivery_id_deliveries"
        ),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "delivery_cursor",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_delivery_cursor"),
    )


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("delivery_cursor")
    op.drop_index("ix_delivery_attempts_delivery_id", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_channel_id_state_next_attempt_at", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_delivery_channels_contact_id_kind", table_name="delivery_channels")
    op.drop_table("delivery_channels")
