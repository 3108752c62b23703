"""The connectivity layer: columnar point tables with a sorted point index, parsed from operator files.

Parsing is pure (bytes in, tables out); `service.layer_store` reads and writes the files.
"""

from geo.layers.cables import LandingPoint, LandingPoints, parse_landing_points
from geo.layers.cells import RADIOS, CellSites, parse_opencellid
from geo.layers.connectivity import ConnectivityLayer
from geo.layers.index import PointIndex, Selection, polygon_parts
from geo.layers.ookla import Performance, PerformanceTiles, parse_ookla, period_from_name
from geo.layers.points import LayerFormatError, PointLayer
from geo.layers.population import PopulationGrid, parse_population_csv, population_from_h3
from geo.layers.status import NetworkStatus, SiteKey, SiteState, StatusReport

__all__ = [
    "RADIOS",
    "CellSites",
    "ConnectivityLayer",
    "LandingPoint",
    "LandingPoints",
    "LayerFormatError",
    "NetworkStatus",
    "Performance",
    "PerformanceTiles",
    "PointIndex",
    "PointLayer",
    "PopulationGrid",
    "Selection",
    "SiteKey",
    "SiteState",
    "StatusReport",
    "parse_landing_points",
    "parse_ookla",
    "parse_opencellid",
    "parse_population_csv",
    "period_from_name",
    "polygon_parts",
    "population_from_h3",
]
