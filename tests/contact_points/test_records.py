"""Contact-point records: the seeded registry, what a record must hold (rule ids and places), and
the YAML and CSV exchange files, whose round trip is exact."""

from __future__ import annotations

from typing import Any

import pytest

from contact_points.records import (
    ContactInvalid,
    ExchangeUnreadable,
    contact_record,
    dump_csv,
    dump_yaml,
    load_csv,
    load_yaml,
    parse_contact,
)
from contact_points.registry import AREA_OFFICE, BDT, NATIONAL, REGIONAL_OFFICE, seed_contacts
from geo.reference import ReferenceTables


@pytest.fixture(scope="module")
def reference() -> ReferenceTables:
    return ReferenceTables.load()


def haiti_desk(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "national-hti",
        "kind": "national",
        "name": "CONATEL — cellule d'urgence",
        "region": "Americas",
        "country": "HTI",
        "people": [
            {
                "name": "Marie-Ange Joseph",
                "role": "directrice",
                "languages": ["fr", "ht"],
                "time_zone": "America/Port-au-Prince",
                "email": "urgence@conatel.gouv.ht",
                "phone": "+509 2222 0000",
            },
            {"name": "Jean Pierre", "role": "adjoint", "languages": ["fr"], "time_zone": None},
        ],
        "head": "Marie-Ange Joseph",
        "deputies": ["Jean Pierre"],
        "channels": {"email": ["noc@conatel.gouv.ht"], "phone": "+509 2222 0001"},
        "emergency_frequencies": ["5.2 MHz", "7.06 MHz, 'USB'"],
        "tampere_convention": True,
    }
    record.update(changes)
    return record


def test_the_seeded_registry_has_offices_bdt_and_one_national_contact_per_member_state(reference) -> None:
    seeded = {c.id: c for c in seed_contacts(reference)}
    assert len([c for c in seeded.values() if c.kind == NATIONAL]) == len(reference.member_states) == 193
    assert seeded["bdt"].kind == BDT and seeded["bdt"].serves == frozenset(reference.member_states)
    bangkok = seeded["ro-bangkok"]
    assert bangkok.kind == REGIONAL_OFFICE and "FJI" in bangkok.serves and "HTI" not in bangkok.serves
    assert seeded["ao-bridgetown"].kind == AREA_OFFICE and "HTI" in seeded["ao-bridgetown"].serves
    assert seeded["ro-moscow"].serves == reference.member_states_in("CIS")
    fiji = seeded["national-fji"]
    assert (fiji.country, fiji.region, fiji.serves) == ("FJI", "Asia and the Pacific", frozenset({"FJI"}))
    # What the tables do not know is left unknown, never invented.
    assert fiji.emergency_frequencies is None and fiji.tampere_convention is None and fiji.people == ()
    # Sources ride along: the office table's and the Member State table's.
    assert seeded["ao-bridgetown"].verification == "partial" and "ICT Pulse" in seeded["ao-bridgetown"].source
    assert fiji.source.startswith("ITU Member States table") and fiji.verification == "corroborated"


def test_a_record_reads_back_as_written(reference) -> None:
    contact = parse_contact(haiti_desk(), reference=reference)
    assert contact.person("Jean Pierre").languages == ("fr",)
    assert contact.emergency_frequencies == ("5.2 MHz", "7.06 MHz, 'USB'")
    assert parse_contact(contact_record(contact), reference=reference) == contact
    hidden = contact_record(contact, people=False)
    assert not {"people", "head", "deputies"} & hidden.keys()
    assert "Marie-Ange" not in repr(hidden)


@pytest.mark.parametrize(
    ("changes", "rule", "path"),
    [
        ({"id": "Nat HTI"}, "contact_point.id.format", "/id"),
        ({"kind": "embassy"}, "contact_point.kind.unknown", "/kind"),
        ({"name": "  "}, "contact_point.name.missing", "/name"),
        ({"region": "Oceania"}, "contact_point.region.unknown", "/region"),
        ({"country": "XKX"}, "contact_point.country.unknown", "/country"),
        ({"country": "FJI"}, "contact_point.region.mismatch", "/region"),
        ({"countries": ["HTI", "ZZZ"]}, "contact_point.countries.unknown", "/countries/1"),
        ({"countries": ["HTI", "FRA"]}, "contact_point.countries.other-region", "/countries/1"),
        ({"head": "Nobody"}, "contact_point.head.unknown", "/head"),
        ({"deputies": ["Marie-Ange Joseph"]}, "contact_point.deputies.head", "/deputies/0"),
        (
            {"emergency_frequencies": []},
            "contact_point.emergency_frequencies.invalid",
            "/emergency_frequencies",
        ),
        ({"tampere_convention": "yes"}, "contact_point.tampere_convention.invalid", "/tampere_convention"),
        ({"channels": {"email": ["not-an-address"]}}, "contact_point.channels.email", "/channels/email/0"),
        ({"fax": "+41 22"}, "contact_point.body.unknown-field", "/fax"),
        (
            {"people": [{"name": "A", "time_zone": "Mars/Olympus_Mons"}]},
            "contact_point.person.time_zone",
            "/people/0/time_zone",
        ),
        (
            {"people": [{"name": "A", "languages": ["english!"]}]},
            "contact_point.person.language",
            "/people/0/languages/0",
        ),
        ({"people": [{"name": "A", "phone": "call me"}]}, "contact_point.person.phone", "/people/0/phone"),
    ],
)
def test_each_mistake_is_named_with_its_rule_and_place(reference, changes, rule, path) -> None:
    with pytest.raises(ContactInvalid) as caught:
        parse_contact(haiti_desk(**changes), reference=reference, base="/contact_points/3")
    assert (rule, f"/contact_points/3{path}") in {(f.rule, f.path) for f in caught.value.findings}


def test_res_647_fields_belong_to_national_contacts(reference) -> None:
    office = {
        "id": "ao-x",
        "kind": "area_office",
        "name": "X",
        "region": "Americas",
        "tampere_convention": False,
    }
    with pytest.raises(ContactInvalid) as caught:
        parse_contact(office, reference=reference)
    assert [f.rule for f in caught.value.findings] == ["contact_point.tampere_convention.kind"]


def test_yaml_and_csv_round_trips_are_exact(reference) -> None:
    contacts = [parse_contact(haiti_desk(), reference=reference), *seed_contacts(reference)[:20]]
    records = [contact_record(c) for c in contacts]
    for dump, load in ((dump_yaml, load_yaml), (dump_csv, load_csv)):
        text = dump(records)
        again = [parse_contact(r, reference=reference) for r in load(text)]
        assert again == contacts, dump.__name__
        assert dump([contact_record(c) for c in again]) == text, dump.__name__
    csv_text = dump_csv(records)
    assert "CONATEL — cellule d'urgence" in csv_text and "\"5.2 MHz;7.06 MHz, 'USB'\"" in csv_text


def test_unreadable_exchange_files_are_refused() -> None:
    with pytest.raises(ExchangeUnreadable, match=r"contacts\.file\.shape"):
        load_yaml("- id: bdt\n")
    with pytest.raises(ExchangeUnreadable, match=r"contacts\.file\.yaml"):
        load_yaml("contact_points: [")
    with pytest.raises(ExchangeUnreadable, match=r"contacts\.file\.columns"):
        load_csv("name,colour\nX,red\n")
    with pytest.raises(ExchangeUnreadable, match=r"contacts\.file\.people"):
        load_csv("id,kind,name,people\nx,bdt,X,[not json\n")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("regional_office", "a regional office"),
        ("area_office", "an area office"),
        ("national", "a national contact"),
    ],
)
def test_messages_name_the_kind_in_words_with_its_article(reference, kind, words) -> None:
    with pytest.raises(ContactInvalid) as caught:
        parse_contact({"id": "x-1", "kind": kind, "name": "X"}, reference=reference)
    [missing] = [f for f in caught.value.findings if f.rule == "contact_point.region.missing"]
    assert missing.message == f"{words} belongs to an ITU-D region"
    with pytest.raises(ContactInvalid) as caught:
        parse_contact(
            {
                "id": "x-1",
                "kind": kind,
                "name": "X",
                "region": "Americas",
                "country": "HTI",
                "countries": ["FRA"],
            },
            reference=reference,
        )
    [other] = [f for f in caught.value.findings if f.rule == "contact_point.countries.other-region"]
    assert other.message.endswith(f"this {words.split(' ', 1)[1]} is in Americas")
