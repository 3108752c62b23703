"""NWS CAP-as-GeoJSON (api.weather.gov /alerts): a FeatureCollection converted to CAP alerts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from cap.feeds.conversion import JsonFields, SpecialDate, pointer
from cap.feeds.model import GEOJSON, Feed, FeedEntry
from cap.model import Alert, Area, Info, LatLon, Reference

# The api.weather.gov test and load-testing data write times relative to the moment they are
# served: "date:now -235 seconds", "date:today 16:00:-5 +24 hours". They name an instant only
# given a clock, so they are resolved against `now` and reported as a warning.
_TEMPLATE = re.compile(
    r"^date:(?:now|today (\d{1,2}):(\d{2}):([+-]?\d{1,2}))"
    r"(?:\s+([+-]?)(\d{1,9})\s+(second|minute|hour|day)s?)?$"
)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def date_template_resolver(now: datetime) -> SpecialDate:
    """A reader of api.weather.gov's relative date templates, resolved against `now`."""

    def resolve(text: str) -> datetime | None:
        m = _TEMPLATE.match(text.strip())
        if m is None:
            return None
        hour, minute, offset, sign, amount, unit = m.groups()
        base = now
        if hour is not None:
            if int(hour) > 23 or int(minute) > 59 or abs(int(offset)) > 14:
                return None
            zone = timezone(timedelta(hours=int(offset)))
            base = now.astimezone(zone).replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
        if amount is not None:
            try:
                step = timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])
                base = base - step if sign == "-" else base + step
            except OverflowError:  # beyond year 1..9999
                return None
        return base

    return resolve


def is_geojson(doc: object) -> bool:
    """True for a GeoJSON FeatureCollection or Feature."""
    return isinstance(doc, dict) and doc.get("type") in ("FeatureCollection", "Feature")


def _ring(fields: JsonFields, ring: Any, where: str) -> tuple[LatLon, ...] | None:
    # GeoJSON positions are [lon, lat] (RFC 7946 §3.1.1); CAP polygons are lat,lon pairs with
    # at least four points, first equal to last (CAP 1.2 §3.2.4).
    points: list[LatLon] = []
    for position in ring if isinstance(ring, list) else []:
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in position)
            or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90)
        ):
            fields.add("invalid-geometry", "a position is not [lon, lat] in range", where)
            return None
        points.append((float(position[1]), float(position[0])))
    if len(points) < 4 or points[0] != points[-1]:
        fields.add(
            "invalid-geometry",
            "a polygon ring needs at least four positions, the first equal to the last",
            where,
        )
        return None
    return tuple(points)


def _polygons(fields: JsonFields, geometry: Any, where: str) -> list[tuple[LatLon, ...]]:
    if geometry is None:
        return []  # zone-based alerts: the area is in the geocodes
    if not isinstance(geometry, dict):
        fields.add("invalid-geometry", "geometry must be an object or null", where)
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
    if polygons is None or not isinstance(polygons, list):
        fields.add("unsupported-geometry", f"{kind!r} geometry is not read as a CAP area", where)
        return []
    out: list[tuple[LatLon, ...]] = []
    for i, rings in enumerate(polygons):
        at = pointer(pointer(where, "coordinates"), i)
        if not isinstance(rings, list) or not rings:
            fields.add("invalid-geometry", "a polygon needs an exterior ring", at)
            continue
        if len(rings) > 1:
            fields.add("polygon-holes", "CAP polygons have no holes; inner rings are dropped", at)
        ring = _ring(fields, rings[0], at)
        if ring is not None:
            out.append(ring)
    return out


def _references(fields: JsonFields, props: dict[str, Any], path: str) -> list[Reference]:
    value = props.get("references")
    if value is None:
        return []
    if isinstance(value, str):
        return fields.references_text(value, pointer(path, "references"))
    if not isinstance(value, list):
        fields.add("wrong-type", "references must be a list", pointer(path, "references"))
        return []
    refs: list[Reference] = []
    for i, ref in enumerate(value):
        at = pointer(pointer(path, "references"), i)
        if not isinstance(ref, dict):
            fields.add("wrong-type", "a reference must be an object", at)
            continue
        found = fields.reference(ref, at)
        if found is not None:
            refs.append(found)
    return refs


def _info(fields: JsonFields, props: dict[str, Any], geometry: Any, path: str, gpath: str) -> Info:
    category = fields.choice(props, "category", path, "category")
    response = fields.choice(props, "response", path, "responseType", required=False)
    area = Area(
        area_desc=fields.text(props, "areaDesc", path, required=True) or "",
        polygons=_polygons(fields, geometry, gpath),
        geocodes=fields.named_values(props, "geocode", path),
    )
    return Info(
        **fields.info_fields(props, path),
        categories=[category] if category else [],
        response_types=[response] if response else [],
        parameters=fields.named_values(props, "parameters", path),
        areas=[area],
    )


def _entry(feature: Any, path: str, special_date: SpecialDate) -> FeedEntry:
    fields = JsonFields("feed.geojson", special_date=special_date)
    entry = FeedEntry(path=path or "/")
    props = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(props, dict):
        fields.add("missing-member", "a feature needs a properties object", path)
        entry.errors = fields.errors
        return entry
    ppath = pointer(path, "properties")
    identifier = fields.name(props, "id", ppath, rule="identifier-chars")
    sender = fields.name(props, "sender", ppath, rule="sender-chars")
    sent = fields.when(props, "sent", ppath, required=True)
    status = fields.choice(props, "status", ppath, "status")
    msg_type = fields.choice(props, "messageType", ppath, "msgType")
    # api.weather.gov serves only public alerts and leaves scope out of most responses.
    scope = fields.choice(props, "scope", ppath, "scope", required=False) or "Public"
    info = _info(fields, props, feature.get("geometry"), ppath, pointer(path, "geometry"))
    codes = fields.texts(props, "code", ppath)
    references = _references(fields, props, ppath)
    entry.id, entry.title, entry.updated = identifier, info.headline or info.event, sent
    if not fields.fatal and identifier and sender and sent and status and msg_type:
        entry.alert = Alert(
            identifier=identifier,
            sender=sender,
            sent=sent,
            status=status,
            msg_type=msg_type,
            scope=scope,
            codes=codes,
            references=references,
            infos=[info],
        )
    entry.errors, entry.warnings = fields.errors, fields.warnings
    return entry


def read_geojson(doc: dict[str, Any], *, now: datetime) -> Feed:
    """Convert an NWS CAP-GeoJSON FeatureCollection (or one Feature) into CAP alerts."""
    feed = Feed(kind=GEOJSON)
    special_date = date_template_resolver(now)
    if doc.get("type") == "Feature":
        feed.entries.append(_entry(doc, "", special_date))
        return feed
    features = doc.get("features")
    if not isinstance(features, list):
        feed.add(
            "feed.geojson.missing-features",
            "a FeatureCollection needs a features list (RFC 7946 §3.3)",
            "/features",
        )
        return feed
    title = doc.get("title")
    feed.title = title if isinstance(title, str) else None
    for i, feature in enumerate(features):
        feed.entries.append(_entry(feature, pointer("/features", i), special_date))
    if not feed.entries:
        feed.add("feed.geojson.no-entries", "the collection has no features", "/features")
    return feed
