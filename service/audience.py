"""The audience of an answer: a request that carries no credential is answered as no principal
(`service.visibility` with None), so what it gets anyone may see. Such answers are marked
`X-Tampere-Audience: public`; the web app's service worker keeps copies of those only, so a
browser an office signed in on never shows that office's restricted alerts to whoever opens the
page offline after it (the worker cannot tell a session's answers from others by itself: the
cookie is HttpOnly)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import SESSION_COOKIE

AUDIENCE_HEADER = b"x-tampere-audience"
PUBLIC = b"public"
_SESSION = SESSION_COOKIE.encode() + b"="
_READS = frozenset({"GET", "HEAD"})


def credential_in(scope: Scope) -> bytes | None:
    """What in a request or websocket handshake may authenticate it, as sent: the Authorization
    header, the Cookie header holding the session, or a query string holding token= (how a
    websocket client without headers sends its token); None when there is none of them."""
    for name, value in scope.get("headers", []):
        if name == b"authorization" or (name == b"cookie" and _SESSION in value):
            return bytes(value)
    query: bytes = scope.get("query_string", b"")
    return query if b"token=" in query else None


class AudienceMarker:
    """ASGI middleware: every answer to a GET or HEAD without a credential is marked
    `X-Tampere-Audience: public` (errors too: they hold nothing a principal's would). Writes are
    not: one may carry its credential in the body (POST /api/v1/session)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS or credential_in(scope) is not None:
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (AUDIENCE_HEADER, PUBLIC)]}
            await send(message)

        await self.app(scope, receive, marked)
