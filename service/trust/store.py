"""Trust anchors per sender and signature requirements: read and written with an explicit
connection; `tampere trust ...` writes them, every ingest reads them.

Read at every ingest (`load_trust`, one small query per table) rather than cached on the
runtime: the tables hold a few certificates per alerting authority, and read this way an anchor
removed by `tampere trust remove` (a compromised key) is distrusted by every instance from the
next message on, with no reload window. Certificates are parsed once per process and PEM text
(`cap.signature` caches them by their bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, delete, select

from cap.errors import Finding
from cap.report import VERIFIED, Report
from cap.trust import TrustAnchors
from service import audit
from service.db.models import SignatureRequirement, TrustAnchor, utcnow
from service.errors import Invalid, NotFound

RULE_NOT_A_CERTIFICATE = "trust.anchor.not-a-certificate"
RULE_SENDER_MISSING = "trust.sender.missing"
RULE_ANCHOR_UNKNOWN = "trust.anchor.unknown"
# The refusal at ingest of a message from a sender that requires a verified signature.
RULE_SIGNATURE_REQUIRED = "alert.signature.required"

_anchors = TrustAnchor.__table__
_required = SignatureRequirement.__table__
_SENDER_CHARS = 255


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """One stored anchor, as `tampere trust list` prints it."""

    sender: str
    fingerprint: str
    subject: str
    not_after: str
    added_at: datetime
    added_by: str

    def as_json(self) -> dict[str, str]:
        """The JSON object of one anchor."""
        return {
            "sender": self.sender,
            "fingerprint": self.fingerprint,
            "subject": self.subject,
            "not_after": self.not_after,
            "added_at": self.added_at.isoformat(),
            "added_by": self.added_by,
        }


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """What ingest applies: the anchors per sender, and who must sign."""

    anchors: TrustAnchors = field(default_factory=TrustAnchors)
    required: frozenset[str] = frozenset()

    def refusal(self, report: Report) -> Finding | None:
        """The finding refusing this message, when its sender requires a verified signature
        and the signature is not verified; else None."""
        alert = report.alert
        if alert is None or alert.sender.strip() not in self.required or report.signature == VERIFIED:
            return None
        return Finding(
            RULE_SIGNATURE_REQUIRED,
            f"sender {alert.sender!r} requires a verified signature; this message's signature "
            f"is {report.signature}",
            "/alert/Signature",
        )


def read_certificates(data: bytes, *, where: str = "/") -> list[x509.Certificate]:
    """The certificates of a PEM file (one or more); raises Invalid for anything else."""
    if b"-----BEGIN" not in data:
        raise Invalid.one(
            RULE_NOT_A_CERTIFICATE,
            "not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)",
            where,
        )
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise Invalid.one(
            RULE_NOT_A_CERTIFICATE,
            f"not PEM certificates: {exc} (a private key or request is not a certificate)",
            where,
        ) from None
    return certificates


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def _sender(sender: str) -> str:
    cleaned = sender.strip()
    if not cleaned or len(cleaned) > _SENDER_CHARS:
        raise Invalid.one(RULE_SENDER_MISSING, "a CAP sender of 1 to 255 characters is required", "--sender")
    return cleaned


def add_anchors(
    conn: Connection, *, sender: str, certificates: list[x509.Certificate], actor: str
) -> list[AnchorRecord]:
    """Store each certificate as an anchor of `sender` (one already there is kept as it was)."""
    sender = _sender(sender)
    now = utcnow()
    known = set(conn.execute(select(_anchors.c.fingerprint).where(_anchors.c.sender == sender)).scalars())
    for certificate in certificates:
        print_ = fingerprint(certificate)
        if print_ in known:
            continue
        known.add(print_)
        pem = certificate.public_bytes(Encoding.PEM)
        conn.execute(
            _anchors.insert().values(
                sender=sender,
                fingerprint=print_,
                subject=certificate.subject.rfc4514_string()[:1000],
                pem=pem.decode("ascii"),
                added_at=now,
                added_by=actor,
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="trust.anchor.add",
            obj=f"trust:{sender}:{print_}",
            payload_hash=audit.payload_digest(pem),
        )
    wanted = {fingerprint(c) for c in certificates}
    return [a for a in list_anchors(conn, sender=sender) if a.fingerprint in wanted]


def list_anchors(conn: Connection, *, sender: str | None = None) -> list[AnchorRecord]:
    """The anchors stored, of one sender or of all, by sender and time added."""
    query = select(_anchors).order_by(_anchors.c.sender, _anchors.c.added_at, _anchors.c.id)
    if sender is not None:
        query = query.where(_anchors.c.sender == sender.strip())
    records = []
    for row in conn.execute(query):
        certificate = x509.load_pem_x509_certificate(row.pem.encode("ascii"))
        records.append(
            AnchorRecord(
                sender=row.sender,
                fingerprint=row.fingerprint,
                subject=row.subject,
                not_after=certificate.not_valid_after_utc.isoformat(),
                added_at=row.added_at,
                added_by=row.added_by,
            )
        )
    return records


def remove_anchor(conn: Connection, *, sender: str, fingerprint: str, actor: str) -> None:
    """Remove one anchor of `sender`; raises NotFound when it has no such anchor."""
    sender = _sender(sender)
    wanted = fingerprint.strip().lower().replace(":", "")
    removed = conn.execute(
        delete(_anchors).where(_anchors.c.sender == sender, _anchors.c.fingerprint == wanted)
    ).rowcount
    if not removed:
        message = f"sender {sender!r} has no trust anchor with fingerprint {wanted}"
        raise NotFound.one(RULE_ANCHOR_UNKNOWN, message, "FINGERPRINT")
    audit.record(
        conn,
        actor=actor,
        action="trust.anchor.remove",
        obj=f"trust:{sender}:{wanted}",
        payload_hash=audit.payload_digest(wanted.encode()),
    )


def set_required(conn: Connection, *, sender: str, required: bool, actor: str) -> bool:
    """Require (or stop requiring) a verified signature of `sender`; returns whether it changed."""
    sender = _sender(sender)
    present = conn.execute(select(_required.c.sender).where(_required.c.sender == sender)).first()
    if required == (present is not None):
        return False
    if required:
        conn.execute(_required.insert().values(sender=sender, required_at=utcnow(), required_by=actor))
    else:
        conn.execute(delete(_required).where(_required.c.sender == sender))
    audit.record(
        conn,
        actor=actor,
        action="trust.require" if required else "trust.no-require",
        obj=f"trust:{sender}",
        payload_hash=audit.payload_digest(sender.encode()),
    )
    return True


def required_senders(conn: Connection) -> frozenset[str]:
    """The senders whose messages must carry a verified signature."""
    return frozenset(conn.execute(select(_required.c.sender)).scalars())


def load_trust(conn: Connection) -> TrustPolicy:
    """The trust policy ingest applies now: every sender's anchors and who must sign."""
    by_sender: dict[str, list[bytes]] = {}
    for sender, pem in conn.execute(select(_anchors.c.sender, _anchors.c.pem)):
        by_sender.setdefault(sender, []).append(pem.encode("ascii"))
    return TrustPolicy(
        anchors=TrustAnchors({s: tuple(p) for s, p in by_sender.items()}),
        required=required_senders(conn),
    )
