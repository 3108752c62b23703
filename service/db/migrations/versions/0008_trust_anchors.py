"""Trust anchors per CAP sender, and the senders whose signature is required.

A signature is `verified` only when its certificate chains to an anchor configured for the
alert's sender (`tampere trust add`); a sender can require a verified signature
(`tampere trust require`).

Revision ID: 0008_trust_anchors
Revises: 0007_jurisdiction
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_trust_anchors"
down_revision: str | None = "0007_jurisdiction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create trust_anchors and signature_requirements."""
    op.create_table(
        "trust_anchors",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trust_anchors"),
        sa.UniqueConstraint("sender", "fingerprint", name="uq_trust_anchors_sender_fingerprint"),
    )
    op.create_table(
        "signature_requirements",
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("required_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("required_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("sender", name="pk_signature_requirements"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("signature_requirements")
    op.drop_table("trust_anchors")
