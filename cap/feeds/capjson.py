"""CAP-JSON as German BBK/MoWaS publishes it: CAP 1.2 element names as JSON members."""

from __future__ import annotations

from typing import Any

from cap.feeds.conversion import JsonFields, pointer
from cap.feeds.coordinates import parse_circle, parse_polygon
from cap.feeds.model import CAP_JSON, Feed, FeedEntry
from cap.model import Alert, Area, Info, Reference, Resource

_OPTIONAL_TEXT = ("source", "restriction", "addresses", "note", "incidents")


def is_cap_json(doc: object) -> bool:
    """True for one CAP-JSON alert object, or a list of them."""
    if isinstance(doc, list):
        return bool(doc) and all(isinstance(d, dict) and "identifier" in d for d in doc)
    return isinstance(doc, dict) and "identifier" in doc and "sender" in doc


def _objects(fields: JsonFields, obj: dict[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
    """A member holding one object or a list of them, with each one's JSON Pointer."""
    value = obj.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[tuple[str, Any]] = []
    for i, item in enumerate(items):
        at = pointer(pointer(path, key), i) if isinstance(value, list) else pointer(path, key)
        if isinstance(item, dict):
            out.append((at, item))
        else:
            fields.add("wrong-type", f"{key} must hold objects", at)
    return out


def _float(fields: JsonFields, obj: dict[str, Any], key: str, path: str) -> float | None:
    text = fields.text(obj, key, path)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        fields.add("invalid-number", f"{key} {text!r} is not a number", pointer(path, key))
        return None


def _area(fields: JsonFields, obj: dict[str, Any], path: str) -> Area:
    # CAP 1.2 §3.2.4 text forms.
    polygon_form = "at least four lat,lon pairs, the first equal to the last"
    polygons = fields.parsed_texts(obj, "polygon", path, parse_polygon, polygon_form)
    circles = fields.parsed_texts(obj, "circle", path, parse_circle, '"lat,lon radius"')
    return Area(
        area_desc=fields.text(obj, "areaDesc", path, required=True) or "",
        polygons=polygons,
        circles=circles,
        geocodes=fields.named_values(obj, "geocode", path),
        altitude=_float(fields, obj, "altitude", path),
        ceiling=_float(fields, obj, "ceiling", path),
    )


def _resource(fields: JsonFields, obj: dict[str, Any], path: str) -> Resource:
    size = _float(fields, obj, "size", path)
    return Resource(
        resource_desc=fields.text(obj, "resourceDesc", path, required=True) or "",
        mime_type=fields.text(obj, "mimeType", path, required=True) or "",
        size=int(size) if size is not None else None,
        uri=fields.text(obj, "uri", path),
        deref_uri=fields.text(obj, "derefUri", path),
        digest=fields.text(obj, "digest", path),
    )


def _info(fields: JsonFields, obj: dict[str, Any], path: str) -> Info:
    categories = fields.choices(obj, "category", path, "category")
    if not categories:
        fields.add("missing-member", "'category' is required", pointer(path, "category"))
    return Info(
        **fields.info_fields(obj, path),
        categories=categories,
        response_types=fields.choices(obj, "responseType", path, "responseType"),
        audience=fields.text(obj, "audience", path),
        contact=fields.text(obj, "contact", path),
        parameters=fields.named_values(obj, "parameter", path),
        resources=[_resource(fields, r, at) for at, r in _objects(fields, obj, "resource", path)],
        areas=[_area(fields, a, at) for at, a in _objects(fields, obj, "area", path)],
    )


def _references(fields: JsonFields, obj: dict[str, Any], path: str) -> list[Reference]:
    refs: list[Reference] = []
    for text in fields.texts(obj, "references", path):
        refs.extend(fields.references_text(text, pointer(path, "references")))
    return refs


def _entry(obj: Any, path: str) -> FeedEntry:
    fields = JsonFields("feed.cap-json")
    entry = FeedEntry(path=path or "/")
    if not isinstance(obj, dict):
        fields.add("wrong-type", "a CAP-JSON alert must be an object", path or "/")
        entry.errors = fields.errors
        return entry
    identifier = fields.name(obj, "identifier", path, rule="identifier-chars")
    sender = fields.name(obj, "sender", path, rule="sender-chars")
    sent = fields.when(obj, "sent", path, required=True)
    status = fields.choice(obj, "status", path, "status")
    msg_type = fields.choice(obj, "msgType", path, "msgType")
    scope = fields.choice(obj, "scope", path, "scope")
    infos = [_info(fields, i, at) for at, i in _objects(fields, obj, "info", path)]
    optional = {key: fields.text(obj, key, path) for key in _OPTIONAL_TEXT}
    codes = fields.texts(obj, "code", path)
    references = _references(fields, obj, path)
    entry.id, entry.updated = identifier, sent
    entry.title = next((i.headline or i.event for i in infos), None)
    if not fields.fatal and identifier and sender and sent and status and msg_type and scope:
        entry.alert = Alert(
            identifier=identifier,
            sender=sender,
            sent=sent,
            status=status,
            msg_type=msg_type,
            scope=scope,
            source=optional["source"],
            restriction=optional["restriction"],
            # CAP 1.2 §3.2.1: addresses and incidents are space-delimited lists in one string.
            addresses=(optional["addresses"] or "").split(),
            codes=codes,
            note=optional["note"],
            references=references,
            incidents=(optional["incidents"] or "").split(),
            infos=infos,
        )
    entry.errors, entry.warnings = fields.errors, fields.warnings
    return entry


def read_cap_json(doc: dict[str, Any] | list[Any]) -> Feed:
    """Convert one CAP-JSON alert, or a list of them, into CAP alerts."""
    feed = Feed(kind=CAP_JSON)
    if isinstance(doc, list):
        feed.entries = [_entry(obj, pointer("", i)) for i, obj in enumerate(doc)]
    else:
        feed.entries = [_entry(doc, "")]
    return feed
