"""The connectivity layer: grid index exactness and the parsers of each kind."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo.areas import circle_geometry
from geo.layers import (
    RADIOS,
    CellSites,
    LayerFormatError,
    PointIndex,
    parse_landing_points,
    parse_ookla,
    parse_opencellid,
    parse_population_csv,
    period_from_name,
    population_from_h3,
)
from geo.layers.index import index_order
from geo.layers.ookla import quadkey_centres
from tests.conftest import SHARED

OPENCELLID = SHARED / "data/telecom/opencellid/OCID-diff-cell-export-2022-09-10-T000000.csv"
OOKLA = SHARED / "data/telecom/ookla"
CABLES = SHARED / "data/cables/telegeography_cc_2022"

HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"


def shared_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


def csv_rows(*rows: str, header: bool = True) -> bytes:
    return ("\n".join(([HEADER] if header else []) + list(rows)) + "\n").encode()


# --- the index against a brute-force contains_xy --------------------------------------------


def _ordered_index(lon: np.ndarray, lat: np.ndarray, **kwargs: int) -> PointIndex:
    order = index_order(lon, lat)
    return PointIndex(lon[order], lat[order], **kwargs)


def _random_areas(
    rng: np.random.Generator, n: int, lon: tuple[float, float], lat: tuple[float, float]
) -> list:
    areas = []
    for i in range(n):
        cx, cy = rng.uniform(*lon), rng.uniform(*lat)
        if i % 3 == 0:
            area = Point(cx, cy).buffer(rng.uniform(0.01, 2.0))
        else:
            k = int(rng.integers(3, 40))
            angle = np.sort(rng.uniform(0, 2 * np.pi, k))
            radius = rng.uniform(0.02, 3.0, k)
            area = shapely.make_valid(
                Polygon(np.c_[cx + radius * np.cos(angle), cy + radius * np.sin(angle)])
            )
        if i % 5 == 0:
            area = area.difference(Point(cx, cy).buffer(0.2))  # a hole
        if i % 7 == 0:
            # Edges exactly on latitude row boundaries, where a floor() decides a key.
            area = box(*(np.round(np.array(area.bounds) * 256) / 256))
        areas.append(area)
    return areas


@pytest.mark.parametrize("direct_limit", [0, 10**9])
def test_index_selects_exactly_the_points_contains_xy_selects(direct_limit: int) -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(-10, 10, 60_000)
    lat = rng.uniform(40, 60, 60_000)
    # Points on row boundaries and duplicates are where a sorted index goes wrong.
    lon[:2000] = np.round(lon[:2000] * 128) / 128
    lat[:2000] = np.round(lat[:2000] * 128) / 128
    lon[2000:2500], lat[2000:2500] = lon[2500:3000], lat[2500:3000]
    index = _ordered_index(lon, lat, direct_limit=direct_limit)
    areas = _random_areas(rng, 120, (-10, 10), (40, 60))
    batch = index.select_many(areas)
    assert len(batch) == len(areas)
    counts = batch.counts()
    for i, area in enumerate(areas):
        expected = np.flatnonzero(shapely.contains_xy(area, index.lon, index.lat))
        chosen = index.select(area)
        assert chosen.count() == len(expected)
        assert np.array_equal(chosen.indices(), expected)
        assert counts[i] == len(expected), f"area {i}"
        assert np.array_equal(batch[i].indices(), expected), f"area {i}"


def test_batched_selection_in_small_chunks_gives_the_same_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of at most a few rows or points (normally 2^17 rows, 2^23 points) change nothing."""
    import geo.layers.index as index_module

    rng = np.random.default_rng(13)
    lon, lat = rng.uniform(-10, 10, 40_000), rng.uniform(40, 60, 40_000)
    index = _ordered_index(lon, lat)
    areas = _random_areas(rng, 40, (-10, 10), (40, 60))
    whole = index.select_many(areas)
    for rows, points in ((1, 1 << 30), (1 << 17, 1), (7, 5000)):
        monkeypatch.setattr(index_module, "_CHUNK_ROWS", rows)
        monkeypatch.setattr(index_module, "_CHUNK_POINTS", points)
        chunked = index.select_many(areas)
        for i in range(len(areas)):
            assert np.array_equal(chunked[i].indices(), whole[i].indices()), (rows, points, i)


@pytest.mark.parametrize("few_edges", [0, 3, 10**6])
def test_batched_selection_agrees_with_geos_on_vertices_and_edges(
    few_edges: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Points exactly on a vertex or an edge (boundary: not inside, says GEOS) and points a
    rounding error away from one, with the crossing test in numpy for every group
    (10**6), for groups of at most three edges (the default) or never (0)."""
    import geo.layers.index as index_module

    monkeypatch.setattr(index_module, "FEW_EDGES", few_edges)
    rng = np.random.default_rng(11)
    areas = _random_areas(rng, 60, (-5, 5), (-5, 5))
    areas += [box(-1, -1, 1, 1), Polygon([(0, 0), (2, 1), (1, 3), (-1, 2), (0, 0)])]
    coords = shapely.get_coordinates(areas)
    edges_mid = (coords[:-1] + coords[1:]) / 2  # on an edge for the consecutive pairs of a ring
    near = coords + rng.choice([-1, 0, 1], coords.shape) * np.spacing(np.abs(coords) + 1.0)
    pts = np.concatenate([coords, edges_mid, near, rng.uniform(-8, 8, (50_000, 2))])
    index = _ordered_index(pts[:, 0], pts[:, 1])
    batch = index.select_many(areas)
    for i, area in enumerate(areas):
        expected = np.flatnonzero(shapely.contains_xy(area, index.lon, index.lat))
        assert np.array_equal(batch[i].indices(), expected), f"area {i}"


def test_index_handles_antimeridian_multipolygon_and_poles() -> None:
    rng = np.random.default_rng(3)
    lon = np.concatenate(
        [
            rng.uniform(170, 180, 20_000),
            rng.uniform(-180, -170, 20_000),
            rng.uniform(-180, 180, 20_000),
            [180.0, -180.0, 0.0],
        ]
    )
    lat = np.concatenate([rng.uniform(-30, -10, 40_000), rng.uniform(80, 90, 20_000), [-20.0, -20.0, 90.0]])
    index = _ordered_index(lon, lat, direct_limit=0)
    fiji = circle_geometry(-17.8, 178.5, 600)  # crosses 180°: split into two parts
    assert isinstance(fiji, MultiPolygon)
    pole = circle_geometry(89.0, 20.0, 300)  # covers the North Pole
    areas = [fiji, pole, box(175, -25, 180, -15), box(-180, 85, 180, 90)]
    batch = index.select_many(areas)
    for i, area in enumerate(areas):
        expected = np.flatnonzero(shapely.contains_xy(area, index.lon, index.lat))
        assert len(expected) > 100
        assert np.array_equal(index.select(area).indices(), expected)
        assert np.array_equal(batch[i].indices(), expected)


def test_empty_and_degenerate_areas_select_nothing() -> None:
    index = _ordered_index(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert index.select(Polygon()).count() == 0
    assert index.select(Point(0, 0)).count() == 0
    assert index.select(box(50, 50, 51, 51)).count() == 0
    # A self-intersecting bow-tie is made valid rather than trusted.
    bowtie = Polygon([(-1, -1), (2, 2), (2, -1), (-1, 2), (-1, -1)])
    assert index.select(bowtie).count() == int(
        shapely.contains_xy(shapely.make_valid(bowtie), index.lon, index.lat).sum()
    )
    nan = Polygon([(0, 0), (1, 0), (1, np.inf), (0, 0)])
    areas = [Polygon(), Point(0, 0), box(50, 50, 51, 51), nan, box(-2, -2, 2, 2), bowtie]
    counts = index.select_many(areas).counts().tolist()
    assert counts == [0, 0, 0, 0, 2, index.select(bowtie).count()]
    assert len(index.select_many([])) == 0
    # Keys cannot order points beyond ±250° of longitude: such an area tests every point.
    assert index.select_many([box(-300, -1, 300, 0.5)]).counts().tolist() == [1]


# --- the real OpenCelliD sample against geopandas -------------------------------------------


def _areas_around(lon: np.ndarray, lat: np.ndarray, rng: np.random.Generator, n: int) -> list:
    areas = []
    for i in rng.integers(0, len(lon), n):
        if rng.random() < 0.6:
            areas.append(circle_geometry(float(lat[i]), float(lon[i]), float(rng.uniform(5, 500))))
        else:
            k = int(rng.integers(4, 30))
            angle = np.sort(rng.uniform(0, 2 * np.pi, k))
            reach = rng.uniform(0.05, 4.0, k)
            ring = np.c_[lon[i] + reach * np.cos(angle), np.clip(lat[i] + reach * np.sin(angle), -89.9, 89.9)]
            ring[:, 0] = np.clip(ring[:, 0], -180, 180)
            areas.append(shapely.make_valid(Polygon(ring)))
    return areas


def test_site_counts_match_a_geopandas_join_on_the_real_opencellid_sample() -> None:
    real = parse_opencellid(shared_file(OPENCELLID).read_bytes())
    lon, lat, radio = real["lon"], real["lat"], real["radio"]
    rng = np.random.default_rng(2022)
    # The sample has few sites at 180° or the poles: add copies of real sites moved there
    # (Japan recentred on the antimeridian, Norway folded up to 84-90°N).
    japan = (lon > 128) & (lon < 146)
    norway = (lon > 4) & (lon < 31) & (lat > 57)
    moved_lon = np.concatenate([(lon[japan] - 138.0 + 360.0) % 360.0 - 180.0, lon[norway]])
    moved_lat = np.concatenate([lat[japan], 84.0 + (lat[norway] - 57.0) * 6.0 / 14.0])
    all_lon = np.concatenate([lon, moved_lon])
    all_lat = np.clip(np.concatenate([lat, moved_lat]), -90, 90)
    all_radio = np.concatenate([radio, radio[japan], radio[norway]])
    sites = CellSites({"lon": all_lon, "lat": all_lat, "radio": all_radio})

    areas = (
        _areas_around(lon, lat, rng, 150)
        + _areas_around(moved_lon[: japan.sum()], moved_lat[: japan.sum()], rng, 40)
        + _areas_around(moved_lon[japan.sum() :], moved_lat[japan.sum() :], rng, 30)
    )
    assert sum(isinstance(a, MultiPolygon) for a in areas) >= 10  # split at 180°

    points = gpd.GeoDataFrame({"radio": all_radio}, geometry=gpd.points_from_xy(all_lon, all_lat), crs=4326)
    zones = gpd.GeoDataFrame(geometry=areas, crs=4326)
    joined = gpd.sjoin(points, zones, predicate="within", how="inner")
    expected_total = joined.groupby("index_right").size()
    expected_radio = joined.groupby(["index_right", "radio"]).size()

    nonzero = 0
    batch = sites.index.select_many(areas)
    batch_totals = batch.counts()
    batch_radio = sites.count_codes_many(batch, "radio", len(RADIOS))
    for i, area in enumerate(areas):
        chosen = sites.index.select(area)
        assert chosen.count() == int(expected_total.get(i, 0)), f"area {i}"
        assert batch_totals[i] == chosen.count(), f"area {i}"
        by_radio = sites.by_radio(chosen)
        for code, name in enumerate(RADIOS):
            assert by_radio[name] == int(expected_radio.get((i, code), 0)), f"area {i} {name}"
            assert batch_radio[i, code] == by_radio[name], f"area {i} {name}"
        nonzero += chosen.count() > 0
    assert nonzero > 150


# --- OpenCelliD parsing ---------------------------------------------------------------------


def test_opencellid_header_and_types_follow_the_real_export() -> None:
    data = shared_file(OPENCELLID).read_bytes()
    assert data.splitlines()[0].decode() == HEADER
    sites = parse_opencellid(data)
    assert len(sites) == 45_745
    counts = np.bincount(sites["radio"], minlength=len(RADIOS))
    assert dict(zip(RADIOS, counts.tolist(), strict=True)) == {
        "GSM": 31_549,
        "UMTS": 1_182,
        "LTE": 12_996,
        "NR": 2,
        "CDMA": 16,
    }
    assert sites["cell"].dtype == np.int64  # NR cell ids (36 bits) do not fit int32


def test_opencellid_gzip_and_headerless_files_read_the_same() -> None:
    rows = (
        "LTE,262,1,100,123456,0,10.5,50.5,1000,10,1,1,1600000000,0",
        "GSM,208,10,7,99,,2.35,48.85,500,3,1,1,1600000001,-70",
    )
    plain = parse_opencellid(csv_rows(*rows))
    packed = parse_opencellid(gzip.compress(csv_rows(*rows, header=False)))
    for sites in (plain, packed):
        assert len(sites) == 2
        assert sorted(sites["mcc"].tolist()) == [208, 262]
    assert parse_opencellid(io.BytesIO(csv_rows(*rows)))["cell"].tolist() == plain["cell"].tolist()


def test_opencellid_drops_unusable_rows_and_counts_them() -> None:
    sites = parse_opencellid(
        csv_rows(
            "LTE,262,1,100,1,0,10.5,50.5,1000,10,1,1,1,0",
            "WIMAX,262,1,100,2,0,10.5,50.5,1000,10,1,1,1,0",
            "LTE,262,1,100,3,0,200.0,50.5,1000,10,1,1,1,0",
            "LTE,262,1,100,4,0,10.5,,1000,10,1,1,1,0",
        )
    )
    assert sites["cell"].tolist() == [1]
    assert sites.skipped == 3


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"id,lon,lat\n1,2,3\n", "opencellid.header"),
        (b"radio,mcc,net,area,cell,lon\nLTE,1,1,1,1,2\n", "opencellid.header"),
        (csv_rows("LTE,262,1,100,1,0,east,50.5,1000,10,1,1,1,0"), "opencellid.row"),
        (b"\x1f\x8b\x08\x00garbage", "opencellid.gzip"),
    ],
)
def test_opencellid_bad_files_name_the_rule(data: bytes, rule: str) -> None:
    with pytest.raises(LayerFormatError) as caught:
        parse_opencellid(data)
    assert caught.value.rule == rule


def test_a_diff_export_updates_cells_it_names_and_adds_new_ones() -> None:
    full = parse_opencellid(
        csv_rows(
            "LTE,262,1,100,1,0,10.0,50.0,1000,10,1,1,100,0",
            "LTE,262,1,100,2,0,11.0,51.0,1000,10,1,1,100,0",
        )
    )
    diff = parse_opencellid(
        csv_rows(
            "LTE,262,1,100,2,0,11.5,51.5,1000,10,1,1,200,0",  # moved
            "GSM,262,1,100,2,0,12.0,52.0,1000,10,1,1,200,0",  # same id, other radio: another cell
        )
    )
    merged = full.merged_with(diff)
    rows = sorted(zip(merged["radio"].tolist(), merged["cell"].tolist(), merged["lon"].tolist(), strict=True))
    assert rows == [(0, 2, 12.0), (2, 1, 10.0), (2, 2, 11.5)]
    # An older row never overwrites a newer one, whichever file comes last.
    assert sorted(diff.merged_with(full)["lon"].tolist()) == [10.0, 11.5, 12.0]


# --- Ookla, cables, population --------------------------------------------------------------


def test_quadkey_centres_fall_inside_the_real_ookla_tiles() -> None:
    doc = json.loads(shared_file(OOKLA / "guam_mobile_tiles_2023Q1.geojson").read_bytes())
    keys = np.array([f["properties"]["quadkey"] for f in doc["features"]], dtype=object)
    tiles = shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]])
    lon, lat = quadkey_centres(keys)
    assert shapely.contains_xy(tiles, lon, lat).all()
    assert quadkey_centres(np.array(["0", "3"], dtype=object))[0].tolist() == [-90.0, 90.0]


def test_ookla_parquet_and_geojson_give_the_same_tiles(tmp_path: Path) -> None:
    raw = shared_file(OOKLA / "guam_mobile_tiles_2023Q2.geojson").read_bytes()
    from_json = parse_ookla(raw, period="2023Q2")
    props = [f["properties"] for f in json.loads(raw)["features"]]
    table = pa.table({k: [p[k] for p in props] for k in props[0]} | {"tile": ["POLYGON"] * len(props)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    from_parquet = parse_ookla(sink.getvalue(), period="2023Q2")
    for name in ("lon", "lat", "tests", "avg_d_kbps"):
        assert np.array_equal(from_json[name], from_parquet[name])
    assert period_from_name("guam_mobile_tiles_2023Q2.geojson") == "2023Q2"
    assert period_from_name("type=mobile/year=2024/quarter=3/x.parquet") == "2024Q3"


@pytest.mark.parametrize(
    ("doc", "rule"),
    [
        (b"[1, 2]", "ookla.json"),
        (b'{"features": [{"properties": {"tests": 1}}]}', "ookla.tile"),
        (
            b'{"features": [{"properties": {"quadkey": "0129", "avg_d_kbps": 1, "avg_u_kbps": 1,'
            b' "avg_lat_ms": 1, "tests": 1, "devices": 1}}]}',
            "ookla.quadkey",
        ),
        (b'{"features": [{"properties": {"quadkey": "0123", "avg_d_kbps": "fast"}}]}', "ookla.value"),
    ],
)
def test_ookla_bad_files_name_the_rule(doc: bytes, rule: str) -> None:
    with pytest.raises(LayerFormatError) as caught:
        parse_ookla(doc, period="2023Q1")
    assert caught.value.rule == rule


def test_landing_points_carry_their_cables() -> None:
    landings = parse_landing_points(
        shared_file(CABLES / "landing-point-geo.json").read_bytes(),
        (CABLES / "landing-points.json").read_bytes(),
    )
    assert len(landings) == 1414
    piti = landings.within(landings.index.select(box(144.6, 13.4, 144.75, 13.5)))
    assert [p.name for p in piti] == ["Piti, Guam"]
    assert "SEA-US" in piti[0].cables and piti[0].country == "Guam"
    with pytest.raises(LayerFormatError) as caught:
        parse_landing_points(
            b'{"features": [{"geometry": {"type": "Point", "coordinates": [400, 0]},'
            b' "properties": {"id": "x"}}]}'
        )
    assert caught.value.rule == "cables.point"


def _h3_grid() -> tuple[list[str], np.ndarray]:
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(13.45, 144.78, 8), 6))
    return cells, np.arange(1, len(cells) + 1, dtype=float)


def test_population_from_h3_places_people_at_cell_centres() -> None:
    cells, people = _h3_grid()
    grid = population_from_h3(cells, people)
    assert len(grid) == len(cells) == 127
    everything = grid.index.select(Point(144.78, 13.45).buffer(0.2))
    assert grid.sum(everything, "population") == people.sum()
    one = h3.cell_to_boundary(cells[0])
    only = grid.index.select(Polygon([(lng, lat) for lat, lng in one]))
    assert grid.sum(only, "population") == 1.0
    as_csv = "h3,population\n" + "".join(f"{c},{p}\n" for c, p in zip(cells, people, strict=True))
    assert parse_population_csv(as_csv.encode())["population"].sum() == people.sum()
    with pytest.raises(LayerFormatError) as caught:
        population_from_h3(["not-a-cell"], np.array([1.0]))
    assert caught.value.rule == "population.h3"


def test_population_csv_of_raster_cells_and_bad_values() -> None:
    grid = parse_population_csv(b"lon,lat,population\n10.0,50.0,5\n10.1,50.1,7.5\n500,0,1\n")
    assert grid["population"].sum() == 12.5 and grid.skipped == 1
    for data, rule in (
        (b"x,y\n1,2\n", "population.header"),
        (b"lon,lat,population\n1,2,-3\n", "population.value"),
    ):
        with pytest.raises(LayerFormatError) as caught:
            parse_population_csv(data)
        assert caught.value.rule == rule
