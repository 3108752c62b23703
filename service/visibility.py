"""Who may see what: the one decision every output asks (REST items and lists, `/cap`,
`/impact`, the Atom feed, the event stream's replay and live fan-out).

- An alert: CAP 1.2 §3.2.1 scope. `Public` to all, `Restricted` to granted principals,
  `Private` only to the listed <addresses>; the poster (and its administration) always sees
  its own.
- An assistance request (WTDC Res. 34): the requesting administration (and whoever filed it),
  the offices it is routed to, BDT and the operator; to anyone else it does not exist.
- A polled feed source: its owner (an administration) and the operator; feed URLs can carry
  credentials (query tokens), so no other principal sees any.
- A contact point: every principal sees the registry; the people of a contact point (names,
  roles, languages, time zones, their e-mail and phone, who is head and deputy) only the
  operator, BDT and the contact point itself (`may_see_contact_people`). An alert is routed only
  to contact points that may see it (`contact_may_see_alert`): a Private alert reaches its
  <addresses>, never an office it does not name.
- An event: the rule of what it is about. A request's event is seen by who may see that
  request, an alert's event by who may see that alert, any other event (a network status
  report) by its own scope. An alert's event caused by another message (a Private Cancel of a
  Public alert) says which message only to who may see that message too: the others are told
  what happened ("cancelled"), not by what (`event_payload`), on the stream and in REST history.

Each rule is a Python predicate; where lists are cut in SQL, the clause comes from here too, so
the two can never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, exists, func, or_

from contact_points.registry import BDT as BDT_KIND
from contact_points.registry import NATIONAL, ContactPoint
from service.auth import ADMINISTRATION, BDT, OFFICE, OPERATOR, RESPONDER, Principal
from service.db.models import AlertRecord, AssistanceRecipient, AssistanceRequestRecord, FeedSource
from service.events.log import REQUEST_PREFIX

PUBLIC = "Public"
PRIVATE = "Private"
# Restricted alerts go to those with "a known operational requirement" (CAP 1.2 §3.2.1 scope):
# here the ITU coordinators and the installation's operator, besides the poster.
RESTRICTED_GRANTED = frozenset({OFFICE, BDT, OPERATOR})
# Who sees every assistance request: the ITU focal point and the installation's operator.
SEE_EVERY_REQUEST = frozenset({BDT, OPERATOR})
# No principal has id 0 (ids start at 1): the poster of an event that is not about an alert.
NO_POSTER = 0

_alerts = AlertRecord.__table__
_requests = AssistanceRequestRecord.__table__
_recipients = AssistanceRecipient.__table__
_sources = FeedSource.__table__


# --- alerts --------------------------------------------------------------------------------------


class AlertFacts(Protocol):
    """What the decision needs of an alert (a stored view, a row with these columns)."""

    @property
    def scope(self) -> str: ...
    @property
    def poster_id(self) -> int: ...
    @property
    def sender(self) -> str: ...
    @property
    def addresses(self) -> Sequence[str]: ...


def may_see_alert(principal: Principal | None, alert: AlertFacts) -> bool:
    """CAP 1.2 §3.2.1 scope: Public to all, Restricted to granted principals, Private to the
    listed <addresses>; the poster (and its administration) always sees its own."""
    return _scope_allows(
        principal,
        scope=alert.scope,
        poster_id=alert.poster_id,
        sender=alert.sender,
        addresses=alert.addresses,
    )


def _scope_allows(
    principal: Principal | None, *, scope: str, poster_id: int, sender: str, addresses: Iterable[str]
) -> bool:
    if scope == PUBLIC:
        return True
    if principal is None:
        return False
    if poster_id == principal.id or sender in principal.senders:
        return True
    if scope == PRIVATE:
        names = principal.address_names
        return any(a.lower() in names for a in addresses)
    # Restricted, and any scope a tolerant parser let through: the narrower reading.
    return principal.role in RESTRICTED_GRANTED


def alert_clause(principal: Principal | None) -> ColumnElement[bool] | None:
    """A SQL condition on the alerts table keeping every alert the principal may see, and as
    few others as SQL can tell (None: no cut). Private <addresses> are JSON, so a Private
    alert addressed to someone else passes here: filter the rows with `may_see_alert` too."""
    c = _alerts.c
    if principal is None or principal.role == RESPONDER:
        # Neither can be granted Restricted, addressed by Private, or have posted: Public only.
        return c.scope == PUBLIC
    if principal.role in RESTRICTED_GRANTED:
        return None
    own = [c.poster_id == principal.id]
    if principal.senders:
        own.append(c.sender.in_(sorted(principal.senders)))
    return or_(c.scope == PUBLIC, c.scope == PRIVATE, *own)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """The facts `may_see_alert` needs, read from a row (e.g. the message behind an event)."""

    scope: str
    poster_id: int
    sender: str
    addresses: Sequence[str]


# The members of an alert event's payload that name the message that caused it
# (service.alerts.lifecycle): withheld from who may not see that message.
CAUSE_MEMBERS = frozenset({"by", "by_identifier", "by_msgType", "note"})


def may_see_cause(principal: Principal | None, cause: AlertFacts | None) -> bool:
    """Whether the principal may be told which message caused an event (None: no message did)."""
    return cause is None or may_see_alert(principal, cause)


def event_payload(payload: Mapping[str, Any], *, with_cause: bool) -> dict[str, Any]:
    """An alert event's payload as told: whole, or without the message that caused it (`by`
    stays, as null, so the shape is the same for everyone)."""
    if with_cause or not CAUSE_MEMBERS & payload.keys():
        return dict(payload)
    told = {key: value for key, value in payload.items() if key not in CAUSE_MEMBERS}
    told["by"] = None
    return told


# --- assistance requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestParties:
    """Who an assistance request concerns: the principal that filed it, the country it is for,
    and the contact points it is routed to. Stored with each of its events, so that the stream
    decides as REST does."""

    requester_id: int
    country: str
    contacts: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The form stored in the `parties` column of an event."""
        return {"requester_id": self.requester_id, "country": self.country, "contacts": list(self.contacts)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> RequestParties | None:
        """Read back what `as_json` stored (None stays None)."""
        if value is None:
            return None
        return cls(int(value["requester_id"]), str(value["country"]), tuple(value["contacts"]))


def is_requester(principal: Principal, parties: RequestParties) -> bool:
    """Whether the principal is the request's own side: who filed it, or its administration."""
    return principal.id == parties.requester_id or (
        principal.role == ADMINISTRATION and principal.country == parties.country
    )


def is_recipient_office(principal: Principal, parties: RequestParties) -> bool:
    """Whether the principal is an office the request is routed to."""
    if principal.role != OFFICE or not principal.office:
        return False
    wanted = principal.office.casefold()
    return any(contact.casefold() == wanted for contact in parties.contacts)


def may_see_request(principal: Principal, parties: RequestParties) -> bool:
    """The requester's side, the offices it is routed to, BDT and the operator see a request."""
    return (
        principal.role in SEE_EVERY_REQUEST
        or is_requester(principal, parties)
        or is_recipient_office(principal, parties)
    )


def request_clause(principal: Principal) -> ColumnElement[bool] | None:
    """A SQL condition on the requests table: exactly those `may_see_request` allows (None: all)."""
    r = _requests.c
    if principal.role in SEE_EVERY_REQUEST:
        return None
    filed = r.requester_id == principal.id
    if principal.role == ADMINISTRATION and principal.country:
        return or_(r.country == principal.country, filed)
    if principal.role == OFFICE and principal.office:
        # Office ids are ASCII (contact_points/data/offices.tsv): lower() is casefold() here.
        routed = exists().where(
            _recipients.c.request_id == r.id,
            func.lower(_recipients.c.contact_id) == principal.office.casefold(),
        )
        return or_(filed, routed)
    return filed


# --- events --------------------------------------------------------------------------------------


class EventFacts(Protocol):
    """What the decision needs of a stored event: its type and audience, the facts of the alert
    it is about (None for other events), the parties of the request it is about (if one)."""

    @property
    def type(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def poster_id(self) -> int | None: ...
    @property
    def sender(self) -> str | None: ...
    @property
    def addresses(self) -> Sequence[str] | None: ...
    @property
    def parties(self) -> RequestParties | None: ...


def may_see_event(principal: Principal | None, event: EventFacts) -> bool:
    """A request's event to who may see the request (without its parties, as events written
    before they were recorded: BDT and the operator only; never to no principal); any other
    event by the scope rule of the alert it is about, or by its own scope when it is about no
    alert."""
    if event.type.startswith(REQUEST_PREFIX):
        if principal is None:
            return False
        if event.parties is None:
            return principal.role in SEE_EVERY_REQUEST
        return may_see_request(principal, event.parties)
    return _scope_allows(
        principal,
        scope=event.scope,
        poster_id=event.poster_id if event.poster_id is not None else NO_POSTER,
        sender=event.sender or "",
        addresses=event.addresses or (),
    )


# --- contact points ------------------------------------------------------------------------------

# Who sees the people of every contact point: the installation's operator and BDT, which
# coordinates them all.
SEE_EVERY_CONTACTS_PEOPLE = frozenset({BDT, OPERATOR})
# A stand-in principal id for a contact point asked about an alert (no principal has id 0).
_CONTACT_STAND_IN = 0


def is_contact(principal: Principal, contact: ContactPoint) -> bool:
    """Whether the principal is this contact point: an office token is its office, the bdt
    role the BDT focal point, an administration its country's national contact."""
    if principal.role == OFFICE and principal.office:
        return contact.kind != NATIONAL and contact.id.casefold() == principal.office.casefold()
    if principal.role == BDT:
        return contact.kind == BDT_KIND
    if principal.role == ADMINISTRATION and principal.country:
        return contact.kind == NATIONAL and contact.country == principal.country
    return False


def may_see_contact_people(principal: Principal, contact: ContactPoint) -> bool:
    """The people of a contact point: for the operator, BDT and the contact point itself."""
    return principal.role in SEE_EVERY_CONTACTS_PEOPLE or is_contact(principal, contact)


def contact_may_see_alert(contact: ContactPoint, alert: AlertFacts) -> bool:
    """Whether the principal a contact point stands for may see this alert (the scope rule of
    `may_see_alert`, asked for the office, BDT or administration that would receive it)."""
    if contact.kind == NATIONAL:
        stand_in = Principal(id=_CONTACT_STAND_IN, role=ADMINISTRATION, country=contact.country)
    elif contact.kind == BDT_KIND:
        stand_in = Principal(id=_CONTACT_STAND_IN, role=BDT)
    else:
        stand_in = Principal(id=_CONTACT_STAND_IN, role=OFFICE, office=contact.id)
    return may_see_alert(stand_in, alert)


# --- feed sources ------------------------------------------------------------------------------

# Who may list feed sources at all: administrations see their own, the operator every one.
SEE_SOURCES = frozenset({ADMINISTRATION, OPERATOR})


def may_see_sources(principal: Principal) -> bool:
    """Whether this principal may see any feed source (its own or, the operator, all)."""
    return principal.role in SEE_SOURCES


def may_see_source(principal: Principal, owner_id: int) -> bool:
    """Whether this principal may see the feed source owned by principal `owner_id`."""
    return principal.role == OPERATOR or (principal.role == ADMINISTRATION and principal.id == owner_id)


def source_clause(principal: Principal | None) -> ColumnElement[bool] | None:
    """SQL cut of the feed sources a principal may see (None: all of them; `None` as the
    principal is the command line, which runs the installation)."""
    if principal is None or principal.role == OPERATOR:
        return None
    if principal.role != ADMINISTRATION:
        return _sources.c.id.is_(None)
    return _sources.c.principal_id == principal.id
