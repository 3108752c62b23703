"""RFC 7946 GeoJSON geometry as posted in a JSON body, checked rule by rule into shapely.

One reader for every place a body carries a geometry (a network status report's area, an
assistance request's location): Point, Polygon and MultiPolygon, positions [longitude,
latitude]. Every refusal is a `Finding` whose rule is the caller's family plus the fault
(`network.area.unclosed`, `request.location.out-of-range`...) and whose path is the JSON
pointer of the position, ring or member at fault, so a sender can fix the first mistake
without guessing. The work is bounded before any geometry is built: the vertex count is
checked first, then each position.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from cap.errors import Finding

POINT = "Point"
POLYGON = "Polygon"
MULTI_POLYGON = "MultiPolygon"
KINDS = (POINT, POLYGON, MULTI_POLYGON)


def read_geometry(
    value: Any,
    findings: list[Finding],
    *,
    path: str,
    rule: str,
    kinds: Collection[str] = KINDS,
    max_vertices: int,
) -> BaseGeometry | None:
    """The geometry of a JSON-decoded GeoJSON geometry object, or None with findings added.

    `rule` is the family of the rule ids (e.g. "request.location"), `path` the JSON pointer
    of the object; `kinds` the geometry types accepted, `max_vertices` the bound on all
    positions together."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in kinds:
        findings.append(
            Finding(
                f"{rule}.type",
                f"type {kind!r}: give a GeoJSON {' or '.join(kinds)} (RFC 7946 §3.1)",
                path,
            )
        )
        return None
    assert isinstance(value, dict)
    coordinates = value.get("coordinates")
    if kind == POINT:
        position = _position(coordinates, f"{path}/coordinates", rule, findings)
        return None if position is None else Point(position)
    multi = kind == MULTI_POLYGON
    polygons = coordinates if multi else [coordinates]
    if not isinstance(polygons, list) or not polygons or not all(isinstance(p, list) for p in polygons):
        findings.append(
            Finding(
                f"{rule}.coordinates",
                "coordinates must be nested lists of positions",
                f"{path}/coordinates",
            )
        )
        return None
    vertices = sum(len(ring) for p in polygons for ring in p if isinstance(ring, list))
    if vertices > max_vertices:
        findings.append(
            Finding(
                f"{rule}.too-many-vertices",
                f"{vertices} vertices; at most {max_vertices} (simplify the polygon)",
                f"{path}/coordinates",
            )
        )
        return None
    before = len(findings)
    shapes: list[Polygon] = []
    for i, rings in enumerate(polygons):
        base = f"{path}/coordinates/{i}" if multi else f"{path}/coordinates"
        shape = _polygon(rings, base, rule, findings)
        if shape is not None:
            shapes.append(shape)
    if len(findings) > before or not shapes:
        return None
    geometry: BaseGeometry = MultiPolygon(shapes) if multi else shapes[0]
    if not geometry.is_valid:
        # RFC 7946 §3.1.7: the polygons of a MultiPolygon do not overlap.
        findings.append(
            Finding(
                f"{rule}.invalid",
                f"not a valid {kind}: {shapely.is_valid_reason(geometry)}",
                f"{path}/coordinates",
            )
        )
        return None
    return geometry


def _polygon(rings: Any, base: str, rule: str, findings: list[Finding]) -> Polygon | None:
    if not isinstance(rings, list) or not rings:
        findings.append(Finding(f"{rule}.coordinates", "a polygon is a list of linear rings", base))
        return None
    checked: list[list[tuple[float, float]]] = []
    for j, ring in enumerate(rings):
        points = _ring(ring, f"{base}/{j}", rule, findings)
        if points is None:
            return None
        checked.append(points)
    polygon = Polygon(checked[0], checked[1:])
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        findings.append(Finding(f"{rule}.invalid", f"not a valid polygon: {reason}", base))
        return None
    if polygon.area == 0:
        findings.append(Finding(f"{rule}.degenerate", "the polygon encloses no area", base))
        return None
    return polygon


def _ring(ring: Any, place: str, rule: str, findings: list[Finding]) -> list[tuple[float, float]] | None:
    # RFC 7946 §3.1.6: a linear ring has four or more positions, the first equal to the last.
    if not isinstance(ring, list) or len(ring) < 4:
        findings.append(Finding(f"{rule}.ring", "a linear ring is a list of 4 or more positions", place))
        return None
    points: list[tuple[float, float]] = []
    for k, position in enumerate(ring):
        point = _position(position, f"{place}/{k}", rule, findings)
        if point is None:
            return None
        points.append(point)
    if points[0] != points[-1]:
        findings.append(Finding(f"{rule}.unclosed", "the ring's first and last positions differ", place))
        return None
    return points


def _position(position: Any, place: str, rule: str, findings: list[Finding]) -> tuple[float, float] | None:
    # RFC 7946 §3.1.1: [longitude, latitude] and an optional altitude.
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position)
        or not all(math.isfinite(v) for v in position)
    ):
        findings.append(Finding(f"{rule}.position", "a position is [longitude, latitude]", place))
        return None
    lon, lat = float(position[0]), float(position[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        hint = (
            "; it looks like [latitude, longitude]: GeoJSON positions are "
            "[longitude, latitude] (RFC 7946 §3.1.1)"
            if abs(lat) > 90 and abs(lon) <= 90
            else ""
        )
        findings.append(
            Finding(
                f"{rule}.out-of-range",
                f"position [{position[0]}, {position[1]}] is outside longitude ±180, latitude ±90{hint}",
                place,
            )
        )
        return None
    return lon, lat
