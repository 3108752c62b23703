"""Read and validate CAP messages in one walk of the document.

The walk checks the official schema's structure (order, occurrence, enumerations, date-times)
and the specification's prose MUSTs, and builds the `Alert` as it goes. Findings carry a rule id
(see `cap.rules`) and the path in the document. A tolerant reading still builds the alert when
only non-fatal rules broke, so real-world messages with, say, elements out of order can be
ingested with their findings kept.

Most messages follow the schema's structure exactly. They are read once, grouping children by
name and giving up at the first departure; only then is the message read again with the detailed
structural checks, which name each departure. Either reading runs every value check and prose
rule and builds the same model (see `_Walk`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from cap import schema as S
from cap.errors import CapError, Finding
from cap.model import Alert, Area, Circle, Info, NamedValue, Reference, Resource
from cap.report import (
    BAD_DIGEST,
    BAD_SIGNATURE,
    UNSIGNED,
    UNTRUSTED_OR_EXPIRED_CERT,
    UNVERIFIABLE,
    Report,
)
from cap.rules import FATAL, RULES
from cap.xmlsafe import secure_parse

# One polygon may carry tens of thousands of pairs (national boundaries); past this it is an
# attack on whoever renders it.
MAX_POLYGON_PAIRS = 200_000
MAX_MESSAGE_PAIRS = 1_000_000

# CAP 1.2 §3.2.4: a polygon is "lat,lon" pairs of decimal degrees (no exponent) separated by
# XML whitespace. The pattern (on the ASCII bytes) fixes the shape, possessively, so it runs in
# linear time on national boundaries; float() then reads each number, and on this alphabet it
# accepts exactly the decimals [-+]?(\d+\.?\d*|\.\d+): "1.2.3" or "+" falls to the lenient reader.
_PAIR_SHAPE = rb"[-+]?+[0-9.]++,[-+]?+[0-9.]++"
_PAIR_LIST_RE = re.compile(
    rb"[ \t\r\n]*+" + _PAIR_SHAPE + rb"(?:[ \t\r\n]++" + _PAIR_SHAPE + rb")*+[ \t\r\n]*+"
)
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(_NUM)
_CIRCLE_RE = re.compile(rf"\s*({_NUM}),({_NUM})\s+({_NUM})\s*")
# CAP 1.2 XSD pattern for every date-time (§3.3.2): seconds, no fraction, numeric offset.
_DT_12 = re.compile(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")
# xs:dateTime (CAP 1.0/1.1 use the XML Schema type).
_DT_XS = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[-+]\d\d:\d\d)?")
_LANGUAGE_RE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_INTEGER_RE = re.compile(r"\s*[-+]?\d+\s*")
_DECIMAL_RE = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*")
_MIME_RE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?", re.S)
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n"
_SHA1_RE = re.compile(r"\s*[0-9a-fA-F]{40}\s*")
_ADDRESS_RE = re.compile(r'"([^"]*)"|(\S+)')
_INNER_SPACE = re.compile(r"\S\s+\S")
_FORBIDDEN_ID = re.compile(r"[\s,<&]")


class _Findings:
    """Collects findings of one message; knows which rules stop a tolerant ingest."""

    __slots__ = ("errors", "fatal", "warnings")

    def __init__(self) -> None:
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.fatal = False

    def add(self, rule: str, message: str, path: str, *, fatal: bool | None = None) -> None:
        if RULES[rule].level == "warning":
            self.warnings.append(Finding(rule, message, path))
            return
        self.errors.append(Finding(rule, message, path))
        if rule in FATAL if fatal is None else fatal:
            self.fatal = True


# A tolerant pipeline can default category and certainty ("Unknown"), but it cannot name,
# date, scope or prioritise a message without these; missing, they stop ingest.
_CANNOT_ACT_WITHOUT = frozenset(
    {"identifier", "sender", "sent", "status", "msgType", "scope", "urgency", "severity",
     "areaDesc", "resourceDesc", "valueName", "value"}
)  # fmt: skip

_DSIG_SIGNATURE = "{" + S.NS_DSIG + "}Signature"

# What a child element becomes in `Fields`.
_TEXT = 0  # may occur once: its text
_TEXTS = 1  # may repeat: the list of their texts
_NODES = 2  # has element content (always repeatable in CAP): the list of the elements

# The children of one element by local name, as `_TEXT`/`_TEXTS`/`_NODES` say. When a
# once-only element is repeated (a finding), the first one counts.
Fields = dict[str, Any]


class _Irregular(Exception):
    """Internal: the structure departs from the schema; read again with the detailed checks."""


class _Sequence:
    """One content model (an XSD sequence) of one CAP version, for the regular reading."""

    __slots__ = ("required", "slots")

    def __init__(self, model: S.Model, sch: S.VersionSchema, *, allow_signature: bool) -> None:
        ns_brace = "{" + sch.ns + "}"
        # qualified tag -> (name, what it becomes in Fields, position in the sequence)
        self.slots: dict[str, tuple[str, int, int]] = {}
        for position, (name, _, hi) in enumerate(model):
            kind = _NODES if name in sch.complex_names else _TEXTS if hi > 1 else _TEXT
            self.slots[ns_brace + name] = (name, kind, position)
        if allow_signature:  # see _children: after everything else, repeatable
            self.slots[_DSIG_SIGNATURE] = ("Signature", _NODES, len(model))
        self.required = frozenset(name for name, lo, _ in model if lo > 0)


def _sequences(sch: S.VersionSchema) -> dict[int, _Sequence]:
    """The content models of one version by id(model), as `_Walk.fields` is handed them."""
    return {
        id(sch.alert): _Sequence(sch.alert, sch, allow_signature=sch.version != "1.0"),
        **{id(m): _Sequence(m, sch, allow_signature=False)
           for m in (sch.info, sch.resource, sch.area, S.NAMED_VALUE)},
    }  # fmt: skip


_SEQUENCES = {sch.version: _sequences(sch) for sch in S.SCHEMAS.values()}
_REPEATABLE = frozenset(
    name
    for sch in S.SCHEMAS.values()
    for model in (sch.alert, sch.info, sch.resource, sch.area)
    for name, _, hi in model
    if hi > 1
) | {"Signature"}


class _Walk:
    """Reading one <alert>: its version's tables, the findings, the polygon pair budget.

    A first, regular reading takes the structure as the schema has it and raises `_Irregular`
    at the first departure (an element out of place, repeated, missing, unknown, or text with
    markup inside); the message is then read again with `checked`, where `_children` names
    every departure. Both readings run every value check and prose rule and build the same
    model; most messages are regular and are read once, without the per-child bookkeeping
    that naming a finding needs.
    """

    __slots__ = ("checked", "f", "pairs", "sch", "sequences", "version")

    def __init__(self, sch: S.VersionSchema, f: _Findings, *, checked: bool) -> None:
        self.sch = sch
        self.version = sch.version
        self.f = f
        self.checked = checked
        self.sequences = _SEQUENCES[sch.version]
        self.pairs = 0  # polygon pairs read so far (MAX_MESSAGE_PAIRS)

    def fields(
        self, el: etree._Element, model: S.Model, path: str, *, allow_signature: bool = False
    ) -> Fields:
        """The children of `el` by name, read against the content model `model`."""
        if not self.checked:
            fields = _regular_fields(el, self.sequences[id(model)])
            if fields is None:
                raise _Irregular
            return fields
        groups = _children(
            el, model, path, "{" + self.sch.ns + "}", self.f, self.sch.complex_names,
            allow_signature=allow_signature,
        )  # fmt: skip
        return {name: lst if name in _REPEATABLE else lst[0] for name, lst in groups.items()}


def _regular_fields(el: etree._Element, sequence: _Sequence) -> Fields | None:
    """The children of `el` by name if they follow the sequence exactly, else None.

    Exactly: only the sequence's elements, in its order, once-only ones once, required ones
    present, text elements holding text alone, nothing else between them (not even a
    comment). Whatever departs from that is left to `_children`, which names it.
    """
    fields: Fields = {}
    slots = sequence.slots
    high = -1  # position in the sequence reached so far
    for child in el[:]:  # a slice is built in C: cheaper than iterating the element
        slot = slots.get(child.tag)  # a comment's or PI's tag is a function: no slot
        if slot is None or child.items():  # the schema declares no attribute on any element
            return None
        name, kind, position = slot
        if kind == _TEXT:
            # Positions name elements: reaching this one's again means it is repeated.
            if position <= high or len(child):  # len: an element, comment or PI inside
                return None
            fields[name] = child.text or ""
        elif position < high:
            return None
        elif kind == _NODES:
            lst = fields.get(name)
            if lst is None:
                fields[name] = [child]
            else:
                lst.append(child)
        elif len(child):
            return None
        else:
            lst = fields.get(name)
            if lst is None:
                fields[name] = [child.text or ""]
            else:
                lst.append(child.text or "")
        high = position
    return fields if sequence.required <= fields.keys() else None


_SHAPES: dict[int, tuple[dict[str, int], tuple[str, ...], dict[str, int]]] = {}


def _shape(model: S.Model) -> tuple[dict[str, int], tuple[str, ...], dict[str, int]]:
    """Position of each name, the required names, and the bounded maxima of a content model."""
    shape = _SHAPES.get(id(model))
    if shape is None:
        shape = (
            {name: i for i, (name, _, _) in enumerate(model)},
            tuple(name for name, lo, _ in model if lo > 0),
            {name: hi for name, _, hi in model if hi < S.U},
        )
        _SHAPES[id(model)] = shape
    return shape


def _children(
    el: etree._Element,
    model: S.Model,
    path: str,
    ns_brace: str,
    f: _Findings,
    complex_names: frozenset[str] = frozenset(),
    *,
    allow_signature: bool = False,
) -> dict[str, list]:
    """Group the children of `el` by name, reporting what the XSD sequence forbids.

    Text elements are returned as their text, complex ones (in `complex_names`) as elements.
    Only messages whose structure departs from the schema come here (see `_Walk`).
    """
    index, required, bounded = _shape(model)
    groups: dict[str, list] = {}
    high = -1  # furthest position in the sequence reached so far
    nlen = len(ns_brace)
    for child in el:
        tag = child.tag
        if tag.__class__ is not str:  # comment or processing instruction
            continue
        k = index.get(tag[nlen:]) if tag.startswith(ns_brace) else None
        if k is None:
            if allow_signature and tag == _DSIG_SIGNATURE:
                # CAP 1.2 XSD: <any namespace="xmldsig" lax/> after the last <info>; CAP 1.1
                # prose permits the enveloped signature too (its XSD omits the slot).
                groups.setdefault("Signature", []).append(child)
                high = len(model)
                continue
            f.add(
                "cap.schema.unknown-element",
                f"<{_local(tag)}> is not allowed inside <{_local(el.tag)}>",
                f"{path}/{_local(tag)}",
            )
            continue
        name = tag[nlen:]
        if child.items():
            nth = len(groups.get(name, ())) + 1
            where = f"{path}/{name}[{nth}]" if name in _REPEATABLE else f"{path}/{name}"
            _attributes(child, name, where, f)
        if name in complex_names:
            value = child
        elif len(child):
            f.add("cap.schema.mixed-content", f"<{name}> must hold text only", f"{path}/{name}")
            value = "".join(child.itertext())
        else:
            value = child.text or ""
        lst = groups.get(name)
        if lst is None:
            groups[name] = [value]
        else:
            lst.append(value)
            hi = bounded.get(name)
            if hi is not None and len(lst) == hi + 1:
                f.add(
                    "cap.schema.too-many",
                    f"<{name}> may occur at most {hi} time(s)",
                    f"{path}/{name}[{hi + 1}]",
                )
        if k < high:
            later = model[high][0] if high < len(model) else "ds:Signature"
            f.add(
                "cap.schema.order",
                f"<{name}> must come before <{later}> (schema sequence of <{_local(el.tag)}>)",
                f"{path}/{name}",
            )
        else:
            high = k
    for name in required:
        if name not in groups:
            f.add(
                "cap.schema.missing",
                f"required <{name}> is missing",
                f"{path}/{name}",
                fatal=name in _CANNOT_ACT_WITHOUT,
            )
    return groups


_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def _attributes(el: etree._Element, name: str, path: str, f: _Findings) -> None:
    """The CAP schemas declare no attributes; xsi:* ones are allowed on any element (XSD)."""
    for attr in el.keys():  # noqa: SIM118 - lxml attribute names
        if not attr.startswith(_XSI):
            f.add("cap.schema.attribute", f'attribute "{_local(attr)}" is not allowed on <{name}>', path)


def _local(tag: object) -> str:
    s = str(tag)
    return s.rsplit("}", 1)[-1]


def _enum(
    value: str | None,
    allowed: frozenset[str],
    parent: str,
    name: str,
    f: _Findings,
    *,
    fatal: bool,
    index: int = 0,
) -> str | None:
    """The value if the schema's enumeration allows it; else a finding and None."""
    if value is None:
        return None
    v = value.strip()
    if v in allowed:
        return v
    rule = "cap.schema.enum" if fatal else "cap.schema.enum-optional"
    shown = f'"{value}"' if value else "an empty value"
    path = f"{parent}/{name}[{index}]" if index else f"{parent}/{name}"
    f.add(rule, f"<{name}> has {shown}; allowed: {', '.join(sorted(allowed))}", path)
    return None


def _cap12_datetime(text: str) -> datetime | None:
    """A date-time exactly as CAP 1.2 writes it (§3.3.2), else None."""
    if _DT_12.fullmatch(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:  # 2024-02-30 and the like
            return None
    return None


def _datetime_field(text: str, version: str, parent: str, name: str, f: _Findings) -> datetime | None:
    """`_datetime` of <parent/name>, the path spelled out only when there is a finding."""
    if version == "1.2":
        dt = _cap12_datetime(text)
        if dt is not None:
            return dt
    return _datetime(text, version, f"{parent}/{name}", f, sent=name == "sent")


def _datetime(text: str, version: str, path: str, f: _Findings, *, sent: bool = False) -> datetime | None:
    """Read a CAP date-time; strict per version, tolerant for ingest (CAP 1.2 §3.3.2)."""
    if version == "1.2":
        dt = _cap12_datetime(text)
        if dt is not None:
            return dt
    s = text.strip()
    if version == "1.2" and s != text:
        # xs:dateTime collapses whitespace before the CAP 1.2 pattern facet applies.
        dt = _cap12_datetime(s)
        if dt is not None:
            return dt
    if version != "1.2" and _DT_XS.fullmatch(s):
        if s.endswith("Z"):
            if version == "1.1":
                f.add("cap.datetime.alphabetic-zone", f'"{s}": use -00:00 for UTC, not "Z"', path)
        elif s[-6] not in "+-":
            f.add("cap.datetime.timezone", f'"{s}" has no time zone offset', path)
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            pass
        else:
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    # Not conformant: say why, then read it tolerantly if at all possible.
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        rule = "cap.schema.sent" if sent else "cap.schema.datetime"
        f.add(rule, f'"{text}" is not a date-time like 2002-05-24T16:49:00-07:00', path)
        return None
    if dt.tzinfo is None:
        f.add("cap.datetime.timezone", f'"{s}" has no time zone offset', path)
        dt = dt.replace(tzinfo=UTC)
    elif s.endswith("Z"):
        f.add("cap.datetime.alphabetic-zone", f'"{s}": use -00:00 for UTC, not "Z"', path)
    else:
        f.add(
            "cap.schema.datetime",
            f'"{text}" does not match the CAP 1.2 pattern YYYY-MM-DDThh:mm:ss+hh:mm',
            path,
        )
    return dt


def _named_values(els: Sequence, name: str, path: str, w: _Walk) -> list[NamedValue]:
    """eventCode, parameter or geocode entries (CAP 1.2 §3.2.2, §3.2.4)."""
    if w.sch.named_values_as_text:
        return _named_values_as_text(els, name, path, w.f)
    out: list[NamedValue] = []
    ns_brace = "{" + w.sch.ns + "}"
    vn_tag = ns_brace + "valueName"
    v_tag = ns_brace + "value"
    for i, el in enumerate(els, 1):
        kids = el[:]
        # Fast path: exactly <valueName/><value/>, both text-only, in order.
        if len(kids) == 2:
            vn, v = kids
            if (
                vn.tag == vn_tag
                and v.tag == v_tag
                and not len(vn)
                and not len(v)
                and not el.items()
                and not vn.items()
                and not v.items()
            ):
                out.append(NamedValue(value_name=(vn.text or "").strip(), value=(v.text or "").strip()))
                continue
        g = w.fields(el, S.NAMED_VALUE, f"{path}/{name}[{i}]")
        out.append(
            NamedValue(
                value_name=(g.get("valueName") or "").strip(),
                value=(g.get("value") or "").strip(),
            )
        )
    return out


def _named_values_as_text(texts: Sequence[str], name: str, path: str, f: _Findings) -> list[NamedValue]:
    """CAP 1.0: each entry is "valueName=value" in the element text."""
    out: list[NamedValue] = []
    for i, text in enumerate(texts, 1):
        vn, sep, v = text.partition("=")
        if not sep:
            f.add("cap.named-value.format", f'"{text}" has no "="', f"{path}/{name}[{i}]")
            out.append(NamedValue(value_name="", value=text.strip()))
        else:
            out.append(NamedValue(value_name=vn.strip(), value=v.strip()))
    return out


def _pair_values(text: str) -> list[float] | None:
    """lat, lon, lat, lon... of a well-formed pair list (CAP 1.2 §3.2.4), else None."""
    try:
        raw = text.encode("ascii")  # as bytes, every step below is a little cheaper
    except UnicodeEncodeError:
        return None
    if not _PAIR_LIST_RE.fullmatch(raw):
        return None
    try:
        return list(map(float, raw.replace(b",", b" ").split()))
    except ValueError:  # a second point or a lone sign
        return None


def _separators(text: str) -> int:
    """An upper bound on the numbers in `text` less one: its commas and whitespace."""
    return sum(text.count(c) for c in ", \t\r\n")


def _polygon(text: str, path: str, f: _Findings) -> tuple[tuple[float, float], ...] | None:
    """One <polygon>: at least four lat,lon pairs, first equal to last (CAP 1.2 §3.2.4)."""
    if len(text) > MAX_POLYGON_PAIRS and text.count(",") > MAX_POLYGON_PAIRS:
        raise CapError(
            "cap.xml.too-many-vertices",
            f"polygon has more than {MAX_POLYGON_PAIRS} pairs",
            path,
        )
    vals = _pair_values(text)
    if vals is None:
        if len(text) > 4 * MAX_POLYGON_PAIRS and _separators(text) > 2 * MAX_POLYGON_PAIRS:
            # Read leniently, numbers may come without commas: bound what findall would make.
            raise CapError(
                "cap.xml.too-many-vertices",
                f"polygon has more than {MAX_POLYGON_PAIRS} coordinate pairs",
                path,
            )
        nums = _NUMBER_RE.findall(text)
        if len(nums) < 2:
            f.add("cap.polygon.format", "polygon is empty or has no coordinate pairs", path)
            return None
        f.add(
            "cap.polygon.format",
            'polygon must be whitespace-separated "lat,lon" pairs; read leniently',
            path,
        )
        vals = list(map(float, nums[: len(nums) // 2 * 2]))
    lats = vals[0::2]
    lons = vals[1::2]
    n = len(lats)
    if n < 4:
        f.add("cap.polygon.min-pairs", f"polygon has {n} pair(s); at least 4 are required", path)
    if lats[0] != lats[-1] or lons[0] != lons[-1]:
        f.add("cap.polygon.closed", "polygon's first and last pairs must be the same", path)
    if max(lats) > 90 or min(lats) < -90 or max(lons) > 180 or min(lons) < -180:
        f.add(
            "cap.coordinate.range",
            "latitude must be within -90..90 and longitude within -180..180 (lat,lon order)",
            path,
        )
    return tuple(zip(lats, lons, strict=True))


def _circle(text: str, path: str, f: _Findings) -> Circle | None:
    m = _CIRCLE_RE.fullmatch(text)
    if not m:
        f.add("cap.circle.format", f'"{text.strip()}" is not "lat,lon radius"', path)
        return None
    lat, lon, r = float(m.group(1)), float(m.group(2)), float(m.group(3))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        f.add("cap.coordinate.range", "circle centre outside WGS 84 ranges (lat,lon order)", path)
    if r < 0:
        f.add("cap.circle.radius", f"radius {r} is negative", path)
        return None
    return Circle(lat=lat, lon=lon, radius_km=r)


def _decimal(text: str | None, name: str, path: str, version: str, f: _Findings) -> float | None:
    if text is None:
        return None
    if _DECIMAL_RE.fullmatch(text):
        return float(text)
    if version == "1.0":  # CAP 1.0 types altitude/ceiling as strings
        try:
            return float(text)
        except ValueError:
            return None
    f.add("cap.schema.decimal", f'<{name}> "{text}" is not a decimal number', path)
    return None


def _area(el: etree._Element, path: str, w: _Walk) -> Area:
    f = w.f
    g = w.fields(el, w.sch.area, path)
    polygons = []
    for i, p in enumerate(g.get("polygon", ()), 1):
        pp = f"{path}/polygon[{i}]"
        poly = _polygon(p, pp, f)
        if poly is not None:
            w.pairs += len(poly)
            if w.pairs > MAX_MESSAGE_PAIRS:
                raise CapError(
                    "cap.xml.too-many-vertices",
                    f"message has more than {MAX_MESSAGE_PAIRS} polygon pairs",
                    pp,
                )
            polygons.append(poly)
    circles = []
    for i, c in enumerate(g.get("circle", ()), 1):
        circle = _circle(c, f"{path}/circle[{i}]", f)
        if circle is not None:
            circles.append(circle)
    altitude = ceiling = None
    if "altitude" in g:
        altitude = _decimal(g["altitude"], "altitude", f"{path}/altitude", w.version, f)
    if "ceiling" in g:
        ceiling = _decimal(g["ceiling"], "ceiling", f"{path}/ceiling", w.version, f)
        if "altitude" not in g:
            # CAP 1.2 §3.2.4: ceiling "MUST NOT be used except in combination with <altitude>".
            f.add("cap.area.ceiling-without-altitude", "<ceiling> is used without <altitude>", path)
        elif altitude is not None and ceiling is not None and ceiling < altitude:
            f.add("cap.area.ceiling-below-altitude", "ceiling is below altitude", path)
    return Area(
        area_desc=(g.get("areaDesc") or "").strip(),
        polygons=polygons,
        circles=circles,
        geocodes=_named_values(g.get("geocode", ()), "geocode", path, w),
        altitude=altitude,
        ceiling=ceiling,
    )


def _resource(el: etree._Element, path: str, w: _Walk) -> Resource:
    f = w.f
    g = w.fields(el, w.sch.resource, path)
    mime = g.get("mimeType")
    if mime is not None and not _MIME_RE.fullmatch(mime.strip()):
        f.add(
            "cap.resource.mime-type",
            f'"{mime}" is not an RFC 2046 type/subtype',
            f"{path}/mimeType",
        )
    size_text = g.get("size")
    size = None
    if size_text is not None:
        if _INTEGER_RE.fullmatch(size_text):
            size = int(size_text)
            if size < 0:
                f.add("cap.resource.size", f"size {size} is negative", f"{path}/size")
        else:
            f.add("cap.schema.integer", f'<size> "{size_text}" is not an integer', f"{path}/size")
    deref = g.get("derefUri")
    if deref is not None and not _is_base64(deref):
        f.add(
            "cap.resource.deref-base64",
            "derefUri holds characters outside base-64",
            f"{path}/derefUri",
        )
    digest = g.get("digest")
    if digest is not None and not _SHA1_RE.fullmatch(digest):
        f.add("cap.resource.digest", "digest should be a 40-digit SHA-1 hex value", f"{path}/digest")
    uri = g.get("uri")
    if uri is not None and _INNER_SPACE.search(uri):
        f.add("cap.uri.whitespace", "uri contains whitespace", f"{path}/uri")
    return Resource(
        resource_desc=(g.get("resourceDesc") or "").strip(),
        mime_type=(mime or "").strip(),
        size=size,
        uri=_opt(uri),
        deref_uri=_opt(deref),
        digest=_opt(digest),
    )


def _is_base64(text: str) -> bool:
    # Embedded audio runs to hundreds of KB: delete the alphabet in C and see what is left.
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return not raw.translate(None, _BASE64_CHARS)


def _opt(value: str | None) -> str | None:
    return value.strip() if value is not None else None


def _enums(values: Sequence[str], allowed: frozenset[str], name: str, path: str, f: _Findings) -> list[str]:
    """The allowed values of a repeatable enumerated element (category, responseType)."""
    out = []
    for i, value in enumerate(values, 1):
        v = _enum(value, allowed, path, name, f, fatal=False, index=i)
        if v:
            out.append(v)
    return out


def _info(el: etree._Element, path: str, w: _Walk) -> Info:
    f = w.f
    version = w.version
    enums = w.sch.enums
    g = w.fields(el, w.sch.info, path)
    language = g.get("language")
    if language is not None and not _LANGUAGE_RE.fullmatch(language.strip()):
        f.add(
            "cap.schema.language",
            f'"{language}" is not a language tag like en-US',
            f"{path}/language",
        )
    categories = _enums(g.get("category", ()), enums["category"], "category", path, f)
    responses = []
    if "responseType" in g:  # CAP 1.1 and later
        responses = _enums(g["responseType"], enums["responseType"], "responseType", path, f)
    urgency = _enum(g.get("urgency"), enums["urgency"], path, "urgency", f, fatal=True)
    severity = _enum(g.get("severity"), enums["severity"], path, "severity", f, fatal=True)
    certainty = _enum(g.get("certainty"), enums["certainty"], path, "certainty", f, fatal=False)
    effective = onset = expires = None
    if "effective" in g:
        effective = _datetime_field(g["effective"], version, path, "effective", f)
    if "onset" in g:
        onset = _datetime_field(g["onset"], version, path, "onset", f)
    if "expires" in g:
        expires = _datetime_field(g["expires"], version, path, "expires", f)
    start = effective or onset
    if expires is not None and start is not None and expires < start:
        f.add(
            "cap.info.expires-before-effective",
            "expires is earlier than effective/onset",
            f"{path}/expires",
        )
    web = g.get("web")
    if web is not None and _INNER_SPACE.search(web):
        f.add("cap.uri.whitespace", "web contains whitespace", f"{path}/web")
    return Info(
        language=(language or "en-US").strip(),
        categories=categories,
        event=(g.get("event") or "").strip(),
        response_types=responses,
        urgency=urgency or "",
        severity=severity or "",
        certainty=certainty or "Unknown",
        audience=_opt(g.get("audience")),
        event_codes=_named_values(g.get("eventCode", ()), "eventCode", path, w),
        effective=effective,
        onset=onset,
        expires=expires,
        sender_name=_opt(g.get("senderName")),
        headline=_opt(g.get("headline")),
        description=_opt(g.get("description")),
        instruction=_opt(g.get("instruction")),
        web=_opt(web),
        contact=_opt(g.get("contact")),
        parameters=_named_values(g.get("parameter", ()), "parameter", path, w),
        resources=[_resource(r, f"{path}/resource[{i}]", w) for i, r in enumerate(g.get("resource", ()), 1)],
        areas=[_area(a, f"{path}/area[{i}]", w) for i, a in enumerate(g.get("area", ()), 1)],
    )


def _references(text: str, version: str, path: str, f: _Findings) -> list[Reference]:
    """CAP 1.2 §3.2.1: whitespace-separated "sender,identifier,sent" triplets."""
    tokens = text.split()
    if not tokens:
        f.add("cap.references.empty", "<references> is present but empty", path)
        return []
    out = []
    for tok in tokens:
        parts = tok.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            f.add("cap.references.format", f'"{tok}" is not sender,identifier,sent', path)
            continue
        sent = _cap12_datetime(parts[2]) if version == "1.2" else None
        if sent is None:
            sub = _Findings()
            sent = _datetime(parts[2], version, path, sub)
            if sent is None or sub.errors:
                f.add("cap.references.format", f'"{tok}": "{parts[2]}" is not a CAP date-time', path)
        if sent is not None:
            out.append(Reference(sender=parts[0], identifier=parts[1], sent=sent))
    return out


def _id_chars(value: str, name: str, path: str, f: _Findings) -> None:
    # CAP 1.2 §3.2.1: identifier and sender "MUST NOT include spaces, commas or restricted
    # characters (< and &)" — they are joined by commas in <references>.
    if not value:
        f.add("cap.schema.empty", f"<{name}> is empty", path)
    elif _FORBIDDEN_ID.search(value):
        f.add("cap.identifier.chars" if name == "identifier" else "cap.sender.chars",
              f'<{name}> "{value}" contains a space, comma, < or &', path)  # fmt: skip


def _build_alert(root: etree._Element, w: _Walk) -> tuple[Alert | None, bool]:
    """The alert (None when a fatal rule broke) and whether it carries a ds:Signature."""
    path = "/alert"
    sch = w.sch
    f = w.f
    _attributes(root, "alert", path, f)
    g = w.fields(root, sch.alert, path, allow_signature=sch.version != "1.0")
    enums = sch.enums
    identifier = (g.get("identifier") or "").strip()
    sender = (g.get("sender") or "").strip()
    if "identifier" in g:
        _id_chars(identifier, "identifier", f"{path}/identifier", f)
    if "sender" in g:
        _id_chars(sender, "sender", f"{path}/sender", f)
    sent_text = g.get("sent")
    sent = None
    if sent_text is not None:
        sent = _datetime_field(sent_text, sch.version, path, "sent", f)
    status = _enum(g.get("status"), enums["status"], path, "status", f, fatal=True)
    msg_type = _enum(g.get("msgType"), enums["msgType"], path, "msgType", f, fatal=True)
    scope_text = g.get("scope")
    scope = _enum(scope_text, enums["scope"], path, "scope", f, fatal=True)
    if scope is None and scope_text is None and sch.version == "1.0":
        scope = "Public"  # CAP 1.0 XSD makes scope optional
    restriction = _opt(g.get("restriction"))
    addresses_text = g.get("addresses")
    addresses: list[str] = []
    if addresses_text is not None:
        if addresses_text.count('"') % 2:
            f.add(
                "cap.addresses.format",
                "unbalanced double quotes in <addresses>",
                f"{path}/addresses",
            )
        addresses = [a or b for a, b in _ADDRESS_RE.findall(addresses_text)]
    if scope == "Restricted" and not restriction:
        f.add("cap.restriction.required", 'scope "Restricted" needs a <restriction>', f"{path}/scope")
    elif restriction and scope != "Restricted":
        f.add(
            "cap.restriction.unexpected",
            '<restriction> is for scope "Restricted"',
            f"{path}/restriction",
        )
    if scope == "Private" and not addresses:
        f.add("cap.addresses.required", 'scope "Private" needs <addresses>', f"{path}/scope")
    references: list[Reference] = []
    ref_text = g.get("references")
    if ref_text is not None:
        references = _references(ref_text, sch.version, f"{path}/references", f)
    elif msg_type in ("Update", "Cancel", "Ack", "Error"):
        f.add("cap.references.missing", f"a {msg_type} should name the messages it refers to", path)
    infos = [_info(el, f"{path}/info[{i}]", w) for i, el in enumerate(g.get("info", ()), 1)]
    signed = "Signature" in g
    if f.fatal or sent is None or status is None or msg_type is None or scope is None:
        return None, signed
    return Alert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        scope=scope,
        version=sch.version,
        source=_opt(g.get("source")),
        restriction=restriction,
        addresses=addresses,
        codes=[c.strip() for c in g.get("code", ())],
        note=_opt(g.get("note")),
        references=references,
        incidents=(g.get("incidents") or "").split(),
        infos=infos,
        password=_opt(g.get("password")),
    ), signed


def _read(root: etree._Element, sch: S.VersionSchema) -> tuple[_Findings, Alert | None, bool]:
    """Findings, the alert (None when it cannot be ingested), and whether it is signed."""
    f = _Findings()
    try:
        try:
            alert, signed = _build_alert(root, _Walk(sch, f, checked=False))
        except _Irregular:
            f = _Findings()
            alert, signed = _build_alert(root, _Walk(sch, f, checked=True))
    except CapError as exc:  # a limit (polygon pairs) stops the reading; its finding comes last
        f.add(exc.rule, exc.message, exc.path)
        alert, signed = None, False
    return f, alert, signed


def check_alert_element(
    root: etree._Element,
    *,
    verify_signature: bool = True,
    profiles: Sequence[str] = (),
    trusted_certs: Sequence[bytes] = (),
) -> Report:
    """Validate an already securely parsed CAP <alert> element (also one embedded in a feed)."""
    tag = root.tag
    f = _Findings()
    if not isinstance(tag, str) or _local(tag) != "alert":
        f.add("cap.xml.not-cap", f"root element is <{_local(tag)}>, not a CAP <alert>", "/")
        return Report(valid=False, ingestible=False, errors=f.errors)
    ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    sch = S.SCHEMAS.get(ns)
    if sch is None:
        f.add(
            "cap.xml.namespace",
            f'<alert> is in namespace "{ns}", not a CAP namespace ({", ".join(S.VERSION_OF_NS)})',
            "/alert",
        )
        return Report(valid=False, ingestible=False, errors=f.errors)
    f, alert, signed = _read(root, sch)
    signature = UNSIGNED
    if verify_signature and alert is not None and signed:
        signature = _verify(root, alert, trusted_certs, f)
    if profiles and alert is not None:
        from cap.profiles import check_profiles

        for finding in check_profiles(alert, profiles):
            f.warnings.append(finding)
    return Report(
        valid=not f.errors,
        ingestible=not f.fatal and alert is not None,
        version=sch.version,
        kind="alert",
        errors=f.errors,
        warnings=f.warnings,
        signature=signature,
        alert=alert if not f.fatal else None,
    )


def _verify(root: etree._Element, alert: Alert, trusted: Sequence[bytes], f: _Findings) -> str:
    from cap.signature import verify_signature

    result = verify_signature(root, at=alert.sent, trusted_certs=trusted)
    status = result.status
    if status in (BAD_DIGEST, BAD_SIGNATURE, UNTRUSTED_OR_EXPIRED_CERT, UNVERIFIABLE):
        f.add(f"cap.signature.{status}", result.detail or status, "/alert/Signature")
    return status


def _looks_like_json(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def validate(
    data: bytes,
    *,
    profiles: Sequence[str] = (),
    verify_signature: bool = True,
    trusted_certs: Sequence[bytes] = (),
) -> Report:
    """Validate a CAP message (or a feed of them); never raises on bad input."""
    if not isinstance(data, bytes):
        data = bytes(data) if isinstance(data, bytearray | memoryview) else data
    if isinstance(data, bytes) and _looks_like_json(data):
        from cap.feeds import validate_feed

        return validate_feed(
            data, profiles=profiles, verify_signature=verify_signature, trusted_certs=trusted_certs
        )
    try:
        root = secure_parse(data)
    except CapError as exc:
        return Report(valid=False, ingestible=False, errors=[exc.finding])
    tag = root.tag
    if isinstance(tag, str) and _local(tag) != "alert":
        from cap.feeds import is_feed_root, validate_feed

        if is_feed_root(root):
            return validate_feed(
                data,
                profiles=profiles,
                verify_signature=verify_signature,
                trusted_certs=trusted_certs,
            )
    return check_alert_element(
        root, verify_signature=verify_signature, profiles=profiles, trusted_certs=trusted_certs
    )


def parse(data: bytes) -> Alert:
    """Read one CAP message tolerantly; raise CapError (rule id, path) if it cannot be ingested."""
    try:
        root = secure_parse(data)
    except CapError:
        raise
    report = check_alert_element(root, verify_signature=False)
    if report.alert is None:
        first = next((e for e in report.errors if e.rule in FATAL), None) or (
            report.errors[0] if report.errors else Finding("cap.xml.not-cap", "not CAP", "/")
        )
        raise CapError(first.rule, first.message, first.path)
    return report.alert
