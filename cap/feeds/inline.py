"""CAP fields that index entries repeat inline (`cap:event`, `cap:expires`, ... as NWS does)."""

from __future__ import annotations

from lxml import etree

from cap.feeds.coordinates import parse_polygon
from cap.feeds.dates import parse_feed_datetime
from cap.feeds.model import CapSummary
from cap.feeds.xmltree import CAP_NAMESPACES, children, qname, text_of
from cap.model import NamedValue

_TEXT_FIELDS = {
    "event": "event",
    "status": "status",
    "msgType": "msg_type",
    "category": "category",
    "urgency": "urgency",
    "severity": "severity",
    "certainty": "certainty",
}
_DATE_FIELDS = {"effective": "effective", "expires": "expires"}


def _named_values(el: etree._Element, *, split_values: bool) -> list[NamedValue]:
    # NWS writes several valueName/value pairs in one cap:geocode, each value a space-separated
    # list of codes; CAP itself has one code per <geocode> (CAP 1.2 §3.2.4), so split those.
    out: list[NamedValue] = []
    name: str | None = None
    for child in children(el):
        local = qname(child)[1]
        if local == "valueName":
            name = text_of(child)
        elif local == "value" and name:
            value = text_of(child)
            if not value:
                continue
            tokens = value.split() if split_values else [value]
            out.extend(NamedValue(value_name=name, value=t) for t in tokens)
    return out


def _inline_elements(entry: etree._Element) -> list[tuple[str, etree._Element]]:
    # Only the entry's own children (and those of a cap:area, as Krisinformation writes): an
    # embedded <alert> further down is the message itself, not an inline summary of it.
    out: list[tuple[str, etree._Element]] = []
    for el in children(entry):
        ns, local = qname(el)
        if ns not in CAP_NAMESPACES:
            continue
        if local == "area":
            out.extend((qname(c)[1], c) for c in children(el) if qname(c)[0] in CAP_NAMESPACES)
        else:
            out.append((local, el))
    return out


def read_inline_cap(entry: etree._Element) -> CapSummary | None:
    """The CAP fields an Atom entry or RSS item repeats in the CAP namespace, or None if none."""
    inline = _inline_elements(entry)
    if not inline:
        return None
    summary = CapSummary()
    area_descs: list[str] = []
    for local, el in inline:
        text = text_of(el)
        if local == "areaDesc":
            if text:
                area_descs.append(text)
        elif local in _TEXT_FIELDS:
            if getattr(summary, _TEXT_FIELDS[local]) is None:
                setattr(summary, _TEXT_FIELDS[local], text)
        elif local in _DATE_FIELDS:
            if text:
                setattr(summary, _DATE_FIELDS[local], parse_feed_datetime(text))
        elif local == "polygon":
            polygon = parse_polygon(text or "")
            if polygon is not None:
                summary.polygons.append(polygon)
        elif local == "geocode":
            summary.geocodes.extend(_named_values(el, split_values=True))
        elif local == "parameter":
            summary.parameters.extend(_named_values(el, split_values=False))
    summary.area_desc = "; ".join(area_descs) or None
    return summary
