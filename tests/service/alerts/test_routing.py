"""Alerts routed by the routing table, end to end through the API on SQLite and PostgreSQL: a
tropical cyclone over Fiji, an earthquake in Haiti, an alert over open sea, a minor alert (no
BDT), a Private alert (only its addressees); each decision with its rule, reasons and the
provenance of every fact; an operator's own table; a bad table stops the start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contact_points.rules import RulesInvalid
from tests.conftest import NAIROBI, ServiceUnderTest, make_cap, running_service

KEN = "alerts@meteo.go.ke"
# Viti Levu, Fiji (CAP polygons are lat,lon; first equals last).
FIJI = "-18.30,177.20 -18.30,178.70 -17.30,178.70 -17.30,177.20 -18.30,177.20"
# Around Port-au-Prince, Haiti.
HAITI = "18.30,-72.80 18.30,-72.10 18.80,-72.10 18.80,-72.80 18.30,-72.80"
# The South Pacific, 1,500 km from any land.
OPEN_SEA = "-30.00,-140.00 -30.00,-139.00 -29.00,-139.00 -29.00,-140.00 -30.00,-140.00"
CONTRACT_KEYS = {
    "contact_point",
    "priority",
    "ack_within_seconds",
    "acknowledged_at",
    "escalated_to",
    "reasons",
    "rule",
    "provenance",
}


def alert(
    identifier: str,
    polygon: str | None,
    *,
    event: str,
    category: str = "Met",
    urgency: str = "Expected",
    severity: str = "Severe",
    certainty: str = "Likely",
    **kwargs: Any,
) -> bytes:
    """A CAP 1.2 alert with the given <info> codes (make_cap writes Met/Immediate/Likely)."""
    sender = kwargs.pop("sender", "relay@tampere.example")
    raw = make_cap(identifier, sender=sender, polygon=polygon, event=event, severity=severity, **kwargs)
    return (
        raw.replace(b"<category>Met</category>", f"<category>{category}</category>".encode())
        .replace(b"<urgency>Immediate</urgency>", f"<urgency>{urgency}</urgency>".encode())
        .replace(b"<certainty>Likely</certainty>", f"<certainty>{certainty}</certainty>".encode())
    )


def routed(body: dict[str, Any]) -> list[str]:
    return [entry["contact_point"] for entry in body["routing"]]


def check_entries(body: dict[str, Any]) -> None:
    """Every entry has the contract's fields, a rule, reasons and provenance of its facts."""
    for entry in body["routing"]:
        assert entry.keys() >= CONTRACT_KEYS, entry
        assert entry["rule"] and entry["reasons"], entry
        assert entry["acknowledged_at"] is None and entry["escalated_to"] is None
        assert entry["provenance"], entry
        for fact in entry["provenance"]:
            assert isinstance(fact["fact"], str) and isinstance(fact["source"], str), fact
            assert isinstance(fact["verified"], bool), fact


@pytest.fixture
async def operator(service: ServiceUnderTest) -> str:
    return await service.token("operator")


async def post(service: ServiceUnderTest, raw: bytes, token: str) -> dict[str, Any]:
    response = await service.post(raw, token)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    # What POST answered, GET and the list tell alike.
    item = (await service.client.get(f"/api/v1/alerts/{body['id']}")).json()
    assert (item["routing"], item["unrouted"]) == (body["routing"], body["unrouted"])
    return body


async def test_a_tropical_cyclone_over_fiji_goes_to_bangkok_and_bdt_at_high_priority(
    service: ServiceUnderTest, operator: str
) -> None:
    body = await post(
        service,
        alert("TC-YASA-1", FIJI, event="Tropical Cyclone Yasa", severity="Extreme", certainty="Observed"),
        operator,
    )
    assert body["countries"] == ["FJI"] and body["unrouted"] is False
    assert routed(body) == ["ro-bangkok", "bdt"]
    check_entries(body)
    bangkok, bdt = body["routing"]
    assert {bangkok["priority"], bdt["priority"]} == {"flash"}
    assert bangkok["ack_within_seconds"] == 15 * 60 and bangkok["escalate_to"] == ["bdt"]
    assert bangkok["rule"] == "offices-of-the-member-states"
    assert "offices-of-the-member-states: regional office for Asia and the Pacific" in bangkok["reasons"]
    assert bdt["rule"] == "bdt-extreme-or-severe"
    assert "bdt-vulnerable-member-states: the area covers FJI (SIDS)" in bdt["reasons"]
    facts = {f["fact"]: f for f in bdt["provenance"]}
    assert facts["FJI (Fiji) is on the UN SIDS list"]["source"].startswith("UN-OHRLLS SIDS list")
    member = facts["the area covers FJI (Fiji), an ITU Member State of the Asia and the Pacific region"]
    assert member["verified"] is False and member["verification"] == "corroborated"
    assert facts["severity Extreme"]["verified"] is False  # an unsigned message
    office = next(f for f in bangkok["provenance"] if f["fact"].startswith("ro-bangkok "))
    assert office["verified"] is True and "itu.int" in office["source"]


async def test_an_earthquake_in_haiti_goes_to_brasilia_bridgetown_and_bdt(
    service: ServiceUnderTest, operator: str
) -> None:
    body = await post(
        service,
        alert(
            "EQ-HTI-1", HAITI, event="Earthquake", category="Geo", urgency="Immediate", certainty="Observed"
        ),
        operator,
    )
    assert body["countries"] == ["HTI"] and not body["unrouted"]
    assert set(routed(body)) == {"ro-brasilia", "ao-bridgetown", "bdt"}
    check_entries(body)
    entries = {e["contact_point"]: e for e in body["routing"]}
    assert {e["priority"] for e in entries.values()} == {"flash"}
    bridgetown = entries["ao-bridgetown"]
    assert bridgetown["escalate_to"] == ["ro-brasilia", "bdt"]
    assert (
        "offices-of-the-member-states: area office serving HTI (coverage list partial)"
        in bridgetown["reasons"]
    )
    # The Caribbean office's coverage of Haiti rests on a secondary source: it says so.
    served = next(f for f in bridgetown["provenance"] if f["fact"].startswith("ao-bridgetown"))
    assert served["verified"] is False and served["verification"] == "partial"
    assert "ICT Pulse" in served["source"]
    assert any(r.endswith("the area covers HTI (LDC), HTI (SIDS)") for r in entries["bdt"]["reasons"])


async def test_an_alert_over_open_sea_is_unrouted_and_goes_to_bdt(
    service: ServiceUnderTest, operator: str
) -> None:
    body = await post(service, alert("SEA-1", OPEN_SEA, event="Tsunami", category="Geo"), operator)
    assert body["countries"] == [] and body["unrouted"] is True
    assert routed(body) == ["bdt"]
    check_entries(body)
    [bdt] = body["routing"]
    assert bdt["rule"] == "unrouted" and bdt["priority"] == "urgent"
    assert any("covers no ITU Member State" in r for r in bdt["reasons"])
    listed = (await service.client.get("/api/v1/alerts")).json()["features"]
    assert [f["properties"]["unrouted"] for f in listed if f["id"] == body["id"]] == [True]
    # An alert that could not be placed at all is unrouted too, and says why.
    nowhere = await post(
        service,
        make_cap("NOWHERE-1", sender="relay@tampere.example", area_xml="<areaDesc>Somewhere</areaDesc>"),
        operator,
    )
    assert nowhere["unrouted"] is True and routed(nowhere) == ["bdt"]
    assert any("no area of the alert could be placed" in r for r in nowhere["routing"][0]["reasons"])


async def test_a_minor_alert_does_not_reach_bdt(service: ServiceUnderTest, operator: str) -> None:
    body = await post(
        service, make_cap("MINOR-1", sender="relay@tampere.example", severity="Minor", event="Rain"), operator
    )
    assert body["countries"] == ["KEN"] and routed(body) == ["ro-addis-ababa"]
    assert body["routing"][0]["priority"] == "flash"  # make_cap says urgency Immediate
    routine = await post(
        service, alert("MINOR-2", NAIROBI, event="Rain", severity="Minor", urgency="Future"), operator
    )
    assert routed(routine) == ["ro-addis-ababa"] and routine["routing"][0]["priority"] == "routine"
    assert routine["routing"][0]["ack_within_seconds"] == 4 * 3600


async def test_a_private_alert_reaches_only_the_contact_points_it_addresses(
    service: ServiceUnderTest, cap_message
) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    response = await service.post(
        cap_message("PRIV-1", scope="Private", addresses=["ro-addis-ababa"], severity="Extreme"), kenya
    )
    body = response.json()
    assert routed(body) == ["ro-addis-ababa"]
    assert body["routing"][0]["escalate_to"] == []  # BDT may not see it: the chain stops short
    refused = [w for w in body["warnings"] if w["rule"] == "routing.recipient.not-addressed"]
    assert len(refused) == 1 and refused[0]["message"].startswith("bdt may not see this Private alert")


async def test_exercise_alerts_are_routed_marked_not_real(service: ServiceUnderTest, operator: str) -> None:
    body = await post(
        service, alert("EX-1", FIJI, event="Cyclone drill", severity="Extreme", status="Exercise"), operator
    )
    assert routed(body) == ["ro-bangkok", "bdt"]
    assert all(e["real"] is False and e["ack_within_seconds"] is None for e in body["routing"])


async def test_an_operators_table_and_deadlines_replace_the_packaged_ones(
    database_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """
rules:
  - id: africa-everyone
    when: {regions: [Africa]}
    recipients: [national_contacts, regional_offices, bdt]
    priority: urgent
""",
        encoding="utf-8",
    )
    async with running_service(
        database_url, tmp_path / "var", routing_rules_file=rules, ack_urgent_seconds=120
    ) as service:
        operator = await service.token("operator")
        body = await post(
            service, make_cap("OPS-1", sender="relay@tampere.example", severity="Minor"), operator
        )
        assert routed(body) == ["national-ken", "ro-addis-ababa", "bdt"]
        assert {(e["rule"], e["priority"], e["ack_within_seconds"]) for e in body["routing"]} == {
            ("africa-everyone", "urgent", 120)
        }
        assert body["routing"][0]["escalate_to"] == ["ro-addis-ababa", "bdt"]
        # Fiji is in no rule of this table: routed to nobody, and not unrouted (it is a Member State).
        fiji = await post(service, alert("OPS-2", FIJI, event="Rain", severity="Minor"), operator)
        assert fiji["routing"] == [] and fiji["unrouted"] is False


async def test_a_bad_routing_table_stops_the_start_naming_its_mistakes(
    database_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("rules:\n  - id: x\n    recipients: [bdt]\n    priority: asap\n", encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        async with running_service(database_url, tmp_path / "var", routing_rules_file=rules):
            pass
    assert str(caught.value).startswith(f"{rules}: routing.rule.priority at /rules/0/priority")


async def test_sites_reported_down_after_the_alert_bring_in_bdt(
    service: ServiceUnderTest, tmp_path: Path
) -> None:
    """The networks-down rule holds only once outage reports arrive: the alert is routed again
    and BDT added, at urgent priority; who was told before stays as told."""
    from tests.service.network.test_network import INSIDE, OUTSIDE, cells_csv, import_and_reload, report, site

    operator = await service.token("operator")
    cells = tmp_path / "cells.csv"
    cells.write_bytes(cells_csv(INSIDE + OUTSIDE))
    await import_and_reload(service, operator, "opencellid", cells)
    body = await post(
        service, alert("DOWN-1", NAIROBI, event="Rain", severity="Minor", urgency="Future"), operator
    )
    assert routed(body) == ["ro-addis-ababa"] and body["impact"]["sites"]["total"] == len(INSIDE)

    one_down = await report(service, operator, {"state": "down", "sites": [site("LTE", 1)]})
    assert one_down.status_code == 201, one_down.text
    assert routed((await service.client.get(f"/api/v1/alerts/{body['id']}")).json()) == ["ro-addis-ababa"]

    more = [site("LTE", 2), site("LTE", 3), site("GSM", 10)]
    assert (await report(service, operator, {"state": "down", "sites": more})).status_code == 201
    detail = (await service.client.get(f"/api/v1/alerts/{body['id']}")).json()
    assert routed(detail) == ["ro-addis-ababa", "bdt"]
    addis, bdt = detail["routing"]
    assert addis["priority"] == "routine" and addis["rule"] == "offices-of-the-member-states"
    assert (bdt["rule"], bdt["priority"], bdt["ack_within_seconds"]) == ("networks-down", "urgent", 3600)
    assert any("4 of 9 cell sites in the area down (44%)" in r for r in bdt["reasons"])
    assert [s["action"] for s in detail["history"]] == ["received", "impact", "impact", "routing.added"]
