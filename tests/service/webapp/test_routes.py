"""The web app over HTTP, in process: the page in the reader's language with `<html lang dir>`,
revalidated on every load; hashed assets cacheable for a year; the service worker at the root;
a clear 503 when the app is not built; the base map per zoom band (whole world, or cut to a
box); the country index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import shapely
from shapely.geometry import shape

from tests.conftest import running_service

INDEX = b"""<!doctype html>
<html lang="en" dir="ltr">
<head><script type="module" src="/assets/index-abc123.js"></script></head>
<body><main id="alerts"></main></body></html>"""


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A build as Vite lays it out: index.html, assets/ with hashed names, sw.js."""
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_bytes(INDEX)
    (built / "assets" / "index-abc123.js").write_text("console.log('tampere');\n" * 100)
    (built / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    return built


@pytest.fixture
async def client(
    web_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("TAMPERE_WEB_DIR", str(web_dir))
    async with running_service(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var") as service:
        yield service.client


@pytest.mark.parametrize(
    ("query", "header", "lang", "direction"),
    [
        ("?lang=ar", None, "ar", "rtl"),
        ("?lang=zh", "ar", "zh", "ltr"),
        ("", "ru-RU,ru;q=0.9", "ru", "ltr"),
        ("", "ar-SA", "ar", "rtl"),
        ("?lang=xx", "es-419", "es", "ltr"),
        ("", None, "en", "ltr"),
    ],
)
async def test_the_page_speaks_the_asked_language(
    client: httpx.AsyncClient, query: str, header: str | None, lang: str, direction: str
) -> None:
    headers = {"Accept-Language": header} if header else {}
    response = await client.get(f"/{query}", headers=headers)
    assert response.status_code == 200
    assert f'<html lang="{lang}" dir="{direction}">' in response.text
    assert response.headers["content-language"] == lang
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert "Accept-Language" in response.headers["vary"]
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'self'") and "connect-src 'self'" in policy


async def test_the_page_is_revalidated_with_its_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/?lang=fr")
    again = await client.get("/?lang=fr", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    other = await client.get("/?lang=ar", headers={"If-None-Match": first.headers["etag"]})
    assert other.status_code == 200


async def test_hashed_assets_are_cached_for_a_year_and_compressed(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    missing = await client.get("/assets/index-000000.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_the_service_worker_is_served_from_the_root_and_revalidated(client: httpx.AsyncClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"


async def test_an_unbuilt_app_is_a_clear_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAMPERE_WEB_DIR", str(tmp_path / "nowhere"))
    async with running_service(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var") as service:
        response = await service.client.get("/")
    assert response.status_code == 503
    problem = response.json()
    assert problem["errors"][0]["rule"] == "webapp.not-built"
    assert "npm run build" in problem["errors"][0]["message"]


async def test_the_base_map_is_generalised_per_zoom_band(client: httpx.AsyncClient) -> None:
    world = await client.get("/api/v1/basemap/countries?zoom=1", headers={"Accept-Encoding": "gzip"})
    assert world.status_code == 200
    assert world.headers["content-type"] == "application/geo+json"
    assert world.headers["content-encoding"] == "gzip"
    assert int(world.headers["content-length"]) < 200_000  # the coarse band, compressed
    countries = world.json()["features"]
    assert len(countries) > 200
    kenya = next(f for f in countries if f["properties"]["iso3"] == "KEN")
    assert kenya["properties"]["iso2"] == "KE" and kenya["properties"]["region"] == "Africa"
    middle = await client.get("/api/v1/basemap/countries?zoom=4")
    assert middle.headers["x-zoom-band"] == "3"
    assert len(middle.content) > len(world.content)


async def test_the_detailed_band_is_cut_to_a_box(client: httpx.AsyncClient) -> None:
    refused = await client.get("/api/v1/basemap/countries?zoom=7")
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "rule": "basemap.bbox.required",
        "message": "from zoom 5 the boundaries are sent for a box: give bbox=west,south,east,north",
        "path": "?bbox",
    }
    boxed = await client.get("/api/v1/basemap/countries?zoom=7&bbox=33,-5,42,5")
    assert boxed.status_code == 200
    found = {f["properties"]["iso3"] for f in boxed.json()["features"]}
    assert {"KEN", "UGA", "TZA", "SOM", "ETH"} <= found and "FRA" not in found
    # Cut: no coordinate outside the box.
    for feature in boxed.json()["features"]:
        for lon, lat in shapely.get_coordinates(shape(feature["geometry"])):
            assert 33 <= lon <= 42 and -5 <= lat <= 5
    # Across the antimeridian (RFC 7946 §5: west > east): Fiji is there.
    fiji = await client.get("/api/v1/basemap/countries?zoom=6&bbox=175,-22,-175,-12")
    assert "FJI" in {f["properties"]["iso3"] for f in fiji.json()["features"]}
    bad = await client.get("/api/v1/basemap/countries?zoom=6&bbox=1,2,3")
    assert bad.status_code == 422
    # The world in detail is never one answer.
    world = await client.get("/api/v1/basemap/countries?zoom=6&bbox=-180,-90,180,90")
    assert world.status_code == 422
    assert world.json()["errors"][0]["rule"] == "basemap.bbox.too-large"


async def test_the_country_index_names_every_country_once(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/countries")
    rows = response.json()["countries"]
    codes = [row["iso3"] for row in rows]
    assert len(codes) == len(set(codes)) > 200
    australia = next(row for row in rows if row["iso3"] == "AUS")
    assert australia["name"] == "Australia" and australia["iso2"] == "AU"
