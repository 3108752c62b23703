"""A stored assistance request and its messages as EDXL-RM 1.0 messages (`contact_points.edxl_rm`
writes the XML): the request is a RequestResource, each later message keeps its type.

MessageIDs name the installation's own records (`urn:tampere:request:{id}` and
`...:message:{n}`); every later message gives the request as its OriginatingMessageID and the
message it follows as its PrecedingMessageID; the GLIDE number is the IncidentID.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contact_points.edxl_rm import (
    REQUEST_RESOURCE,
    RESPONSE_TO_REQUEST_RESOURCE,
    RESPONSE_TO_REQUEST_RETURN,
    Contact,
    Message,
    Resource,
    Schedule,
    Term,
)
from contact_points.registry import Registry
from service.assistance.store import StoredRequest

REQUESTER_ROLE = "Requester"
RESPONDER_ROLE = "Responder"


def message_id(request_id: int, number: int = 0) -> str:
    """The MessageID of the request (number 0) or of its message `number`."""
    base = f"urn:tampere:request:{request_id}"
    return base if number == 0 else f"{base}:message:{number}"


def _schedule(entries: list[dict[str, Any]] | None) -> tuple[Schedule, ...]:
    return tuple(
        Schedule(
            e["type"],
            datetime.fromisoformat(e["at"]) if e.get("at") else None,
            e.get("location"),
        )
        for e in entries or ()
    )


def _term(value: dict[str, Any] | None) -> Term | None:
    return None if value is None else Term(value["list"], value["value"])


def _requester(stored: StoredRequest) -> Contact:
    row = stored.row
    return Contact(
        description=f"Administration of {row.country} ({row.requested_by})",
        role=REQUESTER_ROLE,
        name=row.contact.get("name"),
        email=row.contact.get("email"),
        phone=row.contact.get("phone"),
    )


def request_message(stored: StoredRequest) -> Message:
    """The request as a RequestResource: one ResourceInformation per item, numbered from 1."""
    row = stored.row
    resources = [
        Resource(
            element_id=i,
            name=item["item"],
            type=_term(item.get("type")),
            keywords=tuple(Term(k["list"], k["value"]) for k in item.get("keywords", ())),
            description=item.get("description"),
            quantity=item["quantity"],
            unit=item.get("unit"),
            anticipated_function=item.get("anticipated_function"),
            schedule=_schedule(item.get("schedule")),
        )
        for i, item in enumerate(row.items, start=1)
    ]
    return Message(
        content_type=REQUEST_RESOURCE,
        message_id=message_id(row.id),
        sent=row.created_at,
        description=f"{row.kind}, urgency {row.urgency}: {row.description}",
        incident_id=row.glide,
        incident_description=row.title,
        contacts=[_requester(stored)],
        resources=resources,
    )


def follow_up_message(stored: StoredRequest, number: int, *, registry: Registry) -> Message | None:
    """Message `number` of the request as EDXL-RM, or None when it has no such message."""
    sent = next((m for m in stored.messages if m.number == number), None)
    if sent is None:
        return None
    row = stored.row
    names = {i: item["item"] for i, item in enumerate(row.items, start=1)}
    items = sent.items
    if sent.type == RESPONSE_TO_REQUEST_RETURN:
        # A ResponseToRequestReturn answers the items of the RequestReturn it follows.
        answered = next((m for m in stored.messages if m.number == sent.preceding), None)
        items = answered.items if answered is not None else []
    elif sent.type == RESPONSE_TO_REQUEST_RESOURCE and not items:
        # An answer without items (a Decline, or an Accept of everything) is one for each item.
        items = [{"element_id": i, "quantity": item["quantity"]} for i, item in enumerate(row.items, start=1)]
    resources = [
        Resource(
            element_id=item["element_id"],
            name=names.get(item["element_id"]),
            quantity=item["quantity"],
            schedule=_schedule(item.get("schedule")),
            response=sent.response,
        )
        for item in items
    ]
    if sent.contact_id is not None:
        office = registry.get(sent.contact_id)
        contact = Contact(
            description=office.name if office else sent.contact_id, role=RESPONDER_ROLE, name=sent.by
        )
    else:
        contact = _requester(stored)
    return Message(
        content_type=sent.type,
        message_id=message_id(row.id, number),
        sent=sent.sent_at,
        description=sent.note,
        originating_id=message_id(row.id),
        preceding_id=message_id(row.id, sent.preceding),
        incident_id=row.glide,
        incident_description=row.title,
        contacts=[contact],
        resources=resources,
    )
