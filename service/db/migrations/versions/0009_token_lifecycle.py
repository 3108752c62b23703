"""Token expiry and revocation (tokens.expires_at, tokens.revoked_at), and browser sessions.

Revision ID: 0009_token_lifecycle
Revises: 0008_trust_anchors
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_token_lifecycle"
down_revision: str | None = "0008_trust_anchors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the lifecycle columns of tokens and create the table of browser sessions."""
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("expires_at", When))
        batch.add_column(sa.Column("revoked_at", When))
    op.create_table(
        "sessions",
        sa.Column("id", Id, nullable=False),
        sa.Column("token_id", Id, nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], name="fk_sessions_token_id_tokens"),
        sa.UniqueConstraint("session_hash", name="uq_sessions_session_hash"),
    )
    op.create_index("ix_sessions_token_id", "sessions", ["token_id"])


def downgrade() -> None:
    """Drop the sessions and the lifecycle columns."""
    op.drop_index("ix_sessions_token_id", table_name="sessions")
    op.drop_table("sessions")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
