"""Benchmark: the web app's first load and the alert list for the map, 1,000 active alerts.

Not a test. Run from the repository root, after `npm ci && npm run build` in web/:

    .venv/bin/python bench/web.py [--alerts N] [--repeat R] [--seed S]

Starts a real `tampere serve` (subprocess, fresh data directory, SQLite, write limits raised so
one token may post N alerts), posts N distinct CAP 1.2 alerts as the operator: irregular polygons
of 24 to 400 vertices (median ~100, as WMO and national warnings draw them), 5 to 150 km across,
centred on random land points of the Natural Earth countries. Then prints:

- first load, in Debian's Chromium (Playwright, `/usr/bin/chromium`), a fresh profile: the bytes
  on the wire (compressed, as `Request.sizes()` reports them; the service worker's fetches
  included), split into the app (page, scripts, styles, translations, worker) and map data
  (alert list, base map, country index); the time from navigation to a usable list (the
  page's `tampere:list` mark: the list rendered with the alerts) and to a drawn map
  (`tampere:map`: MapLibre settled with alerts rendered);
- the list for the map (`GET /api/v1/alerts?view=map&zoom=Z`: the world at zoom 2 and 5, which
  the page's list asks for, and a 20x15 degree box at zoom 9, which the map asks for close in;
  the world at zoom 8 as information) over loopback with `Accept-Encoding: gzip`: bytes on the
  wire and uncompressed, the first request's latency (it generalises the areas and gzips the
  body) and the median and p90 of R more (each a full answer, no If-None-Match: the areas and
  the gzipped body are found made, the rows are read and the JSON made each time), all as the
  operator (a principal: no list is shared); the same as an anonymous reader, whose list is made
  once per change of the event log and shared; the full list (`GET /api/v1/alerts`) for
  comparison;
- the floor, in this process and the same run: the same rows read straight from the database
  file (sqlite3, the same columns, the same active-alert condition) and serialised to a GeoJSON
  FeatureCollection with orjson, median of R; and the ratio of the service's median latency
  to it.

Targets (issue 12): first load <= 1 MB compressed apart from map data; the list <= 400 KB
compressed for 1,000 alerts; its latency <= 2x the floor. Each printed with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402

FIRST_LOAD_BUDGET = 1_000_000  # bytes, compressed, apart from map data
LIST_BUDGET = 400_000  # bytes, compressed, 1,000 alerts
LATENCY_RATIO_TARGET = 2.0
CHROMIUM = "/usr/bin/chromium"
FLOOR_OF_ISSUE = "every column (the issue's floor)"
MAP_DATA = ("/api/v1/alerts", "/api/v1/basemap/", "/api/v1/countries")

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>WEB-BENCH-{n}</identifier>
  <sender>bench@example.org</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>en</language>
    <category>Met</category>
    <event>{event}</event>
    <urgency>{urgency}</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <expires>{expires}</expires>
    <headline>{event} warning {n}</headline>
    <description>Benchmark alert {n}: heavy rain and flooding expected.</description>
    <instruction>Move to higher ground.</instruction>
    <area><areaDesc>District {n}</areaDesc><polygon>{polygon}</polygon></area>
  </info>
  <info>
    <language>fr</language>
    <category>Met</category>
    <event>Inondation</event>
    <urgency>{urgency}</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <expires>{expires}</expires>
    <headline>Alerte {n}</headline>
    <area><areaDesc>District {n}</areaDesc><polygon>{polygon}</polygon></area>
  </info>
</alert>
"""


def land_points(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Random points on land (inside a Natural Earth country), as (lon, lat)."""
    import shapely

    from geo.gazetteer import default_countries

    countries = default_countries()
    land = shapely.union_all(countries.geometries)
    points: list[tuple[float, float]] = []
    while len(points) < count:
        lon, lat = rng.uniform(-180, 180), rng.uniform(-55, 70)
        if shapely.contains_xy(land, lon, lat):
            points.append((lon, lat))
    return points


def polygon_text(lon: float, lat: float, rng: random.Random) -> str:
    """An irregular CAP polygon (lat,lon pairs, first = last) around a point."""
    vertices = int(min(400, max(24, rng.lognormvariate(math.log(100), 0.6))))
    radius_km = rng.uniform(5, 150) / 2
    pairs = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius_km * rng.uniform(0.75, 1.0)
        dlat = r / 111.32 * math.sin(angle)
        dlon = r / (111.32 * max(0.2, math.cos(math.radians(lat)))) * math.cos(angle)
        pairs.append(f"{max(-89.9, min(89.9, lat + dlat)):.5f},{max(-179.9, min(179.9, lon + dlon)):.5f}")
    pairs.append(pairs[0])
    return " ".join(pairs)


def messages(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    expires = (t0 + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    out = []
    for n, (lon, lat) in enumerate(land_points(count, rng)):
        out.append(
            TEMPLATE.format(
                n=n,
                sent=(t0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                expires=expires,
                event=rng.choice(["Flood", "Cyclone", "Storm", "Landslide", "Heat"]),
                urgency=rng.choice(["Immediate", "Expected", "Future"]),
                severity=rng.choice(["Extreme", "Severe", "Moderate", "Minor"]),
                polygon=polygon_text(lon, lat, rng),
            ).encode()
        )
    return out


def start(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "WARNING",
        "TAMPERE_WEB_DIR": str(ROOT / "web" / "dist"),
        "TAMPERE_WRITE_BURST_PER_TOKEN": "100000",
        "TAMPERE_WRITE_BURST_PER_ADDRESS": "100000",
    }
    tampere = Path(sys.executable).with_name("tampere")
    proc = subprocess.Popen(
        [str(tampere), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=(data_dir.parent / "serve.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not become ready")


def token(data_dir: Path) -> str:
    env = {**os.environ, "TAMPERE_DATA_DIR": str(data_dir), "TAMPERE_DATABASE_URL": ""}
    # Token commands refuse a store that does not exist yet: create it first.
    subprocess.run([sys.executable, "-m", "service.cli", "migrate"], env=env, capture_output=True, check=True)
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "token", "create", "--role", "operator"],
        env={**os.environ, "TAMPERE_DATA_DIR": str(data_dir), "TAMPERE_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[0]


def post_all(base: str, operator: str, bodies: list[bytes]) -> float:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {operator}", "Content-Type": "application/cap+xml"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for body in bodies:
            response = client.post("/api/v1/alerts", content=body)
            if response.status_code != 201:
                raise SystemExit(f"POST answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - started


def first_load(base: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sizes: list[tuple[str, int]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()

        def finished(request: Any) -> None:
            # Only the first answer to each URL: the list's 1-second polls are not the first load.
            if any(url == request.url for url, _size in sizes):
                return
            s = request.sizes()
            sizes.append((request.url, s["responseBodySize"] + s["responseHeadersSize"]))

        context.on("requestfinished", finished)
        page.goto(f"{base}/")
        page.wait_for_function(
            "() => performance.getEntriesByName('tampere:map').length > 0", timeout=120_000
        )
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
        # The page polls its list every second: never "network idle". Time for the worker to
        # keep the shell, then the figures.
        page.wait_for_timeout(3_000)
        marks = page.evaluate(
            "Object.fromEntries(['tampere:list', 'tampere:map']"
            ".map(n => [n, performance.getEntriesByName(n)[0].startTime]))"
        )
        listed = page.evaluate("document.querySelectorAll('#alert-list li.alert').length")
        browser.close()
    app = sum(size for url, size in sizes if not any(part in url for part in MAP_DATA))
    data = sum(size for url, size in sizes if any(part in url for part in MAP_DATA))
    return {
        "app": app,
        "data": data,
        "requests": len(sizes),
        "marks": marks,
        "listed": listed,
        "sizes": sizes,
    }


def timed_gets(
    base: str, path: str, repeat: int, bearer: str | None = None
) -> tuple[list[float], int, int, float]:
    """R timed GETs (full answers, gzip accepted) after a first one, timed apart: the first
    after a change makes what the next ones find made (generalised areas, the gzipped body).
    With `bearer`, as that principal: the rows are read and the JSON made on every request;
    without, as an anonymous reader, whose list is made once per change of the event log."""
    times = []
    wire = raw = 0
    auth = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    with httpx.Client(base_url=base, timeout=60, headers=auth) as client:
        started = time.perf_counter()
        client.get(path, headers={"Accept-Encoding": "gzip"})
        first = time.perf_counter() - started
        for _ in range(repeat):
            started = time.perf_counter()
            with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
                body = response.read()
                wire = response.num_bytes_downloaded
            times.append(time.perf_counter() - started)
            raw = len(body)
            assert response.status_code == 200, response.status_code
    return times, wire, raw, first


_FLOOR_SQL = """
SELECT id, identifier, sender, sent_at, status, msg_type, scope, version, state, expires_at,
       received_at, poster_id, signature, addresses, summary, countries, regions, impact, routing,
       warnings, geometry, relayed_by
FROM alerts
WHERE state = 'active' AND status = 'Actual' AND msg_type IN ('Alert', 'Update')
  AND (expires_at IS NULL OR expires_at > ?)
ORDER BY sent_at DESC, id DESC LIMIT 1000
"""
_JSON_COLUMNS = ("addresses", "summary", "countries", "regions", "impact", "routing", "warnings", "geometry")


_MAP_COLUMNS_SQL = _FLOOR_SQL.replace(" impact, routing,\n       warnings,", "")


def floor(db: Path, repeat: int, sql: str = _FLOOR_SQL) -> tuple[list[float], int]:
    """The same rows straight from the database file, serialised with orjson."""
    times = []
    size = 0
    connection = sqlite3.connect(db)
    # As SQLAlchemy writes UTC datetimes to SQLite: text that sorts as time.
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for _ in range(repeat + 1):
        started = time.perf_counter()
        cursor = connection.execute(sql, (now,))
        names = [c[0] for c in cursor.description]
        features = []
        for row in cursor:
            record = dict(zip(names, row, strict=True))
            for column in _JSON_COLUMNS:
                if record.get(column) is not None:
                    record[column] = orjson.loads(record[column])
            geometry = record.pop("geometry")
            features.append(
                {"type": "Feature", "id": record["id"], "geometry": geometry, "properties": record}
            )
        body = orjson.dumps({"type": "FeatureCollection", "features": features})
        times.append(time.perf_counter() - started)
        size = len(body)
    connection.close()
    return times[1:], size


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    if not (ROOT / "web" / "dist" / "index.html").is_file():
        raise SystemExit("web/dist is absent: run `npm ci && npm run build` in web/ first")

    with tempfile.TemporaryDirectory(prefix="tampere-web-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        data_dir.mkdir()
        bodies = messages(args.alerts, args.seed)
        operator = token(data_dir)
        proc, base = start(data_dir)
        try:
            posting = post_all(base, operator, bodies)
            print(f"posted {args.alerts} alerts in {posting:.1f} s ({args.alerts / posting:.0f}/s)")

            load = first_load(base)
            print("\n== first load (Chromium, fresh profile) ==")
            print(f"requests: {load['requests']}; alerts listed: {load['listed']}")
            print(
                f"app (page, scripts, styles, translations, worker): {load['app'] / 1024:.1f} KiB on the wire"
            )
            print(f"map data (alert list, base map, countries): {load['data'] / 1024:.1f} KiB on the wire")
            for url, size in sorted(load["sizes"], key=lambda item: -item[1])[:8]:
                print(f"    {size / 1024:8.1f} KiB  {url.removeprefix(base)[:90]}")
            print(f"time to a usable list: {load['marks']['tampere:list']:.0f} ms")
            print(f"time to a drawn map:   {load['marks']['tampere:map']:.0f} ms")
            print(
                f"first load apart from map data <= {FIRST_LOAD_BUDGET / 1e6:.0f} MB: "
                f"{load['app'] / 1e6:.3f} MB {verdict(load['app'] <= FIRST_LOAD_BUDGET)}"
            )

            print(
                f"\n== the alert list, {args.alerts} alerts, {args.repeat} requests each, as the operator =="
            )
            full_times, full_wire, full_raw, _ = timed_gets(
                base, "/api/v1/alerts?limit=5000", max(3, args.repeat // 4), bearer=operator
            )
            print(
                f"full list, GET /api/v1/alerts: {full_raw / 1024:.0f} KiB raw, "
                f"{full_wire / 1024:.0f} KiB gzip, median {ms(statistics.median(full_times))}"
            )
            views = {
                "zoom 2, world (the list, the page's first ask)": "zoom=2",
                "zoom 5, world (the list, zoomed in)": "zoom=5",
                "zoom 9, a 20x15 degree box (the map close in)": "zoom=9&bbox=0,0,20,15",
                "zoom 8, world (information: what the page never asks)": "zoom=8",
            }
            results = {}
            first_times: dict[str, float] = {}
            for label, query in views.items():
                path = f"/api/v1/alerts?view=map&limit=5000&{query}"
                times, wire, raw, first = timed_gets(base, path, args.repeat, bearer=operator)
                results[label] = (times, wire, raw)
                first_times[label] = first
                p90 = statistics.quantiles(times, n=10)[-1]
                print(
                    f"{label}: {raw / 1024:.0f} KiB raw, {wire / 1024:.0f} KiB gzip; first {ms(first)}, "
                    f"then median {ms(statistics.median(times))}, p90 {ms(p90)}"
                )
            # Anonymous readers share one list per change (service/alerts/lists.py).
            anonymous, _, _, anonymous_first = timed_gets(
                base, "/api/v1/alerts?view=map&zoom=5&limit=5000", args.repeat
            )
            print(
                f"zoom 5, world, anonymous (made once per change): first {ms(anonymous_first)}, "
                f"then median {ms(statistics.median(anonymous))}"
            )
            floors = {
                FLOOR_OF_ISSUE: floor(data_dir / "tampere.db", args.repeat),
                "the columns a map reads": floor(data_dir / "tampere.db", args.repeat, _MAP_COLUMNS_SQL),
            }
            for name, (floor_times, floor_size) in floors.items():
                print(
                    f"floor, {name}: sqlite3 rows + orjson in process, {floor_size / 1024:.0f} KiB, "
                    f"median {ms(statistics.median(floor_times))}"
                )
            print()
            for label, (times, wire, _raw) in results.items():
                if "box" in label or label.startswith("zoom 8"):
                    continue  # not the same rows as the floors
                print(f"{label}: {wire / 1024:.0f} KiB <= 400 KB {verdict(wire <= LIST_BUDGET)}")
                for name, (floor_times, _size) in floors.items():
                    ratio = statistics.median(times) / statistics.median(floor_times)
                    print(
                        f"    latency {ratio:.2f}x the floor of {name} <= {LATENCY_RATIO_TARGET:.0f}x "
                        f"{verdict(ratio <= LATENCY_RATIO_TARGET)}"
                    )
                cold = first_times[label] / statistics.median(floors[FLOOR_OF_ISSUE][0])
                print(f"    the first request (areas generalised, gzipped): {cold:.2f}x the issue's floor")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
