"""Population grids: Kontur H3 hexagons or raster cells, each counted at its centre."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import h3
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from geo.layers.points import LayerFormatError, PointLayer


class PopulationGrid(PointLayer):
    """People per grid cell, placed at the cell centre (column `population`)."""


def population_from_h3(cells: Sequence[str] | np.ndarray, population: np.ndarray) -> PopulationGrid:
    """A grid from H3 cell ids (hex strings, as Kontur publishes them) and their population."""
    cells = [str(c) for c in cells]
    people = np.asarray(population, dtype=np.float64)
    if len(cells) != len(people):
        raise LayerFormatError("population.h3", "one population value per H3 cell is needed")
    lat = np.empty(len(cells))
    lon = np.empty(len(cells))
    # One call per cell is acceptable at import time; queries never touch h3.
    for i, cell in enumerate(cells):
        if not h3.is_valid_cell(cell):
            raise LayerFormatError("population.h3", f"not an H3 cell id: {cell!r}", f"row {i + 1}")
        lat[i], lon[i] = h3.cell_to_latlng(cell)
    return _grid(lon, lat, people)


def parse_population_csv(data: bytes | BinaryIO) -> PopulationGrid:
    """Read a population table: columns `lon,lat,population` (raster cell centres, e.g.
    WorldPop/GHSL exported to XYZ) or `h3,population` (Kontur)."""
    raw = data if isinstance(data, bytes) else data.read()
    try:
        table = pacsv.read_csv(pa.BufferReader(raw))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise LayerFormatError("population.csv", str(exc).splitlines()[0]) from exc
    names = set(table.column_names)
    if "population" not in names:
        raise LayerFormatError("population.header", "no `population` column", "line 1")
    people = _floats(table, "population")
    if "h3" in names:
        return population_from_h3(table["h3"].cast(pa.string()).to_pylist(), people)
    if {"lon", "lat"} <= names:
        return _grid(_floats(table, "lon"), _floats(table, "lat"), people)
    raise LayerFormatError(
        "population.header", "expected columns lon,lat,population or h3,population", "line 1"
    )


def _floats(table: pa.Table, name: str) -> np.ndarray:
    try:
        column = table[name].cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise LayerFormatError("population.value", f"{name} must be numeric: {exc}") from exc
    return column.to_numpy(zero_copy_only=False)


def _grid(lon: np.ndarray, lat: np.ndarray, people: np.ndarray) -> PopulationGrid:
    bad = ~(np.isfinite(people) & (people >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise LayerFormatError("population.value", "population must be a non-negative number", f"row {row}")
    usable = (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    return PopulationGrid(
        {"lon": lon[usable], "lat": lat[usable], "population": people[usable]},
        skipped=int(len(usable) - usable.sum()),
    )
