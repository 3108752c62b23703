"""RSS 2.0 feeds of CAP: each <item> links to a CAP message (link, enclosure or guid)."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from cap.feeds.dates import parse_rfc822
from cap.feeds.inline import read_inline_cap
from cap.feeds.model import RSS, Feed, FeedEntry
from cap.feeds.xmltree import cap_alerts_in, first, named, path_of, qname, text_of

_CAP_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


def is_rss_root(root: etree._Element) -> bool:
    """True for an RSS <rss> root."""
    return qname(root) == (None, "rss")


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _cap_link(item: etree._Element) -> str | None:
    """An enclosure typed as CAP, else <link>, else a permalink <guid>."""
    for enclosure in named(item, None, "enclosure"):
        url = (enclosure.get("url") or "").strip()
        if url and (enclosure.get("type") or "").strip().lower() in _CAP_TYPES:
            return url
    link = text_of(first(item, None, "link"))
    if link:
        return link
    guid = first(item, None, "guid")
    text = text_of(guid)
    # RSS 2.0: a guid is a permalink unless isPermaLink="false".
    if guid is not None and text and guid.get("isPermaLink", "true") != "false" and _is_url(text):
        return text
    return None


def _pub_date(feed: Feed, el: etree._Element) -> datetime | None:
    date_el = first(el, None, "pubDate")
    if date_el is None:
        return None
    text = text_of(date_el) or ""
    parsed = parse_rfc822(text)
    if parsed is None:
        # RSS 2.0: "All date-times in RSS conform to the Date and Time Specification of RFC 822".
        feed.add(
            "feed.rss.invalid-date",
            f"<pubDate> {text!r} is not an RFC 822 date-time",
            path_of(date_el),
        )
    return parsed


def _read_item(feed: Feed, item: etree._Element) -> FeedEntry:
    path = path_of(item)
    title = text_of(first(item, None, "title"))
    description = text_of(first(item, None, "description"))
    # RSS 2.0 "Elements of <item>": at least one of title or description must be present.
    if first(item, None, "title") is None and first(item, None, "description") is None:
        feed.add(
            "feed.rss.item-missing-title-or-description",
            "item has neither <title> nor <description> (RSS 2.0 requires one)",
            path,
        )
    guid = first(item, None, "guid")
    if guid is None:
        feed.add(
            "feed.rss.item-missing-guid",
            "item has no <guid>; readers cannot tell a new item from one seen before",
            path,
        )
    entry = FeedEntry(
        path=path,
        id=text_of(guid),
        title=title or description,
        updated=_pub_date(feed, item),
        link=_cap_link(item),
        summary=read_inline_cap(item),
    )
    alerts = cap_alerts_in(item)
    if alerts:
        entry.embed(alerts[0], path_of(alerts[0]))
    elif entry.link is None:
        feed.add(
            "feed.rss.item-missing-link",
            "item links to no CAP message (no <link>, CAP <enclosure> or permalink <guid>)",
            path,
        )
    return entry


def read_rss(root: etree._Element) -> Feed:
    """Read an RSS 2.0 feed of CAP links and check its required elements."""
    feed = Feed(kind=RSS)
    if root.get("version") != "2.0":
        feed.add(
            "feed.rss.version",
            f"rss version is {root.get('version')!r}; RSS 2.0 is expected",
            path_of(root),
        )
    channels = named(root, None, "channel")
    if not channels:
        feed.add("feed.rss.missing-channel", "<rss> holds no <channel>", path_of(root))
        return feed
    if len(channels) > 1:
        feed.add(
            "feed.rss.several-channels",
            f"<rss> holds {len(channels)} <channel> elements; RSS 2.0 has one; the first is read",
            path_of(channels[1]),
        )
    channel = channels[0]
    # RSS 2.0 "Required channel elements": title, link, description. Some feeds also carry an
    # empty <link href=.../> (atom:link written without its namespace); the text one counts.
    for name in ("title", "link", "description"):
        found = named(channel, None, name)
        if not (any(text_of(el) for el in found) if name == "link" else found):
            feed.add(
                f"feed.rss.missing-{name}",
                f"<channel> has no <{name}> (RSS 2.0 requires title, link and description)",
                path_of(channel),
            )
    feed.title = text_of(first(channel, None, "title"))
    feed.updated = _pub_date(feed, channel)
    feed.entries = [_read_item(feed, item) for item in named(channel, None, "item")]
    if not feed.entries:
        feed.add("feed.rss.no-items", "the channel has no items", path_of(channel))
    return feed
