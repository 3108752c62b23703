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
import struct
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import numpy as np
import simdjson
from lxml import etree

from cap import schema as S
from cap.errors import CapError, Finding
from cap.limits import DEFAULT_LIMITS, VERTICES_PER_CIRCLE, Limits
from cap.model import PAIR, Alert, Area, Circle, Info, LatLon, NamedValue, Polygon, Reference, Resource
from cap.profiles import check_profiles
from cap.report import (
    BAD_DIGEST,
    BAD_SIGNATURE,
    UNSIGNED,
    UNTRUSTED_OR_EXPIRED_CERT,
    UNVERIFIABLE,
    Report,
)
from cap.rules import FATAL, RULES
from cap.trust import Trust
from cap.xmlsafe import blanks_before_declaration, lean_parse, secure_parse

# The bounds of one message (counts, vertices, field lengths) are cap.limits's table.
MAX_POLYGON_PAIRS = DEFAULT_LIMITS.polygon_pairs
# A finding's message quotes the value at fault; past this many characters the middle is left out
# (the value is bounded by the document only when no length limit applies to it).
_MAX_MESSAGE = 400

# CAP 1.2 §3.2.4: a polygon is "lat,lon" pairs of decimal degrees (no exponent) separated by
# XML whitespace. `pair_values` checks the shape with bytes operations that run in C (faster
# than a regex on national boundaries); float() then reads each number, and on this alphabet it
# accepts exactly the decimals [-+]?(\d+(\.\d*)?|\.\d+): "1.2.3" or "+" falls to the lenient reader.
_PAIR_LIST_CHARS = b"0123456789.+-, \t\r\n"
_NUMBER_CHARS = b"0123456789.+-"
_DIGITS_AND_SIGNS = b"0123456789+-"
# One way to match each number (digits, then a point and digits if any): "\d+\.?\d*" could
# split a run of digits in as many ways as it is long, and a failed match of a long one then
# took time quadratic in its length (20,000 digits in a <circle>: 10 s).
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(_NUM)
_CIRCLE_RE = re.compile(rf"\s*({_NUM}),({_NUM})\s+({_NUM})\s*")
# xs:dateTime (CAP 1.0/1.1 use the XML Schema type).
_DT_XS = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[-+]\d\d:\d\d)?")
_LANGUAGE_RE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_INTEGER_RE = re.compile(r"\s*[-+]?\d+\s*")
_DECIMAL_RE = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*")
_MIME_RE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?", re.S)
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n"
_SHA1_RE = re.compile(r"\s*[0-9a-fA-F]{40}\s*")
_ADDRESS_RE = re.compile(r'"([^"]*)"|(\S+)')


class _Findings:
    """Collects findings of one message; knows which rules stop a tolerant ingest.

    Past `most` findings the reading stops (CapError cap.limits.findings, already recorded).
    """

    __slots__ = ("errors", "fatal", "most", "room", "warnings")

    def __init__(self, most: int = DEFAULT_LIMITS.findings) -> None:
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.fatal = False
        self.most = most
        self.room = most

    def add(self, rule: str, message: str, path: str, *, fatal: bool | None = None) -> None:
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 120] + " [...] " + message[-100:]
        if RULES[rule].level == "warning":
            self.warnings.append(Finding(rule, message, path))
        else:
            self.errors.append(Finding(rule, message, path))
            if rule in FATAL if fatal is None else fatal:
                self.fatal = True
        self.room -= 1
        if self.room == 0:
            stop = CapError(
                "cap.limits.findings", f"more than {self.most} findings; the rest are not reported", path
            )
            self.errors.append(stop.finding)
            self.fatal = True
            raise stop

    def stopped(self, exc: CapError) -> None:
        """Record the limit that stopped the reading (once: cap.limits.findings records itself)."""
        if exc.rule != "cap.limits.findings":
            self.errors.append(exc.finding)
            self.fatal = True


# A tolerant pipeline cannot name, date, scope or prioritise a message without these; missing,
# they stop ingest. status, msgType and scope have no "unknown" value (CAP 1.2 §3.2.1), and any
# guess could mislead: an exercise read as Actual, an Update as a new Alert, a Restricted
# message as Public. <severity> has Unknown (§3.2.2), but the shared corpus's manifest expects a
# message without it to be refused (wmo_burkina-faso-missing-severity.xml), so it stays here.
_CANNOT_ACT_WITHOUT = frozenset(
    {"identifier", "sender", "sent", "status", "msgType", "scope", "severity",
     "areaDesc", "resourceDesc", "valueName", "value"}
)  # fmt: skip
# Required enumerations that define "Unknown" (CAP 1.2 §3.2.2): a message without one loses
# nothing when it is read as Unknown, which the finding says (category has no Unknown value but
# is never needed to act: the list is just left empty).
_READ_AS_UNKNOWN = frozenset({"urgency", "certainty"})

_DSIG_SIGNATURE = "{" + S.NS_DSIG + "}Signature"
_DSIG_NS_BYTES = S.NS_DSIG.encode("ascii")

# The children of one element, one entry per name of its structure (below), None when absent:
# for an element that may occur once, its text; for one that may repeat, the list of their
# texts; for one with element content (always repeatable in CAP), the list of the elements. When a
# once-only element is repeated (a finding), the first one counts. A list, not a dict, so that
# each reader unpacks it in one step.
Fields = list[Any]
# The most characters of each text of a structure, by index in its names (see `_Bounds`).
Lengths = tuple[int, ...]

# The names each structure can hold in any CAP version, in schema order (each version's
# sequence is this order with some names left out, so an index also orders a version's names).
_ALERT_NAMES = (
    "identifier", "sender", "sent", "status", "msgType", "password", "source", "scope",
    "restriction", "addresses", "code", "note", "references", "incidents", "info", "Signature",
)  # fmt: skip
_INFO_NAMES = (
    "language", "category", "event", "responseType", "urgency", "severity", "certainty",
    "audience", "eventCode", "effective", "onset", "expires", "senderName", "headline",
    "description", "instruction", "web", "contact", "parameter", "resource", "area",
)  # fmt: skip
_RESOURCE_NAMES = ("resourceDesc", "mimeType", "size", "uri", "derefUri", "digest")
_AREA_NAMES = tuple(name for name, _, _ in S.AREA)
_NAMED_VALUE_NAMES = tuple(name for name, _, _ in S.NAMED_VALUE)


class _Irregular(Exception):
    """Internal: the structure departs from the schema; read again with the detailed checks."""


# What a repeatable element of a sequence holds: texts, CAP elements, or (ds:Signature) an
# element of another schema, whose attributes (Id) and content are that schema's business.
_TEXTS, _NODES, _FOREIGN = 0, 1, 2


class _Sequence:
    """One content model (an XSD sequence) of one CAP version and the names it is read into."""

    __slots__ = ("allow_signature", "index", "model", "names", "once", "repeated", "required", "size")

    def __init__(
        self, model: S.Model, names: tuple[str, ...], sch: S.VersionSchema, *, allow_signature: bool
    ) -> None:
        self.model = model
        self.allow_signature = allow_signature
        self.names = names
        self.size = len(names)
        self.index = {name: i for i, name in enumerate(names)}
        ns_brace = "{" + sch.ns + "}"
        # qualified tag -> index in `names`: for elements that may occur once (read as text),
        # and for the others with what they hold (_TEXTS, _NODES or _FOREIGN)
        self.once: dict[str, int] = {}
        self.repeated: dict[str, tuple[int, int]] = {}
        for name, _, hi in model:
            if name in sch.complex_names or hi > 1:
                kind = _NODES if name in sch.complex_names else _TEXTS
                self.repeated[ns_brace + name] = (self.index[name], kind)
            else:
                self.once[ns_brace + name] = self.index[name]
        if allow_signature:  # see _children: after everything else, repeatable
            self.repeated[_DSIG_SIGNATURE] = (self.index["Signature"], _FOREIGN)
        self.required = tuple(self.index[name] for name, lo, _ in model if lo > 0)


class _Schema:
    """The sequences of one CAP version, for `_Walk`."""

    __slots__ = ("alert", "area", "info", "named_value", "named_value_tags", "resource")

    def __init__(self, sch: S.VersionSchema) -> None:
        self.alert = _Sequence(sch.alert, _ALERT_NAMES, sch, allow_signature=sch.version != "1.0")
        self.info = _Sequence(sch.info, _INFO_NAMES, sch, allow_signature=False)
        self.resource = _Sequence(sch.resource, _RESOURCE_NAMES, sch, allow_signature=False)
        self.area = _Sequence(sch.area, _AREA_NAMES, sch, allow_signature=False)
        self.named_value = _Sequence(S.NAMED_VALUE, _NAMED_VALUE_NAMES, sch, allow_signature=False)
        ns_brace = "{" + sch.ns + "}"
        self.named_value_tags = (ns_brace + "valueName", ns_brace + "value")


_SEQUENCES = {sch.version: _Schema(sch) for sch in S.SCHEMAS.values()}
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

    __slots__ = (
        "areas", "bounds", "circles", "dates", "f", "fields", "geocodes", "limits", "parameters",
        "polygon_count", "polygons", "resources", "sch", "seq", "unplaceable", "version", "vertices",
    )  # fmt: skip

    def __init__(self, sch: S.VersionSchema, f: _Findings, limits: Limits, *, checked: bool) -> None:
        self.sch = sch
        self.version = sch.version
        self.f = f
        self.seq = _SEQUENCES[sch.version]
        # What the message has asked for so far, against `limits` (cap.limits).
        self.limits = limits
        self.bounds = _bounds_of(limits)
        self.vertices = 0  # polygon pairs, and VERTICES_PER_CIRCLE per circle
        self.areas = self.polygon_count = self.circles = self.geocodes = 0
        self.resources = self.parameters = 0
        self.unplaceable: list[str] = []  # paths of areas no polygon or circle of can be placed
        # Messages repeat themselves: every <info> of a multilingual alert carries the same
        # polygons and date-times, <references> the same sent. Texts read without a finding
        # are kept for the rest of this message (the values are immutable, the reading of a
        # text does not depend on where it stands); a text with a finding is read again at
        # each place, so that each place gets its finding.
        # Polygons by length: hashing a polygon's text would cost more than it saves (texts of
        # one length are compared, and that compare stops at the first difference).
        self.polygons: dict[int, tuple[str, Polygon]] = {}
        self.dates: dict[str, datetime] = {}  # CAP 1.2 date-times of the exact pattern
        # fields(el, sequence, most, path): the children of `el`, read against `sequence`, in
        # the order of its names, each text within `most` characters (cap.limits; `_Bounds`).
        # A plain function (no method in between) on the regular reading.
        self.fields: Callable[[etree._Element, _Sequence, Lengths, str], Fields] = (
            partial(_checked_fields, sch, f) if checked else _regular_fields
        )


def _checked_fields(
    sch: S.VersionSchema, f: _Findings, el: etree._Element, sequence: _Sequence, most: Lengths, path: str
) -> Fields:
    """`Fields` of `el` by `_children`, which names every departure from the sequence; then
    CapError (cap.limits.length) for the first text, in the sequence's order, longer than `most`
    allows (a repeated element's texts are left to the caller, which counts them first)."""
    groups = _children(
        el, sequence.model, path, "{" + sch.ns + "}", f, sch.complex_names,
        allow_signature=sequence.allow_signature,
    )  # fmt: skip
    fields: Fields = [None] * sequence.size
    index = sequence.index
    for name, lst in groups.items():
        fields[index[name]] = lst if name in _REPEATABLE else lst[0]
    for i, text in enumerate(fields):
        if text.__class__ is str and len(text) > most[i]:
            name = sequence.names[i]
            raise _too_long(name, text, most[i], f"{path}/{name}")
    return fields


def _regular_fields(el: etree._Element, sequence: _Sequence, most: Lengths, path: str) -> Fields:
    """The children of `el` as `Fields` if they follow the sequence exactly, else `_Irregular`.

    Exactly: only the sequence's elements, in its order, once-only ones once, required ones
    present, text elements holding text alone, nothing else between them (not even a
    comment), and every text within `most` characters. Whatever departs from that is left to
    `_checked_fields`, which names it (a text past its length is refused there, with the rule
    and path and in the order the limits have always been reported: this walk only sees it).
    """
    fields: Fields = [None] * sequence.size
    once = sequence.once
    repeated = sequence.repeated
    high = -1  # index reached so far (indices follow the sequence's order)
    for child in el[:]:  # a slice is built in C: cheaper than iterating the element
        tag = child.tag  # a comment's or PI's tag is a function: in neither table
        i = once.get(tag)
        # The schema declares no attribute on any element: keys() must be empty.
        if i is not None:
            # Indices name elements: reaching this one's again means it is repeated.
            if i <= high or len(child) or child.keys():  # len: an element, comment or PI inside
                raise _Irregular
            text = child.text or ""
            if len(text) > most[i]:
                raise _Irregular
            fields[i] = text
            high = i
            continue
        slot = repeated.get(tag)
        if slot is None:
            raise _Irregular
        i, kind = slot
        if i < high:
            raise _Irregular
        if kind == _NODES:
            if child.keys():
                raise _Irregular
            value = child
        elif kind == _FOREIGN:
            value = child
        elif len(child) or child.keys():
            raise _Irregular
        else:
            value = child.text or ""
            if len(value) > most[i]:  # <code>: its length is checked after its count
                raise _Irregular
        if i == high:  # the previous child is one of these too (indices name elements)
            fields[i].append(value)
        else:
            fields[i] = [value]
            high = i
    for i in sequence.required:
        if fields[i] is None:
            raise _Irregular
    return fields


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
                f"required <{name}> is missing; read as Unknown"
                if name in _READ_AS_UNKNOWN
                else f"required <{name}> is missing",
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
    if value in allowed:  # spelled as the enumeration has it (None never is)
        return value
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


# The separators of a CAP 1.2 date-time YYYY-MM-DDThh:mm:ss+hh:mm: every third character from
# the fifth.
_CAP12_SEPARATORS = frozenset({"--T::+:", "--T::-:"})


def cap12_datetime(text: str) -> datetime | None:
    """A date-time exactly as CAP 1.2 writes it (§3.3.2), else None."""
    # The XSD pattern \d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d without a regex: with 25
    # characters and these separators in place, fromisoformat accepts only ASCII digits between.
    if len(text) == 25 and text[4::3] in _CAP12_SEPARATORS:
        try:
            return datetime.fromisoformat(text)
        except ValueError:  # 2024-02-30 and the like
            return None
    return None


def _datetime_field(text: str, parent: str, name: str, w: _Walk) -> datetime | None:
    """`_datetime` of <parent/name>, the path spelled out only when there is a finding."""
    dt = w.dates.get(text)
    if dt is not None:
        return dt
    version = w.version
    if version == "1.2" and len(text) == 25 and text[4::3] in _CAP12_SEPARATORS:  # cap12_datetime
        try:
            dt = w.dates[text] = datetime.fromisoformat(text)
            return dt
        except ValueError:
            pass
    return _datetime(text, version, f"{parent}/{name}", w.f, sent=name == "sent")


def _datetime(text: str, version: str, path: str, f: _Findings, *, sent: bool = False) -> datetime | None:
    """Read a CAP date-time; strict per version, tolerant for ingest (CAP 1.2 §3.3.2)."""
    if version == "1.2":
        dt = cap12_datetime(text)
        if dt is not None:
            return dt
    s = text.strip()
    if version == "1.2" and s != text:
        # xs:dateTime collapses whitespace before the CAP 1.2 pattern facet applies.
        dt = cap12_datetime(s)
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
        out = _named_values_as_text(els, name, path, w.f)
    else:
        out = _named_value_elements(els, name, path, w)
    value_name_max = w.bounds.value_name
    value_max = w.bounds.value
    for i, nv in enumerate(out, 1):
        if len(nv.value_name) > value_name_max:
            raise _too_long("valueName", nv.value_name, value_name_max, f"{path}/{name}[{i}]/valueName")
        if len(nv.value) > value_max:
            raise _too_long("value", nv.value, value_max, f"{path}/{name}[{i}]/value")
    return out


def _named_value_elements(els: Sequence, name: str, path: str, w: _Walk) -> list[NamedValue]:
    """CAP 1.1 and 1.2: each entry is <valueName/><value/>."""
    vn_tag, v_tag = w.seq.named_value_tags
    out: list[NamedValue] = []
    append = out.append
    for el in els:
        # The usual shape, checked here: exactly <valueName/><value/>, text only, in order.
        try:
            vn, v = el[:]
        except ValueError:  # not two children
            break
        # (The entry's own attributes are its parent's reading's business.)
        if vn.tag != vn_tag or v.tag != v_tag or len(vn) or len(v) or vn.keys() or v.keys():
            break
        append(NamedValue((vn.text or "").strip(), (v.text or "").strip()))
    else:
        return out
    # From the first entry of another shape on, `fields` reads (and names what departs).
    sequence = w.seq.named_value
    for i in range(len(out) + 1, len(els) + 1):
        # (Their lengths are checked once all are read: see `_named_values`.)
        value_name, value = w.fields(els[i - 1], sequence, _UNBOUNDED, f"{path}/{name}[{i}]")
        out.append(NamedValue((value_name or "").strip(), (value or "").strip()))
    return out


def _named_values_as_text(texts: Sequence[str], name: str, path: str, f: _Findings) -> list[NamedValue]:
    """CAP 1.0: each entry is "valueName=value" in the element text."""
    out: list[NamedValue] = []
    for i, text in enumerate(texts, 1):
        vn, sep, v = text.partition("=")
        if not sep:
            f.add("cap.named-value.format", f'"{text}" has no "="', f"{path}/{name}[{i}]")
            out.append(NamedValue("", text.strip()))
        else:
            out.append(NamedValue(vn.strip(), v.strip()))
    return out


def pair_values(text: str, max_pairs: int = 0) -> list[float] | None:
    """lat, lon, lat, lon... of a well-formed pair list (CAP 1.2 §3.2.4), else None.

    With `max_pairs`, a list of more pairs raises CapError (cap.xml.too-many-vertices, path
    "/") before the numbers past the bound are read.
    """
    packed = _pair_buffer(text, max_pairs)
    return None if packed is None else _floats(packed)


def _pair_buffer(text: str, max_pairs: int) -> bytes | None:
    """`pair_values` as float64 bytes (what numpy reads without a copy)."""
    if not text.isascii():
        return None
    stripped = text.strip(" \t\r\n")  # XML whitespace only (not \v, \f)
    packed = _regular_pairs(stripped, max_pairs)
    if packed is not None:
        return packed
    spaced = _single_spaced(stripped, max_pairs)
    if spaced is not None:
        packed = _regular_pairs(spaced, max_pairs)
        if packed is not None:
            return packed
    return _irregular_pairs(text.encode("ascii"), max_pairs)  # as bytes, each step is cheaper


# What str.split() takes for whitespace in ASCII text besides XML's space, tab, CR and LF.
_NON_XML_BLANKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _single_spaced(text: str, max_pairs: int) -> str | None:
    """`text` (ASCII, stripped) with one space for each run of XML whitespace (space, tab, CR,
    LF) where it holds a tab, CR or LF; else None, as when it holds other whitespace (\\v,
    \\f...), which only the irregular reading names.

    Pretty-printed alerts put each pair on a line of its own, indented: read so, they take the
    regular path instead of the irregular one (9 -> 6.5 us for 63 pairs). One comma per pair:
    a list longer than `max_pairs` allows is refused (cap.xml.too-many-vertices) before an
    object is made per pair.
    """
    # (One-character searches, at memory speed. A run of spaces alone is left to the irregular
    # reading: searching for two spaces costs more than most lists take to read.)
    if "\n" not in text and "\t" not in text and "\r" not in text:
        return None
    for blank in _NON_XML_BLANKS:
        if blank in text:
            return None
    if max_pairs and len(text) > 4 * max_pairs:  # shorter, it cannot hold that many ("0,0 ")
        _bound_pairs(text.count(","), max_pairs)
    return " ".join(text.split())


# A long pair list is read a piece of about this many bytes at a time, cut between two numbers:
# only one piece's JSON copy exists at once, and this thread's simdjson parser, which is reused
# and keeps buffers sized to the largest input it has read, stays small (a whole 4 MB polygon
# would leave it holding several times that for the life of the thread).
_PIECE_BYTES = 16 * 1024

# "lat,lon lat,lon ... lat,lon" without its digits and signs is this, cut to 4 * pairs - 1 bytes:
# a piece's shape is compared with a prefix in place (no pattern built per piece). Long enough
# for any regular piece: at most `_PIECE_BYTES` / 4 pairs begin in one (a pair is at least
# ".,." and a space, and past `_PIECE_BYTES` it holds no space, so no new pair).
_REGULAR_SHAPE = b".,. " * (_PIECE_BYTES // 4 + 2)


def _regular_pairs(text: str, max_pairs: int) -> bytes | None:
    """The usual shape, "lat,lon lat,lon ..." with single spaces and a point in every number,
    as float64 bytes; None for any other spelling (the caller then reads it as it can).

    Read a piece of about `_PIECE_BYTES` at a time, cut at a space between two pairs, so every
    temporary (the piece's bytes, its shape, its JSON) is small: whole-text copies of a national
    boundary (several hundred kB each) are fresh pages from the system every call, and faulting
    them in cost as much as reading the numbers. Deleting the digits and signs of a piece must
    leave ".,. .,. ... .,.": one pass in C checks the alphabet, the separators and one point per
    number, and counts the pairs, which are held to the bound before the piece's numbers are read.
    """
    end = len(text)
    parts: list[bytes] = []
    pairs = 0
    start = 0
    while start < end:
        cut = text.find(" ", start + _PIECE_BYTES)  # in the regular shape, a space ends a pair
        if cut < 0:
            cut = end
        piece = text[start:cut].encode("ascii")
        left = piece.translate(None, _DIGITS_AND_SIGNS)
        n = (len(left) + 1) // 4
        if not n or len(left) != 4 * n - 1 or not _REGULAR_SHAPE.startswith(left):
            return None
        pairs += n
        _bound_pairs(pairs, max_pairs)
        packed = _decimals(piece.replace(b" ", b","))
        if packed is None:
            return None
        parts.append(packed)
        start = cut + 1
    if not parts:  # blank: no pair list at all
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _irregular_pairs(raw: bytes, max_pairs: int) -> bytes | None:
    """A pair list in any other well-formed spelling (other whitespace, "+", "1.", ".5",
    numbers without a point...), as float64 bytes: float() reads what JSON does not."""
    if raw.translate(None, _PAIR_LIST_CHARS):  # anything else: a letter, an exponent...
        return None
    # One comma per pair: more commas than the bound, more pairs (or not a pair list at all).
    _bound_pairs(raw.count(b","), max_pairs)
    pairs = raw.split()
    joined = b" ".join(pairs)
    # One comma in every pair: as many commas as pairs, never two in one.
    separators = joined.translate(None, _NUMBER_CHARS)
    if separators.count(b",") != len(pairs) or b",," in separators:
        return None
    if not pairs:
        return None
    if joined.count(b".") == 2 * len(pairs):
        packed = _decimals(joined.replace(b" ", b","))
        if packed is not None:
            return packed
    try:
        vals = list(map(float, joined.replace(b",", b" ").split(b" ")))
    except ValueError:  # an empty half, a second point or a lone sign
        return None
    return struct.pack(f"{len(vals)}d", *vals)


def _floats(packed: bytes) -> list[float]:
    """The float64 numbers of `packed` (typeshed reads a memoryview's items as ints)."""
    return cast(list[float], memoryview(packed).cast("d").tolist())


def _bound_pairs(pairs: int, max_pairs: int) -> None:
    if max_pairs and pairs > max_pairs:
        raise CapError("cap.xml.too-many-vertices", f"polygon has more than {max_pairs} pairs", "/")


def _decimals(numbers: bytes | memoryview) -> bytes | None:
    """Numbers joined by commas ("lat,lon,lat,lon..."), each with one point, as float64 bytes.

    Read as one JSON array by simdjson, straight into a buffer of doubles: no Python object per
    number (a float object each was most of the time a national boundary took), correctly
    rounded like float(). JSON's grammar is narrower than CAP's decimals: no "+", "1.", ".5" or
    leading zeros, and a number without a point would be read as an integer, hence the caller's
    count of points (one per number, or JSON fails). None when JSON refuses: float() then decides.
    """
    try:
        # The array lives in the parser until it is released: copied out at once.
        return bytes(_json_parser().parse(b"".join((b"[", numbers, b"]"))).as_buffer(of_type="d"))
    except (ValueError, TypeError):  # not JSON numbers (simdjson's NUMBER_ERROR, TAPE_ERROR...)
        return None


_json = threading.local()


def _json_parser() -> Any:
    """This thread's simdjson parser (a parser is not thread-safe, and costs more to make than
    to use on a small polygon)."""
    parser = getattr(_json, "parser", None)
    if parser is None:
        parser = _json.parser = simdjson.Parser()
    return parser


# Up to this many pairs the range check loops over floats (see _polygon); past it numpy reads
# the buffer.
_LOOP_RANGE_MAX = 256


def _separators(text: str) -> int:
    """An upper bound on the numbers in `text` less one: its commas and whitespace."""
    return sum(text.count(c) for c in ", \t\r\n")


def _polygon(
    text: str, path: str, f: _Findings, max_pairs: int = MAX_POLYGON_PAIRS
) -> tuple[Polygon | None, bool]:
    """One <polygon>: at least four lat,lon pairs, first equal to last (CAP 1.2 §3.2.4), and
    whether every pair is within WGS 84 ranges (§3.3.1)."""
    try:
        packed = _pair_buffer(text, max_pairs)
    except CapError as exc:  # past the bound: the reading stops here, with this place
        raise CapError(exc.rule, exc.message, path) from None
    if packed is None:
        if len(text) > 4 * max_pairs and _separators(text) > 2 * max_pairs:
            # Read leniently, numbers may come without commas: bound what findall would make.
            raise CapError(
                "cap.xml.too-many-vertices",
                f"polygon has more than {max_pairs} coordinate pairs",
                path,
            )
        nums = _NUMBER_RE.findall(text)
        if len(nums) < 2:
            f.add("cap.polygon.format", "polygon is empty or has no coordinate pairs", path)
            return None, False
        f.add(
            "cap.polygon.format",
            'polygon must be whitespace-separated "lat,lon" pairs; read leniently',
            path,
        )
        vals = list(map(float, nums[: len(nums) // 2 * 2]))
        packed = struct.pack(f"{len(vals)}d", *vals)
    # The model keeps the buffer itself: no Python object per pair (see `Polygon`). Its pairs
    # are read here from the buffer, in C, not through the model's Python methods.
    polygon = Polygon.from_buffer(packed)
    size = len(packed)
    n = size // PAIR.size
    if n < 4:
        f.add("cap.polygon.min-pairs", f"polygon has {n} pair(s); at least 4 are required", path)
    if PAIR.unpack_from(packed, 0) != PAIR.unpack_from(packed, size - PAIR.size):
        f.add("cap.polygon.closed", "polygon's first and last pairs must be the same", path)
    if n <= _LOOP_RANGE_MAX:
        within = _within_ranges(_floats(packed))
    else:
        # Long rings (national boundaries): the numbers' buffer as an array, no copy.
        array = np.frombuffer(packed)
        lats, lons = array[0::2], array[1::2]
        within = bool(lats.min() >= -90 and lats.max() <= 90 and lons.min() >= -180 and lons.max() <= 180)
    if not within:
        f.add(
            "cap.coordinate.range",
            "latitude must be within -90..90 and longitude within -180..180 (lat,lon order)",
            path,
        )
        return polygon, False
    return polygon, True


def _within_ranges(vals: list[float]) -> bool:
    """Whether every pair of lat, lon, lat, lon... is within WGS 84 ranges (CAP 1.2 §3.3.1).

    A loop compiled by mypyc, on unboxed floats: cheaper than numpy's per-call cost below a few
    hundred pairs. A NaN is out of range (no comparison holds), though no reading here makes one.
    """
    for i in range(0, len(vals) - 1, 2):
        lat = vals[i]
        lon = vals[i + 1]
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return False
    return True


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
    return Circle(lat, lon, r)


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
    if len(el) > w.bounds.area_children:
        limits = w.limits
        _crowded(el, path, w, w.bounds.area_children, (
            ("polygon", "polygons", limits.polygons - w.polygon_count),
            ("circle", "circles", limits.circles - w.circles),
            ("geocode", "geocodes", limits.geocodes - w.geocodes),
        ))  # fmt: skip
    fields = w.fields(el, w.seq.area, w.bounds.area, path)
    area_desc, polygon_texts, circle_texts, geocodes, altitude_text, ceiling_text = fields
    limits = w.limits
    # Counted before any is read: the work of a message past a bound is never done.
    if polygon_texts is not None:
        w.polygon_count = _counted(w.polygon_count, len(polygon_texts), limits.polygons, "polygons",
                                   "<polygon> elements", path, "polygon")  # fmt: skip
    if circle_texts is not None:
        w.circles = _counted(w.circles, len(circle_texts), limits.circles, "circles",
                             "<circle> elements", path, "circle")  # fmt: skip
    if geocodes is not None:
        w.geocodes = _counted(w.geocodes, len(geocodes), limits.geocodes, "geocodes",
                              "<geocode> entries", path, "geocode")  # fmt: skip
    # Whether the area gives a place and cannot be placed (see `_build_alert`): it has polygons
    # or circles, none of them usable, and no geocode (which only geo can judge).
    unplaceable = (polygon_texts is not None or circle_texts is not None) and geocodes is None
    polygons: list[Sequence[LatLon]] = []
    if polygon_texts is not None:
        seen = w.polygons
        for i, p in enumerate(polygon_texts, 1):
            known = seen.get(len(p))
            if known is not None and known[0] == p:
                poly = known[1]
                unplaceable = False  # kept only when read without a finding
            else:
                found = len(f.errors) + len(f.warnings)
                read, in_range = _polygon(p, f"{path}/polygon[{i}]", f, limits.polygon_pairs)
                if read is None:
                    continue
                poly = read
                if in_range:
                    unplaceable = False
                if len(f.errors) + len(f.warnings) == found:
                    seen[len(p)] = (p, poly)
            # A repeated polygon still counts: the limit bounds what the model holds.
            w.vertices += len(poly)
            _vertex_budget(w, f"{path}/polygon[{i}]")
            polygons.append(poly)
    circles = []
    for i, c in enumerate(circle_texts or (), 1):
        where = f"{path}/circle[{i}]"
        if len(c) > w.bounds.circle:
            raise _too_long("circle", c, w.bounds.circle, where)
        w.vertices += VERTICES_PER_CIRCLE  # what geo.areas draws it as
        _vertex_budget(w, where)
        circle = _circle(c, where, f)
        if circle is not None:
            circles.append(circle)
            if -90 <= circle.lat <= 90 and -180 <= circle.lon <= 180:
                unplaceable = False
    if unplaceable:
        w.unplaceable.append(path)
    altitude = ceiling = None
    if altitude_text is not None:
        altitude = _decimal(altitude_text, "altitude", f"{path}/altitude", w.version, f)
    if ceiling_text is not None:
        ceiling = _decimal(ceiling_text, "ceiling", f"{path}/ceiling", w.version, f)
        if altitude_text is None:
            # CAP 1.2 §3.2.4: ceiling "MUST NOT be used except in combination with <altitude>".
            f.add("cap.area.ceiling-without-altitude", "<ceiling> is used without <altitude>", path)
        elif altitude is not None and ceiling is not None and ceiling < altitude:
            f.add("cap.area.ceiling-below-altitude", "ceiling is below altitude", path)
    return Area(
        (area_desc or "").strip(),
        polygons,
        circles,
        _named_values(geocodes, "geocode", path, w) if geocodes else [],
        altitude,
        ceiling,
    )


def _resource(el: etree._Element, path: str, w: _Walk) -> Resource:
    f = w.f
    fields = w.fields(el, w.seq.resource, w.bounds.resource, path)
    resource_desc, mime, size_text, uri, deref, digest = fields
    if mime is not None and not _MIME_RE.fullmatch(mime.strip()):
        f.add(
            "cap.resource.mime-type",
            f'"{mime}" is not an RFC 2046 type/subtype',
            f"{path}/mimeType",
        )
    size = None
    if size_text is not None:
        if _INTEGER_RE.fullmatch(size_text):
            try:
                size = int(size_text)
            except ValueError:  # past Python's 4,300 digits (only with a lifted length limit)
                size = -1
            if size < 0:
                f.add("cap.resource.size", f"size {size} is negative", f"{path}/size")
        else:
            f.add("cap.schema.integer", f'<size> "{size_text}" is not an integer', f"{path}/size")
    if deref is not None and not _is_base64(deref):
        f.add(
            "cap.resource.deref-base64",
            "derefUri holds characters outside base-64",
            f"{path}/derefUri",
        )
    if digest is not None and not _SHA1_RE.fullmatch(digest):
        f.add("cap.resource.digest", "digest should be a 40-digit SHA-1 hex value", f"{path}/digest")
    if uri is not None and _inner_space(uri):
        f.add("cap.uri.whitespace", "uri contains whitespace", f"{path}/uri")
    return Resource(
        (resource_desc or "").strip(),
        (mime or "").strip(),
        size,
        _opt(uri),
        _opt(deref),
        _opt(digest),
    )


def _is_base64(text: str) -> bool:
    # Embedded audio runs to hundreds of KB: delete the alphabet in C and see what is left.
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return not raw.translate(None, _BASE64_CHARS)


def _inner_space(text: str) -> bool:
    """Whether whitespace stands between two other characters (a URI must not hold any)."""
    # str.split and the regex \S\s+\S know the same whitespace (Py_UNICODE_ISSPACE); split
    # runs in C without a regex's per-position work.
    return len(text.split(None, 1)) > 1


def _opt(value: str | None) -> str | None:
    return value.strip() if value is not None else None


def _enums(values: Sequence[str], allowed: frozenset[str], name: str, path: str, f: _Findings) -> list[str]:
    """The allowed values of a repeatable enumerated element (category, responseType)."""
    out = list(map(str.strip, values))
    if allowed.issuperset(out):
        return out
    out = []
    for i, value in enumerate(values, 1):
        v = _enum(value, allowed, path, name, f, fatal=False, index=i)
        if v:
            out.append(v)
    return out


def _info(el: etree._Element, path: str, w: _Walk) -> Info:
    f = w.f
    if len(el) > w.bounds.info_children:
        limits = w.limits
        _crowded(el, path, w, w.bounds.info_children, (
            ("area", "areas", limits.areas - w.areas),
            ("resource", "resources", limits.resources - w.resources),
            ("parameter", "parameters", limits.parameters - w.parameters),
            ("eventCode", "parameters", limits.parameters - w.parameters),
        ))  # fmt: skip
    enums = w.sch.enums
    fields = w.fields(el, w.seq.info, w.bounds.info, path)
    (
        language, category, event, response_type, urgency_text, severity_text, certainty_text,
        audience, event_code, effective_text, onset_text, expires_text, sender_name, headline,
        description, instruction, web, contact, parameter, resource, area,
    ) = fields  # fmt: skip
    limits = w.limits
    if event_code is not None:
        w.parameters = _counted(w.parameters, len(event_code), limits.parameters, "parameters",
                                "<eventCode> and <parameter> entries", path, "eventCode")  # fmt: skip
    if parameter is not None:
        w.parameters = _counted(w.parameters, len(parameter), limits.parameters, "parameters",
                                "<eventCode> and <parameter> entries", path, "parameter")  # fmt: skip
    if resource is not None:
        w.resources = _counted(w.resources, len(resource), limits.resources, "resources",
                               "<resource> entries", path, "resource")  # fmt: skip
    if area is not None:
        w.areas = _counted(w.areas, len(area), limits.areas, "areas", "<area> blocks", path, "area")
    if language is not None and not _LANGUAGE_RE.fullmatch(language.strip()):
        f.add(
            "cap.schema.language",
            f'"{language}" is not a language tag like en-US',
            f"{path}/language",
        )
    categories = _enums(category or (), enums["category"], "category", path, f)
    responses = []
    if response_type is not None:  # CAP 1.1 and later
        responses = _enums(response_type, enums["responseType"], "responseType", path, f)
    urgency = _enum(urgency_text, enums["urgency"], path, "urgency", f, fatal=True)
    severity = _enum(severity_text, enums["severity"], path, "severity", f, fatal=True)
    certainty = _enum(certainty_text, enums["certainty"], path, "certainty", f, fatal=False)
    effective = onset = expires = None
    if effective_text is not None:
        effective = _datetime_field(effective_text, path, "effective", w)
    if onset_text is not None:
        onset = _datetime_field(onset_text, path, "onset", w)
    if expires_text is not None:
        expires = _datetime_field(expires_text, path, "expires", w)
    start = effective or onset
    if expires is not None and start is not None and expires < start:
        f.add(
            "cap.info.expires-before-effective",
            "expires is earlier than effective/onset",
            f"{path}/expires",
        )
    if web is not None and _inner_space(web):
        f.add("cap.uri.whitespace", "web contains whitespace", f"{path}/web")
    # Positional, in the field order of `Info`; `x and x.strip()` keeps an absent None.
    return Info(
        (language or "en-US").strip(),
        categories,
        (event or "").strip(),
        responses,
        urgency or "Unknown",  # missing: read as Unknown (a wrong value is fatal, see `_enum`)
        severity or "",
        certainty or "Unknown",
        audience and audience.strip(),
        _named_values(event_code, "eventCode", path, w) if event_code else [],
        effective,
        onset,
        expires,
        sender_name and sender_name.strip(),
        headline and headline.strip(),
        description and description.strip(),
        instruction and instruction.strip(),
        web and web.strip(),
        contact and contact.strip(),
        _named_values(parameter, "parameter", path, w) if parameter else [],
        [_resource(r, f"{path}/resource[{i}]", w) for i, r in enumerate(resource or (), 1)],
        [_area(a, f"{path}/area[{i}]", w) for i, a in enumerate(area or (), 1)],
    )


def _references(text: str, path: str, w: _Walk) -> list[Reference]:
    """CAP 1.2 §3.2.1: whitespace-separated "sender,identifier,sent" triplets."""
    f = w.f
    tokens = text.split()
    if not tokens:
        f.add("cap.references.empty", "<references> is present but empty", path)
        return []
    if len(tokens) > w.limits.references:
        raise CapError(
            "cap.limits.references",
            f"<references> names {len(tokens)} messages; at most {w.limits.references} are read",
            path,
        )
    version = w.version
    dates = w.dates  # an update names several messages of one sent, or its own sent again
    out = []
    for tok in tokens:
        try:
            sender, identifier, sent_text = tok.split(",")
        except ValueError:  # not three parts
            sender = identifier = ""
        if not sender or not identifier:
            f.add("cap.references.format", f'"{tok}" is not sender,identifier,sent', path)
            continue
        sent = dates.get(sent_text)
        if sent is None:
            sent = cap12_datetime(sent_text) if version == "1.2" else None
            if sent is None:
                sub = _Findings()
                sent = _datetime(sent_text, version, path, sub)
                if sent is None or sub.errors:
                    f.add("cap.references.format", f'"{tok}": "{sent_text}" is not a CAP date-time', path)
                if sent is None:
                    continue
            else:
                dates[sent_text] = sent
        out.append(Reference(sender, identifier, sent))
    return out


def _too_long(name: str, text: str, limit: int, path: str) -> CapError:
    """The refusal of a text longer than <name> may be (cap.limits, FIELD_LENGTHS)."""
    message = f"<{name}> holds {len(text)} characters; at most {limit} are read"
    return CapError("cap.limits.length", message, path)


_NO_LIMIT = 1 << 62
# No bound on any text of a <valueName/><value/> entry while it is read: `_named_values` checks
# them once every entry is read.
_UNBOUNDED: Lengths = (_NO_LIMIT,) * len(_NAMED_VALUE_NAMES)


class _Bounds:
    """What one `Limits` means for the walk, worked out once per `Limits` (see `_bounds_of`):
    each structure's text bounds by index in its names (`Lengths`, for `_Walk.fields`), single
    bounds, and the most child nodes each structure can hold within the counts (see `_crowded`)."""

    __slots__ = (
        "alert", "alert_children", "area", "area_children", "circle", "code", "info", "info_children",
        "resource", "value", "value_name",
    )  # fmt: skip

    def __init__(self, limits: Limits) -> None:
        lengths = limits.lengths

        def most(names: tuple[str, ...]) -> Lengths:
            return tuple(lengths.get(name, _NO_LIMIT) for name in names)

        self.alert = most(_ALERT_NAMES)  # <code> repeats: also counted, then checked entry by entry
        self.info = most(_INFO_NAMES)
        self.area = most(_AREA_NAMES)  # <circle> likewise
        self.resource = most(_RESOURCE_NAMES)
        self.circle = lengths.get("circle", _NO_LIMIT)
        self.code = lengths.get("code", _NO_LIMIT)
        self.value_name = lengths.get("valueName", _NO_LIMIT)
        self.value = lengths.get("value", _NO_LIMIT)
        self.alert_children = len(_ALERT_NAMES) + limits.infos + limits.codes + 4  # ds:Signature
        # category and responseType repeat values of small enumerations (12 and 9 of them).
        self.info_children = len(_INFO_NAMES) + limits.parameters + limits.resources + limits.areas + 64
        self.area_children = len(_AREA_NAMES) + limits.polygons + limits.circles + limits.geocodes


# By the identity of the Limits (kept alive here): hashing a Limits costs more than a walk step.
_BOUNDS: dict[int, tuple[Limits, _Bounds]] = {}


def _bounds_of(limits: Limits) -> _Bounds:
    found = _BOUNDS.get(id(limits))
    if found is not None and found[0] is limits:
        return found[1]
    if len(_BOUNDS) > 64:  # callers making a Limits per call: keep the table small
        _BOUNDS.clear()
    bounds = _Bounds(limits)
    _BOUNDS[id(limits)] = (limits, bounds)
    return bounds


def _counted(total: int, added: int, limit: int, what: str, noun: str, path: str, name: str) -> int:
    """`total + added`; CapError (cap.limits.<what>) naming the first <name> of this parent
    past `limit` when the message asks for more."""
    total += added
    if total > limit:
        k = added - (total - limit) + 1
        raise CapError(
            f"cap.limits.{what}",
            f"the message has more than {limit} {noun}; no more are read",
            f"{path}/{name}[{k}]",
        )
    return total


def _crowded(
    el: etree._Element, path: str, w: _Walk, bound: int, bounded: tuple[tuple[str, str, int], ...]
) -> None:
    """CapError for an element with more child nodes than its content model can hold within
    the limits: the count it breaks (`bounded`: child name, limit name, room left), else
    cap.limits.children.

    Called before the children are read: libxml2 counts them (XPath count(), no Python object
    per child), where reading 100,000 children into a list took one call of 0.2 s that held
    the interpreter, and with it the event loop of a service reading the message in a thread.
    """
    namespaces = {"c": w.sch.ns}
    for name, what, room in bounded:
        count = int(el.xpath(f"count(c:{name})", namespaces=namespaces))
        if count > room:
            raise CapError(
                f"cap.limits.{what}",
                f"the message has more than {getattr(w.limits, what)} <{name}> entries; no more are read",
                f"{path}/{name}[{room + 1}]",
            )
    raise CapError(
        "cap.limits.children",
        f"<{_local(el.tag)}> holds {len(el)} child nodes; within the limits its content holds at "
        f"most {bound}",
        path,
    )


def _vertex_budget(w: _Walk, path: str) -> None:
    """CapError (cap.xml.too-many-vertices) once the message's vertices pass the budget."""
    if w.vertices > w.limits.vertices:
        raise CapError(
            "cap.xml.too-many-vertices",
            f"message has more than {w.limits.vertices} vertices (polygon pairs, and "
            f"{VERTICES_PER_CIRCLE} per circle)",
            path,
        )


def _id_chars(value: str, name: str, f: _Findings) -> None:
    # CAP 1.2 §3.2.1: identifier and sender "MUST NOT include spaces, commas or restricted
    # characters (< and &)" — they are joined by commas in <references>.
    if not value:
        f.add("cap.schema.empty", f"<{name}> is empty", f"/alert/{name}")
    # Any of [\s,<&], without a regex: str.split knows the whitespace of \s
    # (Py_UNICODE_ISSPACE) and leaves [value] exactly when there is none.
    elif "," in value or "<" in value or "&" in value or value.split(None, 1) != [value]:
        f.add("cap.identifier.chars" if name == "identifier" else "cap.sender.chars",
              f'<{name}> "{value}" contains a space, comma, < or &', f"/alert/{name}")  # fmt: skip


def _build_alert(root: etree._Element, w: _Walk) -> tuple[Alert | None, bool]:
    """The alert (None when a fatal rule broke) and whether it carries a ds:Signature."""
    path = "/alert"
    sch = w.sch
    f = w.f
    if len(root) > w.bounds.alert_children:
        bounded = (("info", "infos", w.limits.infos), ("code", "codes", w.limits.codes))
        _crowded(root, path, w, w.bounds.alert_children, bounded)
    _attributes(root, "alert", path, f)
    fields = w.fields(root, w.seq.alert, w.bounds.alert, path)
    (
        identifier_text, sender_text, sent_text, status_text, msg_type_text, password, source,
        scope_text, restriction_text, addresses_text, code, note, ref_text, incidents, info,
        signature,
    ) = fields  # fmt: skip
    if code is not None:
        _counted(0, len(code), w.limits.codes, "codes", "<code> entries", path, "code")
        for i, text in enumerate(code, 1):
            if len(text) > w.bounds.code:
                raise _too_long("code", text, w.bounds.code, f"{path}/code[{i}]")
    if info is not None and len(info) > w.limits.infos:
        _counted(0, len(info), w.limits.infos, "infos", "<info> blocks", path, "info")
    enums = sch.enums
    identifier = (identifier_text or "").strip()
    sender = (sender_text or "").strip()
    if identifier_text is not None:
        _id_chars(identifier, "identifier", f)
    if sender_text is not None:
        _id_chars(sender, "sender", f)
    sent = None
    if sent_text is not None:
        sent = _datetime_field(sent_text, path, "sent", w)
    status = _enum(status_text, enums["status"], path, "status", f, fatal=True)
    msg_type = _enum(msg_type_text, enums["msgType"], path, "msgType", f, fatal=True)
    scope = _enum(scope_text, enums["scope"], path, "scope", f, fatal=True)
    if scope is None and scope_text is None and sch.version == "1.0":
        scope = "Public"  # CAP 1.0 XSD makes scope optional
    restriction = restriction_text and restriction_text.strip()
    addresses: list[str] = []
    if addresses_text is not None:
        if addresses_text.count('"') % 2:
            f.add(
                "cap.addresses.format",
                "unbalanced double quotes in <addresses>",
                f"{path}/addresses",
            )
        addresses = [a or b for a, b in _ADDRESS_RE.findall(addresses_text)]
        if len(addresses) > w.limits.addresses:
            raise CapError(
                "cap.limits.addresses",
                f"<addresses> names {len(addresses)} addressees; at most {w.limits.addresses} are read",
                f"{path}/addresses",
            )
    if scope == "Restricted" and not restriction:
        f.add("cap.restriction.required", 'scope "Restricted" needs a <restriction>', f"{path}/scope")
    elif restriction and scope != "Restricted":
        f.add(
            "cap.restriction.unexpected",
            '<restriction> is for scope "Restricted"',
            f"{path}/restriction",
        )
    if scope == "Private" and not addresses:
        # CAP 1.2 §3.2.1: a Private message is for the <addresses> listed; without any, nobody
        # may ever read it, and storing it would only keep it from everyone.
        f.add(
            "cap.addresses.required",
            'scope "Private" needs <addresses>: without them nobody may read the message',
            f"{path}/scope",
        )
    references: list[Reference] = []
    if ref_text is not None:
        references = _references(ref_text, f"{path}/references", w)
    elif msg_type in ("Update", "Cancel", "Ack", "Error"):
        f.add("cap.references.missing", f"a {msg_type} should name the messages it refers to", path)
    infos = [_info(el, f"{path}/info[{i}]", w) for i, el in enumerate(info or (), 1)]
    if w.unplaceable and len(w.unplaceable) == w.areas:
        # CAP 1.2 §3.2.4, §3.3.1: areas are placed by WGS 84 polygons and circles (or geocodes).
        # When every area gives coordinates out of range or a negative radius and nothing else,
        # the alert cannot be placed anywhere: it cannot serve its purpose.
        for where in w.unplaceable:
            f.add(
                "cap.area.unusable",
                "no polygon or circle of this area lies within WGS 84 ranges with a radius of 0 or "
                "more, and no geocode names it: no area of the alert can be placed",
                where,
            )
    signed = signature is not None
    if f.fatal or sent is None or status is None or msg_type is None or scope is None:
        return None, signed
    # Positional, in the field order of `Alert`.
    return Alert(
        identifier,
        sender,
        sent,
        status,
        msg_type,
        scope,
        sch.version,
        source and source.strip(),
        restriction,
        addresses,
        [c.strip() for c in code] if code else [],
        note and note.strip(),
        references,
        (incidents or "").split(),
        infos,
        password and password.strip(),
    ), signed


def _read(
    root: etree._Element, sch: S.VersionSchema, data: bytes | None, limits: Limits
) -> tuple[_Findings, Alert | None, bool, etree._Element]:
    """Findings, the alert (None when it cannot be ingested), whether it is signed, and the tree.

    `data`, when given, is the document `root` was parsed from without its blanks (see
    `lean_parse`): the detailed reading then parses it again with them, since mixed content
    and what it reports may hold them; the tree returned is the one read last.
    """
    f = _Findings(limits.findings)
    try:
        try:
            alert, signed = _build_alert(root, _Walk(sch, f, limits, checked=False))
        except _Irregular:
            if data is not None:
                root = secure_parse(data)
            f = _Findings(limits.findings)
            alert, signed = _build_alert(root, _Walk(sch, f, limits, checked=True))
    except CapError as exc:  # a limit (cap.limits) stops the reading; its finding comes last
        f.stopped(exc)
        alert, signed = None, False
    return f, alert, signed, root


def check_alert_element(
    root: etree._Element,
    *,
    verify_signature: bool = True,
    profiles: Sequence[str] = (),
    trusted_certs: Trust = (),
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Validate an already securely parsed CAP <alert> element (also one embedded in a feed)."""
    return _check_alert(root, None, verify_signature, profiles, trusted_certs, limits, 0)


def _check_alert(
    root: etree._Element,
    lean_data: bytes | None,
    verify_signature: bool,
    profiles: Sequence[str],
    trusted_certs: Trust,
    limits: Limits,
    blanks: int,
) -> Report:
    """`check_alert_element`; `lean_data` as `data` of `_read`; `blanks` stood before the
    document's XML declaration (`xmlsafe.blanks_before_declaration`)."""
    tag = root.tag
    if not isinstance(tag, str) or not (tag.endswith("}alert") or tag == "alert"):  # local name
        f = _Findings()
        f.add("cap.xml.not-cap", f"root element is <{_local(tag)}>, not a CAP <alert>", "/")
        return Report(valid=False, ingestible=False, errors=f.errors)
    ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    sch = S.SCHEMAS.get(ns)
    if sch is None:
        f = _Findings()
        f.add(
            "cap.xml.namespace",
            f'<alert> is in namespace "{ns}", not a CAP namespace ({", ".join(S.VERSION_OF_NS)})',
            "/alert",
        )
        return Report(valid=False, ingestible=False, errors=f.errors)
    f, alert, signed, read = _read(root, sch, lean_data, limits)
    if blanks:
        f.errors.insert(
            0,
            Finding(
                "cap.xml.declaration-not-first",
                f"{blanks} blank character(s) before the XML declaration, which must open the "
                "document (XML 1.0 §2.8); skipped",
                "/",
            ),
        )
    signature = UNSIGNED
    if verify_signature and alert is not None and signed:
        # The signed digest covers the whitespace between elements too.
        if read is root and lean_data is not None:
            read = secure_parse(lean_data)
        signature = _verify(read, alert, trusted_certs, f)
    if profiles and alert is not None:
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


def _verify(root: etree._Element, alert: Alert, trusted: Trust, f: _Findings) -> str:
    # Not a cycle (cap.signature reads cap.report and cap.trust only): importing it loads
    # cryptography and signxml, which a process that never meets a signed message need not pay for.
    from cap.signature import verify_signature

    # Trust anchors per sender apply to the sender the alert names (cap.trust).
    result = verify_signature(root, at=alert.sent, trusted_certs=trusted, sender=alert.sender)
    status = result.status
    if status in (BAD_DIGEST, BAD_SIGNATURE, UNTRUSTED_OR_EXPIRED_CERT, UNVERIFIABLE):
        f.add(f"cap.signature.{status}", result.detail or status, "/alert/Signature")
    return status


def read_xml(data: bytes, verify_signature: bool) -> tuple[etree._Element, bool]:
    """The root element of an XML document, and whether the parse was lean (see `_read`).

    Raises CapError (cap.xml.*) on what is not safe, well-formed XML. `cap.api.validate` reads
    the root, hands a feed to `cap.feeds` and anything else to `check_read`.
    """
    # Whitespace between elements is not read (see `_read`), except to check a signature: a
    # message that may be signed is parsed whole when its signature is to be verified. (The "#"
    # of the namespace name first: a one-byte search runs at memory speed.)
    if verify_signature and b"#" in data and _DSIG_NS_BYTES in data:
        return secure_parse(data), False
    return lean_parse(data)


def check_read(
    root: etree._Element,
    data: bytes,
    lean: bool,
    verify_signature: bool,
    profiles: Sequence[str],
    trusted_certs: Trust,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Validate the root `read_xml` returned for `data` as one CAP <alert>."""
    lean_data = data if lean else None
    blanks = blanks_before_declaration(data)
    return _check_alert(root, lean_data, verify_signature, profiles, trusted_certs, limits, blanks)


def validate(
    data: bytes,
    *,
    profiles: Sequence[str] = (),
    verify_signature: bool = True,
    trusted_certs: Trust = (),
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Validate one CAP XML <alert> message; never raises on bad input (feeds: `cap.api`)."""
    try:
        root, lean = read_xml(data, verify_signature)
    except CapError as exc:
        return Report(valid=False, ingestible=False, errors=[exc.finding])
    return check_read(root, data, lean, verify_signature, profiles, trusted_certs, limits)


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Alert:
    """Read one CAP message tolerantly; raise CapError (rule id, path) if it cannot be ingested."""
    root, lean = lean_parse(data)
    blanks = blanks_before_declaration(data)
    report = _check_alert(root, data if lean else None, False, (), (), limits, blanks)
    if report.alert is None:
        first = next((e for e in report.errors if e.rule in FATAL), None) or (
            report.errors[0] if report.errors else Finding("cap.xml.not-cap", "not CAP", "/")
        )
        raise CapError(first.rule, first.message, first.path)
    return report.alert
