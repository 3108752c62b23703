"""What a feed of CAP messages holds: its kind, its entries and what was found wrong with it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from cap.errors import Finding
from cap.feeds.rules import FEED_RULES
from cap.model import Alert, LatLon, NamedValue

# Feed kinds, as `Report.kind` names them.
ATOM = "atom"
RSS = "rss"
EDXL_DE = "edxl-de"
ALERTS = "alerts"
GEOJSON = "geojson"
CAP_JSON = "cap-json"
# Used when the document could not be read far enough to tell what it is.
UNKNOWN = "feed"


@dataclass(slots=True, kw_only=True)
class CapSummary:
    """CAP fields an index entry repeats inline (NWS `cap:` elements), for filtering before fetch."""

    event: str | None = None
    effective: datetime | None = None
    expires: datetime | None = None
    status: str | None = None
    msg_type: str | None = None
    category: str | None = None
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    area_desc: str | None = None
    polygons: list[tuple[LatLon, ...]] = field(default_factory=list)
    geocodes: list[NamedValue] = field(default_factory=list)
    parameters: list[NamedValue] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class FeedEntry:
    """One entry of a feed: a CAP message embedded in it, converted from it, or linked from it."""

    path: str
    id: str | None = None
    title: str | None = None
    updated: datetime | None = None
    # URL of the full CAP message when the entry does not embed it (index / thin feeds).
    link: str | None = None
    # The embedded <alert>, a standalone copy (its own root), for XML feeds.
    alert_xml: etree._Element | None = None
    # The converted message, for JSON feeds (NWS CAP-GeoJSON, CAP-JSON).
    alert: Alert | None = None
    summary: CapSummary | None = None
    # Where the embedded alert sits in the feed, to place its findings (e.g. ".../content/alert").
    alert_path: str | None = None
    # What converting a JSON message found (the message's own verdict, not the feed's).
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def embed(self, alert: etree._Element, alert_path: str) -> None:
        """Hold a standalone copy of an embedded <alert> and where it sits in the feed."""
        # A copy with only the alert's own namespaces, as it was signed: XML-DSig enveloped
        # signatures (CAP 1.2 §3.3.4) are computed over the message as its own document.
        self.alert_xml = copy.deepcopy(alert)
        self.alert_path = alert_path


@dataclass(slots=True, kw_only=True)
class Feed:
    """A feed read from bytes: entries in document order, and the feed-level findings."""

    kind: str
    title: str | None = None
    id: str | None = None
    updated: datetime | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    # Set when a fatal rule broke: the document cannot be read as a feed, or an entry's CAP
    # message can be neither found nor fetched (see cap.feeds.rules).
    fatal: bool = False

    def add(self, rule: str, message: str, path: str) -> None:
        """Record a finding; the rule registry says whether it is an error and whether fatal."""
        spec = FEED_RULES[rule]
        if spec.level == "warning":
            self.warnings.append(Finding(rule, message, path))
            return
        self.errors.append(Finding(rule, message, path))
        self.fatal = self.fatal or spec.fatal
