"""Contact-point registry and alert routing: recipients, priority, deadlines, escalation, status."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contact_points.registry import AREA_OFFICE, NATIONAL, REGIONAL_OFFICE, ContactPoint, Registry
from contact_points.routing import Priority, most_severe, most_urgent, priority_of, route_alert
from geo.reference import REGIONS, ReferenceTables

HAITI_NATIONAL = ContactPoint(
    id="hti-conatel",
    kind=NATIONAL,
    name="CONATEL emergency desk",
    region="Americas",
    country="HTI",
    emergency_frequencies=("5.2 MHz",),
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(national=[HAITI_NATIONAL])


def ids(recipients) -> list[str]:
    return [r.contact.id for r in recipients]


def test_packaged_registry_has_bdt_and_one_regional_office_per_region(
    registry: Registry,
) -> None:
    assert registry.bdt() is not None and registry.bdt().country == "CHE"
    offices = {region: registry.regional_office(region) for region in REGIONS}
    assert all(o is not None and o.kind == REGIONAL_OFFICE for o in offices.values())
    assert offices["CIS"].id == "ro-moscow" and offices["Americas"].id == "ro-brasilia"
    assert [o.id for o in registry.area_offices_for("HTI")] == ["ao-bridgetown"]
    assert [o.id for o in registry.area_offices_for("IND")] == ["ao-new-delhi"]
    assert registry.area_offices_for("FRA") == []
    assert all(o.kind == AREA_OFFICE for o in registry.area_offices_for("ZAF"))


def test_every_office_serves_member_states_of_its_own_region(registry: Registry) -> None:
    tables = ReferenceTables.load()
    for contact in registry:
        for iso3 in contact.serves:
            assert tables.region_of(iso3) == contact.region, (contact.id, iso3)


@pytest.mark.parametrize(
    ("severity", "urgency", "priority", "deadline"),
    [
        ("Extreme", "Expected", Priority.FLASH, timedelta(minutes=15)),
        ("Moderate", "Immediate", Priority.FLASH, timedelta(minutes=15)),
        ("Severe", "Expected", Priority.URGENT, timedelta(hours=1)),
        ("Moderate", "Future", Priority.ROUTINE, timedelta(hours=4)),
        ("Unknown", "Unknown", Priority.ROUTINE, timedelta(hours=4)),
    ],
)
def test_priority_and_acknowledgement_deadline(
    registry: Registry, severity: str, urgency: str, priority: Priority, deadline: timedelta
) -> None:
    assert priority_of(severity, urgency) is priority
    recipients = route_alert(["HTI"], ["Americas"], severity, urgency, "Actual", registry=registry)
    assert {r.priority for r in recipients} == {priority}
    assert {r.ack_within for r in recipients} == {deadline}


def test_actual_alert_for_haiti_reaches_national_area_regional_and_bdt(
    registry: Registry,
) -> None:
    recipients = route_alert(["HTI"], ["Americas"], "Extreme", "Immediate", "Actual", registry=registry)
    assert ids(recipients) == ["hti-conatel", "ao-bridgetown", "ro-brasilia", "bdt"]
    chains = {r.contact.id: r.escalate_to for r in recipients}
    assert chains == {
        "hti-conatel": ("ro-brasilia", "bdt"),
        "ao-bridgetown": ("ro-brasilia", "bdt"),
        "ro-brasilia": ("bdt",),
        "bdt": (),
    }
    assert all(r.real for r in recipients)
    assert recipients[1].reason == "area office serving HTI"


def test_several_countries_and_regions_reach_each_office_once(registry: Registry) -> None:
    recipients = route_alert(
        ["ind", "PAK", "AFG", "IRN"],
        ["Asia and the Pacific"],
        "Severe",
        "Expected",
        "Actual",
        registry=registry,
    )
    assert ids(recipients) == ["ao-new-delhi", "ro-bangkok", "bdt"]


def test_area_office_region_is_told_even_when_the_caller_gave_no_region(
    registry: Registry,
) -> None:
    recipients = route_alert(["ZAF"], [], "Severe", "Expected", "Actual", registry=registry)
    assert ids(recipients) == ["ao-harare", "ro-addis-ababa", "bdt"]


def test_guam_routes_to_americas_by_default_and_to_bangkok_with_the_override(
    registry: Registry,
) -> None:
    for overrides, office in (({}, "ro-brasilia"), ({"GUM": "Asia and the Pacific"}, "ro-bangkok")):
        tables = ReferenceTables.load(region_overrides=overrides)
        region = tables.region_of("GUM")
        recipients = route_alert(["GUM"], [region], "Severe", "Immediate", "Actual", registry=registry)
        assert ids(recipients) == [office, "bdt"]


@pytest.mark.parametrize("status", ["Exercise", "Test"])
def test_exercise_and_test_are_delivered_marked_not_real(registry: Registry, status: str) -> None:
    recipients = route_alert(["HTI"], ["Americas"], "Extreme", "Immediate", status, registry=registry)
    assert ids(recipients) == ["hti-conatel", "ao-bridgetown", "ro-brasilia", "bdt"]
    assert not any(r.real for r in recipients)
    assert all(r.ack_within is None and r.escalate_to == () for r in recipients)


@pytest.mark.parametrize("status", ["System", "Draft", "Bogus", ""])
def test_system_draft_and_unknown_status_reach_nobody(registry: Registry, status: str) -> None:
    assert route_alert(["HTI"], ["Americas"], "Extreme", "Immediate", status, registry=registry) == []


def test_bad_registry_rows_are_refused_with_a_rule_id() -> None:
    header = "office_id\tkind\tname\tcity\tcountry_iso3\tregion\tserves\tcoverage\n"
    with pytest.raises(ValueError, match=r"contact_points\.kind\.unknown.*row 1"):
        Registry.from_tsv(header + "x\tembassy\tX\tY\tCHE\tEurope\t\tcomplete\n")
    with pytest.raises(ValueError, match=r"contact_points\.id\.duplicate"):
        Registry.from_tsv(
            header + "bdt\tbdt\tBDT\tGeneva\tCHE\t\t\tcomplete\n",
            national=[ContactPoint(id="bdt", kind=NATIONAL, name="clash", country="CHE")],
        )
    with pytest.raises(ValueError, match=r"contact_points\.kind\.unknown"):
        ContactPoint(id="y", kind="pigeon", name="Y")


# --- one severity and urgency for an alert of several <info> blocks (CAP 1.2 §3.2.2) ----------


def test_the_most_pressing_severity_and_urgency_of_several_infos_route_the_alert() -> None:
    assert most_severe(["Minor", "Severe", "Moderate"]) == "Severe"
    assert most_severe(["Unknown", "Extreme"]) == "Extreme"
    assert most_urgent(["Past", "Expected", "Future"]) == "Expected"
    assert most_urgent(["Immediate", "Unknown"]) == "Immediate"


def test_severity_and_urgency_outside_cap_are_passed_over_and_none_is_unknown() -> None:
    assert most_severe(["Catastrophic", "Minor"]) == "Minor"
    assert most_severe([]) == "Unknown"
    assert most_urgent(["", "soon"]) == "Unknown"
