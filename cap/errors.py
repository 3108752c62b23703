"""Rules, findings and errors of the CAP library: every finding carries a stable rule id and a path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """A validation rule: id, whether it is an error or a warning, whether ingest must stop.

    The registry of every rule is `cap.rules.RULES`; rules are defined beside what checks them
    (`cap.rules`, `cap.profiles`, `cap.feeds.rules`), which all read this one type.
    """

    id: str
    level: str  # "error" or "warning"
    fatal: bool
    summary: str
    clause: str = ""


@dataclass(slots=True, frozen=True)
class Finding:
    """One broken rule: a stable id, a message a person understands, where in the document."""

    rule: str
    message: str
    path: str = "/"

    def as_dict(self) -> dict[str, str]:
        """The JSON form used by `tampere validate --json` and the API."""
        return {"rule": self.rule, "message": self.message, "path": self.path}


class CapError(ValueError):
    """Raised by `cap.parse` when a document cannot be read as CAP."""

    def __init__(self, rule: str, message: str, path: str = "/") -> None:
        super().__init__(f"{rule} at {path}: {message}")
        self.rule = rule
        self.message = message
        self.path = path

    @property
    def finding(self) -> Finding:
        """This error as a finding."""
        return Finding(self.rule, self.message, self.path)
