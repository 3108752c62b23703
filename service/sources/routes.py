"""Polled CAP feeds at /api/v1/sources: register a feed, list sources with their health, delete.

An administration registers feeds for itself; the operator for itself (a relay, any sender) or
for an administration named by `country`. The poller (service.sources.poller) ingests each feed's
messages as the source's owner, so the sender registry applies as it does to POST /api/v1/alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, delete, insert, select

from service import audit
from service.auth import ADMINISTRATION, OPERATOR, Principal, principal_key
from service.db.models import FeedEntrySeen, FeedSource, utcnow
from service.db.models import Principal as PrincipalRow
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.runtime import RequiredPrincipal, RuntimeDep
from service.settings import Settings

_sources = FeedSource.__table__
_seen = FeedEntrySeen.__table__
_principals = PrincipalRow.__table__

# Rule ids of refused registrations.
RULE_URL = "service.source.url"
RULE_INTERVAL = "service.source.interval"
RULE_OWNER = "service.source.owner"
RULE_DUPLICATE = "service.source.duplicate"
RULE_FORBIDDEN = "service.source.forbidden"

MAX_URL_CHARS = 2000
# A feed polled less than daily is not watched; one polled more often is asked via the settings.
MAX_INTERVAL_SECONDS = 86_400.0
FEED_SCHEMES = ("http", "https")


class SourceRequest(BaseModel):
    """The body of POST /api/v1/sources."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="The feed: Atom, RSS 2.0, EDXL-DE, <alerts>, CAP-GeoJSON or CAP-JSON")
    name: str | None = Field(default=None, max_length=200)
    interval_seconds: float | None = Field(default=None, description="Seconds between polls")
    country: str | None = Field(
        default=None, description="Operator only: the administration (ISO 3166-1 alpha-3) it is for"
    )


# --- the registry ------------------------------------------------------------------------------


def check_feed_url(url: str) -> str:
    """The URL of a feed as it will be polled: absolute http(s) with a host, no fragment."""
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise Invalid.one(RULE_URL, f"the feed URL must have 1 to {MAX_URL_CHARS} characters", "/url")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Invalid.one(RULE_URL, f"not a URL: {exc}", "/url") from None
    if parsed.scheme not in FEED_SCHEMES or not parsed.host:
        raise Invalid.one(
            RULE_URL, "the feed URL must be absolute http:// or https:// with a host", "/url"
        )
    return str(parsed.copy_with(fragment=None))


def check_interval(seconds: float | None, settings: Settings) -> float:
    """The polling interval: the default when not given, refused outside the allowed range."""
    if seconds is None:
        return max(settings.poll_default_interval_seconds, settings.poll_min_interval_seconds)
    low = settings.poll_min_interval_seconds
    if not low <= seconds <= MAX_INTERVAL_SECONDS:
        raise Invalid.one(
            RULE_INTERVAL,
            f"interval_seconds must be between {low:g} and {MAX_INTERVAL_SECONDS:g}",
            "/interval_seconds",
        )
    return float(seconds)


def owner_of_new_source(conn: Connection, principal: Principal, country: str | None) -> int:
    """The principal a new source will ingest as: the caller, or (operator) an administration."""
    if principal.role == ADMINISTRATION:
        if country is not None and country.upper() != principal.country:
            raise Forbidden.one(RULE_OWNER, "an administration registers feeds for itself only", "/country")
        return principal.id
    if principal.role != OPERATOR:
        raise Forbidden.one(RULE_FORBIDDEN, "only administrations and the operator register feeds")
    if country is None:
        return principal.id
    return principal_id_by_key(conn, principal_key(ADMINISTRATION, country=country.strip().upper()))


def principal_id_by_key(conn: Connection, key: str) -> int:
    """The id of a principal by key ("administration:KEN", "operator"); refused when unknown."""
    found = conn.execute(select(_principals.c.id).where(_principals.c.key == key)).scalar()
    if found is None:
        raise Invalid.one(
            RULE_OWNER,
            f"no principal {key!r} is known; issue it a token first (tampere token create)",
            "/country",
        )
    return int(found)


def register_source(
    conn: Connection,
    *,
    owner_id: int,
    url: str,
    name: str | None,
    interval_seconds: float,
    actor: str,
) -> int:
    """Add a source, due at once; audited. `Conflict` for a URL the owner already registered."""
    s = _sources.c
    existing = conn.execute(select(s.id).where(s.principal_id == owner_id, s.url == url)).scalar()
    if existing is not None:
        raise Conflict.one(RULE_DUPLICATE, f"this feed is already registered as source {existing}", "/url")
    now = utcnow()
    source_id = conn.execute(
        insert(_sources)
        .values(
            principal_id=owner_id,
            url=url,
            name=name,
            interval_seconds=interval_seconds,
            created_at=now,
            next_poll_at=now,
            consecutive_failures=0,
            messages_ingested=0,
            messages_replayed=0,
            messages_rejected=0,
        )
        .returning(s.id)
    ).scalar_one()
    audit.record(
        conn,
        actor=actor,
        action="source.register",
        obj=f"source:{source_id}",
        payload_hash=audit.json_digest(
            {"url": url, "name": name, "interval_seconds": interval_seconds, "owner": owner_id}
        ),
    )
    return int(source_id)


def delete_source(conn: Connection, source_id: int, *, actor: str) -> None:
    """Remove a source and what it remembered; audited. The ingested alerts stay."""
    conn.execute(delete(_seen).where(_seen.c.source_id == source_id))
    conn.execute(delete(_sources).where(_sources.c.id == source_id))
    audit.record(
        conn,
        actor=actor,
        action="source.delete",
        obj=f"source:{source_id}",
        payload_hash=audit.json_digest({"source": source_id}),
    )


_SELECT = select(_sources, _principals.c.key.label("owner")).join(
    _principals, _principals.c.id == _sources.c.principal_id
)


def sources_of(conn: Connection, principal: Principal | None) -> list[Any]:
    """The source rows a principal may see (None: all of them), oldest first."""
    query = _SELECT.order_by(_sources.c.id)
    if principal is not None and principal.role != OPERATOR:
        query = query.where(_sources.c.principal_id == principal.id)
    return list(conn.execute(query).all())


def source_row(conn: Connection, source_id: int) -> Any | None:
    """One source row with its owner's key, or None."""
    return conn.execute(_SELECT.where(_sources.c.id == source_id)).first()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _finding(rule: str | None, message: str | None, at: datetime | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {"rule": rule, "message": message, "at": _iso(at)}


def source_json(row: Any, *, now: datetime) -> dict[str, Any]:
    """A source and its health: last success and error, backoff, lag and message counts."""
    lag = None
    if row.newest_entry_at is not None:
        # Entries dated in the future (a clock ahead of ours) mean no lag, not a negative one.
        lag = max(0.0, (now - row.newest_entry_at) / timedelta(seconds=1))
    return {
        "id": row.id,
        "url": row.url,
        "name": row.name,
        "owner": row.owner,
        "interval_seconds": row.interval_seconds,
        "created_at": _iso(row.created_at),
        "last_poll": _iso(row.last_poll_at),
        "last_success": _iso(row.last_success_at),
        "last_status": row.last_status,
        "last_error": _finding(row.last_error_rule, row.last_error_message, row.last_error_at),
        "consecutive_failures": row.consecutive_failures,
        "next_poll_at": _iso(row.next_poll_at),
        "newest_entry_at": _iso(row.newest_entry_at),
        "lag_seconds": lag,
        "feed_kind": row.feed_kind,
        "entries": row.entries,
        "messages_ingested": row.messages_ingested,
        "messages_replayed": row.messages_replayed,
        "messages_rejected": row.messages_rejected,
        "last_rejection": _finding(
            row.last_rejection_rule, row.last_rejection_message, row.last_rejection_at
        ),
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
        responses={
            **_REFUSALS,
            409: {"description": "The owner already registered this URL"},
            422: {"description": "Bad URL, interval or owner: `errors` names rule and path"},
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
    # Feed URLs can carry credentials (query tokens): only their owner and the operator see them.
    if principal.role not in (ADMINISTRATION, OPERATOR):
        raise Forbidden.one(RULE_FORBIDDEN, "sources are visible to their administration and the operator")


def _not_found(source_id: int) -> NotFound:
    # The same answer for "absent" and "not yours": another administration's feeds stay private.
    return NotFound.one("service.source.not-found", f"no source {source_id}", "{source_id}")


async def post_source(
    body: SourceRequest, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """Register a feed; it is polled at once, then every `interval_seconds`."""
    url = check_feed_url(body.url)
    interval = check_interval(body.interval_seconds, runtime.settings)

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
        content=source_json(row, now=utcnow()),
        headers={"Location": f"/api/v1/sources/{row.id}"},
    )


async def list_sources(runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """The caller's sources (the operator: every source), each with its health."""
    _may_read_sources(principal)
    rows = await runtime.db.read(lambda conn: sources_of(conn, principal))
    now = utcnow()
    return JSONResponse({"sources": [source_json(row, now=now) for row in rows]})


async def _owned_row(runtime: Any, principal: Principal, source_id: int) -> Any:
    _may_read_sources(principal)
    row = await runtime.db.read(lambda conn: source_row(conn, source_id))
    if row is None or (principal.role != OPERATOR and row.principal_id != principal.id):
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
