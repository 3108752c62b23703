"""Refusals and faults the service can name, and the one place that turns them into answers.

Routes, stores and the platform raise typed errors that know nothing of HTTP (`Invalid`,
`NotFound`, `Forbidden`...); each carries the broken rules as findings `{rule, message, path}`,
the path a JSON pointer into the body (`/url`), a query parameter (`?bbox`), a path parameter
(`{alert_id}`) or a header (`header:authorization`). `PROBLEMS` is the one table from error
class to HTTP status and title; `add_error_handlers` makes every 4xx/5xx of the app an RFC 9457
`application/problem+json` body from it:

    {"type", "title", "status", "detail", "request_id", "errors": [{"rule", "message", "path"}]}

Framework refusals (an unknown route, a wrong method, a query parameter FastAPI could not
read), an unreachable database and a full disk are translated to the same typed errors, so
they answer in the same shape; anything else is a bug: logged with its traceback, answered 500
with nothing but the request id to quote.
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from cap.errors import Finding
from service.logging import request_id

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# How long a client should wait before asking again when the store is unreachable: a database
# restart or fail-over takes seconds, not minutes.
RETRY_AFTER_SECONDS = 5

# Rule ids of the refusals and faults named here (resources name their own: alert.*, request.*...).
RULE_ROUTE_UNKNOWN = "request.route.unknown"
RULE_METHOD_NOT_ALLOWED = "request.method.not-allowed"
RULE_MALFORMED = "request.malformed"
RULE_STORE_UNREACHABLE = "service.store.unreachable"
RULE_STORE_FULL = "service.store.full"
RULE_INTERNAL = "service.internal"


class ServiceError(Exception):
    """A refusal or a fault, with the rules it broke; its HTTP answer is `PROBLEMS[type(self)]`.

    `extensions` are further members of the problem body (RFC 9457 §3.2), e.g. the validator's
    report beside the errors of a CAP message; `headers` are added to the answer (`Allow`).
    """

    def __init__(
        self,
        findings: Sequence[Finding],
        *,
        detail: str = "",
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.findings = tuple(findings)
        self.detail = detail or "; ".join(f.message for f in self.findings)
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})
        super().__init__(self.detail)

    @classmethod
    def one(cls, rule: str, message: str, path: str = "/", **kwargs: Any) -> Self:
        """The error for one broken rule."""
        return cls([Finding(rule, message, path)], **kwargs)


class Invalid(ServiceError):
    """The input breaks rules: nothing was done."""


class BadRequest(ServiceError):
    """The request cannot be read at all (a framework refusal before our rules apply)."""


class Unauthorized(ServiceError):
    """No credentials, or credentials that are not known."""


class Forbidden(ServiceError):
    """The caller is known and may not do this."""


class NotFound(ServiceError):
    """No such thing, or not visible to the caller (the same answer: existence is not told)."""


class MethodNotAllowed(ServiceError):
    """The route exists; the method does not."""


class Conflict(ServiceError):
    """The thing's present state does not allow this (a duplicate, a finished request)."""


class TooLarge(ServiceError):
    """The body is larger than the limit; refused before it is read whole."""


class RequestTimeout(ServiceError):
    """The client stopped sending the body it announced; the connection is closed."""


class TooManyRequests(ServiceError):
    """Over a rate limit (service.ratelimit); `Retry-After` says when to ask again."""


class RangeNotSatisfiable(ServiceError):
    """No range a `Range` header asks for lies within the file (RFC 9110 §15.5.17)."""


class Unavailable(ServiceError):
    """The store (or another service the request needs) cannot be reached now; ask again."""


class StorageFull(ServiceError):
    """The store has no room left for the write."""


@dataclass(frozen=True, slots=True)
class Problem:
    """How an error class answers: HTTP status, RFC 9457 title, headers it always carries."""

    status: int
    title: str
    headers: Mapping[str, str] = field(default_factory=dict)


# The one table. Titles are the HTTP status phrases, as RFC 9457 §4.2.1 asks with the
# "about:blank" type: what went wrong is said by each finding's rule id, not by the title.
PROBLEMS: Mapping[type[ServiceError], Problem] = {
    BadRequest: Problem(400, "Bad Request"),
    # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    Unauthorized: Problem(401, "Unauthorized", {"WWW-Authenticate": "Bearer"}),
    Forbidden: Problem(403, "Forbidden"),
    NotFound: Problem(404, "Not Found"),
    MethodNotAllowed: Problem(405, "Method Not Allowed"),
    Conflict: Problem(409, "Conflict"),
    # RFC 9110 §15.5.9: the server would not wait any longer for the request.
    RequestTimeout: Problem(408, "Request Timeout", {"Connection": "close"}),
    TooLarge: Problem(413, "Content Too Large"),
    # RFC 9110 §15.5.17; each refusal adds `Content-Range: bytes */LENGTH`.
    RangeNotSatisfiable: Problem(416, "Range Not Satisfiable"),
    Invalid: Problem(422, "Unprocessable Content"),
    # RFC 6585 §4; each refusal adds its own Retry-After.
    TooManyRequests: Problem(429, "Too Many Requests"),
    # RFC 9110 §10.2.3: when to ask again.
    Unavailable: Problem(503, "Service Unavailable", {"Retry-After": str(RETRY_AFTER_SECONDS)}),
    StorageFull: Problem(507, "Insufficient Storage"),
}
_INTERNAL = Problem(500, "Internal Server Error")
# Framework refusals by status, for the typed error they stand for.
_BY_STATUS: Mapping[int, type[ServiceError]] = {p.status: cls for cls, p in PROBLEMS.items()}


class ProblemResponse(JSONResponse):
    """An RFC 9457 problem document."""

    media_type = PROBLEM_MEDIA_TYPE


def problem_body(problem: Problem, findings: Sequence[Finding], detail: str) -> dict[str, Any]:
    """The RFC 9457 members every error answer has, `request_id` the one in the log lines."""
    return {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": detail,
        "request_id": request_id.get(),
        "errors": [f.as_dict() for f in findings],
    }


def problem_response(error: ServiceError) -> ProblemResponse:
    """The answer to a typed error, from the table."""
    problem = PROBLEMS[_problem_class(type(error))]
    # Extensions never replace the standard members (a report's own "errors" is the same list).
    body = {**error.extensions, **problem_body(problem, error.findings, error.detail)}
    return ProblemResponse(body, status_code=problem.status, headers={**problem.headers, **error.headers})


def problem_of(error: ServiceError) -> Problem:
    """How a typed error answers (its status and title), for answers that are not HTTP (the
    event stream's replies to what a subscriber sends)."""
    return PROBLEMS[_problem_class(type(error))]


def _problem_class(cls: type[ServiceError]) -> type[ServiceError]:
    # A resource's own subclass (e.g. a `Forbidden` of its domain) answers as its base.
    for base in cls.__mro__:
        if base in PROBLEMS:
            return base  # type: ignore[no-any-return]
    raise TypeError(f"{cls.__name__} is not in service.errors.PROBLEMS")


# --- translating what others raise -------------------------------------------------------------

_LOCATIONS = {"query": "query", "path": "path", "body": "body", "header": "header", "cookie": "cookie"}


def validation_findings(errors: Sequence[Any]) -> list[Finding]:
    """FastAPI's request validation errors as findings: `request.<where>.missing|invalid`, with
    `?param`, `{param}`, `header:name` or a JSON pointer into the body as the path."""
    findings = []
    for error in errors:
        loc = list(error.get("loc", ()))
        where = _LOCATIONS.get(str(loc[0]) if loc else "", "body")
        rest = loc[1:]
        kind = "missing" if error.get("type") == "missing" else "invalid"
        if where == "query":
            path = "?" + ".".join(str(p) for p in rest)
        elif where == "path":
            path = "{" + ".".join(str(p) for p in rest) + "}"
        elif where in ("header", "cookie"):
            path = f"{where}:" + ".".join(str(p) for p in rest).lower()
        elif error.get("type") == "json_invalid":
            path = "/"  # the location is a character offset, not a place in a document
        else:
            path = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in rest)
        findings.append(Finding(f"request.{where}.{kind}", str(error.get("msg", "invalid")), path))
    return findings or [Finding(RULE_MALFORMED, "the request cannot be read", "/")]


def http_error(exc: HTTPException, method: str, path: str) -> ServiceError:
    """A framework HTTPException (unknown route, wrong method...) as the typed error it means."""
    cls = _BY_STATUS.get(exc.status_code, BadRequest)
    if exc.status_code == 404:
        rule, message = RULE_ROUTE_UNKNOWN, f"no route {path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        rule, message = RULE_METHOD_NOT_ALLOWED, f"{method} is not allowed here (Allow: {allowed})"
    else:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        rule, message = RULE_MALFORMED, detail or HTTPStatus(exc.status_code).phrase
    return cls.one(rule, message, path, headers=exc.headers)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


# What a store that cannot be reached raises: the socket's own errors, the drivers' operational
# errors (refused, closed, locked past the busy timeout, file gone), and a pool that stayed empty.
_UNREACHABLE = (
    ConnectionError,
    socket.gaierror,
    TimeoutError,
    sqlite3.OperationalError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


def storage_fault(exc: BaseException) -> ServiceError | None:
    """The fault the service can name behind a storage exception (store full: `StorageFull`;
    store unreachable: `Unavailable`), or None when it is not one."""
    causes = list(_causes(exc))
    for cause in causes:
        full = (
            (isinstance(cause, OSError) and cause.errno == errno.ENOSPC)
            # SQLITE_FULL (13): "database or disk is full", also past PRAGMA max_page_count.
            or (isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorcode", None) == 13)
            or "database or disk is full" in str(cause)
            # PostgreSQL SQLSTATE 53100 disk_full (asyncpg.exceptions.DiskFullError).
            or getattr(cause, "sqlstate", None) == "53100"
        )
        if full:
            return StorageFull.one(RULE_STORE_FULL, "the store has no room left; nothing was saved")
    for cause in causes:
        unreachable = (
            isinstance(cause, _UNREACHABLE)
            # asyncpg: class 08 (connection exception), 57P (operator intervention: shutdown).
            or str(getattr(cause, "sqlstate", "") or "").startswith(("08", "57P"))
        )
        if unreachable:
            return Unavailable.one(RULE_STORE_UNREACHABLE, "the store cannot be reached; try again shortly")
    return None


# --- the handlers --------------------------------------------------------------------------------


async def _typed(conn: Request | WebSocket, exc: ServiceError) -> ProblemResponse | None:
    if isinstance(conn, WebSocket):
        # Websocket refusals are close codes (service.events.stream); nothing here answers one.
        await conn.close(code=1008, reason=exc.detail[:120])
        return None
    return problem_response(exc)


async def _service_error(conn: Request, exc: Exception) -> ProblemResponse | None:
    assert isinstance(exc, ServiceError)
    return await _typed(conn, exc)


async def _validation_error(conn: Request, exc: Exception) -> ProblemResponse | None:
    assert isinstance(exc, RequestValidationError)
    findings = validation_findings(exc.errors())
    return await _typed(conn, Invalid(findings))


async def _http_exception(conn: Request, exc: Exception) -> ProblemResponse | None:
    assert isinstance(exc, HTTPException)
    return await _typed(conn, http_error(exc, conn.scope.get("method", "GET"), conn.url.path))


class FaultBarrier:
    """ASGI middleware: an exception no handler took is answered here, inside the request's
    context (its id in the body and the header): a named storage fault from the table, anything
    else 500, logged with its traceback. Starlette's own last resort runs outside every
    middleware, where the request id is already gone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; answer a fault it raised before any response began."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ClientDisconnect:
            # The client went away mid-body (or BodyLimit answered 413 and cut it off): nobody
            # is left to answer, and it is the client's doing, not a fault of the service.
            log.info("client gone before the body was read: %s %s", scope.get("method"), scope.get("path"))
        except Exception as exc:
            if started:
                raise  # half an answer is out: nothing sensible can follow it
            response = fault_response(exc, scope)
            await response(scope, receive, send)


def fault_response(exc: Exception, scope: Scope) -> ProblemResponse:
    """The answer to an exception no handler took: a named fault, else a logged 500."""
    where = f"{scope.get('method')} {scope.get('path')}"
    named = storage_fault(exc)
    if named is not None:
        # No traceback: an outage would write one per request, and the cause says enough.
        log.warning("%s: %s (%s: %s)", where, named.detail, type(exc).__name__, exc)
        return problem_response(named)
    log.error("unhandled error on %s", where, exc_info=exc)
    finding = Finding(RULE_INTERNAL, "an unexpected error; the log has it under this request id", "/")
    body = problem_body(_INTERNAL, [finding], "internal error")
    return ProblemResponse(body, status_code=_INTERNAL.status)


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` from `PROBLEMS`, and say so in its OpenAPI document. Call it
    before adding the request-context middleware (service.logging), so that faults are
    answered under the request's id."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_middleware(FaultBarrier)
    _document_problems(app)


_FINDING_SCHEMA = {
    "type": "object",
    "required": ["rule", "message", "path"],
    "properties": {
        "rule": {"type": "string", "description": "A stable rule id, e.g. query.bbox.format"},
        "message": {"type": "string"},
        "path": {"type": "string", "description": "/json/pointer, ?query, {path} or header:name"},
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; extension members may follow",
    "required": list(problem_body(_INTERNAL, [], "")),
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "The X-Request-ID of the answer and its log line"},
        "errors": {"type": "array", "items": _FINDING_SCHEMA},
    },
}


def _document_problems(app: FastAPI) -> None:
    # FastAPI documents its own 422 body (HTTPValidationError); every error answers a problem.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in document.get("paths", {}).values():
            for operation in item.values():
                for code, response in operation.get("responses", {}).items():
                    if code[:1] in ("4", "5"):
                        response["content"] = content
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
