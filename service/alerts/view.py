"""The JSON shapes of stored alerts: what POST answers, GET returns and the map shows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from service.alerts.lifecycle import effective_state
from service.db.models import AlertRecord

_alerts = AlertRecord.__table__


@dataclass(slots=True)
class AlertView:
    """The columns of a stored alert that its JSON is made of (no raw bytes, no full model)."""

    id: int
    identifier: str
    sender: str
    sent_at: datetime
    status: str
    msg_type: str
    scope: str
    version: str | None
    state: str
    expires_at: datetime | None
    received_at: datetime
    poster_id: int
    signature: str
    addresses: list[Any]
    summary: dict[str, Any]
    countries: list[Any]
    regions: list[Any]
    impact: dict[str, Any]
    routing: list[Any]
    warnings: list[Any]
    geometry: dict[str, Any] | None
    relayed_by: str | None
    unrouted: bool


VIEW_COLUMNS = [getattr(_alerts.c, f.name) for f in fields(AlertView)]


def select_views() -> Select[Any]:
    """SELECT of the AlertView columns; add WHERE and ORDER BY, build views with `AlertView(*row)`."""
    return select(*VIEW_COLUMNS)


def alert_json(view: AlertView, *, now: datetime) -> dict[str, Any]:
    """The JSON of one stored alert (the POST answer; GET adds history, references, model)."""
    return {
        "id": view.id,
        "identifier": view.identifier,
        "sender": view.sender,
        "sent": view.summary.get("sent") or view.sent_at.isoformat(),
        "status": view.status,
        "msgType": view.msg_type,
        "scope": view.scope,
        "version": view.version,
        "state": effective_state(view.state, view.expires_at, now),
        "expires": view.expires_at.isoformat() if view.expires_at else None,
        "received": view.received_at.isoformat(),
        "signature": view.signature,
        "countries": view.countries,
        "regions": view.regions,
        "impact": view.impact,
        "routing": view.routing,
        "unrouted": bool(view.unrouted),
        "warnings": view.warnings,
        "event": view.summary.get("event"),
        "headline": view.summary.get("headline"),
        "severity": view.summary.get("severity"),
        "relayed_by": view.relayed_by,
        "links": {"self": f"/api/v1/alerts/{view.id}", "cap": f"/api/v1/alerts/{view.id}/cap"},
    }


def feature_json(view: AlertView, *, now: datetime) -> dict[str, Any]:
    """One RFC 7946 Feature: the area as geometry (lon/lat), the alert as properties."""
    properties = alert_json(view, now=now)
    properties["urgency"] = view.summary.get("urgency")
    properties["certainty"] = view.summary.get("certainty")
    properties["areaDesc"] = view.summary.get("areaDesc")
    return {"type": "Feature", "id": view.id, "geometry": view.geometry, "properties": properties}
