"""Stored impacts kept current, and an alert's impact as of a time.

An alert's impact is assessed at ingest (`service.alerts.ingest.assess_alert`). Its connectivity part
(sites and their status, measured performance, population, landing points) goes stale when a
status report arrives or a new layer is imported: `recompute` re-assesses that part for the
active alerts a change can touch (a bounding-box cut in SQL, then a geometry test), writes
the new impact and an `alert.impact` event when it changed. Countries, regions and UN groups
do not depend on the layer and are kept as assessed. `GET /api/v1/alerts/{id}/impact` (in
`service.alerts.routes`) recomputes the same part as of a time with `connectivity_part`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, and_, or_, select, update

from cap.model import event_time
from cap.serialize import from_json
from geo.impact import Impact, connectivity_impact, connectivity_impacts
from geo.layers import ConnectivityLayer, NetworkStatus
from service.alerts import lifecycle
from service.bbox import BBox
from service.db.models import AlertRecord, utcnow
from service.events import log as event_log

# The keys of `Impact.as_dict()` that come from the connectivity layer and status.
RECOMPUTED = ("sites", "performance", "population", "landing_points", "layers", "missing_layers")
# Alerts re-assessed per write transaction when a whole new layer arrives.
RECOMPUTE_BATCH = 200

StatusNear = Callable[[BBox | None], NetworkStatus]

_alerts = AlertRecord.__table__
_c = _alerts.c
_TARGET_COLUMNS = (
    _c.id,
    _c.identifier,
    _c.sender,
    _c.status,
    _c.msg_type,
    _c.scope,
    _c.state,
    _c.regions,
    _c.countries,
    _c.impact,
    _c.geometry,
    _c.model,
    _c.min_lon,
    _c.min_lat,
    _c.max_lon,
    _c.max_lat,
)


@dataclass(slots=True)
class Recomputed:
    """What one recompute pass did: alerts looked at, alerts whose impact changed, last id."""

    seen: int = 0
    changed: list[int] = field(default_factory=list)
    last_id: int = 0


def active_alerts(now: datetime) -> Any:
    """SQL condition: alerts whose impact is worth keeping current (active, not expired)."""
    return and_(
        _c.state == lifecycle.ACTIVE,
        _c.msg_type.in_(lifecycle.LISTED_MSG_TYPES),
        or_(_c.expires_at.is_(None), _c.expires_at > now),
        _c.geometry.is_not(None),
    )


def event_time_of(model: dict[str, Any]) -> datetime:
    """`cap.event_time` of a stored model (`cap.to_json` form), its areas left unread."""
    return event_time(from_json(model, areas=False))


def alert_shape(geometry: dict[str, Any]) -> BaseGeometry:
    """A stored alert geometry (RFC 7946, already split at the antimeridian) as shapely."""
    return shape(geometry)


def connectivity_part(
    geometry: BaseGeometry,
    *,
    layer: ConnectivityLayer,
    status: NetworkStatus | None,
    as_of: datetime | None,
    event_time: datetime | None,
) -> dict[str, Any]:
    """The connectivity keys of an impact (see RECOMPUTED), in `Impact.as_dict()` form."""
    found = connectivity_impact(geometry, layer=layer, status=status, as_of=as_of, event_time=event_time)
    return _recomputed_keys(found)


def _recomputed_keys(found: Impact) -> dict[str, Any]:
    as_dict = found.as_dict()
    return {key: as_dict[key] for key in RECOMPUTED}


def recompute(
    conn: Connection,
    *,
    where: Any,
    layer: ConnectivityLayer,
    status_near: StatusNear,
    reason: dict[str, Any],
    touches: BaseGeometry | None = None,
    after_id: int = 0,
    limit: int | None = None,
    reroute: Callable[[Connection, int, dict[str, Any]], Any] | None = None,
) -> Recomputed:
    """Re-assess the connectivity part of the active alerts matching `where` (and, when given,
    whose geometry intersects `touches`), in the caller's write transaction; store each impact
    that changed, with an `alert.impact` event whose payload carries `reason`, and ask
    `reroute` (service.alerts.recipients.rerouter) whether the routing rules now name more
    contact points (sites down: the networks-down rule)."""
    now = utcnow()
    query = select(*_TARGET_COLUMNS).where(active_alerts(now), where, _c.id > after_id).order_by(_c.id)
    if limit is not None:
        query = query.limit(limit)
    done = Recomputed(last_id=after_id)
    if touches is not None:
        shapely.prepare(touches)
    targets: list[tuple[Any, BaseGeometry]] = []
    for row in conn.execute(query).all():
        done.seen += 1
        done.last_id = row.id
        if row.geometry is None:
            # No area could be drawn (a geocode nobody imported, an area given only in words):
            # stored as JSON null, which SQL's IS NOT NULL lets through. Nothing to re-assess.
            continue
        geometry = alert_shape(row.geometry)
        if touches is None or shapely.intersects(touches, geometry):
            targets.append((row, geometry))
    # All of them in one pass over each layer (see `connectivity_impacts`).
    found = connectivity_impacts(
        [geometry for _, geometry in targets],
        layer=layer,
        statuses=[status_near(_row_box(row)) for row, _ in targets],
        event_times=[event_time_of(row.model) for row, _ in targets],
    )
    for (row, _), impact_now in zip(targets, found, strict=True):
        fresh = _recomputed_keys(impact_now)
        stored = row.impact or {}
        if all(stored.get(key) == fresh[key] for key in RECOMPUTED):
            continue
        impact = {**stored, **fresh, "as_of": now.isoformat()}
        conn.execute(update(_alerts).where(_c.id == row.id).values(impact=impact))
        event_log.append_alert_event(
            conn,
            kind=event_log.ALERT_IMPACT,
            alert=row,
            payload={
                **reason,
                "as_of": impact["as_of"],
                "sites": fresh["sites"],
                "download_change_pct": fresh["performance"]["download_change_pct"],
            },
        )
        done.changed.append(row.id)
        if reroute is not None:
            reroute(conn, row.id, impact)
    return done


def _row_box(row: Any) -> BBox | None:
    return None if row.min_lon is None else (row.min_lon, row.min_lat, row.max_lon, row.max_lat)
