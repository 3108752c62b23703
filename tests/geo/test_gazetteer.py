"""Countries gazetteer (Natural Earth admin-0), geocode tables and the ITU/UN reference tables."""

from __future__ import annotations

import time

import pytest
import shapely
from shapely.geometry import Point, box

from geo.gazetteer import (
    Countries,
    Gazetteer,
    countries_intersecting,
    default_countries,
    packaged_countries_source,
)
from geo.reference import REGIONS, ReferenceTables


@pytest.fixture(scope="module")
def tables() -> ReferenceTables:
    return ReferenceTables.load()


# --- countries --------------------------------------------------------------------------------


def test_packaged_natural_earth_loads_quickly_from_a_path_or_bytes() -> None:
    source = packaged_countries_source()
    started = time.perf_counter()
    from_path = Countries.from_natural_earth(source)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0
    assert len(from_path) == 250
    from_bytes = Countries.from_natural_earth(source.read_bytes())
    assert from_bytes.adm0_a3 == from_path.adm0_a3
    assert from_bytes.iso3 == from_path.iso3


def test_codes_use_iso_a3_eh_and_keep_features_without_iso_code() -> None:
    countries = default_countries()
    by_adm0 = dict(zip(countries.adm0_a3, countries.iso3, strict=True))
    assert by_adm0["FRA"] == "FRA" and by_adm0["NOR"] == "NOR"  # ISO_A3 is -99 for these
    assert by_adm0["KOS"] is None  # Kosovo: no ISO 3166-1 code
    assert "-99" not in countries.iso3 and "-99" not in countries.iso2
    names = dict(zip(countries.adm0_a3, countries.names, strict=True))
    assert names["CIV"] == "Côte d'Ivoire"  # read as UTF-8


def test_geometry_of_accepts_alpha_2_alpha_3_numeric_and_adm0_a3() -> None:
    countries = default_countries()
    fiji = countries.geometry_of("FJI")
    assert fiji is not None
    assert countries.geometry_of("fj").equals(fiji)
    assert countries.geometry_of("242").equals(fiji)
    assert countries.geometry_of("KOS").contains(Point(21.17, 42.67))  # Pristina
    assert countries.geometry_of("ZZZ") is None
    # AUS names Australia and its external territories: the union covers the Coral Sea Is.
    australia = countries.geometry_of("AUS")
    coral_sea = countries.geometry_of("CSI")
    assert australia.covers(coral_sea)


def test_countries_intersecting_a_point_a_border_and_the_sea() -> None:
    assert [h.iso3 for h in countries_intersecting(Point(2.35, 48.86))] == ["FRA"]
    assert countries_intersecting(Point(-30.0, 0.0)) == []  # mid-Atlantic
    rhine = box(7.0, 48.0, 9.0, 49.0)  # France | Germany along the Rhine
    hits = countries_intersecting(rhine, with_share=True)
    assert {h.iso3 for h in hits} == {"FRA", "DEU"}
    shares = {h.iso3: h.share for h in hits}
    assert 0.1 < shares["FRA"] < 0.9 and 0.1 < shares["DEU"] < 0.9
    assert shares["FRA"] + shares["DEU"] == pytest.approx(1.0, abs=0.01)
    assert all(h.share is None for h in countries_intersecting(rhine))


def test_a_country_is_not_over_its_neighbours_that_only_share_its_border() -> None:
    countries = default_countries()
    kenya = countries.geometry_of("KE")  # what a geocode ISO3166-1=KE resolves to
    assert [h.iso3 for h in countries_intersecting(kenya)] == ["KEN"]  # not ETH, SOM, SSD, TZA, UGA
    # A point on Kenya's boundary (a vertex of it) is still in Kenya.
    vertex = Point(shapely.get_coordinates(kenya)[0])
    assert "KEN" in {h.iso3 for h in countries_intersecting(vertex)}
    # An area reaching across the border is over both.
    assert {h.iso3 for h in countries_intersecting(box(33.9, -1.2, 34.2, -0.9))} >= {"KEN", "TZA"}


def test_every_natural_earth_feature_is_in_the_itu_table(tables: ReferenceTables) -> None:
    countries = default_countries()
    assert set(countries.adm0_a3) == set(tables.admin0)


# --- geocode tables ---------------------------------------------------------------------------


def test_gazetteer_matches_schemes_ignoring_case_and_punctuation() -> None:
    zone = box(-97.0, 32.0, -96.0, 33.0)
    gazetteer = Gazetteer(tables={"UGC": {"txz119": zone}, "EMMA_ID": {"RS010": zone}})
    assert gazetteer.resolve("ugc", " TXZ119 ") is zone
    assert gazetteer.resolve("EMMA-ID", "rs010") is zone
    assert gazetteer.resolve("UGC", "TXZ120") is None
    assert gazetteer.resolve("WARNCELLID", "814626190") is None
    assert gazetteer.schemes == {"UGC", "EMMAID"}


def test_iso_geocodes_need_countries_and_subdivisions_need_a_table() -> None:
    without_countries = Gazetteer()
    assert without_countries.resolve("ISO3166-1", "FR") is None
    gazetteer = Gazetteer(default_countries())
    assert gazetteer.resolve("http://www.iso.org/iso/country_codes.html", "FR").contains(Point(2.35, 48.86))
    assert gazetteer.resolve("ISO3166-2", "FR-75") is None


# --- reference tables ------------------------------------------------------------------------


def test_193_member_states_in_six_itu_d_regions(tables: ReferenceTables) -> None:
    assert len(tables.member_states) == 193
    counts = {region: len(tables.member_states_in(region)) for region in REGIONS}
    assert counts == {
        "Africa": 44,
        "Americas": 35,
        "Arab States": 21,
        "Asia and the Pacific": 38,
        "CIS": 9,
        "Europe": 46,
    }
    assert tables.region_of("UKR") == "Europe" and tables.region_of("KAZ") == "CIS"
    assert tables.member_state_of("VAT") == "VAT" and tables.member_state_of("PLW") is None


def test_territory_belongs_to_the_member_state_that_administers_it(
    tables: ReferenceTables,
) -> None:
    assert tables.member_state_of("GUM") == "USA"
    assert tables.region_of("GUM") == "Americas"
    assert tables.member_state_of("NCL") == "FRA" and tables.region_of("NCL") == "Europe"
    assert tables.member_state_of("HKG") == "CHN"
    # Natural Earth spells some features differently from ISO: SDS is South Sudan (SSD).
    assert tables.region_of("SDS") == tables.region_of("SSD") == "Africa"


def test_region_override_moves_guam_to_asia_and_the_pacific(tables: ReferenceTables) -> None:
    moved = tables.with_overrides({"gum": "Asia and the Pacific"})
    assert moved.region_of("GUM") == "Asia and the Pacific"
    assert moved.member_state_of("GUM") == "USA"
    assert moved.region_of("USA") == "Americas"
    loaded = ReferenceTables.load(region_overrides={"GUM": "Asia and the Pacific"})
    assert loaded.region_of("gum") == "Asia and the Pacific"
    with pytest.raises(ValueError, match=r"reference\.region\.unknown"):
        tables.with_overrides({"GUM": "Oceania"})


def test_palestine_taiwan_and_antarctica(tables: ReferenceTables) -> None:
    assert tables.member_state_of("PSE") is None and tables.region_of("PSE") == "Arab States"
    assert tables.region_of("PSX") == "Arab States"
    assert tables.region_of("TWN") is None and tables.member_state_of("TWN") is None
    assert tables.region_of("ATA") is None
    assert tables.region_of("XYZ") is None


def test_ldc_lldc_and_sids_groups(tables: ReferenceTables) -> None:
    assert tables.groups_of("AFG") == {"ldc", "lldc"}
    assert tables.groups_of("TUV") == {"ldc", "sids"}
    assert tables.groups_of("FJI") == {"sids"}
    assert tables.groups_of("GUM") == {"sids"}  # the territory itself, not the USA
    assert tables.groups_of("USA") == frozenset()
    assert tables.groups_of("BTN") == {"lldc"}  # graduated from LDC in December 2023
    counts = {g: sum(g in v for v in tables.groups.values()) for g in ("ldc", "lldc", "sids")}
    assert counts == {"ldc": 44, "lldc": 32, "sids": 58}


def test_reference_tables_parse_given_text() -> None:
    tables = ReferenceTables.from_tsv(
        member_states="# comment\niso3\tname\titu_region\nUSA\tUnited States\tAmericas\n",
        country_groups="iso3\tname\tldc\tlldc\tsids\tun_member\titu_member\nGUM\tGuam\t0\t0\t1\t0\t0\n",
        admin0="adm0_a3\tiso3\tiso2\tname\tsov_a3\ttype\titu_member_iso3\titu_region\n"
        "GUM\tGUM\tGU\tGuam\tUS1\tDependency\tUSA\tAmericas\n",
    )
    assert tables.region_of("GUM") == "Americas"
    assert tables.groups_of("GUM") == {"sids"}
    assert tables.name_of("GUM") == "Guam" and tables.name_of("USA") == "United States"
