"""The switchboard: the contact-point registry (seeded from the packaged tables), each alert's
recipients with their acknowledgement and escalation, and `alerts.unrouted`.

Alerts stored before this revision keep their recipients, read from their old routing JSON
into the new shape (`rule` "before-0010", no provenance was recorded then) and into
`alert_recipients` without a pending escalation: their deadlines were never kept, and waking
them now would escalate every old alert at once.

Revision ID: 0010_switchboard_routing
Revises: 0009_token_lifecycle
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from contact_points.registry import ContactPoint, seed_contacts
from geo.reference import ReferenceTables

revision: str = "0010_switchboard_routing"
down_revision: str | None = "0009_token_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
LEGACY_RULE = "before-0010"
BATCH = 500


def upgrade() -> None:
    """Create the registry and the recipients tables, seed the one, fill the other."""
    op.create_table(
        "contact_points",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(32)),
        sa.Column("country", sa.String(3)),
        sa.Column("city", sa.String(200)),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("coverage", sa.String(16), nullable=False),
        sa.Column("people", sa.JSON(), nullable=False),
        sa.Column("head", sa.String(200)),
        sa.Column("deputies", sa.JSON(), nullable=False),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("phone", sa.String(40)),
        sa.Column("emergency_frequencies", sa.JSON(none_as_null=True)),
        sa.Column("tampere_convention", sa.Boolean()),
        sa.Column("source", sa.Text()),
        sa.Column("verification", sa.String(64)),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_points"),
    )
    op.create_index("ix_contact_points_kind", "contact_points", ["kind"])
    op.create_table(
        "contact_point_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_point_revision"),
    )
    op.create_table(
        "alert_recipients",
        sa.Column("alert_id", Id, nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("real", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("notified_at", When, nullable=False),
        sa.Column("ack_within_seconds", sa.Integer()),
        sa.Column("deadline_at", When),
        sa.Column("escalate_to", sa.JSON(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", When),
        sa.Column("escalated_to", sa.String(200)),
        sa.Column("escalated_at", When),
        sa.Column("acknowledged_at", When),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.PrimaryKeyConstraint("alert_id", "contact_id", name="pk_alert_recipients"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_recipients_alert_id_alerts"),
    )
    op.create_index("ix_alert_recipients_contact_id", "alert_recipients", ["contact_id"])
    op.create_index("ix_alert_recipients_next_escalation_at", "alert_recipients", ["next_escalation_at"])
    # Plain ADD COLUMN: no rebuild of the alerts table, which others reference.
    op.add_column("alerts", sa.Column("unrouted", sa.Boolean(), nullable=False, server_default=sa.false()))

    connection = op.get_bind()
    now = datetime.now(UTC)
    seeded = seed_contacts(ReferenceTables.load())
    contacts = sa.table(
        "contact_points",
        *(sa.column(name) for name in _CONTACT_COLUMNS),
        sa.column("countries", sa.JSON()),
        sa.column("people", sa.JSON()),
        sa.column("deputies", sa.JSON()),
        sa.column("emails", sa.JSON()),
        sa.column("emergency_frequencies", sa.JSON(none_as_null=True)),
        sa.column("created_at", When),
        sa.column("updated_at", When),
    )
    connection.execute(sa.insert(contacts), [_contact_row(c, now) for c in seeded])
    revision_table = sa.table(
        "contact_point_revision", sa.column("id"), sa.column("revision"), sa.column("changed_at", When)
    )
    connection.execute(sa.insert(revision_table).values(id=1, revision=1, changed_at=now))
    _convert_alert_routing(connection)


_CONTACT_COLUMNS = (
    "id",
    "kind",
    "name",
    "region",
    "country",
    "city",
    "coverage",
    "head",
    "phone",
    "tampere_convention",
    "source",
    "verification",
    "updated_by",
)


def _contact_row(contact: ContactPoint, now: datetime) -> dict[str, Any]:
    return {
        "id": contact.id,
        "kind": contact.kind,
        "name": contact.name,
        "region": contact.region,
        "country": contact.country,
        "city": contact.city,
        "countries": sorted(contact.serves),
        "coverage": contact.coverage,
        "people": [],
        "head": None,
        "deputies": [],
        "emails": [],
        "phone": None,
        "emergency_frequencies": None,
        "tampere_convention": None,
        "source": contact.source,
        "verification": contact.verification,
        "created_at": now,
        "updated_at": now,
        "updated_by": "migration 0010",
    }


def _convert_alert_routing(connection: sa.Connection) -> None:
    """Old routing entries ({contact, priority, real, ack_within_seconds, escalate_to, reason})
    to the new shape, and to recipient rows without a pending escalation."""
    alerts = sa.table(
        "alerts", sa.column("id"), sa.column("routing", sa.JSON()), sa.column("received_at", When)
    )
    recipients = sa.table(
        "alert_recipients",
        *(sa.column(name) for name in _RECIPIENT_SCALARS),
        sa.column("escalate_to", sa.JSON()),
        *(sa.column(name, When) for name in ("notified_at", "deadline_at")),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(alerts.c.id, alerts.c.routing, alerts.c.received_at)
            .where(alerts.c.id > last)
            .order_by(alerts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            entries, recipient_rows = _converted(row.id, row.routing or [], _aware(row.received_at))
            if recipient_rows:
                connection.execute(sa.insert(recipients), recipient_rows)
            connection.execute(sa.update(alerts).where(alerts.c.id == row.id).values(routing=entries))
        last = rows[-1].id


_RECIPIENT_SCALARS = (
    "alert_id",
    "contact_id",
    "position",
    "kind",
    "priority",
    "real",
    "origin",
    "ack_within_seconds",
    "escalation_level",
)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _converted(
    alert_id: int, routing: list[Any], received_at: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entries: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, old in enumerate(routing):
        contact = old.get("contact") or {}
        contact_id = contact.get("id") if isinstance(contact, dict) else None
        if not contact_id or contact_id in seen or "contact_point" in old:
            if "contact_point" in old:
                entries.append(old)  # already in the new shape
            continue
        seen.add(contact_id)
        within = old.get("ack_within_seconds")
        reasons = [old["reason"]] if old.get("reason") else []
        entry = {
            "contact_point": contact_id,
            "kind": contact.get("kind"),
            "name": contact.get("name"),
            "priority": old.get("priority"),
            "real": bool(old.get("real", True)),
            "ack_within_seconds": within,
            "ack_deadline": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "escalate_to": list(old.get("escalate_to") or []),
            "escalation_level": 0,
            "escalated_to": None,
            "escalated_at": None,
            "reasons": reasons,
            "rule": LEGACY_RULE,
            "rules": [LEGACY_RULE],
            "provenance": [],
            "origin": "rule",
        }
        entries.append(entry)
        rows.append(
            {
                "alert_id": alert_id,
                "contact_id": contact_id,
                "position": position,
                "kind": str(contact.get("kind") or "")[:32],
                "priority": str(old.get("priority") or "routine"),
                "real": entry["real"],
                "origin": "rule",
                "ack_within_seconds": within,
                "escalation_level": 0,
                "escalate_to": entry["escalate_to"],
                "notified_at": received_at,
                "deadline_at": None,
            }
        )
    return entries, rows


def downgrade() -> None:
    """Drop what this revision created (alerts keep their routing JSON in the new shape)."""
    op.drop_index("ix_alert_recipients_next_escalation_at", table_name="alert_recipients")
    op.drop_index("ix_alert_recipients_contact_id", table_name="alert_recipients")
    op.drop_table("alert_recipients")
    op.drop_column("alerts", "unrouted")
    op.drop_table("contact_point_revision")
    op.drop_index("ix_contact_points_kind", table_name="contact_points")
    op.drop_table("contact_points")
