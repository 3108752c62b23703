"""Structured JSON logs, one object a line, each carrying the id of the request it belongs to,
with credentials redacted from every line (ours, uvicorn's, any library's)."""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed as `extra=` and is logged as a field.
# uvicorn adds `color_message` (the message with terminal colours): not for a JSON log.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}

access_log = logging.getLogger("tampere.access")

REDACTED = "[redacted]"
# Credentials as they can reach a log line: a websocket's `?token=` in the request line uvicorn
# logs, an Authorization header or a session cookie echoed by a library or an exception. Tokens
# and session values are URL-safe base64 (service.auth.new_token).
_CREDENTIALS = re.compile(
    r"(?P<key>(?:[?&;]|\b)(?:token|access_token|tampere_session)=|\b(?:bearer|basic)\s+)"
    r"(?P<secret>[^\s&;\"',]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """The text with every credential it carries replaced by [redacted]."""
    return _CREDENTIALS.sub(lambda m: m.group("key") + REDACTED, text)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = request_id.get()
        if rid is not None:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        # Last, over the whole line: what an extra's nested value or repr may still carry.
        return redact(json.dumps(out, default=str))


def configure_logging(level: str = "INFO") -> None:
    """Send every log (ours and uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The request middleware writes one access line per request, with its id and duration.
    logging.getLogger("uvicorn.access").disabled = True


class RequestContextMiddleware:
    """Gives every HTTP request an id (X-Request-ID, taken from the client when sane), logs
    one access line, and reports the request's duration to `observe`."""

    def __init__(self, app: ASGIApp, *, observe: Any = None) -> None:
        self.app = app
        self.observe = observe
        # A random prefix per process and a counter: unique, and no system call per request.
        prefix = uuid.uuid4().hex[:16]
        self._ids = (f"{prefix}{n:016x}" for n in itertools.count(1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request under its id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or next(self._ids)
        token = request_id.set(rid)
        started = time.perf_counter()
        # 499 (nginx's "client closed request") when nothing was answered because the client
        # left; an exception that escapes is a 500.
        status = 499

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = 500 if status == 499 else status
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if self.observe is not None:
                self.observe(scope["method"], route, status, elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            request_id.reset(token)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            # Accept only a short token of safe characters; anything else gets a fresh id.
            if 0 < len(text) <= 128 and all(c.isalnum() or c in "-_.:" for c in text):
                return text
            return None
    return None
