"""What the map gets of a layer at a zoom level: points close in, a grid further out.

A web map at zoom z is 512 * 2**z pixels around the world (MapLibre's tile size), so a grid
of `CELL_PIXELS` pixels is 360 * CELL_PIXELS / (512 * 2**z) degrees wide. Sizes are that
divided by powers of two and the box is snapped outward to multiples of the size: every view at
one zoom shares the same cells, so a panned view asks for cells already drawn and two clients
get byte-identical answers (one ETag).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.bbox import BBox

MAX_ZOOM = 22
# A grid cell is about this many pixels on screen: big enough to read, small enough to place.
CELL_PIXELS = 32
# From this zoom a layer comes as its points (or Ookla tiles) when there are at most `limit`
# in the box: below it the points would merge into a blur the grid shows better.
POINTS_ZOOM = {"opencellid": 9.0, "ookla": 10.0, "cables": 0.0, "population": 8.0}


@dataclass(frozen=True, slots=True)
class ZoomGrid:
    """A grid for a zoom: its cell size in degrees and the box snapped outward to it."""

    size: float
    box: BBox


def grid_for_zoom(zoom: float, box: BBox, max_cells: int) -> ZoomGrid:
    """The grid of about CELL_PIXELS pixels at `zoom` over `box`, coarsened (by powers of two)
    until it has at most `max_cells` cells: a box far larger than the view still gets an answer."""
    size = 360.0 * CELL_PIXELS / 512.0 / 2.0 ** math.floor(zoom)
    while True:
        snapped = snap(box, size)
        if cells_over(snapped, size) <= max_cells or size >= 90.0:
            return ZoomGrid(size, snapped)
        size *= 2.0


def snap(box: BBox, size: float) -> BBox:
    """The box grown to multiples of `size` (across the antimeridian too: west > east stays)."""
    west, south, east, north = box
    if west <= east and east - west >= 360.0 - size:
        west, east = -180.0, 180.0
    else:
        west = max(-180.0, math.floor((west + 180.0) / size) * size - 180.0)
        east = min(180.0, math.ceil((east + 180.0) / size) * size - 180.0)
    south = max(-90.0, math.floor((south + 90.0) / size) * size - 90.0)
    north = min(90.0, math.ceil((north + 90.0) / size) * size - 90.0)
    return west, south, east, north


def cells_over(box: BBox, size: float) -> int:
    """How many grid cells of `size` degrees cover the box."""
    west, south, east, north = box
    width = east - west if west <= east else 360.0 - (west - east)
    return max(1, math.ceil(width / size - 1e-9)) * max(1, math.ceil((north - south) / size - 1e-9))
