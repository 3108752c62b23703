"""The outbox: deliveries made from the event log, claimed by one instance at a time, and the
record of every try.

Filling follows the log, it is not written by the transaction of each event. The event log is
already durable and in id order on both stores (service.db.database: one writer at a time), so
a cursor over it (`delivery_cursor`) loses nothing across a crash or a restart: deliveries and
the cursor's move are one transaction, and what was not filled before a crash is filled after
it. It also keeps the ingest transaction (the POST's answer) free of per-channel work, and a
channel sees the event exactly as its principal's websocket would (`service.visibility`).

Sending: a channel (one webhook URL or one e-mail address) is leased to one instance at a time
(`claim`, a write transaction: writers are serialised on SQLite and under the advisory lock on
PostgreSQL), so no delivery is ever sent twice at once; the lease outlives the sender's batch
(it stops sending before the lease runs out), and a crashed instance's lease expires. Within a
channel deliveries go out in event id order. A failure that says the endpoint is unwell (no
connection, a timeout, 5xx, 408, 429) holds the whole channel back with exponential backoff and
jitter, and the oldest delivery is tried first when it is due again, so a receiver back from an
outage gets everything in order; any other refusal (4xx) backs off that delivery alone. A
delivery still failing after its give-up time is dead-lettered: kept in the log, tried no more
until redelivered on request.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, or_, select, update

from service.auth import Principal, load_principal
from service.db.models import (
    AlertRecord,
    AssistanceRecipient,
    ContactPointRecord,
    Delivery,
    DeliveryAttempt,
    DeliveryChannel,
    DeliveryCursor,
)
from service.deliveries import registry_channels
from service.deliveries.store import DEAD, DELIVERED, EMAIL, PENDING
from service.events.log import PREFIX as ALERT_PREFIX
from service.events.log import REQUEST_PREFIX
from service.events.stream import Selection, StoredEvent, event_message, latest_event_id, read_events
from service.visibility import may_see_cause, may_see_event

_channels = DeliveryChannel.__table__
_deliveries = Delivery.__table__
_attempts = DeliveryAttempt.__table__
_cursor = DeliveryCursor.__table__
_alerts = AlertRecord.__table__
_request_recipients = AssistanceRecipient.__table__
_contacts = ContactPointRecord.__table__

CURSOR = "outbox"
ROUTINE = "routine"
PRIORITIES = ("flash", "urgent", "routine")
# Exponential backoff starts here (seconds) and doubles per consecutive failure, up to the cap.
BACKOFF_BASE_SECONDS = 1.0
ERROR_CHARS = 1000


# --- filling -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Channel:
    """What filling needs of a channel."""

    id: int
    kind: str
    contact_id: str
    principal: Principal
    events: frozenset[str]
    selection: Selection
    routed_only: bool
    # A registry address's roles (service.deliveries.registry_channels); () for a subscription.
    registry: tuple[str, ...]
    after_event_id: int
    digest_minutes: float | None
    next_digest_at: datetime | None


def fill_needed(conn: Connection) -> bool:
    """Whether events past the cursor may have deliveries to make (a read, so an idle outbox
    costs no write)."""
    channels = conn.execute(select(_channels.c.after_event_id)).scalars().all()
    if not channels:
        return False
    start = max(_position(conn), min(channels))
    return latest_event_id(conn) > start


def fill(conn: Connection, *, now: datetime, give_up: timedelta, limit: int) -> int:
    """Make the deliveries of up to `limit` events past the cursor and move it past them, in one
    transaction; returns how many events were read (fewer than `limit`: caught up)."""
    channels = _load_channels(conn)
    position = _position(conn)
    if not channels:
        return 0
    start = max(position, min(c.after_event_id for c in channels))
    page = read_events(conn, after=start, limit=limit)
    if not page:
        _move(conn, position, start)
        return 0
    routing = _routing_of(conn, {e.payload.get("alert_id") for e in page if e.type.startswith(ALERT_PREFIX)})
    rows: list[dict[str, Any]] = []
    for event in page:
        routes = _routes(event, routing)
        for channel in channels:
            if not _wants(channel, event, routes):
                continue
            priority = _priority(channel.contact_id, event, routes)
            digest = channel.kind == EMAIL and bool(channel.digest_minutes) and priority == ROUTINE
            due = now
            if digest:
                due = _digest_slot(channel, now)
            rows.append(
                {
                    "channel_id": channel.id,
                    "event_id": event.id,
                    "event_type": event.type,
                    "body": event_message(event, with_cause=may_see_cause(channel.principal, event.cause)),
                    "priority": priority,
                    "digest": digest,
                    "state": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": due,
                    "give_up_at": due + give_up,
                }
            )
    if rows:
        conn.execute(insert(_deliveries), rows)
    for channel in channels:
        if channel.next_digest_at is not None:
            conn.execute(
                update(_channels)
                .where(_channels.c.id == channel.id)
                .values(next_digest_at=channel.next_digest_at)
            )
    _move(conn, position, page[-1].id)
    return len(page)


def _position(conn: Connection) -> int:
    return int(conn.execute(select(_cursor.c.position).where(_cursor.c.name == CURSOR)).scalar() or 0)


def _move(conn: Connection, old: int, new: int) -> None:
    if new == old:
        return
    done = conn.execute(
        update(_cursor).where(_cursor.c.name == CURSOR, _cursor.c.position == old).values(position=new)
    ).rowcount
    if not done:
        # No row yet (the first fill). Writers are serialised, so nobody moved it meanwhile.
        conn.execute(insert(_cursor).values(name=CURSOR, position=new))


def _load_channels(conn: Connection) -> list[_Channel]:
    principals: dict[int, Principal | None] = {}
    channels = []
    for row in conn.execute(select(_channels).where(_contact_exists()).order_by(_channels.c.id)):
        if row.principal_id not in principals:
            principals[row.principal_id] = load_principal(conn, row.principal_id)
        principal = principals[row.principal_id]
        if principal is None:
            continue
        filters = row.filters or {}
        channels.append(
            _Channel(
                id=row.id,
                kind=row.kind,
                contact_id=row.contact_id,
                principal=principal,
                events=frozenset(row.events),
                selection=Selection(
                    region=filters.get("region"), country=filters.get("country"), status=filters.get("status")
                ),
                routed_only=bool(filters.get("routed_only")),
                registry=registry_channels.roles_of(filters),
                after_event_id=row.after_event_id,
                digest_minutes=row.digest_minutes,
                next_digest_at=row.next_digest_at,
            )
        )
    return channels


def _routing_of(conn: Connection, alert_ids: Iterable[Any]) -> dict[int, list[Any]]:
    ids = [int(i) for i in alert_ids if i is not None]
    if not ids:
        return {}
    rows = conn.execute(select(_alerts.c.id, _alerts.c.routing).where(_alerts.c.id.in_(ids)))
    return {row.id: row.routing or [] for row in rows}


def routed_contact(entry: Mapping[str, Any]) -> str | None:
    """The contact point id of one entry of an alert's `routing` (`contact_point` as the
    contract names it, or the older `contact.id`)."""
    value = entry.get("contact_point")
    if value is None and isinstance(entry.get("contact"), Mapping):
        value = entry["contact"].get("id")
    return str(value) if value is not None else None


def _routes(event: StoredEvent, routing: Mapping[int, list[Any]]) -> dict[str, str]:
    """Contact point id (case-folded) -> priority, of whom the event's alert or request is
    routed to."""
    if event.type.startswith(REQUEST_PREFIX):
        contacts = event.parties.contacts if event.parties is not None else ()
        priority = str(event.payload.get("priority") or ROUTINE)
        return {c.casefold(): priority for c in contacts}
    entries = routing.get(int(event.payload.get("alert_id") or 0), [])
    routes: dict[str, str] = {}
    for entry in entries:
        contact = routed_contact(entry)
        if contact is not None:
            routes[contact.casefold()] = str(entry.get("priority") or ROUTINE)
    return routes


def _wants(channel: _Channel, event: StoredEvent, routes: Mapping[str, str]) -> bool:
    if event.id <= channel.after_event_id or event.type not in channel.events:
        return False
    if not channel.selection.matches(event) or not may_see_event(channel.principal, event):
        return False
    routed = event.type.startswith((ALERT_PREFIX, REQUEST_PREFIX))
    if channel.registry:
        mine = channel.contact_id.casefold() in routes
        return registry_channels.wants(channel.registry, channel.contact_id, event.type, event.payload, mine)
    return not (channel.routed_only and routed and channel.contact_id.casefold() not in routes)


def _priority(contact_id: str, event: StoredEvent, routes: Mapping[str, str]) -> str:
    """What the event is to this contact point: its routing priority, else routine (told for
    information: not routed to it, or an event that is not routed at all)."""
    priority = routes.get(contact_id.casefold(), ROUTINE)
    return priority if priority in PRIORITIES else ROUTINE


def _digest_slot(channel: _Channel, now: datetime) -> datetime:
    """When the channel's next digest goes out: routine items wait for it."""
    if channel.next_digest_at is None or channel.next_digest_at <= now:
        channel.next_digest_at = now + timedelta(minutes=channel.digest_minutes or 0)
    return channel.next_digest_at


# --- claiming ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Claim:
    """A channel leased to this instance until `lease_until`, with its due deliveries in event
    id order."""

    channel: Any
    lease_until: datetime
    deliveries: list[Any] = field(default_factory=list)


def _due(now: datetime) -> Any:
    d = _deliveries.c
    return and_(d.channel_id == _channels.c.id, d.state == PENDING, d.next_attempt_at <= now)


def _free(now: datetime) -> Any:
    c = _channels.c
    return and_(
        or_(c.retry_at.is_(None), c.retry_at <= now),
        or_(c.lease_until.is_(None), c.lease_until < now),
    )


def _contact_exists() -> Any:
    # Channels whose contact point was deleted (before deletion was refused while it had some)
    # send nothing: nobody could manage them any more. They wake if it is added again.
    return exists().where(_contacts.c.id == _channels.c.contact_id)


def due_channels(
    conn: Connection, *, now: datetime, kinds: Sequence[str], exclude: Iterable[int] = ()
) -> list[int]:
    """Ids of channels of these kinds that have due deliveries and are free to claim (a read)."""
    c = _channels.c
    query = select(c.id).where(
        c.kind.in_(list(kinds)), _free(now), exists().where(_due(now)), _contact_exists()
    )
    skip = list(exclude)
    if skip:
        query = query.where(c.id.not_in(skip))
    return list(conn.execute(query.order_by(c.id)).scalars())


def claim(
    conn: Connection,
    channel_ids: Sequence[int],
    *,
    instance: str,
    now: datetime,
    lease: timedelta,
    batch: int,
) -> list[Claim]:
    """Lease the given channels that are still free and due (another instance may have taken
    some meanwhile) and read their due deliveries, oldest event first."""
    if not channel_ids:
        return []
    c, d = _channels.c, _deliveries.c
    free = list(
        conn.execute(
            select(c.id).where(c.id.in_(list(channel_ids)), _free(now), exists().where(_due(now)))
        ).scalars()
    )
    if not free:
        return []
    until = now + lease
    conn.execute(update(_channels).where(c.id.in_(free)).values(lease_owner=instance, lease_until=until))
    # A rotated secret past its grace period signs nothing more (store.signing_secrets): erase it.
    conn.execute(
        update(_channels)
        .where(c.id.in_(free), c.previous_secret_until <= now)
        .values(previous_secret=None, previous_secret_until=None)
    )
    claims = []
    for channel in conn.execute(select(_channels).where(c.id.in_(free)).order_by(c.id)):
        due = list(
            conn.execute(
                select(_deliveries)
                .where(d.channel_id == channel.id, d.state == PENDING, d.next_attempt_at <= now)
                .order_by(d.event_id)
                .limit(batch)
            )
        )
        claims.append(Claim(channel=channel, lease_until=until, deliveries=due))
    return claims


# --- recording tries ---------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Outcome:
    """One try of one delivery: the status (HTTP, or SMTP reply code) if an answer came, what went
    wrong, and whether the failure says the endpoint itself is unwell (hold the channel back)."""

    delivery_id: int
    at: datetime
    duration_ms: float
    ok: bool
    status: int | None = None
    error: str | None = None
    endpoint_down: bool = False


def backoff(failures: int, *, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `failures` consecutive failures: exponential from
    BACKOFF_BASE_SECONDS, capped at `cap`, with "equal jitter" (half fixed, half random) so that
    many channels failing together do not retry in step, and none retries at once."""
    ceiling = min(cap, BACKOFF_BASE_SECONDS * 2 ** max(0, failures - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def record(
    conn: Connection,
    claimed: Claim,
    outcomes: Sequence[Outcome],
    *,
    instance: str,
    now: datetime,
    max_backoff: float,
) -> None:
    """Record the tries of one claimed batch, update the channel's health and end the lease.
    Deliveries past their give-up time that fail are dead-lettered; when the endpoint is down,
    so are the channel's other pending deliveries past theirs."""
    c, d = _channels.c, _deliveries.c
    by_id = {row.id: row for row in claimed.deliveries}
    if outcomes:
        conn.execute(
            insert(_attempts),
            [
                {
                    "delivery_id": o.delivery_id,
                    "at": o.at,
                    "status": o.status,
                    "error": (o.error or None) and o.error[:ERROR_CHARS],
                    "duration_ms": o.duration_ms,
                    "instance": instance,
                }
                for o in outcomes
            ],
        )
    failures = claimed.channel.failures
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    for o in outcomes:
        row = by_id[o.delivery_id]
        attempts = row.attempts + 1
        common = {"attempts": attempts, "last_attempt_at": o.at, "last_status": o.status}
        if o.ok:
            failures = 0
            values.update(failures=0, retry_at=None, last_success_at=o.at)
            conn.execute(
                update(_deliveries)
                .where(d.id == row.id)
                .values(**common, state=DELIVERED, delivered_at=o.at, last_error=None)
            )
            continue
        error = (o.error or "failed")[:ERROR_CHARS]
        values["last_failure_at"] = o.at
        if o.endpoint_down:
            # The channel waits as a whole, and this delivery (its oldest due) is tried first
            # when it is due again: everything arrives in order once the endpoint is back.
            failures += 1
            retry = o.at + timedelta(seconds=backoff(failures, cap=max_backoff))
            values.update(failures=failures, retry_at=retry)
        else:
            retry = o.at + timedelta(seconds=backoff(attempts, cap=max_backoff))
        if o.at >= row.give_up_at:
            conn.execute(
                update(_deliveries)
                .where(d.id == row.id)
                .values(**common, state=DEAD, dead_at=o.at, last_error=error)
            )
        else:
            conn.execute(
                update(_deliveries)
                .where(d.id == row.id)
                .values(**common, next_attempt_at=retry, last_error=error)
            )
        if o.endpoint_down:
            conn.execute(
                update(_deliveries)
                .where(d.channel_id == claimed.channel.id, d.state == PENDING, d.give_up_at <= now)
                .values(
                    state=DEAD,
                    dead_at=now,
                    last_error=f"gave up: the endpoint was down ({error})"[:ERROR_CHARS],
                )
            )
            conn.execute(
                update(_deliveries)
                .where(d.channel_id == claimed.channel.id, d.state == PENDING, d.next_attempt_at < retry)
                .values(next_attempt_at=retry)
            )
    conn.execute(
        update(_channels).where(c.id == claimed.channel.id, c.lease_owner == instance).values(**values)
    )


def release(conn: Connection, channel_id: int, *, instance: str) -> None:
    """End a lease without recording anything (the batch was abandoned)."""
    c = _channels.c
    conn.execute(
        update(_channels)
        .where(c.id == channel_id, c.lease_owner == instance)
        .values(lease_owner=None, lease_until=None)
    )


def release_all(conn: Connection, *, instance: str) -> int:
    """End every lease this instance holds (it is stopping): another instance, or this one
    restarted, sends to those channels at once instead of when the leases would have run out.
    Returns how many were held."""
    c = _channels.c
    done = conn.execute(
        update(_channels).where(c.lease_owner == instance).values(lease_owner=None, lease_until=None)
    )
    return done.rowcount or 0


def alert_context(conn: Connection, alert_ids: Iterable[int]) -> dict[int, tuple[Any, list[Any]]]:
    """The stored CAP model and the routing (its state now: deadlines, acknowledgements,
    escalations) of these alerts, for composing e-mail."""
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    rows = conn.execute(select(_alerts.c.id, _alerts.c.model, _alerts.c.routing).where(_alerts.c.id.in_(ids)))
    return {row.id: (row.model, list(row.routing or [])) for row in rows}


def routing_entry(routing: Sequence[Any], contact_id: str) -> Mapping[str, Any] | None:
    """A contact point's own entry in an alert's routing, if it is among the recipients."""
    wanted = contact_id.casefold()
    return next((e for e in routing if (routed_contact(e) or "").casefold() == wanted), None)


def request_entries(
    conn: Connection, request_ids: Iterable[int], contact_id: str
) -> dict[int, dict[str, Any]]:
    """A contact point's own entry among the recipients of these requests, in the shape of an
    alert's routing entry (deadline, reason, acknowledgement), by request id."""
    ids = sorted(set(request_ids))
    if not ids:
        return {}
    r = _request_recipients.c
    rows = conn.execute(select(_request_recipients).where(r.request_id.in_(ids), r.contact_id == contact_id))
    return {
        row.request_id: {
            "contact_point": row.contact_id,
            "ack_deadline": row.deadline_at.isoformat() if row.deadline_at else None,
            "reasons": [row.reason] if row.reason else [],
            "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
            "acknowledged_by": row.acknowledged_by,
        }
        for row in rows
    }
