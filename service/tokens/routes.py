"""Tokens and sessions over HTTP: the operator issues, lists and revokes tokens at
/api/v1/tokens (as `tampere token create|list|revoke` does); a browser exchanges a token for a
session cookie at /api/v1/session, so the web app never holds a token in a URL or in script.

The registry itself (checks, storage, the audit record) is `service.auth`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from service.auth import (
    MAX_EXPIRES_DAYS,
    OPERATOR,
    RULE_TOKEN_MISSING,
    RULE_TOKEN_UNKNOWN,
    SESSION_COOKIE,
    Credential,
    Principal,
    bearer_token,
    close_session,
    expired_session_cookie,
    expired_signed_in_cookie,
    issue_token,
    list_tokens,
    open_session,
    revoke_token,
    session_cookie,
    signed_in_cookie,
    unauthorized,
)
from service.db.models import utcnow
from service.errors import Conflict, Forbidden, Invalid
from service.http import read_body
from service.runtime import OptionalCredential, RequiredPrincipal, RuntimeDep

RULE_OPERATOR_ONLY = "token.operator-only"
RULE_REVOKE_SELF = "token.revoke.self"
RULE_SESSION_BODY = "auth.session.body"
# A session request holds one token: nothing larger is read.
SESSION_BODY_LIMIT = 4096


class TokenRequest(BaseModel):
    """The body of POST /api/v1/tokens (the options of `tampere token create`)."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="administration, office, bdt, responder or operator")
    country: str | None = Field(default=None, max_length=3, description="Administrations: ISO 3166-1 alpha-3")
    office: str | None = Field(default=None, max_length=64, description="Offices: the office id (ro-bangkok)")
    senders: list[str] = Field(
        default_factory=list, max_length=100, description="CAP senders this administration posts as"
    )
    expires_days: float | None = Field(
        default=None, gt=0, le=MAX_EXPIRES_DAYS, description="Days until it expires; absent: never"
    )


# Merged into the body FastAPI documents from TokenRequest.
_TOKEN_EXAMPLES = {
    "content": {
        "application/json": {
            "examples": {
                "administration": {
                    "summary": "Kenya's administration, posting as its meteorological service",
                    "value": {"role": "administration", "country": "KEN", "senders": ["cap@meteo.go.ke"]},
                },
                "office": {
                    "summary": "The Regional Office for Africa, for a year",
                    "value": {"role": "office", "office": "ro-addis-ababa", "expires_days": 365},
                },
            }
        }
    }
}
_SESSION_BODY = {
    "required": False,
    "description": "The token, unless it is sent as `Authorization: Bearer <token>`",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["token"],
                "properties": {
                    "token": {"type": "string", "description": "As `tampere token create` printed it"}
                },
            },
            "example": {"token": "<the token tampere token create printed>"},
        }
    },
}
TokenId = Annotated[int, Path(ge=1, le=2**62, description="The id shown by the listing")]
_OPERATOR_REFUSALS = {
    401: {"description": "No token, or one that is unknown, revoked or expired"},
    403: {"description": "Not the operator"},
}


def tokens_router() -> APIRouter:
    """/api/v1/tokens (operator) and /api/v1/session (browsers)."""
    router = APIRouter(tags=["tokens"])
    router.add_api_route(
        "/api/v1/tokens",
        post_token,
        methods=["POST"],
        status_code=201,
        summary="Issue a token (shown once in the answer)",
        openapi_extra={"requestBody": _TOKEN_EXAMPLES},
        responses={
            **_OPERATOR_REFUSALS,
            409: {"description": "A sender is registered to another administration"},
            422: {"description": "Unknown role, office or country: `errors` names the fix"},
        },
    )
    router.add_api_route(
        "/api/v1/tokens", get_tokens, methods=["GET"], summary="Issued tokens", responses=_OPERATOR_REFUSALS
    )
    router.add_api_route(
        "/api/v1/tokens/{token_id}",
        delete_token,
        methods=["DELETE"],
        summary="Revoke a token: refused at once, its websockets closed within a second",
        responses={
            **_OPERATOR_REFUSALS,
            404: {"description": "No such token"},
            409: {"description": "The token making the request"},
        },
    )
    router.add_api_route(
        "/api/v1/session",
        post_session,
        methods=["POST"],
        status_code=201,
        summary='Exchange a token (Authorization header or {"token"}) for a session cookie',
        openapi_extra={"requestBody": _SESSION_BODY},
        responses={401: {"description": "No token, or one that is unknown, revoked or expired"}},
    )
    router.add_api_route(
        "/api/v1/session",
        get_session,
        methods=["GET"],
        summary="Who the session (or token) is",
        responses={401: {"description": "No session, or one that has ended"}},
    )
    router.add_api_route(
        "/api/v1/session",
        delete_session,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        summary="End the session (sign out)",
    )
    return router


def _operator(principal: Principal) -> None:
    if principal.role != OPERATOR:
        raise Forbidden.one(RULE_OPERATOR_ONLY, "tokens are issued, listed and revoked by the operator")


async def post_token(body: TokenRequest, runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """Issue a token; the answer is the only place it is ever shown."""
    _operator(principal)
    issued = await runtime.db.write(
        lambda conn: issue_token(
            conn,
            role=body.role,
            country=body.country,
            office=body.office,
            senders=body.senders,
            expires_days=body.expires_days,
            actor=principal.actor,
            reference=runtime.reference,
        )
    )
    content = {
        "id": issued.id,
        "token": issued.token,
        "principal": issued.principal.actor,
        "role": issued.principal.role,
        "country": issued.principal.country,
        "office": issued.principal.office,
        "senders": sorted(issued.principal.senders),
        "created_at": issued.created_at.isoformat(),
        "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
    }
    # The token is a secret: no cache may keep this answer.
    headers = {"Location": f"/api/v1/tokens/{issued.id}", "Cache-Control": "no-store"}
    return JSONResponse(status_code=201, content=content, headers=headers)


async def get_tokens(runtime: RuntimeDep, principal: RequiredPrincipal) -> JSONResponse:
    """Every token issued, with its state (active, expired, revoked); never the token."""
    _operator(principal)
    tokens = await runtime.db.read(list_tokens)
    now = utcnow()
    return JSONResponse({"tokens": [info.as_json(now) for info in tokens]})


async def delete_token(
    token_id: TokenId, runtime: RuntimeDep, credential: OptionalCredential, principal: RequiredPrincipal
) -> JSONResponse:
    """Revoke a token (again: no change); its sessions end with it."""
    _operator(principal)
    if credential is not None and credential.token_id == token_id:
        # Revoking the token in hand would lock the operator out mid-way; the CLI can do it.
        raise Conflict.one(
            RULE_REVOKE_SELF,
            "this is the token making the request: revoke it with another operator token or "
            "`tampere token revoke`",
            "{token_id}",
        )
    info = await runtime.db.write(lambda conn: revoke_token(conn, token_id, actor=principal.actor))
    runtime.authenticator.forget_token(token_id)
    return JSONResponse(info.as_json(utcnow()))


def _session_json(credential: Credential) -> dict[str, Any]:
    principal = credential.principal
    return {
        "principal": principal.actor,
        "role": principal.role,
        "country": principal.country,
        "office": principal.office,
        "expires_at": credential.expires_at.isoformat() if credential.expires_at else None,
    }


async def _token_of_session_request(request: Request) -> str:
    token = bearer_token(request)
    if token is not None:
        return token
    raw = await read_body(request, SESSION_BODY_LIMIT)
    if not raw.strip():
        raise unauthorized(RULE_TOKEN_MISSING, 'send the token as Authorization: Bearer <token> or {"token"}')
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Invalid.one(RULE_SESSION_BODY, 'the body is {"token": "<token>"}', "/") from exc
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise Invalid.one(RULE_SESSION_BODY, 'the body is {"token": "<token>"}', "/token")
    return token.strip()


async def post_session(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Exchange a token for a session cookie (HttpOnly, SameSite=Strict, Secure over https)."""
    token = await _token_of_session_request(request)
    credential = await runtime.authenticator.authenticate(runtime.db, token)
    if credential is None:
        raise unauthorized(RULE_TOKEN_UNKNOWN, "unknown, revoked or expired token")
    lifetime = timedelta(hours=runtime.settings.session_hours)
    value, expires_at = await runtime.db.write(lambda conn: open_session(conn, credential, lifetime=lifetime))
    max_age = int((expires_at - utcnow()).total_seconds())
    cookie = session_cookie(value, max_age=max_age, secure=request.url.scheme == "https")
    content = {**_session_json(credential), "expires_at": expires_at.isoformat()}
    answer = JSONResponse(
        status_code=201, content=content, headers={"Set-Cookie": cookie, "Cache-Control": "no-store"}
    )
    answer.headers.append(
        "Set-Cookie", signed_in_cookie(max_age=max_age, secure=request.url.scheme == "https")
    )
    return answer


async def get_session(credential: OptionalCredential) -> JSONResponse:
    """Who the caller is, by session cookie (or token)."""
    if credential is None:
        # A companion left from a session that ended goes too: the page stops asking.
        refusal = unauthorized(RULE_TOKEN_MISSING, "no session: POST /api/v1/session with a token")
        refusal.headers["Set-Cookie"] = expired_signed_in_cookie()
        raise refusal
    return JSONResponse(_session_json(credential))


async def delete_session(request: Request, runtime: RuntimeDep) -> Response:
    """End the session of the cookie (none: nothing to do) and make the browser forget it."""
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        await runtime.db.write(lambda conn: close_session(conn, value))
        runtime.authenticator.forget_session(value)
    answer = Response(status_code=204, headers={"Set-Cookie": expired_session_cookie()})
    answer.headers.append("Set-Cookie", expired_signed_in_cookie())
    return answer
