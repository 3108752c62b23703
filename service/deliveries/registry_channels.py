"""The e-mail addresses of the contact-point registry as delivery channels.

An address in a contact point's `channels.email`, and the e-mail address of each of its deputies
and of its head, is an e-mail channel of that contact point: delivered to from the same outbox as
an e-mail subscription (`service.deliveries.outbox`), with the same retries, dead letters and
log. Such a channel is marked in its filters (`"registry": [roles]`) and kept in step with the
registry by `sync`, in the transaction of every registry change (service.contact_points.store),
and by `sync_all` when an instance starts (addresses stored before this existed).

What a registry address receives by default (`wants`):

- `contact` (an address of the contact point itself): the alerts and requests routed to the
  contact point (received, updated, cancelled; a request's creation, status, messages and
  acknowledgement), an alert's routing reaching it later (`alert.routing.added` naming it), the
  acknowledgements of what is routed to it, and the escalations that leave it (it did not
  acknowledge in time) or reach it.
- `deputies` / `head` (a person's address): the escalation steps addressed to the deputies or to
  the head of the contact point (`alert.escalated`, `request.escalated` with `to`
  `<contact id>#deputies` or `#head`), in that person's first working language.

Explicit subscriptions (POST .../email) are separate channels and unchanged by any of this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from contact_points.escalation import DEPUTIES, HEAD, person_step
from contact_points.registry import ContactPoint
from service.db.models import DeliveryChannel
from service.deliveries.contacts import contact_principal_id
from service.deliveries.store import EMAIL, NewChannel, create_channel, delete_channel
from service.errors import Conflict
from service.events import log as event_log

RULE_REGISTRY_CHANNEL = "delivery.email.registry-address"
CONTACT = "contact"
ROLES = (CONTACT, DEPUTIES, HEAD)
# The key in a channel's filters that marks it as a registry address, with its roles.
REGISTRY = "registry"
ESCALATIONS = (event_log.ALERT_ESCALATED, event_log.REQUEST_ESCALATED)
CONTACT_EVENTS = (
    event_log.ALERT_RECEIVED,
    event_log.ALERT_UPDATED,
    event_log.ALERT_CANCELLED,
    event_log.ALERT_ROUTING_ADDED,
    event_log.ALERT_ROUTING_ACKNOWLEDGED,
    event_log.ALERT_ESCALATED,
    event_log.REQUEST_CREATED,
    event_log.REQUEST_ACKNOWLEDGED,
    event_log.REQUEST_STATUS,
    event_log.REQUEST_MESSAGE,
    event_log.REQUEST_ESCALATED,
)
PERSON_EVENTS = ESCALATIONS

_channels = DeliveryChannel.__table__


@dataclass(slots=True, frozen=True)
class Address:
    """One address of a contact point in the registry: for which roles, in which language."""

    target: str
    roles: tuple[str, ...]
    language: str | None

    @property
    def events(self) -> list[str]:
        """The event types its channel takes (`wants` decides which of them reach it)."""
        wanted = [*(CONTACT_EVENTS if CONTACT in self.roles else ()), *PERSON_EVENTS]
        return list(dict.fromkeys(wanted))

    @property
    def filters(self) -> dict[str, Any]:
        """The channel's filters: routed items only, and the roles."""
        return {"routed_only": True, REGISTRY: list(self.roles)}


def addresses(contact: ContactPoint) -> list[Address]:
    """The registry addresses of a contact point, each once (an address listed twice, or both as
    the contact point's and a person's, is one channel with both roles); a person's address is
    written to in that person's first working language."""
    found: dict[str, tuple[str, list[str], str | None]] = {}

    def add(target: str | None, role: str, language: str | None) -> None:
        if not target:
            return
        key = target.casefold()
        first, roles, known = found.setdefault(key, (target, [], None))
        if role not in roles:
            roles.append(role)
        found[key] = (first, roles, known or language)

    for target in contact.emails:
        add(target, CONTACT, None)
    for role, names in ((DEPUTIES, contact.deputies), (HEAD, (contact.head,) if contact.head else ())):
        for name in names:
            person = contact.person(name)
            if person is not None:
                add(person.email, role, person.languages[0] if person.languages else None)
    return [
        Address(target, tuple(r for r in ROLES if r in roles), language)
        for target, roles, language in found.values()
    ]


def roles_of(filters: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The registry roles of a channel (none: an explicit subscription)."""
    return tuple((filters or {}).get(REGISTRY) or ())


def check_not_registry(row: Any) -> None:
    """`Conflict` for a registry address's channel: it goes with its address, which the
    registry holds (removed there, the channel and its log go too)."""
    if roles_of(row.filters):
        raise Conflict.one(
            RULE_REGISTRY_CHANNEL,
            f"{row.target} is an address of {row.contact_id} in the contact-point registry; remove it "
            f"there (PUT /api/v1/contact-points/{row.contact_id}) and its channel goes with it",
            "{channel_id}",
        )


def _registry_rows(conn: Connection, contact_id: str) -> list[Any]:
    c = _channels.c
    rows = conn.execute(select(_channels).where(c.contact_id == contact_id, c.kind == EMAIL).order_by(c.id))
    return [row for row in rows if roles_of(row.filters)]


def sync(conn: Connection, contact_id: str, contact: ContactPoint | None, *, actor: str) -> None:
    """Make the registry channels of a contact point what its registry entry says (None: it was
    deleted, so are they): a new address gets a channel (told what is committed from now on), a
    removed one loses its channel and log, a kept one keeps its outbox with roles and language
    brought up to date."""
    wanted = {a.target.casefold(): a for a in addresses(contact)} if contact is not None else {}
    rows = _registry_rows(conn, contact_id)
    # Whose view of the stream the channels get follows the contact point's kind (which may change).
    principal = contact_principal_id(conn, contact) if contact is not None and rows else None
    for row in rows:
        address = wanted.pop(row.target.casefold(), None)
        if address is None:
            delete_channel(conn, row, actor=actor)
            continue
        values = {
            "events": address.events,
            "filters": address.filters,
            "language": address.language,
            "principal_id": principal,
        }
        if any(getattr(row, k) != v for k, v in values.items()) or row.target != address.target:
            conn.execute(
                update(_channels).where(_channels.c.id == row.id).values(**values, target=address.target)
            )
    if contact is None:
        return
    for address in wanted.values():
        create_channel(
            conn,
            contact,
            NewChannel(EMAIL, address.target, address.events, address.filters, language=address.language),
            actor=actor,
        )


def sync_all(conn: Connection, contacts: Iterable[ContactPoint], *, actor: str) -> None:
    """`sync` every contact point that has registry addresses or registry channels, dropping
    those of contact points that are gone: run when an instance starts (idempotent)."""
    known = {c.id: c for c in contacts}
    c = _channels.c
    rows = conn.execute(select(c.contact_id, c.filters).where(c.kind == EMAIL))
    with_channels = {row.contact_id for row in rows if roles_of(row.filters)}
    for contact_id in sorted(with_channels | {i for i, contact in known.items() if addresses(contact)}):
        sync(conn, contact_id, known.get(contact_id), actor=actor)


def wants(
    roles: Iterable[str], contact_id: str, event_type: str, payload: Mapping[str, Any], routed: bool
) -> bool:
    """Whether a registry channel with these roles receives this event (its type is among the
    channel's, and the stream's visibility rules passed): see the module's description."""
    roles = tuple(roles)
    me = contact_id.casefold()
    if event_type in ESCALATIONS:
        source = str(payload.get("from") or "").casefold()
        target = str(payload.get("to") or "").casefold()
        if CONTACT in roles and me in (source, target):
            return True
        return any(target == person_step(me, role) for role in (DEPUTIES, HEAD) if role in roles)
    if CONTACT not in roles:
        return False
    if event_type == event_log.ALERT_ROUTING_ADDED:
        return me in {str(c).casefold() for c in payload.get("contact_points") or ()}
    return routed
