"""The connectivity layer: cell sites, measured performance per period, landings, population."""

from __future__ import annotations

from dataclasses import dataclass, field

from geo.layers.cables import LandingPoints
from geo.layers.cells import CellSites
from geo.layers.ookla import PerformanceTiles
from geo.layers.population import PopulationGrid


@dataclass(slots=True)
class ConnectivityLayer:
    """Everything an impact assessment counts; any part may be missing (not imported)."""

    cells: CellSites | None = None
    performance: dict[str, PerformanceTiles] = field(default_factory=dict)
    landings: LandingPoints | None = None
    population: PopulationGrid | None = None

    @property
    def periods(self) -> list[str]:
        """Measurement periods held, oldest first ("2023Q1" sorts before "2023Q2")."""
        return sorted(self.performance)
