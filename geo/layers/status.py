"""Network status: operators' reports that sites or areas are up, degraded or down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.layers.cells import RADIOS, CellSites


class SiteState(StrEnum):
    """What an operator says about a site."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


_CODE = {SiteState.UP: 0, SiteState.DEGRADED: 1, SiteState.DOWN: 2}


@dataclass(frozen=True, slots=True)
class SiteKey:
    """A cell as OpenCelliD identifies it: radio, MCC, MNC, LAC/TAC, cell id."""

    radio: str
    mcc: int
    net: int
    area: int
    cell: int


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One report: at `time`, the named sites and/or every site inside `area` are `state`."""

    time: datetime
    state: SiteState
    area: BaseGeometry | None = None
    sites: tuple[SiteKey, ...] = ()

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("status report time must be timezone-aware")
        if self.area is None and not self.sites:
            raise ValueError("a status report names sites, an area, or both")
        if self.area is not None:
            shapely.prepare(self.area)


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    """Every status report received; the latest report about a site (as of a time) wins.

    A report naming a site outranks an area report of the same instant: it is more specific.
    """

    reports: tuple[StatusReport, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, reports: Iterable[StatusReport]) -> NetworkStatus:
        """Status from reports in any order."""
        return cls(tuple(sorted(reports, key=lambda r: r.time)))

    def states(self, sites: CellSites, positions: np.ndarray, as_of: datetime | None = None) -> np.ndarray:
        """The state code (0 up, 1 degraded, 2 down) of each site at `positions`, as of a time
        (None: every report); a site no report speaks of is up."""
        state = np.zeros(len(positions), dtype=np.uint8)
        stamp = np.full(len(positions), -np.inf)
        if len(positions) == 0:
            return state
        lon, lat = sites["lon"][positions], sites["lat"][positions]
        named: list[tuple[float, int, SiteKey]] = []
        for report in self.reports:
            if as_of is not None and report.time > as_of:
                break
            when = report.time.timestamp()
            if report.area is not None and not report.area.is_empty:
                hit = shapely.contains_xy(report.area, lon, lat)
                state[hit] = _CODE[report.state]
                stamp[hit] = when
            named.extend((when, _CODE[report.state], key) for key in report.sites)
        if named:
            self._apply_named(sites, positions, named, state, stamp)
        return state

    @staticmethod
    def _apply_named(
        sites: CellSites,
        positions: np.ndarray,
        named: list[tuple[float, int, SiteKey]],
        state: np.ndarray,
        stamp: np.ndarray,
    ) -> None:
        # Latest named report per site key (reports are in time order, so later ones overwrite).
        latest: dict[tuple[int, int, int, int, int], tuple[float, int]] = {}
        for when, code, key in named:
            if key.radio in RADIOS:
                latest[(RADIOS.index(key.radio), key.mcc, key.net, key.area, key.cell)] = (when, code)
        if not latest:
            return
        # Narrow by cell id with a vectorised test, then compare whole identities.
        wanted_cells = np.fromiter((k[4] for k in latest), dtype=np.int64, count=len(latest))
        cells = sites["cell"][positions]
        for i in np.flatnonzero(np.isin(cells, wanted_cells)).tolist():
            p = positions[i]
            ident = (
                int(sites["radio"][p]),
                int(sites["mcc"][p]),
                int(sites["net"][p]),
                int(sites["area"][p]),
                int(cells[i]),
            )
            found = latest.get(ident)
            if found is not None and found[0] >= stamp[i]:
                stamp[i], state[i] = found
