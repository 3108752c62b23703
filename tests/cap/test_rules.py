"""The validator's rules, one family at a time, on small hand-written CAP messages.

Each test changes one thing in a valid message and asserts the rule id and the path that
`cap.validate` reports, and whether a tolerant pipeline (`cap.parse`) can still ingest it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import cap
from cap.report import Report

CAP12 = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>TAMPERE-2024-0001</identifier>
  <sender>alerts@example.org</sender>
  <sent>2024-03-05T10:15:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>en-US</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <expires>2024-03-06T10:15:00+02:00</expires>
    <headline>River flood warning</headline>
    <resource>
      <resourceDesc>Map</resourceDesc>
      <mimeType>image/png</mimeType>
      <derefUri>iVBORw0KGgo=</derefUri>
    </resource>
    <area>
      <areaDesc>Lower valley</areaDesc>
      <polygon>61.40,23.70 61.55,23.70 61.55,23.95 61.40,23.95 61.40,23.70</polygon>
      <circle>61.5,23.8 10</circle>
      <geocode>
        <valueName>ISO3166-2</valueName>
        <value>FI-11</value>
      </geocode>
      <altitude>100</altitude>
      <ceiling>2000</ceiling>
    </area>
  </info>
</alert>
"""
CAP11 = CAP12.replace("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1")

CAP10 = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="http://www.incident.com/cap/1.0">
  <identifier>KSTO1055887203</identifier>
  <sender>KSTO@NWS.NOAA.GOV</sender>
  <sent>2003-06-17T14:57:00-07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>SEVERE THUNDERSTORM</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Very Likely</certainty>
    <eventCode>SAME=SVR</eventCode>
    <parameter>HazardType=Hail</parameter>
    <parameter>Wind=60 mph = 97 km/h</parameter>
    <area>
      <areaDesc>EXTREME NORTH CENTRAL TUOLUMNE COUNTY</areaDesc>
      <polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14</polygon>
      <geocode>FIPS6=006109</geocode>
    </area>
  </info>
</alert>
"""

POLYGON = "<polygon>61.40,23.70 61.55,23.70 61.55,23.95 61.40,23.95 61.40,23.70</polygon>"
CIRCLE = "<circle>61.5,23.8 10</circle>"
SENT = "<sent>2024-03-05T10:15:00+02:00</sent>"
AREA = "/alert/info[1]/area[1]"
RESOURCE = "/alert/info[1]/resource[1]"


def variant(old: str, new: str, base: str = CAP12) -> bytes:
    """The base message with exactly one change (the old text must be there)."""
    assert base.count(old) == 1, f"{old!r} must occur once in the base message"
    return base.replace(old, new).encode()


def errors_of(report: Report) -> list[tuple[str, str]]:
    """The (rule, path) of every error, in order."""
    return [(f.rule, f.path) for f in report.errors]


def invalid_but_ingestible(data: bytes, rule: str, path: str) -> cap.Alert:
    """Assert the one error (rule, path), that the message is still ingestible; return it."""
    report = cap.validate(data)
    assert errors_of(report) == [(rule, path)]
    assert not report.valid and report.ingestible
    alert = cap.parse(data)
    assert report.alert == alert
    return alert


def not_ingestible(data: bytes, rule: str, path: str) -> None:
    """Assert validate reports (rule, path) as an error and parse refuses with the same."""
    report = cap.validate(data)
    assert (rule, path) in errors_of(report)
    assert not report.valid and not report.ingestible and report.alert is None
    with pytest.raises(cap.CapError) as err:
        cap.parse(data)
    assert (err.value.rule, err.value.path) == (rule, path)


def test_base_messages_are_valid_without_findings() -> None:
    for base in (CAP12, CAP11, CAP10):
        report = cap.validate(base.encode())
        assert report.valid, errors_of(report)
        assert report.warnings == []


# --- area: polygons, circles, altitude (CAP 1.2 §3.2.4) ------------------------------------


def test_polygon_with_three_pairs_is_invalid_but_ingestible() -> None:
    data = variant(POLYGON, "<polygon>61.40,23.70 61.55,23.70 61.40,23.70</polygon>")
    alert = invalid_but_ingestible(data, "cap.polygon.min-pairs", f"{AREA}/polygon[1]")
    assert len(alert.infos[0].areas[0].polygons[0]) == 3


def test_polygon_whose_last_pair_differs_from_the_first_is_invalid_but_ingestible() -> None:
    data = variant(POLYGON, "<polygon>61.40,23.70 61.55,23.70 61.55,23.95 61.40,23.95 61.41,23.70</polygon>")
    invalid_but_ingestible(data, "cap.polygon.closed", f"{AREA}/polygon[1]")


def test_latitude_beyond_ninety_is_out_of_range() -> None:
    data = variant(POLYGON, "<polygon>91.0,23.70 61.55,23.70 61.55,23.95 91.0,23.70</polygon>")
    invalid_but_ingestible(data, "cap.coordinate.range", f"{AREA}/polygon[1]")


def test_polygon_written_lon_lat_is_reported_as_out_of_range() -> None:
    # 120.5,45.1 is a point in China written lon,lat: CAP wants lat,lon, and 120.5 is no latitude.
    data = variant(POLYGON, "<polygon>120.5,45.1 121.0,45.1 121.0,45.6 120.5,45.1</polygon>")
    invalid_but_ingestible(data, "cap.coordinate.range", f"{AREA}/polygon[1]")


def test_circle_without_the_comma_is_invalid_but_ingestible() -> None:
    data = variant(CIRCLE, "<circle>61.5 23.8 10</circle>")
    alert = invalid_but_ingestible(data, "cap.circle.format", f"{AREA}/circle[1]")
    assert alert.infos[0].areas[0].circles == []


def test_circle_with_negative_radius_is_invalid_but_ingestible() -> None:
    data = variant(CIRCLE, "<circle>61.5,23.8 -10</circle>")
    invalid_but_ingestible(data, "cap.circle.radius", f"{AREA}/circle[1]")


def test_circle_with_zero_radius_is_valid() -> None:
    data = variant(CIRCLE, "<circle>61.5,23.8 0</circle>")
    report = cap.validate(data)
    assert report.valid, errors_of(report)
    assert cap.parse(data).infos[0].areas[0].circles[0].radius_km == 0.0


def test_ceiling_without_altitude_is_invalid_but_ingestible() -> None:
    data = variant("<altitude>100</altitude>\n", "")
    invalid_but_ingestible(data, "cap.area.ceiling-without-altitude", AREA)


# --- alert header (CAP 1.2 §3.2.1) -----------------------------------------------------------


def test_references_that_are_not_triplets_are_invalid_but_ingestible() -> None:
    data = variant(
        "<scope>Public</scope>",
        "<scope>Public</scope>\n  <references>alerts@example.org,TAMPERE-2024-0000</references>",
    )
    alert = invalid_but_ingestible(data, "cap.references.format", "/alert/references")
    assert alert.references == []


def test_references_triplet_is_read() -> None:
    data = variant(
        "<scope>Public</scope>",
        "<scope>Public</scope>\n  <references>alerts@example.org,TAMPERE-2024-0000,"
        "2024-03-05T08:00:00-00:00</references>",
    )
    assert cap.validate(data).valid
    ref = cap.parse(data).references[0]
    assert (ref.sender, ref.identifier, ref.sent) == (
        "alerts@example.org",
        "TAMPERE-2024-0000",
        datetime(2024, 3, 5, 8, tzinfo=UTC),
    )


def test_empty_references_element_is_invalid_but_ingestible() -> None:
    data = variant("<scope>Public</scope>", "<scope>Public</scope>\n  <references>  </references>")
    invalid_but_ingestible(data, "cap.references.empty", "/alert/references")


def test_restricted_scope_without_restriction_is_invalid_but_ingestible() -> None:
    data = variant("<scope>Public</scope>", "<scope>Restricted</scope>")
    invalid_but_ingestible(data, "cap.restriction.required", "/alert/scope")


def test_private_scope_without_addresses_is_not_ingestible() -> None:
    # CAP 1.2 §3.2.1: a Private message is for its <addresses> only; without any, nobody may
    # ever read it (issue 10).
    data = variant("<scope>Public</scope>", "<scope>Private</scope>")
    not_ingestible(data, "cap.addresses.required", "/alert/scope")


@pytest.mark.parametrize("identifier", ["TAMPERE,2024", "TAMPERE 2024", "TAMPERE&lt;2024"])
def test_identifier_with_comma_space_or_lt_is_not_ingestible(identifier: str) -> None:
    # It could not be named in a later message's <references> triplet.
    data = variant("<identifier>TAMPERE-2024-0001</identifier>", f"<identifier>{identifier}</identifier>")
    not_ingestible(data, "cap.identifier.chars", "/alert/identifier")


def test_sender_with_ampersand_is_not_ingestible() -> None:
    data = variant("<sender>alerts@example.org</sender>", "<sender>alerts&amp;co@example.org</sender>")
    not_ingestible(data, "cap.sender.chars", "/alert/sender")


# --- info and resource (CAP 1.2 §3.2.2, §3.2.3) -----------------------------------------------


@pytest.mark.parametrize("tag", ["en_US", "English (US)", ""])
def test_invalid_language_tag_is_invalid_but_ingestible(tag: str) -> None:
    data = variant("<language>en-US</language>", f"<language>{tag}</language>")
    invalid_but_ingestible(data, "cap.schema.language", "/alert/info[1]/language")


def test_mime_type_without_subtype_is_invalid_but_ingestible() -> None:
    data = variant("<mimeType>image/png</mimeType>", "<mimeType>png image</mimeType>")
    invalid_but_ingestible(data, "cap.resource.mime-type", f"{RESOURCE}/mimeType")


def test_cap12_resource_without_mime_type_is_invalid_but_ingestible() -> None:
    data = variant("<mimeType>image/png</mimeType>\n", "")
    invalid_but_ingestible(data, "cap.schema.missing", f"{RESOURCE}/mimeType")


def test_cap11_resource_without_mime_type_is_valid() -> None:
    # CAP 1.1's schema has mimeType minOccurs="0"; CAP 1.2 made it required.
    data = variant("<mimeType>image/png</mimeType>\n", "", CAP11)
    report = cap.validate(data)
    assert report.valid and report.version == "1.1", errors_of(report)


def test_deref_uri_that_is_not_base64_is_invalid_but_ingestible() -> None:
    data = variant("<derefUri>iVBORw0KGgo=</derefUri>", "<derefUri>not base-64!</derefUri>")
    invalid_but_ingestible(data, "cap.resource.deref-base64", f"{RESOURCE}/derefUri")


# --- date-times (CAP 1.2 §3.3.2) -------------------------------------------------------------


def test_datetime_with_z_is_invalid_but_read_as_utc() -> None:
    data = variant(SENT, "<sent>2024-03-05T08:15:00Z</sent>")
    alert = invalid_but_ingestible(data, "cap.datetime.alphabetic-zone", "/alert/sent")
    assert alert.sent == datetime(2024, 3, 5, 8, 15, tzinfo=UTC)


def test_datetime_without_timezone_is_invalid_but_ingestible() -> None:
    data = variant(SENT, "<sent>2024-03-05T10:15:00</sent>")
    alert = invalid_but_ingestible(data, "cap.datetime.timezone", "/alert/sent")
    assert alert.sent.tzinfo is not None


def test_datetime_with_fractional_seconds_is_invalid_in_cap12() -> None:
    data = variant(SENT, "<sent>2024-03-05T10:15:00.5+02:00</sent>")
    invalid_but_ingestible(data, "cap.schema.datetime", "/alert/sent")


def test_datetime_with_fractional_seconds_is_valid_in_cap11() -> None:
    # CAP 1.1 types date-times as xs:dateTime, which allows a fraction.
    data = variant(SENT, "<sent>2024-03-05T10:15:00.5+02:00</sent>", CAP11)
    report = cap.validate(data)
    assert report.valid, errors_of(report)


def test_datetime_with_surrounding_whitespace_is_valid() -> None:
    data = variant(SENT, "<sent>\n    2024-03-05T10:15:00+02:00\n  </sent>")
    report = cap.validate(data)
    assert report.valid, errors_of(report)


def test_sent_that_is_no_date_is_not_ingestible() -> None:
    data = variant(SENT, "<sent>2024-02-30T10:15:00+02:00</sent>")
    not_ingestible(data, "cap.schema.sent", "/alert/sent")


# --- structure: order, occurrence, namespaces (the OASIS XSDs) ------------------------------


def test_elements_out_of_schema_order_are_invalid_but_ingestible() -> None:
    data = variant(
        "<status>Actual</status>\n  <msgType>Alert</msgType>",
        "<msgType>Alert</msgType>\n  <status>Actual</status>",
    )
    alert = invalid_but_ingestible(data, "cap.schema.order", "/alert/status")
    assert (alert.status, alert.msg_type) == ("Actual", "Alert")


def test_missing_severity_is_not_ingestible() -> None:
    data = variant("<severity>Severe</severity>\n", "")
    not_ingestible(data, "cap.schema.missing", "/alert/info[1]/severity")


def test_unknown_element_is_invalid_but_ingestible() -> None:
    data = variant("<scope>Public</scope>", "<scope>Public</scope>\n  <priority>high</priority>")
    invalid_but_ingestible(data, "cap.schema.unknown-element", "/alert/priority")


def test_repeated_single_element_is_invalid_but_ingestible() -> None:
    data = variant(SENT, SENT + "\n  " + SENT)
    invalid_but_ingestible(data, "cap.schema.too-many", "/alert/sent[2]")


def test_attribute_on_info_is_invalid_but_ingestible() -> None:
    data = variant("<info>", '<info priority="high">')
    invalid_but_ingestible(data, "cap.schema.attribute", "/alert/info[1]")


def test_alert_in_an_unknown_namespace_is_not_cap() -> None:
    data = variant("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.3")
    not_ingestible(data, "cap.xml.namespace", "/alert")


def test_undeclared_namespace_prefix_is_refused_with_its_line() -> None:
    data = variant('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">', "<cap:alert>")
    data = data.replace(b"</alert>", b"</cap:alert>")
    report = cap.validate(data)
    assert [f.rule for f in report.errors] == ["cap.xml.undeclared-prefix"]
    assert report.errors[0].path.startswith("line 2,")
    with pytest.raises(cap.CapError) as err:
        cap.parse(data)
    assert err.value.rule == "cap.xml.undeclared-prefix"


# --- version specifics -----------------------------------------------------------------------


def test_cap10_value_name_equals_value_text_is_read_as_named_values() -> None:
    report = cap.validate(CAP10.encode())
    assert report.valid and report.version == "1.0", errors_of(report)
    info = cap.parse(CAP10.encode()).infos[0]
    assert [(p.value_name, p.value) for p in info.parameters] == [
        ("HazardType", "Hail"),
        ("Wind", "60 mph = 97 km/h"),  # split at the first "=" only
    ]
    assert [(c.value_name, c.value) for c in info.event_codes] == [("SAME", "SVR")]
    assert [(g.value_name, g.value) for g in info.areas[0].geocodes] == [("FIPS6", "006109")]
    assert info.certainty == "Very Likely"


def test_cap10_parameter_without_equals_sign_is_a_warning() -> None:
    data = variant("<parameter>HazardType=Hail</parameter>", "<parameter>Hail</parameter>", CAP10)
    report = cap.validate(data)
    assert report.valid, errors_of(report)
    assert [(f.rule, f.path) for f in report.warnings] == [
        ("cap.named-value.format", "/alert/info[1]/parameter[1]")
    ]


SIGNATURE = (
    '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/>'
    "<SignatureValue>AA==</SignatureValue></Signature>"
)


def test_cap11_enveloped_signature_element_is_allowed() -> None:
    data = variant("</info>\n</alert>", f"</info>\n  {SIGNATURE}\n</alert>", CAP11)
    # Structure only: whether the signature verifies is reported apart (see signature tests).
    report = cap.validate(data, verify_signature=False)
    assert report.valid and report.version == "1.1", errors_of(report)
    assert cap.parse(data).identifier == "TAMPERE-2024-0001"


def test_signature_before_info_is_out_of_order() -> None:
    data = variant("<info>", f"{SIGNATURE}\n  <info>", CAP11)
    report = cap.validate(data, verify_signature=False)
    assert errors_of(report) == [("cap.schema.order", "/alert/info")]
