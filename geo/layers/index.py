"""A point index: points sorted by (latitude row, longitude), so an area is a few slices.

An area query cuts the slices of the bounding box, and for a large area rasterises the edges
row by row: points beside an edge piece are tested with `shapely.contains_xy`, points in the
stretches between edge pieces are wholly inside or wholly outside, decided by one test point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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

# Slack in degrees around every edge piece: far above the key and arithmetic rounding (~2e-9°)
# and far below anything on the ground (1 cm). A stretch of a row that no edge piece comes
# within this slack of is wholly inside or wholly outside the polygon.
_SLACK = 1e-7

# Below this many points in the bounding box, testing them all beats rasterising the edges.
DIRECT_LIMIT = 1500

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
        return int((self.ends - self.starts).sum()) + len(self.hits)

    def sum(self, values: np.ndarray, prefix: np.ndarray) -> float | int:
        """Sum of a column over the selection; `prefix` is `prefix_sum(values)`."""
        ranged = (prefix[self.ends] - prefix[self.starts]).sum()
        return (ranged + values[self.hits].sum()).item()

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
        r0 = min(max(int((miny - _SLACK + 90.0) * rpd), 0), top)
        r1 = min(max(int((maxy + _SLACK + 90.0) * rpd), 0), top)
        box = np.empty(2 * (r1 - r0 + 1))
        box[0::2] = np.arange(r0, r1 + 1) * _STRIDE + (_OFFSET + minx - _SLACK)
        box[1::2] = box[0::2] + (maxx - minx + 2 * _SLACK)
        cut = np.searchsorted(self.keys, box)
        inside_box = int((cut[1::2] - cut[0::2]).sum())
        if inside_box == 0:
            return None
        if inside_box > self.direct_limit:
            # Later searches run inside the slice from the box's first key to its last.
            lo = int(cut[0])
            near, whole = self._stretches(poly, self.keys[lo : int(cut[-1])], r0, r1)
            near += lo
            whole += lo
        else:
            near, whole = cut, _EMPTY
        candidates = _expand(near[0::2], near[1::2])
        hits = candidates[shapely.contains_xy(poly, self.lon[candidates], self.lat[candidates])]
        return Selection(whole[0::2], whole[1::2], hits)

    def _stretches(
        self, poly: shapely.Polygon, keys: np.ndarray, r0: int, r1: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interleaved (start, end) positions in `keys` of the stretches beside edge pieces
        (points to test) and of the stretches between them that lie wholly inside."""
        rpd = self.rows_per_degree
        klo, khi = _edge_pieces(poly, rpd, r0, r1)
        # Merge overlapping pieces per row: rows are _STRIDE apart in key space, so one sort
        # and one running maximum do every row at once.
        order = np.argsort(klo)
        klo = klo[order]
        reach = np.maximum.accumulate(khi[order])
        first = np.flatnonzero(np.concatenate(([True], klo[1:] > reach[:-1])))
        last = np.append(first[1:] - 1, len(klo) - 1)
        bounds = np.empty(2 * len(first))
        bounds[0::2] = klo[first]
        bounds[1::2] = reach[last]
        # Between two merged pieces of one row no edge passes: one point decides the stretch.
        # Stretches before the first and after the last piece of a row are outside (a ray
        # from them crosses no edge).
        row = np.floor(bounds[0::2] / _STRIDE)
        between = np.flatnonzero(row[1:] == row[:-1])
        gap_lo, gap_hi = bounds[2 * between + 1], bounds[2 * between + 2]
        mid_x = (gap_lo + gap_hi) / 2 - (row[between] * _STRIDE + _OFFSET)
        inside = shapely.contains_xy(poly, mid_x, (row[between] + 0.5) / rpd - 90.0)
        cut = np.searchsorted(keys, bounds)
        wanted = 2 * between[inside] + 1
        whole = np.empty(2 * len(wanted), dtype=np.int64)
        whole[0::2] = cut[wanted]
        whole[1::2] = cut[wanted + 1]
        return cut, whole


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


def _expand(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All positions of the slices [starts, ends), concatenated, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return _EMPTY
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def _edge_pieces(
    poly: shapely.Polygon, rpd: int, r0: int, r1: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each ring edge cut into latitude rows (widened by the slack): the key range of each
    piece, i.e. its row and the longitudes it spans there."""
    if shapely.get_num_interior_rings(poly):
        coords, ring = shapely.get_coordinates(shapely.get_rings(poly), return_index=True)
        joined = ring[1:] == ring[:-1]
        start, end = coords[:-1][joined], coords[1:][joined]
    else:
        coords = shapely.get_coordinates(poly)
        start, end = coords[:-1], coords[1:]
    # Lower end (a) and upper end (b) of each edge.
    upward = start[:, 1] <= end[:, 1]
    a = np.where(upward[:, None], start, end)
    b = np.where(upward[:, None], end, start)
    flat = a[:, 1] == b[:, 1]
    if flat.any():
        # A horizontal edge lies along its row: the piece is the whole edge.
        lo, hi = _flat_pieces(a[flat], b[flat], rpd, r0, r1)
        a, b = a[~flat], b[~flat]
    else:
        lo = hi = np.empty(0)
    slope = (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    first = np.minimum(np.maximum(((a[:, 1] + (90.0 - _SLACK)) * rpd).astype(np.int64), r0), r1)
    last = np.minimum(np.maximum(((b[:, 1] + (90.0 + _SLACK)) * rpd).astype(np.int64), r0), r1)
    spans = last - first + 1
    edge = np.repeat(np.arange(len(a)), spans)
    row = _expand(first, last + 1).astype(np.float64)
    ea = np.column_stack([a, b[:, 1], slope])[edge]
    ax, ay, by, m = ea[:, 0], ea[:, 1], ea[:, 2], ea[:, 3]
    floor_y = row / rpd - (90.0 + _SLACK)
    x0 = ax + (np.maximum(floor_y, ay) - ay) * m
    x1 = ax + (np.minimum(floor_y + (1.0 / rpd + 2 * _SLACK), by) - ay) * m
    base = row * _STRIDE + _OFFSET
    return (
        np.concatenate([base + (np.minimum(x0, x1) - _SLACK), lo]),
        np.concatenate([base + (np.maximum(x0, x1) + _SLACK), hi]),
    )


def _flat_pieces(
    a: np.ndarray, b: np.ndarray, rpd: int, r0: int, r1: int
) -> tuple[np.ndarray, np.ndarray]:
    y = a[:, 1]
    first = np.minimum(np.maximum(((y + (90.0 - _SLACK)) * rpd).astype(np.int64), r0), r1)
    last = np.minimum(np.maximum(((y + (90.0 + _SLACK)) * rpd).astype(np.int64), r0), r1)
    spans = last - first + 1
    edge = np.repeat(np.arange(len(a)), spans)
    base = _expand(first, last + 1) * _STRIDE + _OFFSET
    west = np.minimum(a[:, 0], b[:, 0])[edge] - _SLACK
    east = np.maximum(a[:, 0], b[:, 0])[edge] + _SLACK
    return base + west, base + east
