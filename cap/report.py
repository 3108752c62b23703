"""The verdict of `cap.validate`: strict conformance, tolerant ingestibility, findings, signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cap.errors import Finding
from cap.model import Alert

# Signature statuses, reported apart from the content verdict (see cap.signature).
UNSIGNED = "unsigned"
VERIFIED = "verified"
BAD_DIGEST = "bad-digest"
BAD_SIGNATURE = "bad-signature"
UNTRUSTED_OR_EXPIRED_CERT = "untrusted-or-expired-cert"
UNVERIFIABLE = "unverifiable"
SIGNATURE_STATUSES = (
    UNSIGNED,
    VERIFIED,
    BAD_DIGEST,
    BAD_SIGNATURE,
    UNTRUSTED_OR_EXPIRED_CERT,
    UNVERIFIABLE,
)


@dataclass(slots=True, kw_only=True)
class Report:
    """What validation found in one document (a CAP message, or a feed of them).

    `valid` is strict conformance (schema + every MUST of the specification + a verifiable
    signature where one is present); `ingestible` says a tolerant pipeline can still take the
    message and map its areas.
    """

    valid: bool
    ingestible: bool
    version: str | None = None
    kind: str = "alert"  # alert, atom, rss, edxl-de, alerts, cap-json, geojson
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    signature: str = UNSIGNED
    alert: Alert | None = None
    # For feeds and containers: one report per embedded message, in document order.
    messages: list[Report] = field(default_factory=list)

    def as_json(self, file: str | None = None) -> dict[str, Any]:
        """The JSON object of the `tampere validate --json` contract."""
        out: dict[str, Any] = {
            "file": file,
            "valid": self.valid,
            "ingestible": self.ingestible,
            "version": self.version,
            "kind": self.kind,
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
            "signature": self.signature,
        }
        if self.alert is not None:
            out["identifier"] = self.alert.identifier
            out["sender"] = self.alert.sender
        if self.messages:
            out["messages"] = [m.as_json() for m in self.messages]
        return out
