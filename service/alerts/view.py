"""The JSON shapes of stored alerts: what POST answers, GET returns and the map shows."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, Text, literal_column, select, type_coerce

from geo.generalise import generalise
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


# What a map view never shows (`map_feature_json`): not read for it. Routing and impact are the
# largest JSON of a stored alert; decoding them is most of the cost of reading a list.
_NOT_ON_MAPS = frozenset({"impact", "routing", "warnings"})


def select_views(*, for_map: bool = False) -> Select[Any]:
    """SELECT of the AlertView columns; add WHERE and ORDER BY, build views with `AlertView(*row)`.
    `for_map`: for `map_feature_json` only: impact, routing and warnings read as NULL, and the
    area as its JSON text, decoded only when its generalisation is not made already."""
    if not for_map:
        return select(*VIEW_COLUMNS)
    columns = []
    for column in VIEW_COLUMNS:
        if column.name in _NOT_ON_MAPS:
            columns.append(literal_column("NULL").label(column.name))
        elif column.name == "geometry":
            columns.append(type_coerce(column, Text).label(column.name))
        else:
            columns.append(column)
    return select(*columns)


def _area_json(geometry: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """A view's area whether decoded or read as text (`select_views(for_map=True)`); JSON null
    (how the column stores "no area") is None."""
    if isinstance(geometry, str | bytes):
        decoded: dict[str, Any] | None = orjson.loads(geometry)
        return decoded
    return geometry


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


def infos_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline and event of each <info> (alerts stored before these were kept: the first)."""
    infos = summary.get("infos")
    if infos is not None:
        return list(infos)
    return [
        {
            "language": summary.get("language"),
            "headline": summary.get("headline"),
            "event": summary.get("event"),
        }
    ]


class GeneralisedAreas:
    """Areas already generalised, by alert and zoom: a stored alert's area never changes, and a
    map list asked every second must not simplify a thousand polygons each time."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._made: OrderedDict[tuple[Any, ...], dict[str, Any] | None] = OrderedDict()
        # Lists are made in worker threads, several at once.
        self._lock = threading.Lock()

    def of(self, view: AlertView, zoom: float) -> dict[str, Any] | None:
        """The view's area generalised for `zoom` (`geo.generalise`)."""
        # The id alone would do within one store; with the CAP key and the time received it is
        # unique across stores too (tests run many in one process).
        key = (view.id, view.sender, view.identifier, view.received_at, zoom)
        with self._lock:
            if key in self._made:
                self._made.move_to_end(key)
                return self._made[key]
        area = generalise(_area_json(view.geometry), zoom)
        with self._lock:
            self._made[key] = area
            while len(self._made) > self.kept:
                self._made.popitem(last=False)
        return area


# Five zooms of the 5,000 alerts a list holds at most.
AREAS = GeneralisedAreas(kept=25_000)


def map_feature_json(view: AlertView, *, now: datetime, zoom: float) -> dict[str, Any]:
    """One Feature as a map and its list need it: the area generalised for `zoom`
    (`geo.generalise`) and the properties shown there; the rest is at the alert's own URL."""
    summary = view.summary
    properties = {
        "id": view.id,
        "identifier": view.identifier,
        "sender": view.sender,
        "sent": summary.get("sent") or view.sent_at.isoformat(),
        "status": view.status,
        "msgType": view.msg_type,
        "scope": view.scope,
        "state": effective_state(view.state, view.expires_at, now),
        "expires": view.expires_at.isoformat() if view.expires_at else None,
        "event": summary.get("event"),
        "headline": summary.get("headline"),
        "language": summary.get("language"),
        "infos": infos_of(summary),
        "severity": summary.get("severity"),
        "urgency": summary.get("urgency"),
        "certainty": summary.get("certainty"),
        "categories": summary.get("categories") or [],
        "areaDesc": summary.get("areaDesc"),
        "countries": view.countries,
        "regions": view.regions,
        # Where the map cannot draw it (geocodes it does not know): the list says so.
        "mapped": _area_json(view.geometry) is not None,
    }
    return {"type": "Feature", "id": view.id, "geometry": AREAS.of(view, zoom), "properties": properties}
