"""Impact of an alert area: countries, ITU-D regions, UN groups and the connectivity layer.

Counting rules (documented so figures can be checked by hand):
- A point (cell site, Ookla tile centre, population cell centre, landing point) is in the area
  when it lies strictly inside it, as `shapely.contains_xy` and a geopandas "within" join say.
- Measured performance is Ookla's tests-weighted mean of the tiles whose centre is in the area:
  sum(avg_d_kbps * tests) / sum(tests), likewise upload and latency.
- A site's status is the latest operator report about it as of the given time; a site no
  report covers is up. `share_out` is sites down / sites total.
- A layer that is not loaded is not counted as empty: it is named in `missing_layers`, and
  without cell sites `sites.total` (and `down`, `degraded`) is null, not 0 ("no cell sites
  here" and "cell sites not known" are different answers for a responder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from shapely.geometry.base import BaseGeometry

from geo.gazetteer import countries_intersecting
from geo.layers.cables import LandingPoint
from geo.layers.cells import RADIOS
from geo.layers.connectivity import ConnectivityLayer
from geo.layers.index import polygon_parts
from geo.layers.ookla import Performance
from geo.layers.status import NetworkStatus
from geo.reference import ReferenceTables

GROUPS = ("ldc", "lldc", "sids")
# The parts of the connectivity layer, named as `tampere layer import` and the API name them:
# cell sites (OpenCelliD), measured performance (Ookla), cable landings (TeleGeography cables)
# and population grids.
LAYER_NAMES = ("opencellid", "ookla", "cables", "population")

# Areas assessed together by `connectivity_impacts` (see there).
BATCH_AREAS = 256


class CountryHitLike(Protocol):
    """What a gazetteer says about a country an area touches (see `geo.gazetteer.CountryHit`)."""

    adm0_a3: str
    iso3: str | None


class CountryReference(Protocol):
    """ITU-D region and UN group lookups by country code (see `geo.reference.ReferenceTables`)."""

    def region_of(self, code: str) -> str | None:
        """The ITU-D region of a country or territory."""
        ...

    def groups_of(self, code: str) -> frozenset[str]:
        """Which of "ldc", "lldc", "sids" a country or territory is in."""
        ...


CountryFinder = Callable[[BaseGeometry], Sequence[CountryHitLike]]


@dataclass(frozen=True, slots=True)
class SiteImpact:
    """Cell sites in the area, by radio, and how many are reported down or degraded;
    `counted` False when no cell-site layer was loaded (the counts are then unknown, not 0)."""

    total: int = 0
    by_radio: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RADIOS, 0))
    down: int = 0
    degraded: int = 0
    as_of: datetime | None = None
    counted: bool = True

    @property
    def share_out(self) -> float | None:
        """Sites down / sites total; None when the area has no site."""
        return self.down / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        """JSON form; counts are null (and `by_radio` empty) when the sites were not counted."""
        if not self.counted:
            return {
                "total": None,
                "by_radio": {},
                "down": None,
                "degraded": None,
                "share_out": None,
                "as_of": self.as_of.isoformat() if self.as_of else None,
            }
        share = self.share_out
        return {
            "total": self.total,
            "by_radio": dict(self.by_radio),
            "down": self.down,
            "degraded": self.degraded,
            "share_out": None if share is None else round(share, 6),
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }


@dataclass(frozen=True, slots=True)
class Impact:
    """What an alert area touches: territory, people, networks and their measured state."""

    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sites: SiteImpact = field(default_factory=SiteImpact)
    baseline: Performance | None = None
    latest: Performance | None = None
    population: float | None = None
    landing_points: tuple[LandingPoint, ...] = ()
    layers: tuple[str, ...] = ()

    @property
    def missing_layers(self) -> tuple[str, ...]:
        """The parts of the connectivity layer that were not loaded (LAYER_NAMES order)."""
        return tuple(name for name in LAYER_NAMES if name not in self.layers)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: `countries` (ISO3), `regions` (ITU-D), `sites` {total, by_radio, down,
        degraded, ...}, UN group flags, `performance` {baseline, latest}, `population`,
        `landing_points`, `layers` (the parts of the connectivity layer that were loaded) and
        `missing_layers` (those that were not: what the figures cannot say)."""
        groups = {g: list(self.groups.get(g, ())) for g in GROUPS}
        return {
            "countries": list(self.countries),
            "regions": list(self.regions),
            **{g: bool(groups[g]) for g in GROUPS},
            "groups": groups,
            "sites": self.sites.as_dict(),
            "performance": {
                "baseline": self.baseline.as_dict() if self.baseline else None,
                "latest": self.latest.as_dict() if self.latest else None,
                "download_change_pct": _change(self.baseline, self.latest),
            },
            "population": None if self.population is None else round(self.population),
            "landing_points": [p.as_dict() for p in self.landing_points],
            "layers": list(self.layers),
            "missing_layers": list(self.missing_layers),
        }


def assess(
    geometry: BaseGeometry,
    *,
    layer: ConnectivityLayer,
    status: NetworkStatus | None = None,
    countries: CountryFinder | None = None,
    reference: CountryReference | None = None,
    as_of: datetime | None = None,
    event_time: datetime | None = None,
    periods: tuple[str, str] | None = None,
) -> Impact:
    """Assess an alert area (lon/lat geometry, split at the antimeridian) against the layer.

    `countries` finds the countries the area touches (default: the packaged Natural Earth via
    `geo.gazetteer.countries_intersecting`); `reference` gives regions and UN groups (default:
    `geo.reference.ReferenceTables.load()`). `as_of` is when site status is read (None: every
    report). `periods` is (baseline, latest); by default `compare_periods(..., event_time)`.
    """
    if countries is None:
        countries = countries_intersecting
    if reference is None:
        reference = _default_reference()
    codes = _country_codes(countries(geometry)) if not geometry.is_empty else ()
    regions = sorted({r for r in (reference.region_of(c) for c in codes) if r})
    groups = {g: tuple(c for c in codes if g in reference.groups_of(c)) for g in GROUPS}
    found = connectivity_impact(
        geometry, layer=layer, status=status, as_of=as_of, event_time=event_time, periods=periods
    )
    return Impact(
        countries=codes,
        regions=tuple(regions),
        groups={g: v for g, v in groups.items() if v},
        sites=found.sites,
        baseline=found.baseline,
        latest=found.latest,
        population=found.population,
        landing_points=found.landing_points,
        layers=found.layers,
    )


def connectivity_impact(
    geometry: BaseGeometry,
    *,
    layer: ConnectivityLayer,
    status: NetworkStatus | None = None,
    as_of: datetime | None = None,
    event_time: datetime | None = None,
    periods: tuple[str, str] | None = None,
) -> Impact:
    """The connectivity part of an impact alone (no countries, regions or groups)."""
    return connectivity_impacts(
        [geometry],
        layer=layer,
        statuses=[status],
        as_of=as_of,
        event_times=[event_time],
        periods=periods,
    )[0]


def connectivity_impacts(
    geometries: Sequence[BaseGeometry],
    *,
    layer: ConnectivityLayer,
    statuses: Sequence[NetworkStatus | None] | None = None,
    as_of: datetime | None = None,
    event_times: Sequence[datetime | None] | None = None,
    periods: tuple[str, str] | None = None,
) -> list[Impact]:
    """`connectivity_impact` of many areas in one pass per layer: the points of each layer are
    selected for all areas together (`PointIndex.select_many`), which costs a fraction of one
    call per area when many alerts are re-assessed at once (a single area takes the index's
    one-area path).

    `statuses` and `event_times`, when given, hold one entry per area (its `status` and
    `event_time` for `connectivity_impact`).
    """
    if len(geometries) > BATCH_AREAS:
        # In batches: the working arrays grow with the areas' points and edges, and past a few
        # hundred areas a bigger batch saves no more calls, only adds memory and cache misses.
        return [
            impact
            for at in range(0, len(geometries), BATCH_AREAS)
            for impact in connectivity_impacts(
                geometries[at : at + BATCH_AREAS],
                layer=layer,
                statuses=None if statuses is None else statuses[at : at + BATCH_AREAS],
                as_of=as_of,
                event_times=None if event_times is None else event_times[at : at + BATCH_AREAS],
                periods=periods,
            )
        ]
    parts = [polygon_parts(geometry) for geometry in geometries]
    n = len(parts)
    layers: list[str] = []
    sites = [SiteImpact(as_of=as_of, counted=False)] * n
    if layer.cells is not None:
        layers.append("opencellid")
        cells = layer.cells
        chosen = cells.index.select_many(parts)
        totals = chosen.counts().tolist()
        by_radio = cells.count_codes_many(chosen, "radio", len(RADIOS)).tolist()
        sites = []
        for i in range(n):
            status = statuses[i] if statuses is not None else None
            down = degraded = 0
            if status is not None and status.reports:
                states = status.states(cells, chosen[i].indices(), as_of)
                down, degraded = int((states == 2).sum()), int((states == 1).sum())
            radios = dict(zip(RADIOS, by_radio[i], strict=True))
            sites.append(SiteImpact(totals[i], radios, down, degraded, as_of))
    baseline: list[Performance | None] = [None] * n
    latest: list[Performance | None] = [None] * n
    if layer.performance:
        layers.append("ookla")
        times = event_times if event_times is not None else [None] * n
        pairs = [periods or compare_periods(layer.periods, when) for when in times]
        # Each period's tiles are selected once, for every area that compares against it.
        for period in sorted({p for pair in pairs for p in pair}):
            wanted = [i for i, pair in enumerate(pairs) if period in pair]
            found = _performances(layer, period, [parts[i] for i in wanted])
            for i, performance in zip(wanted, found, strict=True):
                if pairs[i][0] == period:
                    baseline[i] = performance
                if pairs[i][1] == period:
                    latest[i] = performance
    population: list[float | None] = [None] * n
    if layer.population is not None:
        layers.append("population")
        grid = layer.population
        population = grid.sums(grid.index.select_many(parts), "population").astype(float).tolist()
    landings: list[tuple[LandingPoint, ...]] = [()] * n
    if layer.landings is not None:
        layers.append("cables")
        points = layer.landings
        chosen = points.index.select_many(parts)
        landings = [tuple(points.within(chosen[i])) for i in range(n)]
    return [
        Impact(
            sites=sites[i],
            baseline=baseline[i],
            latest=latest[i],
            population=population[i],
            landing_points=landings[i],
            layers=tuple(name for name in LAYER_NAMES if name in layers),
        )
        for i in range(n)
    ]


def compare_periods(periods: Sequence[str], event_time: datetime | None = None) -> tuple[str, str]:
    """(baseline, latest) measurement periods for an event: the last quarter that ended before
    it and the quarter it falls in (else the newest); without a time, the oldest and newest."""
    ordered = sorted(periods)
    if not ordered:
        raise ValueError("no measurement period is loaded")
    if event_time is None:
        return ordered[0], ordered[-1]
    when = event_time if event_time.tzinfo else event_time.replace(tzinfo=UTC)
    before = [p for p in ordered if _quarter_end(p) <= when]
    during = [p for p in ordered if _quarter_start(p) <= when < _quarter_end(p)]
    baseline = before[-1] if before else ordered[0]
    return baseline, during[0] if during else ordered[-1]


def _performances(layer: ConnectivityLayer, period: str, parts: Sequence[Any]) -> list[Performance | None]:
    tiles = layer.performance.get(period)
    if tiles is None:
        return [None] * len(parts)
    chosen = tiles.index.select_many(parts)
    return [tiles.summarise(chosen[i]) for i in range(len(parts))]


def _quarter_start(period: str) -> datetime:
    year, quarter = int(period[:4]), int(period[5])
    return datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=UTC)


def _quarter_end(period: str) -> datetime:
    year, quarter = int(period[:4]), int(period[5])
    return datetime(year + quarter // 4, (3 * quarter) % 12 + 1, 1, tzinfo=UTC)


def _country_codes(hits: Sequence[CountryHitLike]) -> tuple[str, ...]:
    # Features without an ISO 3166 code (e.g. Kosovo, N. Cyprus) keep their ADM0_A3.
    return tuple(sorted({hit.iso3 or hit.adm0_a3 for hit in hits}))


def _change(before: Performance | None, after: Performance | None) -> float | None:
    if not before or not after or not before.download_mbps or after.download_mbps is None:
        return None
    return round(100.0 * (after.download_mbps - before.download_mbps) / before.download_mbps, 2)


@cache
def _default_reference() -> CountryReference:
    return ReferenceTables.load()  # the project's tables, read once
