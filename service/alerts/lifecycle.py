"""An alert's life: Update, Cancel, Ack and Error applied to what they reference, and expiry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from cap.errors import Finding
from cap.model import Alert, Reference
from service import audit
from service.auth import ADMINISTRATION, Principal, load_principal, may_modify
from service.db.models import AlertRecord, PendingReference, utcnow
from service.errors import Forbidden
from service.events import log as event_log

ACTIVE = "active"
UPDATED = "updated"
CANCELLED = "cancelled"
EXPIRED = "expired"
# A stronger state never gives way to a weaker one: a cancelled alert stays cancelled whatever
# arrives after it, and an alert superseded by an Update is not brought back by its expiry.
_RANK = {ACTIVE: 0, EXPIRED: 1, UPDATED: 2, CANCELLED: 3}

# Message types an administration may send only about its own alerts (the security model:
# "update, cancel, ack or error only its own alerts"): Update and Cancel change what they
# reference, Ack and Error report on it and so write into its history (CAP 1.2 §3.2.1
# msgType). The operator, relaying feeds, is held to none of them.
OWNER_ONLY = frozenset({"Update", "Cancel", "Ack", "Error"})
# The message types that stand as alerts (lists, feeds, kept-current impacts); Cancel, Ack and
# Error act on other messages.
LISTED_MSG_TYPES = ("Alert", "Update")
# How long an alert lasts when an <info> gives no <expires> (TAMPERE_ALERT_DEFAULT_LIFETIME_HOURS
# overrides it; see service.settings for why 48 h).
DEFAULT_LIFETIME = timedelta(hours=48)
RULE_EXPIRES_DEFAULTED = "alert.expires.defaulted"

_alerts = AlertRecord.__table__
_pending = PendingReference.__table__


# Rule id of an Update, Cancel, Ack or Error that references an alert its poster does not own.
RULE_REFERENCE_NOT_OWNED = "alert.reference.not-owned"


class NotAllowed(Forbidden):
    """A message would change (or write into the history of) an alert its poster does not own.
    Its message names only what the poster wrote in <references>, never a stored alert's id."""

    def __init__(self, message: str) -> None:
        super().__init__([Finding(RULE_REFERENCE_NOT_OWNED, message, "/alert/references")])


@dataclass(slots=True)
class StoredMessage:
    """What the lifecycle needs of a stored message (read with one narrow query)."""

    id: int
    sender: str
    identifier: str
    sent_at: datetime
    msg_type: str
    status: str
    scope: str
    state: str
    poster_id: int
    expires_at: datetime | None
    regions: list[Any]
    countries: list[Any]


_COLUMNS = [getattr(_alerts.c, name) for name in StoredMessage.__slots__]
# Built once (see service.alerts.ingest): the statements of the ingest path, with bound parameters.
_INSERT_PENDING = insert(_pending)
_FIND_BY_KEY = select(*_COLUMNS).where(
    _alerts.c.sender == bindparam("sender"),
    _alerts.c.identifier == bindparam("identifier"),
    _alerts.c.sent_at == bindparam("sent_at"),
)
_PENDING_FOR_KEY = (
    select(_pending.c.id, _pending.c.referencing_alert_id)
    .where(
        _pending.c.sender == bindparam("sender"),
        _pending.c.identifier == bindparam("identifier"),
        _pending.c.sent_at == bindparam("sent_at"),
    )
    .order_by(_pending.c.id)
)


@dataclass(slots=True, frozen=True)
class Effect:
    """What a message of one msgType does to each alert it references."""

    state: str | None
    event: str


# CAP 1.2 §3.2.1 msgType: Update "supersedes", Cancel "cancels" the earlier message(s) named
# in <references>; Ack "acknowledges receipt and acceptance", Error "indicates rejection".
EFFECTS = {
    "Update": Effect(UPDATED, event_log.ALERT_UPDATED),
    "Cancel": Effect(CANCELLED, event_log.ALERT_CANCELLED),
    "Ack": Effect(None, event_log.ALERT_ACKNOWLEDGED),
    "Error": Effect(None, event_log.ALERT_ERROR),
}


def expires_of(alert: Alert) -> datetime | None:
    """When the whole message expires: the latest <expires> of its infos.

    An info without <expires> has no end (CAP 1.2 §3.2.2 leaves it to the recipient), so one
    such info, or no info at all, means the message never expires by itself.
    """
    if not alert.infos or any(info.expires is None for info in alert.infos):
        return None
    return max(info.expires for info in alert.infos if info.expires is not None)


def lifetime_of(
    alert: Alert, lifetime: timedelta, *, received: datetime
) -> tuple[datetime | None, list[Finding]]:
    """When an alert (Alert or Update) ends, each <info> without <expires> ending `lifetime`
    after it takes effect here: the latest of its arrival (`received`), <effective> and <onset>
    (a forecast event does not end before it begins); with a warning per such info, so the
    poster sees it. CAP 1.2 §3.2.2 leaves an info without <expires> to the recipient's policy;
    "never" kept a forgotten alert on every map for years. Counted from arrival rather than
    <sent>: a relay may pass on a current alert first sent long ago, and a sender's clock is
    not ours. Cancel, Ack and Error are never listed: they keep `expires_of`."""
    if alert.msg_type not in LISTED_MSG_TYPES:
        return expires_of(alert), []
    hours = f"{lifetime.total_seconds() / 3600:g} h"
    if not alert.infos:
        end = received + lifetime
        message = f"no <info>, so no <expires>: the alert ends {hours} after arrival, at {end.isoformat()}"
        return end, [Finding(RULE_EXPIRES_DEFAULTED, message, "/alert")]
    ends: list[datetime] = []
    findings: list[Finding] = []
    for i, info in enumerate(alert.infos, 1):
        if info.expires is not None:
            ends.append(info.expires)
            continue
        start = max(t for t in (received, info.effective, info.onset) if t is not None)
        end = start + lifetime
        ends.append(end)
        message = (
            f"no <expires>: this info ends {hours} after it takes effect, at {end.isoformat()} "
            "(TAMPERE_ALERT_DEFAULT_LIFETIME_HOURS); send an Update to extend it"
        )
        findings.append(Finding(RULE_EXPIRES_DEFAULTED, message, f"/alert/info[{i}]/expires"))
    return max(ends), findings


def effective_state(state: str, expires_at: datetime | None, now: datetime) -> str:
    """The state to show: a stored 'active' past its expiry reads as expired even before the
    sweep has written it."""
    if state == ACTIVE and expires_at is not None and expires_at <= now:
        return EXPIRED
    return state


def find_alert(conn: Connection, *, sender: str, identifier: str, sent: datetime) -> StoredMessage | None:
    """The stored message named by (sender, identifier, sent), if any (CAP 1.2 §3.2.1)."""
    row = conn.execute(_FIND_BY_KEY, {"sender": sender, "identifier": identifier, "sent_at": sent}).first()
    return None if row is None else StoredMessage(*row)


def get_message(conn: Connection, alert_id: int) -> StoredMessage | None:
    """The stored message with this id, if any."""
    row = conn.execute(select(*_COLUMNS).where(_alerts.c.id == alert_id)).first()
    return None if row is None else StoredMessage(*row)


def apply_references(
    conn: Connection, principal: Principal, message: StoredMessage, references: Iterable[Reference]
) -> None:
    """Apply an Update/Cancel/Ack/Error to every alert it references; keep the rest pending.

    An administration references only its own messages: one of a sender not registered to it
    is refused (403) whether that message is stored, not yet received, or stored but not
    visible to it, with the same answer in each case, so the refusal tells nothing of another
    administration's alerts. A reference to one of its own senders' messages that has not
    arrived yet stays pending (CAP allows a reference to a message not yet received) and
    applies when it does."""
    effect = EFFECTS.get(message.msg_type)
    if effect is None:
        return
    owner_only = message.msg_type in OWNER_ONLY
    seen: set[tuple[str, str, datetime]] = set()
    for ref in references:
        key = (ref.sender, ref.identifier, ref.sent)
        if key in seen or key == (message.sender, message.identifier, message.sent_at):
            continue
        seen.add(key)
        target = find_alert(conn, sender=ref.sender, identifier=ref.identifier, sent=ref.sent)
        if owner_only and not _may_reference(principal, ref, target):
            raise NotAllowed(
                f"{message.msg_type} references {ref.sender},{ref.identifier}: an administration "
                "updates, cancels, acknowledges or reports errors only on its own senders' alerts"
            )
        if target is None:
            conn.execute(
                _INSERT_PENDING,
                {
                    "sender": ref.sender,
                    "identifier": ref.identifier,
                    "sent_at": ref.sent,
                    "referencing_alert_id": message.id,
                    "created_at": utcnow(),
                },
            )
            continue
        _apply(conn, effect, target, by=message)


def _may_reference(principal: Principal, ref: Reference, target: StoredMessage | None) -> bool:
    """Whether the principal may act on the referenced message (stored or not yet): its own
    sender's, or one it posted itself; the operator on any."""
    if principal.role != ADMINISTRATION:
        return target is None or may_modify(principal, sender=target.sender, poster_id=target.poster_id)
    if ref.sender in principal.senders:
        return True
    return target is not None and target.poster_id == principal.id


def resolve_pending(conn: Connection, message: StoredMessage) -> None:
    """Apply the references that named this message before it arrived."""
    key = {"sender": message.sender, "identifier": message.identifier, "sent_at": message.sent_at}
    pending = conn.execute(_PENDING_FOR_KEY, key).all()
    for pending_id, referencing_id in pending:
        referencing = get_message(conn, referencing_id)
        if referencing is not None:
            _apply_late(conn, message, referencing)
        conn.execute(delete(_pending).where(_pending.c.id == pending_id))


def _apply_late(conn: Connection, message: StoredMessage, referencing: StoredMessage) -> None:
    effect = EFFECTS[referencing.msg_type]
    if referencing.msg_type in OWNER_ONLY:
        poster = load_principal(conn, referencing.poster_id)
        if poster is None or not may_modify(poster, sender=message.sender, poster_id=message.poster_id):
            note = f"{referencing.msg_type} {referencing.id} came from a principal not owning it"
            event_log.append_alert_event(
                conn,
                kind=event_log.ALERT_REFERENCE_REFUSED,
                alert=message,
                payload={"by": referencing.id, "by_msgType": referencing.msg_type, "note": note},
                by=referencing,
            )
            return
    _apply(conn, effect, message, by=referencing)


def _apply(conn: Connection, effect: Effect, target: StoredMessage, *, by: StoredMessage) -> None:
    if effect.state is not None and _RANK[effect.state] > _RANK.get(target.state, 0):
        target.state = effect.state
        conn.execute(update(_alerts).where(_alerts.c.id == target.id).values(state=effect.state))
    event_log.append_alert_event(
        conn,
        kind=effect.event,
        alert=target,
        payload={"by": by.id, "by_identifier": by.identifier, "by_msgType": by.msg_type},
        by=by,
    )


def expire_due(conn: Connection, now: datetime, *, limit: int = 500) -> int:
    """Mark active alerts whose expiry has passed as expired; returns how many."""
    due = conn.execute(
        select(*_COLUMNS)
        .where(
            _alerts.c.state == ACTIVE,
            _alerts.c.expires_at.is_not(None),
            _alerts.c.expires_at <= now,
        )
        .order_by(_alerts.c.expires_at, _alerts.c.id)
        .limit(limit)
    ).all()
    for row in due:
        expire(conn, StoredMessage(*row), actor="system")
    return len(due)


def expire(conn: Connection, message: StoredMessage, *, actor: str) -> None:
    """Mark one alert expired, with its event and audit link."""
    message.state = EXPIRED
    conn.execute(update(_alerts).where(_alerts.c.id == message.id).values(state=EXPIRED))
    expires = message.expires_at.isoformat() if message.expires_at else None
    event_log.append_alert_event(
        conn, kind=event_log.ALERT_EXPIRED, alert=message, payload={"expires": expires}
    )
    audit.record(
        conn,
        actor=actor,
        action="alert.expire",
        obj=f"alert:{message.id}",
        payload_hash=audit.json_digest({"alert": message.id, "expires": expires}),
    )


def next_expiry(conn: Connection) -> datetime | None:
    """The earliest expiry among active alerts, if any."""
    return conn.execute(
        select(func.min(_alerts.c.expires_at)).where(_alerts.c.state == ACTIVE)
    ).scalar_one_or_none()
