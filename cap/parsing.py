"""Read and validate CAP messages in one walk of the document.

The walk checks the official schema's structure (order, occurrence, enumerations, date-times)
and the specification's prose MUSTs, and builds the `Alert` as it goes. Findings carry a rule id
(see `cap.rules`) and the path in the document. A tolerant reading still builds the alert when
only non-fatal rules broke, so real-world messages with, say, elements out of order can be
ingested with their findings kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import repeat

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

# Decimal degrees as CAP writes them (no exponent); the lenient reader below takes more.
_DEG = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = rf"{_DEG},{_DEG}"
_POLYGON_RE = re.compile(rf"\s*{_PAIR}(?:\s+{_PAIR})*\s*")
_NUMBER_RE = re.compile(_NUM)
_PAIR_CHARS = b"0123456789.+-, \t\r\n"
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


class _Ingest(Exception):
    """Internal: the message cannot be built (a fatal finding is already recorded)."""


# A tolerant pipeline can default category and certainty ("Unknown"), but it cannot name,
# date, scope or prioritise a message without these; missing, they stop ingest.
_CANNOT_ACT_WITHOUT = frozenset(
    {"identifier", "sender", "sent", "status", "msgType", "scope", "urgency", "severity",
     "areaDesc", "resourceDesc", "valueName", "value"}
)  # fmt: skip

_DSIG_SIGNATURE = "{" + S.NS_DSIG + "}Signature"

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
    This is the hot loop of validation: keep it lean.
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


def _local(tag: object) -> str:
    s = str(tag)
    return s.rsplit("}", 1)[-1]


def _one(groups: dict[str, list], name: str) -> str | None:
    lst = groups.get(name)
    return lst[0] if lst else None


def _enum(
    value: str | None, allowed: frozenset[str], name: str, path: str, f: _Findings, *, fatal: bool
) -> str | None:
    if value is None:
        return None
    v = value.strip()
    if v in allowed:
        return v
    rule = "cap.schema.enum" if fatal else "cap.schema.enum-optional"
    shown = f'"{value}"' if value else "an empty value"
    f.add(rule, f"<{name}> has {shown}; allowed: {', '.join(sorted(allowed))}", path)
    return None


def _datetime(text: str, version: str, path: str, f: _Findings, *, sent: bool = False) -> datetime | None:
    """Read a CAP date-time; strict per version, tolerant for ingest (CAP 1.2 §3.3.2)."""
    s = text.strip()
    if version == "1.2" and _DT_12.fullmatch(text):
        try:
            return datetime.fromisoformat(s)
        except ValueError:
            pass
    elif version != "1.2" and _DT_XS.fullmatch(s):
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


def _named_values(
    els: Iterable[etree._Element], name: str, path: str, sch: S.VersionSchema, f: _Findings
) -> list[NamedValue]:
    out: list[NamedValue] = []
    ns_brace = "{" + sch.ns + "}"
    vn_tag = ns_brace + "valueName"
    v_tag = ns_brace + "value"
    for i, el in enumerate(els, 1):
        p = f"{path}/{name}[{i}]"
        if sch.named_values_as_text:
            # CAP 1.0: "valueName=value" in the element text.
            text = el  # text elements arrive as their text (see _children)
            vn, sep, v = text.partition("=")
            if not sep:
                f.add("cap.named-value.format", f'"{text}" has no "="', p)
                out.append(NamedValue(value_name="", value=text.strip()))
            else:
                out.append(NamedValue(value_name=vn.strip(), value=v.strip()))
            continue
        kids = list(el)
        # Fast path: exactly <valueName/><value/>, both text-only, in order.
        if (
            len(kids) == 2
            and kids[0].tag == vn_tag
            and kids[1].tag == v_tag
            and not len(kids[0])
            and not len(kids[1])
        ):
            out.append(
                NamedValue(value_name=(kids[0].text or "").strip(), value=(kids[1].text or "").strip())
            )
            continue
        g = _children(el, S.NAMED_VALUE, p, ns_brace, f)
        out.append(
            NamedValue(
                value_name=(_one(g, "valueName") or "").strip(),
                value=(_one(g, "value") or "").strip(),
            )
        )
    return out


def _is_pair_list(text: str) -> bool:
    """True if `text` is whitespace-separated "lat,lon" decimal pairs (CAP 1.2 §3.2.4).

    Equivalent to matching _POLYGON_RE, at a fraction of the cost on long polygons: only digits,
    signs, points, commas and whitespace; exactly one comma per token; no empty number.
    """
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return False
    if raw.translate(None, _PAIR_CHARS):
        return False
    tokens = raw.split()
    # float() on this alphabet accepts exactly the decimals _DEG does; the caller converts.
    return bool(tokens) and list(map(bytes.count, tokens, repeat(b","))).count(1) == len(tokens)


def _polygon(text: str, path: str, f: _Findings) -> tuple[tuple[float, float], ...] | None:
    """One <polygon>: at least four lat,lon pairs, first equal to last (CAP 1.2 §3.2.4)."""
    if text.count(",") > MAX_POLYGON_PAIRS:
        raise CapError(
            "cap.xml.too-many-vertices",
            f"polygon has more than {MAX_POLYGON_PAIRS} pairs",
            path,
        )
    vals: list[float] | None = None
    if _is_pair_list(text):
        try:
            vals = list(map(float, text.replace(",", " ").split()))
        except ValueError:  # an empty side, a stray sign or a second point
            vals = None
    if vals is None:
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


def _area(el: etree._Element, path: str, sch: S.VersionSchema, f: _Findings, budget: list[int]) -> Area:
    ns_brace = "{" + sch.ns + "}"
    g = _children(el, sch.area, path, ns_brace, f, sch.complex_names)
    polygons = []
    for i, p in enumerate(g.get("polygon", ()), 1):
        pp = f"{path}/polygon[{i}]"
        poly = _polygon(p, pp, f)
        if poly is not None:
            budget[0] += len(poly)
            if budget[0] > MAX_MESSAGE_PAIRS:
                raise CapError(
                    "cap.xml.too-many-vertices",
                    f"message has more than {MAX_MESSAGE_PAIRS} polygon pairs",
                    pp,
                )
            polygons.append(poly)
    circles = []
    for i, c in enumerate(g.get("circle", ()), 1):
        cp = f"{path}/circle[{i}]"
        circle = _circle(c, cp, f)
        if circle is not None:
            circles.append(circle)
    altitude = _decimal(_one(g, "altitude"), "altitude", f"{path}/altitude", sch.version, f)
    ceiling = _decimal(_one(g, "ceiling"), "ceiling", f"{path}/ceiling", sch.version, f)
    if "ceiling" in g and "altitude" not in g:
        # CAP 1.2 §3.2.4: ceiling "MUST NOT be used except in combination with <altitude>".
        f.add("cap.area.ceiling-without-altitude", "<ceiling> is used without <altitude>", path)
    elif altitude is not None and ceiling is not None and ceiling < altitude:
        f.add("cap.area.ceiling-below-altitude", "ceiling is below altitude", path)
    return Area(
        area_desc=(_one(g, "areaDesc") or "").strip(),
        polygons=polygons,
        circles=circles,
        geocodes=_named_values(g.get("geocode", ()), "geocode", path, sch, f),
        altitude=altitude,
        ceiling=ceiling,
    )


def _resource(el: etree._Element, path: str, sch: S.VersionSchema, f: _Findings) -> Resource:
    g = _children(el, sch.resource, path, "{" + sch.ns + "}", f, sch.complex_names)
    mime = _one(g, "mimeType")
    if mime is not None and not _MIME_RE.fullmatch(mime.strip()):
        f.add(
            "cap.resource.mime-type",
            f'"{mime}" is not an RFC 2046 type/subtype',
            f"{path}/mimeType",
        )
    size_text = _one(g, "size")
    size = None
    if size_text is not None:
        if _INTEGER_RE.fullmatch(size_text):
            size = int(size_text)
            if size < 0:
                f.add("cap.resource.size", f"size {size} is negative", f"{path}/size")
        else:
            f.add("cap.schema.integer", f'<size> "{size_text}" is not an integer', f"{path}/size")
    deref = _one(g, "derefUri")
    if deref is not None and not _is_base64(deref):
        f.add(
            "cap.resource.deref-base64",
            "derefUri holds characters outside base-64",
            f"{path}/derefUri",
        )
    digest = _one(g, "digest")
    if digest is not None and not _SHA1_RE.fullmatch(digest):
        f.add("cap.resource.digest", "digest should be a 40-digit SHA-1 hex value", f"{path}/digest")
    uri = _one(g, "uri")
    if uri is not None and _INNER_SPACE.search(uri):
        f.add("cap.uri.whitespace", "uri contains whitespace", f"{path}/uri")
    return Resource(
        resource_desc=(_one(g, "resourceDesc") or "").strip(),
        mime_type=(mime or "").strip(),
        size=size,
        uri=uri.strip() if uri is not None else None,
        deref_uri=deref.strip() if deref is not None else None,
        digest=digest.strip() if digest is not None else None,
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


def _info(el: etree._Element, path: str, sch: S.VersionSchema, f: _Findings, budget: list[int]) -> Info:
    g = _children(el, sch.info, path, "{" + sch.ns + "}", f, sch.complex_names)
    enums = sch.enums
    language = _one(g, "language")
    if language is not None and not _LANGUAGE_RE.fullmatch(language.strip()):
        f.add(
            "cap.schema.language",
            f'"{language}" is not a language tag like en-US',
            f"{path}/language",
        )
    categories = []
    for i, c in enumerate(g.get("category", ()), 1):
        cp = f"{path}/category[{i}]"
        v = _enum(c, enums["category"], "category", cp, f, fatal=False)
        if v:
            categories.append(v)
    responses = []
    for i, c in enumerate(g.get("responseType", ()), 1):
        cp = f"{path}/responseType[{i}]"
        v = _enum(c, enums["responseType"], "responseType", cp, f, fatal=False)
        if v:
            responses.append(v)
    required = {}
    for name in ("urgency", "severity", "certainty"):
        required[name] = _enum(
            _one(g, name), enums[name], name, f"{path}/{name}", f, fatal=name != "certainty"
        )
    times = {}
    for name in ("effective", "onset", "expires"):
        t = _one(g, name)
        times[name] = None if t is None else _datetime(t, sch.version, f"{path}/{name}", f)
    exp = times["expires"]
    start = times["effective"] or times["onset"]
    if exp is not None and start is not None and exp < start:
        f.add(
            "cap.info.expires-before-effective",
            "expires is earlier than effective/onset",
            f"{path}/expires",
        )
    web = _one(g, "web")
    if web is not None and _INNER_SPACE.search(web):
        f.add("cap.uri.whitespace", "web contains whitespace", f"{path}/web")
    return Info(
        language=(language or "en-US").strip(),
        categories=categories,
        event=(_one(g, "event") or "").strip(),
        response_types=responses,
        urgency=required["urgency"] or "",
        severity=required["severity"] or "",
        certainty=required["certainty"] or "Unknown",
        audience=_opt(_one(g, "audience")),
        event_codes=_named_values(g.get("eventCode", ()), "eventCode", path, sch, f),
        effective=times["effective"],
        onset=times["onset"],
        expires=exp,
        sender_name=_opt(_one(g, "senderName")),
        headline=_opt(_one(g, "headline")),
        description=_opt(_one(g, "description")),
        instruction=_opt(_one(g, "instruction")),
        web=_opt(web),
        contact=_opt(_one(g, "contact")),
        parameters=_named_values(g.get("parameter", ()), "parameter", path, sch, f),
        resources=[
            _resource(r, f"{path}/resource[{i}]", sch, f) for i, r in enumerate(g.get("resource", ()), 1)
        ],
        areas=[_area(a, f"{path}/area[{i}]", sch, f, budget) for i, a in enumerate(g.get("area", ()), 1)],
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


def _build_alert(root: etree._Element, sch: S.VersionSchema, f: _Findings) -> tuple[Alert | None, bool]:
    """The alert (None when a fatal rule broke) and whether it carries a ds:Signature."""
    path = "/alert"
    ns_brace = "{" + sch.ns + "}"
    for attr in root.keys():  # noqa: SIM118 - lxml attribute names
        if not attr.startswith("{http://www.w3.org/2001/XMLSchema-instance}"):
            f.add("cap.schema.attribute", f'attribute "{attr}" is not allowed on <alert>', path)
    g = _children(root, sch.alert, path, ns_brace, f, sch.complex_names, allow_signature=sch.version != "1.0")
    enums = sch.enums
    identifier = (_one(g, "identifier") or "").strip()
    sender = (_one(g, "sender") or "").strip()
    if "identifier" in g:
        _id_chars(identifier, "identifier", f"{path}/identifier", f)
    if "sender" in g:
        _id_chars(sender, "sender", f"{path}/sender", f)
    sent_text = _one(g, "sent")
    sent = None
    if sent_text is not None:
        sent = _datetime(sent_text, sch.version, f"{path}/sent", f, sent=True)
    status = _enum(_one(g, "status"), enums["status"], "status", f"{path}/status", f, fatal=True)
    msg_type = _enum(_one(g, "msgType"), enums["msgType"], "msgType", f"{path}/msgType", f, fatal=True)
    scope_text = _one(g, "scope")
    scope = _enum(scope_text, enums["scope"], "scope", f"{path}/scope", f, fatal=True)
    if scope is None and scope_text is None and sch.version == "1.0":
        scope = "Public"  # CAP 1.0 XSD makes scope optional
    restriction = _opt(_one(g, "restriction"))
    addresses_text = _one(g, "addresses")
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
    ref_text = _one(g, "references")
    if ref_text is not None:
        references = _references(ref_text, sch.version, f"{path}/references", f)
    elif msg_type in ("Update", "Cancel", "Ack", "Error"):
        f.add("cap.references.missing", f"a {msg_type} should name the messages it refers to", path)
    budget = [0]
    infos = [_info(el, f"{path}/info[{i}]", sch, f, budget) for i, el in enumerate(g.get("info", ()), 1)]
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
        source=_opt(_one(g, "source")),
        restriction=restriction,
        addresses=addresses,
        codes=[c.strip() for c in g.get("code", ())],
        note=_opt(_one(g, "note")),
        references=references,
        incidents=(_one(g, "incidents") or "").split(),
        infos=infos,
        password=_opt(_one(g, "password")),
    ), signed


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
    try:
        alert, signed = _build_alert(root, sch, f)
    except CapError as exc:
        f.add(exc.rule, exc.message, exc.path)
        alert, signed = None, False
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
