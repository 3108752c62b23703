"""Benchmark: site counting for alert areas over 1M and 10M cell sites, against peers.

Not a test. Run from the repository root:

    .venv/bin/python bench/impact.py [--quick] [--shared PATH] [--seed N]

Sites: the real OpenCelliD sample in shared/ (45,745 cells, over half in Germany), resampled
with replacement; each copy is moved by a Gaussian jitter whose sigma is the sampled cell's own
`range` (its estimated coverage radius, clipped to 0.2-20 km). Every column of a cell is kept.

Areas ("alert-shaped", 5 to 200 km across): 60% geodesic circles (`geo.areas.circle_geometry`,
128 vertices) of diameter 5-200 km, 40% irregular CAP polygons of 6-40 vertices and the same
extent (`geo.areas.area_geometry`, so those crossing 180° are split). Sizes are log-uniform;
centres are at randomly chosen sites, i.e. alerts fall where the network is (the dense case).
A second area set with *radius* 5-200 km is timed too, for the stricter reading of the target.

What is timed, per area, garbage collector off:
- tampere: `geo.impact.connectivity_impact(area, layer=...)` - sites total and by radio, via
  the point index (the call the service makes at ingest; it includes validating and preparing
  the area) - one call per area.
- tampere batched: `geo.impact.connectivity_impacts(areas, layer=...)` - the same figures for
  all areas in one call (the call the service makes when it re-assesses the active alerts after
  a layer import or a status report); best of three runs; counts must equal the per-area ones.
- floor: a bare numpy + shapely loop over the same arrays - per polygon part, a bounding-box
  mask over the full lon/lat arrays, `shapely.contains_xy` on what it keeps, `np.bincount` of
  radio. Areas are prepared beforehand for the floor (free for it). Timed interleaved with
  tampere on the same areas; counts must agree exactly.
- geopandas: `gpd.sjoin` on a subset of areas, batched both ways round - tree on the sites
  (`sjoin(areas, sites, predicate="contains")`, the sites' sindex built beforehand and not
  timed) and tree on the areas (`sjoin(sites, areas, predicate="within")`) - and one call per
  area (as a service meets alerts, one at a time). Per-area figures; counts must agree exactly.
  At 10M sites geopandas runs in a process of its own (its points alone take gigabytes).
- import: `service.layers.files.import_layer("opencellid", csv, dir)` of a generated 1M-row
  OpenCelliD CSV (read + parse + index sort + write), and `parse_opencellid` alone.
Each scale runs in its own subprocess, so ru_maxrss is that scale's own peak.

Targets (issue): >= 3,000 areas/s at 1M sites; tampere time <= 1.5 x floor time; geopandas per
area / tampere per area >= 20, like for like (batched sjoin against tampere batched, sjoin one
call per area against tampere one call per area; batched sjoin against tampere one call per
area is printed too, as information); ru_maxrss <= 1.5 GB at 10M sites; import >= 1M rows/s. The
machine is shared: figures move with its load, so compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from cap.model import Area
from geo.areas import area_geometry, circle_geometry
from geo.impact import connectivity_impact, connectivity_impacts
from geo.layers import RADIOS, CellSites, ConnectivityLayer, parse_opencellid
from geo.layers.cells import OPENCELLID_COLUMNS
from geo.layers.index import index_order, polygon_parts

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = "data/telecom/opencellid/OCID-diff-cell-export-2022-09-10-T000000.csv"
AREAS_PER_SECOND_TARGET = 3000.0
FLOOR_TARGET = 1.5
GEOPANDAS_TARGET = 20.0
RSS_TARGET_GB = 1.5
IMPORT_TARGET = 1_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, well under a minute")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--seed", type=int, default=20230524)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sample_path = args.shared / SAMPLE
    if not sample_path.exists():
        sys.exit(f"needs the OpenCelliD sample at {sample_path} (see --shared)")
    if args.stage:
        print(json.dumps(run_stage(json.loads(args.stage), sample_path, args.seed)))
        return

    if args.quick:
        plans = [
            {
                "kind": "query",
                "sites": 1_000_000,
                "areas": 1000,
                "radius_areas": 300,
                "floor": 300,
                "sjoin": 40,
                "sjoin_single": 20,
            },
            {"kind": "import", "rows": 1_000_000},
        ]
    else:
        plans = [
            {
                "kind": "query",
                "sites": 1_000_000,
                "areas": 10_000,
                "radius_areas": 10_000,
                "floor": 2000,
                "sjoin": 300,
                "sjoin_single": 100,
            },
            {
                "kind": "query",
                "sites": 10_000_000,
                "areas": 10_000,
                "radius_areas": 2000,
                "floor": 200,
                "sjoin": 0,
                "sjoin_single": 0,
            },
            # geopandas at 10M in a process of its own, so it cannot touch the figures above.
            {
                "kind": "query",
                "sites": 10_000_000,
                "areas": 60,
                "radius_areas": 0,
                "floor": 0,
                "sjoin": 60,
                "sjoin_single": 20,
                "peer_only": True,
            },
            {"kind": "import", "rows": 1_000_000},
        ]
    started = time.perf_counter()
    results = []
    for plan in plans:
        command = [
            sys.executable,
            __file__,
            "--shared",
            str(args.shared),
            "--seed",
            str(args.seed),
            "--stage",
            json.dumps(plan),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"stage {plan} failed:\n{done.stderr}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        report(results[-1])
    verdicts(results)
    print(f"\nwall time {time.perf_counter() - started:.1f} s")


# --- stages (each in its own process) ---------------------------------------------------------


def run_stage(plan: dict[str, Any], sample_path: Path, seed: int) -> dict[str, Any]:
    """One scale: build the sites, time tampere, the floor and geopandas; or time an import."""
    rng = np.random.default_rng(seed)
    sample = parse_opencellid(sample_path.read_bytes())
    if plan["kind"] == "import":
        return run_import(plan, sample, rng)
    out: dict[str, Any] = dict(plan)
    t0 = time.perf_counter()
    sites = resample_sites(sample, plan["sites"], rng)
    out["build_s"] = time.perf_counter() - t0
    layer = ConnectivityLayer(cells=sites)
    areas = make_areas(sites, plan["areas"], rng, across=True)
    radius_areas = make_areas(sites, plan["radius_areas"], rng, across=False)
    out["split_areas"] = sum(a.geom_type == "MultiPolygon" for a in areas)

    connectivity_impact(areas[0], layer=layer)  # warm-up: prefix counts are built lazily
    for name, chosen in (("main", areas), ("radius", radius_areas)):
        if not chosen:
            continue
        seconds, totals = time_tampere(chosen, layer)
        out[f"{name}_areas_per_s"] = len(chosen) / seconds.sum()
        out[f"{name}_p50_us"] = float(np.median(seconds) * 1e6)
        out[f"{name}_p99_us"] = float(np.quantile(seconds, 0.99) * 1e6)
        out[f"{name}_mean_sites"] = float(totals.mean())
        if name == "main":
            main_totals = totals
    # The batched call, as the service re-assesses the active alerts after a layer import or a
    # status report: all areas in one call; counts must equal the one-call-per-area ones.
    seconds, agree = time_tampere_batched(areas, layer, main_totals)
    out["batched_areas_per_s"] = len(areas) / seconds
    out["batched_agree"] = agree
    if plan["floor"]:
        subset = areas[: plan["floor"]]
        ours, floor, agree = time_against_floor(subset, layer, sites)
        out.update(floor_areas=len(subset), floor_tampere_s=ours, floor_s=floor, floor_agree=agree)
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if plan["sjoin"]:
        subset = areas[: plan["sjoin"]]
        out.update(time_geopandas(subset, plan["sjoin_single"], sites, main_totals))
        out["sjoin_tampere_per_area_us"] = float(time_tampere(subset, layer)[0].mean() * 1e6)
        seconds, agree = time_tampere_batched(subset, layer, main_totals[: len(subset)])
        out["sjoin_tampere_batched_per_area_us"] = seconds / len(subset) * 1e6
        out["sjoin_agree"] = out["sjoin_agree"] and agree
        out["sjoin_mean_sites"] = float(main_totals[: len(subset)].mean())
    return out


def resample_sites(sample: CellSites, n: int, rng: np.random.Generator) -> CellSites:
    """n sites drawn from the sample, each jittered by its own coverage radius, in index order."""
    pick = rng.integers(0, len(sample), n).astype(np.int32)
    sigma = np.clip(sample["range"][pick], 200, 20_000).astype(np.float64) / 111_320.0
    lat = sample["lat"][pick] + rng.standard_normal(n) * sigma
    np.clip(lat, -90.0, 90.0, out=lat)
    sigma /= np.maximum(np.cos(np.radians(lat)), 0.01)
    lon = sample["lon"][pick] + rng.standard_normal(n) * sigma
    del sigma
    lon = (lon + 180.0) % 360.0 - 180.0
    order = index_order(lon, lat)
    lon, lat, pick = lon[order], lat[order], pick[order]
    del order
    columns = {"lon": lon, "lat": lat}
    for name in sample.columns:
        if name not in columns:
            columns[name] = sample[name][pick]
    columns["cell"] = np.arange(n, dtype=np.int64)  # every copy is its own cell
    return CellSites(columns)


def make_areas(sites: CellSites, n: int, rng: np.random.Generator, *, across: bool) -> list:
    """Alert-shaped areas centred on random sites; size 5-200 km log-uniform (across or radius)."""
    areas = []
    centres = rng.integers(0, len(sites), n)
    sizes = np.exp(rng.uniform(math.log(5.0), math.log(200.0), n))
    for i, size in zip(centres.tolist(), sizes.tolist(), strict=True):
        lat, lon = float(sites["lat"][i]), float(sites["lon"][i])
        radius = size / 2 if across else size
        if rng.random() < 0.6:
            areas.append(circle_geometry(lat, lon, radius))
            continue
        k = int(rng.integers(6, 41))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        reach = radius * rng.uniform(0.4, 1.0, k) / 111.32
        lats = np.clip(lat + reach * np.sin(angle), -89.9, 89.9)
        lons = lon + reach * np.cos(angle) / max(math.cos(math.radians(lat)), 0.05)
        lons = (lons + 180.0) % 360.0 - 180.0
        ring = [(float(a), float(b)) for a, b in zip(lats, lons, strict=True)]
        geometry = area_geometry(Area(area_desc="bench", polygons=[(*ring, ring[0])])).geometry
        areas.append(geometry if not geometry.is_empty else circle_geometry(lat, lon, radius))
    return areas


def time_tampere(areas: list, layer: ConnectivityLayer) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and site totals per area for the impact call."""
    seconds = np.empty(len(areas))
    totals = np.empty(len(areas), dtype=np.int64)
    gc.disable()
    try:
        for i, area in enumerate(areas):
            t0 = time.perf_counter()
            sites = connectivity_impact(area, layer=layer).sites
            seconds[i] = time.perf_counter() - t0
            totals[i] = sites.total
    finally:
        gc.enable()
    return seconds, totals


def time_tampere_batched(areas: list, layer: ConnectivityLayer, totals: np.ndarray) -> tuple[float, bool]:
    """Seconds for one `connectivity_impacts` call over all the areas (best of three, so a
    stall of the shared machine does not count), and whether its counts equal `totals`."""
    best = math.inf
    found: list = []
    gc.disable()
    try:
        for _ in range(3):
            t0 = time.perf_counter()
            found = connectivity_impacts(areas, layer=layer)
            best = min(best, time.perf_counter() - t0)
    finally:
        gc.enable()
    return best, [impact.sites.total for impact in found] == totals.tolist()


def floor_count(parts: list, lon: np.ndarray, lat: np.ndarray, radio: np.ndarray) -> np.ndarray:
    """Bare numpy + shapely: bbox mask over the full arrays, contains_xy, bincount of radio."""
    counts = np.zeros(len(RADIOS), dtype=np.int64)
    for part in parts:
        x0, y0, x1, y1 = part.bounds
        near = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        inside = near[shapely.contains_xy(part, lon[near], lat[near])]
        counts += np.bincount(radio[inside], minlength=len(RADIOS))[: len(RADIOS)]
    return counts


def time_against_floor(areas: list, layer: ConnectivityLayer, sites: CellSites) -> tuple:
    """Total seconds of tampere and of the floor on the same areas, interleaved; counts agree?"""
    lon, lat, radio = sites["lon"], sites["lat"], sites["radio"]
    prepared = [polygon_parts(area) for area in areas]
    ours = floor = 0.0
    agree = True
    gc.disable()
    try:
        for area, parts in zip(areas, prepared, strict=True):
            t0 = time.perf_counter()
            found = connectivity_impact(area, layer=layer).sites
            t1 = time.perf_counter()
            counts = floor_count(parts, lon, lat, radio)
            t2 = time.perf_counter()
            ours += t1 - t0
            floor += t2 - t1
            agree &= [found.by_radio[r] for r in RADIOS] == counts.tolist()
    finally:
        gc.enable()
    return ours, floor, agree


def time_geopandas(areas: list, single: int, sites: CellSites, ours: np.ndarray) -> dict:
    """geopandas.sjoin on the same areas: batched both ways round, and one call per area."""
    import geopandas as gpd

    t0 = time.perf_counter()
    points = gpd.GeoDataFrame(
        {"radio": sites["radio"]},
        geometry=gpd.points_from_xy(sites["lon"], sites["lat"]),
        crs=4326,
    )
    points.sindex.query(shapely.box(0, 0, 1, 1))  # build the tree now, outside the timing
    setup = time.perf_counter() - t0
    zones = gpd.GeoDataFrame(geometry=areas, crs=4326)
    agree = True
    gc.disable()
    try:
        t0 = time.perf_counter()
        joined = gpd.sjoin(zones, points, predicate="contains", how="inner")
        by_zone = joined.groupby(level=0).size()
        t1 = time.perf_counter()
        agree &= [int(by_zone.get(i, 0)) for i in range(len(areas))] == ours[: len(areas)].tolist()
        del joined
        t1b = time.perf_counter()
        joined = gpd.sjoin(points, zones, predicate="within", how="inner")
        by_zone = joined.groupby("index_right").size()
        t2 = time.perf_counter()
        agree &= [int(by_zone.get(i, 0)) for i in range(len(areas))] == ours[: len(areas)].tolist()
        del joined
        # As a service meets alerts: one at a time, the sites' tree already built.
        each = 0.0
        for i in range(single):
            t3 = time.perf_counter()
            found = len(gpd.sjoin(zones.iloc[[i]], points, predicate="contains", how="inner"))
            each += time.perf_counter() - t3
            agree &= found == int(ours[i])
    finally:
        gc.enable()
    return {
        "sjoin_areas": len(areas),
        "sjoin_setup_s": setup,
        "sjoin_sites_tree_per_area_us": (t1 - t0) / len(areas) * 1e6,
        "sjoin_areas_tree_per_area_us": (t2 - t1b) / len(areas) * 1e6,
        "sjoin_single_areas": single,
        "sjoin_single_per_area_us": each / max(single, 1) * 1e6,
        "sjoin_agree": bool(agree),
    }


def run_import(plan: dict[str, Any], sample: CellSites, rng: np.random.Generator) -> dict[str, Any]:
    """Write an n-row OpenCelliD CSV of resampled sites in random order; time the parse and
    the full import."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from service.layers.files import import_layer

    n = plan["rows"]
    sites = resample_sites(sample, n, rng)
    c = sites.columns
    # Real exports are not in our index order: shuffle, so the import pays for its sort.
    shuffled = rng.permutation(n)
    c = {name: values[shuffled] for name, values in c.items()}
    table = pa.table(
        {
            "radio": pa.array(np.asarray(RADIOS, dtype=object)[c["radio"]]),
            "mcc": c["mcc"],
            "net": c["net"],
            "area": c["area"],
            "cell": c["cell"],
            "unit": np.zeros(n, dtype=np.int64),
            "lon": np.round(c["lon"], 6),
            "lat": np.round(c["lat"], 6),
            "range": c["range"],
            "samples": c["samples"],
            "changeable": np.ones(n, dtype=np.int64),
            "created": c["updated"] - 86_400,
            "updated": c["updated"],
            "averageSignal": np.zeros(n, dtype=np.int64),
        }
    )
    assert tuple(table.column_names) == OPENCELLID_COLUMNS
    out: dict[str, Any] = {"kind": "import", "rows": n}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cell_towers.csv"
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
        del table, sites
        out["csv_mb"] = path.stat().st_size / 1e6
        del parse_opencellid(path.read_bytes()).columns  # warm-up: arrow threads, allocator
        t0 = time.perf_counter()
        parsed = parse_opencellid(path.read_bytes())
        out["parse_s"] = time.perf_counter() - t0
        assert len(parsed) == n
        del parsed
        t0 = time.perf_counter()
        summary = import_layer("opencellid", path, Path(tmp) / "var")
        out["import_s"] = time.perf_counter() - t0
        assert summary["rows"] == n
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# --- printing ---------------------------------------------------------------------------------


def report(r: dict[str, Any]) -> None:
    """Print one stage's figures."""
    if r["kind"] == "import":
        print(f"\n== import: {r['rows']:,} OpenCelliD CSV rows ({r['csv_mb']:.0f} MB) ==")
        print(
            f"parse_opencellid (bytes -> sorted columns): {r['parse_s']:.2f} s = "
            f"{r['rows'] / r['parse_s']:,.0f} rows/s"
        )
        print(
            f"import_layer (file -> layer on disk):       {r['import_s']:.2f} s = "
            f"{r['rows'] / r['import_s']:,.0f} rows/s"
        )
        print(f"ru_maxrss {r['ru_maxrss_mb']:.0f} MB")
        return
    title = "geopandas at " if r.get("peer_only") else ""
    print(f"\n== {title}{r['sites']:,} sites (built in {r['build_s']:.1f} s) ==")
    for name, label, count in (
        ("main", "5-200 km across", r["areas"]),
        ("radius", "radius 5-200 km", r["radius_areas"]),
    ):
        if f"{name}_areas_per_s" in r and not r.get("peer_only"):
            print(
                f"tampere, {count:,} areas {label}: {r[f'{name}_areas_per_s']:,.0f} areas/s, "
                f"p50 {r[f'{name}_p50_us']:.0f} us, p99 {r[f'{name}_p99_us']:.0f} us, "
                f"mean {r[f'{name}_mean_sites']:,.0f} sites per area"
            )
    if "batched_areas_per_s" in r and not r.get("peer_only"):
        print(
            f"tampere batched (connectivity_impacts, all {r['areas']:,} areas in one call): "
            f"{r['batched_areas_per_s']:,.0f} areas/s, counts equal one call per area: "
            f"{r['batched_agree']}"
        )
    if not r.get("peer_only"):
        print(f"  ({r['split_areas']} of the {r['areas']:,} areas are split at the antimeridian)")
    if "floor_areas" in r:
        n = r["floor_areas"]
        print(
            f"floor (bbox mask + contains_xy), {n:,} areas interleaved: "
            f"floor {r['floor_s'] / n * 1e6:,.0f} us/area, tampere "
            f"{r['floor_tampere_s'] / n * 1e6:,.0f} us/area, tampere/floor "
            f"{r['floor_tampere_s'] / r['floor_s']:.3f}, counts agree: {r['floor_agree']}"
        )
    if "sjoin_areas" in r:
        ours, batch = r["sjoin_tampere_per_area_us"], r["sjoin_tampere_batched_per_area_us"]
        a, b = r["sjoin_sites_tree_per_area_us"], r["sjoin_areas_tree_per_area_us"]
        one = r["sjoin_single_per_area_us"]
        print(
            f"geopandas sjoin on {r['sjoin_areas']} areas (mean {r['sjoin_mean_sites']:,.0f} "
            f"sites each; points GeoDataFrame + sindex {r['sjoin_setup_s']:.1f} s, not timed):"
        )
        print(
            f"  tampere on the same areas: one call per area {ours:,.0f} us/area, batched "
            f"{batch:,.0f} us/area; counts agree: {r['sjoin_agree']}"
        )
        print(
            f"  batched, tree on sites {a:,.0f} us/area = {a / batch:.1f}x tampere batched "
            f"({a / ours:.1f}x tampere one call per area)"
        )
        print(
            f"  batched, tree on areas {b:,.0f} us/area = {b / batch:.1f}x tampere batched "
            f"({b / ours:.1f}x tampere one call per area)"
        )
        print(
            f"  one call per area ({r['sjoin_single_areas']} areas) {one:,.0f} us/area = "
            f"{one / ours:.1f}x tampere one call per area"
        )
    if not r.get("peer_only"):
        print(f"ru_maxrss {r['ru_maxrss_mb']:,.0f} MB")


def verdicts(results: list[dict[str, Any]]) -> None:
    """PASS/FAIL against the issue's targets."""
    print("\n== targets ==")

    def line(ok: bool, text: str) -> None:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")

    for r in results:
        if r["kind"] == "import":
            rate = r["rows"] / r["import_s"]
            line(rate >= IMPORT_TARGET, f"import {rate:,.0f} rows/s >= {IMPORT_TARGET:,.0f}")
            continue
        scale = f"{r['sites']:,} sites"
        if r["sites"] == 1_000_000:
            for name, label in (("main", "5-200 km across"), ("radius", "radius 5-200 km")):
                rate = r[f"{name}_areas_per_s"]
                line(
                    rate >= AREAS_PER_SECOND_TARGET,
                    f"{scale}: {rate:,.0f} areas/s >= {AREAS_PER_SECOND_TARGET:,.0f} ({label})",
                )
        if "floor_areas" in r:
            ratio = r["floor_tampere_s"] / r["floor_s"]
            line(
                ratio <= FLOOR_TARGET and r["floor_agree"],
                f"{scale}: tampere/floor {ratio:.3f} <= {FLOOR_TARGET}, same counts",
            )
        if "sjoin_areas" in r:
            # Like for like: batched against batched, one call per area against one call.
            ours, batch = r["sjoin_tampere_per_area_us"], r["sjoin_tampere_batched_per_area_us"]
            for key, label, mine in (
                ("sjoin_sites_tree_per_area_us", "batched, tree on sites", "batched"),
                ("sjoin_areas_tree_per_area_us", "batched, tree on areas", "batched"),
                ("sjoin_single_per_area_us", "one call per area", "one call per area"),
            ):
                speedup = r[key] / (batch if mine == "batched" else ours)
                line(
                    speedup >= GEOPANDAS_TARGET and r["sjoin_agree"],
                    f"{scale}: geopandas sjoin ({label}) / tampere ({mine}) {speedup:.1f}x >= "
                    f"{GEOPANDAS_TARGET:.0f}, same counts",
                )
            worst = min(r["sjoin_sites_tree_per_area_us"], r["sjoin_areas_tree_per_area_us"]) / ours
            print(
                f"info  {scale}: geopandas sjoin batched / tampere one call per area {worst:.1f}x "
                f"(not like for like: their batch against our single calls)"
            )
        if r["sites"] >= 10_000_000 and not r.get("peer_only"):
            gb = r["ru_maxrss_mb"] / 1024
            line(gb <= RSS_TARGET_GB, f"{scale}: ru_maxrss {gb:.2f} GB <= {RSS_TARGET_GB}")


if __name__ == "__main__":
    main()
