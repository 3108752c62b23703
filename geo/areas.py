"""CAP areas to geometry: polygons, geodesic circles and geocodes in (lon, lat), never world-wrapping.

Public API (stable; `geo.impact` and `service` call it):

- `area_geometry(source, *, gazetteer=None, path=None) -> AreaGeometry` for an `Alert`, `Info`,
  `Area` or a sequence of areas. It never raises on bad coordinates: what cannot be used is left
  out and reported as a `GeoFinding` (a `cap.Finding` with `value_name`/`value` for geocodes).
- `AreaGeometry`: `geometry` (union of every area and shape, shapely 2, lon/lat, split at the
  antimeridian), `areas` (one `AreaShape` per CAP <area>, with altitude and ceiling),
  `findings`, `bbox` (RFC 7946 §5: west > east when it crosses the antimeridian), `to_geojson()`.
- `circle_geometry(lat, lon, radius_km)`: one geodesic circle; `geometry_to_geojson(geometry)`:
  RFC 7946 geometry (right-hand rule); `bbox_of(geometry)`: antimeridian-aware bounding box.
- `GeocodeResolver`: anything with `resolve(value_name, value) -> geometry | None`;
  `geo.gazetteer.Gazetteer` is one, and the packaged default is used when none is given.

Finding rule ids: geo.polygon.out-of-range, geo.polygon.too-few-points, geo.polygon.unclosed,
geo.polygon.repaired, geo.polygon.degenerate, geo.circle.out-of-range, geo.circle.invalid-radius,
geo.circle.covers-earth, geo.geocode.unresolved, geo.area.empty.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from cap import model as cap_model
from cap.errors import Finding
from cap.model import Alert, Area, Circle, Info, LatLon
from geo.gazetteer import default_gazetteer
from geo.geodesic import GEOD

# 128 vertices: an inscribed 128-gon loses 0.04% of the circle's area, far inside the 0.5% budget.
CIRCLE_VERTICES = 128
# The longest geodesic on WGS 84 (pole to pole); a larger radius covers the whole Earth.
LONGEST_GEODESIC_KM = 20003.93
WORLD = shapely.box(-180.0, -90.0, 180.0, 90.0)
EMPTY = Polygon()
FOLD_GRID = 1e-9
# Rings up to this many points are unwrapped in plain Python, longer ones with numpy.
SMALL_RING = 256

BBox = tuple[float, float, float, float]


@dataclass(slots=True, frozen=True)
class GeoFinding(Finding):
    """A finding about an area; geocode findings also carry the valueName and value."""

    value_name: str | None = None
    value: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The JSON form, with valueName and value when the finding is about a geocode."""
        out = {"rule": self.rule, "message": self.message, "path": self.path}
        if self.value_name is not None:
            out["valueName"] = self.value_name
        if self.value is not None:
            out["value"] = self.value
        return out


class GeocodeResolver(Protocol):
    """Turns a CAP <geocode> (valueName, value) into a geometry in lon/lat, or None."""

    def resolve(self, value_name: str, value: str) -> BaseGeometry | None:
        """The geometry the code names, or None when it is not known."""
        ...


@dataclass(slots=True, frozen=True)
class AreaShape:
    """One CAP <area> as geometry; altitude and ceiling in feet as CAP gives them (§3.2.4)."""

    area_desc: str
    path: str
    geometry: BaseGeometry
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(slots=True, frozen=True)
class AreaGeometry:
    """The geometry of every area of a message, what each area became, and what was wrong."""

    geometry: BaseGeometry
    areas: tuple[AreaShape, ...]
    findings: tuple[GeoFinding, ...]
    bbox: BBox | None

    @property
    def is_empty(self) -> bool:
        """True when no area produced any geometry."""
        return bool(self.geometry.is_empty)

    def to_geojson(self) -> dict[str, Any]:
        """An RFC 7946 FeatureCollection with one Feature per CAP <area>."""
        features = [
            {
                "type": "Feature",
                "geometry": geometry_to_geojson(shape.geometry),
                "properties": {
                    "areaDesc": shape.area_desc,
                    "path": shape.path,
                    "altitude": shape.altitude,
                    "ceiling": shape.ceiling,
                },
            }
            for shape in self.areas
        ]
        out: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        if self.bbox is not None:
            out["bbox"] = list(self.bbox)
        return out


def area_geometry(
    source: Alert | Info | Area | Sequence[Area],
    *,
    gazetteer: GeocodeResolver | None = None,
    path: str | None = None,
) -> AreaGeometry:
    """The geometry of the areas of an alert, info, area or list of areas, with findings."""
    located = list(_areas_with_paths(source, path))
    if gazetteer is None and any(area.geocodes for area, _ in located):
        gazetteer = default_gazetteer()  # the packaged countries, read once
    findings: list[GeoFinding] = []
    shapes: list[AreaShape] = []
    for area, area_path in located:
        geometry = _area(area, area_path, gazetteer, findings)
        shapes.append(
            AreaShape(
                area_desc=area.area_desc,
                path=area_path,
                geometry=geometry,
                altitude=area.altitude,
                ceiling=area.ceiling,
            )
        )
    union = _union([shape.geometry for shape in shapes])
    return AreaGeometry(geometry=union, areas=tuple(shapes), findings=tuple(findings), bbox=bbox_of(union))


def circle_geometry(lat: float, lon: float, radius_km: float) -> BaseGeometry:
    """A geodesic circle on WGS 84 (a Point for radius 0); ValueError on impossible values."""
    findings: list[GeoFinding] = []
    geometry = _circle(Circle(lat=lat, lon=lon, radius_km=radius_km), "/circle", findings)
    if geometry.is_empty:
        raise ValueError("; ".join(f"{f.rule}: {f.message}" for f in findings))
    return geometry


def geometry_to_geojson(geometry: BaseGeometry) -> dict[str, Any] | None:
    """RFC 7946 geometry: lon,lat, exterior rings counter-clockwise (§3.1.6); None when empty."""
    if geometry.is_empty:
        return None
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    result: dict[str, Any] = json.loads(shapely.to_geojson(oriented))
    return result


def bbox_of(geometry: BaseGeometry) -> BBox | None:
    """(west, south, east, north) of the smallest longitude span; west > east across 180°."""
    if geometry.is_empty:
        return None
    parts = _flat_parts(geometry)
    if len(parts) == 1:
        return parts[0].bounds  # one part: no gap to choose between parts
    bounds = shapely.bounds(np.asarray(parts, dtype=object))
    south, north = float(bounds[:, 1].min()), float(bounds[:, 3].max())
    merged: list[list[float]] = []
    for west, east in sorted(zip(bounds[:, 0].tolist(), bounds[:, 2].tolist(), strict=True)):
        if merged and west <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], east)
        else:
            merged.append([west, east])
    # The box is the complement of the widest empty stretch of longitude; the stretch that
    # wraps through ±180 wins ties so an ordinary box stays ordinary.
    best_gap = merged[0][0] + 360.0 - merged[-1][1]
    box: BBox = (merged[0][0], south, merged[-1][1], north)
    for left, right in itertools.pairwise(merged):
        gap = right[0] - left[1]
        if gap > best_gap:
            best_gap = gap
            box = (right[0], south, left[1], north)
    return box


# --- one CAP <area> ---------------------------------------------------------------------------


def _areas_with_paths(
    source: Alert | Info | Area | Sequence[Area], root: str | None
) -> Iterator[tuple[Area, str]]:
    if isinstance(source, Alert):
        base = root or "/alert"
        for i, info in enumerate(source.infos, 1):
            for j, area in enumerate(info.areas, 1):
                yield area, f"{base}/info[{i}]/area[{j}]"
    elif isinstance(source, Info):
        base = root or "/alert/info"
        for j, area in enumerate(source.areas, 1):
            yield area, f"{base}/area[{j}]"
    elif isinstance(source, Area):
        yield source, root or "/alert/info/area"
    else:
        base = root or "/alert/info"
        for j, area in enumerate(source, 1):
            yield area, f"{base}/area[{j}]"


def _area(
    area: Area, path: str, gazetteer: GeocodeResolver | None, findings: list[GeoFinding]
) -> BaseGeometry:
    pieces: list[BaseGeometry] = []
    for k, pairs in enumerate(area.polygons, 1):
        pieces.append(_polygon(pairs, f"{path}/polygon[{k}]", findings))
    for k, circle in enumerate(area.circles, 1):
        pieces.append(_circle(circle, f"{path}/circle[{k}]", findings))
    for k, geocode in enumerate(area.geocodes, 1):
        resolved = gazetteer.resolve(geocode.value_name, geocode.value) if gazetteer else None
        if resolved is None or resolved.is_empty:
            findings.append(
                GeoFinding(
                    "geo.geocode.unresolved",
                    f"geocode {geocode.value_name}={geocode.value!r} is not in any loaded "
                    "gazetteer; the area is mapped without it",
                    f"{path}/geocode[{k}]",
                    value_name=geocode.value_name,
                    value=geocode.value,
                )
            )
        else:
            pieces.append(resolved)
    geometry = _union(pieces)
    if geometry.is_empty:
        findings.append(
            GeoFinding(
                "geo.area.empty",
                f"area {area.area_desc!r} has no usable polygon, circle or geocode",
                path,
            )
        )
    return geometry


# --- polygons ---------------------------------------------------------------------------------


def _polygon(pairs: Sequence[LatLon], path: str, findings: list[GeoFinding]) -> BaseGeometry:
    # Plain Python up to the ring's construction: a CAP polygon is mostly a handful of pairs,
    # where numpy's per-call overhead was most of the time; each check below is one pass.
    latlon = _wgs84_pairs(pairs)
    if latlon is None:
        # CAP 1.2 §3.2.4: WGS 84 latitude in [-90, 90] and longitude in [-180, 180].
        findings.append(
            GeoFinding(
                "geo.polygon.out-of-range",
                "polygon has a coordinate that is not a WGS 84 latitude,longitude; left out",
                path,
            )
        )
        return EMPTY
    if len(latlon) < 4:
        # CAP 1.2 §3.2.4: a polygon is four or more coordinate pairs.
        findings.append(
            GeoFinding(
                "geo.polygon.too-few-points",
                f"polygon has {len(latlon)} coordinate pairs; CAP requires at least 4",
                path,
            )
        )
    if latlon and latlon[0] != latlon[-1]:
        # CAP 1.2 §3.2.4: the first and last pairs are equal; we close the ring ourselves.
        findings.append(
            GeoFinding(
                "geo.polygon.unclosed",
                "polygon's first and last pairs differ; the ring was closed",
                path,
            )
        )
        latlon.append(latlon[0])
    if not _has_three_distinct(latlon[:-1]):
        findings.append(
            GeoFinding(
                "geo.polygon.degenerate",
                "polygon has fewer than 3 distinct points and encloses no area; left out",
                path,
            )
        )
        return EMPTY
    lats = [lat for lat, _ in latlon]
    lons = [lon for _, lon in latlon]
    pole = 90.0 if math.fsum(lats) >= 0 else -90.0  # a ring round a pole holds the nearer one
    geometry, reason = _ring_geometry(lons, lats, pole)
    if reason is not None:
        findings.append(
            GeoFinding(
                "geo.polygon.repaired",
                f"polygon is not a valid ring ({reason}); repaired with make_valid",
                path,
            )
        )
    if geometry.is_empty or geometry.area == 0:
        findings.append(GeoFinding("geo.polygon.degenerate", "polygon encloses no area; left out", path))
        return EMPTY
    return geometry


def _wgs84_pairs(pairs: Sequence[LatLon]) -> list[tuple[float, float]] | None:
    """The pairs as floats, or None when one is not a WGS 84 latitude,longitude (or not a pair)."""
    if isinstance(pairs, cap_model.Polygon):  # (shapely's Polygon is the other one here)
        # Floats already: the range check is one numpy pass over the buffer (NaN fails it too).
        lat, lon = pairs.array.T
        if bool(np.all((lat >= -90.0) & (lat <= 90.0) & (lon >= -180.0) & (lon <= 180.0))):
            return list(pairs)
        return None
    try:
        latlon = [(float(lat), float(lon)) for lat, lon in pairs]
    except (TypeError, ValueError):
        return None
    # Written so that NaN fails too: every comparison with NaN is false.
    if all(-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0 for lat, lon in latlon):
        return latlon
    return None


def _has_three_distinct(points: Sequence[tuple[float, float]]) -> bool:
    """True when at least three different points are given (fewer enclose no area)."""
    if not points:
        return False
    first = points[0]
    second = next((p for p in points if p != first), None)
    return second is not None and any(p != first and p != second for p in points)


def _ring_geometry(
    lons: Sequence[float], lats: Sequence[float], pole: float
) -> tuple[BaseGeometry, str | None]:
    """A closed ring as valid lon/lat geometry inside [-180, 180], and why it was repaired.

    A step of more than 180° between consecutive longitudes is read as crossing the
    antimeridian (as RFC 7946 §3.1.9 does), so the ring is unwrapped, then cut at ±180°.
    A ring whose unwrapped longitudes end a full turn from where they began goes round a pole:
    it is closed through `pole`.
    """
    unwrapped = _unwrap(lons)
    turns = round(float(unwrapped[-1] - unwrapped[0]) / 360.0)
    if abs(turns) > 1:
        return EMPTY, "ring winds round the pole more than once"
    if turns:
        unwrapped = np.append(unwrapped, [unwrapped[-1], unwrapped[0]])
        lats = np.append(lats, [pole, pole])
    ring = shapely.polygons(np.column_stack([unwrapped, lats]))
    reason = None
    if not ring.is_valid:
        reason = shapely.is_valid_reason(ring)
        # "structure" (GEOS >= 3.10) unions what the ring encloses and stays fast on rings that
        # cross themselves hundreds of times; "linework" can take tens of seconds on such a
        # 600-point ring, and an alert must never stall the service.
        ring = _polygonal(shapely.make_valid(ring, method="structure", keep_collapsed=False))
    return _fold_longitudes(ring), reason


def _unwrap(lons: Sequence[float]) -> Sequence[float]:
    """Longitudes with every step of more than 180° taken the short way round: `np.unwrap`
    with period 360, step for step, in plain Python for the short rings most areas have."""
    if len(lons) > SMALL_RING:
        result: Sequence[float] = np.unwrap(np.asarray(lons, dtype=float), period=360.0)
        return result
    out = [lons[0]]
    correction = 0.0
    for previous, current in itertools.pairwise(lons):
        step = current - previous
        if abs(step) >= 180.0:
            short = (step + 180.0) % 360.0 - 180.0
            if short == -180.0 and step > 0:
                short = 180.0  # half a turn east stays east, as np.unwrap keeps it
            correction += short - step
        out.append(current + correction)
    return out


def _fold_longitudes(geometry: BaseGeometry) -> BaseGeometry:
    """Cut unwrapped geometry at ±180° and shift each piece back into [-180, 180]."""
    west, _, east, _ = geometry.bounds
    if geometry.is_empty or (west >= -180.0 and east <= 180.0):
        return geometry
    pieces = []
    # An unwrapped ring turns at most once, so it spans at most three 360° windows.
    for k in range(math.floor((west + 180.0) / 360.0), math.ceil((east - 180.0) / 360.0) + 1):
        window = shapely.box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        piece = _polygonal(shapely.intersection(geometry, window))
        if not piece.is_empty:
            pieces.append(shapely.transform(piece, lambda xy, k=k: xy - [360.0 * k, 0.0]))
    # Shifting by 360° leaves rounding noise (539.9 - 360 != 179.9); snapping to 1e-9° (0.1 mm)
    # lets the pieces of a ring round a pole meet again along their common edge.
    return _polygonal(shapely.union_all(pieces, grid_size=FOLD_GRID))


# --- circles ----------------------------------------------------------------------------------


def _circle(circle: Circle, path: str, findings: list[GeoFinding]) -> BaseGeometry:
    lat, lon, radius_km = circle.lat, circle.lon, circle.radius_km
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        findings.append(
            GeoFinding(
                "geo.circle.out-of-range",
                f"circle centre {lat},{lon} is not a WGS 84 latitude,longitude; left out",
                path,
            )
        )
        return EMPTY
    if not math.isfinite(radius_km) or radius_km < 0:
        findings.append(
            GeoFinding(
                "geo.circle.invalid-radius",
                f"circle radius {radius_km} km is not a distance; left out",
                path,
            )
        )
        return EMPTY
    if radius_km == 0:
        # CAP 1.2 §3.2.4 allows radius 0 (e.g. an earthquake epicentre): the point itself.
        return Point(lon, lat)
    if radius_km >= LONGEST_GEODESIC_KM:
        findings.append(
            GeoFinding(
                "geo.circle.covers-earth",
                f"circle radius {radius_km} km covers the whole Earth",
                path,
            )
        )
        return WORLD
    n = CIRCLE_VERTICES
    azimuths = np.linspace(0.0, 360.0, n, endpoint=False)
    fwd_lons, fwd_lats, _ = GEOD.fwd(
        np.full(n, lon), np.full(n, lat), azimuths, np.full(n, radius_km * 1000.0)
    )
    ring_lons: list[float] = fwd_lons.tolist()
    ring_lats: list[float] = fwd_lats.tolist()
    ring_lons.append(ring_lons[0])
    ring_lats.append(ring_lats[0])
    to_north_pole = GEOD.inv(lon, lat, lon, 90.0)[2]
    pole = 90.0 if to_north_pole < radius_km * 1000.0 else -90.0
    geometry, _ = _ring_geometry(ring_lons, ring_lats, pole)
    centre = Point(lon, lat)
    if not geometry.intersects(centre):
        # The circle holds both poles: the ring bounds the small region round the antipode.
        geometry = _polygonal(WORLD.difference(geometry))
    return geometry


# --- small geometry helpers -------------------------------------------------------------------


def _flat_parts(geometry: BaseGeometry) -> list[BaseGeometry]:
    """Every non-empty single part (Point, LineString, Polygon) of a geometry."""
    out: list[BaseGeometry] = []
    stack = [geometry]
    while stack:
        current = stack.pop()
        if current.is_empty:
            continue
        if hasattr(current, "geoms"):
            stack.extend(current.geoms)
        else:
            out.append(current)
    return out


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the polygons of a geometry (make_valid and cuts can leave lines and points)."""
    polygons = [p for p in _flat_parts(geometry) if isinstance(p, Polygon)]
    if not polygons:
        return EMPTY
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons)


def _union(pieces: list[BaseGeometry]) -> BaseGeometry:
    """Union of the non-empty pieces (polygons, points); empty when there are none."""
    kept = [p for p in pieces if not p.is_empty]
    if not kept:
        return EMPTY
    if len(kept) == 1:
        return kept[0]
    return shapely.union_all(kept)
