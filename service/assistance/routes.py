"""Assistance requests over HTTP (WTDC Res. 34): file one, read and list them, acknowledge
one, move it along. The rules and the storage are in `service.assistance.store`, the domain
(validation, routing, states, escalation) in `contact_points.requests`.

An administration files for its own country; the operator and BDT file on behalf of any.
What a caller may not see answers 404, as if it did not exist.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection

from cap.errors import Finding
from contact_points.edxl_rm import MESSAGE_TYPES, RESPONSE_TYPES, SCHEDULE_TYPES, message_xml
from contact_points.glide import glide_warnings, parse_glide
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
from contact_points.resource_messages import parse_message
from geo.gazetteer import default_countries
from geo.reference import REGIONS
from service.assistance.edxl import follow_up_message, request_message
from service.assistance.store import (
    ACKNOWLEDGE,
    FILE,
    MOVE,
    StoredRequest,
    acknowledge,
    alerts_at_location,
    change_state,
    check_role,
    file_request,
    find_requests,
    send_message,
    visible_request,
)
from service.auth import ADMINISTRATION
from service.errors import Forbidden, Invalid, NotFound
from service.http import parse_json, read_body
from service.runtime import RequiredPrincipal, Runtime, RuntimeDep

# A request is a few kB; 64 KiB leaves room for a hundred items with long names.
MAX_BODY_BYTES = 64 * 1024
MAX_LIST = 1000

_ERRORS = {
    401: {"description": "No token, or a token that is not known"},
    403: {"description": "This principal may not do this: `errors` names the rule"},
    404: {"description": "No such request, or not visible to this principal"},
}
_TERM = {
    "type": "object",
    "required": ["list", "value"],
    "description": "A term of a named vocabulary (EDXL-RM ValueListType: ValueListURN, Value)",
    "properties": {"list": {"type": "string"}, "value": {"type": "string"}},
}
_SCHEDULE = {
    "type": "array",
    "description": "EDXL-RM ScheduleInformation: when or where",
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": list(SCHEDULE_TYPES)},
            "at": {"type": "string", "format": "date-time"},
            "location": {"type": "string"},
        },
    },
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
                        "description": "What is asked for; each item is an EDXL-RM 1.0 "
                        "ResourceInformation, numbered from 1 in this order (ResourceInfoElementID). "
                        "{item, quantity} alone is enough.",
                        "items": {
                            "type": "object",
                            "required": ["item", "quantity"],
                            "properties": {
                                "item": {"type": "string", "description": "Resource/Name"},
                                "quantity": {
                                    "type": "integer",
                                    "minimum": 1,
                                    "description": "MeasuredQuantity/Amount",
                                },
                                "unit": {"type": "string", "description": "MeasuredQuantity/UnitOfMeasure"},
                                "type": {**_TERM, "description": "Resource/TypeStructure"},
                                "keywords": {
                                    "type": "array",
                                    "items": _TERM,
                                    "description": "Resource/Keyword",
                                },
                                "description": {"type": "string", "description": "Resource/Description"},
                                "anticipated_function": {
                                    "type": "string",
                                    "description": "AssignmentInformation/AnticipatedFunction",
                                },
                                "schedule": _SCHEDULE,
                            },
                        },
                    },
                    "location": {
                        "type": "object",
                        "description": "Where help is needed: a GeoJSON Point, Polygon or MultiPolygon "
                        "(RFC 7946, [longitude, latitude]); an administration's must lie within its "
                        "territory and sea margin",
                        "required": ["type", "coordinates"],
                        "properties": {
                            "type": {"type": "string", "enum": ["Point", "Polygon", "MultiPolygon"]},
                            "coordinates": {"type": "array"},
                        },
                    },
                    "glide": {
                        "type": "string",
                        "pattern": "^[A-Za-z]{2}-[0-9]{4}-[0-9]{6}-[A-Za-z]{3}$",
                        "description": "The GLIDE number of the disaster (hazard-year-sequence-ISO3); "
                        "another country's number is accepted with a warning",
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
                "items": [
                    {"item": "BGAN satellite terminal", "quantity": 4},
                    {
                        "item": "VSAT terminal with generator",
                        "quantity": 2,
                        "unit": "each",
                        "type": {"list": "urn:itu:ifce:equipment", "value": "VSAT"},
                        "anticipated_function": "Backhaul for the county emergency operations centre",
                        "schedule": [
                            {
                                "type": "RequestedArrival",
                                "at": "2026-12-09T06:00:00Z",
                                "location": "Garissa airstrip",
                            }
                        ],
                    },
                ],
                "location": {"type": "Point", "coordinates": [39.65, -0.45]},
                "glide": "FL-2026-000187-KEN",
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


_MESSAGE_BODY = {
    "required": True,
    "description": "An EDXL-RM 1.0 message after the request. ResponseToRequestResource (a "
    "recipient, once: `response` Accept, with the items it could supply if it likes, or Decline; "
    "an answer acknowledges the request for that office), CommitResource (a recipient: what it "
    "commits per item; an open or acknowledged request goes in-progress), ReleaseResource (the "
    "requester: what it no longer needs), RequestReturn (a recipient: lent equipment to come "
    "back), ResponseToRequestReturn (the requester: Accept or Decline of RequestReturn `preceding`). "
    "Items name the request's items by `element_id` (1 for the first). Commitments add up to at "
    "most what was asked, releases and returns to at most what was committed (409 otherwise).",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type"],
                "properties": {
                    "type": {"type": "string", "enum": list(MESSAGE_TYPES)},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["element_id", "quantity"],
                            "properties": {
                                "element_id": {"type": "integer", "minimum": 1},
                                "quantity": {"type": "integer", "minimum": 1},
                                "schedule": _SCHEDULE,
                            },
                        },
                    },
                    "note": {"type": "string", "maxLength": 1000, "description": "MessageDescription"},
                    "preceding": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "The RequestReturn answered",
                    },
                    "response": {"type": "string", "enum": list(RESPONSE_TYPES)},
                },
            },
            "examples": {
                "commit": {
                    "summary": "An office commits terminals",
                    "value": {
                        "type": "CommitResource",
                        "items": [
                            {
                                "element_id": 1,
                                "quantity": 4,
                                "schedule": [{"type": "EstimatedArrival", "at": "2026-12-09T18:00:00Z"}],
                            }
                        ],
                        "note": "Four BGAN terminals leave the IFCE stock in Addis Ababa tonight.",
                    },
                },
                "release": {
                    "summary": "The requester releases what it no longer needs",
                    "value": {"type": "ReleaseResource", "items": [{"element_id": 1, "quantity": 2}]},
                },
                "return": {
                    "summary": "The owner asks for lent terminals back",
                    "value": {"type": "RequestReturn", "items": [{"element_id": 1, "quantity": 4}]},
                },
                "respond": {
                    "summary": "An office answers the request: it could supply two of the first item",
                    "value": {
                        "type": "ResponseToRequestResource",
                        "response": "Accept",
                        "items": [{"element_id": 1, "quantity": 2}],
                        "note": "Two terminals in stock in Addis Ababa; the rest from Geneva.",
                    },
                },
                "answer": {
                    "summary": "The requester accepts the return",
                    "value": {"type": "ResponseToRequestReturn", "preceding": 3, "response": "Accept"},
                },
            },
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
    router.add_api_route(
        "/api/v1/requests/{request_id}/messages",
        post_message,
        methods=["POST"],
        status_code=201,
        summary="Send an EDXL-RM message on a request: CommitResource, ReleaseResource, RequestReturn...",
        openapi_extra={"requestBody": _MESSAGE_BODY},
        responses={
            **_ERRORS,
            409: {"description": "Not a message the request's state or quantities allow"},
            422: {"description": "Not a usable message: `errors` lists rule, message and path"},
        },
    )
    router.add_api_route(
        "/api/v1/requests/{request_id}/edxl-rm",
        get_edxl_rm,
        methods=["GET"],
        summary="The request (or one later message) as an OASIS EDXL-RM 1.0 XML message",
        response_class=Response,
        responses={
            200: {"content": {"application/xml": {}}, "description": "EDXL-RM 1.0 XML"},
            **_ERRORS,
        },
    )
    return router


RequestId = Annotated[int, Path(ge=1, le=2**62, description="The id given when it was filed")]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@functools.lru_cache(maxsize=512)
def _country_point(country: str) -> tuple[float, float] | None:
    geometry = default_countries().geometry_of(country)
    if geometry is None or geometry.is_empty:
        return None
    point = geometry.point_on_surface()
    return round(point.x, 4), round(point.y, 4)


def map_point(location: dict[str, Any] | None, country: str) -> list[float] | None:
    """Where a map shows a request: a point on its location, else a point on its country's land
    (None for a country without land in the gazetteer)."""
    if location is not None:
        point = shape(location).point_on_surface()
        return [round(point.x, 6), round(point.y, 6)]
    found = _country_point(country)
    return None if found is None else list(found)


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
        "location": row.location,
        "map_point": map_point(row.location, row.country),
        "glide": row.glide,
        "warnings": [
            {"rule": w.rule, "message": w.message, "path": w.path}
            for w in glide_warnings(row.glide, row.country)
        ],
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
        body["alerts_at_location"] = stored.alerts_at_location
        body["messages"] = [
            {
                "number": m.number,
                "type": m.type,
                "sent": _iso(m.sent_at),
                "by": m.by,
                "contact": m.contact_id,
                "preceding": m.preceding,
                "items": m.items,
                **({"note": m.note} if m.note else {}),
                **({"response": m.response} if m.response else {}),
            }
            for m in stored.messages
        ]
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
    """One request, with its routing, messages, history and the alerts over its location; 404
    when absent or not visible."""
    now = runtime.clock()

    def read(conn: Connection) -> StoredRequest:
        stored = visible_request(conn, principal, request_id)
        stored.alerts_at_location = alerts_at_location(conn, principal, stored.row.location, now=now)
        return stored

    stored = await runtime.db.read(read)
    return JSONResponse(request_json(stored, registry=runtime.contacts))


async def list_requests(
    runtime: RuntimeDep,
    principal: RequiredPrincipal,
    state: Annotated[str | None, Query(max_length=32, description="open, acknowledged...")] = None,
    country: Annotated[str | None, Query(max_length=3, description="ISO 3166-1 alpha-3")] = None,
    region: Annotated[str | None, Query(max_length=64, description="ITU-D region")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
    glide: Annotated[
        str | None, Query(max_length=32, description="GLIDE number, e.g. TC-2016-000014-FJI")
    ] = None,
) -> JSONResponse:
    """The requests the caller may see, newest first, filtered by state, country, region, GLIDE."""
    findings: list[Finding] = []
    if glide is not None:
        found: list[Finding] = []
        number = parse_glide(glide, "?glide", found)
        findings += [Finding("request.query.glide", f.message, f.path) for f in found]
        glide = None if number is None else str(number)
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
        lambda conn: find_requests(
            conn, principal, state=state, country=country, region=region, limit=limit, glide=glide
        )
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
    if principal.role == ADMINISTRATION and asked.location is not None:
        await _check_location(runtime, asked.country, asked.location)
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


async def _check_location(runtime: Runtime, country: str, location: BaseGeometry) -> None:
    """`Forbidden` when an administration's location reaches beyond its territory and sea margin
    (`geo.jurisdiction`, the rule its alerts and status reports are held to)."""
    # Building a jurisdiction the first time takes up to seconds: not on the event loop.
    if not runtime.jurisdictions.ready(country):
        await anyio.to_thread.run_sync(runtime.jurisdictions.of, country)
    if runtime.jurisdictions.of(country).outside(location):
        raise Forbidden.one(
            "request.location.outside-jurisdiction",
            f"the location reaches beyond {country} and {runtime.jurisdictions.margin_km:g} km of sea "
            "around it: an administration asks for help on its own territory",
            "/location",
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


# --- EDXL-RM messages -------------------------------------------------------------------------------


async def post_message(
    request_id: RequestId, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """Send an EDXL-RM message on a request; 201 with the request as it stands after."""
    check_role(principal, MOVE)
    try:
        message = parse_message(_json_body(await read_body(request, MAX_BODY_BYTES)))
    except RequestInvalid as exc:
        raise Invalid(exc.findings) from None
    stored, number = await runtime.db.write(
        lambda conn: send_message(conn, principal, request_id, message, now=runtime.clock())
    )
    return JSONResponse(
        status_code=201,
        content=request_json(stored, registry=runtime.contacts),
        headers={"Location": f"/api/v1/requests/{request_id}/edxl-rm?message={number}"},
    )


async def get_edxl_rm(
    request_id: RequestId,
    runtime: RuntimeDep,
    principal: RequiredPrincipal,
    message: Annotated[
        int, Query(ge=0, le=2**31, description="0: the request (RequestResource); N: its message N")
    ] = 0,
) -> Response:
    """The request, or its message N, as EDXL-RM 1.0 XML; 404 when either is not visible or absent."""
    stored = await runtime.db.read(lambda conn: visible_request(conn, principal, request_id))
    built = (
        request_message(stored)
        if message == 0
        else follow_up_message(stored, message, registry=runtime.contacts)
    )
    if built is None:
        raise NotFound.one(
            "request.message.not-found", f"request {request_id} has no message {message}", "?message"
        )
    return Response(content=message_xml(built), media_type="application/xml")
