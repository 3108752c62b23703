"""Polled CAP feeds (feed_sources) and the entries already handled (feed_entries_seen).

Revision ID: 0003_feed_sources
Revises: 0002_network_status
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_feed_sources"
down_revision: str | None = "0002_network_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the feed source and seen-entry tables."""
    op.create_table(
        "feed_sources",
        sa.Column("id", Id, primary_key=True),
        sa.Column("principal_id", Id, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("etag", sa.String(500)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("next_poll_at", When, nullable=False),
        sa.Column("last_poll_at", When),
        sa.Column("last_success_at", When),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error_at", When),
        sa.Column("last_error_rule", sa.String(64)),
        sa.Column("last_error_message", sa.String(1000)),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("newest_entry_at", When),
        sa.Column("feed_kind", sa.String(16)),
        sa.Column("entries", sa.Integer()),
        sa.Column("messages_ingested", sa.Integer(), nullable=False),
        sa.Column("messages_replayed", sa.Integer(), nullable=False),
        sa.Column("messages_rejected", sa.Integer(), nullable=False),
        sa.Column("last_rejection_at", When),
        sa.Column("last_rejection_rule", sa.String(64)),
        sa.Column("last_rejection_message", sa.String(1000)),
        sa.PrimaryKeyConstraint("id", name="pk_feed_sources"),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_feed_sources_principal_id_principals"
        ),
        sa.UniqueConstraint("principal_id", "url", name="uq_feed_sources_principal_id_url"),
    )
    op.create_index("ix_feed_sources_principal_id", "feed_sources", ["principal_id"])
    op.create_index("ix_feed_sources_next_poll_at", "feed_sources", ["next_poll_at"])
    op.create_table(
        "feed_entries_seen",
        sa.Column("source_id", Id, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("seen_at", When, nullable=False),
        sa.PrimaryKeyConstraint("source_id", "key", name="pk_feed_entries_seen"),
        sa.ForeignKeyConstraint(
            ["source_id"], ["feed_sources.id"], name="fk_feed_entries_seen_source_id_feed_sources"
        ),
    )


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("feed_entries_seen")
    op.drop_table("feed_sources")
