"""Impact of an alert area: countries, regions, groups, sites by radio, status, performance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from cap.model import Area, Circle
from geo.areas import area_geometry, circle_geometry
from geo.impact import Impact, assess, compare_periods, connectivity_impact, connectivity_impacts
from geo.layers import (
    ConnectivityLayer,
    NetworkStatus,
    SiteKey,
    SiteState,
    StatusReport,
    parse_landing_points,
    parse_ookla,
    parse_opencellid,
    population_from_h3,
)
from tests.conftest import SHARED

OOKLA = SHARED / "data/telecom/ookla"
CABLES = SHARED / "data/cables/telegeography_cc_2022"
HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
MAWAR = datetime(2023, 5, 24, 12, tzinfo=UTC)  # Typhoon Mawar passes Guam

# A CAP polygon around Guam, as an alert would draw it ((lat, lon) pairs, CAP 1.2 §3.2.4).
GUAM = Area(
    area_desc="Guam",
    polygons=[((13.1, 144.5), (13.1, 145.1), (13.8, 145.1), (13.8, 144.5), (13.1, 144.5))],
)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


def cells_csv(rows: list[tuple[str, int, float, float]]) -> bytes:
    """OpenCelliD rows: (radio, cell id, lon, lat), all in MCC 310 / MNC 470 / area 7."""
    lines = [HEADER] + [
        f"{radio},310,470,7,{cell},0,{lon},{lat},1000,5,1,1,1684000000,0" for radio, cell, lon, lat in rows
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def guam_tiles() -> ConnectivityLayer:
    layer = ConnectivityLayer()
    for quarter in (1, 2, 3, 4):
        path = need(OOKLA / f"guam_mobile_tiles_2023Q{quarter}.geojson")
        layer.performance[f"2023Q{quarter}"] = parse_ookla(path.read_bytes(), period=f"2023Q{quarter}")
    return layer


def test_alert_over_guam_shows_typhoon_mawar_in_measured_download(
    guam_tiles: ConnectivityLayer,
) -> None:
    geometry = area_geometry(GUAM).geometry
    impact = connectivity_impact(geometry, layer=guam_tiles, event_time=MAWAR)
    assert impact.baseline is not None and impact.latest is not None
    assert (impact.baseline.period, impact.latest.period) == ("2023Q1", "2023Q2")
    assert impact.baseline.download_mbps == pytest.approx(35.7, abs=0.1)
    assert impact.latest.download_mbps == pytest.approx(22.8, abs=0.1)
    assert impact.as_dict()["performance"]["download_change_pct"] == pytest.approx(-36.1, abs=0.1)

    # Independently: geopandas picks the tiles inside the alert; Ookla's tests-weighted mean.
    for quarter, summary in (("2023Q1", impact.baseline), ("2023Q2", impact.latest)):
        tiles = gpd.read_file(OOKLA / f"guam_mobile_tiles_{quarter}.geojson")
        inside = tiles[tiles.geometry.within(geometry)]
        weighted = (inside.avg_d_kbps * inside.tests).sum() / inside.tests.sum() / 1000
        assert summary.tiles == len(inside)
        assert summary.tests == inside.tests.sum()
        assert summary.download_mbps == pytest.approx(weighted, rel=1e-12)
        assert summary.latency_ms == pytest.approx(
            (inside.avg_lat_ms * inside.tests).sum() / inside.tests.sum(), rel=1e-12
        )
    # A plain mean of tiles does not give Ookla's published figure (32.6, not 35.7).
    q1 = gpd.read_file(OOKLA / "guam_mobile_tiles_2023Q1.geojson")
    assert abs(q1.avg_d_kbps.mean() / 1000 - 35.7) > 1.0


def test_guam_impact_with_countries_regions_groups_and_landings(
    guam_tiles: ConnectivityLayer,
) -> None:
    layer = ConnectivityLayer(
        performance=guam_tiles.performance,
        landings=parse_landing_points(
            need(CABLES / "landing-point-geo.json").read_bytes(),
            (CABLES / "landing-points.json").read_bytes(),
        ),
    )
    impact = assess(area_geometry(GUAM).geometry, layer=layer, event_time=MAWAR)
    out = json.loads(json.dumps(impact.as_dict()))
    assert out["countries"] == ["GUM"]
    assert out["regions"] == ["Americas"]  # a territory goes with its Member State (USA)
    assert (out["sids"], out["ldc"], out["lldc"]) == (True, False, False)
    names = [p["name"] for p in out["landing_points"]]
    assert names == ["Agat, Guam", "Piti, Guam", "Tanguisson Point, Guam", "Tumon Bay, Guam"]
    piti = out["landing_points"][1]
    assert "SEA-US" in piti["cables"] and "Japan-Guam-Australia South (JGA-S)" in piti["cables"]
    # No cell-site layer: the counts are unknown (null), not zero, and the layer is named.
    assert out["sites"] == {
        "total": None,
        "by_radio": {},
        "down": None,
        "degraded": None,
        "share_out": None,
        "as_of": None,
    }
    assert out["layers"] == ["ookla", "cables"]
    assert out["missing_layers"] == ["opencellid", "population"]


def test_sites_by_radio_down_and_degraded_as_of_before_and_after() -> None:
    rows = [("LTE", i, 144.70 + 0.01 * i, 13.45) for i in range(10)]  # a line across Guam
    rows += [
        ("GSM", 100, 144.75, 13.40),
        ("NR", 68_719_476_735, 144.80, 13.50),
        ("UMTS", 200, 150.0, 20.0),
    ]  # the UMTS site is far outside the alert
    layer = ConnectivityLayer(cells=parse_opencellid(cells_csv(rows)))
    t0 = datetime(2023, 5, 24, 6, tzinfo=UTC)
    west = box(144.6, 13.3, 144.745, 13.6)  # holds LTE 0-4
    status = NetworkStatus.of(
        [
            StatusReport(
                time=t0 + timedelta(hours=2), state=SiteState.UP, sites=(SiteKey("LTE", 310, 470, 7, 1),)
            ),
            StatusReport(time=t0, state=SiteState.DOWN, area=west),
            StatusReport(
                time=t0 + timedelta(hours=1),
                state=SiteState.DEGRADED,
                sites=(SiteKey("NR", 310, 470, 7, 68_719_476_735), SiteKey("LTE", 999, 1, 7, 2)),
            ),  # another network: not ours
        ]
    )
    geometry = area_geometry(GUAM).geometry

    def sites(as_of: datetime | None) -> dict:
        return connectivity_impact(geometry, layer=layer, status=status, as_of=as_of).sites.as_dict()

    before = sites(t0 - timedelta(minutes=1))
    assert before["total"] == 12
    assert before["by_radio"] == {"GSM": 1, "UMTS": 0, "LTE": 10, "NR": 1, "CDMA": 0}
    assert (before["down"], before["degraded"], before["share_out"]) == (0, 0, 0.0)
    during = sites(t0 + timedelta(minutes=90))
    assert (during["down"], during["degraded"]) == (5, 1)
    assert during["share_out"] == pytest.approx(5 / 12)
    after = sites(None)  # every report: LTE 1 is back up
    assert (after["down"], after["degraded"]) == (4, 1)


def test_alert_across_the_antimeridian_counts_sites_on_both_sides() -> None:
    rows = [("LTE", i, lon, -17.8) for i, lon in enumerate((178.0, 179.5, 179.99, -179.9, -179.0))]
    rows.append(("LTE", 9, 170.0, -17.8))
    layer = ConnectivityLayer(cells=parse_opencellid(cells_csv(rows)))
    fiji = area_geometry(Area(area_desc="Fiji", circles=[Circle(lat=-17.8, lon=179.5, radius_km=300)]))
    assert fiji.geometry.geom_type == "MultiPolygon"
    impact = assess(fiji.geometry, layer=layer)
    assert impact.sites.total == 5
    assert impact.countries == ("FJI",)
    assert impact.regions == ("Asia and the Pacific",)
    assert impact.groups == {"sids": ("FJI",)}


def test_least_developed_and_landlocked_groups_are_flagged() -> None:
    impact = assess(circle_geometry(27.7, 85.3, 150), layer=ConnectivityLayer())
    assert "NPL" in impact.countries and {"IND", "CHN"} <= set(impact.countries)
    out = impact.as_dict()
    assert out["groups"]["ldc"] == ["NPL"] and out["groups"]["lldc"] == ["NPL"]
    assert out["ldc"] and out["lldc"] and not out["sids"]
    assert out["regions"] == ["Asia and the Pacific"]
    assert out["layers"] == [] and out["population"] is None
    assert out["missing_layers"] == ["opencellid", "ookla", "cables", "population"]
    assert out["sites"]["total"] is None


def test_population_is_the_sum_of_cells_whose_centre_is_in_the_area() -> None:
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(13.45, 144.78, 8), 8))
    people = np.random.default_rng(1).integers(0, 500, len(cells)).astype(float)
    grid = population_from_h3(cells, people)
    area = circle_geometry(13.45, 144.78, 3.0)
    impact = connectivity_impact(area, layer=ConnectivityLayer(population=grid))
    centres = np.array([h3.cell_to_latlng(c) for c in cells])
    expected = people[shapely.contains_xy(area, centres[:, 1], centres[:, 0])].sum()
    assert 0 < expected < people.sum()
    assert impact.population == expected


def test_compare_periods_picks_the_quarter_before_and_the_quarter_of_the_event() -> None:
    held = ["2023Q3", "2023Q1", "2023Q2", "2023Q4"]
    assert compare_periods(held, MAWAR) == ("2023Q1", "2023Q2")
    assert compare_periods(held) == ("2023Q1", "2023Q4")
    assert compare_periods(held, datetime(2024, 2, 1, tzinfo=UTC)) == ("2023Q4", "2023Q4")
    assert compare_periods(held, datetime(2023, 1, 5, tzinfo=UTC)) == ("2023Q1", "2023Q1")
    with pytest.raises(ValueError):
        compare_periods([])


def test_an_empty_area_has_an_empty_impact(guam_tiles: ConnectivityLayer) -> None:
    impact = assess(shapely.Polygon(), layer=guam_tiles, periods=("2023Q1", "2023Q4"))
    assert isinstance(impact, Impact)
    out = impact.as_dict()
    assert out["countries"] == [] and out["regions"] == []
    assert out["performance"]["baseline"]["tiles"] == 0
    assert out["performance"]["baseline"]["download_mbps"] is None


@pytest.mark.parametrize("batch_areas", [256, 2])
def test_batched_impacts_equal_one_call_per_area(
    guam_tiles: ConnectivityLayer, batch_areas: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-assessing many alerts at once (`connectivity_impacts`, in batches of `batch_areas`)
    gives each the figures of its own `connectivity_impact`: sites by radio and status,
    performance, population, landings."""
    import geo.impact

    monkeypatch.setattr(geo.impact, "BATCH_AREAS", batch_areas)
    rng = np.random.default_rng(5)
    rows = [
        (("GSM", "UMTS", "LTE", "NR")[i % 4], i, float(lon), float(lat))
        for i, (lon, lat) in enumerate(
            zip(rng.uniform(144.6, 145.0, 3000), rng.uniform(13.2, 13.7, 3000), strict=True)
        )
    ]
    cells = parse_opencellid(cells_csv(rows))
    hexes = sorted(h3.grid_disk(h3.latlng_to_cell(13.45, 144.78, 8), 12))
    grid = population_from_h3(hexes, 10.0 + np.arange(len(hexes), dtype=float))
    layer = ConnectivityLayer(
        cells=cells,
        performance=guam_tiles.performance,
        population=grid,
        landings=parse_landing_points(need(CABLES / "landing-point-geo.json").read_bytes()),
    )
    status = NetworkStatus.of(
        [
            StatusReport(time=MAWAR, state=SiteState.DOWN, area=box(144.6, 13.3, 144.75, 13.6)),
            StatusReport(time=MAWAR, state=SiteState.DEGRADED, sites=(SiteKey("LTE", 310, 470, 7, 2),)),
        ]
    )
    areas = [
        area_geometry(GUAM).geometry,
        box(144.7, 13.4, 144.8, 13.5),
        Polygon(),
        circle_geometry(13.45, 144.78, 8),
        box(150, 20, 151, 21),
        circle_geometry(-17.8, 178.5, 600),
    ]  # split at 180°
    # Each area its own status and event time (None: compare the oldest and newest periods).
    statuses = [status, None, status, status, NetworkStatus(), status]
    times = [MAWAR, None, MAWAR, datetime(2023, 8, 1, tzinfo=UTC), MAWAR, None]
    batch = connectivity_impacts(areas, layer=layer, statuses=statuses, event_times=times)
    assert len(batch) == len(areas)
    for area, impact, state, when in zip(areas, batch, statuses, times, strict=True):
        assert impact == connectivity_impact(area, layer=layer, status=state, event_time=when)
    assert batch[0].latest and batch[0].latest.period == "2023Q2"
    assert batch[1].latest and batch[1].latest.period == "2023Q4"
    assert batch[3].baseline and batch[3].baseline.period == "2023Q2"
    assert batch[0].sites.total > 1000 and batch[0].sites.down > 100
    assert batch[3].population and batch[0].landing_points
    assert connectivity_impacts([], layer=layer) == []


def test_a_loaded_cell_layer_with_no_site_in_the_area_counts_zero_not_unknown() -> None:
    layer = ConnectivityLayer(cells=parse_opencellid(cells_csv([("LTE", 1, 150.0, 20.0)])))
    out = assess(area_geometry(GUAM).geometry, layer=layer).as_dict()
    assert (out["sites"]["total"], out["sites"]["down"], out["sites"]["by_radio"]["LTE"]) == (0, 0, 0)
    assert out["layers"] == ["opencellid"]
    assert out["missing_layers"] == ["ookla", "cables", "population"]
