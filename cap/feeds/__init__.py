"""Feeds of CAP messages: Atom, RSS 2.0, EDXL-DE 1.0, <alerts> lists, NWS CAP-GeoJSON, CAP-JSON."""

from cap.feeds.document import (
    feed_kind,
    is_feed_root,
    looks_like_json,
    read_feed,
    read_feed_root,
)
from cap.feeds.model import CapSummary, Feed, FeedEntry
from cap.feeds.rules import FEED_RULES
from cap.feeds.validation import feed_report, validate_feed

__all__ = [
    "FEED_RULES",
    "CapSummary",
    "Feed",
    "FeedEntry",
    "feed_kind",
    "feed_report",
    "is_feed_root",
    "looks_like_json",
    "read_feed",
    "read_feed_root",
    "validate_feed",
]
