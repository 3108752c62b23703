"""Atom feeds of CAP (RFC 4287): fat entries embed the <alert>, index entries link to it."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from cap.feeds.dates import parse_rfc3339
from cap.feeds.inline import read_inline_cap
from cap.feeds.model import ATOM, Feed, FeedEntry
from cap.feeds.xmltree import cap_alerts_in, children, first, named, path_of, qname, text_of

ATOM_NS = "http://www.w3.org/2005/Atom"

# RFC 4287 §4.1.1 and §4.1.2: the elements an atom:feed and an atom:entry may hold. Anything
# else in the Atom namespace (or in none) is an error; other namespaces are extensions (§6.4).
_FEED_CHILDREN = frozenset(
    {"author", "category", "contributor", "generator", "icon", "id", "link", "logo", "rights",
     "subtitle", "title", "updated", "entry"}
)  # fmt: skip
_ENTRY_CHILDREN = frozenset(
    {"author", "category", "content", "contributor", "id", "link", "published", "rights",
     "source", "summary", "title", "updated"}
)  # fmt: skip
_REQUIRED = ("id", "title", "updated")
_CAP_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


def is_atom_root(root: etree._Element) -> bool:
    """True for an atom:feed root."""
    return qname(root) == (ATOM_NS, "feed")


def _check_children(feed: Feed, el: etree._Element, allowed: frozenset[str]) -> None:
    for child in children(el):
        ns, local = qname(child)
        if ns in (ATOM_NS, None) and local not in allowed:
            feed.add(
                "feed.atom.unknown-element",
                f"<{local}> is not an Atom element of <{qname(el)[1]}> (RFC 4287 §4.1); "
                "extensions must be in their own namespace (§6.4)",
                path_of(child),
            )


def _check_required(feed: Feed, el: etree._Element, *, in_entry: bool) -> None:
    # RFC 4287 §4.1.1/§4.1.2: exactly one atom:id, atom:title and atom:updated.
    where = "entry" if in_entry else "feed"
    for name in _REQUIRED:
        found = named(el, ATOM_NS, name)
        if not found:
            rule = f"feed.atom.entry-missing-{name}" if in_entry else f"feed.atom.missing-{name}"
            feed.add(rule, f"atom:{where} has no <{name}> (RFC 4287 §4.1)", path_of(el))
        elif len(found) > 1:
            feed.add(
                "feed.atom.repeated-element",
                f"atom:{where} has {len(found)} <{name}> elements; exactly one is allowed",
                path_of(found[1]),
            )


def _updated(feed: Feed, el: etree._Element) -> datetime | None:
    # RFC 4287 §3.3: Date constructs are RFC 3339 date-times with a time zone.
    for name in ("updated", "published"):
        for date_el in named(el, ATOM_NS, name):
            text = text_of(date_el) or ""
            if parse_rfc3339(text) is None:
                feed.add(
                    "feed.atom.invalid-date",
                    f"<{name}> {text!r} is not an RFC 3339 date-time (RFC 4287 §3.3)",
                    path_of(date_el),
                )
    updated = first(el, ATOM_NS, "updated")
    return parse_rfc3339(text_of(updated) or "") if updated is not None else None


def _cap_link(entry: etree._Element) -> str | None:
    """The link most likely to be the CAP message: typed as CAP, else alternate, else related."""
    candidates: list[tuple[int, str]] = []
    for link in named(entry, ATOM_NS, "link"):
        href = (link.get("href") or "").strip()
        rel = (link.get("rel") or "alternate").strip()
        if not href or rel == "self":
            continue
        kind = (link.get("type") or "").strip().lower()
        rank = 0 if kind in _CAP_TYPES else 1 if rel == "alternate" else 2
        candidates.append((rank, href))
    content = first(entry, ATOM_NS, "content")
    # RFC 4287 §4.1.3.2: out-of-line content names its document in @src.
    if content is not None and (content.get("src") or "").strip():
        kind = (content.get("type") or "").strip().lower()
        candidates.append((0 if kind in _CAP_TYPES else 1, content.get("src", "").strip()))
    return min(candidates)[1] if candidates else None


def _read_entry(feed: Feed, el: etree._Element) -> FeedEntry:
    _check_required(feed, el, in_entry=True)
    _check_children(feed, el, _ENTRY_CHILDREN)
    path = path_of(el)
    entry = FeedEntry(
        path=path,
        id=text_of(first(el, ATOM_NS, "id")),
        title=text_of(first(el, ATOM_NS, "title")),
        updated=_updated(feed, el),
        link=_cap_link(el),
        summary=read_inline_cap(el),
    )
    content = first(el, ATOM_NS, "content")
    alerts = cap_alerts_in(content) if content is not None else []
    if alerts:
        if len(alerts) > 1:
            feed.add(
                "feed.atom.several-alerts-in-entry",
                f"atom:content holds {len(alerts)} CAP alerts; only the first is read",
                path_of(alerts[1]),
            )
        entry.embed(alerts[0], path_of(alerts[0]))
    elif entry.link is None:
        feed.add(
            "feed.atom.no-link",
            "entry neither embeds a CAP <alert> in <content> nor links to one",
            path,
        )
    return entry


def read_atom(root: etree._Element) -> Feed:
    """Read an atom:feed of CAP messages and check it against RFC 4287."""
    feed = Feed(kind=ATOM)
    _check_required(feed, root, in_entry=False)
    _check_children(feed, root, _FEED_CHILDREN)
    feed.id = text_of(first(root, ATOM_NS, "id"))
    feed.title = text_of(first(root, ATOM_NS, "title"))
    feed.updated = _updated(feed, root)
    for child in children(root):
        if qname(child) == (ATOM_NS, "entry"):
            feed.entries.append(_read_entry(feed, child))
        elif cap_alerts_in(child):
            # Foreign markup is allowed under atom:feed (RFC 4287 §6.4), but readers take CAP
            # only from entries: an alert placed here is silently lost by every one of them.
            feed.add(
                "feed.atom.alert-outside-entry",
                "a CAP <alert> sits outside any <entry>; feed readers will not find it",
                path_of(child),
            )
    if not feed.entries:
        feed.add("feed.atom.no-entries", "the feed has no entries", path_of(root))
    if first(root, ATOM_NS, "author") is None and not all(
        first(e, ATOM_NS, "author") is not None for e in named(root, ATOM_NS, "entry")
    ):
        # RFC 4287 §4.1.1 asks for an author on the feed or on every entry; CAP feeds in the
        # wild omit it and readers do not need it, so this is a warning.
        feed.add(
            "feed.atom.missing-author",
            "neither the feed nor every entry names an <author> (RFC 4287 §4.1.1)",
            path_of(root),
        )
    return feed
