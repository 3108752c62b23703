"""/docs (Swagger UI) and /redoc (ReDoc) come whole from the service: on a machine without
internet (a disaster zone) they render, and a page load asks no other host for anything."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.conftest import start_server, stop_server

ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
# What FastAPI's pages load: tag attributes, and the schema and OAuth2 redirect in their scripts.
REFERENCE = re.compile(r"""(?:href|src|spec-url)="([^"]+)"|url: '([^']+)'|origin \+ '([^']+)'""")


# --- the HTML and the assets over HTTP ------------------------------------------------------------


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app without its lifespan: the documentation needs no store."""
    transport = httpx.ASGITransport(app=create_app(Settings(data_dir=tmp_path / "var")))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/docs", {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"}),
        ("/redoc", {"/docs/assets/redoc.standalone.js"}),
    ],
)
async def test_page_and_all_it_references_come_from_this_server(
    client: httpx.AsyncClient, path: str, assets: set[str]
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert [url for url in ABSOLUTE_URL.findall(page.text) if urlsplit(url).netloc != "testserver"] == []
    references = {next(group for group in match if group) for match in REFERENCE.findall(page.text)}
    assert references >= {*assets, "/docs/assets/favicon.png", "/openapi.json"}
    for reference in references:
        response = await client.get(reference)
        assert response.status_code == 200, reference
    for asset in assets:
        assert len((await client.get(asset)).content) > 100_000, f"{asset} is not the UI's bundle"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


async def test_redoc_bundle_names_no_other_host_and_is_revalidated(client: httpx.AsyncClient) -> None:
    # The package's bundle names Redocly's CDN for the menu's logo; what is served names no host.
    bundle = await client.get("/docs/assets/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in bundle.text and "redocly logo" in bundle.text
    again = await client.get(
        "/docs/assets/redoc.standalone.js", headers={"If-None-Match": bundle.headers["etag"]}
    )
    assert again.status_code == 304
    assert (await client.head("/docs/assets/redoc.standalone.js")).status_code == 200


async def test_swagger_ui_sends_the_schema_to_no_validator(client: httpx.AsyncClient) -> None:
    assert '"validatorUrl": null' in (await client.get("/docs")).text


async def test_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    assert "swaggerUIRedirectOauth2" in (await client.get("/docs/oauth2-redirect")).text


# --- the pages in Chromium, against `tampere serve` ---------------------------------------------


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`tampere serve` on a free loopback port, on a fresh embedded store."""
    data_dir = tmp_path_factory.mktemp("served")
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir / "var"),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "WARNING",
    }
    proc, base = start_server(env, data_dir / "serve.log")
    try:
        yield base
    finally:
        stop_server(proc)


@dataclass
class Visit:
    """A page opened in the browser, with every request it made."""

    page: Any
    requested: list[str] = field(default_factory=list)

    def requests_elsewhere(self, base_url: str) -> list[str]:
        """Requests to any host but the server's, even those its policy would refuse in the
        browser; data: and blob: URLs are the page's own memory, never a request out."""
        here = urlsplit(base_url).netloc
        return [
            url
            for url in self.requested
            if not url.startswith(("data:", "blob:" + base_url)) and urlsplit(url).netloc != here
        ]


def visit(browser: Any, url: str) -> Visit:
    """Open `url` in a fresh page, recording its requests from the first one, until the network
    is idle (the scripts and the schema are in)."""
    page = browser.new_page()
    seen = Visit(page)
    page.on("request", lambda request: seen.requested.append(request.url))
    page.goto(url, wait_until="networkidle")
    return seen


@pytest.mark.browser
@pytest.mark.slow
def test_swagger_ui_renders_with_nothing_from_another_host(browser: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    seen = visit(browser, f"{base_url}/docs")
    assert seen.requests_elsewhere(base_url) == []
    assert f"{base_url}/docs/assets/swagger-ui-bundle.js" in seen.requested
    # The ingest operation itself, not /api/v1/alerts/{alert_id}/ack beside it.
    operation = seen.page.get_by_role("button", name=re.compile(r"^POST \/api\/v1\/alerts\b(?!\/)"))
    expect(operation).to_be_visible(timeout=30_000)
    seen.page.wait_for_load_state("networkidle")
    assert seen.requests_elsewhere(base_url) == []  # nor once it has rendered


@pytest.mark.browser
@pytest.mark.slow
def test_redoc_renders_with_nothing_from_another_host(browser: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    seen = visit(browser, f"{base_url}/redoc")
    assert seen.requests_elsewhere(base_url) == []
    assert f"{base_url}/docs/assets/redoc.standalone.js" in seen.requested
    expect(seen.page.get_by_role("heading", name=re.compile(r"^Tampere\b"))).to_be_visible(timeout=30_000)
    operation = seen.page.get_by_role("button", name=re.compile(r"^post\s*\/api\/v1\/alerts$", re.I))
    expect(operation.first).to_be_visible()
    seen.page.wait_for_load_state("networkidle")
    assert seen.requests_elsewhere(base_url) == []  # nor once it has rendered (Redocly's logo)
