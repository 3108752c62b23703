"""Submarine cable landing points (TeleGeography open snapshot layout)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.layers.index import Selection
from geo.layers.points import LayerFormatError, PointLayer


@dataclass(frozen=True, slots=True)
class LandingPoint:
    """A landing station: its id, name, country (as TeleGeography names it) and cables."""

    id: str
    name: str
    country: str | None = None
    cables: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "name": self.name, "country": self.country, "cables": list(self.cables)}


class LandingPoints(PointLayer):
    """Landing points as a point table; column `entry` points into `entries`."""

    def __init__(
        self, columns: dict[str, np.ndarray], *, entries: Sequence[LandingPoint], **kwargs: Any
    ) -> None:
        super().__init__(columns, **kwargs)
        self.entries = tuple(entries)

    def within(self, selection: Selection) -> list[LandingPoint]:
        """The selected landing points, by name."""
        found = self.columns["entry"][selection.indices()]
        return sorted((self.entries[i] for i in found.tolist()), key=lambda p: (p.name, p.id))


def parse_landing_points(geojson: bytes, details: bytes | None = None) -> LandingPoints:
    """Read `landing-point-geo.json` (Point features with id, name) and, when given,
    `landing-points.json` (id, country, cables per point) from the TeleGeography snapshot."""
    doc = _json(geojson, "cables.json")
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise LayerFormatError("cables.json", "expected a GeoJSON FeatureCollection", "/")
    extra = _details(details) if details is not None else {}
    lon: list[float] = []
    lat: list[float] = []
    entries: list[LandingPoint] = []
    for i, feature in enumerate(features):
        place = f"/features/{i}"
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            raise LayerFormatError("cables.point", "landing point must be a Point", place)
        x, y = _position(geometry.get("coordinates"), place)
        if not isinstance(props, dict) or not props.get("id"):
            raise LayerFormatError("cables.point", "landing point has no id", place)
        point_id = str(props["id"])
        known = extra.get(point_id, {})
        lon.append(x)
        lat.append(y)
        entries.append(
            LandingPoint(
                id=point_id,
                name=str(props.get("name") or known.get("name") or point_id),
                country=known.get("country"),
                cables=tuple(known.get("cables", ())),
            )
        )
    columns = {
        "lon": np.asarray(lon, dtype=np.float64),
        "lat": np.asarray(lat, dtype=np.float64),
        "entry": np.arange(len(entries), dtype=np.int32),
    }
    return LandingPoints(columns, entries=entries)


def _details(data: bytes) -> dict[str, dict[str, Any]]:
    doc = _json(data, "cables.details")
    if not isinstance(doc, list):
        raise LayerFormatError("cables.details", "expected a list of landing points", "/")
    out: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(doc):
        if not isinstance(item, dict) or "id" not in item:
            raise LayerFormatError("cables.details", "entry has no id", f"/{i}")
        cables = [c.get("name") or c.get("id") for c in item.get("cables") or [] if isinstance(c, dict)]
        out[str(item["id"])] = {
            "name": item.get("name"),
            "country": item.get("country"),
            "cables": sorted(str(c) for c in cables if c),
        }
    return out


def _position(coordinates: object, place: str) -> tuple[float, float]:
    if (
        isinstance(coordinates, list)
        and len(coordinates) >= 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in coordinates[:2])
        and abs(coordinates[0]) <= 180
        and abs(coordinates[1]) <= 90
    ):
        return float(coordinates[0]), float(coordinates[1])
    raise LayerFormatError(
        "cables.point", f"coordinates must be [lon, lat] in range, got {coordinates!r}", place
    )


def _json(data: bytes, rule: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayerFormatError(rule, f"not JSON: {exc}") from exc
