"""The map's base and the live stream as a first responder meets them, in real Chromium against
`tampere serve`: an imported PMTiles basemap is drawn from byte ranges the server answered (and the
built-in boundaries are not asked for), a configured style URL is loaded from its own origin and
nowhere else, and an anonymous page is live through the public event stream instead of polling."""

from __future__ import annotations

import io
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.basemaps import vector_archive
from tests.conftest import migrated, run_tampere, start_server, stop_server
from tests.web.conftest import NAIROBI, Served, artifact

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What the map fills a vector layer named "landuse" with (web/src/basemap.js, NEUTRAL).
LANDUSE_FILL = (0xEC, 0xE8, 0xDF)


def serve_store(data_dir: Path, web_dist: Path, **env: str) -> tuple[Any, str, Path]:
    """`tampere serve` on a store, access lines logged (INFO); the process, base URL and log."""
    log = data_dir.parent / f"serve-{uuid.uuid4().hex[:6]}.log"
    environment = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "INFO",
        "TAMPERE_WEB_DIR": str(web_dist),
        **env,
    }
    proc, base = start_server(environment, log)
    return proc, base, log


def access_lines(log: Path, path: str) -> list[dict[str, Any]]:
    """The server's access lines for a path (service/logging.py writes one JSON object a line)."""
    lines = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("path") == path:
            lines.append(entry)
    return lines


@pytest.fixture(scope="module")
def with_archive(web_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server whose operator imported a vector PMTiles basemap as `world`."""
    data_dir = migrated(tmp_path_factory.mktemp("basemap") / "var")
    archive = vector_archive(data_dir.parent / "world.pmtiles", max_zoom=4)
    imported = run_tampere("basemap", "import", str(archive), data_dir=data_dir, database_url="")
    assert imported.returncode == 0, imported.stderr
    proc, base, log = serve_store(data_dir, web_dist)
    try:
        yield base, log
    finally:
        stop_server(proc)


def open_page(browser: Any, base: str, path: str = "/") -> tuple[Any, Any, list[str], list[Any]]:
    """A fresh context and page; every URL it requested and every response it got."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    requested: list[str] = []
    responses: list[Any] = []
    context.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    context.on("response", lambda response: responses.append(response))
    page.goto(f"{base}{path}")
    return context, page, requested, responses


def elsewhere(base: str, requested: list[str]) -> list[str]:
    here = urlsplit(base).netloc
    return [u for u in requested if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != here]


def test_an_imported_pmtiles_basemap_is_drawn_from_range_requests_and_nothing_leaves_the_origin(
    browser: Any, with_archive: tuple[str, Path]
) -> None:
    from PIL import Image

    base, log = with_archive
    context, page, requested, responses = open_page(browser, base)
    try:
        page.wait_for_selector("#map[data-drawn-ids]", state="attached", timeout=30_000)
        # Closer in, as a responder zooms to a place: tiles of zoom 4, past the first 16 KiB
        # of the archive the reader fetched with its header.
        page.locator("#map canvas").focus()
        for _ in range(3):
            page.keyboard.press("+")
            page.wait_for_timeout(300)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        shot = page.locator("#map canvas").screenshot(path=str(artifact("map-pmtiles-basemap.png")))
        ranged = [r for r in responses if r.url.endswith("/api/v1/basemap/world.pmtiles") and r.status == 206]
        starts = [int(r.headers["content-range"].split()[1].split("-")[0]) for r in ranged]
        assert 0 in starts, "the page did not read the archive's header"
        assert any(start >= 16_384 for start in starts), f"no tile read past the header: {starts}"
        # The built-in boundaries are not what the map draws now: never asked for.
        assert not any("/api/v1/basemap/countries" in u for u in requested)
        assert elsewhere(base, requested) == []
    finally:
        context.close()
    # The server saw them: range requests answered 206 (header and root directory, then tiles).
    served = access_lines(log, "/api/v1/basemap/world.pmtiles")
    assert len([e for e in served if e["status"] == 206]) >= 2, served
    # What a person sees: the land-use fill of the archive's tiles over most of the map.
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=int).reshape(-1, 3)
    filled = int((np.abs(pixels - LANDUSE_FILL) <= 6).all(axis=1).sum())
    assert filled / len(pixels) > 0.3, f"{filled} of {len(pixels)} pixels show the basemap"


class StyleHandler(BaseHTTPRequestHandler):
    """Another origin on loopback serving a MapLibre style (a plain background), counting asks."""

    asked: list[str] = []  # noqa: RUF012 - shared by the server's handler instances, on purpose

    def do_GET(self) -> None:
        StyleHandler.asked.append(self.path)
        body = json.dumps(
            {
                "version": 8,
                "sources": {},
                "layers": [{"id": "paper", "type": "background", "paint": {"background-color": "#123456"}}],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_configured_style_url_is_loaded_from_its_origin_alone_and_the_alerts_drawn_over_it(
    browser: Any, web_dist: Path, tmp_path: Path
) -> None:
    elsewhere_server = ThreadingHTTPServer(("127.0.0.1", 0), StyleHandler)
    thread = threading.Thread(
        target=elsewhere_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    style_origin = f"http://127.0.0.1:{elsewhere_server.server_address[1]}"
    data_dir = migrated(tmp_path / "var")
    proc, base, _ = serve_store(data_dir, web_dist, TAMPERE_MAP_STYLE_URL=f"{style_origin}/style.json")
    try:
        context, page, requested, _ = open_page(browser, base)
        try:
            page.wait_for_selector("#map[data-ready='true']", state="attached", timeout=30_000)
            page.wait_for_load_state("networkidle")
            others = elsewhere(base, requested)
            assert others == [f"{style_origin}/style.json"], others
            assert not any("/api/v1/basemap/countries" in u for u in requested)
            shot = page.locator("#map canvas").screenshot()
        finally:
            context.close()
    finally:
        stop_server(proc)
        elsewhere_server.shutdown()
    assert StyleHandler.asked == ["/style.json"]
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=int).reshape(-1, 3)
    assert (pixels == (0x12, 0x34, 0x56)).all(axis=1).mean() > 0.5


def test_an_anonymous_page_is_live_through_the_public_stream_not_a_poll(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    seen = visit()
    seen.open("/")
    page = seen.page
    expect(page.locator("#status-state")).to_have_text("Live", timeout=10_000)
    assert any(u.endswith("/api/v1/events/public") for u in seen.requested if u.startswith("ws"))
    assert not any(u.endswith("/api/v1/events") for u in seen.requested if u.startswith("ws"))
    # Settled (the map framed, the service worker in control), then quiet for four seconds: a
    # page on the stream does not ask for the list every 750 ms (it would ask five times).
    seen.wait_for_map()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    page.wait_for_load_state("networkidle")
    before = len([u for u in seen.requested if "/api/v1/alerts?" in u])
    page.wait_for_timeout(4_000)
    assert len([u for u in seen.requested if "/api/v1/alerts?" in u]) - before <= 1
    expect(page.locator("#status-time")).to_contain_text("Last updated")
    # And an alert posted meanwhile still arrives without reload, from the stream's event.
    headline = f"Landslide warning {uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    served.post_alert(f"pub-{uuid.uuid4().hex[:8]}", headline=headline, polygon=NAIROBI)
    expect(page.get_by_role("heading", name=headline)).to_be_visible(timeout=2_000)
    assert time.monotonic() - started <= 2.0


def test_an_anonymous_page_resumes_the_public_stream_from_its_last_event_after_the_service_drops(
    browser: Any, web_dist: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from tests.conftest import free_port, make_cap

    data_dir = migrated(tmp_path / "var")
    created = run_tampere(
        "token", "create", "--role", "administration", "--country", "KEN", "--sender", "alerts@meteo.go.ke",
        data_dir=data_dir, database_url="",
    )  # fmt: skip
    administration = created.stdout.split()[0]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "WARNING",
        "TAMPERE_WEB_DIR": str(web_dist),
    }

    def serve() -> Any:
        return start_server(env, tmp_path / "serve.log", ready_within=60, port=port)[0]

    def post(headline: str) -> None:
        import httpx

        response = httpx.post(
            f"{base}/api/v1/alerts",
            content=make_cap(f"drop-{uuid.uuid4().hex[:8]}", headline=headline, polygon=NAIROBI),
            headers={"Authorization": f"Bearer {administration}", "Content-Type": "application/cap+xml"},
            timeout=30,
        )
        assert response.status_code == 201, response.text

    proc = serve()
    context = browser.new_context(viewport={"width": 1400, "height": 900}, reduced_motion="reduce")
    sockets: list[str] = []
    try:
        page = context.new_page()
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(f"{base}/")
        state = page.locator("#status-state")
        expect(state).to_have_text("Live", timeout=10_000)
        post("Before the drop")
        expect(page.get_by_role("heading", name="Before the drop")).to_be_visible(timeout=2_000)
        proc.terminate()
        proc.wait(timeout=30)
        expect(state).not_to_have_text("Live", timeout=10_000)
        proc = serve()
        post("During the drop")
        expect(page.get_by_role("heading", name="During the drop")).to_be_visible(timeout=20_000)
        expect(state).to_have_text("Live", timeout=20_000)
        expect(page.locator("#status-time")).to_contain_text("Last updated")
        public = [url for url in sockets if "/api/v1/events/public" in url]
        assert len(public) >= 2 and "since=" not in public[0]
        # Every reconnection asked for what came after the last event seen before the drop.
        resumed = {url.partition("?since=")[2] for url in public[1:]}
        assert len(resumed) == 1 and resumed.pop().isdigit(), public
    finally:
        context.close()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
