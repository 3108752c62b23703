"""Writing an `Alert` back out: as CAP 1.2 XML, and as JSON (CAP element names as members).

`to_xml` writes what `cap.parse` reads back to an equal `Alert` (CAP 1.2 only; fractions of a
second are dropped because CAP 1.2 has none). `to_json`/`from_json` are lossless for the model
(CAP 1.0 passwords aside) and keep the version the alert was read from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from lxml import etree

from cap.errors import CapError
from cap.model import Alert, Area, Circle, Info, LatLon, NamedValue, Reference, Resource
from cap.schema import NS_12

_NS = "{" + NS_12 + "}"

# CAP 1.0 §3.2.2 certainty "Very Likely" (p > ~85%) has no CAP 1.1/1.2 value; "Likely"
# (p > ~50%) is the strongest claim that stays true ("Observed" would claim more).
_CERTAINTY_TO_12 = {"Very Likely": "Likely"}

JSON_RULE = "cap.json.format"
_T = TypeVar("_T")


# --- values as CAP writes them ---------------------------------------------------------------


def cap_datetime(dt: datetime) -> str:
    """A date-time in the CAP 1.2 form YYYY-MM-DDThh:mm:ss+hh:mm (CAP 1.2 §3.3.2)."""
    offset = dt.utcoffset()
    if offset is None:
        raise ValueError(f"{dt!r} has no time zone; CAP date-times need one (CAP 1.2 §3.3.2)")
    if offset % timedelta(minutes=1):
        # The CAP offset is hh:mm; an offset with seconds (old LMT zones) is written in UTC.
        dt, offset = dt.astimezone(UTC), timedelta(0)
    # CAP 1.2 §3.3.2 has no fractional seconds; a 1.0/1.1 fraction is dropped, not rounded up
    # into the next second.
    text = dt.replace(microsecond=0).isoformat(timespec="seconds")
    if not offset:
        # CAP 1.2 §3.3.2: "The timezone for UTC MUST be represented as -00:00".
        return text[:-6] + "-00:00"
    return text


def cap_number(x: float) -> str:
    """A finite number in plain decimal notation that reads back to the same float."""
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"{x!r} is not a finite number")
    # repr gives the shortest digits that read back exactly; Decimal lays them out without an
    # exponent, which the XSD decimal type (altitude, ceiling) and CAP consumers require.
    return format(Decimal(repr(value)), "f")


def _pair(point: LatLon) -> str:
    return f"{cap_number(point[0])},{cap_number(point[1])}"


def polygon_text(polygon: Iterable[LatLon]) -> str:
    """CAP 1.2 §3.2.4 polygon: whitespace-separated "lat,lon" pairs."""
    return " ".join(_pair(p) for p in polygon)


def circle_text(circle: Circle) -> str:
    """CAP 1.2 §3.2.4 circle: "lat,lon radius" with the radius in kilometres."""
    return f"{_pair((circle.lat, circle.lon))} {cap_number(circle.radius_km)}"


def _no_space_or_comma(value: str, what: str) -> str:
    if not value or any(c.isspace() or c == "," for c in value):
        raise ValueError(f"{what} {value!r} cannot be written in CAP: it is empty or has a "
                         "space or comma (CAP 1.2 §3.2.1)")  # fmt: skip
    return value


def references_text(references: list[Reference]) -> str:
    """CAP 1.2 §3.2.1 references: whitespace-separated "sender,identifier,sent" triplets."""
    return " ".join(
        f"{_no_space_or_comma(r.sender, 'reference sender')},"
        f"{_no_space_or_comma(r.identifier, 'reference identifier')},{cap_datetime(r.sent)}"
        for r in references
    )


def addresses_text(addresses: list[str]) -> str:
    """CAP 1.2 §3.2.1 addresses: space-delimited, entries with whitespace in double quotes."""
    out = []
    for a in addresses:
        if '"' in a:
            raise ValueError(f"address {a!r} has a double quote, which CAP cannot delimit")
        out.append(f'"{a}"' if not a or any(c.isspace() for c in a) else a)
    return " ".join(out)


def _incidents_text(incidents: list[str]) -> str:
    # CAP 1.2 §3.2.1: incidents is a whitespace-delimited list, so an entry cannot hold spaces.
    for i in incidents:
        if not i or any(c.isspace() for c in i):
            raise ValueError(f"incident {i!r} cannot be written in the space-delimited <incidents>")
    return " ".join(incidents)


# --- XML -------------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None) -> None:
    if text is None:
        return
    el = etree.SubElement(parent, _NS + name)
    try:
        el.text = text
    except ValueError as exc:  # lxml refuses control characters and NUL
        raise ValueError(f"<{name}> cannot hold {text!r}: {exc}") from None


def _named_values(parent: etree._Element, name: str, values: list[NamedValue]) -> None:
    for nv in values:
        el = etree.SubElement(parent, _NS + name)
        _sub(el, "valueName", nv.value_name)
        _sub(el, "value", nv.value)


def _opt_number(x: float | None) -> str | None:
    return None if x is None else cap_number(x)


def _area_xml(parent: etree._Element, area: Area) -> None:
    el = etree.SubElement(parent, _NS + "area")
    _sub(el, "areaDesc", area.area_desc)
    for polygon in area.polygons:
        _sub(el, "polygon", polygon_text(polygon))
    for circle in area.circles:
        _sub(el, "circle", circle_text(circle))
    _named_values(el, "geocode", area.geocodes)
    _sub(el, "altitude", _opt_number(area.altitude))
    _sub(el, "ceiling", _opt_number(area.ceiling))


def _resource_xml(parent: etree._Element, res: Resource) -> None:
    el = etree.SubElement(parent, _NS + "resource")
    _sub(el, "resourceDesc", res.resource_desc)
    # A CAP 1.0/1.1 resource may lack a mimeType (read as ""); it is left out rather than
    # invented, so such an alert is written as it was and cap.validate names the gap.
    _sub(el, "mimeType", res.mime_type or None)
    _sub(el, "size", None if res.size is None else str(res.size))
    _sub(el, "uri", res.uri)
    _sub(el, "derefUri", res.deref_uri)
    _sub(el, "digest", res.digest)


def _info_xml(parent: etree._Element, info: Info) -> None:
    el = etree.SubElement(parent, _NS + "info")
    _sub(el, "language", info.language)
    for c in info.categories:
        _sub(el, "category", c)
    _sub(el, "event", info.event)
    for r in info.response_types:
        _sub(el, "responseType", r)
    _sub(el, "urgency", info.urgency)
    _sub(el, "severity", info.severity)
    _sub(el, "certainty", _CERTAINTY_TO_12.get(info.certainty, info.certainty))
    _sub(el, "audience", info.audience)
    _named_values(el, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires"):
        when = getattr(info, name)
        _sub(el, name, None if when is None else cap_datetime(when))
    _sub(el, "senderName", info.sender_name)
    _sub(el, "headline", info.headline)
    _sub(el, "description", info.description)
    _sub(el, "instruction", info.instruction)
    _sub(el, "web", info.web)
    _sub(el, "contact", info.contact)
    _named_values(el, "parameter", info.parameters)
    for res in info.resources:
        _resource_xml(el, res)
    for area in info.areas:
        _area_xml(el, area)


def to_xml(alert: Alert, *, pretty: bool = False) -> bytes:
    """The alert as a CAP 1.2 XML document (UTF-8), elements in the schema's order."""
    root = etree.Element(_NS + "alert", nsmap={None: NS_12})
    _sub(root, "identifier", alert.identifier)
    _sub(root, "sender", alert.sender)
    _sub(root, "sent", cap_datetime(alert.sent))
    _sub(root, "status", alert.status)
    _sub(root, "msgType", alert.msg_type)
    # CAP 1.0 <password> is not written: CAP 1.1 removed it (a clear-text secret in a message
    # meant for redistribution) and the CAP 1.2 schema has no place for it.
    _sub(root, "source", alert.source)
    _sub(root, "scope", alert.scope)
    _sub(root, "restriction", alert.restriction)
    if alert.addresses:
        _sub(root, "addresses", addresses_text(alert.addresses))
    for code in alert.codes:
        _sub(root, "code", code)
    _sub(root, "note", alert.note)
    if alert.references:
        _sub(root, "references", references_text(alert.references))
    if alert.incidents:
        _sub(root, "incidents", _incidents_text(alert.incidents))
    for info in alert.infos:
        _info_xml(root, info)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)


# --- JSON ------------------------------------------------------------------------------------


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.utcoffset() is None:
        raise ValueError(f"{dt!r} has no time zone; CAP date-times need one (CAP 1.2 §3.3.2)")
    return dt.isoformat()


def _compact(obj: dict[str, Any]) -> dict[str, Any]:
    """Leave out absent values and empty lists, as CAP leaves out absent elements."""
    return {k: v for k, v in obj.items() if v is not None and v != []}


def _nv_json(values: list[NamedValue]) -> list[dict[str, str]]:
    return [{"valueName": nv.value_name, "value": nv.value} for nv in values]


def _area_json(area: Area) -> dict[str, Any]:
    return _compact({
        "areaDesc": area.area_desc,
        "polygon": [[[lat, lon] for lat, lon in polygon] for polygon in area.polygons],
        "circle": [{"lat": c.lat, "lon": c.lon, "radius": c.radius_km} for c in area.circles],
        "geocode": _nv_json(area.geocodes),
        "altitude": area.altitude,
        "ceiling": area.ceiling,
    })  # fmt: skip


def _resource_json(res: Resource) -> dict[str, Any]:
    return _compact({
        "resourceDesc": res.resource_desc,
        "mimeType": res.mime_type,
        "size": res.size,
        "uri": res.uri,
        "derefUri": res.deref_uri,
        "digest": res.digest,
    })  # fmt: skip


def _info_json(info: Info) -> dict[str, Any]:
    return _compact({
        "language": info.language,
        "category": list(info.categories),
        "event": info.event,
        "responseType": list(info.response_types),
        "urgency": info.urgency,
        "severity": info.severity,
        "certainty": info.certainty,
        "audience": info.audience,
        "eventCode": _nv_json(info.event_codes),
        "effective": _iso(info.effective),
        "onset": _iso(info.onset),
        "expires": _iso(info.expires),
        "senderName": info.sender_name,
        "headline": info.headline,
        "description": info.description,
        "instruction": info.instruction,
        "web": info.web,
        "contact": info.contact,
        "parameter": _nv_json(info.parameters),
        "resource": [_resource_json(r) for r in info.resources],
        "area": [_area_json(a) for a in info.areas],
    })  # fmt: skip


def to_json(alert: Alert) -> dict[str, Any]:
    """The alert as a JSON-able dict: CAP element names, ISO date-times, [lat, lon] polygons."""
    return _compact({
        "version": alert.version,
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": _iso(alert.sent),
        "status": alert.status,
        "msgType": alert.msg_type,
        # CAP 1.0 <password> is left out here too: it is a secret, and JSON is what is shown.
        "source": alert.source,
        "scope": alert.scope,
        "restriction": alert.restriction,
        "addresses": list(alert.addresses),
        "code": list(alert.codes),
        "note": alert.note,
        "references": [
            {"sender": r.sender, "identifier": r.identifier, "sent": _iso(r.sent)}
            for r in alert.references
        ],
        "incidents": list(alert.incidents),
        "info": [_info_json(i) for i in alert.infos],
    })  # fmt: skip


def to_json_bytes(alert: Alert) -> bytes:
    """`to_json` encoded as compact UTF-8 JSON."""
    return json.dumps(to_json(alert), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def _at(path: str, key: str | int) -> str:
    # JSON Pointer (RFC 6901) escaping of one reference token.
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _fail(message: str, path: str) -> CapError:
    return CapError(JSON_RULE, message, path or "/")


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("must be a JSON object", path)
    return value


def _str(obj: dict[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f'"{key}" must be a string', _at(path, key))
    return value


def _req(obj: dict[str, Any], key: str, path: str) -> str:
    value = _str(obj, key, path)
    if value is None:
        raise _fail(f'"{key}" is required', _at(path, key))
    return value


def _list(obj: dict[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _fail(f'"{key}" must be an array', _at(path, key))
    return value


def _strs(obj: dict[str, Any], key: str, path: str) -> list[str]:
    items = _list(obj, key, path)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _fail("must be a string", _at(_at(path, key), i))
    return list(items)


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail("must be a finite number", path)
    return float(value)


def _opt_num(obj: dict[str, Any], key: str, path: str) -> float | None:
    value = obj.get(key)
    return None if value is None else _number(value, _at(path, key))


def _when(obj: dict[str, Any], key: str, path: str) -> datetime | None:
    text = _str(obj, key, path)
    return None if text is None else _datetime_from(text, _at(path, key))


def _req_when(obj: dict[str, Any], key: str, path: str) -> datetime:
    return _datetime_from(_req(obj, key, path), _at(path, key))


def _datetime_from(text: str, path: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f'"{text}" is not an ISO 8601 date-time', path) from None
    if dt.tzinfo is None:
        raise _fail(f'"{text}" has no time zone offset', path)
    return dt


def _objects(obj: dict[str, Any], key: str, path: str, read: Callable[[dict[str, Any], str], _T]) -> list[_T]:
    out = []
    for i, item in enumerate(_list(obj, key, path)):
        at = _at(_at(path, key), i)
        out.append(read(_object(item, at), at))
    return out


def _nv_from(obj: dict[str, Any], path: str) -> NamedValue:
    return NamedValue(value_name=_req(obj, "valueName", path), value=_req(obj, "value", path))


def _polygon_from(value: Any, path: str) -> tuple[LatLon, ...]:
    if not isinstance(value, list):
        raise _fail("a polygon must be an array of [lat, lon] pairs", path)
    out = []
    for i, pair in enumerate(value):
        at = _at(path, i)
        if not isinstance(pair, list) or len(pair) != 2:
            raise _fail("must be a [lat, lon] pair", at)
        out.append((_number(pair[0], _at(at, 0)), _number(pair[1], _at(at, 1))))
    return tuple(out)


def _circle_from(obj: dict[str, Any], path: str) -> Circle:
    def num(key: str) -> float:
        if key not in obj:
            raise _fail(f'"{key}" is required', _at(path, key))
        return _number(obj[key], _at(path, key))

    return Circle(lat=num("lat"), lon=num("lon"), radius_km=num("radius"))


def _area_from(obj: dict[str, Any], path: str) -> Area:
    return Area(
        area_desc=_req(obj, "areaDesc", path),
        polygons=[
            _polygon_from(p, _at(_at(path, "polygon"), i)) for i, p in enumerate(_list(obj, "polygon", path))
        ],
        circles=_objects(obj, "circle", path, _circle_from),
        geocodes=_objects(obj, "geocode", path, _nv_from),
        altitude=_opt_num(obj, "altitude", path),
        ceiling=_opt_num(obj, "ceiling", path),
    )


def _resource_from(obj: dict[str, Any], path: str) -> Resource:
    size = obj.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise _fail('"size" must be an integer', _at(path, "size"))
    return Resource(
        resource_desc=_req(obj, "resourceDesc", path),
        mime_type=_str(obj, "mimeType", path) or "",
        size=size,
        uri=_str(obj, "uri", path),
        deref_uri=_str(obj, "derefUri", path),
        digest=_str(obj, "digest", path),
    )


def _info_from(obj: dict[str, Any], path: str, *, areas: bool = True) -> Info:
    return Info(
        language=_str(obj, "language", path) or "en-US",  # CAP 1.2 §3.2.2 default
        categories=_strs(obj, "category", path),
        event=_str(obj, "event", path) or "",
        response_types=_strs(obj, "responseType", path),
        urgency=_str(obj, "urgency", path) or "",
        severity=_str(obj, "severity", path) or "",
        certainty=_str(obj, "certainty", path) or "",
        audience=_str(obj, "audience", path),
        event_codes=_objects(obj, "eventCode", path, _nv_from),
        effective=_when(obj, "effective", path),
        onset=_when(obj, "onset", path),
        expires=_when(obj, "expires", path),
        sender_name=_str(obj, "senderName", path),
        headline=_str(obj, "headline", path),
        description=_str(obj, "description", path),
        instruction=_str(obj, "instruction", path),
        web=_str(obj, "web", path),
        contact=_str(obj, "contact", path),
        parameters=_objects(obj, "parameter", path, _nv_from),
        resources=_objects(obj, "resource", path, _resource_from),
        areas=_objects(obj, "area", path, _area_from) if areas else [],
    )


def _reference_from(obj: dict[str, Any], path: str) -> Reference:
    return Reference(
        sender=_req(obj, "sender", path),
        identifier=_req(obj, "identifier", path),
        sent=_req_when(obj, "sent", path),
    )


def from_json(obj: dict[str, Any], *, areas: bool = True) -> Alert:
    """Rebuild an `Alert` from `to_json` output; raise CapError (cap.json.format) on bad shape.

    `areas=False` leaves every <area> out: polygons are most of a stored alert, and a reader of
    its times or codes (e.g. `cap.model.event_time`) need not pay for them.
    """
    root = _object(obj, "")
    return Alert(
        identifier=_req(root, "identifier", ""),
        sender=_req(root, "sender", ""),
        sent=_req_when(root, "sent", ""),
        status=_req(root, "status", ""),
        msg_type=_req(root, "msgType", ""),
        scope=_req(root, "scope", ""),
        version=_str(root, "version", "") or "1.2",
        source=_str(root, "source", ""),
        restriction=_str(root, "restriction", ""),
        addresses=_strs(root, "addresses", ""),
        codes=_strs(root, "code", ""),
        note=_str(root, "note", ""),
        references=_objects(root, "references", "", _reference_from),
        incidents=_strs(root, "incidents", ""),
        infos=_objects(root, "info", "", lambda info, path: _info_from(info, path, areas=areas)),
    )
