"""The web app in Debian's Chromium (driven by Playwright, never a browser it downloads) against a
real `tampere serve` on loopback: fixtures for the server, tokens, the browser, and a page that
records every request it makes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import make_cap, migrated, run_tampere, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# CAP polygons (lat,lon pairs, first = last) inside the countries of the tests' administrations.
NAIROBI = "-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70"
MOMBASA = "-4.20,39.50 -4.20,39.80 -3.90,39.80 -3.90,39.50 -4.20,39.50"


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built web app; the test is skipped, saying how to build it, when it is absent."""
    if not (WEB_DIST / "index.html").is_file():
        pytest.skip(f"{WEB_DIST} is absent: build it with `npm ci && npm run build` in web/ (dev/setup does)")
    return WEB_DIST


@dataclass
class Served:
    """`tampere serve` on loopback with the tokens the tests act with."""

    base: str
    data_dir: Path
    operator: str
    office: str  # ro-addis-ababa: Kenya is in its region
    administration: str  # Kenya, sender alerts@meteo.go.ke
    posted: int = 0

    def post_alert(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        """POST a CAP message (tests.conftest.make_cap) as Kenya's administration."""
        response = httpx.post(
            f"{self.base}/api/v1/alerts",
            content=make_cap(identifier, **kwargs),
            headers={"Authorization": f"Bearer {self.administration}", "Content-Type": "application/cap+xml"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def served(web_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A fresh embedded store, its tokens issued by the command line, and the server on it."""
    yield from serve(web_dist, tmp_path_factory)


def serve(web_dist: Path, tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Iterator[Served]:
    """The `served` fixture's body, with more TAMPERE_* settings for a module that needs them
    (short acknowledgement deadlines, say)."""
    data_dir = tmp_path_factory.mktemp("web") / "var"
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "WARNING",
        "TAMPERE_WEB_DIR": str(web_dist),
        **settings,
    }

    def token(*args: str) -> str:
        done = run_tampere("token", "create", *args, data_dir=data_dir, env={"TAMPERE_DATABASE_URL": ""})
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[0]

    migrated(data_dir)  # as a user creates a store before issuing its first tokens
    operator = token("--role", "operator")
    office = token("--role", "office", "--office", "ro-addis-ababa")
    administration = token("--role", "administration", "--country", "KEN", "--sender", "alerts@meteo.go.ke")
    proc, base = start_server(env, data_dir.parent / "serve.log")
    try:
        yield Served(
            base=base, data_dir=data_dir, operator=operator, office=office, administration=administration
        )
    finally:
        stop_server(proc)


@dataclass
class Visit:
    """A browser context and page on the app, with every request the page (and its service
    worker) made, and the errors its scripts threw."""

    context: Any
    page: Any
    base: str
    requested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def requests_elsewhere(self) -> list[str]:
        """Requests to any origin but the service's (data: and blob: are the page's memory)."""
        here = urlsplit(self.base)
        return [
            url
            for url in self.requested
            if not url.startswith(("data:", f"blob:{self.base}"))
            and (
                urlsplit(url).scheme not in ("http", "https", "ws", "wss")
                or urlsplit(url).netloc != here.netloc
            )
        ]

    def open(self, path: str = "/") -> None:
        """Load a page of the app and wait until its list is in."""
        self.page.goto(f"{self.base}{path}")
        self.page.wait_for_selector("#status[data-live]", timeout=15_000)

    def wait_for_map(self, timeout: float = 30_000) -> None:
        """Until the map has loaded and settled once."""
        self.page.wait_for_selector("#map[data-drawn-ids]", state="attached", timeout=timeout)

    def drawn_ids(self) -> set[int]:
        """The alerts drawn on the map now (what MapLibre rendered in the view)."""
        text = self.page.get_attribute("#map", "data-drawn-ids") or ""
        return {int(v) for v in text.split()}


@contextmanager
def visits(browser: Any, base: str) -> Iterator[Any]:
    """Opens fresh browser contexts on the app at `base` (no shared cookies, cache or service
    worker); at the end, asserts that no page asked any other origin for anything and that no
    page's script threw."""
    opened: list[Visit] = []

    def open_context(*, reduced_motion: bool = True, locale: str = "en-GB", **options: Any) -> Visit:
        context = browser.new_context(
            viewport={"width": 1400, "height": 900},
            locale=locale,
            reduced_motion="reduce" if reduced_motion else "no-preference",
            **options,
        )
        page = context.new_page()
        seen = Visit(context=context, page=page, base=base)
        # The context sees the service worker's requests too, not only the page's.
        context.on("request", lambda request: seen.requested.append(request.url))
        page.on("websocket", lambda ws: seen.requested.append(ws.url))
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        opened.append(seen)
        return seen

    yield open_context
    try:
        for seen in opened:
            assert seen.requests_elsewhere() == [], "a request left the service's origin"
            assert seen.errors == [], "the page's scripts threw"
    finally:
        for seen in opened:
            seen.context.close()


@pytest.fixture
def visit(browser: Any, served: Served) -> Iterator[Any]:
    """`visits` on the module's shared server."""
    with visits(browser, served.base) as open_context:
        yield open_context


def artifact(name: str) -> Path:
    """A file under tests/web/artifacts/ (gitignored), kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """What axe-core (from npm, as web/package.json pins it; injected from the file, no request
    made, once per page) finds serious or critical on the page as it stands."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    results = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results
        if v["impact"] in ("serious", "critical")
    ]
