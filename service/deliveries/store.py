"""Delivery channels in the store: registering a webhook or an e-mail subscription for a contact
point, listing and deleting them, their delivery log, and redelivery on request. The outbox
(filling, claiming, recording tries) is `service.deliveries.outbox`; the HTTP views are
`service.deliveries.routes`."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from contact_points.registry import ContactPoint
from service import audit
from service.db.models import Delivery, DeliveryAttempt, DeliveryChannel, utcnow
from service.deliveries.contacts import contact_principal_id
from service.errors import NotFound
from service.events.stream import latest_event_id

WEBHOOK = "webhook"
EMAIL = "email"
KINDS = (WEBHOOK, EMAIL)
PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
STATES = (PENDING, DELIVERED, DEAD)

RULE_CHANNEL_NOT_FOUND = "delivery.channel.not-found"
RULE_DELIVERY_NOT_FOUND = "delivery.not-found"

# Standard Webhooks: a secret of 24 to 64 random bytes, given as "whsec_" + base64.
SECRET_BYTES = 32
SECRET_PREFIX = "whsec_"

_channels = DeliveryChannel.__table__
_deliveries = Delivery.__table__
_attempts = DeliveryAttempt.__table__


def new_secret() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(slots=True, frozen=True)
class NewChannel:
    """What a registration asks for (checked by the routes): the target (URL or address), the
    event types, the stream's filters, and for e-mail the language and digest period."""

    kind: str
    target: str
    events: Sequence[str]
    filters: Mapping[str, Any]
    language: str | None = None
    digest_minutes: float | None = None


def create_channel(
    conn: Connection, contact: ContactPoint, new: NewChannel, *, actor: str
) -> tuple[Any, str | None]:
    """Store a channel of `contact`; it gets the events committed from now on. Returns its row
    and, for a webhook, the signing secret (shown this once)."""
    now = utcnow()
    secret = new_secret() if new.kind == WEBHOOK else None
    channel_id = conn.execute(
        insert(_channels)
        .values(
            kind=new.kind,
            contact_id=contact.id,
            principal_id=contact_principal_id(conn, contact),
            target=new.target,
            events=list(new.events),
            filters=dict(new.filters),
            secret=secret,
            language=new.language,
            digest_minutes=new.digest_minutes,
            next_digest_at=None,
            after_event_id=latest_event_id(conn),
            created_at=now,
            created_by=actor,
            failures=0,
        )
        .returning(_channels.c.id)
    ).scalar_one()
    audit.record(
        conn,
        actor=actor,
        action=f"delivery.{new.kind}.create",
        obj=f"{new.kind}:{channel_id}",
        payload_hash=audit.json_digest(
            {
                "contact": contact.id,
                "target": new.target,
                "events": list(new.events),
                "filters": dict(new.filters),
            }
        ),
    )
    row = channel_row(conn, int(channel_id))
    assert row is not None
    return row, secret


def channel_row(conn: Connection, channel_id: int) -> Any | None:
    """A channel's row, None when there is none."""
    return conn.execute(select(_channels).where(_channels.c.id == channel_id)).first()


def channel_of(conn: Connection, contact: ContactPoint, kind: str, channel_id: int) -> Any:
    """The channel `channel_id` of this kind and contact point; `NotFound` otherwise."""
    row = channel_row(conn, channel_id)
    if row is None or row.kind != kind or row.contact_id != contact.id:
        raise NotFound.one(
            RULE_CHANNEL_NOT_FOUND, f"{contact.id} has no {kind} channel {channel_id}", "{channel_id}"
        )
    return row


def channels_of(conn: Connection, contact: ContactPoint, kind: str) -> list[Any]:
    """The channels of this kind of a contact point, oldest first."""
    c = _channels.c
    return list(
        conn.execute(select(_channels).where(c.contact_id == contact.id, c.kind == kind).order_by(c.id))
    )


def pending_counts(conn: Connection, channel_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per channel, how many deliveries are in each state."""
    if not channel_ids:
        return {}
    d = _deliveries.c
    counts: dict[int, dict[str, int]] = {cid: dict.fromkeys(STATES, 0) for cid in channel_ids}
    rows = conn.execute(
        select(d.channel_id, d.state, func.count())
        .where(d.channel_id.in_(list(channel_ids)))
        .group_by(d.channel_id, d.state)
    )
    for channel_id, state, count in rows:
        counts[channel_id][state] = int(count)
    return counts


def signing_secrets(channel: Any, now: datetime) -> list[str]:
    """The secrets a webhook delivery is signed with at `now`: the channel's secret, and the one
    it replaced while that one's grace period lasts (`rotate_secret`)."""
    found = [channel.secret]
    until = channel.previous_secret_until
    if channel.previous_secret and until is not None and now < until:
        found.append(channel.previous_secret)
    return found


def rotate_secret(conn: Connection, row: Any, *, grace: timedelta, actor: str) -> tuple[Any, str]:
    """Give a webhook a new secret; deliveries are signed with it and, for `grace`, with the one
    it replaces. A receiver holds at most two: a rotation within the grace period of the last
    drops the oldest at once. Returns the channel's row and the new secret (shown this once)."""
    secret = new_secret()
    until = utcnow() + grace
    conn.execute(
        update(_channels)
        .where(_channels.c.id == row.id)
        .values(
            secret=secret,
            previous_secret=row.secret if grace > timedelta(0) else None,
            previous_secret_until=until if grace > timedelta(0) else None,
        )
    )
    audit.record(
        conn,
        actor=actor,
        action="delivery.webhook.secret.rotate",
        obj=f"webhook:{row.id}",
        payload_hash=audit.json_digest({"contact": row.contact_id, "previous_until": until.isoformat()}),
    )
    changed = channel_row(conn, row.id)
    assert changed is not None
    return changed, secret


def update_channel(conn: Connection, row: Any, changes: Mapping[str, Any], *, actor: str) -> Any:
    """Change a channel in place (`changes`: target, events, filters, language, digest_minutes):
    it keeps its id, its place in the outbox (events committed before the change are not lost)
    and its delivery log. A new target starts with a clean health record: the old endpoint's
    failures say nothing of the new one. Returns the row as changed."""
    values = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if not values:
        return row
    if "target" in values:
        values.update(failures=0, retry_at=None, last_failure_at=None)
    if "digest_minutes" in values:
        values["next_digest_at"] = None
    conn.execute(update(_channels).where(_channels.c.id == row.id).values(**values))
    audit.record(
        conn,
        actor=actor,
        action=f"delivery.{row.kind}.update",
        obj=f"{row.kind}:{row.id}",
        payload_hash=audit.json_digest({"contact": row.contact_id, **changes}),
    )
    changed = channel_row(conn, row.id)
    assert changed is not None
    return changed


def delete_channel(conn: Connection, row: Any, *, actor: str) -> None:
    """Remove a channel with its outbox and log: nothing more is sent to it."""
    ids = select(_deliveries.c.id).where(_deliveries.c.channel_id == row.id)
    conn.execute(delete(_attempts).where(_attempts.c.delivery_id.in_(ids)))
    conn.execute(delete(_deliveries).where(_deliveries.c.channel_id == row.id))
    conn.execute(delete(_channels).where(_channels.c.id == row.id))
    audit.record(
        conn,
        actor=actor,
        action=f"delivery.{row.kind}.delete",
        obj=f"{row.kind}:{row.id}",
        payload_hash=audit.json_digest({"contact": row.contact_id, "target": row.target}),
    )


def deliveries_of(
    conn: Connection, channel_id: int, *, state: str | None, limit: int, before: int | None
) -> list[tuple[Any, list[Any]]]:
    """A channel's deliveries, newest event first (ids below `before` when given), each with its
    tries oldest first."""
    d = _deliveries.c
    query = select(_deliveries).where(d.channel_id == channel_id)
    if state is not None:
        query = query.where(d.state == state)
    if before is not None:
        query = query.where(d.id < before)
    rows = list(conn.execute(query.order_by(d.event_id.desc(), d.id.desc()).limit(limit)))
    tries: dict[int, list[Any]] = {row.id: [] for row in rows}
    if rows:
        a = _attempts.c
        for attempt in conn.execute(select(_attempts).where(a.delivery_id.in_(list(tries))).order_by(a.id)):
            tries[attempt.delivery_id].append(attempt)
    return [(row, tries[row.id]) for row in rows]


def redeliver(conn: Connection, channel_id: int, delivery_id: int, *, give_up: timedelta, actor: str) -> Any:
    """Queue a delivery again, whatever its state (a dead letter, or one delivered that the
    receiver lost): due now, with a fresh give-up time. `NotFound` when the channel has none."""
    d = _deliveries.c
    row = conn.execute(select(_deliveries).where(d.id == delivery_id, d.channel_id == channel_id)).first()
    if row is None:
        raise NotFound.one(
            RULE_DELIVERY_NOT_FOUND, f"channel {channel_id} has no delivery {delivery_id}", "{delivery_id}"
        )
    now = utcnow()
    conn.execute(
        update(_deliveries)
        .where(d.id == delivery_id)
        .values(state=PENDING, next_attempt_at=now, give_up_at=now + give_up, dead_at=None, digest=False)
    )
    audit.record(
        conn,
        actor=actor,
        action="delivery.redeliver",
        obj=f"delivery:{delivery_id}",
        payload_hash=audit.json_digest({"channel": channel_id, "event": row.event_id}),
    )
    return conn.execute(select(_deliveries).where(d.id == delivery_id)).one()


def when(value: datetime | None) -> str | None:
    """A stored time as ISO 8601 (None stays None)."""
    return value.isoformat() if value is not None else None
