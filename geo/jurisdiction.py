"""Where an administration may speak: its territory plus a margin of the sea around it.

The security model holds an administration to alerts and outage reports about its own
territory, as IPAWS holds an alerting authority to its counties: the land of the Member State
and of the territories it administers (Natural Earth admin-0 with the reference tables), widened
by a margin over the sea, where cyclones, storm surges and tsunamis are legitimately warned of
before they reach the coast. Over another country's land the margin does not apply: only a
narrow border tolerance, for areas drawn on a map coarser (or finer) than Natural Earth's.

The rule is "every part inside": an area that reaches beyond territory + margin anywhere is
outside. "Wholly outside" would let an alert over the capital of a neighbour pass as soon as
its polygon also touches the poster's own border; the margin and the border tolerance already
absorb honest imprecision, so any remaining part outside is about someone else's territory.

Distances are approximate and never stricter than asked: the margin is drawn in degrees of a
local equirectangular projection scaled at the territory's most poleward latitude, so east and
west it is at least the margin in km everywhere (more nearer the equator), north and south it
is the margin.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.gazetteer import Countries, default_countries
from geo.reference import ReferenceTables

KM_PER_DEGREE = 111.32
# Over other countries' land an area may reach this far past the border (km): the width of
# the difference between a hand-drawn warning polygon and Natural Earth's 1:10m border.
BORDER_TOLERANCE_KM = 25.0
# Territories are simplified by this much (degrees) before the margin is drawn: far
# below the margin and the tolerance (~5 km), and it keeps the one-off geometry work short.
_SIMPLIFY_DEG = 0.05
# Beyond this latitude a degree of longitude shrinks too fast for one scale: clamp.
_MAX_SCALE_LATITUDE = 75.0


def territory_of(
    country: str, reference: ReferenceTables, countries: Countries | None = None
) -> tuple[BaseGeometry, ...]:
    """The land of a Member State and of the territories it administers (Natural Earth)."""
    countries = countries or default_countries()
    return tuple(
        geometry
        for geometry, iso3, adm0 in zip(countries.geometries, countries.iso3, countries.adm0_a3, strict=True)
        if (iso3 or adm0) == country or reference.member_state_of(iso3 or adm0) == country
    )


@dataclass(slots=True, frozen=True)
class Jurisdiction:
    """The region one administration may speak about; `allowed` is None when its territory
    is not known (no land in the gazetteer), in which case nothing can be judged outside."""

    country: str
    margin_km: float
    allowed: BaseGeometry | None

    def outside(self, geometry: BaseGeometry) -> bool:
        """Whether any part of a lon/lat geometry lies beyond territory + margin."""
        if self.allowed is None or geometry.is_empty:
            return False
        return not bool(shapely.covered_by(geometry, self.allowed))


class Jurisdictions:
    """The jurisdiction of each administration, built once per country (thread-safe)."""

    def __init__(
        self,
        reference: ReferenceTables,
        *,
        margin_km: float,
        border_km: float = BORDER_TOLERANCE_KM,
        countries: Countries | None = None,
    ) -> None:
        self.reference = reference
        self.margin_km = margin_km
        self.border_km = border_km
        self._countries = countries
        self._built: dict[str, Jurisdiction] = {}
        self._lock = threading.Lock()

    def ready(self, country: str) -> bool:
        """Whether the jurisdiction of `country` is built (asking `of` then costs nothing)."""
        return country in self._built

    def of(self, country: str) -> Jurisdiction:
        """The jurisdiction of the administration of `country` (ISO3)."""
        found = self._built.get(country)
        if found is None:
            with self._lock:
                found = self._built.get(country)
                if found is None:
                    found = self._built[country] = self._build(country)
        return found

    def _build(self, country: str) -> Jurisdiction:
        countries = self._countries or default_countries()
        own = territory_of(country, self.reference, countries)
        if not own:
            return Jurisdiction(country, self.margin_km, None)
        # Part by part: one buffer of a many-island multipolygon costs far more than its parts'.
        parts = shapely.get_parts(shapely.simplify(np.asarray(own, dtype=object), _SIMPLIFY_DEG))
        widened = shapely.union_all(_buffer_km(parts, self.margin_km))
        near_border = shapely.union_all(_buffer_km(parts, self.border_km))
        own_ids = {id(g) for g in own}
        foreign = [
            i
            for i in countries.tree.query(widened, predicate="intersects").tolist()
            if id(countries.geometries[i]) not in own_ids
        ]
        allowed = widened
        if foreign:
            near = shapely.intersection(
                shapely.simplify(countries.geometries[foreign], _SIMPLIFY_DEG), widened
            )
            others = shapely.union_all(near)
            allowed = shapely.difference(widened, shapely.difference(others, near_border))
        allowed = shapely.make_valid(allowed)
        shapely.prepare(allowed)
        return Jurisdiction(country, self.margin_km, allowed)


def _buffer_km(geometry: Any, km: float) -> Any:
    """Geometries (one or an array) widened by at least `km` in every direction (see the
    module's note); the scale is that of the most poleward latitude of them all."""
    if km <= 0:
        return geometry
    bounds = shapely.total_bounds(geometry)
    poleward = min(max(abs(bounds[1]), abs(bounds[3])), _MAX_SCALE_LATITUDE)
    scale = math.cos(math.radians(poleward))
    squeezed = shapely.transform(geometry, lambda xy: xy * np.array([scale, 1.0]))
    widened = shapely.buffer(squeezed, km / KM_PER_DEGREE, quad_segs=4)
    return shapely.transform(widened, lambda xy: xy / np.array([scale, 1.0]))


def outside_areas(jurisdiction: Jurisdiction, areas: Iterable[tuple[str, BaseGeometry]]) -> list[str]:
    """The paths of the areas (path, geometry) that reach beyond the jurisdiction."""
    return [path for path, geometry in areas if jurisdiction.outside(geometry)]
