"""The append-only, hash-chained audit log: one link per write, and its verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from service.db.models import AuditEntry, utcnow

# The link before the first: 64 zeros, like a chain anchored at nothing.
GENESIS = "0" * 64

_log = AuditEntry.__table__
_TAIL = select(_log.c.seq, _log.c.hash).order_by(_log.c.seq.desc()).limit(1)
_APPEND = insert(_log)


def payload_digest(data: bytes) -> str:
    """SHA-256 (hex) of the bytes a write carried."""
    return hashlib.sha256(data).hexdigest()


def json_digest(value: Any) -> str:
    """SHA-256 (hex) of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return payload_digest(text.encode())


def link_hash(
    *, seq: int, at: str, actor: str, action: str, obj: str, payload_hash: str, prev_hash: str
) -> str:
    """The hash of one link: every field, JSON-encoded so no field can bleed into the next."""
    fields = [seq, at, actor, action, obj, payload_hash, prev_hash]
    return payload_digest(json.dumps(fields, separators=(",", ":")).encode())


def record(conn: Connection, *, actor: str, action: str, obj: str, payload_hash: str) -> int:
    """Append one link in the caller's write transaction; returns its sequence number.

    The caller holds the write lock (BEGIN IMMEDIATE on SQLite, the advisory lock on
    PostgreSQL), so the tail read here is still the tail at commit.
    """
    tail = conn.execute(_TAIL).first()
    seq = tail.seq + 1 if tail else 1
    prev_hash = tail.hash if tail else GENESIS
    at = utcnow().isoformat(timespec="microseconds")
    digest = link_hash(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        obj=obj,
        payload_hash=payload_hash,
        prev_hash=prev_hash,
    )
    conn.execute(
        _APPEND,
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "object": obj,
            "payload_hash": payload_hash,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    return seq


@dataclass(slots=True, frozen=True)
class ChainVerdict:
    """What `tampere audit verify` found: how many links held and the first that did not."""

    links: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        """True when every link recomputes and points at the one before."""
        return self.broken_at is None


def verify(conn: Connection) -> ChainVerdict:
    """Recompute the chain from the first link; stop at the first broken one."""
    expected_seq = 1
    prev_hash = GENESIS
    checked = 0
    rows = conn.execute(
        select(AuditEntry.__table__).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    )
    for entry in rows:
        if entry.seq != expected_seq:
            return ChainVerdict(checked, expected_seq, f"link {expected_seq} is missing")
        if entry.prev_hash != prev_hash:
            return ChainVerdict(checked, entry.seq, "prev_hash does not match the hash of the link before")
        recomputed = link_hash(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            obj=entry.object,
            payload_hash=entry.payload_hash,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return ChainVerdict(checked, entry.seq, "hash does not match the link's contents")
        checked += 1
        expected_seq += 1
        prev_hash = entry.hash
    return ChainVerdict(checked)
