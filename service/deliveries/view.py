"""The JSON shapes of delivery channels (webhooks, e-mail subscriptions) and of their delivery log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.db.models import utcnow
from service.deliveries.registry_channels import REGISTRY
from service.deliveries.store import PENDING, WEBHOOK, when


def channel_path(row: Any) -> str:
    """The channel's URL path."""
    collection = "webhooks" if row.kind == WEBHOOK else "email"
    return f"/api/v1/contact-points/{row.contact_id}/{collection}/{row.id}"


def channel_json(row: Any, counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A channel as listed: never its secret (given once, when it is made)."""
    body: dict[str, Any] = {"id": row.id, "contact_point": row.contact_id}
    if row.kind == WEBHOOK:
        body["url"] = row.target
        # While a rotated secret's grace period lasts, deliveries carry its signature too.
        until = row.previous_secret_until
        live = row.previous_secret is not None and until is not None and until > utcnow()
        body["previous_secret_until"] = when(until) if live else None
    else:
        body.update(address=row.target, language=row.language, digest_minutes=row.digest_minutes)
        body["next_digest_at"] = when(row.next_digest_at)
    filters = row.filters or {}
    if row.kind != WEBHOOK:
        # An address of the registry (its roles: contact, deputies, head), kept in step with
        # it (service.deliveries.registry_channels); None: an explicit subscription.
        body["registry"] = list(filters[REGISTRY]) if filters.get(REGISTRY) else None
    body.update(
        events=list(row.events),
        region=filters.get("region"),
        country=filters.get("country"),
        status=filters.get("status"),
        routed_only=bool(filters.get("routed_only")),
        created=when(row.created_at),
        created_by=row.created_by,
        health={
            "consecutive_failures": row.failures,
            "retry_at": when(row.retry_at),
            "last_success_at": when(row.last_success_at),
            "last_failure_at": when(row.last_failure_at),
        },
        links={"self": channel_path(row), "deliveries": channel_path(row) + "/deliveries"},
    )
    if counts is not None:
        body["deliveries"] = dict(counts)
    return body


def delivery_json(row: Any, attempts: Sequence[Any]) -> dict[str, Any]:
    """One delivery with its log of tries."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.event_type,
        "priority": row.priority,
        "digest": bool(row.digest),
        "state": row.state,
        "attempts": row.attempts,
        "created": when(row.created_at),
        "next_attempt_at": when(row.next_attempt_at) if row.state == PENDING else None,
        "give_up_at": when(row.give_up_at),
        "last_attempt_at": when(row.last_attempt_at),
        "last_status": row.last_status,
        "last_error": row.last_error,
        "delivered_at": when(row.delivered_at),
        "dead_at": when(row.dead_at),
        "log": [
            {"at": when(a.at), "status": a.status, "error": a.error, "duration_ms": round(a.duration_ms, 1)}
            for a in attempts
        ],
    }
