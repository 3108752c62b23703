"""What each event message says, and to whom: the one description of the event stream's (and the
webhooks') messages, from which GET /asyncapi.json is made (`service.events.asyncapi`).

Every type in `service.events.log.EVENT_TYPES` has an entry here (tests/service/events/
test_asyncapi.py drives the service through each and validates what it sends against these
schemas): a new event type is described here or that test fails.

A message is the envelope `event_message` writes (`id`, `type`, `at`, `audience`) around the
event's payload, whose members stand at the top level beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contact_points.edxl_rm import MESSAGE_TYPES, RESPONSE_TYPES
from contact_points.requests import RequestState, Urgency
from contact_points.routing import Priority
from geo.layers import RADIOS, SiteState
from geo.reference import REGIONS
from service.alerts.lifecycle import ACTIVE, CANCELLED, EXPIRED, UPDATED
from service.events import log
from service.layers.reload import LAYER_RELOAD

CAP_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
CAP_MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
CAP_SCOPES = ("Public", "Restricted", "Private")
ALERT_STATES = (ACTIVE, UPDATED, CANCELLED, EXPIRED)

# Who receives the events of each family (service.visibility decides; this says it in words).
ALERT_AUDIENCE = (
    "Who may see the alert, by its CAP scope (CAP 1.2 §3.2.1): Public to every principal; "
    "Restricted to offices, BDT, the operator and the poster; Private to the principals its "
    "<addresses> name and the poster. Which message caused the event (`by`, `by_identifier`, "
    "`by_msgType`, `note`) is told only to who may also see that message; the others get "
    "`by: null` and no more."
)
REQUEST_AUDIENCE = (
    "Who may see the assistance request: the requesting administration (and whoever filed it), "
    "the offices it is routed to, BDT and the operator."
)
PUBLIC_AUDIENCE = "Every principal (the event's scope is Public)."


def _string(**more: Any) -> dict[str, Any]:
    return {"type": "string", **more}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


_TIME = _string(format="date-time")
_CODES = {"type": "array", "items": _string()}
_REGIONS = {"type": "array", "items": _string(enum=list(REGIONS))}
_BBOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}

ENVELOPE: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "minimum": 1, "description": "The event's id: resume with ?since=<id>"},
    "type": _string(description="The event type"),
    "at": _string(format="date-time", description="When the change was committed"),
    "audience": {
        "type": "object",
        "description": "Where the event belongs: what the stream's filters match",
        "additionalProperties": False,
        "required": ["regions", "countries", "scope", "status"],
        "properties": {
            "regions": _REGIONS,
            "countries": {**_CODES, "description": "ISO 3166-1 alpha-3 (or Natural Earth ADM0_A3)"},
            "scope": _string(enum=list(CAP_SCOPES)),
            "status": _string(enum=list(CAP_STATUSES)),
        },
    },
}

_ALERT = {
    "alert_id": {"type": "integer", "description": "GET /api/v1/alerts/{alert_id}"},
    "identifier": _string(description="CAP <identifier>"),
    "sender": _string(description="CAP <sender>"),
    "status": _string(enum=list(CAP_STATUSES)),
    "msgType": _string(enum=list(CAP_MSG_TYPES)),
    "state": _string(enum=list(ALERT_STATES), description="The alert's state after the event"),
}
_CAUSE = {
    "by": _nullable({"type": "integer", "description": "The alert id of the message that did it"}),
    "by_identifier": _string(),
    "by_msgType": _string(enum=list(CAP_MSG_TYPES)),
}
_SITES = {
    "type": "object",
    "description": "Cell sites in the alert's area; counts are null when no cell layer is loaded",
    "required": ["total", "by_radio", "down", "degraded"],
    "properties": {
        "total": _nullable({"type": "integer", "minimum": 0}),
        "by_radio": {
            "type": "object",
            "additionalProperties": False,
            "properties": {radio: {"type": "integer", "minimum": 0} for radio in RADIOS},
        },
        "down": _nullable({"type": "integer", "minimum": 0}),
        "degraded": _nullable({"type": "integer", "minimum": 0}),
        "share_out": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "as_of": _nullable(_string(format="date-time")),
    },
}
_REQUEST = {
    "request_id": {"type": "integer", "description": "GET /api/v1/requests/{request_id}"},
    "action": _string(),
    "state": _string(enum=[s.value for s in RequestState], description="The request's state after it"),
    "by": _string(description="Who did it (a principal, or system)"),
    "country": _string(description="ISO 3166-1 alpha-3 of the requesting Member State"),
    "region": _nullable(_string(enum=list(REGIONS))),
    "kind": _string(),
    "urgency": _string(enum=[u.value for u in Urgency]),
    "priority": _string(enum=[p.value for p in Priority]),
    "title": _string(),
    "note": _string(),
}


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One event type: what it says happened, who receives it, and its payload's members (and
    which of them every message of the type carries)."""

    type: str
    summary: str
    audience: str
    properties: dict[str, Any]
    required: tuple[str, ...]

    def payload_schema(self) -> dict[str, Any]:
        """The JSON Schema of the whole message: envelope and payload."""
        properties = {**ENVELOPE, **self.properties, "type": {"const": self.type}}
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "type", "at", "audience", *self.required],
            "properties": properties,
        }


def _alert_event(kind: str, summary: str, extra: dict[str, Any], required: tuple[str, ...]) -> EventMessage:
    return EventMessage(kind, summary, ALERT_AUDIENCE, {**_ALERT, **extra}, (*_ALERT, *required))


def _request_event(kind: str, summary: str, extra: dict[str, Any]) -> EventMessage:
    required = tuple(name for name in _REQUEST if name != "note") + tuple(extra)
    return EventMessage(kind, summary, REQUEST_AUDIENCE, {**_REQUEST, **extra}, required)


_CAUSED = ("by",)
EVENT_MESSAGES: dict[str, EventMessage] = {
    message.type: message
    for message in (
        _alert_event(
            log.ALERT_RECEIVED,
            "A new CAP message was taken: an alert, an Update, Cancel, Ack or Error",
            {"sent": _TIME, "countries": _CODES, "regions": _REGIONS},
            ("sent", "countries", "regions"),
        ),
        _alert_event(log.ALERT_UPDATED, "An Update superseded the alert", _CAUSE, _CAUSED),
        _alert_event(log.ALERT_CANCELLED, "A Cancel cancelled the alert", _CAUSE, _CAUSED),
        _alert_event(
            log.ALERT_EXPIRED,
            "The alert's <expires> passed (or the default lifetime ended)",
            {"expires": _nullable(_TIME)},
            ("expires",),
        ),
        _alert_event(log.ALERT_ACKNOWLEDGED, "A CAP Ack message referenced the alert", _CAUSE, _CAUSED),
        _alert_event(log.ALERT_ERROR, "A CAP Error message referenced the alert", _CAUSE, _CAUSED),
        _alert_event(
            log.ALERT_REFERENCE_REFUSED,
            "A message referencing the alert, held until it arrived, came from a principal that "
            "does not own it: not applied",
            {"by": _CAUSE["by"], "by_msgType": _CAUSE["by_msgType"], "note": _string()},
            _CAUSED,
        ),
        _alert_event(
            log.ALERT_IMPACT,
            "The alert's impact changed: a network status report, or a new connectivity layer",
            {
                "reason": _string(enum=[LAYER_RELOAD, log.NETWORK_STATUS]),
                "report_id": {"type": "integer", "description": "The status report (reason network.status)"},
                "as_of": _TIME,
                "sites": _SITES,
                "download_change_pct": _nullable({"type": "number"}),
            },
            ("reason", "as_of", "sites", "download_change_pct"),
        ),
        _alert_event(
            log.ALERT_ROUTING_ACKNOWLEDGED,
            "A contact point the alert is routed to acknowledged it (REST or the websocket's ack)",
            {
                "contact_points": {**_CODES, "description": "The contact points acknowledged by it"},
                "by": _string(description="The acknowledging principal"),
                "acknowledged_at": _TIME,
            },
            ("contact_points", "by", "acknowledged_at"),
        ),
        _alert_event(
            log.ALERT_ESCALATED,
            "A recipient did not acknowledge by its deadline: the next step of its chain is asked",
            {
                "from": _string(description="The step that did not acknowledge"),
                "to": _string(description="The step asked now (a contact point, or people there)"),
                "contact_point": _string(description="The contact point of that step"),
                "to_whom": _string(description="contact_point, or which people of it"),
                "level": {"type": "integer", "minimum": 1},
                "due": _TIME,
                "priority": _string(enum=[p.value for p in Priority]),
                "by": _string(),
                "note": _string(),
            },
            ("from", "to", "contact_point", "to_whom", "level", "due", "priority", "by", "note"),
        ),
        _alert_event(
            log.ALERT_ROUTING_ADDED,
            "The alert's impact changed and the routing rules now name more contact points",
            {
                "contact_points": {**_CODES, "description": "The contact points added"},
                "rules": {**_CODES, "description": "The routing rules that named them"},
                "reason": _string(enum=["impact"]),
            },
            ("contact_points", "rules", "reason"),
        ),
        _request_event(
            log.REQUEST_CREATED,
            "An assistance request was filed and routed",
            {"recipients": {**_CODES, "description": "The contact point ids it is routed to"}},
        ),
        _request_event(
            log.REQUEST_ACKNOWLEDGED,
            "A recipient acknowledged the request",
            {"contact": _string(description="The contact point that acknowledged")},
        ),
        _request_event(
            log.REQUEST_STATUS,
            "The request moved along (in-progress, fulfilled, closed, cancelled)",
            {"from": _string(enum=[s.value for s in RequestState])},
        ),
        _request_event(
            log.REQUEST_ESCALATED,
            "A recipient did not acknowledge by its deadline: the request went to the next one",
            {"from": _string(), "to": _string(), "level": {"type": "integer", "minimum": 1}, "due": _TIME},
        ),
        _request_event(
            log.REQUEST_MESSAGE,
            "An EDXL-RM 1.0 message on the request: an office answered it "
            "(ResponseToRequestResource: Accept or Decline), committed resources (CommitResource), "
            "the requester released some (ReleaseResource), the owner asked for lent equipment back "
            "(RequestReturn) or the requester answered that (ResponseToRequestReturn)",
            {
                "message": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Its number: GET /api/v1/requests/{request_id}/edxl-rm?message={message}",
                },
                "message_type": _string(enum=list(MESSAGE_TYPES)),
                "preceding": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The message it follows (0: the request)",
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["element_id", "quantity"],
                        "properties": {
                            "element_id": {"type": "integer", "minimum": 1},
                            "quantity": {"type": "integer", "minimum": 1},
                            "schedule": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
                "response": _nullable(_string(enum=[*RESPONSE_TYPES, None])),
                "contact": _nullable(_string(description="The recipient it was sent for")),
            },
        ),
        EventMessage(
            log.NETWORK_STATUS,
            "An administration or the operator reported sites or an area up, degraded or down",
            PUBLIC_AUDIENCE,
            {
                "report_id": {"type": "integer", "description": "GET /api/v1/network-status lists it"},
                "state": _string(enum=[s.value for s in SiteState]),
                "time": _TIME,
                "sites": {"type": "integer", "minimum": 0, "description": "How many sites it names"},
                "area": {"type": "boolean", "description": "Whether it names an area"},
                "bbox": _nullable(_BBOX),
                "by": _string(description="The reporting principal"),
                "note": _nullable(_string()),
            },
            ("report_id", "state", "time", "sites", "area", "bbox", "by", "note"),
        ),
        EventMessage(
            log.CONTACT_POINT_CHANGED,
            "The contact-point registry changed: a contact point created, updated or deleted",
            PUBLIC_AUDIENCE,
            {
                "contact_point": _string(description="GET /api/v1/contact-points/{contact_point}"),
                "action": _string(enum=["created", "updated", "deleted"]),
                "kind": _string(),
                "name": _string(),
                "region": _nullable(_string(enum=list(REGIONS))),
                "by": _string(description="Who changed it"),
            },
            ("contact_point", "action", "kind", "name", "region", "by"),
        ),
    )
}

# What a subscriber may send (`EventBroadcaster.commands`), and what the stream answers: each
# command's `<type>.result`, or `error` for a message that is no command; replies have `id` null
# and come in order with the events.
_FINDINGS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["rule", "message", "path"],
        "properties": {"rule": _string(), "message": _string(), "path": _string()},
    },
}
ACK_COMMAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "alert"],
    "properties": {
        "type": {"const": "ack"},
        "alert": {"type": "integer", "description": "The alert id, as POST /api/v1/alerts/{id}/ack"},
    },
}
ACK_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type", "status", "request"],
    "properties": {
        "id": {"type": "null"},
        "type": {"const": "ack.result"},
        "status": {"type": "integer", "description": "200, or the refusal's HTTP status (403, 404...)"},
        "request": {"type": "object", "description": "The command answered"},
        "alert": {"type": "integer"},
        "contact_points": {**_CODES, "description": "The contact points acknowledged"},
        "acknowledged_at": _nullable(_TIME),
        "changed": {"type": "boolean", "description": "False when it was acknowledged already"},
        "routing": {
            "type": "array",
            "items": {"type": "object"},
            "description": (
                "The alert's routing now: its entries as GET /api/v1/alerts/{id} shows them (the"
                " contract's members, and `grounds`, the reasons as data)"
            ),
        },
        "title": _string(description="A refusal's HTTP title"),
        "errors": _FINDINGS,
    },
}
COMMAND_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type", "status", "errors"],
    "properties": {
        "id": {"type": "null"},
        "type": {"const": "error"},
        "status": {"type": "integer", "description": "400 not a command, 413 too large"},
        "errors": _FINDINGS,
    },
}

# Sent by the stream itself when idle (never stored, never a webhook): resuming from `last_id`
# is safe, everything up to it was sent or filtered out.
HEARTBEAT = "heartbeat"
HEARTBEAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type", "last_id"],
    "properties": {
        "id": {"type": "null"},
        "type": {"const": HEARTBEAT},
        "last_id": {"type": "integer", "minimum": 0, "description": "Resume with ?since=<last_id>"},
    },
}
