"""Measured performance before and after: the same Ookla tiles (or grid cells) of two quarters
side by side, so a responder sees where service fell (ARCHITECTURE.md: measurement snapshots
before/after). Pure numpy: keys in, values joined by key out."""

from __future__ import annotations

import math

import numpy as np

# Ookla open-data tiles are Web Mercator tiles of zoom 16 (~610 m at the equator); the layer
# keeps their centres, from which each tile is found again.
OOKLA_ZOOM = 16
# Tests-weighted means compared (Ookla's own method, see geo.layers.ookla.Performance).
METRICS = {
    "download_mbps": ("avg_d_kbps", 1000.0),
    "upload_mbps": ("avg_u_kbps", 1000.0),
    "latency_ms": ("avg_lat_ms", 1.0),
}


def tile_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator tile column and row (zoom OOKLA_ZOOM) holding each point."""
    n = 1 << OOKLA_ZOOM
    x = np.floor((lon + 180.0) / 360.0 * n).astype(np.int64)
    y = np.floor((1.0 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2.0 * n).astype(np.int64)
    return np.clip(x, 0, n - 1), np.clip(y, 0, n - 1)


def tile_keys(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """One integer per Ookla tile: the same tile of two quarters has the same key."""
    x, y = tile_xy(lon, lat)
    return x * (1 << OOKLA_ZOOM) + y


def joined(keys: np.ndarray, earlier_keys: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """`earlier` values (rows of `earlier_keys`) put in the order of `keys`; NaN where the
    earlier quarter has no such tile or cell."""
    out = np.full(len(keys), np.nan)
    if len(earlier_keys) == 0 or len(keys) == 0:
        return out
    order = np.argsort(earlier_keys, kind="stable")
    sorted_keys = earlier_keys[order]
    at = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    found = sorted_keys[at] == keys
    out[found] = earlier[order[at[found]]]
    return out


def change(now: np.ndarray, before: np.ndarray) -> list[float | None]:
    """Relative change now/before - 1, rounded (-0.36: a third lower); None without a before
    or from zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = now / before - 1.0
    return [None if not math.isfinite(r) else round(r, 3) for r in ratio.tolist()]


def rounded(values: np.ndarray) -> list[float | None]:
    """Values rounded to 3 places for JSON, NaN as null."""
    return [None if not math.isfinite(v) else round(v, 3) for v in values.tolist()]
