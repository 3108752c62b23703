"""HTTP views of network status: POST a report, GET reports by time and bounding box."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, select

from geo.areas import geometry_to_geojson
from geo.layers import RADIOS, CellSites, SiteKey, SiteState
from service.alerts.recipients import rerouter
from service.bbox import BBox, bbox_geometry, overlaps_sql, parse_bbox
from service.db.models import NetworkStatusReport, utcnow
from service.http import query_time, read_body
from service.network.report_body import MAX_SITES, parse_status_request
from service.network.reports import (
    StatusBook,
    check_reporter,
    footprint_of,
    locate_sites,
    may_report,
    record_report,
    refuse_role,
    site_points,
)
from service.runtime import RequiredPrincipal, RuntimeDep

_reports = NetworkStatusReport.__table__
_r = _reports.c
# A report is small: 10,000 named sites or a 20,000-vertex polygon fit well inside this.
MAX_BODY_BYTES = 2 * 1024 * 1024
# Above this many cells in a bbox, GET /network-status leaves out the per-state summary.
SUMMARY_LIMIT = 1_000_000
MAX_LIST = 5000

_STATUS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["state"],
                "properties": {
                    "state": {"type": "string", "enum": [s.value for s in SiteState]},
                    "time": {"type": "string", "format": "date-time"},
                    "sites": {
                        "type": "array",
                        "maxItems": MAX_SITES,
                        "items": {
                            "type": "object",
                            "required": ["radio", "mcc", "net", "area", "cell"],
                            "properties": {
                                "radio": {"type": "string", "enum": list(RADIOS)},
                                "mcc": {"type": "integer"},
                                "net": {"type": "integer"},
                                "area": {"type": "integer"},
                                "cell": {"type": "integer"},
                            },
                        },
                    },
                    "area": {
                        "description": "GeoJSON Polygon/MultiPolygon (lon, lat) or "
                        '{"circle": {"lat", "lon", "radius_km"}}',
                        "type": "object",
                    },
                    "note": {"type": "string", "maxLength": 1000},
                },
            },
            "examples": {
                "sites": {
                    "summary": "Two cell sites down, by their OpenCelliD identity (an "
                    "administration's sites must be in the imported cell layer, within its territory)",
                    "value": {
                        "state": "down",
                        "time": "2026-04-21T13:00:00+03:00",
                        "sites": [
                            {"radio": "LTE", "mcc": 639, "net": 2, "area": 1001, "cell": 2002},
                            {"radio": "GSM", "mcc": 639, "net": 3, "area": 77, "cell": 401},
                        ],
                        "note": "Flooded base stations along the Nairobi river",
                    },
                },
                "area": {
                    "summary": "Service degraded over an area (a circle)",
                    "value": {
                        "state": "degraded",
                        "area": {"circle": {"lat": -1.29, "lon": 36.82, "radius_km": 10}},
                        "note": "Power cut: sites on battery",
                    },
                },
            },
        }
    },
}


def network_status_router() -> APIRouter:
    """POST and GET /api/v1/network-status."""
    router = APIRouter(tags=["network status"])
    router.add_api_route(
        "/api/v1/network-status",
        post_network_status,
        methods=["POST"],
        status_code=201,
        summary="Report sites or an area up, degraded or down",
        openapi_extra={"requestBody": _STATUS_BODY},
        responses={
            401: {"description": "No token, or a token that is not known"},
            403: {"description": "Not an administration or the operator, or outside its country"},
            413: {"description": "The body is too large"},
            422: {"description": "Not a usable report: `errors` lists rule, message and path"},
        },
    )
    router.add_api_route(
        "/api/v1/network-status",
        list_network_status,
        methods=["GET"],
        summary="Status reports as of a time, as GeoJSON",
        response_class=JSONResponse,
    )
    return router


async def post_network_status(
    request: Request, runtime: RuntimeDep, principal: RequiredPrincipal
) -> JSONResponse:
    """Check, authorise and store one status report; recompute the impacts it changes."""
    if not may_report(principal):
        raise refuse_role()  # before reading the body: no point checking what is refused anyway
    raw = await read_body(request, MAX_BODY_BYTES)
    parsed = parse_status_request(raw, now=utcnow())
    layer = runtime.connectivity
    positions = locate_sites(layer.cells, parsed.sites)
    # Building an administration's jurisdiction the first time takes up to seconds: not on the loop.
    if principal.country and not runtime.jurisdictions.ready(principal.country):
        await anyio.to_thread.run_sync(runtime.jurisdictions.of, principal.country)
    check_reporter(principal, parsed, positions, layer.cells, jurisdictions=runtime.jurisdictions)
    footprint = await anyio.to_thread.run_sync(footprint_of, parsed, site_points(layer.cells, positions))
    book = runtime.network
    recorded = await runtime.db.write(
        lambda conn: record_report(
            conn,
            principal=principal,
            parsed=parsed,
            footprint=footprint,
            layer=layer,
            book=book,
            reroute=rerouter(runtime),
        ),
        long=True,
    )
    book.add(recorded.id, recorded.report, recorded.bbox)
    body = _report_json(recorded.id, recorded.row, footprint_geometry=footprint.geometry)
    body["located_sites"] = int((positions >= 0).sum())
    body["alerts_updated"] = recorded.impacts.changed
    return JSONResponse(status_code=201, content=body)


def _report_json(report_id: int, row: Any, *, footprint_geometry: BaseGeometry | None) -> dict[str, Any]:
    get = row.get if isinstance(row, dict) else row._mapping.get
    box = None if get("min_lon") is None else [get("min_lon"), get("min_lat"), get("max_lon"), get("max_lat")]
    geometry = get("area") or (
        geometry_to_geojson(footprint_geometry) if footprint_geometry is not None else None
    )
    return {
        "type": "Feature",
        "id": report_id,
        "geometry": geometry,
        "bbox": box,
        "properties": {
            "id": report_id,
            "state": get("state"),
            "time": get("time").isoformat(),
            "received": get("received_at").isoformat(),
            "sites": [
                dict(zip(("radio", "mcc", "net", "area", "cell"), s, strict=True)) for s in get("sites")
            ],
            "countries": get("countries"),
            "note": get("note"),
        },
    }


def _list_reports(conn: Connection, as_of: datetime, box: BBox | None, limit: int) -> list[Any]:
    query = select(_reports).where(_r.time <= as_of).order_by(_r.time.desc(), _r.id.desc()).limit(limit)
    if box is not None:
        query = query.where(overlaps_sql(_r.min_lon, _r.min_lat, _r.max_lon, _r.max_lat, box))
    return list(conn.execute(query).all())


async def list_network_status(
    runtime: RuntimeDep,
    as_of: Annotated[datetime | None, Query(description="Reports made up to this time (default now)")] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 500,
) -> JSONResponse:
    """Status reports up to a time (newest first), inside a bbox when given, as an RFC 7946
    FeatureCollection; with a bbox, `summary` counts the cells there by state at that time."""
    as_of = query_time(as_of, param="as_of", rule="network.as_of")
    when = as_of or utcnow()
    box = parse_bbox(bbox) if bbox else None
    rows = await runtime.db.read(lambda conn: _list_reports(conn, when, box, limit))
    layer = runtime.connectivity
    features = []
    for row in rows:
        located = None
        if row.area is None and row.sites:
            keys = tuple(SiteKey(s[0], *s[1:]) for s in row.sites)
            located = site_points(layer.cells, locate_sites(layer.cells, keys))
        features.append(_report_json(row.id, row, footprint_geometry=located))
    body: dict[str, Any] = {"type": "FeatureCollection", "as_of": when.isoformat(), "features": features}
    if box is not None:
        body["bbox"] = list(box)
        body["summary"] = _site_summary(layer.cells, runtime.network, box, when)
    return JSONResponse(body, media_type="application/geo+json")


def _site_summary(
    cells: CellSites | None, book: StatusBook, box: BBox, when: datetime
) -> dict[str, Any] | None:
    """Cells in the box by state as of a time; None without cells or past SUMMARY_LIMIT."""
    if cells is None:
        return None
    selection = cells.index.select(bbox_geometry(box))
    if selection.count() > SUMMARY_LIMIT:
        return None
    states = book.near(box).states(cells, selection.indices(), when)
    counts = np.bincount(states, minlength=3)
    return {
        "total": int(selection.count()),
        "up": int(counts[0]),
        "degraded": int(counts[1]),
        "down": int(counts[2]),
    }
