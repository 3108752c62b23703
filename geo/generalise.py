"""Geometry generalised for a map at a zoom level: no more vertices and digits than it can show.

A web map (MapLibre: 512-pixel tiles) shows the world 512 * 2^z pixels wide at zoom z, so one
pixel spans 360 / (512 * 2^z) degrees of longitude (less in latitude away from the equator,
never more). Vertices closer than a pixel apart cannot be told apart, nor can digits below a
tenth of one: `generalise` simplifies to a pixel (Douglas-Peucker, topology preserved, so a
polygon stays a valid polygon and no ring collapses) and rounds to the first decimal finer
than a tenth of a pixel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

MAX_ZOOM = 22
# Past this, simplifying changes nothing a CAP polygon holds (a 1 m vertex spacing).
MAX_DECIMALS = 6


def pixel_degrees(zoom: float) -> float:
    """The width of one screen pixel in degrees at a zoom level (512-pixel tiles)."""
    return 360.0 / (512.0 * 2.0 ** max(0.0, min(zoom, MAX_ZOOM)))


def decimals_for(zoom: float) -> int:
    """Decimal places that keep coordinates within a tenth of a pixel at a zoom level."""
    return min(MAX_DECIMALS, max(0, math.ceil(-math.log10(pixel_degrees(zoom) / 10))))


def generalise(geometry: dict[str, Any] | None, zoom: float) -> dict[str, Any] | None:
    """A GeoJSON geometry (lon/lat) simplified to one pixel and rounded for `zoom`; None stays
    None. An area that would vanish (smaller than a pixel) is kept as it is, to a metre: an
    alert's area is never dropped from the map because it is small."""
    if geometry is None:
        return None
    original = shape(geometry)
    simplified = shapely.simplify(original, pixel_degrees(zoom), preserve_topology=True)
    if simplified.is_empty:
        simplified = original
    digits = decimals_for(zoom)
    rounded = shapely.transform(simplified, lambda xy: np.round(xy, digits))
    if original.area > 0 and rounded.area == 0:
        # Rounded to a point: keep enough digits for the area to stay an area a map can draw.
        rounded = shapely.transform(original, lambda xy: np.round(xy, MAX_DECIMALS))
    result: dict[str, Any] = mapping(rounded)
    return result
