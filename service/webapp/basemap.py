"""The base map drawn without internet: the service's own country boundaries (Natural Earth
admin-0, the installed package `geo.gazetteer` reads), generalised for the zoom.

A map needs about one vertex per screen pixel. At zoom z a 512-pixel MapLibre tile spans
360 / 2^z degrees, so a pixel is 0.7 / 2^z degrees: the bands below keep the tolerance near
one pixel at their lowest zoom. The countries are simplified as one coverage
(`shapely.coverage_simplify`): neighbours keep one shared border, with no gaps or overlaps
opening between them, which simplifying each country on its own would cause. Coordinates are
rounded to the band's precision (two decimals are 1.1 km, three 110 m).

The two coarse bands hold the whole world (145 KB and 390 KB gzipped); the detailed band
(1.6 MB for the world) is cut to the box a map shows, so no response is one huge GeoJSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.gazetteer import Countries, default_countries
from geo.reference import ReferenceTables


@dataclass(frozen=True, slots=True)
class Band:
    """A range of zooms served from one generalisation."""

    min_zoom: int
    tolerance: float  # degrees
    decimals: int
    world: bool  # False: only the requested box is sent


BANDS: tuple[Band, ...] = (
    Band(min_zoom=0, tolerance=0.2, decimals=2, world=True),
    Band(min_zoom=3, tolerance=0.05, decimals=2, world=True),
    Band(min_zoom=5, tolerance=0.01, decimals=3, world=False),
)
MAX_ZOOM = 24


def band_of(zoom: float) -> Band:
    """The band that serves a zoom level."""
    chosen = BANDS[0]
    for band in BANDS:
        if zoom >= band.min_zoom:
            chosen = band
    return chosen


@dataclass(frozen=True, slots=True)
class CountryShapes:
    """One band's generalised countries, in the gazetteer's order, with a spatial index."""

    geometries: np.ndarray
    tree: shapely.STRtree


@cache
def generalised(band: Band) -> CountryShapes:
    """The packaged countries simplified for a band (computed once per process, ~2 s)."""
    countries = default_countries()
    simplified = shapely.coverage_simplify(
        np.asarray(countries.geometries), band.tolerance, simplify_boundary=True
    )
    rounded = shapely.transform(simplified, lambda xy: np.round(xy, band.decimals))
    return CountryShapes(geometries=rounded, tree=shapely.STRtree(rounded))


def countries_geojson(
    band: Band,
    *,
    box: BaseGeometry | None,
    reference: ReferenceTables,
    countries: Countries | None = None,
) -> bytes:
    """The band's countries as an RFC 7946 FeatureCollection (properties: iso3, iso2, name,
    ITU-D region), cut to `box` (one or, across the antimeridian, two rectangles) when the
    band is not sent whole."""
    countries = countries or default_countries()
    shapes = generalised(band)
    if band.world or box is None:
        indices: Sequence[int] = range(len(shapes.geometries))
        geometries = shapes.geometries
    else:
        indices = sorted({int(i) for i in shapes.tree.query(box, predicate="intersects")})
        geometries = shapes.geometries.copy()
        # Cut to the box: the client asks for a box larger than its view, so the cut edges lie
        # outside what it shows.
        geometries[indices] = shapely.intersection(shapes.geometries[indices], box)
    features: list[dict[str, Any]] = []
    for i in indices:
        geometry = geometries[i]
        if geometry is None or geometry.is_empty:
            continue
        iso3 = countries.iso3[i] or countries.adm0_a3[i]
        features.append(
            {
                "type": "Feature",
                "id": i,
                "geometry": mapping(geometry),
                "properties": {
                    "iso3": iso3,
                    "iso2": countries.iso2[i],
                    "name": countries.names[i],
                    "region": reference.region_of(iso3),
                },
            }
        )
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def country_index(reference: ReferenceTables, countries: Countries | None = None) -> list[dict[str, Any]]:
    """Every country of the base map once: ISO 3166-1 alpha-3 and alpha-2, English name and
    ITU-D region (the browser names countries in its own language from the alpha-2 code)."""
    countries = countries or default_countries()
    seen: dict[str, dict[str, Any]] = {}
    for adm0, iso3, iso2, name in zip(
        countries.adm0_a3, countries.iso3, countries.iso2, countries.names, strict=True
    ):
        code = iso3 or adm0
        # Several features share an alpha-3 code (Australia and its Coral Sea Islands): the
        # feature whose own code it is names it.
        if code in seen and adm0 != code:
            continue
        seen[code] = {"iso3": code, "iso2": iso2, "name": name, "region": reference.region_of(code)}
    return sorted(seen.values(), key=lambda row: row["iso3"])
