"""HTTP views of alerts: post CAP, list active alerts as GeoJSON, one alert, its CAP, its
impact (stored or as of a time), a recipient's acknowledgement (also over the event stream),
Atom out. Who sees which alert is `service.visibility`'s."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection, and_, exists, or_, select

from cap.redaction import redact_password
from contact_points.routing import SEVERITIES
from geo.areas import bbox_of
from geo.gazetteer import default_countries
from geo.generalise import MAX_ZOOM, generalise
from geo.reference import REGIONS
from service.alerts import atom, lifecycle
from service.alerts.examples import OPENAPI_EXAMPLES
from service.alerts.impacts import alert_shape, connectivity_part, event_time_of
from service.alerts.ingest import IngestForbidden, IngestRejected, KeyConflict, OutsideJurisdiction, ingest
from service.alerts.lists import PublicLists
from service.alerts.recipients import acknowledge, routing_policy
from service.alerts.view import AlertView, alert_json, feature_json, map_feature_json, select_views
from service.auth import Principal
from service.bbox import overlaps_sql, parse_bbox
from service.db.models import AlertRecord, AlertTag, Event, utcnow
from service.errors import Invalid, NotFound, TooLarge
from service.events import log as event_log
from service.events.stream import latest_event_id
from service.http import RevalidatedAnswers, parse_json, query_time, read_body
from service.runtime import OptionalPrincipal, RequiredPrincipal, Runtime, RuntimeDep
from service.visibility import MessageFacts, alert_clause, event_payload, may_see_alert, may_see_cause

log = logging.getLogger(__name__)
_alerts = AlertRecord.__table__
_events = Event.__table__
_tags = AlertTag.__table__
# The message that caused an event (events.by_alert_id), for who may be told which it was.
_causes = _alerts.alias("cause")
MAX_LIST = 5000
# Lists answered lately, gzipped once each (service.http.RevalidatedAnswers).
_LIST_ANSWERS = RevalidatedAnswers()
# Lists for readers without credentials, made once per change (service.alerts.lists).
_PUBLIC_LISTS = PublicLists()

# Rule ids of the refusals of these routes (the CAP library's own are cap.*).
RULE_NOT_FOUND = "alert.not-found"
# What a history step carries of its event's payload as data (`details`), so that a reader in
# any language is told who did what from it rather than from the English `note`: an
# escalation's steps and deadline, who acknowledged, whom the rules added, what was refused.
HISTORY_DETAILS = (
    "from",
    "to",
    "contact_point",
    "to_whom",
    "level",
    "due",
    "priority",
    "contact_points",
    "acknowledged_at",
    "rules",
    "reason",
    "by_msgType",
)
RULE_SINCE = "alert.since"
RULE_FILTER = "alert.filter.unknown"
RULE_ACK_BODY = "alert.ack.body"
RULE_ACK_ALERT = "alert.ack.alert"
# An acknowledgement says nothing but who and when: an empty body, or {}.
MAX_ACK_BODY_BYTES = 1024

ATOM_PATH = "/api/v1/feeds/alerts.atom"
Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
ListView = Literal["full", "map"]

_CAP_BODY = {
    "required": True,
    "description": "One CAP 1.0, 1.1 or 1.2 <alert>, as XML bytes.",
    "content": {
        "application/cap+xml": {"schema": {"type": "string"}, "examples": OPENAPI_EXAMPLES},
        "application/xml": {"schema": {"type": "string"}, "examples": OPENAPI_EXAMPLES},
    },
}
_ERRORS = {
    401: {"description": "No token, or a token that is not known"},
    403: {
        "description": "The principal may not post as this sender, about that territory, or "
        "update, cancel, ack or error that alert"
    },
    409: {"description": "The key (sender, identifier, sent) names a stored message with other content"},
    413: {"description": "The body is larger than TAMPERE_MAX_BODY_BYTES"},
    422: {"description": "Not ingestible: `errors` lists rule, message and path"},
}


ALERT_DESCRIPTION = """\
The alert's JSON (as listed), its `history`, `references` and the parsed CAP model (`alert`).

Each `routing` entry holds the contract's members (`contact_point`, `priority`,
`ack_within_seconds`, `acknowledged_at`, `escalated_to`, `reasons`, `rule`, `provenance`) and,
beside the English `reasons`, the same reasons as data in `grounds`: one object per reason, in
the same order, `{"rule", "kind", ...facts}`, so that a client shows them in its reader's
language. The kinds and their facts: `cap` (`element`, `value`, `allowed`), `category`
(`categories`), `event` (`event`, `words`), `member_states` and `countries` (`countries`, ISO3),
`no_member_state` (`mapped`), `regions` (`regions`, ITU-D), `groups` (`members`: `[{"country",
"group"}]`, group one of ldc, lldc, sids), `sites_down_share` (`down`, `total`, `share`,
`at_least`), `sites_down` (`down`, `at_least`), `population` (`population`, `at_least`),
`cable_landings` (`count`, `landing_points`), `signature` (`verified`), `area_office`
(`country`, `coverage`), `regional_office` (`region`), `national_contact` (`country`), `bdt`,
`named` (`contact_point`), `priority_set` (`priority`), `priority_cap` (`priority`, `severity`,
`urgency`, `raised_from`: the CAP-derived priority a rule raised, else null), `escalation`
(`from`, `due`, `to`: the entry of a contact point an escalation reached). A kind a client does
not know is shown by its English reason. Entries stored before `grounds` existed have none.
Each `provenance` fact carries `about` besides its English `fact` and `source`: what it is about
as data, `{"kind", ...}`: `cap` (`element`, `value`; as verified as the message's signature),
`member_state` (`country`), `group` (`group`, `country`), `office` and `escalation_chain`
(`contact_point`), `placement`, `impact` (`layer`: sites, population, landings).

Each `history` step is `{"event", "at", "action", "state", "by", "note"?, "details"}`; `note` is
English text, `details` the same as data from the event: `from`, `to`, `contact_point`,
`to_whom`, `level`, `due`, `priority` (an escalation), `contact_points`, `acknowledged_at` (an
acknowledgement; `contact_points` and `rules` when the rules added recipients), `reason`,
`by_msgType` (a refused reference, to who may see the message that made it).
"""


def alerts_router() -> APIRouter:
    """The /api/v1/alerts routes and the Atom feed."""
    router = APIRouter(tags=["alerts"])
    router.add_api_route(
        "/api/v1/alerts",
        post_alert,
        methods=["POST"],
        status_code=201,
        responses={200: {"description": "A replay: the alert already stored"}, **_ERRORS},
        openapi_extra={"requestBody": _CAP_BODY},
        summary="Ingest one CAP message",
    )
    router.add_api_route(
        "/api/v1/alerts",
        list_alerts,
        methods=["GET"],
        summary="Active alerts as GeoJSON",
        response_class=JSONResponse,
    )
    router.add_api_route(
        "/api/v1/alerts/{alert_id}",
        get_alert,
        methods=["GET"],
        summary="One alert",
        description=ALERT_DESCRIPTION,
        responses={404: {"description": "No such alert, or not visible to this principal"}},
    )
    router.add_api_route(
        "/api/v1/alerts/{alert_id}/cap",
        get_alert_cap,
        methods=["GET"],
        summary="The CAP message as received (a CAP 1.0 <password> emptied)",
        response_class=Response,
        responses={
            200: {"content": {atom.CAP_MEDIA_TYPE: {}}},
            404: {"description": "No such alert, or not visible to this principal"},
        },
    )
    router.add_api_route(
        "/api/v1/alerts/{alert_id}/impact",
        get_alert_impact,
        methods=["GET"],
        summary="An alert's impact, stored or as of a time",
        responses={
            404: {"description": "No such alert, or not visible to this principal"},
            422: {"description": "`as_of` is not a time with a UTC offset"},
        },
    )
    router.add_api_route(
        "/api/v1/alerts/{alert_id}/ack",
        post_alert_ack,
        methods=["POST"],
        summary="Acknowledge an alert routed to this principal's contact point",
        openapi_extra={
            "requestBody": {
                "required": False,
                "description": "Nothing, or an empty object",
                "content": {
                    "application/json": {"schema": {"type": "object", "maxProperties": 0}, "example": {}}
                },
            }
        },
        responses={
            403: {"description": "This principal is not among the alert's recipients"},
            404: {"description": "No such alert, or not visible to this principal"},
            422: {"description": "A body other than nothing or {}"},
        },
    )
    router.add_api_route(
        ATOM_PATH,
        alerts_atom,
        methods=["GET"],
        summary="Atom feed of active public alerts",
        response_class=Response,
        responses={200: {"content": {"application/atom+xml; charset=utf-8": {}}}},
    )
    return router


# --- POST ------------------------------------------------------------------------------------


async def post_alert(request: Request, runtime: RuntimeDep, principal: RequiredPrincipal) -> Response:
    """Validate, authorise and store one CAP message; 201 new, 200 replay, 422 not ingestible."""
    started = time.perf_counter()
    metrics = runtime.metrics
    try:
        raw = await read_body(request, runtime.settings.max_body_bytes)
    except TooLarge:
        metrics.ingest.labels("too_large").inc()
        raise
    try:
        status = runtime.network.status
        outcome = await ingest(
            runtime.db,
            principal,
            raw,
            registry=runtime.contacts,
            connectivity=runtime.connectivity,
            status=status,
            gazetteer=runtime.gazetteer,
            lifetime=runtime.settings.alert_lifetime(),
            jurisdictions=runtime.jurisdictions,
            policy=routing_policy(runtime),
            clock=runtime.clock,
        )
    except IngestRejected as exc:
        metrics.ingest.labels("rejected").inc()
        rules = sorted({f.rule for f in exc.report.errors})
        log.info("CAP message rejected", extra={"actor": principal.actor, "rules": rules})
        raise
    except KeyConflict:
        metrics.ingest.labels("conflict").inc()
        log.info("CAP message conflicts with a stored one", extra={"actor": principal.actor})
        raise
    except (IngestForbidden, OutsideJurisdiction, lifecycle.NotAllowed) as exc:
        metrics.ingest.labels("forbidden").inc()
        log.info("CAP message refused", extra={"actor": principal.actor, "reason": str(exc)})
        raise
    metrics.ingest.labels("created" if outcome.created else "replayed").inc()
    metrics.ingest_seconds.observe(time.perf_counter() - started)
    return JSONResponse(
        status_code=201 if outcome.created else 200,
        content=alert_json(outcome.alert, now=utcnow()),
        headers={"Location": f"/api/v1/alerts/{outcome.alert.id}"},
    )


# --- acknowledgement ---------------------------------------------------------------------------


async def acknowledge_alert(runtime: Runtime, principal: Principal, alert_id: int) -> dict[str, Any]:
    """Record the principal's acknowledgement; the answer (REST and websocket alike)."""
    outcome = await runtime.db.write(
        lambda conn: acknowledge(conn, principal, alert_id, registry=runtime.contacts, now=runtime.clock())
    )
    return outcome.as_json()


async def post_alert_ack(
    alert_id: AlertId, request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """A recipient acknowledges: its deadline is met and its escalation stops (and that of every
    recipient whose chain reaches it); again changes nothing. Anyone else: 403, or 404 when it
    may not see the alert."""
    raw = await read_body(request, MAX_ACK_BODY_BYTES)
    if raw.strip():
        body = parse_json(raw)
        if not isinstance(body, dict) or body:
            raise Invalid.one(RULE_ACK_BODY, "an acknowledgement has no body, or {}", "/")
    return JSONResponse(await acknowledge_alert(runtime, principal, alert_id))


async def alert_ack_command(
    runtime: Runtime, principal: Principal, message: dict[str, Any]
) -> dict[str, Any]:
    """The event stream's `{"type": "ack", "alert": ID}`: as POST /api/v1/alerts/{ID}/ack."""
    alert_id = message.get("alert")
    extra = sorted(set(message) - {"type", "alert"})
    if not isinstance(alert_id, int) or isinstance(alert_id, bool) or not 1 <= alert_id <= 2**62 or extra:
        problem = f"unknown field(s) {extra}" if extra else f"alert is {alert_id!r}"
        raise Invalid.one(
            RULE_ACK_ALERT, f'an ack is {{"type": "ack", "alert": <alert id>}}; {problem}', "/alert"
        )
    return await acknowledge_alert(runtime, principal, alert_id)


# --- reads -----------------------------------------------------------------------------------


def _visible_view(connection: Connection, alert_id: int, principal: Principal | None) -> AlertView | None:
    """The alert if this principal may see it (`service.visibility`), else None."""
    row = connection.execute(select_views().where(_alerts.c.id == alert_id)).first()
    if row is None or not may_see_alert(principal, view := AlertView(*row)):
        return None
    return view


def alert_not_found(alert_id: int) -> NotFound:
    """The 404 of an alert: the same for "absent" and "not yours", so scope leaks no existence."""
    return NotFound.one(RULE_NOT_FOUND, f"no alert {alert_id}", "{alert_id}")


AlertId = Annotated[int, Path(ge=1, le=2**62, description="The id given when it was posted")]


def _alert_detail(
    connection: Connection, alert_id: int, principal: Principal | None
) -> dict[str, Any] | None:
    view = _visible_view(connection, alert_id, principal)
    if view is None:
        return None
    model = connection.execute(select(_alerts.c.model).where(_alerts.c.id == alert_id)).scalar_one()
    cause = _causes.c
    history = connection.execute(
        select(
            _events.c.id,
            _events.c.at,
            _events.c.type,
            _events.c.payload,
            cause.scope,
            cause.poster_id,
            cause.sender,
            cause.addresses,
        )
        .select_from(_events.outerjoin(_causes, cause.id == _events.c.by_alert_id))
        .where(_events.c.alert_id == alert_id)
        .order_by(_events.c.id)
    ).all()
    references = []
    a = _alerts.c
    for ref in model.get("references", []):
        target = connection.execute(
            select(a.id, a.scope, a.poster_id, a.sender, a.addresses).where(
                a.sender == ref["sender"],
                a.identifier == ref["identifier"],
                a.sent_at == datetime.fromisoformat(ref["sent"]),
            )
        ).first()
        # The reference itself is this message's content; the id of what it names is told
        # only to who may see that alert (to the others it reads as not received).
        seen = target is not None and may_see_alert(principal, target)
        references.append({**ref, "alert_id": target.id if seen else None})
    now = utcnow()
    body = alert_json(view, now=now)
    steps = []
    for event_id, at, kind, stored, *facts in history:
        # As the event stream tells it: which message caused it only to who may see that one.
        cause = None if facts[0] is None else MessageFacts(*facts)
        payload = event_payload(stored, with_cause=may_see_cause(principal, cause))
        steps.append(
            {
                "event": event_id,
                "at": at.isoformat(),
                "action": kind.removeprefix(event_log.PREFIX),
                "state": payload.get("state"),
                "by": payload.get("by"),
                **({"note": payload["note"]} if payload.get("note") else {}),
                "details": {key: payload[key] for key in HISTORY_DETAILS if key in payload},
            }
        )
    if body["state"] == lifecycle.EXPIRED and view.state == lifecycle.ACTIVE:
        # Past its expiry, the sweep has not written it yet.
        steps.append(
            {
                "event": None,
                "at": body["expires"],
                "action": "expired",
                "state": lifecycle.EXPIRED,
                "by": None,
                "details": {},
            }
        )
    body["history"] = steps
    body["references"] = references
    body["geometry"] = view.geometry
    body["alert"] = model
    return body


async def get_alert(alert_id: AlertId, runtime: RuntimeDep, principal: OptionalPrincipal) -> dict[str, Any]:
    """One alert: its JSON, its state and history, and the parsed CAP model."""
    body = await runtime.db.read(lambda conn: _alert_detail(conn, alert_id, principal))
    if body is None:
        raise alert_not_found(alert_id)
    return body


def _alert_bytes(connection: Connection, alert_id: int, principal: Principal | None) -> bytes | None:
    if _visible_view(connection, alert_id, principal) is None:
        return None
    raw: bytes = connection.execute(select(_alerts.c.raw).where(_alerts.c.id == alert_id)).scalar_one()
    # The store keeps the bytes as received: they are what the XML signature was verified over
    # and what the audit log's digest names, so they are not rewritten at ingest. What leaves is
    # redacted here, on the way out (in the reader's thread): a CAP 1.0 <password> emptied,
    # every other byte as received. (A signed CAP 1.0 message with a password therefore no
    # longer verifies as served; the secret matters more, and the service verified it already.)
    return redact_password(raw)


async def get_alert_cap(alert_id: AlertId, runtime: RuntimeDep, principal: OptionalPrincipal) -> Response:
    """The CAP message as it was received, a CAP 1.0 <password>'s content removed."""
    raw = await runtime.db.read(lambda conn: _alert_bytes(conn, alert_id, principal))
    if raw is None:
        raise alert_not_found(alert_id)
    return Response(content=raw, media_type=atom.CAP_MEDIA_TYPE)


def _impact_source(
    connection: Connection, alert_id: int, principal: Principal | None
) -> tuple[AlertView, dict[str, Any]] | None:
    view = _visible_view(connection, alert_id, principal)
    if view is None:
        return None
    model: dict[str, Any] = connection.execute(
        select(_alerts.c.model).where(_alerts.c.id == alert_id)
    ).scalar_one()
    return view, model


async def get_alert_impact(
    alert_id: AlertId,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    as_of: Annotated[
        datetime | None,
        Query(description="Recompute against the network status as of this time (ISO 8601 with offset)"),
    ] = None,
) -> dict[str, Any]:
    """The stored impact and when it was computed; with `as_of`, the connectivity part
    recomputed against the status reports known at that time (the layer as loaded now)."""
    as_of = query_time(as_of, param="as_of", rule="impact.as_of")
    found = await runtime.db.read(lambda conn: _impact_source(conn, alert_id, principal))
    if found is None:
        raise alert_not_found(alert_id)
    view, model = found
    impact = dict(view.impact)
    stored_as_of = impact.pop("as_of", None) or view.received_at.isoformat()
    if as_of is None or view.geometry is None:
        return {"alert_id": view.id, "as_of": stored_as_of, "recomputed": False, "impact": impact}
    layer = runtime.connectivity
    geometry = alert_shape(view.geometry)
    status = runtime.network.near(bbox_of(geometry))
    fresh = await anyio.to_thread.run_sync(
        lambda: connectivity_part(
            geometry, layer=layer, status=status, as_of=as_of, event_time=event_time_of(model)
        )
    )
    return {
        "alert_id": view.id,
        "as_of": as_of.isoformat(),
        "recomputed": True,
        "impact": {**impact, **fresh},
    }


def _known(value: str, allowed: Sequence[str], param: str, what: str) -> str:
    """A filter value among `allowed` (exact, as stored); else 422 naming them."""
    if value not in allowed:
        message = f"{param} {value[:64]!r} is not {what}: one of {', '.join(allowed)}"
        raise Invalid.one(RULE_FILTER, message, f"?{param}")
    return value


def country_filter(value: str) -> str:
    """A `country` filter as stored on alerts: an ISO 3166-1 alpha-3 code of a known country
    (any case); else 422 saying what is wrong (an alpha-2 code is answered with its alpha-3)."""
    code = value.strip().upper()
    alpha3 = default_countries().alpha3_of(code)
    if alpha3 == code:
        return code
    hint = f"; {code} names {alpha3}" if alpha3 else ""
    message = f"country {value[:64]!r} is not a known ISO 3166-1 alpha-3 code (e.g. KEN, FJI){hint}"
    raise Invalid.one(RULE_FILTER, message, "?country")


def _tagged(kind: str, value: str) -> Any:
    return exists().where(_tags.c.alert_id == _alerts.c.id, _tags.c.kind == kind, _tags.c.value == value)


def _active(now: datetime, statuses: str | Sequence[str]) -> Any:
    """Active alerts of one or more statuses, of the message types a list shows."""
    wanted = [statuses] if isinstance(statuses, str) else list(statuses)
    return and_(
        _alerts.c.state == lifecycle.ACTIVE,
        _alerts.c.status.in_(wanted),
        _alerts.c.msg_type.in_(lifecycle.LISTED_MSG_TYPES),
        or_(_alerts.c.expires_at.is_(None), _alerts.c.expires_at > now),
    )


def _visible_views(
    connection: Connection, query: Any, principal: Principal | None, limit: int
) -> list[AlertView]:
    """Up to `limit` alerts of `query` the principal may see: cut in SQL, then row by row."""
    clause = alert_clause(principal)
    if clause is not None:
        query = query.where(clause)
    views: list[AlertView] = []
    for row in connection.execute(query.execution_options(yield_per=200)):
        view = AlertView(*row)
        if may_see_alert(principal, view):
            views.append(view)
            if len(views) >= limit:
                break
    return views


async def list_alerts(
    request: Request,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    region: Annotated[str | None, Query(max_length=64, description="ITU-D region")] = None,
    country: Annotated[str | None, Query(max_length=3, description="ISO 3166-1 alpha-3")] = None,
    severity: Annotated[str | None, Query(max_length=32, description="CAP severity")] = None,
    status: Annotated[
        list[Status] | None,
        Query(description="CAP status, repeatable (status=Actual&status=Exercise); Actual unless asked"),
    ] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north")] = None,
    since: Annotated[datetime | None, Query(description="sent at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 1000,
    view: Annotated[
        ListView,
        Query(description="full: every property; map: what a map and its list show"),
    ] = "full",
    zoom: Annotated[
        float | None,
        Query(ge=0, le=MAX_ZOOM, description="Generalise areas for a map at this zoom (one-pixel tolerance)"),
    ] = None,
) -> Response:
    """Active alerts the caller may see, as an RFC 7946 FeatureCollection; `view=map` and
    `zoom` make it compact for a map (areas simplified and rounded for the zoom)."""
    # Private: it is what this caller may see. Maps poll it: an unchanged one is answered 304.
    headers = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
    public_key = event_id = None
    if principal is None:
        public_key = str(request.url.query)
        event_id = await runtime.db.read(latest_event_id)
        made = _PUBLIC_LISTS.get(public_key, event_id)
        if made is not None:
            return _LIST_ANSWERS.answer(request, made, media_type="application/geo+json", headers=headers)
    now = utcnow()
    statuses = sorted(set(status or ["Actual"]))
    newest_first = (_alerts.c.sent_at.desc(), _alerts.c.id.desc())
    query = select_views(for_map=view == "map").where(_active(now, statuses)).order_by(*newest_first)
    if region is not None:
        query = query.where(_tagged("region", _known(region, REGIONS, "region", "an ITU-D region")))
    if country is not None:
        query = query.where(_tagged("country", country_filter(country)))
    if severity is not None:
        query = query.where(_tagged("severity", _known(severity, SEVERITIES, "severity", "CAP 1.2 §3.2.2")))
    since = query_time(since, param="since", rule=RULE_SINCE)
    if since is not None:
        query = query.where(_alerts.c.sent_at >= since)
    if bbox:
        c = _alerts.c
        # Stored boxes follow RFC 7946 §5: west > east when the alert crosses the antimeridian.
        query = query.where(overlaps_sql(c.min_lon, c.min_lat, c.max_lon, c.max_lat, parse_bbox(bbox)))
    views = await runtime.db.read(lambda conn: _visible_views(conn, query, principal, limit))
    # Whole zoom levels only: a pixel halves per level, and the areas made for a level are kept
    # (service.alerts.view.AREAS): 5.01 and 5.02 are one list, not two made apart.
    level = None if zoom is None else float(math.floor(zoom))
    if view == "map":
        at = 0.0 if level is None else level
        features = await anyio.to_thread.run_sync(
            lambda: [map_feature_json(v, now=now, zoom=at) for v in views]
        )
    else:
        features = [feature_json(v, now=now) for v in views]
        if level is not None:
            for feature in features:
                feature["geometry"] = generalise(feature["geometry"], level)
    body = orjson.dumps({"type": "FeatureCollection", "features": features})
    if public_key is not None and event_id is not None:
        _PUBLIC_LISTS.put(public_key, event_id, body)
    return _LIST_ANSWERS.answer(request, body, media_type="application/geo+json", headers=headers)


async def alerts_atom(runtime: RuntimeDep) -> Response:
    """Active, Actual alerts anyone may see (the feed is unauthenticated: Public ones) as an
    Atom feed (RFC 4287), newest first. Its links are made from TAMPERE_PUBLIC_BASE_URL, never
    from the request's Host header (which any client may set)."""
    now = utcnow()
    newest_first = (_alerts.c.sent_at.desc(), _alerts.c.id.desc())
    query = select_views().where(_active(now, "Actual")).order_by(*newest_first)
    views = await runtime.db.read(lambda conn: _visible_views(conn, query, None, MAX_LIST))
    base = runtime.settings.base_url()
    body = atom.alerts_feed(views, base_url=base, self_url=f"{base}{ATOM_PATH}", now=now)
    # The entries hold names in every script ("Côte d'Ivoire", Arabic headlines): the charset
    # is said, or clients guess Latin-1 (RFC 7303 §3.2 lets the header outrank the XML one).
    return Response(content=body, media_type="application/atom+xml; charset=utf-8")
