"""Bounding boxes (RFC 7946 §5: west,south,east,north; west > east across the antimeridian):
read from a query, tested for overlap in SQL and in Python, drawn as geometry."""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, or_

from service.errors import Invalid

BBox = tuple[float, float, float, float]

RULE_FORMAT = "query.bbox.format"
RULE_RANGE = "query.bbox.range"


def parse_bbox(text: str, *, param: str = "bbox") -> BBox:
    """A bbox query parameter; `Invalid` naming the rule when it is not one."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise Invalid.one(
            RULE_FORMAT, "bbox is four numbers west,south,east,north in degrees (RFC 7946 §5)", f"?{param}"
        ) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise Invalid.one(RULE_RANGE, "bbox values must be finite numbers", f"?{param}")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise Invalid.one(
            RULE_RANGE,
            "bbox is out of range: longitudes within ±180, latitudes within ±90 "
            "(order west,south,east,north; lat,lon order is a common mistake)",
            f"?{param}",
        )
    if south > north:
        raise Invalid.one(RULE_RANGE, "bbox south is north of its north", f"?{param}")
    return west, south, east, north


def _lon_spans(box: BBox) -> list[tuple[float, float]]:
    west, _, east, _ = box
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def boxes_overlap(a: BBox, b: BBox) -> bool:
    """Whether two boxes share a point (edges included), either may cross the antimeridian."""
    if a[1] > b[3] or b[1] > a[3]:
        return False
    return any(w1 <= e2 and w2 <= e1 for w1, e1 in _lon_spans(a) for w2, e2 in _lon_spans(b))


def overlaps_sql(min_lon: Any, min_lat: Any, max_lon: Any, max_lat: Any, box: BBox) -> Any:
    """SQL condition: the stored box in these columns overlaps `box` (both may wrap at 180°)."""
    _, south, _, north = box
    lat_ok = and_(min_lat <= north, max_lat >= south)

    def lon_overlap(w: float, e: float) -> Any:
        plain = and_(min_lon <= max_lon, min_lon <= e, max_lon >= w)
        wrapped = and_(min_lon > max_lon, or_(min_lon <= e, max_lon >= w))
        return or_(plain, wrapped)

    return and_(lat_ok, or_(*(lon_overlap(w, e) for w, e in _lon_spans(box))))


def bbox_geometry(box: BBox) -> BaseGeometry:
    """The box as lon/lat polygons, split in two when it crosses the antimeridian."""
    _, south, _, north = box
    parts = [shapely.box(w, south, e, north) for w, e in _lon_spans(box)]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
