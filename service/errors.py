"""Request input the service refuses: one exception with rule ids and places, one response."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from fastapi.responses import JSONResponse

from cap.errors import Finding


class InputRejected(Exception):
    """A request refused as asked: HTTP `status_code` (4xx) and the broken rules, each with
    where in the request it broke (a JSON pointer or a query parameter)."""

    def __init__(self, findings: Sequence[Finding], *, status_code: int = 422, detail: str = "") -> None:
        self.findings = tuple(findings)
        self.status_code = status_code
        self.detail = detail or "; ".join(f"{f.rule} at {f.path}: {f.message}" for f in self.findings)
        super().__init__(self.detail)

    @classmethod
    def one(cls, rule: str, message: str, path: str = "/", *, status_code: int = 422) -> InputRejected:
        """A refusal for one broken rule."""
        return cls([Finding(rule, message, path)], status_code=status_code)


async def input_rejected(_request: Request, exc: Exception) -> JSONResponse:
    """The response of an InputRejected: `detail` and `errors` [{rule, message, path}]."""
    assert isinstance(exc, InputRejected)
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": exc.detail, "errors": [f.as_dict() for f in exc.findings]},
    )
