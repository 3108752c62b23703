"""Principals, tokens, senders, alerts, pending references, events, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables and make the audit log append-only."""
    op.create_table(
        "principals",
        sa.Column("id", Id, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("country", sa.String(3)),
        sa.Column("office", sa.String(64)),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_principals"),
        sa.UniqueConstraint("key", name="uq_principals_key"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", Id, primary_key=True),
        sa.Column("principal_id", Id, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_tokens_principal_id_principals"
        ),
        sa.UniqueConstraint("token_hash", name="uq_tokens_token_hash"),
    )
    op.create_index("ix_tokens_principal_id", "tokens", ["principal_id"])
    op.create_table(
        "senders",
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("principal_id", Id, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("sender", name="pk_senders"),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name="fk_senders_principal_id_principals"
        ),
    )
    op.create_index("ix_senders_principal_id", "senders", ["principal_id"])
    op.create_table(
        "alerts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("sent_at", When, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("msg_type", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("version", sa.String(8)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_at", When),
        sa.Column("received_at", When, nullable=False),
        sa.Column("poster_id", Id, nullable=False),
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("impact", sa.JSON(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("geometry", sa.JSON()),
        sa.Column("min_lon", sa.Float()),
        sa.Column("min_lat", sa.Float()),
        sa.Column("max_lon", sa.Float()),
        sa.Column("max_lat", sa.Float()),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["poster_id"], ["principals.id"], name="fk_alerts_poster_id_principals"),
        sa.UniqueConstraint("sender", "identifier", "sent_at", name="uq_alerts_sender_identifier_sent_at"),
    )
    op.create_index("ix_alerts_state_status", "alerts", ["state", "status"])
    op.create_index("ix_alerts_expires_at", "alerts", ["expires_at"])
    op.create_table(
        "alert_tags",
        sa.Column("alert_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "kind", "value", name="pk_alert_tags"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_tags_alert_id_alerts"),
    )
    op.create_index("ix_alert_tags_kind_value", "alert_tags", ["kind", "value"])
    op.create_table(
        "pending_references",
        sa.Column("id", Id, primary_key=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("sent_at", When, nullable=False),
        sa.Column("referencing_alert_id", Id, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_references"),
        sa.ForeignKeyConstraint(
            ["referencing_alert_id"],
            ["alerts.id"],
            name="fk_pending_references_referencing_alert_id_alerts",
        ),
    )
    op.create_index("ix_pending_references_key", "pending_references", ["sender", "identifier", "sent_at"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", When, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("alert_id", Id),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_events_alert_id_alerts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_alert_id", "events", ["alert_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, nullable=False, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.String(200), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    _make_audit_log_append_only()


def _make_audit_log_append_only() -> None:
    # The chain detects tampering after the fact; the trigger refuses it up front.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    """Drop everything this revision created."""
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "audit_log",
        "events",
        "pending_references",
        "alert_tags",
        "alerts",
        "senders",
        "tokens",
        "principals",
    ):
        op.drop_table(table)
