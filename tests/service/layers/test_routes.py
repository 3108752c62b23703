"""GET /api/v1/layers/{kind} as the map asks it: by zoom (points close in, a world-aligned grid
further out), Ookla quarters before and after, revalidated and compressed answers, and bad
parameters refused in the one error shape; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from service.layers.zoom import CELL_PIXELS
from tests.conftest import SHARED

OPENCELLID = SHARED / "data/telecom/opencellid/OCID-diff-cell-export-2022-09-10-T000000.csv"
OOKLA = SHARED / "data/telecom/ookla"
BERLIN = "13.2,52.4,13.6,52.65"
GUAM = "144.5,13.1,145.1,13.8"
PROBLEM = "application/problem+json"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


async def imported(service: Any, *files: tuple[str, Path]) -> None:
    """Import files with the command's code into the service's data dir, then reload."""
    from service.layers.files import import_layer

    for kind, path in files:
        await asyncio.to_thread(import_layer, kind, need(path), service.runtime.settings.data_dir)
    operator = await service.token("operator")
    reply = await service.client.post(
        "/api/v1/layers/reload", headers={"Authorization": f"Bearer {operator}"}
    )
    assert reply.status_code == 200, reply.text


def inside(service: Any, box: list[float]) -> int:
    """Cells strictly inside a box, counted straight from the loaded columns."""
    cells = service.runtime.connectivity.cells
    return int(
        shapely.contains_xy(shapely.box(*box), np.asarray(cells["lon"]), np.asarray(cells["lat"])).sum()
    )


async def test_far_out_a_grid_aligned_world_wide_close_in_the_sites_themselves(service) -> None:
    await imported(service, ("opencellid", OPENCELLID))
    far = await service.client.get("/api/v1/layers/opencellid", params={"bbox": BERLIN, "zoom": 5})
    assert far.status_code == 200, far.text
    body = far.json()
    size = 360 * CELL_PIXELS / 512 / 2**5
    assert body["aggregated"] is True and body["grid"] == size and body["zoom"] == 5
    # The box grew to whole cells of a grid anchored at -180/-90: every view shares the cells.
    for value, origin in zip(body["bbox"], (-180, -90, -180, -90), strict=True):
        assert ((value - origin) / size) == pytest.approx(round((value - origin) / size))
    assert body["bbox"][0] <= 13.2 and body["bbox"][2] >= 13.6
    assert (
        sum(f["properties"]["count"] for f in body["features"])
        == body["total"]
        == inside(service, body["bbox"])
    )
    assert all(f["properties"]["by_radio"] and "down" in f["properties"] for f in body["features"])
    # Another view inside the same cells gets the same answer, byte for byte (one ETag).
    nearby = await service.client.get(
        "/api/v1/layers/opencellid", params={"bbox": "13.25,52.45,13.55,52.6", "zoom": 5.7}
    )
    assert nearby.content == far.content and nearby.headers["etag"] == far.headers["etag"]

    close = await service.client.get(
        "/api/v1/layers/opencellid", params={"bbox": BERLIN, "zoom": 12, "limit": 5000}
    )
    points = close.json()
    assert points["aggregated"] is False and points["grid"] is None
    assert points["total"] == len(points["features"]) == inside(service, [13.2, 52.4, 13.6, 52.65]) > 100
    for feature in points["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert round(lon, 5) == lon and round(lat, 5) == lat and feature["properties"]["status"] == "up"

    # More points than the limit: the grid, never a 422 nor an unbounded answer.
    capped = await service.client.get(
        "/api/v1/layers/opencellid", params={"bbox": BERLIN, "zoom": 12, "limit": 10}
    )
    assert capped.status_code == 200 and capped.json()["aggregated"] is True
    # The whole world at the deepest zoom: the grid coarsens until it has at most 10,000 cells.
    world = await service.client.get(
        "/api/v1/layers/opencellid", params={"bbox": "-180,-90,180,90", "zoom": 22, "limit": 1}
    )
    assert world.status_code == 200, world.text
    answer = world.json()
    assert len(answer["features"]) <= 10_000 and answer["grid"] >= 360 * 180 / 10_000 / 180
    assert (
        sum(f["properties"]["count"] for f in answer["features"])
        == answer["total"]
        == inside(service, answer["bbox"])
    )


async def test_layer_answers_are_revalidated_and_gzipped(service) -> None:
    await imported(service, ("opencellid", OPENCELLID))
    params = {"bbox": BERLIN, "zoom": 12, "limit": 5000}
    first = await service.client.get(
        "/api/v1/layers/opencellid", params=params, headers={"Accept-Encoding": "gzip"}
    )
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "no-cache" and first.headers["etag"].startswith('W/"')
    assert json.loads(first.content)["total"] > 100  # httpx undid the gzip
    again = await service.client.get(
        "/api/v1/layers/opencellid", params=params, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    # A status report changes the answer: a new validator, the old one no longer matches.
    operator = await service.token("operator")
    area = {
        "type": "Polygon",
        "coordinates": [[[13.3, 52.45], [13.5, 52.45], [13.5, 52.6], [13.3, 52.6], [13.3, 52.45]]],
    }
    reported = await service.client.post(
        "/api/v1/network-status",
        json={"state": "down", "area": area},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert reported.status_code == 201, reported.text
    changed = await service.client.get(
        "/api/v1/layers/opencellid", params=params, headers={"If-None-Match": first.headers["etag"]}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    down = [f for f in changed.json()["features"] if f["properties"]["status"] == "down"]
    assert len(down) == inside(service, [13.3, 52.45, 13.5, 52.6]) > 0
    raw = await service.client.get(
        "/api/v1/layers/opencellid", params=params, headers={"Accept-Encoding": "gzip"}
    )
    assert len(gzip.compress(raw.content)) < len(raw.content) / 3


async def test_ookla_quarters_side_by_side_tile_by_tile_and_per_grid_cell(service) -> None:
    quarters = {q: need(OOKLA / f"guam_mobile_tiles_{q}.geojson") for q in ("2023Q1", "2023Q2")}
    await imported(service, *(("ookla", path) for path in quarters.values()))
    source = {
        q: {f["properties"]["quadkey"]: f["properties"] for f in json.loads(p.read_text())["features"]}
        for q, p in quarters.items()
    }
    reply = await service.client.get(
        "/api/v1/layers/ookla",
        params={"bbox": GUAM, "period": "2023Q2", "baseline": "2023Q1", "zoom": 14, "limit": 10_000},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["period"] == "2023Q2" and body["baseline"] == "2023Q1" and body["aggregated"] is False
    both = [f["properties"] for f in body["features"] if f["properties"]["quadkey"] in source["2023Q1"]]
    only_now = [
        f["properties"] for f in body["features"] if f["properties"]["quadkey"] not in source["2023Q1"]
    ]
    assert both and only_now
    for p in both:
        then = source["2023Q1"][p["quadkey"]]
        assert p["download_mbps_before"] == pytest.approx(then["avg_d_kbps"] / 1000, abs=1e-3)
        assert p["latency_ms_before"] == pytest.approx(then["avg_lat_ms"], abs=1e-3)
        assert p["tests_before"] == then["tests"]
        expected = (p["download_mbps"] / p["download_mbps_before"] - 1) if p["download_mbps_before"] else None
        assert p["download_change"] == (None if expected is None else pytest.approx(expected, abs=2e-3))
    assert all(p["download_mbps_before"] is None and p["download_change"] is None for p in only_now)

    # Per grid cell far out: the tests-weighted means of each quarter, as the alert's impact has them.
    grid = (
        await service.client.get(
            "/api/v1/layers/ookla",
            params={"bbox": GUAM, "period": "2023Q2", "baseline": "2023Q1", "zoom": 3},
        )
    ).json()
    assert grid["aggregated"] is True
    cells = [f["properties"] for f in grid["features"]]

    def mean(key: str, tests: str) -> float:
        used = [c for c in cells if c[key] is not None]
        return sum(c[key] * c[tests] for c in used) / sum(c[tests] for c in used)

    assert mean("download_mbps", "tests") == pytest.approx(22.8, abs=0.1)  # Typhoon Mawar's quarter
    assert mean("download_mbps_before", "tests_before") == pytest.approx(35.7, abs=0.1)
    assert all(c["download_change"] < 0 for c in cells if c["download_change"] is not None)


async def test_bad_layer_parameters_are_refused_in_the_one_error_shape(service) -> None:
    await imported(service, ("opencellid", OPENCELLID), ("ookla", OOKLA / "guam_mobile_tiles_2023Q1.geojson"))
    cases: list[tuple[str, dict[str, Any], int, str | None, str]] = [
        ("opencellid", {"bbox": BERLIN, "zoom": 5, "grid": 1}, 422, "layer.zoom.with-grid", "?zoom"),
        ("opencellid", {"bbox": BERLIN, "baseline": "2023Q1"}, 422, "layer.baseline.kind", "?baseline"),
        ("ookla", {"bbox": GUAM, "baseline": "2019Q4"}, 404, "layer.period.unknown", "?baseline"),
        ("opencellid", {"bbox": BERLIN, "zoom": -1}, 422, None, "zoom"),
        ("opencellid", {"bbox": BERLIN, "zoom": 23}, 422, None, "zoom"),
        ("opencellid", {"bbox": BERLIN, "zoom": "far"}, 422, None, "zoom"),
        ("opencellid", {"bbox": "13.2,52.4,13.6", "zoom": 5}, 422, "query.bbox.format", "?bbox"),
        ("opencellid", {"bbox": "13.2,95,13.6,96", "zoom": 5}, 422, "query.bbox.range", "?bbox"),
    ]
    for kind, params, status, rule, path in cases:
        reply = await service.client.get(f"/api/v1/layers/{kind}", params=params)
        assert reply.status_code == status, (params, reply.text)
        assert reply.headers["content-type"].startswith(PROBLEM)
        error = reply.json()["errors"][0]
        if rule is not None:
            assert error["rule"] == rule, (params, error)
        assert path in error["path"], (params, error)
