"""Alerts: content digest (conflicts) and who relayed them; events: the message that caused them.

- `alerts.digest`: SHA-256 of the canonical content (cap.digest). Left NULL for the rows
  already stored; the service computes it from `raw` when first needed.
- `alerts.relayed_by`: the principal that relayed a message (the operator); NULL before.
- `events.by_alert_id`: the Update/Cancel/Ack/Error behind an event, filled in from the `by`
  member of the payloads already stored.

Revision ID: 0007_jurisdiction
Revises: 0006_event_parties
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_jurisdiction"
down_revision: str | None = "0006_event_parties"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The event types whose payload names the message that caused them (service.alerts.lifecycle).
_CAUSED = ("alert.updated", "alert.cancelled", "alert.acknowledged", "alert.error", "alert.reference-refused")


def upgrade() -> None:
    """Add the columns and fill events.by_alert_id from the stored payloads."""
    # Plain ADD COLUMN (no table rebuild: the events table keeps its AUTOINCREMENT on SQLite).
    op.add_column("alerts", sa.Column("digest", sa.String(64)))
    op.add_column("alerts", sa.Column("relayed_by", sa.String(200)))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its REFERENCES clause, not a constraint to a table.
        op.execute(
            "ALTER TABLE events ADD COLUMN by_alert_id INTEGER "
            "CONSTRAINT fk_events_by_alert_id_alerts REFERENCES alerts (id)"
        )
    else:
        op.add_column("events", sa.Column("by_alert_id", Id))
        op.create_foreign_key("fk_events_by_alert_id_alerts", "events", "alerts", ["by_alert_id"], ["id"])
    events = sa.table(
        "events",
        sa.column("id", Id),
        sa.column("type", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("by_alert_id", Id),
    )
    alerts = sa.table("alerts", sa.column("id", Id))
    conn = op.get_bind()
    known = set(conn.execute(sa.select(alerts.c.id)).scalars())
    for row in conn.execute(sa.select(events.c.id, events.c.payload).where(events.c.type.in_(_CAUSED))).all():
        by = (row.payload or {}).get("by")
        if isinstance(by, int) and by in known:
            conn.execute(sa.update(events).where(events.c.id == row.id).values(by_alert_id=by))


def downgrade() -> None:
    """Drop the columns."""
    if op.get_bind().dialect.name == "sqlite":
        # The table is rebuilt without the column (and its REFERENCES), keeping AUTOINCREMENT.
        with op.batch_alter_table("events", table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.drop_column("by_alert_id")
    else:
        op.drop_constraint("fk_events_by_alert_id_alerts", "events", type_="foreignkey")
        op.drop_column("events", "by_alert_id")
    op.drop_column("alerts", "relayed_by")
    op.drop_column("alerts", "digest")
