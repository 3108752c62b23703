"""EDXL-RM 1.0 XML from values: namespaces, schema order, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from contact_points.edxl_rm import (
    MSG_NS,
    RM_NS,
    XPIL_NS,
    Contact,
    Message,
    Resource,
    Schedule,
    Term,
    message_xml,
)


def test_a_message_is_namespaced_ordered_and_escaped() -> None:
    sent = datetime(2026, 12, 7, 20, 15, 30, 123456, tzinfo=timezone(timedelta(hours=3)))
    xml = message_xml(
        Message(
            content_type="RequestResource",
            message_id="urn:tampere:request:7",
            sent=sent,
            description="Terminals <urgently> & generators",
            incident_id="FL-2026-000187-KEN",
            incident_description="Floods",
            contacts=[
                Contact("Administration of KEN", "Requester", "Jane", "noc@ca.go.ke", "+254 20 4242000")
            ],
            resources=[
                Resource(
                    1,
                    name="BGAN",
                    type=Term("urn:itu:ifce:equipment", "BGAN"),
                    quantity=4,
                    unit="each",
                    schedule=(Schedule("RequestedArrival", datetime(2026, 12, 9, 6, tzinfo=UTC), "Garissa"),),
                )
            ],
        )
    )
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(xml)
    assert root.tag == f"{{{MSG_NS}}}RequestResource"
    assert [etree.QName(c).localname for c in root] == [
        "MessageID",
        "SentDateTime",
        "MessageContentType",
        "MessageDescription",
        "IncidentInformation",
        "ContactInformation",
        "ResourceInformation",
    ]
    ns = {"m": MSG_NS, "rm": RM_NS, "xpil": XPIL_NS}
    assert root.findtext("m:SentDateTime", namespaces=ns) == "2026-12-07T17:15:30+00:00"
    assert root.findtext("m:MessageDescription", namespaces=ns) == "Terminals <urgently> & generators"
    incident = root.find("m:IncidentInformation", ns)
    assert [etree.QName(c).text for c in incident] == [
        f"{{{RM_NS}}}IncidentDescription",
        f"{{{RM_NS}}}IncidentID",
    ]
    contact = root.find("m:ContactInformation", ns)
    assert (
        contact.findtext(
            "rm:AdditionalContactInformation/xpil:ContactNumbers/xpil:ContactNumber/"
            "xpil:ContactNumberElement",
            namespaces=ns,
        )
        == "+254 20 4242000"
    )
    resource = root.find("m:ResourceInformation", ns)
    assert resource.findtext("m:ScheduleInformation/m:DateTime", namespaces=ns) == "2026-12-09T06:00:00+00:00"
