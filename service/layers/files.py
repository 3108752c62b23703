"""Connectivity layer files: import operator files into `data_dir/layers/`, list and load them.

Each table is a directory of `.npy` columns (in index order, so loading is a memory map, not a
parse) plus `meta.json`; landing points add `entries.json`. Imports replace a directory in one
rename, so a reader never sees half a layer.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from geo.layers import (
    CellSites,
    ConnectivityLayer,
    LandingPoint,
    LandingPoints,
    LayerFormatError,
    PerformanceTiles,
    PointLayer,
    PopulationGrid,
    parse_landing_points,
    parse_ookla,
    parse_opencellid,
    parse_population_csv,
    period_from_name,
    population_from_h3,
)

_Table = TypeVar("_Table", bound=PointLayer)

KINDS = ("opencellid", "ookla", "cables", "population")
# Names the API used before it took the command line's: the API still answers to them.
OLDER_NAMES = {"cells": "opencellid", "landings": "cables"}


@dataclass(frozen=True, slots=True)
class LayerKind:
    """One kind of layer an operator imports: what it holds, where it comes from, the files
    `import_layer` reads, and the licence its data carries (never shipped with Tampere)."""

    name: str
    holds: str
    source: str
    files: str
    licence: str

    def as_json(self) -> dict[str, str]:
        """JSON form (GET /api/v1/layers `kinds`)."""
        return asdict(self)


# One entry per KINDS name: `tampere layer import --help` and GET /api/v1/layers show these.
LAYER_KINDS: dict[str, LayerKind] = {
    kind.name: kind
    for kind in (
        LayerKind(
            "opencellid",
            "cell sites: radio, network, position (the impact's `sites`)",
            "OpenCelliD cell export (opencellid.org, Unwired Labs)",
            "CSV or CSV.gz, with its header line (full export) or without (per-country MCC files "
            "such as 639.csv.gz); imports merge, the newer `updated` wins",
            "CC BY-SA 4.0: attribute OpenCelliD; share-alike",
        ),
        LayerKind(
            "ookla",
            "measured download, upload and latency per tile and quarter (the impact's `performance`)",
            "Ookla Speedtest Intelligence open data, fixed or mobile tiles",
            "GeoJSON or Parquet tiles of one quarter; the quarter (YYYYQn) from the file name "
            "(..._2023Q1.geojson, year=2023/quarter=1/...) or --period",
            "CC BY-NC-SA 4.0: attribute Ookla; non-commercial; share-alike",
        ),
        LayerKind(
            "cables",
            "submarine cable landing points and their cables (the impact's `landing_points`)",
            "TeleGeography Submarine Cable Map, its 2022 open snapshot (open_undersea_cable_map)",
            "the snapshot's folder, or its landing-point-geo.json (GeoJSON points; "
            "landing-points.json beside it adds countries and cables)",
            "CC BY-NC-SA 3.0: attribute TeleGeography; non-commercial; share-alike",
        ),
        LayerKind(
            "population",
            "people per grid cell, counted at the cell centre (the impact's `population`)",
            "Kontur Population (H3 resolution 8), or WorldPop / GHSL GHS-POP rasters as cell centres",
            "Kontur GeoPackage (.gpkg or .gpkg.gz, columns h3 and population), or CSV with "
            "columns h3,population or lon,lat,population (plain or gzip)",
            "CC BY 4.0: attribute the source",
        ),
    )
}
_PERIOD = re.compile(r"^\d{4}Q[1-4]$")
_CABLE_POINTS = "landing-point-geo.json"
_CABLE_DETAILS = "landing-points.json"


def import_layer(
    kind: str, path: str | Path, data_dir: str | Path, *, period: str | None = None
) -> dict[str, Any]:
    """Import an operator's file into the data directory; returns a summary of what was kept.

    opencellid: CSV or CSV.gz, merged into the cells already held (newer `updated` wins).
    ookla: GeoJSON or Parquet tiles of one quarter (`period`, else taken from the file name).
    cables: the TeleGeography folder, or its landing-point-geo.json (landing-points.json beside
    it is read too). population: Kontur H3 GeoPackage (.gpkg, .gpkg.gz) or CSV.
    """
    source = Path(path)
    layers = Path(data_dir) / "layers"
    if kind not in KINDS:
        older = OLDER_NAMES.get(kind)
        hint = f"; {kind} is now called {older}" if older else ""
        raise LayerFormatError("layer.kind", f"unknown layer kind {kind!r} (one of {', '.join(KINDS)}){hint}")
    if not source.exists():
        raise LayerFormatError("layer.file", "no such file or directory", str(source))
    if kind == "opencellid":
        fresh = parse_opencellid(_read(source))
        target = layers / "cells"
        held = _load_table(target, CellSites) if target.exists() else None
        cells = held.merged_with(fresh) if held is not None else fresh
        meta = _write(target, cells, kind, source, extra={"imported_rows": len(fresh)})
    elif kind == "ookla":
        quarter = period or period_from_name(source.as_posix())
        if quarter is None or not _PERIOD.match(quarter):
            raise LayerFormatError(
                "layer.period",
                f"give the quarter as YYYYQn (got {quarter!r}); none is in the file name",
                str(source),
            )
        tiles = parse_ookla(_read(source), period=quarter)
        meta = _write(layers / "performance" / quarter, tiles, kind, source, extra={"period": quarter})
    elif kind == "cables":
        points_file = source / _CABLE_POINTS if source.is_dir() else source
        details_file = points_file.with_name(_CABLE_DETAILS)
        details = _read(details_file) if details_file.exists() and details_file != points_file else None
        landings = parse_landing_points(_read(points_file), details)
        entries = json.dumps([asdict(e) for e in landings.entries])
        meta = _write(layers / "landings", landings, kind, source, files={"entries.json": entries})
    else:
        grid = _read_population(source, layers)
        meta = _write(layers / "population", grid, kind, source, extra=_population_extra(grid))
    return meta


def list_layers(data_dir: str | Path) -> list[dict[str, Any]]:
    """What is held: one summary per table (one per Ookla quarter), as written at import."""
    layers = Path(data_dir) / "layers"
    found = sorted(layers.glob("*/meta.json")) + sorted(layers.glob("performance/*/meta.json"))
    return [json.loads(meta.read_text(encoding="utf-8")) for meta in found if not _in_progress(meta)]


def load_connectivity(data_dir: str | Path) -> ConnectivityLayer:
    """The connectivity layer held in the data directory (columns memory-mapped)."""
    layers = Path(data_dir) / "layers"
    layer = ConnectivityLayer()
    if (layers / "cells" / "meta.json").exists():
        layer.cells = _load_table(layers / "cells", CellSites)
    for meta in sorted(layers.glob("performance/*/meta.json")):
        if _in_progress(meta):
            continue
        quarter = meta.parent.name
        columns = _columns(meta.parent)
        layer.performance[quarter] = PerformanceTiles(columns, period=quarter)
    if (layers / "landings" / "meta.json").exists():
        entries = json.loads((layers / "landings" / "entries.json").read_text(encoding="utf-8"))
        layer.landings = LandingPoints(
            _columns(layers / "landings"),
            entries=[LandingPoint(**{**e, "cables": tuple(e["cables"])}) for e in entries],
        )
    if (layers / "population" / "meta.json").exists():
        layer.population = _load_table(layers / "population", PopulationGrid)
    return layer


def _in_progress(meta: Path) -> bool:
    # pathlib's "*" matches dot names too: an import's staging or retired copy is no table.
    return meta.parent.name.startswith(".")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LayerFormatError("layer.file", f"cannot read: {exc.strerror}", str(path)) from exc


def _read_population(source: Path, layers: Path) -> PopulationGrid:
    name = source.name.lower()
    if name.endswith((".gpkg", ".gpkg.gz")):
        layers.mkdir(parents=True, exist_ok=True)
        if name.endswith(".gz"):
            # SQLite reads files, not streams: unpack next to the layers, then drop it.
            with (
                tempfile.NamedTemporaryFile(dir=layers, suffix=".gpkg", delete=False) as tmp,
                gzip.open(source, "rb") as packed,
            ):
                shutil.copyfileobj(packed, tmp)
            try:
                return _read_kontur(Path(tmp.name), source)
            finally:
                os.unlink(tmp.name)
        return _read_kontur(source, source)
    raw = _read(source)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return parse_population_csv(raw)


def _read_kontur(gpkg: Path, shown: Path) -> PopulationGrid:
    """Kontur Population: a GeoPackage feature table with columns `h3` and `population`."""
    try:
        con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LayerFormatError("population.gpkg", f"cannot open: {exc}", str(shown)) from exc
    try:
        found = con.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'").fetchall()
        for (table,) in found:
            quoted = '"' + str(table).replace('"', '""') + '"'
            names = {row[1].lower() for row in con.execute(f"PRAGMA table_info({quoted})")}
            if {"h3", "population"} <= names:
                rows = con.execute(f"SELECT h3, population FROM {quoted}").fetchall()
                cells = [r[0] for r in rows]
                people = np.asarray([r[1] if r[1] is not None else np.nan for r in rows], float)
                return population_from_h3(cells, people)
    except sqlite3.DatabaseError as exc:
        raise LayerFormatError("population.gpkg", f"not a GeoPackage: {exc}", str(shown)) from exc
    finally:
        con.close()
    raise LayerFormatError("population.gpkg", "no feature table with columns h3 and population", str(shown))


def _population_extra(grid: PopulationGrid) -> dict[str, Any]:
    return {"population": round(float(grid["population"].sum()))}


def _write(
    target: Path,
    table: PointLayer,
    kind: str,
    source: Path,
    *,
    extra: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta = {
        "kind": kind,
        "table": target.name,
        "rows": len(table),
        "skipped": table.skipped,
        "source": source.name,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    for name, values in table.columns.items():
        np.save(staging / f"{name}.npy", np.ascontiguousarray(values))
    for name, text in (files or {}).items():
        (staging / name).write_text(text, encoding="utf-8")
    (staging / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    if target.exists():
        retired = target.with_name(f".{target.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)
    return meta


def _columns(folder: Path) -> dict[str, np.ndarray]:
    return {f.stem: np.load(f, mmap_mode="r") for f in sorted(folder.glob("*.npy"))}


def _load_table(folder: Path, cls: type[_Table]) -> _Table:
    return cls(_columns(folder))
