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


_NAMES = ("west", "south", "east", "north")


def parse_bbox(text: str, *, param: str = "bbox") -> BBox:
    """A bbox query parameter; `Invalid` naming the rule and what is wrong when it is not one."""
    where = f"?{param}"
    parts = text.split(",")
    shape = "bbox is four numbers west,south,east,north in degrees (RFC 7946 §5)"
    if len(parts) != 4:
        raise Invalid.one(RULE_FORMAT, f"{shape}; got {len(parts)} value(s)", where)
    values: list[float] = []
    for name, part in zip(_NAMES, parts, strict=True):
        try:
            values.append(float(part))
        except ValueError:
            raise Invalid.one(RULE_FORMAT, f"{shape}; {name} {part[:40]!r} is not a number", where) from None
    west, south, east, north = values
    for name, value in zip(_NAMES, values, strict=True):
        if not math.isfinite(value):
            raise Invalid.one(RULE_RANGE, f"bbox {name} must be a finite number, got {value}", where)
    for name, value in zip(_NAMES, values, strict=True):
        bound = 90 if name in ("south", "north") else 180
        if not -bound <= value <= bound:
            kind = "a latitude" if bound == 90 else "a longitude"
            raise Invalid.one(
                RULE_RANGE,
                f"bbox {name} {value:g} is out of range: {kind} within ±{bound} "
                "(order west,south,east,north; lat,lon order is a common mistake)",
                where,
            )
    if south > north:
        raise Invalid.one(RULE_RANGE, f"bbox south {south:g} is north of its north {north:g}", where)
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
