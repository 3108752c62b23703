"""The durable event log: every state change, in the transaction of the change.

The events of one alert are also its history (GET /api/v1/alerts/{id}): each says what
happened (`type`), the alert's state after it, and which message did it (`by`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, text

from service.db.models import Event, utcnow

# Built once: constructing the statement per call costs more than running it.
_INSERT_EVENT = insert(Event.__table__)
# PostgreSQL: wakes the event stream of every instance (service.events.stream) when the transaction
# commits; NOTIFY is sent at commit and never on rollback, and identical ones in one transaction
# are folded into one.
NOTIFY_CHANNEL = "tampere_events"
_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")

ALERT_RECEIVED = "alert.received"
ALERT_UPDATED = "alert.updated"
ALERT_CANCELLED = "alert.cancelled"
ALERT_EXPIRED = "alert.expired"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_ERROR = "alert.error"
ALERT_REFERENCE_REFUSED = "alert.reference-refused"
# The stored impact of an alert changed: a status report or a new connectivity layer.
ALERT_IMPACT = "alert.impact"
# A recipient the alert is routed to acknowledged it (POST /api/v1/alerts/{id}/ack or the
# websocket's {"type": "ack"}); not ALERT_ACKNOWLEDGED, which is a CAP msgType Ack message.
ALERT_ROUTING_ACKNOWLEDGED = "alert.routing.acknowledged"
# A recipient did not acknowledge in time: the next on its chain is asked.
ALERT_ESCALATED = "alert.escalated"
# The alert's impact changed and the routing rules now name more contact points.
ALERT_ROUTING_ADDED = "alert.routing.added"
PREFIX = "alert."
# Events about an assistance request (service.assistance.store) begin so.
REQUEST_PREFIX = "request."
REQUEST_CREATED = "request.created"
REQUEST_ACKNOWLEDGED = "request.acknowledged"
REQUEST_STATUS = "request.status"
REQUEST_ESCALATED = "request.escalated"
# An EDXL-RM message after the request: ResponseToRequestResource, CommitResource,
# ReleaseResource, RequestReturn, ResponseToRequestReturn (POST /api/v1/requests/{id}/messages).
REQUEST_MESSAGE = "request.message"
NETWORK_STATUS = "network.status"
# The contact-point registry changed (created, updated, deleted): what any principal may know.
CONTACT_POINT_CHANGED = "contact_point.changed"
# Every type of event the log holds: what a subscriber may filter on (`types=`). A new kind of
# event is added here, or subscribers cannot ask for it.
EVENT_TYPES = (
    ALERT_RECEIVED,
    ALERT_UPDATED,
    ALERT_CANCELLED,
    ALERT_EXPIRED,
    ALERT_ACKNOWLEDGED,
    ALERT_ERROR,
    ALERT_REFERENCE_REFUSED,
    ALERT_IMPACT,
    ALERT_ROUTING_ACKNOWLEDGED,
    ALERT_ESCALATED,
    ALERT_ROUTING_ADDED,
    REQUEST_CREATED,
    REQUEST_ACKNOWLEDGED,
    REQUEST_STATUS,
    REQUEST_ESCALATED,
    REQUEST_MESSAGE,
    NETWORK_STATUS,
    CONTACT_POINT_CHANGED,
)


def append_alert_event(
    conn: Connection, *, kind: str, alert: Any, payload: dict[str, Any], by: Any | None = None
) -> None:
    """Append one event about an alert (an `AlertRecord` or a row with the same fields); its
    audience is the alert's ITU-D regions, countries, CAP scope and status. `by` is the
    message that caused it (an Update, Cancel, Ack or Error), recorded as `by_alert_id`: its
    own scope decides who is told which message it was (service.visibility.event_payload)."""
    body = {
        "alert_id": alert.id,
        "identifier": alert.identifier,
        "sender": alert.sender,
        "status": alert.status,
        "msgType": alert.msg_type,
        "state": alert.state,
        **payload,
    }
    conn.execute(
        _INSERT_EVENT,
        {
            "at": utcnow(),
            "type": kind,
            "alert_id": alert.id,
            "payload": body,
            "regions": list(alert.regions),
            "countries": list(alert.countries),
            "scope": alert.scope,
            "status": alert.status,
            "parties": None,
            "by_alert_id": None if by is None else by.id,
        },
    )
    _notify(conn)


def append_event(
    conn: Connection,
    *,
    kind: str,
    payload: dict[str, Any],
    regions: list[str],
    countries: list[str],
    scope: str = "Public",
    status: str = "Actual",
    parties: dict[str, Any] | None = None,
) -> None:
    """Append one event that is not about an alert (e.g. a network status report); `parties`
    are those of the request it is about (`service.visibility.RequestParties.as_json`)."""
    conn.execute(
        _INSERT_EVENT,
        {
            "at": utcnow(),
            "type": kind,
            "alert_id": None,
            "payload": payload,
            "regions": regions,
            "countries": countries,
            "scope": scope,
            "status": status,
            "parties": parties,
            "by_alert_id": None,
        },
    )
    _notify(conn)


def _notify(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY)
