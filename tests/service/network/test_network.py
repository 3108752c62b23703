"""Network status, impacts kept current, and the connectivity layer over HTTP, on SQLite and
PostgreSQL: reports change the impact of the alerts they touch, before/after by `as_of`, an
administration reports only at home, imports are picked up without a restart."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from service.layers.files import import_layer
from tests.conftest import SHARED, running_service

HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
# Inside the conftest NAIROBI square (lat -1.40..-1.15, lon 36.70..36.95), MCC 639 (Kenya).
INSIDE = [
    ("LTE", 1, 36.75, -1.30),
    ("LTE", 2, 36.76, -1.29),
    ("LTE", 3, 36.80, -1.25),
    ("LTE", 4, 36.85, -1.20),
    ("LTE", 5, 36.90, -1.35),
    ("LTE", 6, 36.92, -1.17),
    ("GSM", 10, 36.78, -1.28),
    ("GSM", 11, 36.88, -1.22),
    ("UMTS", 20, 36.82, -1.32),
]
OUTSIDE = [("LTE", 99, 37.50, -1.00), ("GSM", 500, 32.58, 0.31)]  # Kenya elsewhere; Kampala
KAMPALA_SITE = {"radio": "GSM", "mcc": 639, "net": 2, "area": 100, "cell": 500}
OOKLA = SHARED / "data/telecom/ookla"
OPENCELLID = SHARED / "data/telecom/opencellid/OCID-diff-cell-export-2022-09-10-T000000.csv"
GUAM_CAP = "13.1,144.5 13.1,145.1 13.8,145.1 13.8,144.5 13.1,144.5"
MAWAR = datetime(2023, 5, 24, 12, tzinfo=UTC)  # Typhoon Mawar passes Guam


def cells_csv(rows: list[tuple[str, int, float, float]]) -> bytes:
    lines = [HEADER] + [f"{r},639,2,100,{c},0,{lon},{lat},1000,5,1,1,1690000000,0" for r, c, lon, lat in rows]
    return ("\n".join(lines) + "\n").encode()


def site(radio: str, cell: int) -> dict[str, Any]:
    return {"radio": radio, "mcc": 639, "net": 2, "area": 100, "cell": cell}


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


def iso(when: datetime) -> str:
    return when.isoformat()


@pytest.fixture
def cells_file(tmp_path: Path) -> Path:
    path = tmp_path / "cells.csv"
    path.write_bytes(cells_csv(INSIDE + OUTSIDE))
    return path


async def import_and_reload(service: Any, token: str, kind: str, path: Path, **kw: Any) -> dict[str, Any]:
    """Import a layer file into the running service's data dir, then POST /layers/reload."""
    await asyncio.to_thread(import_layer, kind, path, service.runtime.settings.data_dir, **kw)
    reply = await service.client.post("/api/v1/layers/reload", headers=auth(token))
    assert reply.status_code == 200, reply.text
    return reply.json()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def report(service: Any, token: str, body: Any) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await service.client.post(
        "/api/v1/network-status", content=content, headers={**auth(token), "Content-Type": "application/json"}
    )


async def impact(service: Any, alert_id: int, **params: str) -> dict[str, Any]:
    reply = await service.client.get(f"/api/v1/alerts/{alert_id}/impact", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


# --- status reports change impacts --------------------------------------------------------------


async def test_sites_reported_down_show_in_the_alert_impact_before_and_after(
    service, cap_message, cells_file
) -> None:
    operator = await service.token("operator")
    reloaded = await import_and_reload(service, operator, "opencellid", cells_file)
    assert reloaded["reloaded"] is True
    assert [t["table"] for t in reloaded["layers"]] == ["cells"]
    posted = await service.post(cap_message("NS-1"), operator)
    assert posted.status_code == 201, posted.text
    alert = posted.json()
    sites = alert["impact"]["sites"]
    assert sites["total"] == len(INSIDE)
    assert sites["by_radio"] == {"GSM": 2, "UMTS": 1, "LTE": 6, "NR": 0, "CDMA": 0}
    assert (sites["down"], sites["degraded"]) == (0, 0)

    t1 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    down = [site("LTE", 1), site("LTE", 2), site("GSM", 10)]
    reply = await report(
        service, operator, {"state": "down", "time": iso(t1), "sites": down, "note": "mast fire"}
    )
    assert reply.status_code == 201, reply.text
    stored = reply.json()
    assert stored["alerts_updated"] == [alert["id"]]
    assert stored["located_sites"] == 3
    assert stored["properties"]["countries"] == ["KEN"]
    assert stored["geometry"]["type"] == "MultiPoint"

    detail = (await service.client.get(f"/api/v1/alerts/{alert['id']}")).json()
    assert detail["impact"]["sites"]["down"] == 3
    assert detail["impact"]["sites"]["total"] == len(INSIDE)
    assert [s["action"] for s in detail["history"]] == ["received", "impact"]
    now = await impact(service, alert["id"])
    assert now["recomputed"] is False and now["impact"]["sites"]["down"] == 3
    assert datetime.fromisoformat(now["as_of"]) >= t1
    before = await impact(service, alert["id"], as_of=iso(t1 - timedelta(minutes=1)))
    after = await impact(service, alert["id"], as_of=iso(t1 + timedelta(minutes=1)))
    assert before["recomputed"] is True
    assert (before["impact"]["sites"]["down"], after["impact"]["sites"]["down"]) == (0, 3)
    assert before["impact"]["countries"] == ["KEN"]

    # A later report of one of them up: the latest report about a site wins.
    t2 = t1 + timedelta(hours=1)
    reply = await report(service, operator, {"state": "up", "time": iso(t2), "sites": [site("LTE", 1)]})
    assert reply.status_code == 201
    assert (await impact(service, alert["id"]))["impact"]["sites"]["down"] == 2
    between = await impact(service, alert["id"], as_of=iso(t2 - timedelta(minutes=1)))
    assert between["impact"]["sites"]["down"] == 3

    # A report elsewhere touches no alert: nothing recomputed, no event for it.
    elsewhere = await report(service, operator, {"state": "down", "sites": [site("LTE", 99)]})
    assert elsewhere.json()["alerts_updated"] == []
    detail = (await service.client.get(f"/api/v1/alerts/{alert['id']}")).json()
    assert [s["action"] for s in detail["history"]] == ["received", "impact", "impact"]


async def test_a_new_alert_is_assessed_against_the_status_already_reported(
    service, cap_message, cells_file
) -> None:
    operator = await service.token("operator")
    await import_and_reload(service, operator, "opencellid", cells_file)
    reply = await report(
        service, operator, {"state": "degraded", "sites": [site("UMTS", 20), site("GSM", 11)]}
    )
    assert reply.json()["alerts_updated"] == []
    alert = (await service.post(cap_message("NS-LATE"), operator)).json()
    assert (alert["impact"]["sites"]["degraded"], alert["impact"]["sites"]["down"]) == (2, 0)


async def test_an_area_report_marks_the_sites_inside_it_degraded(service, cap_message, cells_file) -> None:
    operator = await service.token("operator")
    await import_and_reload(service, operator, "opencellid", cells_file)
    alert = (await service.post(cap_message("NS-2"), operator)).json()
    # The west half of the alert, as GeoJSON (lon, lat), and independently its sites.
    ring = [[36.70, -1.40], [36.81, -1.40], [36.81, -1.15], [36.70, -1.15], [36.70, -1.40]]
    polygon = shapely.Polygon(ring)
    expected = sum(polygon.contains(shapely.Point(lon, lat)) for _, _, lon, lat in INSIDE)
    assert 0 < expected < len(INSIDE)
    area = {"type": "Polygon", "coordinates": [ring]}
    reply = await report(service, operator, {"state": "degraded", "area": area})
    assert reply.status_code == 201, reply.text
    assert reply.json()["alerts_updated"] == [alert["id"]]
    sites = (await impact(service, alert["id"]))["impact"]["sites"]
    assert (sites["degraded"], sites["down"]) == (expected, 0)

    # A circle (geodesic, as a CAP <circle>) of 3 km round LTE 4 holds it and GSM 11 only.
    circle = {"circle": {"lat": -1.21, "lon": 36.865, "radius_km": 3}}
    reply = await report(service, operator, {"state": "down", "area": circle})
    assert reply.status_code == 201, reply.text
    assert reply.json()["geometry"]["type"] == "Polygon"
    sites = (await impact(service, alert["id"]))["impact"]["sites"]
    assert sites["down"] == 2


async def test_administration_reports_only_inside_its_own_country(service, cap_message, cells_file) -> None:
    operator = await service.token("operator")
    await import_and_reload(service, operator, "opencellid", cells_file)
    kenya = await service.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
    uganda_area = {"circle": {"lat": 0.31, "lon": 32.58, "radius_km": 10}}
    refused = await report(service, kenya, {"state": "down", "area": uganda_area})
    assert refused.status_code == 403
    assert [(e["rule"], e["path"]) for e in refused.json()["errors"]] == [
        ("network.country.outside", "/area")
    ]
    refused = await report(service, kenya, {"state": "down", "sites": [site("LTE", 1), KAMPALA_SITE]})
    assert refused.status_code == 403
    assert [(e["rule"], e["path"]) for e in refused.json()["errors"]] == [
        ("network.country.outside", "/sites/1")
    ]
    unknown = await report(service, kenya, {"state": "down", "sites": [site("NR", 12345)]})
    assert unknown.status_code == 403
    assert unknown.json()["errors"][0]["rule"] == "network.site.unlocated"
    home = await report(
        service, kenya, {"state": "down", "area": {"circle": {"lat": -1.29, "lon": 36.82, "radius_km": 5}}}
    )
    assert home.status_code == 201, home.text
    # A territory goes with the Member State that administers it: Guam with the USA.
    usa = await service.token("administration", country="USA")
    guam = {"circle": {"lat": 13.45, "lon": 144.78, "radius_km": 5}}
    assert (await report(service, usa, {"state": "degraded", "area": guam})).status_code == 201
    assert (await report(service, kenya, {"state": "degraded", "area": guam})).status_code == 403
    # The operator reports anywhere; others not at all; no token is 401.
    assert (await report(service, operator, {"state": "down", "area": uganda_area})).status_code == 201
    responder = await service.token("responder")
    assert (await report(service, responder, {"state": "down", "area": uganda_area})).status_code == 403
    anonymous = await service.client.post(
        "/api/v1/network-status", json={"state": "down", "area": uganda_area}
    )
    assert anonymous.status_code == 401
    # Each accepted report is an event and an audit link.
    rows = await service.runtime.db.read(
        lambda conn: conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM events WHERE type = 'network.status'),"
            " (SELECT count(*) FROM audit_log WHERE action = 'network.status')"
        ).one()
    )
    assert tuple(rows) == (3, 3)


def _ring(n: int) -> list[list[float]]:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = [[36.8 + 0.1 * float(np.cos(a)), -1.3 + 0.1 * float(np.sin(a))] for a in angles]
    return [*ring, ring[0]]


SQUARE = [[36.7, -1.4], [36.9, -1.4], [36.9, -1.2], [36.7, -1.2], [36.7, -1.4]]
BAD_REPORTS: list[tuple[str, Any, str, str]] = [
    ("state", {"state": "broken", "sites": [site("LTE", 1)]}, "network.state.invalid", "/state"),
    ("no state", {"sites": [site("LTE", 1)]}, "network.state.invalid", "/state"),
    ("empty", {"state": "down"}, "network.report.empty", "/"),
    ("no sites", {"state": "down", "sites": []}, "network.report.empty", "/"),
    ("not json", b"{state: down", "network.body.json", "/"),
    ("not an object", [1, 2], "network.body.object", "/"),
    (
        "unknown field",
        {"state": "down", "sites": [site("LTE", 1)], "stat": 1},
        "network.body.unknown-field",
        "/stat",
    ),
    (
        "time without offset",
        {"state": "down", "time": "2026-01-01T00:00:00", "sites": [site("LTE", 1)]},
        "network.time.no-offset",
        "/time",
    ),
    (
        "time in the future",
        {"state": "down", "time": "2999-01-01T00:00:00+00:00", "sites": [site("LTE", 1)]},
        "network.time.future",
        "/time",
    ),
    (
        "mcc as text",
        {"state": "down", "sites": [{**site("LTE", 1), "mcc": "639"}]},
        "network.site.field",
        "/sites/0/mcc",
    ),
    (
        "radio",
        {"state": "down", "sites": [site("LTE", 1), {**site("LTE", 2), "radio": "5G"}]},
        "network.site.radio",
        "/sites/1/radio",
    ),
    (
        "lat,lon order",
        {
            "state": "down",
            "area": {
                "type": "Polygon",
                "coordinates": [[[13.1, 144.5], [13.1, 145.1], [13.8, 145.1], [13.8, 144.5], [13.1, 144.5]]],
            },
        },
        "network.area.out-of-range",
        "/area/coordinates/0/0",
    ),
    (
        "longitude out of range",
        {
            "state": "down",
            "area": {
                "type": "MultiPolygon",
                "coordinates": [[SQUARE], [[[190, 0], [191, 0], [191, 1], [190, 0]]]],
            },
        },
        "network.area.out-of-range",
        "/area/coordinates/1/0/0",
    ),
    (
        "too many vertices",
        {"state": "down", "area": {"type": "Polygon", "coordinates": [_ring(20_001)]}},
        "network.area.too-many-vertices",
        "/area/coordinates",
    ),
    (
        "unclosed",
        {"state": "down", "area": {"type": "Polygon", "coordinates": [[*SQUARE[:-1], [36.7, -1.3]]]}},
        "network.area.unclosed",
        "/area/coordinates/0",
    ),
    (
        "bow tie",
        {
            "state": "down",
            "area": {
                "type": "Polygon",
                "coordinates": [[[36.7, -1.4], [36.9, -1.2], [36.9, -1.4], [36.7, -1.2], [36.7, -1.4]]],
            },
        },
        "network.area.invalid",
        "/area/coordinates",
    ),
    (
        "point",
        {"state": "down", "area": {"type": "Point", "coordinates": [36.8, -1.3]}},
        "network.area.type",
        "/area",
    ),
    (
        "circle radius",
        {"state": "down", "area": {"circle": {"lat": -1.3, "lon": 36.8, "radius_km": -2}}},
        "network.circle.radius",
        "/area/circle/radius_km",
    ),
    (
        "circle centre",
        {"state": "down", "area": {"circle": {"lat": 95, "lon": 36.8, "radius_km": 2}}},
        "geo.circle.out-of-range",
        "/area/circle",
    ),
]


async def test_bad_reports_are_refused_with_rule_and_place(service) -> None:
    operator = await service.token("operator")
    for name, body, rule, path in BAD_REPORTS:
        reply = await report(service, operator, body)
        assert reply.status_code == 422, (name, reply.status_code, reply.text)
        errors = reply.json()["errors"]
        assert {"rule": rule, "path": path}.items() <= errors[0].items(), (name, errors)
    swapped = await report(service, operator, next(b for n, b, _, _ in BAD_REPORTS if n == "lat,lon order"))
    assert "[longitude, latitude]" in swapped.json()["errors"][0]["message"]
    huge = await report(service, operator, b" " * (3 * 1024 * 1024))
    assert huge.status_code == 413


# --- layers by bounding box ---------------------------------------------------------------------


async def test_layer_bbox_returns_the_cells_inside_with_their_status(service, cells_file) -> None:
    operator = await service.token("operator")
    await import_and_reload(service, operator, "opencellid", cells_file)
    await report(service, operator, {"state": "down", "sites": [site("LTE", 3)]})
    bbox = "36.70,-1.40,36.95,-1.15"
    reply = await service.client.get("/api/v1/layers/opencellid", params={"bbox": bbox})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/geo+json")
    collection = reply.json()
    assert collection["type"] == "FeatureCollection" and collection["total"] == len(INSIDE)
    got = {(f["properties"]["radio"], f["properties"]["cell"]): f for f in collection["features"]}
    assert set(got) == {(r, c) for r, c, _, _ in INSIDE}
    assert got[("LTE", 3)]["geometry"] == {"type": "Point", "coordinates": [36.80, -1.25]}
    assert {k: f["properties"]["status"] for k, f in got.items() if f["properties"]["status"] != "up"} == {
        ("LTE", 3): "down"
    }
    before = await service.client.get(
        "/api/v1/layers/opencellid",
        params={"bbox": bbox, "as_of": iso(datetime.now(UTC) - timedelta(hours=1))},
    )
    assert {f["properties"]["status"] for f in before.json()["features"]} == {"up"}

    too_many = await service.client.get("/api/v1/layers/opencellid", params={"bbox": bbox, "limit": 5})
    assert too_many.status_code == 422
    error = too_many.json()["errors"][0]
    assert error["rule"] == "layer.bbox.too-many" and "zoom in" in error["message"]
    grid = await service.client.get(
        "/api/v1/layers/opencellid", params={"bbox": "30,-5,40,5", "limit": 5, "grid": 1}
    )
    assert grid.status_code == 200, grid.text
    cells = grid.json()["features"]
    assert sum(f["properties"]["count"] for f in cells) == len(INSIDE) + len(OUTSIDE)
    nairobi = next(f for f in cells if f["properties"]["count"] == len(INSIDE))
    assert nairobi["geometry"]["coordinates"][0][0] == [36.0, -2.0]
    assert nairobi["properties"]["down"] == 1 and nairobi["properties"]["by_radio"]["LTE"] == 6

    for params, rule in (
        ({"bbox": "1,2,3"}, "query.bbox.format"),
        ({"bbox": "-1.4,36.7,-1.15,36.95,"}, "query.bbox.format"),
        ({"bbox": "0,95,1,96"}, "query.bbox.range"),
        ({"bbox": "0,5,1,4"}, "query.bbox.range"),
        ({"bbox": "0,0,10,10", "grid": "0.01"}, "layer.grid.too-fine"),
    ):
        bad = await service.client.get("/api/v1/layers/opencellid", params=params)
        assert bad.status_code == 422 and bad.json()["errors"][0]["rule"] == rule, (params, bad.text)
    unknown = await service.client.get("/api/v1/layers/roads", params={"bbox": bbox})
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["rule"] == "layer.kind.unknown"
    absent = await service.client.get("/api/v1/layers/population", params={"bbox": bbox})
    assert absent.status_code == 404 and absent.json()["errors"][0]["rule"] == "layer.not-imported"
    listed = (await service.client.get("/api/v1/layers")).json()
    assert listed["loaded"]["opencellid"] == len(INSIDE) + len(OUTSIDE)
    assert listed["loaded"]["population"] is None
    assert listed["kinds"] == ["opencellid", "ookla", "cables", "population"]
    assert "CC BY-SA 4.0" in listed["sources"]["opencellid"]["licence"]
    # One name in the command line and the API; the API's older name answers the same layer.
    older = await service.client.get("/api/v1/layers/cells", params={"bbox": bbox})
    assert older.status_code == 200 and older.json()["total"] == collection["total"]
    assert older.json()["kind"] == "opencellid"
    assert [t["rows"] for t in listed["layers"]] == [len(INSIDE) + len(OUTSIDE)]

    # Reports by bbox and time, with the cells there counted by state.
    status = (await service.client.get("/api/v1/network-status", params={"bbox": bbox})).json()
    assert [f["properties"]["sites"] for f in status["features"]] == [[site("LTE", 3)]]
    assert status["summary"] == {"total": len(INSIDE), "up": len(INSIDE) - 1, "degraded": 0, "down": 1}
    earlier = iso(datetime.now(UTC) - timedelta(hours=1))
    status = (
        await service.client.get("/api/v1/network-status", params={"bbox": bbox, "as_of": earlier})
    ).json()
    assert status["features"] == [] and status["summary"]["down"] == 0
    away = (await service.client.get("/api/v1/network-status", params={"bbox": "0,0,1,1"})).json()
    assert away["features"] == []


# --- picking up imports -------------------------------------------------------------------------


@pytest.fixture
async def watched_service(database_url: str, tmp_path: Path, monkeypatch) -> AsyncIterator[Any]:
    """The service with a fast layer watcher, and the CLI pointed at the same store."""
    monkeypatch.setenv("TAMPERE_LAYER_CHECK_SECONDS", "0.1")
    monkeypatch.setenv("TAMPERE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TAMPERE_DATABASE_URL", database_url)
    async with running_service(database_url, tmp_path / "var") as running:
        yield running


async def test_a_running_service_picks_up_tampere_layer_import(
    watched_service, cap_message, cells_file, capsys
) -> None:
    from service.cli import main

    service = watched_service
    operator = await service.token("operator")
    alert = (await service.post(cap_message("NS-W"), operator)).json()
    # Before any layer: the sites are not known (null), and the impact says which layers are missing.
    assert alert["impact"]["sites"]["total"] is None and alert["impact"]["layers"] == []
    assert alert["impact"]["missing_layers"] == ["opencellid", "ookla", "cables", "population"]
    status = await asyncio.to_thread(main, ["layer", "import", "opencellid", str(cells_file)])
    assert status == 0
    assert "picks it up" in capsys.readouterr().err
    for _ in range(100):  # bounded: 10 s at most
        detail = (await service.client.get(f"/api/v1/alerts/{alert['id']}")).json()
        if detail["impact"]["sites"]["total"]:
            break
        await asyncio.sleep(0.1)
    assert detail["impact"]["sites"]["total"] == len(INSIDE)
    assert detail["impact"]["layers"] == ["opencellid"]
    assert detail["impact"]["missing_layers"] == ["ookla", "cables", "population"]
    assert detail["history"][-1]["action"] == "impact"
    events = await service.runtime.db.read(
        lambda conn: (
            conn.exec_driver_sql("SELECT payload FROM events WHERE type = 'alert.impact'").scalars().all()
        )
    )
    payloads = [p if isinstance(p, dict) else json.loads(p) for p in events]
    assert [p["reason"] for p in payloads] == ["layer.reload"]
    assert payloads[0]["sites"]["total"] == len(INSIDE)


# --- real samples ---------------------------------------------------------------------------------


async def test_real_opencellid_sample_counts_and_outage(service, cap_message) -> None:
    source = need(OPENCELLID)
    operator = await service.token("operator")
    await import_and_reload(service, operator, "opencellid", source)
    # Berlin: the densest place of the 2022-09-10 diff export.
    cap_polygon = "52.40,13.20 52.40,13.60 52.65,13.60 52.65,13.20 52.40,13.20"
    area = shapely.box(13.20, 52.40, 13.60, 52.65)
    outage = shapely.box(13.35, 52.48, 13.45, 52.55)
    with source.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["radio"] in ("GSM", "UMTS", "LTE", "NR", "CDMA")]
    lon = np.array([float(r["lon"]) for r in rows])
    lat = np.array([float(r["lat"]) for r in rows])
    in_area = shapely.contains_xy(area, lon, lat)
    in_both = in_area & shapely.contains_xy(outage, lon, lat)
    assert in_area.sum() > 100 and 0 < in_both.sum() < in_area.sum()
    radios = [r["radio"] for r, hit in zip(rows, in_area, strict=True) if hit]

    alert = (await service.post(cap_message("DE-1", polygon=cap_polygon), operator)).json()
    sites = alert["impact"]["sites"]
    assert sites["total"] == int(in_area.sum())
    assert sites["by_radio"]["GSM"] == radios.count("GSM") and sites["by_radio"]["LTE"] == radios.count("LTE")
    area_json = json.loads(shapely.to_geojson(outage))
    reply = await report(service, operator, {"state": "down", "area": area_json})
    assert reply.status_code == 201, reply.text
    assert reply.json()["properties"]["countries"] == ["DEU"]
    assert (await impact(service, alert["id"]))["impact"]["sites"]["down"] == int(in_both.sum())
    listed = (await service.client.get("/api/v1/layers")).json()
    assert listed["layers"][0]["rows"] == len(rows)


async def test_guam_ookla_quarters_show_typhoon_mawar_through_the_api(service, cap_message) -> None:
    operator = await service.token("operator")
    for quarter in ("2023Q1", "2023Q2"):
        path = need(OOKLA / f"guam_mobile_tiles_{quarter}.geojson")
        await asyncio.to_thread(import_layer, "ookla", path, service.runtime.settings.data_dir)
    reloaded = await service.client.post("/api/v1/layers/reload", headers=auth(operator))
    assert sorted(t["period"] for t in reloaded.json()["layers"]) == ["2023Q1", "2023Q2"]
    alert = (await service.post(cap_message("GU-1", sent=MAWAR, polygon=GUAM_CAP), operator)).json()
    performance = (await impact(service, alert["id"]))["impact"]["performance"]
    assert performance["baseline"]["period"] == "2023Q1" and performance["latest"]["period"] == "2023Q2"
    assert performance["baseline"]["download_mbps"] == pytest.approx(35.7, abs=0.1)
    assert performance["latest"]["download_mbps"] == pytest.approx(22.8, abs=0.1)
    assert alert["impact"]["countries"] == ["GUM"]

    # The map's tiles for the same box carry the same figures (the alert area is that box).
    for quarter, published in (("2023Q1", 35.7), ("2023Q2", 22.8)):
        reply = await service.client.get(
            "/api/v1/layers/ookla",
            params={"bbox": "144.5,13.1,145.1,13.8", "period": quarter, "limit": 10000},
        )
        assert reply.status_code == 200, reply.text
        tiles = reply.json()["features"]
        assert {t["properties"]["period"] for t in tiles} == {quarter}
        tests = sum(t["properties"]["tests"] for t in tiles)
        mean = sum(t["properties"]["download_mbps"] * t["properties"]["tests"] for t in tiles) / tests
        assert mean == pytest.approx(published, abs=0.1)
        # Each tile is found again from its centre: the quadkeys are those of the file.
        source = json.loads((OOKLA / f"guam_mobile_tiles_{quarter}.geojson").read_text())
        assert {t["properties"]["quadkey"] for t in tiles} <= {
            f["properties"]["quadkey"] for f in source["features"]
        }
        first = tiles[0]["geometry"]["coordinates"][0]
        assert first[0] == first[-1] and len(first) == 5
    unknown = await service.client.get(
        "/api/v1/layers/ookla", params={"bbox": "144.5,13.1,145.1,13.8", "period": "2020Q1"}
    )
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["rule"] == "layer.period.unknown"


async def test_impact_of_an_alert_is_scoped_like_the_alert(
    service, cap_message: Callable[..., bytes]
) -> None:
    kenya = await service.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
    private = (await service.post(cap_message("NS-P", scope="Private", addresses=["UGA"]), kenya)).json()
    public = (await service.post(cap_message("NS-Q"), kenya)).json()
    assert (await service.client.get(f"/api/v1/alerts/{private['id']}/impact")).status_code == 404
    own = await service.client.get(f"/api/v1/alerts/{private['id']}/impact", headers=auth(kenya))
    assert own.status_code == 200 and own.json()["impact"]["countries"] == ["KEN"]
    assert (await service.client.get(f"/api/v1/alerts/{public['id']}/impact")).status_code == 200
    bad = await service.client.get(
        f"/api/v1/alerts/{public['id']}/impact", params={"as_of": "2026-01-01T00:00:00"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["rule"] == "impact.as_of.no-offset"
    assert (await service.client.get("/api/v1/alerts/999999/impact")).status_code == 404


async def test_population_points_and_grid_and_landing_points(service, tmp_path: Path) -> None:
    operator = await service.token("operator")
    people = [(36.75, -1.30, 1200.0), (36.85, -1.20, 800.5), (36.95, -1.35, 50.0), (39.66, -4.05, 3000.0)]
    table = tmp_path / "population.csv"
    table.write_text("lon,lat,population\n" + "".join(f"{x},{y},{p}\n" for x, y, p in people))
    await import_and_reload(service, operator, "population", table)
    points = (await service.client.get("/api/v1/layers/population", params={"bbox": "36,-2,37,-1"})).json()
    assert sorted(f["properties"]["population"] for f in points["features"]) == [50.0, 800.5, 1200.0]
    assert all(f["geometry"]["type"] == "Point" for f in points["features"])
    grid = (
        await service.client.get("/api/v1/layers/population", params={"bbox": "33,-5,41,0", "grid": 4})
    ).json()
    assert sorted(f["properties"]["population"] for f in grid["features"]) == [round(1200 + 800.5 + 50), 3000]

    cables = need(SHARED / "data/cables/telegeography_cc_2022")
    await import_and_reload(service, operator, "cables", cables)
    guam = await service.client.get("/api/v1/layers/cables", params={"bbox": "144.5,13.1,145.1,13.8"})
    assert guam.status_code == 200, guam.text
    names = sorted(f["properties"]["name"] for f in guam.json()["features"])
    assert names == ["Agat, Guam", "Piti, Guam", "Tanguisson Point, Guam", "Tumon Bay, Guam"]
    piti = next(f for f in guam.json()["features"] if f["properties"]["name"] == "Piti, Guam")
    assert "SEA-US" in piti["properties"]["cables"]
