"""The contact-point registry over HTTP: every principal reads it (people only for the operator,
BDT and the contact point itself: `service.visibility.may_see_contact_people`); the operator
adds, replaces and removes contact points. The rules of a record are
`contact_points.records.parse_contact`, the storage `service.contact_points.store`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection, select

from cap.errors import Finding
from contact_points.records import ContactInvalid, contact_record, parse_contact
from contact_points.registry import BDT, KINDS, NATIONAL, ContactPoint
from geo.reference import REGIONS
from service.auth import ADMINISTRATION, OFFICE, OPERATOR, Principal, principal_key
from service.contact_points import store
from service.contact_points.reload import refresh_contacts
from service.db.models import DeliveryChannel
from service.deliveries.store import EMAIL, WEBHOOK
from service.deliveries.view import channel_json
from service.errors import Forbidden, Invalid, NotFound
from service.http import parse_json, read_body
from service.runtime import RequiredPrincipal, Runtime, RuntimeDep
from service.visibility import may_see_contact_people

# A contact point with fifty people and every Member State is under 32 KiB.
MAX_BODY_BYTES = 64 * 1024
RULE_OPERATOR_ONLY = "contact_point.operator-only"
RULE_QUERY = "contact_point.query"
PATH = "/api/v1/contact-points"
_delivery_channels = DeliveryChannel.__table__

_ERRORS = {
    401: {"description": "No token, or a token that is not known"},
    403: {"description": "Only the operator changes the registry"},
}
_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["id", "kind", "name"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
                    "kind": {"type": "string", "enum": list(KINDS)},
                    "name": {"type": "string", "maxLength": 200},
                    "region": {"type": ["string", "null"], "enum": [*REGIONS, None]},
                    "country": {"type": ["string", "null"], "description": "ISO 3166-1 alpha-3"},
                    "city": {"type": ["string", "null"]},
                    "countries": {"type": "array", "items": {"type": "string"}},
                    "coverage": {"type": "string", "enum": ["complete", "partial", "unknown"]},
                    "people": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "role": {"type": ["string", "null"]},
                                "languages": {"type": "array", "items": {"type": "string"}},
                                "time_zone": {"type": ["string", "null"]},
                                "email": {"type": ["string", "null"]},
                                "phone": {"type": ["string", "null"]},
                            },
                        },
                    },
                    "head": {"type": ["string", "null"]},
                    "deputies": {"type": "array", "items": {"type": "string"}},
                    "channels": {
                        "type": "object",
                        "properties": {
                            "email": {"type": "array", "items": {"type": "string"}},
                            "phone": {"type": ["string", "null"]},
                        },
                    },
                    "emergency_frequencies": {"type": ["array", "null"], "items": {"type": "string"}},
                    "tampere_convention": {"type": ["boolean", "null"]},
                    "source": {"type": ["string", "null"]},
                    "verification": {"type": ["string", "null"]},
                },
            },
            "example": {
                "id": "ao-suva",
                "kind": "area_office",
                "name": "ITU Area Office for the Pacific",
                "region": "Asia and the Pacific",
                "country": "FJI",
                "city": "Suva",
                "countries": ["FJI", "TON", "WSM"],
                "coverage": "partial",
                "people": [{"name": "Duty officer", "role": "desk officer", "languages": ["en", "fr"]}],
                "head": "Duty officer",
                "channels": {"email": ["duty@ao-suva.example.org"], "phone": None},
                "source": "the operator's note of the office's opening",
                "verification": "unverified",
            },
        }
    },
}


def contact_points_router() -> APIRouter:
    """The /api/v1/contact-points routes."""
    router = APIRouter(tags=["contact points"])
    router.add_api_route(PATH, list_contact_points, methods=["GET"], summary="The contact-point registry")
    router.add_api_route(
        f"{PATH}/{{contact_id}}",
        get_contact_point,
        methods=["GET"],
        summary="One contact point",
        responses={404: {"description": "No such contact point"}},
    )
    router.add_api_route(
        PATH,
        post_contact_point,
        methods=["POST"],
        status_code=201,
        summary="Add a contact point (operator)",
        openapi_extra={"requestBody": _BODY},
        responses={
            **_ERRORS,
            409: {"description": "The id is taken, or a second BDT or regional office for a region"},
            422: {"description": "Not a usable contact point: `errors` lists rule, message and path"},
        },
    )
    router.add_api_route(
        f"{PATH}/{{contact_id}}",
        put_contact_point,
        methods=["PUT"],
        summary="Replace a contact point (operator)",
        openapi_extra={"requestBody": _BODY},
        responses={
            **_ERRORS,
            404: {"description": "No such contact point"},
            409: {"description": "A second BDT or regional office for a region, or the last BDT"},
            422: {"description": "Not a usable contact point: `errors` lists rule, message and path"},
        },
    )
    router.add_api_route(
        f"{PATH}/{{contact_id}}",
        delete_contact_point,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        summary="Remove a contact point (operator)",
        responses={
            **_ERRORS,
            404: {"description": "No such contact point"},
            409: {"description": "The only BDT focal point"},
        },
    )
    return router


ContactId = Annotated[str, Path(min_length=1, max_length=64, description="e.g. ro-bangkok, national-fji")]


def websocket_principal(contact: ContactPoint) -> str:
    """The principal whose event stream is this contact point's websocket channel."""
    if contact.kind == NATIONAL:
        return principal_key(ADMINISTRATION, country=contact.country)
    if contact.kind == BDT:
        return principal_key(BDT)
    return principal_key(OFFICE, office=contact.id)


def contact_json(
    contact: ContactPoint, principal: Principal, channels: Mapping[str, Sequence[Any]] | None = None
) -> dict[str, Any]:
    """A contact point as this principal may see it: people, and the webhooks and e-mail
    channels (`channels`: rows by contact id) only when `may_see_contact_people`."""
    insider = may_see_contact_people(principal, contact)
    body = contact_record(contact, people=insider)
    body["channels"] = {"websocket": websocket_principal(contact), **body["channels"]}
    if insider and channels is not None:
        rows = channels.get(contact.id, ())
        # Never a webhook's secret: channel_json leaves it out (given once, when it is made).
        body["channels"]["webhooks"] = [channel_json(r) for r in rows if r.kind == WEBHOOK]
        body["channels"]["email_subscriptions"] = [channel_json(r) for r in rows if r.kind == EMAIL]
    body["links"] = {"self": f"{PATH}/{contact.id}"}
    return body


def _channels_by_contact(conn: Connection, contact_ids: Sequence[str]) -> dict[str, list[Any]]:
    """The delivery channels (webhooks, e-mail) of these contact points, oldest first."""
    found: dict[str, list[Any]] = {}
    if not contact_ids:
        return found
    c = _delivery_channels.c
    for row in conn.execute(
        select(_delivery_channels).where(c.contact_id.in_(list(contact_ids))).order_by(c.id)
    ):
        found.setdefault(row.contact_id, []).append(row)
    return found


async def _with_channels(
    runtime: Runtime, principal: Principal, contacts: Sequence[ContactPoint]
) -> dict[str, list[Any]]:
    """The channels of the contact points whose channels this principal may see (one read)."""
    ids = [c.id for c in contacts if may_see_contact_people(principal, c)]
    return await runtime.db.read(lambda conn: _channels_by_contact(conn, ids)) if ids else {}


def _operator(principal: Principal) -> None:
    if principal.role != OPERATOR:
        raise Forbidden.one(RULE_OPERATOR_ONLY, "the operator adds, replaces and removes contact points", "/")


def _not_found(contact_id: str) -> NotFound:
    return NotFound.one(store.RULE_NOT_FOUND, f"no contact point {contact_id[:64]!r}", "{contact_id}")


async def list_contact_points(
    runtime: RuntimeDep,
    principal: RequiredPrincipal,
    kind: Annotated[str | None, Query(max_length=32, description="bdt, regional_office...")] = None,
    country: Annotated[
        str | None, Query(max_length=3, description="serving this Member State (ISO3)")
    ] = None,
    region: Annotated[str | None, Query(max_length=64, description="ITU-D region")] = None,
) -> JSONResponse:
    """Every contact point (of a kind, serving a country, of a region), BDT first."""
    findings = []
    if kind is not None and kind not in KINDS:
        findings.append(Finding(RULE_QUERY, f"kind {kind!r}; one of {', '.join(KINDS)}", "?kind"))
    if country is not None:
        country = country.strip().upper()
        if country not in runtime.reference.member_states:
            findings.append(
                Finding(RULE_QUERY, f"country {country!r} is not a Member State's ISO3 code", "?country")
            )
    if region is not None and region not in REGIONS:
        findings.append(Finding(RULE_QUERY, f"region {region!r}; one of {', '.join(REGIONS)}", "?region"))
    if findings:
        raise Invalid(findings)
    contacts = await runtime.db.read(lambda conn: store.list_contacts(conn, kind=kind))
    chosen = [
        c
        for c in contacts
        if (country is None or country in c.serves) and (region is None or c.region == region)
    ]
    channels = await _with_channels(runtime, principal, chosen)
    return JSONResponse([contact_json(c, principal, channels) for c in chosen])


async def get_contact_point(
    contact_id: ContactId, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """One contact point; 404 when there is none with this id."""
    contact = await runtime.db.read(lambda conn: store.get(conn, contact_id))
    if contact is None:
        raise _not_found(contact_id)
    channels = await _with_channels(runtime, principal, [contact])
    return JSONResponse(contact_json(contact, principal, channels))


async def _checked_body(request: Request, runtime: RuntimeDep) -> ContactPoint:
    raw = await read_body(request, MAX_BODY_BYTES)
    body = parse_json(raw) if raw.strip() else None
    if isinstance(body, dict):
        # What GET answers, changed, is a valid body: its links are the service's, not data.
        body.pop("links", None)
    try:
        return parse_contact(body, reference=runtime.reference)
    except ContactInvalid as exc:
        raise Invalid(exc.findings) from None


async def post_contact_point(
    request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """Add a contact point; 201 with it."""
    _operator(principal)
    contact = await _checked_body(request, runtime)
    await runtime.db.write(lambda conn: store.create(conn, contact, actor=principal.actor))
    await refresh_contacts(runtime)
    return JSONResponse(
        status_code=201,
        content=contact_json(contact, principal),
        headers={"Location": f"{PATH}/{contact.id}"},
    )


async def put_contact_point(
    contact_id: ContactId, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """Replace a contact point whole (what GET answered the operator, changed, is a valid body)."""
    _operator(principal)
    contact = await _checked_body(request, runtime)
    await runtime.db.write(lambda conn: store.replace(conn, contact_id, contact, actor=principal.actor))
    await refresh_contacts(runtime)
    return JSONResponse(contact_json(contact, principal))


async def delete_contact_point(
    contact_id: ContactId, runtime: RuntimeDep, principal: RequiredPrincipal
) -> Response:
    """Remove a contact point; alerts and requests already routed to it keep their entries."""
    _operator(principal)
    await runtime.db.write(lambda conn: store.delete_contact(conn, contact_id, actor=principal.actor))
    await refresh_contacts(runtime)
    return Response(status_code=204)
