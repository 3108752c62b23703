"""Network status: who may report sites or areas up, degraded or down, the reports kept, and
the impacts they change.

Reports are stored (`network_status_reports`) with a `network.status` event and an audit link,
and, in the same transaction, the stored impact of every active alert the report touches is
recomputed. Each instance also holds every report in memory (`StatusBook`) as geo values, so
that an assessment reads status without a query; it catches up with reports written by other
instances at each write and every few seconds (see `service.layers.reload.layer_watcher`).
The HTTP views are in `service.network.routes`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, insert, select

from cap.errors import Finding
from geo.areas import bbox_of
from geo.impact import assess
from geo.jurisdiction import Jurisdictions, territory_of
from geo.layers import RADIOS, CellSites, ConnectivityLayer, NetworkStatus, SiteKey, SiteState, StatusReport
from service import audit
from service.alerts.impacts import Recomputed, recompute
from service.alerts.recipients import Reroute
from service.auth import ADMINISTRATION, OPERATOR, Principal
from service.bbox import BBox, boxes_overlap, overlaps_sql
from service.db.models import AlertRecord, NetworkStatusReport, utcnow
from service.errors import Forbidden
from service.events import log as event_log
from service.network.report_body import StatusInput

_reports = NetworkStatusReport.__table__
_r = _reports.c
_a = AlertRecord.__table__.c
# OpenCelliD positions are the centroid of measurements, not the mast: a coastal cell can sit
# offshore. A site this close (in degrees, ~5 km) to a country's land counts as in it.
BORDER_TOLERANCE_DEG = 0.05
# An administration's report (its area, or a named site) outside its territory and sea margin.
RULE_AREA_OUTSIDE = "network.country.outside"


# --- the reports held in memory --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    report: StatusReport
    bbox: BBox | None


class StatusBook:
    """Every status report of the store, as geo values, kept in step with the table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._all = NetworkStatus()
        self.last_id = 0

    def load_new(self, conn: Connection) -> int:
        """Read the reports stored since the last one held (by any instance); returns how many."""
        rows = conn.execute(
            select(
                _r.id, _r.time, _r.state, _r.sites, _r.area, _r.min_lon, _r.min_lat, _r.max_lon, _r.max_lat
            )
            .where(_r.id > self.last_id)
            .order_by(_r.id)
        ).all()
        for row in rows:
            report = StatusReport(
                time=row.time,
                state=SiteState(row.state),
                area=shape(row.area) if row.area else None,
                sites=tuple(SiteKey(s[0], *s[1:]) for s in row.sites),
            )
            box = None if row.min_lon is None else (row.min_lon, row.min_lat, row.max_lon, row.max_lat)
            self.add(row.id, report, box)
        return len(rows)

    def add(self, report_id: int, report: StatusReport, bbox: BBox | None) -> None:
        """Hold one stored report (again is harmless)."""
        with self._lock:
            if report_id in self._entries:
                return
            self._entries = {**self._entries, report_id: _Entry(report, bbox)}
            self._all = NetworkStatus.of(e.report for e in self._entries.values())
            self.last_id = max(self.last_id, report_id)

    @property
    def status(self) -> NetworkStatus:
        """Every report held."""
        return self._all

    def near(self, box: BBox | None, *, extra: StatusReport | None = None) -> NetworkStatus:
        """The reports that can speak of a site inside `box`: those naming sites, and area
        reports whose box overlaps it (every report when `box` is None); plus `extra`."""
        entries = self._entries.values()
        chosen = [
            e.report
            for e in entries
            if box is None or e.report.sites or (e.bbox is not None and boxes_overlap(e.bbox, box))
        ]
        if extra is not None:
            chosen.append(extra)
        return NetworkStatus.of(chosen)


# --- where named sites are ---------------------------------------------------------------------


_CELL_ORDER: weakref.WeakKeyDictionary[CellSites, np.ndarray] = weakref.WeakKeyDictionary()


def locate_sites(cells: CellSites | None, keys: tuple[SiteKey, ...]) -> np.ndarray:
    """Positions in `cells` of the named sites, -1 for a site the layer does not hold."""
    found = np.full(len(keys), -1, dtype=np.int64)
    if cells is None or not keys or len(cells) == 0:
        return found
    order = _CELL_ORDER.get(cells)
    if order is None:
        # Sorted once per loaded layer: then each lookup is a binary search, not a scan.
        order = _CELL_ORDER.setdefault(cells, np.argsort(cells["cell"], kind="stable"))
    wanted = np.fromiter((k.cell for k in keys), dtype=np.int64, count=len(keys))
    lo = np.searchsorted(cells["cell"], wanted, side="left", sorter=order)
    hi = np.searchsorted(cells["cell"], wanted, side="right", sorter=order)
    for i, key in enumerate(keys):
        ident = (RADIOS.index(key.radio), key.mcc, key.net, key.area)
        for p in order[lo[i] : hi[i]].tolist():
            if (
                int(cells["radio"][p]),
                int(cells["mcc"][p]),
                int(cells["net"][p]),
                int(cells["area"][p]),
            ) == ident:
                found[i] = p
                break
    return found


def site_points(cells: CellSites | None, positions: np.ndarray) -> BaseGeometry | None:
    """The located sites (positions >= 0) as a MultiPoint, None when there is none."""
    located = positions[positions >= 0]
    if cells is None or not len(located):
        return None
    return shapely.multipoints(np.column_stack([cells["lon"][located], cells["lat"][located]]))


# --- who may report where ----------------------------------------------------------------------


def may_report(principal: Principal) -> bool:
    """Whether a principal may report network status at all (administrations and the operator)."""
    return principal.role == OPERATOR or (principal.role == ADMINISTRATION and bool(principal.country))


def refuse_role() -> Forbidden:
    """The refusal of a principal that may not report network status."""
    return Forbidden.one("network.role", "only an administration or the operator reports network status", "/")


def check_reporter(
    principal: Principal,
    parsed: StatusInput,
    positions: np.ndarray,
    cells: CellSites | None,
    *,
    jurisdictions: Jurisdictions,
) -> None:
    """The operator reports anywhere; an administration only about its own territory: every
    part of its area within its land plus the sea margin (`geo.jurisdiction`, the rule alerts
    follow), each named site on or next to its land; others not at all."""
    if not may_report(principal):
        raise refuse_role()
    if principal.role == OPERATOR or principal.country is None:
        return
    land = territory_of(principal.country, jurisdictions.reference)
    problems: list[Finding] = []
    if parsed.area is not None and jurisdictions.of(principal.country).outside(parsed.area):
        problems.append(
            Finding(
                RULE_AREA_OUTSIDE,
                f"the area reaches beyond {principal.country} and {jurisdictions.margin_km:g} km of sea "
                "around it: an administration reports only about its own territory",
                "/area",
            )
        )
    for i in np.flatnonzero(positions < 0).tolist()[:20]:
        problems.append(
            Finding(
                "network.site.unlocated",
                f"site is not in the loaded cell layer, so it cannot be checked to be in {principal.country}",
                f"/sites/{i}",
            )
        )
    located = np.flatnonzero(positions >= 0)
    if len(located) and cells is not None:
        points = shapely.points(cells["lon"][positions[located]], cells["lat"][positions[located]])
        near = np.zeros(len(points), dtype=bool)
        for geometry in land:
            near |= shapely.dwithin(geometry, points, BORDER_TOLERANCE_DEG)
        for i in located[~near].tolist()[:20]:
            problems.append(Finding(RULE_AREA_OUTSIDE, f"site is outside {principal.country}", f"/sites/{i}"))
    if problems:
        raise Forbidden(problems)


# --- storing a report --------------------------------------------------------------------------


@dataclass(slots=True)
class Recorded:
    """A stored report: its id and row, and the alerts whose impact it changed."""

    id: int
    row: dict[str, Any]
    report: StatusReport
    bbox: BBox | None
    impacts: Recomputed


def record_report(
    conn: Connection,
    *,
    principal: Principal,
    parsed: StatusInput,
    footprint: Footprint,
    layer: ConnectivityLayer,
    book: StatusBook,
    reroute: Reroute | None = None,
) -> Recorded:
    """Store a report, its event and audit link, and recompute the impacts it changes (asking
    `reroute` whether the routing rules now name more contact points), in the caller's write
    transaction."""
    book.load_new(conn)  # what other instances stored: the recompute must see it too
    box = footprint.bbox
    row = {
        "time": parsed.time,
        "received_at": utcnow(),
        "state": parsed.state.value,
        "reporter_id": principal.id,
        "sites": [[s.radio, s.mcc, s.net, s.area, s.cell] for s in parsed.sites],
        "area": parsed.area_json,
        "min_lon": box[0] if box else None,
        "min_lat": box[1] if box else None,
        "max_lon": box[2] if box else None,
        "max_lat": box[3] if box else None,
        "countries": footprint.countries,
        "note": parsed.note,
    }
    report_id = int(conn.execute(insert(_reports).values(**row).returning(_r.id)).scalar_one())
    payload = {
        "report_id": report_id,
        "state": row["state"],
        "time": parsed.time.isoformat(),
        "sites": len(parsed.sites),
        "area": parsed.area is not None,
        "bbox": list(box) if box else None,
        "by": principal.actor,
        "note": parsed.note,
    }
    event_log.append_event(
        conn,
        kind=event_log.NETWORK_STATUS,
        payload=payload,
        regions=footprint.regions,
        countries=footprint.countries,
    )
    audit.record(
        conn,
        actor=principal.actor,
        action="network.status",
        obj=f"network-status:{report_id}",
        payload_hash=audit.json_digest({k: v for k, v in row.items() if k != "received_at"}),
    )
    report = StatusReport(time=parsed.time, state=parsed.state, area=parsed.area, sites=parsed.sites)
    impacts = Recomputed()
    if box is not None and footprint.geometry is not None:
        impacts = recompute(
            conn,
            where=overlaps_sql(_a.min_lon, _a.min_lat, _a.max_lon, _a.max_lat, box),
            layer=layer,
            status_near=lambda near: book.near(near, extra=report),
            reason={"reason": event_log.NETWORK_STATUS, "report_id": report_id},
            touches=footprint.geometry,
            reroute=reroute,
        )
    return Recorded(id=report_id, row=row, report=report, bbox=box, impacts=impacts)


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where a report lies (its area and located sites), its box, and the countries and
    ITU-D regions it touches (the audience of its event)."""

    geometry: BaseGeometry | None
    bbox: BBox | None
    countries: list[str]
    regions: list[str]


def footprint_of(parsed: StatusInput, located: BaseGeometry | None) -> Footprint:
    """The footprint of a report: its area and its located sites."""
    pieces = [g for g in (parsed.area, located) if g is not None]
    if not pieces:
        return Footprint(None, None, [], [])
    geometry = pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)
    # The same countries and regions an alert over this footprint would be given.
    touched = assess(geometry, layer=ConnectivityLayer())
    return Footprint(geometry, bbox_of(geometry), list(touched.countries), list(touched.regions))
