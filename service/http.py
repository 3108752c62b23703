"""The HTTP edge every resource's routes share: bounded bodies, bounded JSON, bounded headers,
query times that fit in UTC, compressed answers.

Bounds before work: `BodyLimit` (ASGI middleware) refuses a body past its route's limit before
the app runs (a declared Content-Length) or as soon as the streamed bytes pass it (chunked), so
no route, authentication included, ever sees more; `parse_json` refuses nesting past
`MAX_JSON_DEPTH` with a scan of the bytes before any Python object is built; `bounded_protocol`
gives uvicorn's HTTP/1.1 protocol a limit on the size of the request head and on the time a
client may take to send it (uvicorn has neither: a client trickling header bytes would hold its
socket for ever). `Compression` gzips every answer a client accepts gzip for.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import math
import re
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.errors import Invalid, RequestTimeout, TooLarge, problem_response

log = logging.getLogger(__name__)

RULE_BODY_TOO_LARGE = "request.body.too-large"
RULE_BODY_DEPTH = "request.body.depth"
RULE_BODY_ENCODING = "request.body.encoding"
RULE_BODY_NUMBER = "request.body.number"
RULE_BODY_TIMEOUT = "request.body.timeout"
RULE_HEAD_TOO_LARGE = "request.head.too-large"
RULE_HEAD_TIMEOUT = "request.head.timeout"

# JSON bodies of this API are flat records (a request, a status report, a source): a handful of
# levels. 32 leaves ample room and keeps every parser far from its recursion limit.
MAX_JSON_DEPTH = 32
# The default body limit of a route that names none: JSON records of a few kB.
DEFAULT_MAX_BODY_BYTES = 256 * 1024


# --- bodies ----------------------------------------------------------------------------------


def _too_large(limit: int, size: int | None) -> TooLarge:
    said = f"the body is {size} bytes" if size is not None else "the body exceeds the limit"
    # Connection: close: the rest of the body is not worth reading (nor waiting for).
    return TooLarge.one(
        RULE_BODY_TOO_LARGE, f"{said}; the limit here is {limit} bytes", headers={"Connection": "close"}
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class BodyLimit:
    """ASGI middleware: every request body bounded by its route's limit before the app runs.

    `routes` maps a path to its limit (CAP messages are larger than JSON records); any other
    path gets `default`. A declared Content-Length over the limit is answered 413 at once,
    without calling the app (so before authentication, and before any byte is read). A body
    without a length (chunked) is counted as it streams: past the limit the 413 goes out and
    the app reads a disconnect, so it never holds more than the limit. A body whose next bytes
    do not come within `idle_timeout` seconds is answered 408 and the connection closed: a
    client trickling its body ("slow POST") would otherwise hold a request open for ever.
    """

    def __init__(
        self, app: ASGIApp, *, default: int, routes: Mapping[str, int], idle_timeout: float = 30.0
    ) -> None:
        self.app = app
        self.default = default
        self.routes = {path.rstrip("/"): limit for path, limit in routes.items()}
        self.idle_timeout = idle_timeout

    def limit_of(self, path: str) -> int:
        """The body limit of a path."""
        return self.routes.get(path.rstrip("/"), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its body bounded."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await problem_response(_too_large(limit, declared))(scope, receive, send)
            return
        received = 0
        started = answered = False
        body_done = not _has_body(scope)

        async def bounded_receive() -> Message:
            nonlocal received, answered, body_done
            if answered:
                return {"type": "http.disconnect"}
            if body_done:
                message = await receive()  # after the body: only a disconnect comes, whenever
            else:
                try:
                    message = await asyncio.wait_for(receive(), self.idle_timeout)
                except TimeoutError:
                    if not started:
                        stalled = RequestTimeout.one(
                            RULE_BODY_TIMEOUT,
                            f"no part of the body arrived for {self.idle_timeout:g} s after "
                            f"{received} bytes; send the whole body without pausing",
                        )
                        await problem_response(stalled)(scope, receive, send)
                    answered = True
                    return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await problem_response(_too_large(limit, None))(scope, receive, send)
                    answered = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 went out; what the app says after it has nowhere to go
            if message["type"] == "http.response.start":
                started = True
                if not body_done:
                    # Answered without reading the body (a 401 before a large upload): close
                    # rather than read and discard the rest to keep the connection.
                    message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, bounded_receive, guarded_send)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; `TooLarge` past `limit` bytes, before it is read whole (a declared
    Content-Length over the limit is refused before reading anything). `BodyLimit` bounds every
    body already; a route whose own limit is smaller says so here."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


# --- compression -------------------------------------------------------------------------------

# Below this an answer fits in one packet either way; gzip's header would only add to it.
COMPRESS_MIN_BYTES = 512
# zlib's default: within a few per cent of level 9's size at a third of its time (the alert
# list of 1,000 alerts, the map library) - the answer is made per request.
COMPRESS_LEVEL = 6
# Sent as they are: media compressed already, and PMTiles archives (tiles gzipped inside; a
# whole archive is read in ranges, and gzipping one of gigabytes would hold a core for minutes).
UNCOMPRESSED_MEDIA = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/vnd.pmtiles")


class Compression(GZipMiddleware):
    """ASGI middleware: answers gzipped (RFC 9110 §8.4.1) when the request accepts gzip.

    Starlette's middleware, configured once: websockets pass untouched, streamed answers are
    compressed chunk by chunk with a flush each (a long stream is never held back), partial
    content (206) and already encoded or compressed media (images, archives) pass as they are,
    `Vary: Accept-Encoding` is added, and bodies past 128 KiB are compressed off the event loop.
    Validators of compressed answers are weak (`W/"..."`): the bytes differ by encoding.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app,
            minimum_size=COMPRESS_MIN_BYTES,
            compresslevel=COMPRESS_LEVEL,
            exclude_content_types=UNCOMPRESSED_MEDIA,
        )


# --- validators and bodies made per request --------------------------------------------------

# Compressed bodies kept by ETag: maps poll the same list every second or so, and compressing a
# list of a thousand alerts costs more than making it.
COMPRESSED_KEPT = 32


def weak_etag(body: bytes) -> str:
    """A weak validator of a body (RFC 9110 §8.8.3): weak because it is sent gzipped or not."""
    return 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class RevalidatedAnswers:
    """Answers with a validator: 304 to a client that holds the body already (RFC 9110
    §13.1.2, weak comparison), else the body, gzipped from a small cache when accepted."""

    def __init__(self, kept: int = COMPRESSED_KEPT) -> None:
        self.kept = kept
        self._gzipped: OrderedDict[str, bytes] = OrderedDict()

    def gzipped(self, tag: str, body: bytes) -> bytes:
        """The body gzipped (made once per validator)."""
        packed = self._gzipped.get(tag)
        if packed is None:
            packed = gzip.compress(body, COMPRESS_LEVEL, mtime=0)
            self._gzipped[tag] = packed
            while len(self._gzipped) > self.kept:
                self._gzipped.popitem(last=False)
        else:
            self._gzipped.move_to_end(tag)
        return packed

    def answer(
        self, request: Request, body: bytes, *, media_type: str, headers: Mapping[str, str]
    ) -> Response:
        """The answer to `request` for `body`, with `headers` and its ETag."""
        tag = weak_etag(body)
        out = {**headers, "ETag": tag}
        held = {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}
        if tag.removeprefix("W/") in held or "*" in held:
            return Response(status_code=304, headers=out)
        vary = out.get("Vary")
        out["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
        if len(body) >= COMPRESS_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
            # Set here, the encoding tells `Compression` to leave the body as it is.
            out["Content-Encoding"] = "gzip"
            body = self.gzipped(tag, body)
        return Response(content=body, media_type=media_type, headers=out)


# --- JSON --------------------------------------------------------------------------------------

# A JSON string, escapes included (RFC 8259 §7): brackets inside strings do not nest.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in JSON text (0 for a scalar), read from the bytes
    without parsing: strings taken out, then a running count of brackets (vectorised)."""
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    bare = _JSON_STRING.sub(b"", raw)
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.isin(codes, (0x5B, 0x7B)).astype(np.int32) - np.isin(codes, (0x5D, 0x7D)).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def parse_json(raw: bytes, *, rule: str = "request.body.json", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON text as Python values; `Invalid` when it is not JSON (`rule`), nests deeper than
    `max_depth` (checked before parsing) or is not UTF-8 text (a lone surrogate, RFC 8259 §8.2:
    such a string cannot be stored or sent on)."""
    # More opening brackets than the limit is the only way to nest past it: most bodies stop here.
    if raw.count(b"[") + raw.count(b"{") > max_depth and (depth := json_depth(raw)) > max_depth:
        raise Invalid.one(RULE_BODY_DEPTH, f"the JSON nests {depth} levels deep; at most {max_depth}", "/")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "surrogate" in text or "UTF-8" in text:
            message = f"the body is not UTF-8 text (RFC 8259 §8.1): {text}"
            raise Invalid.one(RULE_BODY_ENCODING, message, "/") from None
        if (found := non_finite_number(raw)) is not None:
            path, number = found
            message = (
                f"{number[:40]} is not a number this service takes: NaN and Infinity are not JSON "
                "(RFC 8259 §6), and a number must be a finite double"
            )
            raise Invalid.one(RULE_BODY_NUMBER, message, path) from None
        raise Invalid.one(rule, f"the body is not JSON: {text}", "/") from None


@dataclass(frozen=True, slots=True)
class _NotFinite:
    """A number in JSON text that is no finite double (NaN, Infinity, 1e400), as written."""

    text: str


def _float(text: str) -> float | _NotFinite:
    value = float(text)
    return value if math.isfinite(value) else _NotFinite(text)


def _int(text: str) -> int | _NotFinite:
    # orjson reads integers past 64 bits as doubles: one past a double's range is refused too.
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return _NotFinite(text)
    return value


def non_finite_number(raw: bytes | str) -> tuple[str, str] | None:
    """Where JSON text (in the shape `json` reads, NaN and Infinity included) holds a number
    that is no finite double: its JSON pointer and the number as written; None when there is
    none, or when the text is not JSON for another reason. The strict parser (orjson) refuses
    such text without saying where; this names the place for the answer."""
    try:
        data = json.loads(raw, parse_constant=_NotFinite, parse_float=_float, parse_int=_int)
    except (ValueError, RecursionError):
        return None
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, _NotFinite):
            return path or "/", value.text
        if isinstance(value, dict):
            todo.extend((f"{path}/{_pointer(k)}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            todo.extend((f"{path}/{i}", v) for i, v in reversed(list(enumerate(value))))
    return None


def _pointer(key: str) -> str:
    """A JSON pointer token (RFC 6901 §3)."""
    return key.replace("~", "~0").replace("/", "~1")


async def read_json(request: Request, limit: int, *, rule: str = "request.body.json") -> Any:
    """The request body as JSON (`read_body`, then `parse_json`); None for an empty body."""
    raw = await read_body(request, limit)
    return parse_json(raw, rule=rule) if raw.strip() else None


# --- times -------------------------------------------------------------------------------------


def query_time(value: datetime | None, *, param: str, rule: str) -> datetime | None:
    """A time from a query parameter, in UTC; `Invalid` (`<rule>.no-offset`, `<rule>.range`)
    when it has no UTC offset or does not exist in UTC (0001-01-01T00:00:00+14:00 is a year
    before year 1 there)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise Invalid.one(f"{rule}.no-offset", f"{param} needs a UTC offset (e.g. +00:00)", f"?{param}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        message = f"{param} is outside the years 1 to 9999 once converted to UTC"
        raise Invalid.one(f"{rule}.range", message, f"?{param}") from None


# --- the request head ----------------------------------------------------------------------------


def _raw_problem(status: int, phrase: str, rule: str, message: str) -> bytes:
    rid = uuid.uuid4().hex
    body = json.dumps(
        {
            "type": "about:blank",
            "title": phrase,
            "status": status,
            "detail": message,
            "request_id": rid,
            "errors": [{"rule": rule, "message": message, "path": "/"}],
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nx-request-id: {rid}\r\nconnection: close\r\n\r\n"
    )
    log.warning(message, extra={"status": status, "rule": rule, "request_id": rid})
    return head.encode() + body


def bounded_protocol(*, max_head_bytes: int, head_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with two bounds on the request head (request line and
    headers): at most `max_head_bytes` (else 431, RFC 6585 §5) and all of it within
    `head_timeout` seconds of the connection opening or the request's first byte (else 408,
    RFC 9110 §15.5.9); either closes the connection. Pass it as uvicorn's `http`."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """HttpToolsProtocol with a size and a time limit on the request head."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._head_bytes = 0
            self._in_head = True
            self._refused = False
            self._head_timer: asyncio.TimerHandle | None = None
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            if self._in_head and not self._refused and not self.transport.is_closing():
                # An unfinished head is held by the parser: count what it was given.
                self._head_bytes += len(data)
                if self._head_bytes > max_head_bytes:
                    self._refuse_head_size()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_bytes = 0
            if self._head_timer is None:
                self._arm_head_timer()

        def on_url(self, url: bytes) -> None:
            self._head_bytes += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._cancel_head_timer()
            if self._head_bytes > max_head_bytes:
                # A whole head arrived at once: refused as it stands, no request started.
                self._refuse_head_size()
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._refused:
                super().on_message_complete()

        def _refuse_head_size(self) -> None:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                RULE_HEAD_TOO_LARGE,
                f"the request line and headers exceed {max_head_bytes} bytes",
            )

        def _arm_head_timer(self) -> None:
            self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self._in_head and not self.transport.is_closing():
                self._refuse(
                    408,
                    "Request Timeout",
                    RULE_HEAD_TIMEOUT,
                    f"the request line and headers did not arrive within {head_timeout:g} s",
                )

        def _refuse(self, status: int, phrase: str, rule: str, message: str) -> None:
            self._cancel_head_timer()
            self._in_head = False
            self._refused = True
            self.transport.write(_raw_problem(status, phrase, rule, message))
            self.transport.close()

    return BoundedHttpToolsProtocol
