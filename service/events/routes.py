"""`WS /api/v1/events?since=ID`: who is asking, what they filter on, where they resume; the
stream itself is `service.events.stream.EventBroadcaster`. `WS /api/v1/events/public?since=ID`
is the same stream for anonymous first responders: no credential is asked for or read, and it
carries what `service.visibility` lets no principal (`None`) see: events of Public alerts and
public network reports, never a request's. Same messages, filters, resume, limits and
backpressure: the one broadcaster serves both."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse

from service.auth import SESSION_COOKIE, Credential, deleted_office
from service.events.asyncapi import asyncapi_document
from service.events.frames import frame_sink
from service.events.stream import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    EventBroadcaster,
    Selection,
    SelectionError,
    Subscription,
    close_websocket,
    latest_event_id,
    parse_selection,
    parse_since,
)
from service.runtime import Runtime, RuntimeDep


def events_router() -> APIRouter:
    """The `WS /api/v1/events` route, served by the app's `app.state.event_broadcaster`."""
    router = APIRouter(tags=["events"])

    async def stream_events(websocket: WebSocket) -> None:
        """Events the caller may see, `{"id", "type", ...}` in id order, from `since` on."""
        credential = await _credential(websocket)
        if isinstance(credential, SubscriptionRefused):
            await _refuse(websocket, credential)
            return
        await _serve(websocket, credential)

    async def stream_public_events(websocket: WebSocket) -> None:
        """Events anyone may see (Public alerts), `{"id", "type", ...}` in id order, from `since` on."""
        await _serve(websocket, None)

    router.add_api_websocket_route("/api/v1/events", stream_events, name="events")
    router.add_api_websocket_route("/api/v1/events/public", stream_public_events, name="events-public")
    router.add_api_route(
        "/asyncapi.json",
        asyncapi,
        methods=["GET"],
        summary="The event stream's messages (and webhooks'), as an AsyncAPI 3.0 document",
        response_class=JSONResponse,
    )
    return router


async def asyncapi(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Every event type the stream sends and webhooks deliver: payload schema and audience."""
    document = asyncapi_document(base_url=runtime.settings.base_url(), version=request.app.version)
    return JSONResponse(document)


@dataclass(slots=True, frozen=True)
class SubscriptionRefused:
    """Why a subscription is refused: the close code (4401, 4403, 4400) and its reason."""

    code: int
    reason: str


async def _serve(websocket: WebSocket, credential: Credential | None) -> None:
    """Stream to the connection as the credential's principal (None: anonymous), from the
    position it asks for, or close it saying why that cannot be used."""
    broadcaster: EventBroadcaster = websocket.app.state.event_broadcaster
    position = await _position(websocket)
    if isinstance(position, SubscriptionRefused):
        await _refuse(websocket, position)
        return
    selection, since = position
    await websocket.accept()
    sub = Subscription(
        None if credential is None else credential.principal,
        selection,
        queue_size=broadcaster.queue_size,
        credential=credential,
        sink=frame_sink(websocket.scope),
        max_buffered=broadcaster.max_buffered,
    )
    await broadcaster.stream(websocket, sub, since=since)


async def _refuse(websocket: WebSocket, refused: SubscriptionRefused) -> None:
    # Accepted, then closed: a browser sees the close code, never an HTTP status.
    await websocket.accept()
    await close_websocket(websocket, refused.code, refused.reason)


async def _credential(websocket: WebSocket) -> Credential | SubscriptionRefused:
    """Who is asking (a token, else the session of this origin), or why they are refused."""
    runtime: Runtime = websocket.app.state.runtime
    token = _bearer_token(websocket)
    credential: Credential | None = None
    if token:
        credential = await runtime.authenticator.authenticate(runtime.db, token)
    elif session := websocket.cookies.get(SESSION_COOKIE):
        if not _same_origin(websocket):
            # Browsers send cookies on a cross-origin websocket handshake (no CORS here): a page
            # of another origin must not ride on the session (cross-site websocket hijacking).
            return SubscriptionRefused(CLOSE_UNAUTHORIZED, "a session is honoured from its own origin only")
        credential = await runtime.authenticator.authenticate_session(runtime.db, session)
    if credential is None:
        reason = (
            "unknown, revoked, expired or missing token: send Authorization: Bearer <token>, "
            "?token=<token> or the session cookie"
        )
        return SubscriptionRefused(CLOSE_UNAUTHORIZED, reason)
    if (office := deleted_office(credential.principal, runtime.contacts)) is not None:
        reason = f"the office {office[:40]!r} was deleted from the contact points: its tokens act for nothing"
        return SubscriptionRefused(CLOSE_FORBIDDEN, reason)
    return credential


async def _position(websocket: WebSocket) -> tuple[Selection, int] | SubscriptionRefused:
    """The subscription's filters and starting point, or why they cannot be used."""
    runtime: Runtime = websocket.app.state.runtime
    try:
        since = parse_since(websocket.query_params.get("since"))
        selection = parse_selection(websocket.query_params)
    except SelectionError as exc:
        return SubscriptionRefused(CLOSE_BAD_REQUEST, str(exc))
    # Read before the handshake completes: whatever commits after the client sees the
    # connection open is delivered.
    newest = await runtime.db.read(latest_event_id)
    if since is None:
        since = newest
    elif since > newest:
        # Ids are handed out in order: a position past the newest is not one this log gave
        # (another installation's, or a restored database). Streaming from it would skip every
        # event up to it without a word.
        reason = f"since: {since} is beyond the newest event {newest}; resume with since <= {newest}"
        return SubscriptionRefused(CLOSE_BAD_REQUEST, reason)
    return selection, since


def _bearer_token(websocket: WebSocket) -> str | None:
    """`Authorization: Bearer T`, else the `token` query parameter (browsers cannot set headers)."""
    header = websocket.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None
    return websocket.query_params.get("token") or None


def _same_origin(websocket: WebSocket) -> bool:
    """Whether the handshake's Origin is the host the browser connected to."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc.lower() == (host or "").lower()
