"""A point index: points sorted by (latitude row, longitude), so an area is a few slices.

An area query cuts the slices of the bounding box, and for a large area rasterises the edges
row by row: points beside an edge piece are tested with `shapely.contains_xy`; points in the
stretches between edge pieces are wholly inside or wholly outside, decided by the parity of the
edges crossing the row's mid-line to their left (the ray-crossing rule GEOS applies too).

Every step is one numpy call over all edges, pieces or stretches of a polygon at once: an area
costs a fixed few dozen calls, whatever its size, plus one point test per point near an edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# Latitude rows per degree: 1/128° is ~870 m. Finer rows mean fewer points beside the edges
# but more rows to rasterise; 128 is the better trade on OpenCelliD densities.
ROWS_PER_DEGREE = 128

# Key of a point: row * _STRIDE + (lon + _OFFSET). lon + _OFFSET stays well inside (0, _STRIDE),
# slack included, so a key's row is floor(key / _STRIDE); at up to 1.2e7 a float64 key still
# resolves 2e-9° (0.2 mm) of longitude.
_STRIDE = 512.0
_OFFSET = 256.0

# Areas reaching beyond this longitude would leak into the next row's keys; they are answered
# by testing every point of their rows (CAP areas never get there: WGS 84 stops at ±180).
_KEY_LON_LIMIT = 250.0

# Slack in degrees around every edge piece: far above the key and arithmetic rounding (~2e-9°)
# and far below anything on the ground (1 cm). A stretch of a row that no edge piece comes
# within this slack of is wholly inside or wholly outside the polygon.
_SLACK = 1e-7

# Below this many points in the bounding box, testing them all beats rasterising the edges.
DIRECT_LIMIT = 1500

# Up to this many rows the bounding box is cut row by row to count the points in it; a taller
# area is rasterised without counting (the count costs two searches per row).
BOX_ROWS = 16

_EMPTY = np.empty(0, dtype=np.int64)


def index_keys(
    lon: np.ndarray, lat: np.ndarray, rows_per_degree: int = ROWS_PER_DEGREE
) -> np.ndarray:
    """The sort key (float64) of each WGS 84 point: its latitude row, then its longitude."""
    row = np.floor((np.asarray(lat, dtype=np.float64) + 90.0) * rows_per_degree)
    np.clip(row, 0, 180 * rows_per_degree - 1, out=row)  # latitude 90 joins the top row
    return row * _STRIDE + (np.asarray(lon, dtype=np.float64) + _OFFSET)


def index_order(
    lon: np.ndarray, lat: np.ndarray, rows_per_degree: int = ROWS_PER_DEGREE
) -> np.ndarray:
    """The permutation that puts points in index order."""
    return np.argsort(index_keys(lon, lat, rows_per_degree))


def prefix_sum(values: np.ndarray, dtype: type | np.dtype | None = None) -> np.ndarray:
    """Cumulative sums with a leading zero: the sum over [a, b) is p[b] - p[a]."""
    out = np.empty(len(values) + 1, dtype=dtype or np.asarray(values).dtype)
    out[0] = 0
    np.cumsum(values, out=out[1:])
    return out


@dataclass(frozen=True, slots=True)
class Selection:
    """The points of an index inside an area: whole slices [starts, ends) plus single hits."""

    starts: np.ndarray
    ends: np.ndarray
    hits: np.ndarray

    def count(self) -> int:
        """How many points are inside."""
        return int(self.ends.sum() - self.starts.sum()) + len(self.hits)

    def sum(self, values: np.ndarray, prefix: np.ndarray) -> float | int:
        """Sum of a column over the selection; `prefix` is `prefix_sum(values)`."""
        ranged = prefix.take(self.ends).sum() - prefix.take(self.starts).sum()
        return (ranged + values.take(self.hits).sum()).item()

    def indices(self) -> np.ndarray:
        """Positions of every selected point, ascending."""
        return np.sort(np.concatenate([_expand(self.starts, self.ends), self.hits]))

    @staticmethod
    def empty() -> Selection:
        """A selection of nothing."""
        return Selection(_EMPTY, _EMPTY, _EMPTY)


class PointIndex:
    """Points in index order; `select(area)` cuts slices and tests only points near edges."""

    def __init__(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        *,
        keys: np.ndarray | None = None,
        rows_per_degree: int = ROWS_PER_DEGREE,
        direct_limit: int = DIRECT_LIMIT,
    ) -> None:
        self.lon = np.ascontiguousarray(lon, dtype=np.float64)
        self.lat = np.ascontiguousarray(lat, dtype=np.float64)
        if self.lon.shape != self.lat.shape or self.lon.ndim != 1:
            raise ValueError("lon and lat must be 1-D arrays of the same length")
        self.rows_per_degree = rows_per_degree
        self.direct_limit = direct_limit
        # `keys`, when given, must be index_keys(lon, lat) (a caller that had to compute them).
        self.keys = index_keys(self.lon, self.lat, rows_per_degree) if keys is None else keys
        if len(self.keys) > 1 and bool(np.any(self.keys[1:] < self.keys[:-1])):
            raise ValueError("points must be in index order (apply index_order first)")
        # Search needles of a bounding box, before adding the box's own offsets: a row's
        # west and east ends are key 0 and key 1 of the row.
        self._box_ends = np.array([0.0, 1.0])

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, area: BaseGeometry | Sequence[shapely.Polygon]) -> Selection:
        """Points strictly inside an area (as `shapely.contains_xy`): a geometry or its parts.

        Pass `polygon_parts(geometry)` when querying several indexes with one area, so the
        parts are found and prepared once.
        """
        parts = polygon_parts(area) if isinstance(area, BaseGeometry) else area
        found = [f for f in (self._select_polygon(part) for part in parts) if f is not None]
        if not found:
            return Selection.empty()
        if len(found) == 1:
            return found[0]
        return Selection(
            np.concatenate([f.starts for f in found]),
            np.concatenate([f.ends for f in found]),
            np.concatenate([f.hits for f in found]),
        )

    def _select_polygon(self, poly: shapely.Polygon) -> Selection | None:
        rpd = self.rows_per_degree
        minx, miny, maxx, maxy = poly.bounds
        if not math.isfinite(minx + miny + maxx + maxy):
            return None  # not a WGS 84 area (NaN or infinite coordinates)
        top = 180 * rpd - 1
        # Rows within the slack of the area; `_edge_pieces` clips every edge's rows to these.
        r0 = min(max(int((miny + (90.0 - _SLACK)) * rpd), 0), top)
        r1 = min(max(int((maxy + (90.0 + _SLACK)) * rpd), 0), top)
        keyed = max(-minx, maxx) < _KEY_LON_LIMIT
        if keyed and r1 - r0 < BOX_ROWS:
            # The box's west and east ends in each row: (row, end) -> row * _STRIDE + offset.
            west = _OFFSET + minx - _SLACK
            width = maxx - minx + 2 * _SLACK
            rows = np.arange(r0 * _STRIDE, (r1 + 0.5) * _STRIDE, _STRIDE)
            box = (rows[:, None] + (self._box_ends * width + west)).ravel()
            cut = self.keys.searchsorted(box)
            starts, ends = cut[0::2], cut[1::2]
            inside_box = int(ends.sum() - starts.sum())
            if inside_box == 0:
                return None
            if inside_box <= self.direct_limit:
                return _test(poly, self.lon, self.lat, starts, ends, _EMPTY, _EMPTY)
            lo, hi = int(cut[0]), int(cut[-1])
        else:
            lo, hi = (int(c) for c in self.keys.searchsorted([r0 * _STRIDE, (r1 + 1) * _STRIDE]))
            if lo == hi:
                return None
            if not keyed or hi - lo <= self.direct_limit:
                return _test(poly, self.lon, self.lat, np.array([lo]), np.array([hi]), _EMPTY,
                             _EMPTY)
        return self._rasterised(poly, lo, hi, r0, r1)

    def _rasterised(self, poly: shapely.Polygon, lo: int, hi: int, r0: int, r1: int) -> Selection:
        """Points among positions [lo, hi) inside the polygon: stretches beside edge pieces are
        tested point by point, the stretches between them are taken or left whole."""
        klo, khi, crossing = _edge_pieces(poly, self.rows_per_degree, r0, r1)
        # Merge overlapping pieces per row: rows are _STRIDE apart in key space, so one sort
        # and one running maximum do every row at once.
        order = klo.argsort()
        klo = klo.take(order)
        reach = np.maximum.accumulate(khi.take(order))
        # Piece `ends[g]` is the last of merged group g; group g + 1 starts with the next one.
        ends = (klo[1:] > reach[:-1]).nonzero()[0]
        bounds = np.empty(2 * len(ends) + 2)
        bounds[0] = klo[0]
        bounds[1:-1:2] = reach.take(ends)
        bounds[2:-1:2] = klo.take(ends + 1)
        bounds[-1] = reach[-1]
        cut = self.keys[lo:hi].searchsorted(bounds)
        cut += lo
        # Between two merged groups no edge passes: the stretch is inside when an odd number of
        # edges crosses the row's mid-line to its left. Each row crosses a ring an even number
        # of times, so the running count over all rows has the parity of the row's own count.
        odd = np.logical_xor.accumulate(crossing.take(order)).take(ends)
        gaps = cut[1:-1].reshape(-1, 2)[odd]
        return _test(poly, self.lon, self.lat, cut[0::2], cut[1::2], gaps[:, 0], gaps[:, 1])


def polygon_parts(geometry: BaseGeometry) -> list[shapely.Polygon]:
    """The non-empty polygons of a geometry, made valid first, each prepared for point tests."""
    if geometry is None or geometry.is_empty:
        return []
    if isinstance(geometry, shapely.Polygon):
        shapely.prepare(geometry)
        return [geometry]
    # Parts that overlap would be counted twice, so a multi-part geometry must be valid. A
    # single polygon needs no check: point tests and the rasteriser both go by ring crossings.
    if shapely.get_num_geometries(geometry) > 1 and not shapely.is_valid(geometry):
        geometry = shapely.make_valid(geometry)
    parts = [
        p for p in shapely.get_parts(geometry)
        if isinstance(p, shapely.Polygon | shapely.MultiPolygon | shapely.GeometryCollection)
    ]
    out: list[shapely.Polygon] = []
    for part in parts:
        if isinstance(part, shapely.Polygon):
            if not part.is_empty:
                out.append(part)
        else:
            out.extend(polygon_parts(part))
    for part in out:
        shapely.prepare(part)
    return out


def _test(
    poly: shapely.Polygon,
    lon: np.ndarray,
    lat: np.ndarray,
    near_starts: np.ndarray,
    near_ends: np.ndarray,
    whole_starts: np.ndarray,
    whole_ends: np.ndarray,
) -> Selection:
    """The selection of whole stretches plus the points of the near stretches that
    `contains_xy` finds inside (the polygon is prepared, so the test is indexed)."""
    candidates = _expand(near_starts, near_ends)
    inside = shapely.contains_xy(poly, lon.take(candidates), lat.take(candidates))
    return Selection(whole_starts, whole_ends, candidates[inside])


def _expand(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All positions of the slices [starts, ends), concatenated, without a Python loop."""
    lengths = ends - starts
    offsets = lengths.cumsum()
    total = int(offsets[-1]) if len(offsets) else 0
    if total == 0:
        return _EMPTY
    offsets -= lengths
    return (starts - offsets).repeat(lengths) + np.arange(total, dtype=np.int64)


@cache
def _row_reach(rpd: int) -> np.ndarray:
    """What turns an edge's (low, high) ends, as `_edge_pieces` measures them, into its first
    and last row's key before scaling: mid-line offset, 90° and the slack, as a column."""
    mid = 0.5 / rpd - 90.0
    return np.array([[mid + 90.0 - _SLACK], [mid + 90.0 + _SLACK]])


def _edge_pieces(
    poly: shapely.Polygon, rpd: int, r0: int, r1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each ring edge cut into latitude rows r0..r1: the key range of each piece (its row and
    the longitudes the edge spans there, widened by the slack), and whether the edge crosses
    the row's mid-line (lower end on or below it, upper end above: each crossing once)."""
    if shapely.get_num_interior_rings(poly):
        coords, ring = shapely.get_coordinates(shapely.get_rings(poly), return_index=True)
        joined = ring[1:] == ring[:-1]
        start, end = coords[:-1][joined], coords[1:][joined]
    else:
        coords = shapely.get_coordinates(poly)
        start, end = coords[:-1], coords[1:]
    x0, y0, x1, y1 = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    # A row's mid-line is at row / rpd + mid; its band, widened by the slack, reaches `half`
    # either side. Everything per edge goes in one table, so one `take` serves every piece.
    mid, half = 0.5 / rpd - 90.0, 0.5 / rpd + _SLACK
    table = np.empty((8, len(x0)))
    below, above, inv_dy, dx, west, low, high, first_row = table
    np.subtract(mid - half, y0, out=below)
    np.subtract(mid + half, y0, out=above)
    dy = np.subtract(y1, y0, out=inv_dy)
    # An edge within 1e-12° of level is taken as flat: its pieces span the whole edge (the
    # band reaches from -inf to inf along it), which covers the true pieces.
    flat = np.abs(dy) < 1e-12
    np.copyto(below, -np.inf, where=flat)
    np.copyto(above, np.inf, where=flat)
    dy += flat
    np.divide(1.0, dy, out=inv_dy)
    np.subtract(x1, x0, out=dx)
    np.add(x0, _OFFSET - _SLACK, out=west)
    # Ends measured from the mid-line offset: a piece crosses its row's mid-line when
    # low <= row / rpd < high, the same comparison for every edge that meets at a vertex.
    np.minimum(y0, y1, out=low)
    low -= mid
    np.maximum(y0, y1, out=high)
    high -= mid
    # First and last row within the slack of each edge, clipped to the area's rows.
    rows = table[5:7] + _row_reach(rpd)
    rows *= rpd
    np.maximum(rows, r0, out=rows)
    np.minimum(rows, r1, out=rows)
    first, last = rows.astype(np.int64)
    spans = last - first
    spans += 1
    ends = spans.cumsum()
    # Piece i of all pieces lies in row first_row[edge of i] + i.
    np.subtract(first + spans, ends, out=first_row)
    per = table.take(np.arange(len(x0)).repeat(spans), axis=1)
    row = per[7] + np.arange(len(per[7]))
    height = row * (1.0 / rpd)
    crossing = (per[5] <= height) & (height < per[6])
    # Fraction along the edge where it enters and leaves the row's band.
    along = per[0:2] + height
    along *= per[2]
    np.maximum(along, 0.0, out=along)
    np.minimum(along, 1.0, out=along)
    along *= per[3]
    row *= _STRIDE
    row += per[4]
    along += row
    klo = np.minimum(along[0], along[1])
    khi = np.maximum(along[0], along[1])
    khi += 2 * _SLACK
    return klo, khi, crossing
