"""GET /asyncapi.json: the event stream and the webhooks described as an AsyncAPI 3.0 document,
made from `service.events.messages` (one message per type of `service.events.log.EVENT_TYPES`)."""

from __future__ import annotations

from typing import Any

from service.events.log import EVENT_TYPES, REQUEST_PREFIX
from service.events.messages import (
    ACK_COMMAND_SCHEMA,
    ACK_RESULT_SCHEMA,
    COMMAND_ERROR_SCHEMA,
    EVENT_MESSAGES,
    HEARTBEAT,
    HEARTBEAT_SCHEMA,
)

ASYNCAPI_VERSION = "3.0.0"
EVENTS_PATH = "/api/v1/events"
PUBLIC_EVENTS_PATH = "/api/v1/events/public"


def message_name(event_type: str) -> str:
    """The component name of an event type's message (`alert.received` -> `alert_received`)."""
    return event_type.replace(".", "_").replace("-", "_")


def asyncapi_document(*, base_url: str, version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the event stream (and the webhooks, which deliver the same
    messages but the heartbeat), served from `base_url`."""
    scheme, _, host = base_url.partition("://")
    host, _, pathname = host.partition("/")
    messages: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        described = EVENT_MESSAGES[event_type]
        messages[message_name(event_type)] = {
            "name": event_type,
            "title": event_type,
            "summary": described.summary,
            "description": f"Audience: {described.audience}",
            "contentType": "application/json",
            "payload": described.payload_schema(),
            "x-audience": described.audience,
        }
    messages[HEARTBEAT] = {
        "name": HEARTBEAT,
        "title": HEARTBEAT,
        "summary": "Sent when the stream has been idle for a while (TAMPERE_EVENTS_HEARTBEAT_SECONDS)",
        "contentType": "application/json",
        "payload": HEARTBEAT_SCHEMA,
        "x-audience": "Each subscriber, on its own connection.",
    }
    replies = {
        "ack_result": ("ack.result", "The answer to an ack command", ACK_RESULT_SCHEMA),
        "error": ("error", "The answer to a message that is no command", COMMAND_ERROR_SCHEMA),
    }
    for name, (kind, summary, schema) in replies.items():
        messages[name] = {
            "name": kind,
            "title": kind,
            "summary": summary,
            "contentType": "application/json",
            "payload": schema,
            "x-audience": "The subscriber that sent the command, on its own connection.",
        }
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    event_refs = {name: ref for name, ref in refs.items() if name not in (HEARTBEAT, *replies)}
    messages["ack"] = {
        "name": "ack",
        "title": "ack",
        "summary": "Sent by a subscriber: acknowledge an alert routed to its contact point",
        "contentType": "application/json",
        "payload": ACK_COMMAND_SCHEMA,
        "x-audience": "Sent to the service; answered with ack.result.",
    }
    stream_refs = {**refs, "ack": {"$ref": "#/components/messages/ack"}}
    # What no principal may see is never on the public stream: the events of requests.
    public_refs = {
        message_name(t): refs[message_name(t)] for t in EVENT_TYPES if not t.startswith(REQUEST_PREFIX)
    } | {name: refs[name] for name in (HEARTBEAT, *replies)}
    query = {
        "type": "object",
        "properties": {
            "since": {"type": "string", "description": "Replay from after this event id"},
            "types": {"type": "string", "description": "Comma-separated event types"},
            "region": {"type": "string", "description": "An ITU-D region"},
            "country": {"type": "string", "description": "ISO 3166-1 alpha-3"},
            "status": {"type": "string", "description": "CAP status"},
        },
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Tampere events",
            "version": version,
            "description": (
                "Every state change of Tampere is an event, stored in the transaction of the change "
                "and numbered in commit order. Subscribers receive, in id order, the events their "
                "principal may see (the audience of each message says who), replayed from "
                "`?since=<id>` and then live; filters `types`, `region`, `country`, `status` cut "
                "further. Close codes: 4400 a filter or `since` that cannot be used, 4401 a token "
                "unknown, revoked or expired, 4408 a subscriber too slow to keep up (reconnect with "
                "`since` = the last id received). Webhooks registered for a contact point deliver "
                "the same messages (not the heartbeat) as HTTP POSTs signed per Standard Webhooks."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "tampere": {
                "host": host,
                **({"pathname": "/" + pathname} if pathname else {}),
                "protocol": "wss" if scheme == "https" else "ws",
                "description": "The service that serves this document",
                "security": [{"$ref": "#/components/securitySchemes/bearer"}],
            },
            "public": {
                "host": host,
                **({"pathname": "/" + pathname} if pathname else {}),
                "protocol": "wss" if scheme == "https" else "ws",
                "description": "The same service, for the public stream: no credential",
            },
        },
        "channels": {
            "events": {
                "address": EVENTS_PATH,
                "title": "The event stream",
                "description": (
                    "WS /api/v1/events?since=ID&types=...&region=...&country=...&status=...; the token "
                    "as `Authorization: Bearer <token>`, `?token=<token>` or the browser's session "
                    "cookie (same origin)."
                ),
                "servers": [{"$ref": "#/servers/tampere"}],
                "messages": stream_refs,
                "bindings": {
                    "ws": {
                        "query": {
                            **query,
                            "properties": {
                                **query["properties"],
                                "token": {"type": "string", "description": "When no header can be sent"},
                            },
                        }
                    }
                },
            },
            "publicEvents": {
                "address": PUBLIC_EVENTS_PATH,
                "title": "The public event stream",
                "description": (
                    "WS /api/v1/events/public?since=ID&types=...&region=...&country=...&status=...: "
                    "for anonymous first responders, no credential asked for or read. The events "
                    "anyone may see (Public alerts, public network reports; never a request's), in "
                    "the same messages, order, resume, filters, limits and close codes as the "
                    "authenticated stream (4401 excepted). Commands are answered with status 401."
                ),
                "servers": [{"$ref": "#/servers/public"}],
                "messages": public_refs,
                "bindings": {"ws": {"query": query}},
            },
            "webhooks": {
                "address": None,
                "title": "Webhook deliveries",
                "description": (
                    "POSTed to the URL registered with POST /api/v1/contact-points/{id}/webhooks; the "
                    "body is the event message, retried until a 2xx. Headers (Standard Webhooks): "
                    "`webhook-id` (the event id), `webhook-timestamp` (seconds since the epoch), "
                    '`webhook-signature`: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">.'
                ),
                "messages": event_refs,
            },
        },
        "operations": {
            "receiveEvents": {
                "action": "send",
                "title": "Stream events (and the replies to its commands) to a subscriber",
                "channel": {"$ref": "#/channels/events"},
                "messages": [{"$ref": f"#/channels/events/messages/{name}"} for name in refs],
            },
            "receivePublicEvents": {
                "action": "send",
                "title": "Stream the events anyone may see to an anonymous subscriber",
                "channel": {"$ref": "#/channels/publicEvents"},
                "messages": [{"$ref": f"#/channels/publicEvents/messages/{name}"} for name in public_refs],
            },
            "acknowledgeAlert": {
                "action": "receive",
                "title": "Take a subscriber's ack command",
                "channel": {"$ref": "#/channels/events"},
                "messages": [{"$ref": "#/channels/events/messages/ack"}],
                "reply": {
                    "channel": {"$ref": "#/channels/events"},
                    "messages": [
                        {"$ref": "#/channels/events/messages/ack_result"},
                        {"$ref": "#/channels/events/messages/error"},
                    ],
                },
            },
            "deliverWebhooks": {
                "action": "send",
                "title": "Deliver events to a registered webhook",
                "channel": {"$ref": "#/channels/webhooks"},
                "messages": [{"$ref": f"#/channels/webhooks/messages/{name}"} for name in event_refs],
                "bindings": {"http": {"method": "POST"}},
            },
        },
        "components": {
            "messages": messages,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `tampere token create` (or POST /api/v1/tokens)",
                }
            },
        },
    }
