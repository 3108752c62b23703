"""Measured performance from Ookla open-data tiles: one table of tile centres per period."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from geo.layers.index import Selection
from geo.layers.points import LayerFormatError, PointLayer

# The Ookla open-data tile attributes (the Parquet files add `tile`, a WKT polygon).
METRICS = ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices")
_PERIOD = re.compile(r"(?P<year>(?:19|20)\d\d)[-_ ]?[Qq](?P<quarter>[1-4])")
_HIVE_PERIOD = re.compile(r"year=(?P<year>\d{4}).*quarter=(?P<quarter>[1-4])")


@dataclass(frozen=True, slots=True)
class Performance:
    """Tests-weighted means over the tiles of an area in one period (Ookla's own method)."""

    period: str
    tiles: int
    tests: int
    devices: int
    download_mbps: float | None
    upload_mbps: float | None
    latency_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "period": self.period,
            "tiles": self.tiles,
            "tests": self.tests,
            "devices": self.devices,
            "download_mbps": _round(self.download_mbps),
            "upload_mbps": _round(self.upload_mbps),
            "latency_ms": _round(self.latency_ms),
        }


class PerformanceTiles(PointLayer):
    """Ookla tiles of one period, each placed at its centre, with tests-weighted sums."""

    def __init__(self, columns: dict[str, np.ndarray], *, period: str, **kwargs: Any) -> None:
        columns = dict(columns)
        tests = columns["tests"].astype(np.float64)
        # Products with `tests` make the weighted means a sum over slices (see PointLayer.sum).
        for metric in ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms"):
            if f"{metric}_x_tests" not in columns:
                columns[f"{metric}_x_tests"] = columns[metric] * tests
        super().__init__(columns, **kwargs)
        self.period = period

    def summarise(self, selection: Selection) -> Performance:
        """Tiles, tests, devices and tests-weighted mean speeds and latency of a selection."""
        tests = int(self.sum(selection, "tests"))

        def weighted(metric: str, scale: float) -> float | None:
            if tests == 0:
                return None
            return float(self.sum(selection, f"{metric}_x_tests")) / tests / scale

        return Performance(
            period=self.period,
            tiles=selection.count(),
            tests=tests,
            devices=int(self.sum(selection, "devices")),
            download_mbps=weighted("avg_d_kbps", 1000.0),
            upload_mbps=weighted("avg_u_kbps", 1000.0),
            latency_ms=weighted("avg_lat_ms", 1.0),
        )


def period_from_name(name: str) -> str | None:
    """The quarter a file name speaks of ("…_2023Q1.geojson", "year=2023/quarter=1/…")."""
    found = _PERIOD.search(name) or _HIVE_PERIOD.search(name)
    return f"{found['year']}Q{found['quarter']}" if found else None


def parse_ookla(data: bytes | BinaryIO, *, period: str) -> PerformanceTiles:
    """Read Ookla open-data tiles (GeoJSON FeatureCollection or Parquet) of one period."""
    raw = data if isinstance(data, bytes) else data.read()
    if raw[:4] == b"PAR1":
        try:
            table = pq.read_table(io.BytesIO(raw), columns=["quadkey", *METRICS])
        except (pa.ArrowInvalid, KeyError) as exc:
            raise LayerFormatError("ookla.parquet", str(exc).splitlines()[0]) from exc
        quadkeys = np.asarray(table["quadkey"].to_pylist(), dtype=object)
        values = {m: table[m].to_numpy(zero_copy_only=False) for m in METRICS}
    else:
        quadkeys, values = _from_geojson(raw)
    lon, lat = quadkey_centres(quadkeys)
    columns = {
        "lon": lon,
        "lat": lat,
        "avg_d_kbps": np.asarray(values["avg_d_kbps"], dtype=np.float64),
        "avg_u_kbps": np.asarray(values["avg_u_kbps"], dtype=np.float64),
        "avg_lat_ms": np.asarray(values["avg_lat_ms"], dtype=np.float64),
        "tests": np.asarray(values["tests"], dtype=np.int64),
        "devices": np.asarray(values["devices"], dtype=np.int64),
    }
    for name in ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms"):
        if np.isnan(columns[name]).any():
            row = int(np.flatnonzero(np.isnan(columns[name]))[0])
            raise LayerFormatError("ookla.value", f"{name} is missing", f"tile {row}")
    return PerformanceTiles(columns, period=period)


def _from_geojson(raw: bytes) -> tuple[np.ndarray, dict[str, list[float]]]:
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayerFormatError("ookla.json", f"not JSON: {exc}") from exc
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise LayerFormatError("ookla.json", "expected a GeoJSON FeatureCollection", "/")
    quadkeys: list[str] = []
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict) or "quadkey" not in props:
            raise LayerFormatError("ookla.tile", "feature has no quadkey property", f"/features/{i}")
        quadkeys.append(str(props["quadkey"]))
        for metric in METRICS:
            value = props.get(metric)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise LayerFormatError(
                    "ookla.value",
                    f"{metric} must be a number, got {value!r}",
                    f"/features/{i}/properties/{metric}",
                )
            values[metric].append(value)
    return np.asarray(quadkeys, dtype=object), values


def quadkey_centres(quadkeys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the centre of each Bing quadkey tile (Web Mercator, any zoom), vectorised."""
    keys = np.asarray(quadkeys, dtype=object).astype(str)
    lon = np.empty(len(keys))
    lat = np.empty(len(keys))
    lengths = np.char.str_len(keys) if len(keys) else np.empty(0, dtype=np.int64)
    for zoom in np.unique(lengths):
        rows = np.flatnonzero(lengths == zoom)
        digits = keys[rows].astype(f"S{zoom}").view(np.uint8).reshape(len(rows), zoom) - ord("0")
        if zoom == 0 or (digits > 3).any():
            bad = int(rows[np.flatnonzero((digits > 3).any(axis=1))[0]]) if zoom else int(rows[0])
            raise LayerFormatError("ookla.quadkey", f"not a quadkey: {keys[bad]!r}", f"tile {bad}")
        weights = 1 << np.arange(zoom - 1, -1, -1, dtype=np.int64)
        x = (digits & 1).astype(np.int64) @ weights
        y = (digits >> 1).astype(np.int64) @ weights
        n = float(1 << int(zoom))
        lon[rows] = (x + 0.5) / n * 360.0 - 180.0
        lat[rows] = np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * (y + 0.5) / n))))
    return lon, lat


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
