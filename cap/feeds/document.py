"""Telling what kind of feed a document is and reading it with the right reader."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree

from cap.errors import CapError
from cap.feeds.atom import is_atom_root, read_atom
from cap.feeds.capjson import is_cap_json, read_cap_json
from cap.feeds.container import is_alerts_root, read_alerts_container
from cap.feeds.edxl import is_edxl_root, read_edxl_de
from cap.feeds.geojson import is_geojson, read_geojson
from cap.feeds.model import ALERTS, ATOM, EDXL_DE, RSS, UNKNOWN, Feed
from cap.feeds.rss import is_rss_root, read_rss
from cap.feeds.xmltree import is_cap_alert, path_of, qname
from cap.xmlsafe import MAX_BYTES, secure_parse

_XML_KINDS: tuple[tuple[str, Callable[[etree._Element], bool], Callable[[etree._Element], Feed]], ...] = (
    (ATOM, is_atom_root, read_atom),
    (RSS, is_rss_root, read_rss),
    (EDXL_DE, is_edxl_root, read_edxl_de),
    (ALERTS, is_alerts_root, read_alerts_container),
)


def feed_kind(root: etree._Element) -> str | None:
    """The feed kind of an XML root ("atom", "rss", "edxl-de", "alerts"), or None."""
    return next((kind for kind, test, _ in _XML_KINDS if test(root)), None)


def is_feed_root(root: etree._Element) -> bool:
    """True when the root is a feed or container this package reads (not a single CAP alert)."""
    return feed_kind(root) is not None


def looks_like_json(data: bytes) -> bool:
    """True when the bytes start (after a BOM and whitespace) like a JSON object or array."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def read_feed_root(root: etree._Element) -> Feed:
    """Read an already securely parsed feed root."""
    for _, test, reader in _XML_KINDS:
        if test(root):
            return reader(root)
    feed = Feed(kind=UNKNOWN)
    ns, local = qname(root)
    what = "a single CAP <alert>, not a feed" if is_cap_alert(root) else f"<{local}> ({ns})"
    feed.add(
        "feed.unknown-root",
        f"root is {what}; expected Atom <feed>, RSS <rss>, EDXL-DE <EDXLDistribution> or <alerts>",
        path_of(root),
    )
    return feed


def read_json_feed(data: bytes, *, now: datetime | None = None) -> Feed:
    """Read NWS CAP-GeoJSON or CAP-JSON bytes into a feed of converted alerts."""
    if len(data) > MAX_BYTES:
        feed = Feed(kind=UNKNOWN)
        feed.add("feed.json.malformed", f"document is over {MAX_BYTES} bytes", "/")
        return feed
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and undecodable bytes; RecursionError, nesting bombs.
        feed = Feed(kind=UNKNOWN)
        feed.add("feed.json.malformed", f"not well-formed JSON: {exc}", "/")
        return feed
    if is_geojson(doc):
        return read_geojson(doc, now=now or datetime.now(UTC))
    if is_cap_json(doc):
        return read_cap_json(doc)
    feed = Feed(kind=UNKNOWN)
    feed.add(
        "feed.json.unknown-kind",
        "JSON is neither a GeoJSON FeatureCollection of CAP alerts nor a CAP-JSON alert",
        "/",
    )
    return feed


def read_feed(data: bytes, *, now: datetime | None = None) -> Feed:
    """Read a feed of CAP messages (Atom, RSS, EDXL-DE, <alerts>, NWS CAP-GeoJSON, CAP-JSON).

    `now` resolves api.weather.gov's relative date templates; it defaults to the clock.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data)
        if looks_like_json(data):
            return read_json_feed(data, now=now)
    try:  # secure_parse also refuses what is not bytes
        root = secure_parse(data)
    except CapError as exc:
        feed = Feed(kind=UNKNOWN, fatal=True)
        feed.errors.append(exc.finding)
        return feed
    return read_feed_root(root)
