"""The Atom feed out (RFC 4287) of active public alerts, each entry linking its CAP message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lxml import etree

from service.alerts.view import AlertView

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def alerts_feed(records: Sequence[AlertView], *, base_url: str, self_url: str, now: datetime) -> bytes:
    """An Atom feed with one entry per alert (newest first), as UTF-8 bytes."""
    base = base_url.rstrip("/")
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    # RFC 4287 §4.2.6: a permanent, universally unique IRI; the feed's own URL is one.
    _el(feed, "id", self_url)
    _el(feed, "title", "Tampere: active public CAP alerts")
    updated = max((r.received_at for r in records), default=now)
    _el(feed, "updated", updated.isoformat())
    author = _el(feed, "author")
    _el(author, "name", "Tampere")
    _el(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    for record in records:
        summary = record.summary
        href = f"{base}/api/v1/alerts/{record.id}"
        entry = _el(feed, "entry")
        _el(entry, "id", href)
        title = summary.get("headline") or summary.get("event") or record.identifier
        _el(entry, "title", title)
        _el(entry, "updated", record.received_at.isoformat())
        _el(entry, "published", summary.get("sent") or record.sent_at.isoformat())
        entry_author = _el(entry, "author")
        _el(entry_author, "name", record.sender)
        _el(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=f"{href}/cap")
        _el(entry, "link", rel="related", type="application/json", href=href)
        if summary.get("severity"):
            _el(entry, "category", term=summary["severity"], label="severity")
        text = summary.get("description") or ", ".join(summary.get("areaDesc") or [])
        if text:
            _el(entry, "summary", text)
    result: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8")
    return result
