"""Polled CAP feeds at /api/v1/sources: register a feed, list sources with their health, delete.

What a source may be and its storage are in `service.sources.store`; the poller
(`service.sources.poller`) ingests each feed's messages as the source's owner.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from service.auth import Principal
from service.db.models import utcnow
from service.errors import Forbidden, Invalid, NotFound, validation_findings
from service.http import read_json
from service.runtime import RequiredPrincipal, Runtime, RuntimeDep
from service.sources.store import (
    RULE_FORBIDDEN,
    check_feed_address,
    check_feed_url,
    check_interval,
    delete_source,
    owner_of_new_source,
    register_source,
    source_row,
    sources_of,
)
from service.sources.view import source_json
from service.visibility import may_see_source, may_see_sources


class SourceRequest(BaseModel):
    """The body of POST /api/v1/sources."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="The feed: Atom, RSS 2.0, EDXL-DE, <alerts>, CAP-GeoJSON or CAP-JSON")
    name: str | None = Field(default=None, max_length=200)
    interval_seconds: float | None = Field(default=None, description="Seconds between polls")
    country: str | None = Field(
        default=None, description="Operator only: the administration (ISO 3166-1 alpha-3) it is for"
    )


# A source is a URL, a name and two short fields.
MAX_BODY_BYTES = 16 * 1024
_SOURCE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": SourceRequest.model_json_schema(),
            "examples": {
                "administration": {
                    "summary": "An administration's own CAP feed, polled every two minutes",
                    "value": {
                        "url": "https://meteo.go.ke/cap/alerts.atom",
                        "name": "KMD alerts",
                        "interval_seconds": 120,
                    },
                },
                "operator": {
                    "summary": "The operator polls a feed for an administration (a relay)",
                    "value": {"url": "https://meteo.go.ke/cap/warnings.rss", "country": "KEN"},
                },
            },
        }
    },
}


# --- the HTTP edge -----------------------------------------------------------------------------

SourceId = Annotated[int, Path(ge=1, le=2**62, description="The id given when it was registered")]
_REFUSALS = {
    401: {"description": "No token, or a token that is not known"},
    403: {"description": "Not an administration or the operator, or not this source's owner"},
}


def sources_router() -> APIRouter:
    """The /api/v1/sources routes: register, list with health, show, delete."""
    router = APIRouter(tags=["sources"])
    router.add_api_route(
        "/api/v1/sources",
        post_source,
        methods=["POST"],
        status_code=201,
        summary="Register a CAP feed to poll",
        openapi_extra={"requestBody": _SOURCE_BODY},
        responses={
            **_REFUSALS,
            409: {"description": "The owner already registered this URL"},
            413: {"description": "The body is too large"},
            422: {
                "description": "Bad URL (an internal address among them), interval or owner: "
                "`errors` names rule and path"
            },
        },
    )
    router.add_api_route(
        "/api/v1/sources",
        list_sources,
        methods=["GET"],
        summary="Sources and their health",
        responses=_REFUSALS,
    )
    router.add_api_route(
        "/api/v1/sources/{source_id}",
        get_source,
        methods=["GET"],
        summary="One source and its health",
        responses={**_REFUSALS, 404: {"description": "No such source, or not this principal's"}},
    )
    router.add_api_route(
        "/api/v1/sources/{source_id}",
        remove_source,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        summary="Stop polling a source",
        responses={**_REFUSALS, 404: {"description": "No such source, or not this principal's"}},
    )
    return router


def _may_read_sources(principal: Principal) -> None:
    if not may_see_sources(principal):
        raise Forbidden.one(RULE_FORBIDDEN, "sources are visible to their administration and the operator")


def _not_found(source_id: int) -> NotFound:
    # The same answer for "absent" and "not yours": another administration's feeds stay private.
    return NotFound.one("service.source.not-found", f"no source {source_id}", "{source_id}")


async def _source_request(request: Request) -> SourceRequest:
    # Read here, after authentication, within the limit and the JSON depth of service.http.
    data = await read_json(request, MAX_BODY_BYTES)
    try:
        return SourceRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise Invalid(validation_findings(errors)) from None


async def post_source(request: Request, runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """Register a feed; it is polled at once, then every `interval_seconds`."""
    # Who may register comes first: nobody else makes the service resolve names.
    _may_read_sources(principal)
    body = await _source_request(request)
    url = check_feed_url(body.url)
    interval = check_interval(body.interval_seconds, runtime.settings)
    warnings = await check_feed_address(url, runtime.settings)

    def work(conn: Connection) -> Any:
        owner = owner_of_new_source(conn, principal, body.country)
        source_id = register_source(
            conn, owner_id=owner, url=url, name=body.name, interval_seconds=interval, actor=principal.actor
        )
        return source_row(conn, source_id)

    row = await runtime.db.write(work)
    poller = getattr(request.app.state, "poller", None)
    if poller is not None:
        poller.wake()
    return JSONResponse(
        status_code=201,
        content={**source_json(row, now=utcnow()), "warnings": [w.as_dict() for w in warnings]},
        headers={"Location": f"/api/v1/sources/{row.id}"},
    )


async def list_sources(runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """The caller's sources (the operator: every source), each with its health."""
    _may_read_sources(principal)
    rows = await runtime.db.read(lambda conn: sources_of(conn, principal))
    now = utcnow()
    return JSONResponse({"sources": [source_json(row, now=now) for row in rows]})


async def _owned_row(runtime: Runtime, principal: Principal, source_id: int) -> Any:
    _may_read_sources(principal)
    row = await runtime.db.read(lambda conn: source_row(conn, source_id))
    if row is None or not may_see_source(principal, row.principal_id):
        raise _not_found(source_id)
    return row


async def get_source(source_id: SourceId, runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """One source and its health."""
    row = await _owned_row(runtime, principal, source_id)
    return JSONResponse(source_json(row, now=utcnow()))


async def remove_source(source_id: SourceId, runtime: RuntimeDep, principal: RequiredPrincipal) -> Response:
    """Stop polling a source (its owner or the operator); what it ingested stays."""
    await _owned_row(runtime, principal, source_id)
    await runtime.db.write(lambda conn: delete_source(conn, source_id, actor=principal.actor))
    runtime.metrics.forget_source(source_id)
    return Response(status_code=204)
