"""Webhook secrets rotated with a grace period: the secret a channel was signed with before its
last rotation, and until when deliveries are signed with it too (beside the new one).

Revision ID: 0013_webhook_secret_rotation
Revises: 0012_request_resources
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_webhook_secret_rotation"
down_revision: str | None = "0012_request_resources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the previous secret and its end (NULL: no rotation under way)."""
    with op.batch_alter_table("delivery_channels") as batch:
        batch.add_column(sa.Column("previous_secret", sa.String(200)))
        batch.add_column(sa.Column("previous_secret_until", When))


def downgrade() -> None:
    """Drop the columns this revision added."""
    with op.batch_alter_table("delivery_channels") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret")
