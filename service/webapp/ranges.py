"""Files served in byte ranges (RFC 9110 §14), as PMTiles readers ask for them: a header, a
directory, a tile, each a `Range: bytes=a-b` of one archive.

Starlette's `FileResponse` sends the bytes (one range as 206 with `Content-Range`, several as
`multipart/byteranges`); what it decides alone is not what RFC 9110 asks, so the decision is made
here first and the request handed on with a `Range` it reads the same way:
- `If-Range` (§13.1.5) is looked at before `Range`: a validator that is not the file's strong
  ETag or its exact Last-Modified date means the whole file (200).
- A `Range` that is not valid `ranges-specifier` syntax, or not in bytes, is ignored (§14.2:
  "a server MAY ignore the Range header field"): the whole file, never a 400 or a 500.
- A valid one with no satisfiable range (every first-pos past the end, or a suffix of 0) is
  416 with `Content-Range: bytes */LENGTH` (§15.5.17), in the one problem shape.
- Ranges that are partly satisfiable are answered for the satisfiable ones (§14.1.2).
- More than MAX_RANGES ranges are ignored (§14.2 lets a server refuse many small ranges).
- `If-None-Match` with the file's ETag is 304 (§13.1.2), as for the other answers.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from service.errors import RangeNotSatisfiable, problem_response

RULE_RANGE_NOT_SATISFIABLE = "request.range.not-satisfiable"
# A PMTiles reader asks for one range at a time; a handful more is generous.
MAX_RANGES = 16
# A Range header longer than this is not read (a few ranges are a few dozen bytes).
MAX_HEADER = 1024

# RFC 9110 §14.1.1: int-range = first-pos "-" [ last-pos ], suffix-range = "-" suffix-length.
_SPEC = re.compile(r"^(?:(\d{1,19})-(\d{1,19})?|-(\d{1,19}))$")
_UNIT = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """A valid Range of which no range lies within the file."""

    length: int


def satisfiable_ranges(header: str, length: int) -> list[tuple[int, int]] | Unsatisfiable | None:
    """The ranges of a `Range` header that lie in a file of `length` bytes, as (first, last)
    inclusive and in the order asked; `Unsatisfiable` when it is valid but none does; None when
    the header is to be ignored (invalid syntax, another unit, too many ranges)."""
    if len(header) > MAX_HEADER:
        return None
    unit, equals, ranges = header.partition("=")
    unit = unit.strip()
    if not equals or not _UNIT.match(unit) or unit.lower() != "bytes":
        return None
    specs = [part.strip() for part in ranges.split(",")]
    # `#` lists allow empty elements (§5.6.1), but not a list of nothing.
    specs = [part for part in specs if part]
    if not specs or len(specs) > MAX_RANGES:
        return None
    satisfiable: list[tuple[int, int]] = []
    for spec in specs:
        match = _SPEC.match(spec)
        if match is None:
            return None
        first, last, suffix = match.groups()
        if suffix is not None:
            size = int(suffix)
            if size > 0 and length > 0:
                satisfiable.append((max(0, length - size), length - 1))
            continue
        start = int(first)
        end = length - 1 if last is None else int(last)
        if last is not None and end < start:
            return None  # §14.1.1: invalid when last-pos < first-pos
        if start < length:
            satisfiable.append((start, min(end, length - 1)))
    return satisfiable or Unsatisfiable(length)


class RangeFileResponse(FileResponse):
    """A file, whole or in the ranges asked for, decided as RFC 9110 says (module docstring)."""

    def __init__(self, path: str | os.PathLike[str], *, media_type: str, cache_control: str) -> None:
        stat = Path(path).stat()
        super().__init__(
            path,
            media_type=media_type,
            stat_result=stat,
            headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
        )
        self.length = stat.st_size
        self.modified = stat.st_mtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 304, 416, 206 or 200 for the request's conditions and ranges."""
        headers = {name.lower(): value for name, value in scope.get("headers", ())}
        etag = self.headers["etag"]
        held = headers.get(b"if-none-match")
        if held is not None and _matches_weakly(held.decode("latin-1"), etag):
            # The ETag of the file, whole: a 304 says the client's copy (or its parts) are current.
            not_modified = {k: self.headers[k] for k in ("etag", "cache-control", "last-modified")}
            await Response(status_code=304, headers=not_modified)(scope, receive, send)
            return
        wanted = headers.get(b"range")
        if wanted is None or scope.get("method", "GET") not in ("GET", "HEAD"):
            await super().__call__(_without_range(scope), receive, send)
            return
        condition = headers.get(b"if-range")
        if condition is not None and not self._if_range_holds(condition.decode("latin-1").strip()):
            await super().__call__(_without_range(scope), receive, send)
            return
        decided = satisfiable_ranges(wanted.decode("latin-1"), self.length)
        if decided is None:
            await super().__call__(_without_range(scope), receive, send)
        elif isinstance(decided, Unsatisfiable):
            error = RangeNotSatisfiable.one(
                RULE_RANGE_NOT_SATISFIABLE,
                f"no range asked for lies within the {decided.length} bytes of the file",
                "Range",
                headers={"Content-Range": f"bytes */{decided.length}", "Accept-Ranges": "bytes"},
            )
            await problem_response(error)(scope, receive, send)
        else:
            canonical = "bytes=" + ",".join(f"{first}-{last}" for first, last in decided)
            await super().__call__(_with_range(scope, canonical), receive, send)

    def _if_range_holds(self, condition: str) -> bool:
        # §13.1.5: an entity tag matches only strongly; a date only if it is exactly the file's
        # Last-Modified and that is a strong validator (§8.8.2.2: the file was last changed at
        # least a second ago, so no second change can share the date).
        if condition.startswith('"') or condition.startswith("W/"):
            return condition == self.headers["etag"]
        return condition == self.headers["last-modified"] and time.time() - self.modified >= 1


def _matches_weakly(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def _without_range(scope: Scope) -> Scope:
    kept = [(n, v) for n, v in scope.get("headers", ()) if n.lower() not in (b"range", b"if-range")]
    return {**scope, "headers": kept}


def _with_range(scope: Scope, canonical: str) -> Scope:
    kept = [(n, v) for n, v in scope.get("headers", ()) if n.lower() not in (b"range", b"if-range")]
    return {**scope, "headers": [*kept, (b"range", canonical.encode("latin-1"))]}
