"""Boundary tables for CAP geocodes, on SQLite and PostgreSQL: imported by command or function,
picked up by a running service without a restart, used to map geocode-only alerts; codes no
table knows are reported on the alert; bad files get a clear error naming the rule."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import select

import cap
from service.db.models import AuditEntry
from service.geocodes.files import import_geocodes, list_geocode_tables, load_gazetteer
from tests.conftest import (
    SHARED,
    ServiceUnderTest,
    make_cap,
    migrated,
    run_tampere,
    run_tampere_async,
    running_service,
)

# Hand-made zones, (west, south, east, north) in lon/lat: two in the Texas panhandle, and a
# rough box over New South Wales.
TXZ001 = (-101.8, 35.6, -101.2, 36.1)
TXZ002 = (-101.0, 35.0, -100.4, 35.5)
AU_NSW = (141.0, -37.5, 153.5, -28.2)
NWS_CAP = SHARED / "corpus/cap/valid/nws_weather-cap11.xml"
PICKUP_SECONDS = 10.0


def feature(code: Any, bounds: tuple[float, float, float, float] | None, **props: Any) -> dict[str, Any]:
    geometry = None if bounds is None else shapely.geometry.mapping(shapely.box(*bounds))
    return {"type": "Feature", "properties": {"code": code, **props}, "geometry": geometry}


def write_geojson(path: Path, features: list[dict[str, Any]], **extra: Any) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", **extra, "features": features}))
    return path


@pytest.fixture
def ugc_file(tmp_path: Path) -> Path:
    return write_geojson(
        tmp_path / "ugc_zones.geojson",
        [feature("TXZ001", TXZ001, name="Dallam"), feature("TXZ002", TXZ002, name="Hartley")],
    )


@pytest.fixture
def nsw_file(tmp_path: Path) -> Path:
    return write_geojson(tmp_path / "au_states.geojson", [feature("AU-NSW", AU_NSW, name="New South Wales")])


def geocode_cap(identifier: str, geocodes: list[tuple[str, str]], area_desc: str = "Zones") -> bytes:
    """A CAP 1.2 alert whose only area is given by geocodes (CAP 1.2 §3.2.4)."""
    codes = "".join(
        f"<geocode><valueName>{name}</valueName><value>{value}</value></geocode>" for name, value in geocodes
    )
    return make_cap(identifier, event="Blizzard", area_xml=f"<areaDesc>{area_desc}</areaDesc>{codes}")


@pytest.fixture
async def service(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ServiceUnderTest]:
    """The service, looking for new tables every 0.1 s (as `tampere serve` does every few)."""
    monkeypatch.setenv("TAMPERE_LAYER_CHECK_SECONDS", "0.1")
    async with running_service(database_url, tmp_path / "var") as running:
        yield running


async def picked_up(service: ServiceUnderTest, key: str) -> None:
    """Wait (bounded) until the running service's gazetteer holds the scheme `key`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PICKUP_SECONDS
    while key not in service.runtime.gazetteer.schemes:
        assert loop.time() < deadline, f"the service did not pick up {key} in {PICKUP_SECONDS} s"
        await asyncio.sleep(0.05)


def unresolved(alert: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (w["valueName"], w["value"], w["path"])
        for w in alert["warnings"]
        if w["rule"] == "geo.geocode.unresolved"
    )


async def feature_of(service: ServiceUnderTest, alert_id: int) -> dict[str, Any]:
    listed = (await service.client.get("/api/v1/alerts")).json()
    return next(f for f in listed["features"] if f["id"] == alert_id)


# --- the service maps geocodes with imported tables ---------------------------------------------


async def test_ugc_table_imported_by_command_maps_a_geocode_only_alert(
    service: ServiceUnderTest, database_url: str, ugc_file: Path
) -> None:
    data_dir = service.runtime.settings.data_dir
    result = await run_tampere_async(
        "geocodes", "import", "UGC", str(ugc_file), "--code-field", "code", "--name-field", "name",
        data_dir=data_dir,
        database_url=database_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["scheme"], summary["codes"], summary["rows"]) == ("UGC", 2, 2)
    await picked_up(service, "UGC")

    operator = await service.token("operator")
    posted = await service.post(geocode_cap("GC-1", [("UGC", "TXZ001"), ("UGC", "TXZ999")]), operator)
    assert posted.status_code == 201, posted.text
    alert = posted.json()
    assert alert["countries"] == ["USA"]
    assert alert["regions"] == ["Americas"]
    assert alert["impact"]["countries"] == ["USA"]
    assert unresolved(alert) == [("UGC", "TXZ999", "/alert/info[1]/area[1]/geocode[2]")]
    mapped = shape((await feature_of(service, alert["id"]))["geometry"])
    assert mapped.symmetric_difference(shapely.box(*TXZ001)).area < 1e-9

    # The import went into the audit log of the same store the service uses.
    actions = await service.runtime.db.read(
        lambda conn: conn.execute(select(AuditEntry.action, AuditEntry.object)).all()
    )
    assert ("geocodes.import", "geocodes:UGC") in [tuple(a) for a in actions]


async def test_iso_3166_2_table_imported_by_function_is_used_without_restart(
    service: ServiceUnderTest, nsw_file: Path
) -> None:
    operator = await service.token("operator")
    before = (await service.post(geocode_cap("GC-NSW-1", [("ISO 3166-2", "AU-NSW")]), operator)).json()
    assert before["countries"] == []
    assert unresolved(before) == [("ISO 3166-2", "AU-NSW", "/alert/info[1]/area[1]/geocode[1]")]
    assert "geo.area.empty" in {w["rule"] for w in before["warnings"]}

    data_dir = service.runtime.settings.data_dir
    summary = await asyncio.to_thread(import_geocodes, "ISO 3166-2", nsw_file, data_dir, code_field="code")
    assert (summary["key"], summary["codes"]) == ("ISO31662", 1)
    await picked_up(service, "ISO31662")

    # Written the way CAP-AU and others spell the scheme; the code in lower case.
    after = await service.post(
        geocode_cap("GC-NSW-2", [("iso3166-2", "au-nsw"), ("ISO 3166-2", "AU-XYZ")]), operator
    )
    assert after.status_code == 201, after.text
    alert = after.json()
    assert alert["countries"] == ["AUS"]
    assert alert["regions"] == ["Asia and the Pacific"]
    assert unresolved(alert) == [("ISO 3166-2", "AU-XYZ", "/alert/info[1]/area[1]/geocode[2]")]
    # Alerts stored before the import keep the assessment they were given (documented).
    kept = (await service.client.get(f"/api/v1/alerts/{before['id']}")).json()
    assert kept["countries"] == []


async def test_nws_alert_reports_its_ugc_and_fips6_codes_unresolved_without_tables(
    service: ServiceUnderTest,
) -> None:
    if not NWS_CAP.exists():
        pytest.skip(f"shared corpus not present: {NWS_CAP}")
    raw = NWS_CAP.read_bytes()
    expected = sorted(
        (g.value_name, g.value) for info in cap.parse(raw).infos for area in info.areas for g in area.geocodes
    )
    assert {name for name, _ in expected} == {"UGC", "FIPS6"}
    posted = await service.post(raw, await service.token("operator"))
    assert posted.status_code == 201, posted.text
    alert = posted.json()
    assert sorted((name, value) for name, value, _ in unresolved(alert)) == expected
    assert alert["countries"] == []


# --- the command line -----------------------------------------------------------------------------


def test_geocodes_list_shows_each_imported_table(tmp_path: Path, ugc_file: Path, nsw_file: Path) -> None:
    data_dir = migrated(tmp_path / "var")
    assert run_tampere("geocodes", "list", data_dir=data_dir).stdout == ""
    for scheme, path in (("UGC", ugc_file), ("ISO 3166-2", nsw_file)):
        result = run_tampere(
            "geocodes", "import", scheme, str(path), "--code-field", "code", data_dir=data_dir
        )
        assert result.returncode == 0, result.stderr
        assert "picks it up" in result.stderr
    listed = run_tampere("geocodes", "list", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    tables = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(t["scheme"], t["key"], t["codes"], t["source"]) for t in tables] == [
        ("ISO 3166-2", "ISO31662", 1, "au_states.geojson"),
        ("UGC", "UGC", 2, "ugc_zones.geojson"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "args", "rule"),
    [
        ("zones.geojson", None, ("UGC", "--code-field", "ugc"), "geocode.code-field"),
        ("zones.geojson", None, ("UGC", "--code-field", "code", "--name-field", "nom"), "geocode.name-field"),
        ("notes.txt", "these are not boundaries\n", ("UGC", "--code-field", "code"), "geocode.file"),
        ("empty.geojson", '{"type":"FeatureCollection","features":[]}', ("UGC", "--code-field", "code"),
         "geocode.empty"),
        ("zones.geojson", None, ("ISO 3166-1", "--code-field", "code"), "geocode.scheme"),
        ("zones.geojson", None, ("%%", "--code-field", "code"), "geocode.scheme"),
    ],
)  # fmt: skip
def test_bad_imports_name_the_rule_and_store_nothing(
    tmp_path: Path, ugc_file: Path, name: str, content: str | None, args: tuple[str, ...], rule: str
) -> None:
    path = ugc_file if content is None else tmp_path / name
    if content is not None:
        path.write_text(content)
    scheme, *options = args
    data_dir = migrated(tmp_path / "var")
    result = run_tampere("geocodes", "import", scheme, str(path), *options, data_dir=data_dir)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"tampere geocodes import: {rule}: "), result.stderr
    # The place: the file, or the scheme argument when that is what is wrong.
    assert (repr(scheme) if rule == "geocode.scheme" else str(path)) in result.stderr
    assert result.stdout == ""
    assert list_geocode_tables(data_dir) == []


def test_missing_code_field_lists_the_fields_there_are(tmp_path: Path, ugc_file: Path) -> None:
    migrated(tmp_path)
    result = run_tampere("geocodes", "import", "UGC", str(ugc_file), "--code-field", "ugc", data_dir=tmp_path)
    assert "its fields: code, name" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    migrated(tmp_path)
    result = run_tampere(
        "geocodes", "import", "UGC", str(tmp_path / "nope.geojson"), "--code-field", "code", data_dir=tmp_path
    )
    assert result.returncode == 2
    assert "cannot read" in result.stderr


# --- the store ------------------------------------------------------------------------------------


def test_unusable_rows_are_counted_by_reason_and_codes_merged(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[10, 0], [11, 1], [11, 0], [10, 1], [10, 0]]]}
    features = [
        feature(" txz001 ", (-101.8, 35.6, -101.5, 36.1), name=None),
        feature("TXZ001", (-101.5, 35.6, -101.2, 36.1), name="Dallam"),
        {**feature("TXZ003", None), "geometry": bowtie},
        {**feature("TXZ004", None), "geometry": {"type": "Point", "coordinates": [-100, 35]}},
        feature("TXZ005", (200.0, 10.0, 201.0, 11.0)),
        feature("", TXZ002),
        feature(None, TXZ002),
        feature("TXZ006", None),
    ]
    path = write_geojson(tmp_path / "mixed.geojson", features)
    summary = import_geocodes("UGC", path, tmp_path, code_field="code", name_field="name")
    assert summary["rows"] == 8
    assert summary["skipped"] == {
        "no_code": 2,
        "no_geometry": 1,
        "not_polygon": 1,
        "out_of_range": 1,
        "bad_code": 0,
    }
    assert (summary["codes"], summary["merged"], summary["repaired"]) == (2, 1, 1)
    gazetteer = load_gazetteer(tmp_path)
    assert gazetteer.resolve("UGC", "TXZ001").equals(shapely.box(*TXZ001))
    assert gazetteer.resolve("UGC", "TXZ003").area == pytest.approx(0.5)  # the repaired bowtie
    assert gazetteer.resolve("UGC", "TXZ004") is None
    # ISO 3166-1 still comes from the packaged countries.
    assert gazetteer.resolve("ISO3166-1", "AU") is not None


def test_declared_crs_is_reprojected_to_lon_lat(tmp_path: Path) -> None:
    to_mercator = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    west, south = to_mercator.transform(TXZ001[0], TXZ001[1])
    east, north = to_mercator.transform(TXZ001[2], TXZ001[3])
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    zone = feature("TXZ001", (west, south, east, north))
    path = write_geojson(tmp_path / "mercator.geojson", [zone], crs=crs)
    summary = import_geocodes("UGC", path, tmp_path, code_field="code")
    assert summary["reprojected"] is True
    assert summary["bbox"] == pytest.approx(list(TXZ001))


def test_shapefile_zip_and_geopackage_are_read(tmp_path: Path, ugc_file: Path) -> None:
    import geopandas

    frame = geopandas.read_file(ugc_file)
    frame["code"] = ["048111", "048205"]  # SAME codes kept as text keep their leading zero
    shp = tmp_path / "shp"
    shp.mkdir()
    pyogrio.write_dataframe(frame, shp / "same.shp")
    with zipfile.ZipFile(tmp_path / "same.zip", "w") as packed:
        for part in shp.iterdir():
            packed.write(part, part.name)
    summary = import_geocodes("SAME", tmp_path / "same.zip", tmp_path, code_field="code", name_field="name")
    assert (summary["codes"], summary["notes"]) == (2, [])
    pyogrio.write_dataframe(frame.assign(code=[48111, 48205]), tmp_path / "fips.gpkg", layer="counties")
    summary = import_geocodes("FIPS6", tmp_path / "fips.gpkg", tmp_path, code_field="code")
    assert summary["layer"] == "counties"
    assert "leading zeros" in summary["notes"][0]
    gazetteer = load_gazetteer(tmp_path)
    assert gazetteer.resolve("SAME", "048111").equals(shapely.box(*TXZ001))
    assert gazetteer.resolve("FIPS6", "48205").equals(shapely.box(*TXZ002))


def test_a_new_import_replaces_the_table_of_its_scheme(tmp_path: Path, ugc_file: Path) -> None:
    import_geocodes("UGC", ugc_file, tmp_path, code_field="code")
    smaller = write_geojson(tmp_path / "one.geojson", [feature("TXZ002", TXZ002)])
    import_geocodes("ugc", smaller, tmp_path, code_field="code")
    assert [(t["scheme"], t["codes"]) for t in list_geocode_tables(tmp_path)] == [("ugc", 1)]
    assert sorted(p.name for p in (tmp_path / "geocodes").iterdir()) == ["UGC.parquet"]
    gazetteer = load_gazetteer(tmp_path)
    assert gazetteer.resolve("UGC", "TXZ001") is None
    assert gazetteer.resolve("UGC", "TXZ002") is not None


def test_iso_3166_2_codes_of_another_form_are_dropped_as_bad_code(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "states.geojson", [feature("AU-NSW", AU_NSW), feature("NSW", AU_NSW)])
    summary = import_geocodes("ISO 3166-2", path, tmp_path, code_field="code")
    assert (summary["codes"], summary["skipped"]["bad_code"]) == (1, 1)
    assert "never looked up" in summary["notes"][0]
    assert load_gazetteer(tmp_path).resolve("ISO 3166-2", "AU-NSW") is not None
