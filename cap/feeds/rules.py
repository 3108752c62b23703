"""Every rule the feed reader applies, by stable id (merged into `cap.rules.RULES` style).

`fatal` marks what a tolerant pipeline cannot get past: the document cannot be read as a feed,
or an entry's CAP message can be neither found nor fetched, or a converted JSON message lacks
what is needed to act on it. Everything else makes the feed non-conformant but still ingestible.
"""

from __future__ import annotations

from cap.errors import Rule

_JSON_MESSAGE_RULES = [
    ("missing-member", "error", "a required member is missing"),
    ("wrong-type", "error", "a member has the wrong JSON type"),
    ("invalid-value", "error", "value not in CAP 1.2's value list"),
    ("identifier-chars", "error", "identifier has spaces, commas, < or &"),
    ("sender-chars", "error", "sender has spaces, commas, < or &"),
    ("invalid-datetime", "error", "not a date-time with a time zone"),
    ("datetime-form", "warning", "date-time not in CAP's YYYY-MM-DDThh:mm:ss±hh:mm form"),
    ("invalid-references", "error", "references are not sender,identifier,sent"),
    ("date-template", "warning", "relative date template (api.weather.gov test data) resolved"),
]

_RULES = [
    Rule("feed.unknown-root", "error", True, "root is neither a known feed nor a CAP <alert>"),
    Rule("feed.json.malformed", "error", True, "not well-formed JSON (RFC 8259)"),
    Rule("feed.json.unknown-kind", "error", True, "JSON that is neither CAP-GeoJSON nor CAP-JSON"),
    Rule("feed.message-invalid", "error", False, "an embedded or converted CAP message is invalid"),
    # Atom (RFC 4287)
    Rule("feed.atom.missing-id", "error", False, "feed has no atom:id", "RFC 4287 §4.1.1"),
    Rule("feed.atom.missing-title", "error", False, "feed has no atom:title", "RFC 4287 §4.1.1"),
    Rule("feed.atom.missing-updated", "error", False, "feed has no atom:updated",
         "RFC 4287 §4.1.1"),
    Rule("feed.atom.entry-missing-id", "error", False, "entry has no atom:id", "RFC 4287 §4.1.2"),
    Rule("feed.atom.entry-missing-title", "error", False, "entry has no atom:title",
         "RFC 4287 §4.1.2"),
    Rule("feed.atom.entry-missing-updated", "error", False, "entry has no atom:updated",
         "RFC 4287 §4.1.2"),
    Rule("feed.atom.repeated-element", "error", False, "id, title or updated occurs twice",
         "RFC 4287 §4.1"),
    Rule("feed.atom.unknown-element", "error", False, "not an Atom element here",
         "RFC 4287 §4.1, §6.4"),
    Rule("feed.atom.invalid-date", "error", False, "not an RFC 3339 date-time", "RFC 4287 §3.3"),
    Rule("feed.atom.no-link", "error", True, "entry neither embeds nor links a CAP message"),
    Rule("feed.atom.alert-outside-entry", "error", True, "a CAP alert outside any entry"),
    Rule("feed.atom.several-alerts-in-entry", "warning", False, "content holds several alerts"),
    Rule("feed.atom.no-entries", "warning", False, "the feed has no entries"),
    Rule("feed.atom.missing-author", "warning", False, "no author on the feed or every entry",
         "RFC 4287 §4.1.1"),
    # RSS 2.0
    Rule("feed.rss.version", "warning", False, "rss version is not 2.0"),
    Rule("feed.rss.missing-channel", "error", True, "<rss> has no <channel>"),
    Rule("feed.rss.several-channels", "error", False, "<rss> has more than one <channel>"),
    Rule("feed.rss.missing-title", "error", False, "channel has no <title>"),
    Rule("feed.rss.missing-link", "error", False, "channel has no <link>"),
    Rule("feed.rss.missing-description", "error", False, "channel has no <description>"),
    Rule("feed.rss.item-missing-title-or-description", "error", False,
         "item has neither title nor description"),
    Rule("feed.rss.item-missing-guid", "warning", False, "item has no <guid>"),
    Rule("feed.rss.item-missing-link", "error", True, "item links to no CAP message"),
    Rule("feed.rss.invalid-date", "error", False, "pubDate is not an RFC 822 date-time"),
    Rule("feed.rss.no-items", "warning", False, "the channel has no items"),
    # EDXL-DE 1.0
    Rule("feed.edxl-de.missing-element", "error", False, "a required header element is missing",
         "EDXL-DE 1.0 §3.2.1"),
    Rule("feed.edxl-de.invalid-value", "error", False, "value not in EDXL-DE's value list",
         "EDXL-DE 1.0 §3.2.1"),
    Rule("feed.edxl-de.invalid-date", "error", False, "dateTimeSent is not a date-time with zone",
         "EDXL-DE 1.0 §3.2.1"),
    Rule("feed.edxl-de.non-cap-content", "warning", False, "embedded XML that is not CAP"),
    Rule("feed.edxl-de.no-alerts", "warning", False, "the distribution carries no CAP alert"),
    # A bare <alerts> list (SMHI)
    Rule("feed.alerts.non-standard", "warning", False, "<alerts> is not a CAP or feed element"),
    Rule("feed.alerts.unexpected-element", "error", False, "a child of <alerts> is not an alert"),
    Rule("feed.alerts.no-entries", "warning", False, "<alerts> holds no alert"),
    # NWS CAP-GeoJSON (RFC 7946 carrying api.weather.gov alert properties)
    Rule("feed.geojson.missing-features", "error", True, "FeatureCollection without features",
         "RFC 7946 §3.3"),
    Rule("feed.geojson.no-entries", "warning", False, "the collection has no features"),
    Rule("feed.geojson.invalid-geometry", "error", False, "geometry is not a closed polygon",
         "RFC 7946 §3.1.6, CAP 1.2 §3.2.4"),
    Rule("feed.geojson.unsupported-geometry", "warning", False, "geometry type not read"),
    Rule("feed.geojson.polygon-holes", "warning", False, "inner rings dropped"),
    # CAP-JSON (BBK/MoWaS)
    Rule("feed.cap-json.invalid-polygon", "error", False, "polygon is not CAP's text form",
         "CAP 1.2 §3.2.4"),
    Rule("feed.cap-json.invalid-circle", "error", False, "circle is not CAP's text form",
         "CAP 1.2 §3.2.4"),
    Rule("feed.cap-json.invalid-number", "error", False, "not a decimal number"),
    *(
        Rule(f"feed.{kind}.{name}", level, name.endswith("-chars"), summary, "CAP 1.2 §3.2")
        for kind in ("geojson", "cap-json")
        for name, level, summary in _JSON_MESSAGE_RULES
    ),
]  # fmt: skip

FEED_RULES: dict[str, Rule] = {r.id: r for r in _RULES}
