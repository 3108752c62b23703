"""Assistance requests over HTTP (WTDC Res. 34): file one, read and list them, acknowledge
one, move it along. The rules and the storage are in `service.assistance.store`, the domain
(validation, routing, states, escalation) in `contact_points.requests`.

An administration files for its own country; the operator and BDT file on behalf of any.
What a caller may not see answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from cap.errors import Finding
from contact_points.registry import Registry
from contact_points.requests import (
    STATUS_TARGETS,
    RequestInvalid,
    RequestState,
    parse_ack,
    parse_request,
    parse_status,
    route_request,
)
from geo.reference import REGIONS
from service.assistance.store import (
    ACKNOWLEDGE,
    FILE,
    MOVE,
    StoredRequest,
    acknowledge,
    change_state,
    check_role,
    file_request,
    find_requests,
    visible_request,
)
from service.auth import ADMINISTRATION
from service.errors import Invalid
from service.http import parse_json, read_body
from service.runtime import RequiredPrincipal, RuntimeDep

# A request is a few kB; 64 KiB leaves room for a hundred items with long names.
MAX_BODY_BYTES = 64 * 1024
MAX_LIST = 1000

_ERRORS = {
    401: {"description": "No token, or a token that is not known"},
    403: {"description": "This principal may not do this: `errors` names the rule"},
    404: {"description": "No such request, or not visible to this principal"},
}
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["kind", "title", "description", "urgency", "contact"],
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": [
                            "equipment",
                            "technical-assistance",
                            "capacity-building",
                            "frequency-coordination",
                        ],
                    },
                    "country": {"type": "string", "description": "ISO 3166-1 alpha-3"},
                    "title": {"type": "string", "maxLength": 200},
                    "description": {"type": "string", "maxLength": 5000},
                    "urgency": {"type": "string", "enum": ["immediate", "high", "normal"]},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["item", "quantity"],
                            "properties": {
                                "item": {"type": "string"},
                                "quantity": {"type": "integer", "minimum": 1},
                            },
                        },
                    },
                    "related_alerts": {
                        "type": "array",
                        "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                    },
                    "contact": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "email": {"type": "string"},
                            "phone": {"type": "string"},
                        },
                    },
                },
            },
            "example": {
                "kind": "equipment",
                "country": "KEN",
                "title": "Satellite terminals for the flooded Nairobi river basin",
                "description": "Flooding has cut fibre and power to base stations along the Nairobi "
                "river; county emergency teams need voice and data links for ten days.",
                "urgency": "immediate",
                "items": [{"item": "BGAN satellite terminal", "quantity": 4}],
                "contact": {
                    "name": "Duty officer, Communications Authority of Kenya",
                    "phone": "+254 20 000 0000",
                },
            },
        }
    },
}
_ACK_BODY = {
    "required": False,
    "description": "Optional: a note with the acknowledgement (no body: none)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"note": {"type": "string", "maxLength": 2000}},
            },
            "example": {"note": "Received; the Regional Office for Africa is checking IFCE stock."},
        }
    },
}
_STATUS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["state", "note"],
                "properties": {
                    "state": {"type": "string", "enum": [str(s) for s in STATUS_TARGETS]},
                    "note": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Why"},
                },
            },
            "example": {"state": "in-progress", "note": "Four terminals leave Addis Ababa today."},
        }
    },
}


def requests_router() -> APIRouter:
    """The /api/v1/requests routes."""
    router = APIRouter(tags=["assistance requests"])
    router.add_api_route(
        "/api/v1/requests",
        post_request,
        methods=["POST"],
        status_code=201,
        summary="File a request for assistance",
        openapi_extra={"requestBody": _REQUEST_BODY},
        responses={
            **_ERRORS,
            413: {"description": "The body is too large"},
            422: {"description": "Not a usable request: `errors` lists rule, message and path"},
        },
    )
    router.add_api_route(
        "/api/v1/requests", list_requests, methods=["GET"], summary="Requests this principal may see"
    )
    router.add_api_route(
        "/api/v1/requests/{request_id}",
        get_request,
        methods=["GET"],
        summary="One request, its routing and history",
        responses=_ERRORS,
    )
    router.add_api_route(
        "/api/v1/requests/{request_id}/ack",
        post_ack,
        methods=["POST"],
        summary="Acknowledge a request routed to this office",
        openapi_extra={"requestBody": _ACK_BODY},
        responses={**_ERRORS, 409: {"description": "The request is finished"}},
    )
    router.add_api_route(
        "/api/v1/requests/{request_id}/status",
        post_status,
        methods=["POST"],
        summary="Move a request along: in-progress, fulfilled, closed, cancelled",
        openapi_extra={"requestBody": _STATUS_BODY},
        responses={**_ERRORS, 409: {"description": "Not a move the request's state allows"}},
    )
    return router


RequestId = Annotated[int, Path(ge=1, le=2**62, description="The id given when it was filed")]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def request_json(stored: StoredRequest, *, registry: Registry, with_history: bool = True) -> dict[str, Any]:
    """The JSON of a request: what was asked, its state, routing and (optionally) history;
    `registry` gives each recipient's region and country."""
    row = stored.row
    recipients = []
    for r in stored.recipients:
        contact = registry.get(r.contact_id)
        recipients.append(
            {
                "contact": {
                    "id": r.contact_id,
                    "kind": r.kind,
                    "name": r.name,
                    "region": contact.region if contact else None,
                    "country": contact.country if contact else None,
                },
                "reason": r.reason,
                "ack_required": r.ack_within_seconds is not None,
                "ack_within_seconds": r.ack_within_seconds,
                "ack_deadline": _iso(r.deadline_at),
                "escalate_to": list(r.escalate_to),
                "escalation_level": r.escalation_level,
                "acknowledged": None
                if r.acknowledged_at is None
                else {"at": _iso(r.acknowledged_at), "by": r.acknowledged_by, "note": r.ack_note},
            }
        )
    deadlines = [r.deadline_at for r in stored.recipients if r.deadline_at is not None]
    within = [r.ack_within_seconds for r in stored.recipients if r.ack_within_seconds is not None]
    body: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "country": row.country,
        "region": row.region,
        "title": row.title,
        "description": row.description,
        "urgency": row.urgency,
        "items": row.items,
        "related_alerts": stored.related_alerts,
        "contact": row.contact,
        "state": row.state,
        "requested_by": row.requested_by,
        "created": _iso(row.created_at),
        "updated": _iso(row.updated_at),
        "routing": {
            "priority": row.priority,
            "ack_within_seconds": min(within) if within else None,
            "ack_deadline": _iso(min(deadlines)) if deadlines else None,
            "recipients": recipients,
        },
    }
    if with_history:
        body["history"] = [
            {
                "at": _iso(step.at),
                "action": step.action,
                "state": step.state,
                "by": step.by,
                **({"note": step.note} if step.note else {}),
                **step.detail,
            }
            for step in stored.history
        ]
    return body


# --- reading ----------------------------------------------------------------------------------------


async def get_request(
    request_id: RequestId, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """One request, with its routing and history; 404 when absent or not visible."""
    stored = await runtime.db.read(lambda conn: visible_request(conn, principal, request_id))
    return JSONResponse(request_json(stored, registry=runtime.contacts))


async def list_requests(
    runtime: RuntimeDep,
    principal: RequiredPrincipal,
    state: Annotated[str | None, Query(max_length=32, description="open, acknowledged...")] = None,
    country: Annotated[str | None, Query(max_length=3, description="ISO 3166-1 alpha-3")] = None,
    region: Annotated[str | None, Query(max_length=64, description="ITU-D region")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
) -> JSONResponse:
    """The requests the caller may see, newest first, filtered by state, country, region."""
    findings = []
    if state is not None and state not in {s.value for s in RequestState}:
        allowed = ", ".join(s.value for s in RequestState)
        findings.append(Finding("request.query.state", f"state {state!r}; one of {allowed}", "?state"))
    if country is not None:
        country = country.strip().upper()
        if len(country) != 3 or not country.isalpha():
            findings.append(Finding("request.query.country", "country is ISO 3166-1 alpha-3", "?country"))
    if region is not None and region not in REGIONS:
        findings.append(
            Finding("request.query.region", f"region {region!r}; one of {', '.join(REGIONS)}", "?region")
        )
    if findings:
        raise Invalid(findings)
    items = await runtime.db.read(
        lambda conn: find_requests(conn, principal, state=state, country=country, region=region, limit=limit)
    )
    requests = [request_json(stored, registry=runtime.contacts, with_history=False) for stored in items]
    return JSONResponse({"requests": requests})


# --- filing -----------------------------------------------------------------------------------------


def _json_body(raw: bytes) -> Any:
    return parse_json(raw) if raw.strip() else None


async def post_request(request: Request, runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """Check, route and store a request; 201 with its id, state, routing and history."""
    check_role(principal, FILE)
    body = _json_body(await read_body(request, MAX_BODY_BYTES))
    tables = runtime.reference
    own = principal.country if principal.role == ADMINISTRATION else None
    try:
        asked = parse_request(body, default_country=own, member_states=tables.member_states)
    except RequestInvalid as exc:
        raise Invalid(exc.findings) from None
    region = tables.region_of(asked.country)
    # The requesting country's national contact is the requester's own side, which sees its
    # request as the requester (service.visibility.is_requester): the offices and BDT are asked.
    recipients = route_request(
        asked.country, region, asked.urgency, registry=runtime.contacts.offices(), deadlines=runtime.deadlines
    )
    stored = await runtime.db.write(
        lambda conn: file_request(
            conn, principal, asked, region=region, recipients=recipients, now=runtime.clock()
        )
    )
    return JSONResponse(
        status_code=201,
        content=request_json(stored, registry=runtime.contacts),
        headers={"Location": f"/api/v1/requests/{stored.row.id}"},
    )


# --- acknowledging and moving along -----------------------------------------------------------------


async def post_ack(
    request_id: RequestId, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """An office or BDT among the recipients acknowledges; again by the same one changes nothing."""
    check_role(principal, ACKNOWLEDGE)
    try:
        note = parse_ack(_json_body(await read_body(request, MAX_BODY_BYTES)))
    except RequestInvalid as exc:
        raise Invalid(exc.findings) from None
    stored = await runtime.db.write(
        lambda conn: acknowledge(conn, principal, request_id, note=note, now=runtime.clock())
    )
    return JSONResponse(request_json(stored, registry=runtime.contacts))


async def post_status(
    request_id: RequestId, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """Move a request: {state: in-progress|fulfilled|closed|cancelled, note}."""
    check_role(principal, MOVE)
    try:
        target, note = parse_status(_json_body(await read_body(request, MAX_BODY_BYTES)))
    except RequestInvalid as exc:
        raise Invalid(exc.findings) from None
    stored = await runtime.db.write(
        lambda conn: change_state(conn, principal, request_id, target, note=note, now=runtime.clock())
    )
    return JSONResponse(request_json(stored, registry=runtime.contacts))
