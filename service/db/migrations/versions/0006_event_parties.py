"""The parties of a request's event (events.parties), so the stream decides as REST does.

Events about an assistance request already stored get the parties of their request: its
requester, its country and the contact points it is routed to.

Revision ID: 0006_event_parties
Revises: 0005_cap_json_models
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_event_parties"
down_revision: str | None = "0005_cap_json_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add events.parties and fill it in for the request events already stored."""
    op.add_column("events", sa.Column("parties", sa.JSON()))
    events = sa.table(
        "events",
        sa.column("id", Id),
        sa.column("type", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("parties", sa.JSON),
    )
    requests = sa.table(
        "assistance_requests",
        sa.column("id", Id),
        sa.column("country", sa.String),
        sa.column("requester_id", Id),
    )
    recipients = sa.table(
        "assistance_recipients",
        sa.column("request_id", Id),
        sa.column("contact_id", sa.String),
        sa.column("position", sa.Integer),
    )
    conn = op.get_bind()
    parties: dict[int, dict[str, object]] = {}
    for row in conn.execute(sa.select(requests.c.id, requests.c.country, requests.c.requester_id)):
        parties[row.id] = {"requester_id": row.requester_id, "country": row.country, "contacts": []}
    for row in conn.execute(
        sa.select(recipients.c.request_id, recipients.c.contact_id).order_by(
            recipients.c.request_id, recipients.c.position
        )
    ):
        if row.request_id in parties:
            contacts = parties[row.request_id]["contacts"]
            assert isinstance(contacts, list)
            contacts.append(row.contact_id)
    if not parties:
        return
    for row in conn.execute(sa.select(events.c.id, events.c.payload).where(events.c.type.like("request.%"))):
        found = parties.get((row.payload or {}).get("request_id"))
        if found is not None:
            conn.execute(sa.update(events).where(events.c.id == row.id).values(parties=found))


def downgrade() -> None:
    """Drop events.parties."""
    op.drop_column("events", "parties")
