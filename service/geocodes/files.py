"""Boundary tables for CAP geocodes: import operator files into `data_dir/geocodes/`, list, load.

CAP leaves <geocode> valueNames to each profile (CAP 1.2 §3.2.4): SAME, FIPS6, UGC, NUTS,
EMMA_ID, WARNCELLID, ISO 3166-2... ISO 3166-1 country codes resolve from the packaged Natural
Earth countries; every other scheme needs a boundary table an operator imports by command
(`tampere geocodes import SCHEME FILE --code-field F`). Each scheme is one GeoParquet file,
`geocodes/<KEY>.parquet` (KEY = `geo.gazetteer.scheme_key(scheme)`): code, name and WKB geometry
in lon/lat, sorted by code, with what the import kept and dropped in the file's metadata. An
import writes a staging file and renames it over the old one, so a reader never sees half a
table, and loading is one columnar read and one vectorised WKB parse.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.gazetteer import Gazetteer, code_key, default_countries, scheme_key
from geo.layers import LayerFormatError

log = logging.getLogger(__name__)

GEOCODES_DIR = "geocodes"
SUFFIX = ".parquet"
META_KEY = b"tampere"
WGS84 = CRS.from_epsg(4326)
# Lon/lat a hair outside the range (rounding in a reprojection) is still the Earth.
RANGE_SLACK = 1e-6
_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7
# Probes for whether the gazetteer looks a scheme up in a table at all: "XX-1" has the form of
# an ISO 3166-2 code, "XX" that of an ISO 3166-1 code or of any other scheme's code.
_PROBE_CODES = ("XX", "XX-1")


def import_geocodes(
    scheme: str,
    path: str | Path,
    data_dir: str | Path,
    *,
    code_field: str,
    name_field: str | None = None,
) -> dict[str, Any]:
    """Import a boundary file (GeoJSON, GeoPackage, shapefile or its zip) as the table of one
    geocode scheme, replacing the one held; returns a summary of what was kept and dropped.

    Raises LayerFormatError (rule geocode.*) when the file cannot serve as that table.
    """
    source = Path(path)
    scheme = scheme.strip()
    key = scheme_key(scheme)
    _check_scheme(scheme, key)
    if not source.exists():
        raise LayerFormatError("geocode.file", "no such file or directory", str(source))
    layer, info = _boundary_layer(source, code_field)
    fields = [str(f) for f in info["fields"]]
    if name_field is not None and name_field not in fields:
        raise LayerFormatError(
            "geocode.name-field",
            f"no field {name_field!r} in layer {layer!r}; its fields: {', '.join(fields) or 'none'}",
            str(source),
        )
    columns = [code_field] + ([name_field] if name_field and name_field != code_field else [])
    try:
        meta, table = pyogrio.read_arrow(str(source), layer=layer, columns=columns)
    except (DataSourceError, DataLayerError) as exc:
        raise LayerFormatError("geocode.file", f"cannot read features: {exc}", str(source)) from exc
    rows = table.num_rows
    wkb = table[meta["geometry_name"] or "wkb_geometry"].to_numpy(zero_copy_only=False)
    geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    codes, numeric = _codes(table[code_field])
    names = table[name_field].to_pylist() if name_field else [None] * rows
    skipped = dict.fromkeys(("no_code", "no_geometry", "not_polygon", "out_of_range", "bad_code"), 0)

    has_code = np.array([c is not None for c in codes], dtype=bool)
    skipped["no_code"] = int((~has_code).sum())
    present = has_code & ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)
    skipped["no_geometry"] = int((has_code & ~present).sum())
    declared, reprojected = _to_lon_lat(geometries, present, meta.get("crs"), source)
    in_range = present & _in_lon_lat_range(geometries)
    skipped["out_of_range"] = int((present & ~in_range).sum())
    repaired = int((in_range & ~shapely.is_valid(geometries)).sum())
    polygonal = np.full(rows, None, dtype=object)
    polygonal[in_range] = shapely.make_valid(geometries[in_range])
    for i in np.flatnonzero(in_range).tolist():
        polygonal[i] = _polygonal(polygonal[i])
    kept = [i for i in np.flatnonzero(in_range).tolist() if not polygonal[i].is_empty]
    skipped["not_polygon"] = int(in_range.sum()) - len(kept)

    groups: dict[str, list[int]] = {}
    for i in kept:
        groups.setdefault(codes[i], []).append(i)
    probe = Gazetteer(None, {scheme: dict.fromkeys(groups, shapely.Point(0.0, 0.0))})
    for code in [c for c in groups if probe.resolve(scheme, c) is None]:
        skipped["bad_code"] += len(groups.pop(code))
    if not groups:
        raise LayerFormatError(
            "geocode.empty",
            f"no usable boundary in {rows} features (dropped: {_counts(skipped)})",
            str(source),
        )
    ordered = sorted(groups)
    merged = [_union([polygonal[i] for i in groups[c]]) for c in ordered]
    notes = []
    if numeric:
        notes.append(
            f"{code_field!r} is a numeric field: codes are written as integers, so leading zeros "
            "(SAME, FIPS6) are lost unless the file keeps codes as text"
        )
    if skipped["bad_code"]:
        notes.append(f"codes dropped as bad_code are never looked up under {scheme!r}")
    west, south, east, north = shapely.total_bounds(np.asarray(merged, dtype=object)).tolist()
    summary: dict[str, Any] = {
        "scheme": scheme,
        "key": key,
        "codes": len(ordered),
        "rows": rows,
        "skipped": skipped,
        "repaired": repaired,
        # Features that joined another of the same code (a code's islands, one feature each).
        "merged": len(kept) - skipped["bad_code"] - len(ordered),
        "source": source.name,
        "layer": layer,
        "code_field": code_field,
        "name_field": name_field,
        "crs": declared,
        "reprojected": reprojected,
        "bbox": [west, south, east, north],
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": notes,
    }
    _write(
        Path(data_dir) / GEOCODES_DIR / f"{key}{SUFFIX}",
        codes=ordered,
        names=[_first_name(names, groups[c]) for c in ordered],
        geometries=merged,
        summary=summary,
    )
    return summary


def list_geocode_tables(data_dir: str | Path) -> list[dict[str, Any]]:
    """The imported tables, one summary each (as written at import), by scheme key."""
    found = []
    for path in _table_files(data_dir):
        try:
            found.append(_summary_of(path))
        except (OSError, ValueError, pa.ArrowException) as exc:
            found.append({"key": path.stem, "error": f"unreadable table: {exc}"})
    return found


def load_gazetteer(data_dir: str | Path) -> Gazetteer:
    """The packaged countries (ISO 3166-1) and every imported boundary table, as a Gazetteer."""
    tables: dict[str, dict[str, BaseGeometry]] = {}
    for path in _table_files(data_dir):
        try:
            scheme = _summary_of(path)["scheme"]
            table = pq.read_table(path, columns=["code", "geometry"])
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            # One damaged file must not stop the service: its codes stay unresolved, reported.
            log.warning("geocode table left out", extra={"file": str(path), "error": str(exc)})
            continue
        geometries = shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False))
        tables[scheme] = dict(zip(table["code"].to_pylist(), geometries.tolist(), strict=True))
    return Gazetteer(default_countries(), tables)


# --- reading the operator's file ---------------------------------------------------------------


def _check_scheme(scheme: str, key: str) -> None:
    if not key:
        raise LayerFormatError("geocode.scheme", f"scheme {scheme!r} has no letters or digits")
    probe = Gazetteer(None, {scheme: dict.fromkeys(_PROBE_CODES, shapely.Point(0.0, 0.0))})
    if all(probe.resolve(scheme, code) is None for code in _PROBE_CODES):
        raise LayerFormatError(
            "geocode.scheme",
            f"{scheme!r} codes are not looked up in a table: ISO 3166-1 country codes come from the "
            "packaged Natural Earth countries; import subdivisions as 'ISO 3166-2'",
        )


def _boundary_layer(source: Path, code_field: str) -> tuple[str, dict[str, Any]]:
    """The layer with geometry that has `code_field` (the first, when several have it)."""
    try:
        layers = [(str(n), g) for n, g in pyogrio.list_layers(str(source))]
        spatial = [name for name, geometry_type in layers if geometry_type is not None]
        infos = {name: pyogrio.read_info(str(source), layer=name) for name in spatial}
    except (DataSourceError, DataLayerError) as exc:
        raise LayerFormatError(
            "geocode.file",
            "not a boundary file (GeoJSON, GeoPackage, shapefile or its zip) that GDAL can read",
            str(source),
        ) from exc
    if not spatial:
        raise LayerFormatError("geocode.file", "the file has no layer with geometry", str(source))
    if all(info["features"] == 0 for info in infos.values()):
        raise LayerFormatError("geocode.empty", "the file has no features", str(source))
    for name, info in infos.items():
        if code_field in [str(f) for f in info["fields"]]:
            return name, info
    first = spatial[0]
    fields = ", ".join(str(f) for f in infos[first]["fields"]) or "none"
    raise LayerFormatError(
        "geocode.code-field",
        f"no field {code_field!r} in layer {first!r}; its fields: {fields}",
        str(source),
    )


def _codes(column: pa.ChunkedArray) -> tuple[list[str | None], bool]:
    """Codes normalised as `geo.gazetteer` keys them; whether the field was numeric."""
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    codes: list[str | None] = []
    for value in column.to_pylist():
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = code_key(str(value)) if value is not None else ""
        codes.append(text or None)
    return codes, numeric


def _to_lon_lat(
    geometries: np.ndarray, present: np.ndarray, crs: str | None, source: Path
) -> tuple[str | None, bool]:
    """Reproject in place to lon/lat when the file declares another CRS; none declared is
    read as lon/lat (RFC 7946 §4 for GeoJSON). Returns the declared CRS and whether it moved."""
    if not crs:
        return None, False
    try:
        declared = CRS.from_user_input(crs)
    except CRSError as exc:
        raise LayerFormatError("geocode.crs", f"the file's CRS cannot be read: {exc}", str(source)) from exc
    if declared.equals(WGS84, ignore_axis_order=True):
        return crs, False
    transformer = Transformer.from_crs(declared, WGS84, always_xy=True)

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    geometries[present] = shapely.transform(geometries[present], to_wgs84)
    return crs, True


def _in_lon_lat_range(geometries: np.ndarray) -> np.ndarray:
    bounds = shapely.bounds(geometries)  # NaN for missing or empty: every comparison is false
    with np.errstate(invalid="ignore"):
        return (
            (bounds[:, 0] >= -180.0 - RANGE_SLACK)
            & (bounds[:, 2] <= 180.0 + RANGE_SLACK)
            & (bounds[:, 1] >= -90.0 - RANGE_SLACK)
            & (bounds[:, 3] <= 90.0 + RANGE_SLACK)
        )


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the polygons of a repaired geometry: a geocode names a region, not a line or point."""
    kind = shapely.get_type_id(geometry)
    if kind in (_POLYGON, _MULTIPOLYGON):
        return geometry
    if kind != _COLLECTION:
        return Polygon()
    parts = [p for g in geometry.geoms for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon)]
    return MultiPolygon(parts) if parts else Polygon()


def _union(pieces: list[BaseGeometry]) -> BaseGeometry:
    # A code may come as several features (islands, a split across files): one geometry each.
    return pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)


def _first_name(names: list[Any], rows: list[int]) -> str | None:
    return next((str(names[i]) for i in rows if names[i] not in (None, "")), None)


def _counts(skipped: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in skipped.items() if n) or "nothing"


# --- the stored tables ---------------------------------------------------------------------------


def _table_files(data_dir: str | Path) -> list[Path]:
    folder = Path(data_dir) / GEOCODES_DIR
    # A dot name is an import's staging file, not a table.
    return sorted(p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith("."))


def _summary_of(path: Path) -> dict[str, Any]:
    metadata = pq.read_schema(path).metadata or {}
    if META_KEY not in metadata:
        raise ValueError("no import summary in the file")
    summary: dict[str, Any] = json.loads(metadata[META_KEY])
    return summary


def _write(
    target: Path,
    *,
    codes: list[str],
    names: list[str | None],
    geometries: list[BaseGeometry],
    summary: dict[str, Any],
) -> None:
    # GeoParquet 1.1 metadata (no crs member: OGC:CRS84), so other tools can open the table too.
    geo = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"]}},
    }
    table = pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "name": pa.array(names, pa.string()),
            "geometry": pa.array(shapely.to_wkb(np.asarray(geometries, dtype=object)).tolist(), pa.binary()),
        }
    ).replace_schema_metadata({META_KEY: json.dumps(summary), b"geo": json.dumps(geo)})
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=SUFFIX)
    os.close(handle)
    try:
        pq.write_table(table, staging)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
