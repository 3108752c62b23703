"""Routing rules as data: the packaged table's decisions (Fiji, Haiti, open sea, a minor alert),
an operator's table, the table's own checks, and the escalation chain with people."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cap.model import Alert, Info
from contact_points.escalation import RecipientClock, escalation_chain, steps_due
from contact_points.registry import NATIONAL, ContactPoint, Person, Registry, seed_contacts
from contact_points.routing import Priority
from contact_points.rules import (
    FACT_KINDS,
    GROUND_KINDS,
    AlertFacts,
    RoutingRules,
    RulesInvalid,
    alert_facts,
    decide,
)
from geo.reference import ReferenceTables

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def reference() -> ReferenceTables:
    return ReferenceTables.load()


@pytest.fixture(scope="module")
def registry(reference: ReferenceTables) -> Registry:
    return Registry(seed_contacts(reference))


@pytest.fixture(scope="module")
def rules() -> RoutingRules:
    return RoutingRules.load()


def facts(
    reference: ReferenceTables,
    countries: list[str],
    *,
    severity: str = "Severe",
    urgency: str = "Expected",
    certainty: str = "Observed",
    status: str = "Actual",
    category: str = "Met",
    event: str = "Tropical cyclone",
    signature: str = "unsigned",
    **impact: Any,
) -> AlertFacts:
    alert = Alert(
        identifier="T-1",
        sender="alerts@example.org",
        sent=T0,
        status=status,
        msg_type="Alert",
        scope="Public",
        infos=[
            Info(categories=[category], event=event, urgency=urgency, severity=severity, certainty=certainty)
        ],
    )
    regions = sorted({r for r in (reference.region_of(c) for c in countries) if r})
    return alert_facts(
        alert, {"countries": countries, "regions": regions, **impact}, reference, signature=signature
    )


def ids(decision: Any) -> list[str]:
    return [e.contact.id for e in decision.entries]


def test_a_cyclone_over_fiji_goes_to_bangkok_and_bdt_at_flash_priority(reference, registry, rules) -> None:
    decision = decide(facts(reference, ["FJI"], severity="Extreme"), rules=rules, registry=registry)
    assert ids(decision) == ["ro-bangkok", "bdt"] and not decision.unrouted
    bangkok, bdt = decision.entries
    assert {bangkok.priority, bdt.priority} == {Priority.FLASH}
    assert bangkok.ack_within == timedelta(minutes=15) and bangkok.escalate_to == ("bdt",)
    assert bangkok.rule == "offices-of-the-member-states"
    assert "offices-of-the-member-states: regional office for Asia and the Pacific" in bangkok.reasons
    # BDT by two rules: severity and a small island developing State; the first decides.
    assert bdt.rule == "bdt-extreme-or-severe"
    assert bdt.rules == ("bdt-extreme-or-severe", "bdt-vulnerable-member-states")
    assert "bdt-vulnerable-member-states: the area covers FJI (SIDS)" in bdt.reasons
    provenance = {f.fact: f for f in bdt.provenance}
    sids = provenance["FJI (Fiji) is on the UN SIDS list"]
    assert (sids.source, sids.verified, sids.verification) == (
        "UN-OHRLLS SIDS list: the 38 UN Member States",
        False,
        "corroborated",
    )
    office = next(f for f in bangkok.provenance if f.fact.startswith("ro-bangkok "))
    assert office.verified and "itu.int" in office.source
    # Read from an unsigned message: the CAP facts are not verified...
    assert provenance["severity Extreme"].verified is False
    # ...and from one whose signature verified, they are.
    signed = decide(
        facts(reference, ["FJI"], severity="Extreme", signature="verified"), rules=rules, registry=registry
    )
    assert {f.fact: f.verified for f in signed.entries[1].provenance}["severity Extreme"] is True


def test_an_earthquake_in_haiti_goes_to_bridgetown_brasilia_and_bdt(reference, registry, rules) -> None:
    decision = decide(
        facts(reference, ["HTI"], category="Geo", event="Earthquake", urgency="Immediate"),
        rules=rules,
        registry=registry,
    )
    assert ids(decision) == ["ao-bridgetown", "ro-brasilia", "bdt"]
    bridgetown = decision.entries[0]
    assert bridgetown.escalate_to == ("ro-brasilia", "bdt")
    assert (
        "offices-of-the-member-states: area office serving HTI (coverage list partial)" in bridgetown.reasons
    )
    # An unverified office assignment is visible to whoever acts on it.
    served = next(f for f in bridgetown.provenance if f.fact.startswith("ao-bridgetown"))
    assert served.verified is False and served.verification == "partial" and "ICT Pulse" in served.source


def test_an_alert_over_open_sea_is_unrouted_and_goes_to_bdt(reference, registry, rules) -> None:
    decision = decide(facts(reference, []), rules=rules, registry=registry)
    assert decision.unrouted and ids(decision) == ["bdt"]
    [bdt] = decision.entries
    assert bdt.rule == "unrouted"
    assert any("covers no ITU Member State" in r for r in bdt.reasons)
    # Whatever the table says: an operator's table without such a rule still sends it to BDT.
    bare = RoutingRules.from_data({"rules": [{"id": "offices", "recipients": ["regional_offices"]}]})
    again = decide(facts(reference, []), rules=bare, registry=registry)
    assert ids(again) == ["bdt"] and again.entries[0].rule == "unrouted"


def test_bdt_is_not_told_of_every_routine_alert(reference, registry, rules) -> None:
    minor = decide(
        facts(reference, ["KEN"], severity="Minor", urgency="Future"), rules=rules, registry=registry
    )
    assert ids(minor) == ["ro-addis-ababa"]
    assert minor.entries[0].priority == Priority.ROUTINE
    assert minor.entries[0].ack_within == timedelta(hours=4)


def test_sites_down_raise_the_priority_and_call_bdt(reference, registry, rules) -> None:
    decision = decide(
        facts(reference, ["KEN"], severity="Minor", urgency="Future", sites={"total": 8, "down": 4}),
        rules=rules,
        registry=registry,
    )
    assert ids(decision) == ["ro-addis-ababa", "bdt"]
    addis, bdt = decision.entries
    # Routine by severity, raised to urgent by the networks-down rule.
    assert (addis.priority, addis.rule) == (Priority.URGENT, "networks-down")
    assert any("4 of 8 cell sites in the area down (50%)" in r for r in bdt.reasons)


@pytest.mark.parametrize("status", ["Exercise", "Test"])
def test_exercise_and_test_reach_the_same_people_marked_not_real(reference, registry, rules, status) -> None:
    decision = decide(facts(reference, ["HTI"], status=status), rules=rules, registry=registry)
    assert ids(decision) == ["ao-bridgetown", "ro-brasilia", "bdt"]
    assert all(not e.real and e.ack_within is None and e.escalate_to == () for e in decision.entries)


@pytest.mark.parametrize("status", ["System", "Draft", "Bogus"])
def test_system_draft_and_unknown_status_reach_nobody(reference, registry, rules, status) -> None:
    decision = decide(facts(reference, ["HTI"], status=status), rules=rules, registry=registry)
    assert decision.entries == () and not decision.unrouted


def test_an_operators_table_with_every_kind_of_condition(reference, registry) -> None:
    table = RoutingRules.load(
        """
rules:
  - id: pacific-cyclones
    when:
      regions: [Asia and the Pacific]
      groups: [sids]
      event: [cyclone, typhoon]
      category: [Met]
      population_at_least: 1000
      cable_landings_at_least: 1
    recipients: [national_contacts, ro-geneva, no-such-office]
    priority: urgent
  - id: anything-in-fiji
    when: {countries: [FJI], signature_verified: false}
    recipients: [regional_offices]
    priority: routine
""",
        name="operator.yaml",
    )
    hit = facts(
        reference,
        ["FJI"],
        population=25_000,
        landing_points=[{"id": "suva", "name": "Suva"}],
    )
    decision = decide(hit, rules=table, registry=registry)
    assert ids(decision) == ["national-fji", "ro-bangkok", "ro-geneva"]
    national, bangkok, geneva = decision.entries
    assert national.contact.kind == NATIONAL and national.priority == Priority.URGENT
    assert national.escalate_to == ("ro-bangkok", "bdt")
    assert geneva.reasons[-2] == "pacific-cyclones: named by the rule (ro-geneva)"
    assert bangkok.priority == Priority.ROUTINE
    assert any("1 submarine cable landing point(s) in the area: Suva" in r for r in national.reasons)
    assert [n.rule for n in decision.notes] == ["routing.recipient.unknown"]
    assert "no-such-office" in decision.notes[0].message
    # One condition fails (no landing point): that rule stays silent.
    quiet = decide(dataclasses.replace(hit, landing_points=()), rules=table, registry=registry)
    assert ids(quiet) == ["ro-bangkok"]


def test_a_bad_table_is_refused_whole_naming_each_mistake() -> None:
    with pytest.raises(RulesInvalid) as caught:
        RoutingRules.load(
            """
rules:
  - id: Bad Id
    recipients: []
  - id: ok
    when: {severity: [Catastrophic], sites_down_share_at_least: 2, colour: red}
    recipients: [bdt]
    priority: asap
  - id: ok
    recipients: [bdt]
""",
            name="broken.yaml",
        )
    found = {(f.rule, f.path) for f in caught.value.findings}
    assert found == {
        ("routing.rule.id", "/rules/0/id"),
        ("routing.rule.recipients", "/rules/0/recipients"),
        ("routing.rule.priority", "/rules/1/priority"),
        ("routing.rule.condition.value", "/rules/1/when/severity"),
        ("routing.rule.condition.sites_down_share_at_least", "/rules/1/when/sites_down_share_at_least"),
        ("routing.rule.condition.unknown", "/rules/1/when/colour"),
        ("routing.rule.id.duplicate", "/rules/2/id"),
    }
    assert str(caught.value).startswith("broken.yaml: ")
    with pytest.raises(RulesInvalid, match=r"routing\.rules\.yaml"):
        RoutingRules.load("rules: [unclosed")
    with pytest.raises(RulesInvalid, match=r"routing\.rules\.shape"):
        RoutingRules.load("- just a list")


# --- escalation: deputies, head, regional office, BDT ---------------------------------------------


def test_the_chain_asks_deputies_then_head_then_the_regional_office_then_bdt(registry: Registry) -> None:
    bridgetown = dataclasses.replace(
        registry.get("ao-bridgetown"),
        people=(Person("Ana Roe", "area representative"), Person("Ben Doe", "programme officer")),
        head="Ana Roe",
        deputies=("Ben Doe",),
    )
    chain = escalation_chain(bridgetown, registry)
    assert chain == ("ao-bridgetown#deputies", "ao-bridgetown#head", "ro-brasilia", "bdt")
    assert escalation_chain(registry.get("ro-bangkok"), registry) == ("bdt",)
    assert escalation_chain(registry.get("bdt"), registry) == ()

    clock = RecipientClock("ao-bridgetown", T0, timedelta(minutes=15), chain)
    assert steps_due([clock], set(), T0 + timedelta(minutes=14)) == []
    due = steps_due([clock], set(), T0 + timedelta(minutes=31))
    assert [(s.target, s.level, s.due) for s in due] == [
        ("ao-bridgetown#deputies", 1, T0 + timedelta(minutes=15)),
        ("ao-bridgetown#head", 2, T0 + timedelta(minutes=30)),
    ]
    # The regional office answered: nothing left to chase on this chain.
    assert steps_due([clock], {"ro-brasilia"}, T0 + timedelta(hours=2)) == []


def test_a_national_contact_without_a_region_escalates_by_the_regions_given() -> None:
    from contact_points.routing import route_alert

    lone = ContactPoint(id="desk", kind=NATIONAL, name="Desk", country="HTI")
    routed = route_alert(
        ["HTI"], ["Americas"], "Extreme", "Immediate", "Actual", registry=Registry.load([lone])
    )
    assert routed[0].contact.id == "desk" and routed[0].escalate_to == ("ro-brasilia", "bdt")


def test_every_reason_comes_as_data_too_in_the_same_order(reference, registry) -> None:
    """`grounds` hold each reason's kind and the facts it used, one per English reason: what a
    reader in another language is shown instead of the English text."""
    table = RoutingRules.load(
        """
rules:
  - id: pacific-cyclones
    when:
      status: [Actual]
      regions: [Asia and the Pacific]
      groups: [sids]
      event: [cyclone]
      category: [Met]
      member_states: true
      countries: [FJI]
      population_at_least: 1000
      cable_landings_at_least: 1
      sites_down_share_at_least: 0.25
      sites_down_at_least: 1
      signature_verified: false
    recipients: [national_contacts, area_offices, regional_offices, bdt, ro-geneva]
    priority_at_least: flash
""",
        name="operator.yaml",
    )
    hit = facts(
        reference,
        ["FJI"],
        population=25_000,
        landing_points=[{"id": "suva", "name": "Suva"}],
        sites={"total": 8, "down": 4},
    )
    decision = decide(hit, rules=table, registry=registry)
    kinds: set[str] = set()
    for entry in decision.entries:
        assert len(entry.grounds) == len(entry.reasons) > 0
        for ground, text in zip(entry.grounds, entry.reasons, strict=True):
            assert text.startswith(f"{ground['rule']}: ")
            assert set(ground) == {"rule", "kind", *GROUND_KINDS[ground["kind"]]}, ground
            kinds.add(ground["kind"])
    assert kinds >= {
        "cap",
        "category",
        "event",
        "member_states",
        "countries",
        "regions",
        "groups",
        "sites_down_share",
        "sites_down",
        "population",
        "cable_landings",
        "signature",
        "regional_office",
        "bdt",
        "named",
        "priority_cap",
    }
    # Each fact of the provenance says what it is about as data too.
    abouts = {
        f.as_json()["about"]["kind"]: f.as_json()["about"] for e in decision.entries for f in e.provenance
    }
    for kind, subject in abouts.items():
        assert set(subject) == {"kind", *FACT_KINDS[kind]}, subject
    assert set(abouts) == {"cap", "member_state", "group", "office", "impact"}
    assert abouts["office"]["contact_point"] in {e.contact.id for e in decision.entries}
    bangkok = next(e for e in decision.entries if e.contact.id == "ro-bangkok")
    grounds = {g["kind"]: g for g in bangkok.grounds}
    assert grounds["member_states"]["countries"] == ["FJI"]
    assert grounds["regional_office"]["region"] == "Asia and the Pacific"
    assert grounds["groups"]["members"] == [{"country": "FJI", "group": "sids"}]
    assert grounds["sites_down_share"] == {
        "rule": "pacific-cyclones",
        "kind": "sites_down_share",
        "down": 4,
        "total": 8,
        "share": 0.5,
        "at_least": 0.25,
    }
    assert grounds["priority_cap"]["priority"] == "flash"
    assert grounds["priority_cap"]["raised_from"] == "urgent"
    assert grounds["cap"] == {
        "rule": "pacific-cyclones",
        "kind": "cap",
        "element": "status",
        "value": "Actual",
        "allowed": ["Actual"],
    }
    # Over no Member State: the unrouted decision says so as data, and whether it could be placed.
    sea = decide(facts(reference, []), rules=RoutingRules.load(), registry=registry)
    unrouted = sea.entries[0].grounds
    assert {"rule": "unrouted", "kind": "no_member_state", "mapped": True} in unrouted
