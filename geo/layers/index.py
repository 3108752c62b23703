"""A point index: points sorted by (latitude row, longitude), so an area is a few slices.

An area query cuts the slices of the bounding box, and for a large area rasterises the edges
row by row: points beside an edge piece are tested with `shapely.contains_xy`; points in the
stretches between edge pieces are wholly inside or wholly outside, decided by the parity of the
edges crossing the row's mid-line to their left (the ray-crossing rule GEOS applies too).

Every step is one numpy call over all edges, pieces or stretches of a polygon at once: an area
costs a fixed few dozen calls, whatever its size, plus one point test per point near an edge.
`select_many` does the same for many areas in one pass (the fixed cost is then paid once per
batch) and decides most points near an edge by the crossings of the few edges beside them.
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


def index_keys(lon: np.ndarray, lat: np.ndarray, rows_per_degree: int = ROWS_PER_DEGREE) -> np.ndarray:
    """The sort key (float64) of each WGS 84 point: its latitude row, then its longitude."""
    row = np.floor((np.asarray(lat, dtype=np.float64) + 90.0) * rows_per_degree)
    np.clip(row, 0, 180 * rows_per_degree - 1, out=row)  # latitude 90 joins the top row
    return row * _STRIDE + (np.asarray(lon, dtype=np.float64) + _OFFSET)


def index_order(lon: np.ndarray, lat: np.ndarray, rows_per_degree: int = ROWS_PER_DEGREE) -> np.ndarray:
    """The permutation that puts points in index order."""
    return np.argsort(index_keys(lon, lat, rows_per_degree))


def prefix_sum(values: np.ndarray, dtype: type | np.dtype | None = None) -> np.ndarray:
    """Cumulative sums (along the first axis) with a leading zero: the sum over [a, b) is
    p[b] - p[a]."""
    values = np.asarray(values)
    out = np.empty((len(values) + 1, *values.shape[1:]), dtype=dtype or values.dtype)
    out[0] = 0
    np.cumsum(values, axis=0, out=out[1:])
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


@dataclass(frozen=True, slots=True)
class Selections:
    """The selections of many areas in flat arrays: area i owns the slices
    [slice_at[i], slice_at[i + 1]) of `starts`/`ends` and the hits [hit_at[i], hit_at[i + 1])."""

    starts: np.ndarray
    ends: np.ndarray
    slice_at: np.ndarray
    hits: np.ndarray
    hit_at: np.ndarray

    def __len__(self) -> int:
        return len(self.slice_at) - 1

    def __getitem__(self, i: int) -> Selection:
        a, b = self.slice_at[i], self.slice_at[i + 1]
        return Selection(self.starts[a:b], self.ends[a:b], self.hits[self.hit_at[i] : self.hit_at[i + 1]])

    def slice_owners(self) -> np.ndarray:
        """The area of each slice."""
        return np.arange(len(self)).repeat(np.diff(self.slice_at))

    def hit_owners(self) -> np.ndarray:
        """The area of each hit."""
        return np.arange(len(self)).repeat(np.diff(self.hit_at))

    def counts(self) -> np.ndarray:
        """How many points are inside each area."""
        if len(self) == 1:  # one area (as `connectivity_impact` asks): fewer calls
            return np.array([self[0].count()])
        lengths = prefix_sum(self.ends - self.starts)
        return lengths.take(self.slice_at[1:]) - lengths.take(self.slice_at[:-1]) + np.diff(self.hit_at)

    def sums(self, values: np.ndarray, prefix: np.ndarray) -> np.ndarray:
        """Per area, the sum of a column; `prefix` is `prefix_sum(values)`."""
        if len(self) == 1:
            return np.array([self[0].sum(values, prefix)])
        ranged = prefix_sum(prefix.take(self.ends) - prefix.take(self.starts))
        out = ranged.take(self.slice_at[1:]) - ranged.take(self.slice_at[:-1])
        return out + np.bincount(self.hit_owners(), values.take(self.hits), minlength=len(self)).astype(
            out.dtype
        )


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

    def select_many(self, areas: Sequence[BaseGeometry | Sequence[shapely.Polygon]]) -> Selections:
        """The points strictly inside each of many areas (as `select`), in one pass over all.

        Every step is one numpy call over the edges, pieces, stretches and points of all the
        areas together, so the fixed cost of a few dozen calls is paid once per batch instead of
        once per area (re-assessing the active alerts after a layer import or a status report is
        such a batch). Points beside an edge piece are decided by the crossings of the edges of
        their own piece group (see `_near_inside`), not one geometry test each.
        """
        if len(areas) == 1:  # one area: `select` answers with fewer calls
            one = self.select(areas[0])
            return Selections(
                one.starts, one.ends, np.array([0, len(one.starts)]), one.hits, np.array([0, len(one.hits)])
            )
        part_lists = [polygon_parts(a) if isinstance(a, BaseGeometry) else a for a in areas]
        n_areas = len(part_lists)
        parts = np.empty(sum(len(p) for p in part_lists), dtype=object)
        parts[:] = [part for ps in part_lists for part in ps]
        owner = np.arange(n_areas).repeat([len(p) for p in part_lists])
        rpd = self.rows_per_degree
        top = 180 * rpd - 1
        minx, miny, maxx, maxy = shapely.bounds(parts).T if len(parts) else np.empty((4, 0))
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(minx + miny + maxx + maxy)
            # Rows within the slack of each part (as `_select_polygon`).
            r0 = np.clip(np.floor((np.where(finite, miny, 0.0) + (90.0 - _SLACK)) * rpd), 0, top)
            r1 = np.clip(np.floor((np.where(finite, maxy, 0.0) + (90.0 + _SLACK)) * rpd), 0, top)
            keyed = np.maximum(-minx, maxx) < _KEY_LON_LIMIT
        r0, r1 = r0.astype(np.int64), r1.astype(np.int64)
        cut = self.keys.searchsorted(np.stack([r0 * _STRIDE, (r1 + 1) * _STRIDE], 1).ravel())
        lo, hi = cut[0::2], cut[1::2]
        used = finite & (hi > lo)
        # Parts reaching past the key limit (not WGS 84 areas): every point of their rows is tested.
        direct = (used & ~keyed).nonzero()[0]
        raster = (used & keyed).nonzero()[0]
        # South to north: the searches for the groups' ends then come in nearly ascending
        # order, and consecutive ones find the keys they need already in cache.
        raster = raster.take(r0.take(raster).argsort(kind="stable"))
        hits, hit_part = [_EMPTY], [_EMPTY]
        if len(direct):
            candidates = _expand(lo.take(direct), hi.take(direct))
            cand_part = direct.repeat(hi.take(direct) - lo.take(direct))
            found = shapely.contains_xy(
                parts.take(cand_part), self.lon.take(candidates), self.lat.take(candidates)
            )
            hits.append(candidates[found])
            hit_part.append(cand_part[found])
        whole = [[_EMPTY], [_EMPTY], [_EMPTY]]
        # In chunks of about _CHUNK_ROWS rows, so `_merged_pieces` can sort each by one key, and
        # of about _CHUNK_POINTS points in their rows, so the arrays of points near edges stay
        # small enough for the cache where the points are dense.
        rows = ((r1 - r0 + 1).take(raster).cumsum() - 1) // _CHUNK_ROWS
        points = ((hi - lo).take(raster).cumsum() - 1) // _CHUNK_POINTS
        cuts = np.flatnonzero((np.diff(rows) > 0) | (np.diff(points) > 0)) + 1
        for chunk in np.split(raster, cuts) if len(raster) else ():
            found = self._rasterised_many(parts, chunk, r0, r1)
            for out, piece in zip((*whole, hits, hit_part), found, strict=True):
                out.append(piece)
        hit_owner = owner.take(np.concatenate(hit_part))
        hit_order = hit_owner.argsort(kind="stable")
        whole_owner = owner.take(np.concatenate(whole[0]))
        whole_order = whole_owner.argsort(kind="stable")
        return Selections(
            np.concatenate(whole[1]).take(whole_order),
            np.concatenate(whole[2]).take(whole_order),
            prefix_sum(np.bincount(whole_owner, minlength=n_areas)),
            np.concatenate(hits).take(hit_order),
            prefix_sum(np.bincount(hit_owner, minlength=n_areas)),
        )

    def _rasterised_many(
        self, parts: np.ndarray, which: np.ndarray, r0: np.ndarray, r1: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Points inside the polygons parts[which] (see `select_many`): whole stretches (their
        polygon, start, end), then the single hits and their polygons."""
        groups = _merged_pieces(parts.take(which), self.rows_per_degree, r0.take(which), r1.take(which))
        gpart = which.take(groups.part)
        cut = self.keys.searchsorted(np.stack([groups.west, groups.east], 1).ravel())
        # Between two merged groups of a row no edge passes: the stretch is inside when an odd
        # number of edges crosses the row west of it (see `_rasterised`).
        gap = groups.odd_after[:-1] & (gpart[1:] == gpart[:-1])
        near_lo, near_hi = cut[0::2], cut[1::2]
        candidates = _expand(near_lo, near_hi)
        cand_group = np.arange(len(near_lo)).repeat(near_hi - near_lo)
        px, py = self.lon.take(candidates), self.lat.take(candidates)
        found, unsure = _near_inside(groups, cand_group, px, py)
        if unsure.any():  # on an edge, too close to one to tell, or in a crowded group: GEOS
            ask = unsure.nonzero()[0]
            found[ask] = shapely.contains_xy(
                parts.take(gpart.take(cand_group.take(ask))), px.take(ask), py.take(ask)
            )
        return (
            gpart[:-1][gap],
            cut[1:-1:2][gap],
            cut[2::2][gap],
            candidates[found],
            gpart.take(cand_group[found]),
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
                return _test(poly, self.lon, self.lat, np.array([lo]), np.array([hi]), _EMPTY, _EMPTY)
        return self._rasterised(poly, lo, hi, r0, r1)

    def _rasterised(self, poly: shapely.Polygon, lo: int, hi: int, r0: int, r1: int) -> Selection:
        """Points among positions [lo, hi) inside the polygon: stretches beside edge pieces are
        tested point by point, the stretches between them are taken or left whole."""
        klo, khi, crossing, _ = _pieces_of(*_polygon_edges(poly), self.rows_per_degree, r0, r1)
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
        p
        for p in shapely.get_parts(geometry)
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


@dataclass(frozen=True, slots=True)
class _Groups:
    """Edge pieces of many polygons merged where they overlap in a row, in key order: per
    group its polygon, west and east key, the parity of the edge crossings west of it and
    after it; per edge its ends; and which edges each group holds."""

    part: np.ndarray
    west: np.ndarray
    east: np.ndarray
    odd_before: np.ndarray
    odd_after: np.ndarray
    edge_at: np.ndarray  # group g holds edges group_edges[edge_at[g]:edge_at[g + 1]]
    group_edges: np.ndarray
    edges: np.ndarray  # (4, n_edges): x0, y0, x1, y1


def _merged_pieces(parts: np.ndarray, rpd: int, r0: np.ndarray, r1: np.ndarray) -> _Groups:
    """Merge the row pieces of the edges of many polygons (polygon i over rows r0[i]..r1[i])."""
    start, end, edge_part = _ring_edges(parts)
    klo, khi, crossing, piece_edge = _pieces_of(start, end, rpd, r0.take(edge_part), r1.take(edge_part))
    piece_part = edge_part.take(piece_edge)
    n = len(klo)
    # Each piece opens at klo and closes at khi; sorted by polygon and key (a stable sort keeps
    # an opening before a closing at the same key, so touching pieces merge), a group ends
    # where the count of open pieces falls back to zero. Every polygon's count returns to zero
    # at its last piece and every row crosses a ring an even number of times, so neither the
    # count nor the parity carries over from one polygon (or row) to the next.
    keys = np.concatenate([klo, khi])
    # One sort key: each polygon's keys moved from its own first row to just after the rows of
    # the polygons before it. The shift is exact (whole rows) and adding it is monotonic, so
    # rounding can tie two keys but never swap them (a tie merges, which is safe); below 1.3e8
    # (see _CHUNK_ROWS) a rounded key is within 1e-8 degrees, far inside the slack. Sorting
    # works on these keys; the groups' ends are read from the exact ones.
    part_of = np.concatenate([piece_part, piece_part])
    shift = prefix_sum((r1 - r0 + 1) * _STRIDE, np.float64)[:-1] - r0 * _STRIDE
    order = (keys + shift.take(part_of)).argsort(kind="stable")
    opening = order < n
    step = np.where(opening, 1, -1)
    cover = step.cumsum()
    closes = (cover == 0).nonzero()[0]
    opens = (cover == step).nonzero()[0]  # the count was zero just before this opening
    flips = np.zeros(2 * n, dtype=bool)
    flips[:n] = crossing
    parity = np.logical_xor.accumulate(flips.take(order))
    odd_after = parity.take(closes)
    odd_before = np.zeros(len(opens), dtype=bool)
    odd_before[1:] = odd_after[:-1]  # a group opens right after the previous one closes
    keys = keys.take(order)
    # The pieces of group g are the openings between opens[g] and closes[g].
    in_group = order[opening]
    edge_count = (closes - opens + 1) // 2
    return _Groups(
        part=piece_part.take(order.take(opens)),
        west=keys.take(opens),
        east=keys.take(closes),
        odd_before=odd_before,
        odd_after=odd_after,
        edge_at=prefix_sum(edge_count),
        group_edges=piece_edge.take(in_group),
        edges=np.concatenate([start, end], axis=1).T,
    )


# Shewchuk's bound on the rounding error of a 2-D orientation determinant evaluated in double
# precision ((3 + 16 eps) eps, eps = 2^-53), tripled for margin: a determinant smaller than
# this times its terms' magnitudes may have the wrong sign.
_ORIENT_ERROR = 1e-15

FEW_EDGES = 3

# Rows of polygons rasterised together (see `_merged_pieces`): a chunk holds at most this many
# rows plus those of its last polygon (at most 180 * ROWS_PER_DEGREE), so its keys stay < 1.3e8.
_CHUNK_ROWS = 1 << 17
_CHUNK_POINTS = 1 << 23


def _near_inside(
    groups: _Groups, cand_group: np.ndarray, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each point beside a piece group is strictly inside its polygon, and whether
    that could not be told (on an edge, or within rounding of one).

    Crossing rule, as GEOS applies it: an edge counts when min(y) <= py < max(y) and it passes
    west of the point; inside is the parity of the edges counted plus those of the groups
    west of this one in its row (constant over the row's height: every chain of edges inside
    the row lies within one group).
    """
    count = np.diff(groups.edge_at).take(cand_group)
    first = groups.edge_at.take(cand_group)
    inside = groups.odd_before.take(cand_group)
    unsure = count > FEW_EDGES  # crowded groups are left to GEOS
    # The j-th edge of every point's group at once (groups hold one edge mostly).
    for j in range(FEW_EDGES):
        at = ((count > j) & (count <= FEW_EDGES)).nonzero()[0]
        if not len(at):
            break
        x0, y0, x1, y1 = groups.edges.take(groups.group_edges.take(first.take(at) + j), axis=1)
        qx, qy = px.take(at), py.take(at)
        dy = y1 - y0
        left = x1 - x0
        left *= qy - y0
        right = qx - x0
        right *= dy
        orient = left - right  # > 0: the point is left of the edge from (x0, y0) to (x1, y1)
        low, high = np.minimum(y0, y1), np.maximum(y0, y1)
        reach = (low <= qy) & (qy <= high)
        inside[at] ^= reach & (qy < high) & (orient != 0) & ((orient < 0) == (dy > 0))
        np.abs(left, out=left)
        np.abs(right, out=right)
        left += right
        left *= _ORIENT_ERROR
        unsure[at] |= reach & (np.abs(orient) <= left)
    return inside, unsure


def _ring_edges(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges of the rings of many polygons: start points, end points (n x 2 each) and
    the polygon (position in `parts`) of each."""
    if shapely.get_num_interior_rings(parts).any():
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring = shapely.get_coordinates(rings, return_index=True)
    else:  # exterior rings only (the usual case, and the cheaper call)
        coords, ring = shapely.get_coordinates(parts, return_index=True)
        ring_part = None
    joined = (ring[1:] == ring[:-1]).nonzero()[0]  # edge k joins vertices k and k + 1
    edge_part = ring.take(joined) if ring_part is None else ring_part.take(ring.take(joined))
    return coords.take(joined, axis=0), coords.take(joined + 1, axis=0), edge_part


def _polygon_edges(poly: shapely.Polygon) -> tuple[np.ndarray, np.ndarray]:
    """The edges of one polygon's rings: start points and end points (n x 2 each)."""
    if shapely.get_num_interior_rings(poly):
        return _ring_edges(np.array([poly], dtype=object))[:2]
    coords = shapely.get_coordinates(poly)
    return coords[:-1], coords[1:]


def _pieces_of(
    start: np.ndarray, end: np.ndarray, rpd: int, r0: np.ndarray | int, r1: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each edge (start -> end) cut into latitude rows, clipped to rows r0..r1 (per edge or
    for all): the key range of each piece (its row and the longitudes the edge spans there,
    widened by the slack), whether the edge crosses the row's mid-line (lower end on or below
    it, upper end above: each crossing once), and the piece's edge."""
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
    # First and last row within the slack of each edge, clipped to its polygon's rows.
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
    edge_of_piece = np.arange(len(x0)).repeat(spans)
    per = table.take(edge_of_piece, axis=1)
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
    return klo, khi, crossing, edge_of_piece
