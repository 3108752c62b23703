"""CAP's text forms of polygons and circles, as feeds and CAP-JSON repeat them."""

from __future__ import annotations

import math

from cap.model import Circle, LatLon
from cap.parsing import pair_values


def _pair(token: str) -> LatLon | None:
    parts = token.split(",")
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return (lat, lon)


def parse_polygon(text: str) -> tuple[LatLon, ...] | None:
    """A CAP polygon ("lat,lon lat,lon ...", CAP 1.2 §3.2.4: at least four pairs, first equals
    last), or None when the text is not one."""
    values = pair_values(text)  # the same reading of the pair list as <polygon> in XML
    if values is None:
        return None
    lats, lons = values[0::2], values[1::2]
    if len(lats) < 4 or lats[0] != lats[-1] or lons[0] != lons[-1]:
        return None
    if not all(-90.0 <= lat <= 90.0 for lat in lats) or not all(-180.0 <= lon <= 180.0 for lon in lons):
        return None
    return tuple(zip(lats, lons, strict=True))


def parse_circle(text: str) -> Circle | None:
    """A CAP circle ("lat,lon radius_km", CAP 1.2 §3.2.4), or None when the text is not one."""
    tokens = text.split()
    if len(tokens) != 2:
        return None
    centre = _pair(tokens[0])
    try:
        radius = float(tokens[1])
    except ValueError:
        return None
    if centre is None or not math.isfinite(radius) or radius < 0:
        return None
    return Circle(lat=centre[0], lon=centre[1], radius_km=radius)
