"""EDXL-DE 1.0 distributions carrying CAP in contentObject/xmlContent/embeddedXMLContent."""

from __future__ import annotations

from lxml import etree

from cap.feeds.dates import parse_rfc3339
from cap.feeds.model import EDXL_DE, Feed, FeedEntry
from cap.feeds.xmltree import cap_alerts_in, children, first, named, path_of, qname, text_of

EDXL_DE_NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"

# EDXL-DE 1.0 §3.2.1: the elements every EDXLDistribution must carry.
_REQUIRED = (
    "distributionID",
    "senderID",
    "dateTimeSent",
    "distributionStatus",
    "distributionType",
    "combinedConfidentiality",
)
# EDXL-DE 1.0 §3.2.1 value lists.
_STATUS = frozenset({"Actual", "Exercise", "System", "Test"})
_TYPE = frozenset(
    {"Report", "Update", "Cancel", "Request", "Response", "Dispatch", "Ack", "Error",
     "SensorConfiguration", "SensorControl", "SensorStatus", "SensorDetection"}
)  # fmt: skip
_CAP_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


def is_edxl_root(root: etree._Element) -> bool:
    """True for an EDXL-DE 1.0 EDXLDistribution root."""
    return qname(root) == (EDXL_DE_NS, "EDXLDistribution")


def _check_header(feed: Feed, root: etree._Element) -> None:
    for name in _REQUIRED:
        if first(root, EDXL_DE_NS, name) is None:
            feed.add(
                "feed.edxl-de.missing-element",
                f"EDXLDistribution has no <{name}> (EDXL-DE 1.0 §3.2.1)",
                path_of(root),
            )
    for name, allowed in (("distributionStatus", _STATUS), ("distributionType", _TYPE)):
        el = first(root, EDXL_DE_NS, name)
        value = text_of(el)
        if el is not None and value not in allowed:
            feed.add(
                "feed.edxl-de.invalid-value",
                f"<{name}> {value!r} is not one of {', '.join(sorted(allowed))}",
                path_of(el),
            )
    sent = first(root, EDXL_DE_NS, "dateTimeSent")
    if sent is not None and parse_rfc3339(text_of(sent) or "") is None:
        feed.add(
            "feed.edxl-de.invalid-date",
            f"<dateTimeSent> {text_of(sent)!r} is not a date-time with a time zone",
            path_of(sent),
        )


def _read_content_object(feed: Feed, obj: etree._Element) -> list[FeedEntry]:
    title = text_of(first(obj, EDXL_DE_NS, "contentDescription"))
    entries: list[FeedEntry] = []
    for xml_content in named(obj, EDXL_DE_NS, "xmlContent"):
        for embedded in named(xml_content, EDXL_DE_NS, "embeddedXMLContent"):
            alerts = cap_alerts_in(embedded)
            if not alerts and any(True for _ in children(embedded)):
                feed.add(
                    "feed.edxl-de.non-cap-content",
                    "embeddedXMLContent holds XML that is not a CAP alert; it is skipped",
                    path_of(embedded),
                )
            for alert in alerts:
                entry = FeedEntry(
                    path=path_of(obj),
                    id=text_of(first(alert, qname(alert)[0], "identifier")),
                    title=title,
                )
                entry.embed(alert, path_of(alert))
                entries.append(entry)
    for non_xml in named(obj, EDXL_DE_NS, "nonXMLContent"):
        mime = (text_of(first(non_xml, EDXL_DE_NS, "mimeType")) or "").lower()
        uri = text_of(first(non_xml, EDXL_DE_NS, "uri"))
        if mime in _CAP_TYPES and uri:
            entries.append(FeedEntry(path=path_of(obj), title=title, link=uri))
    return entries


def read_edxl_de(root: etree._Element) -> Feed:
    """Read the CAP alerts an EDXL-DE 1.0 distribution carries and check its header."""
    feed = Feed(kind=EDXL_DE)
    _check_header(feed, root)
    feed.id = text_of(first(root, EDXL_DE_NS, "distributionID"))
    sent = first(root, EDXL_DE_NS, "dateTimeSent")
    feed.updated = parse_rfc3339(text_of(sent) or "") if sent is not None else None
    for obj in named(root, EDXL_DE_NS, "contentObject"):
        feed.entries.extend(_read_content_object(feed, obj))
    if not feed.entries:
        feed.add(
            "feed.edxl-de.no-alerts",
            "the distribution carries no CAP alert",
            path_of(root),
        )
    return feed
