"""The contact points that own delivery channels: finding one by id, who may manage its channels,
and the principal whose view of the event stream its channels get.

`find_contact_point` is the one lookup, in the registry as stored (`Runtime.contacts`, kept
current by service.contact_points.reload: `bdt`, `ro-bangkok`, `ao-bridgetown`, `national-fji`...).
"""

from __future__ import annotations

import difflib

from sqlalchemy import Connection

from contact_points.registry import BDT, NATIONAL, ContactPoint, Registry
from service.auth import ADMINISTRATION, OFFICE, OPERATOR, Principal, principal_id_for
from service.auth import BDT as BDT_ROLE
from service.errors import Forbidden, NotFound
from service.visibility import is_contact

RULE_CONTACT_UNKNOWN = "delivery.contact-point.unknown"
RULE_FORBIDDEN = "delivery.forbidden"
CONTACT_PATH = "{contact_id}"


def find_contact_point(registry: Registry, contact_id: str) -> ContactPoint:
    """The contact point with this id (matched case-insensitively, as office tokens are);
    `NotFound` naming the nearest ids when there is none."""
    found = registry.find(contact_id)
    if found is not None:
        return found
    wanted = contact_id.strip()
    ids = sorted(c.id for c in registry)
    near = difflib.get_close_matches(wanted, ids, n=3, cutoff=0.5)
    hint = f"the nearest: {', '.join(near)}" if near else f"contact point ids: {', '.join(ids)}"
    raise NotFound.one(RULE_CONTACT_UNKNOWN, f"no contact point {contact_id[:64]!r}; {hint}", CONTACT_PATH)


def may_manage(principal: Principal, contact: ContactPoint) -> bool:
    """The operator, or the contact point's own principal: BDT for `bdt`, an office's token for
    that office, a national contact's administration (`service.visibility.is_contact`)."""
    return principal.role == OPERATOR or is_contact(principal, contact)


def check_may_manage(principal: Principal, contact: ContactPoint) -> None:
    """`Forbidden` unless `may_manage`."""
    if not may_manage(principal, contact):
        raise Forbidden.one(
            RULE_FORBIDDEN,
            f"the delivery channels of {contact.id} are managed by the operator and by {contact.id} itself",
            CONTACT_PATH,
        )


def contact_principal_id(conn: Connection, contact: ContactPoint) -> int:
    """The principal (made on first use) whose view of the stream the contact's channels get:
    what an office's, BDT's or an administration's own websocket would be sent."""
    if contact.kind == BDT:
        return principal_id_for(conn, BDT_ROLE)
    if contact.kind == NATIONAL and contact.country:
        return principal_id_for(conn, ADMINISTRATION, country=contact.country)
    return principal_id_for(conn, OFFICE, office=contact.id)
