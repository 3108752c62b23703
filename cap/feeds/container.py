"""A non-standard <alerts> root holding many CAP <alert> elements (as SMHI publishes)."""

from __future__ import annotations

from lxml import etree

from cap.feeds.dates import parse_rfc3339
from cap.feeds.model import ALERTS, Feed, FeedEntry
from cap.feeds.xmltree import CAP_NAMESPACES, children, first, is_cap_alert, path_of, qname, text_of


def is_alerts_root(root: etree._Element) -> bool:
    """True for an <alerts> root in a CAP namespace (or none): a bare list of CAP messages."""
    ns, local = qname(root)
    return local == "alerts" and (ns is None or ns in CAP_NAMESPACES)


def read_alerts_container(root: etree._Element) -> Feed:
    """Read every CAP <alert> directly under an <alerts> root."""
    feed = Feed(kind=ALERTS)
    # CAP defines no container element (CAP 1.2 §3.1: one <alert> per message); the list is
    # still readable, so say so without failing it.
    feed.add(
        "feed.alerts.non-standard",
        "<alerts> is not a CAP or feed element; each <alert> inside is read as its own message",
        path_of(root),
    )
    for child in children(root):
        if not is_cap_alert(child):
            feed.add(
                "feed.alerts.unexpected-element",
                f"<{qname(child)[1]}> under <alerts> is not a CAP <alert>",
                path_of(child),
            )
            continue
        ns = qname(child)[0]
        sent = first(child, ns, "sent")
        entry = FeedEntry(
            path=path_of(child),
            id=text_of(first(child, ns, "identifier")),
            updated=parse_rfc3339(text_of(sent) or "") if sent is not None else None,
        )
        entry.embed(child, entry.path)
        feed.entries.append(entry)
    if not feed.entries:
        feed.add("feed.alerts.no-entries", "<alerts> holds no CAP alert", path_of(root))
    return feed
