"""Helpers of the HTTP edge that every resource's routes share: reading a body within a limit."""

from __future__ import annotations

from fastapi import Request

from service.errors import TooLarge

RULE_BODY_TOO_LARGE = "request.body.too-large"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; `TooLarge` past `limit` bytes, before it is read whole (a declared
    Content-Length over the limit is refused before reading anything)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge.one(RULE_BODY_TOO_LARGE, f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge.one(RULE_BODY_TOO_LARGE, f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
