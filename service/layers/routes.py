"""HTTP views of the connectivity layer: what is imported, features by bounding box for the map
(RFC 7946 GeoJSON, capped, or aggregated on a grid), and a reload for operators."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import anyio
import numpy as np
import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from geo.layers import RADIOS, ConnectivityLayer, NetworkStatus, PointLayer, SiteState
from geo.layers.index import polygon_parts
from service.auth import OPERATOR
from service.bbox import BBox, bbox_geometry, parse_bbox
from service.errors import Forbidden, Invalid, NotFound
from service.http import RevalidatedAnswers, query_time
from service.layers import compare
from service.layers.files import KINDS, LAYER_KINDS, OLDER_NAMES, list_layers
from service.layers.zoom import MAX_ZOOM, POINTS_ZOOM, grid_for_zoom
from service.runtime import RequiredPrincipal, RuntimeDep

DEFAULT_LIMIT = 1000
MAX_FEATURES = 10_000
# A grid answer has at most this many cells, built from at most this many points.
MAX_GRID_CELLS = 10_000
MAX_AGGREGATED_POINTS = 5_000_000
OOKLA_ZOOM = compare.OOKLA_ZOOM
# Answers by zoom: positions to ~1 m (5 decimals), grid corners as made (multiples of the size).
POINT_DECIMALS = 5
# Maps ask the same views again as they pan back: answers revalidated by ETag, gzipped once.
_ANSWERS = RevalidatedAnswers()
# Layers change only on import and status reports: a client revalidates (cheap, ETag) each time.
LAYER_CACHE = "no-cache"
_STATE_NAMES = [s.value for s in SiteState]  # code 0 up, 1 degraded, 2 down

Kind = Annotated[
    str,
    Path(
        max_length=32,
        description="opencellid, ookla, cables or population (as `tampere layer import`); "
        "cells and landings are accepted as the older names of opencellid and cables",
    ),
]


def layers_router() -> APIRouter:
    """GET /api/v1/layers, GET /api/v1/layers/{kind}, POST /api/v1/layers/reload."""
    router = APIRouter(tags=["connectivity layer"])
    router.add_api_route("/api/v1/layers", list_layer_tables, methods=["GET"], summary="Imported layers")
    router.add_api_route(
        "/api/v1/layers/reload",
        reload_layers,
        methods=["POST"],
        summary="Load the imported layer files again and recompute active alerts' impacts",
        responses={401: {"description": "No token"}, 403: {"description": "Not the operator"}},
    )
    router.add_api_route(
        "/api/v1/layers/{kind}",
        layer_features,
        methods=["GET"],
        summary="Layer features in a bounding box, as GeoJSON",
        response_class=JSONResponse,
        responses={
            404: {"description": "Unknown kind, or that layer is not imported"},
            422: {"description": "Bad bbox, or more features than `limit`: zoom in or ask for `grid`"},
        },
    )
    return router


async def list_layer_tables(runtime: RuntimeDep) -> dict[str, Any]:
    """The tables imported (as written at import), what the running service has loaded (null:
    not imported), and each kind's source, files and licence."""
    layer = runtime.connectivity
    loaded = {
        "opencellid": len(layer.cells) if layer.cells is not None else None,
        "ookla": {period: len(tiles) for period, tiles in layer.performance.items()} or None,
        "cables": len(layer.landings) if layer.landings is not None else None,
        "population": len(layer.population) if layer.population is not None else None,
    }
    layers = await anyio.to_thread.run_sync(list_layers, runtime.settings.data_dir)
    return {
        "layers": layers,
        "loaded": loaded,
        "kinds": list(KINDS),
        "sources": {name: kind.as_json() for name, kind in LAYER_KINDS.items()},
    }


async def reload_layers(runtime: RuntimeDep, principal: RequiredPrincipal) -> dict[str, Any]:
    """Operators: load the layer files now (even when unchanged) and recompute impacts."""
    if principal.role != OPERATOR:
        raise Forbidden.one("layer.reload.role", "only the operator reloads layers", "/")
    outcome = await runtime.layers.reload(runtime, force=True)
    result: dict[str, Any] = outcome.as_json()
    return result


async def layer_features(
    kind: Kind,
    request: Request,
    runtime: RuntimeDep,
    bbox: Annotated[str, Query(max_length=200, description="west,south,east,north (RFC 7946 §5)")],
    limit: Annotated[int, Query(ge=1, le=MAX_FEATURES)] = DEFAULT_LIMIT,
    grid: Annotated[
        float | None, Query(gt=0, le=90, description="Aggregate on a grid of this many degrees")
    ] = None,
    zoom: Annotated[
        float | None,
        Query(
            ge=0,
            le=MAX_ZOOM,
            description="The map's zoom: points (at most `limit`) close in, else a grid of ~32 px "
            "cells aligned world-wide (the bbox snapped outward to it); not with `grid`",
        ),
    ] = None,
    period: Annotated[str | None, Query(max_length=16, description="Ookla quarter, e.g. 2023Q2")] = None,
    baseline: Annotated[
        str | None,
        Query(
            max_length=16,
            description="Ookla only: an earlier quarter to compare with (before/after): each tile or "
            "cell adds `download_mbps_before`, `upload_mbps_before`, `latency_ms_before`, `tests_before` "
            "(null where that quarter has no tests there) and `download_change`, `upload_change`, "
            "`latency_change` (now/before - 1)",
        ),
    ] = None,
    as_of: Annotated[datetime | None, Query(description="Cell status as of this time (default now)")] = None,
) -> Response:
    """Features of one layer inside a bbox, at most `limit` (422 beyond, unless `grid` or
    `zoom` asks for them aggregated per grid cell)."""
    kind = OLDER_NAMES.get(kind, kind)
    if kind not in KINDS:
        raise NotFound.one("layer.kind.unknown", f"no layer {kind!r}; one of {', '.join(KINDS)}", "{kind}")
    if grid is not None and zoom is not None:
        raise Invalid.one(
            "layer.zoom.with-grid",
            "give zoom (the service picks the grid) or grid (degrees), not both",
            "?zoom",
        )
    if baseline is not None and kind != "ookla":
        raise Invalid.one(
            "layer.baseline.kind", f"baseline compares Ookla quarters; the {kind} layer has none", "?baseline"
        )
    as_of = query_time(as_of, param="as_of", rule="layer.as_of")
    box = parse_bbox(bbox)
    # Whole zoom levels: views between two levels get the same grid, so the same bytes.
    level = None if zoom is None else math.floor(zoom)
    layer = runtime.connectivity
    table, chosen_period = _table(layer, kind, period)
    earlier = _table(layer, kind, baseline, param="?baseline")[0] if baseline is not None else None
    status = runtime.network.near(box) if kind == "opencellid" else None
    body = await anyio.to_thread.run_sync(
        lambda: _collection(
            kind, table, box, limit=limit, grid=grid, zoom=level, status=status, as_of=as_of, earlier=earlier
        )
    )
    body["period"] = chosen_period
    body["baseline"] = baseline
    made = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    return _ANSWERS.answer(
        request, made, media_type="application/geo+json", headers={"Cache-Control": LAYER_CACHE}
    )


def _table(
    layer: ConnectivityLayer, kind: str, period: str | None, *, param: str = "?period"
) -> tuple[PointLayer, str | None]:
    if kind == "ookla":
        if not layer.performance:
            raise _not_imported(kind)
        chosen = period or layer.periods[-1]
        tiles = layer.performance.get(chosen)
        if tiles is None:
            raise NotFound.one(
                "layer.period.unknown",
                f"no Ookla period {chosen!r} is loaded; loaded: {', '.join(layer.periods)}",
                param,
            )
        return tiles, chosen
    table = {"opencellid": layer.cells, "cables": layer.landings, "population": layer.population}[kind]
    if table is None:
        raise _not_imported(kind)
    return table, None


def _not_imported(kind: str) -> NotFound:
    return NotFound.one(
        "layer.not-imported",
        f"the {kind} layer is not imported: `tampere layer import {kind} FILE` "
        f"({LAYER_KINDS[kind].files}; see `tampere layer import --help`)",
        "{kind}",
    )


def _collection(
    kind: str,
    table: PointLayer,
    box: BBox,
    *,
    limit: int,
    grid: float | None,
    zoom: int | None = None,
    status: NetworkStatus | None,
    as_of: datetime | None,
    earlier: PointLayer | None = None,
) -> dict[str, Any]:
    selection = table.index.select(polygon_parts(bbox_geometry(box)))
    total = selection.count()
    decimals = None
    if zoom is not None:
        # Close in and few enough: the points themselves; else the zoom's grid over the box
        # snapped to it (whole cells at the edges, the same cells for every view).
        decimals = POINT_DECIMALS
        if zoom < POINTS_ZOOM[kind] or total > limit:
            chosen = grid_for_zoom(zoom, box, MAX_GRID_CELLS)
            grid, box = chosen.size, chosen.box
            selection = table.index.select(polygon_parts(bbox_geometry(box)))
            total = selection.count()
    if grid is None and total > limit:
        raise Invalid.one(
            "layer.bbox.too-many",
            f"{total} {kind} features in this bbox, more than limit={limit}: zoom in, raise limit "
            f"(at most {MAX_FEATURES}), or ask for zoom=Z or grid=DEGREES to get them aggregated",
            "?bbox",
        )
    if grid is not None and total > MAX_AGGREGATED_POINTS:
        raise Invalid.one(
            "layer.bbox.too-large",
            f"{total} {kind} features in this bbox, more than {MAX_AGGREGATED_POINTS} to aggregate: zoom in",
            "?bbox",
        )
    positions = selection.indices()
    states = None
    if kind == "opencellid" and status is not None:
        states = status.states(table, positions, as_of)
    before = None
    if earlier is not None:
        before = (earlier, earlier.index.select(polygon_parts(bbox_geometry(box))).indices())
    if grid is not None:
        features = _grid_features(kind, table, positions, box, grid, states, before)
    else:
        features = _point_features(kind, table, positions, states, decimals, before)
    return {
        "type": "FeatureCollection",
        "kind": kind,
        "bbox": list(box),
        "total": total,
        "zoom": zoom,
        "aggregated": grid is not None,
        "grid": grid,
        "features": features,
    }


# --- one feature per point -----------------------------------------------------------------------


def _point_features(
    kind: str,
    table: PointLayer,
    positions: np.ndarray,
    states: np.ndarray | None,
    decimals: int | None = None,
    before: tuple[PointLayer, np.ndarray] | None = None,
) -> list[Any]:
    xs, ys = table["lon"][positions], table["lat"][positions]
    if decimals is not None:
        xs, ys = xs.round(decimals), ys.round(decimals)
    lon, lat = xs.tolist(), ys.tolist()
    properties = _PROPERTIES[kind](table, positions, states)
    if before is not None:
        earlier, at = before
        keys = compare.tile_keys(table["lon"][positions], table["lat"][positions])
        earlier_keys = compare.tile_keys(earlier["lon"][at], earlier["lat"][at])
        now = {name: table[column][positions] / scale for name, (column, scale) in compare.METRICS.items()}
        was = {
            name: compare.joined(keys, earlier_keys, earlier[column][at] / scale)
            for name, (column, scale) in compare.METRICS.items()
        }
        tests_before = compare.joined(keys, earlier_keys, earlier["tests"][at].astype(np.float64))
        _add_comparison(properties, now, was, tests_before)
    if kind == "ookla":
        geometries = _tile_polygons(table["lon"][positions], table["lat"][positions])
    else:
        geometries = [{"type": "Point", "coordinates": [x, y]} for x, y in zip(lon, lat, strict=True)]
    return [
        {"type": "Feature", "geometry": g, "properties": p}
        for g, p in zip(geometries, properties, strict=True)
    ]


def _cell_properties(
    table: PointLayer, positions: np.ndarray, states: np.ndarray | None
) -> list[dict[str, Any]]:
    c = {
        name: table[name][positions].tolist()
        for name in ("radio", "mcc", "net", "area", "cell", "range", "samples", "updated")
    }
    state = states.tolist() if states is not None else [0] * len(positions)
    return [
        {
            "radio": RADIOS[c["radio"][i]],
            "mcc": c["mcc"][i],
            "net": c["net"][i],
            "area": c["area"][i],
            "cell": c["cell"][i],
            "range_m": c["range"][i],
            "samples": c["samples"][i],
            "updated": c["updated"][i],
            "status": _STATE_NAMES[state[i]],
        }
        for i in range(len(positions))
    ]


def _ookla_properties(table: PointLayer, positions: np.ndarray, _states: Any) -> list[dict[str, Any]]:
    d = (table["avg_d_kbps"][positions] / 1000).round(3).tolist()
    u = (table["avg_u_kbps"][positions] / 1000).round(3).tolist()
    latency = table["avg_lat_ms"][positions].tolist()
    tests, devices = table["tests"][positions].tolist(), table["devices"][positions].tolist()
    keys = _quadkeys(table["lon"][positions], table["lat"][positions])
    period = getattr(table, "period", None)
    return [
        {
            "period": period,
            "quadkey": keys[i],
            "download_mbps": d[i],
            "upload_mbps": u[i],
            "latency_ms": latency[i],
            "tests": tests[i],
            "devices": devices[i],
        }
        for i in range(len(positions))
    ]


def _landing_properties(table: PointLayer, positions: np.ndarray, _states: Any) -> list[dict[str, Any]]:
    entries = getattr(table, "entries", ())
    result: list[dict[str, Any]] = [entries[i].as_dict() for i in table["entry"][positions].tolist()]
    return result


def _population_properties(table: PointLayer, positions: np.ndarray, _states: Any) -> list[dict[str, Any]]:
    return [{"population": round(p, 1)} for p in table["population"][positions].tolist()]


_PROPERTIES: dict[str, Callable[[PointLayer, np.ndarray, np.ndarray | None], list[dict[str, Any]]]] = {
    "opencellid": _cell_properties,
    "ookla": _ookla_properties,
    "cables": _landing_properties,
    "population": _population_properties,
}


def _tile_polygons(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, Any]]:
    n = float(1 << OOKLA_ZOOM)
    x, y = compare.tile_xy(lon, lat)
    west, east = (x / n * 360.0 - 180.0).tolist(), ((x + 1) / n * 360.0 - 180.0).tolist()
    north = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * y / n)))).tolist()
    south = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * (y + 1) / n)))).tolist()
    return [_box_polygon(w, s, e, no) for w, s, e, no in zip(west, south, east, north, strict=True)]


def _quadkeys(lon: np.ndarray, lat: np.ndarray) -> list[str]:
    x, y = compare.tile_xy(lon, lat)
    digits = np.zeros((len(x), OOKLA_ZOOM), dtype=np.int64)
    for bit in range(OOKLA_ZOOM):
        shift = OOKLA_ZOOM - 1 - bit
        digits[:, bit] = ((x >> shift) & 1) + 2 * ((y >> shift) & 1)
    return ["".join(map(str, row)) for row in digits.tolist()]


def _box_polygon(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    # RFC 7946 §3.1.6: exterior ring counter-clockwise, first position repeated last.
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


# --- aggregated on a grid --------------------------------------------------------------------------


def _grid_features(
    kind: str,
    table: PointLayer,
    positions: np.ndarray,
    box: BBox,
    size: float,
    states: np.ndarray | None,
    before: tuple[PointLayer, np.ndarray] | None = None,
) -> list[Any]:
    west, south, east, north = box
    width = (east - west) % 360.0 or (360.0 if east != west else 0.0)
    columns, rows = max(1, math.ceil(width / size)), max(1, math.ceil((north - south) / size))
    if columns * rows > MAX_GRID_CELLS:
        raise Invalid.one(
            "layer.grid.too-fine",
            f"grid={size}° makes {columns * rows} cells over this bbox, more than {MAX_GRID_CELLS}: "
            "use a larger grid",
            "?grid",
        )

    def cell_keys(on: PointLayer, at: np.ndarray) -> np.ndarray:
        lon, lat = on["lon"][at], on["lat"][at]
        ix = np.minimum(((lon - west) % 360.0 // size).astype(np.int64), columns - 1)
        iy = np.minimum(((lat - south) // size).astype(np.int64), rows - 1)
        keys: np.ndarray = iy * columns + ix
        return keys

    cell, inverse = np.unique(cell_keys(table, positions), return_inverse=True)
    count = np.bincount(inverse, minlength=len(cell))

    def total(values: np.ndarray) -> list[float]:
        return np.bincount(inverse, weights=values.astype(np.float64), minlength=len(cell)).tolist()

    extra: list[dict[str, Any]] = [{} for _ in range(len(cell))]
    if kind == "opencellid":
        radios = table["radio"][positions]
        per_radio = {r: total(radios == code) for code, r in enumerate(RADIOS)}
        marks = states if states is not None else np.zeros(len(positions), np.uint8)
        down, degraded = total(marks == 2), total(marks == 1)
        for i, e in enumerate(extra):
            e["by_radio"] = {r: int(per_radio[r][i]) for r in RADIOS}
            e["down"], e["degraded"] = int(down[i]), int(degraded[i])
    elif kind == "ookla":
        tests = table["tests"][positions].astype(np.float64)
        weight = total(tests)
        sums = {m: total(table[m][positions] * tests) for m in ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms")}
        for i, e in enumerate(extra):
            w = weight[i]
            e["tests"] = int(w)
            # Ookla's own method: tests-weighted means (see geo.layers.ookla.Performance).
            e["download_mbps"] = round(sums["avg_d_kbps"][i] / w / 1000, 3) if w else None
            e["upload_mbps"] = round(sums["avg_u_kbps"][i] / w / 1000, 3) if w else None
            e["latency_ms"] = round(sums["avg_lat_ms"][i] / w, 3) if w else None
        if before is not None:
            earlier, at = before
            then_cell, then_inverse = np.unique(cell_keys(earlier, at), return_inverse=True)
            then_tests = earlier["tests"][at].astype(np.float64)
            then_weight = np.bincount(then_inverse, weights=then_tests, minlength=len(then_cell))
            with np.errstate(divide="ignore", invalid="ignore"):
                now = {
                    name: np.asarray(sums[column]) / np.asarray(weight) / scale
                    for name, (column, scale) in compare.METRICS.items()
                }
                was = {
                    name: compare.joined(
                        cell,
                        then_cell,
                        np.bincount(
                            then_inverse, weights=earlier[column][at] * then_tests, minlength=len(then_cell)
                        )
                        / then_weight
                        / scale,
                    )
                    for name, (column, scale) in compare.METRICS.items()
                }
            _add_comparison(extra, now, was, compare.joined(cell, then_cell, then_weight))
    elif kind == "population":
        people = total(table["population"][positions])
        for i, e in enumerate(extra):
            e["population"] = round(people[i])
    features = []
    for i, key in enumerate(cell.tolist()):
        row, column = divmod(key, columns)
        cell_west = (west + column * size + 180.0) % 360.0 - 180.0
        cell_south = south + row * size
        geometry = _box_polygon(
            cell_west, cell_south, min(cell_west + size, 180.0), min(cell_south + size, 90.0)
        )
        features.append(
            {"type": "Feature", "geometry": geometry, "properties": {"count": int(count[i]), **extra[i]}}
        )
    return features


def _add_comparison(
    properties: list[dict[str, Any]],
    now: dict[str, np.ndarray],
    was: dict[str, np.ndarray],
    tests_before: np.ndarray,
) -> None:
    """Each feature's values in the earlier quarter (`..._before`, null where it had no tests
    there, and `tests_before`) and the relative change of each (`download_change`: -0.36 is a
    third lower)."""
    for p, tests in zip(properties, tests_before.tolist(), strict=True):
        p["tests_before"] = int(tests) if math.isfinite(tests) else None
    for name, before in was.items():
        values, changes = compare.rounded(before), compare.change(now[name], before)
        short = name.split("_")[0]
        for p, value, delta in zip(properties, values, changes, strict=True):
            p[f"{name}_before"] = value
            p[f"{short}_change"] = delta
