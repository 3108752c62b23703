"""The outage layer is live and the layer control hides what it hides, in real Chromium against
`tampere serve`: a status report posted through the API shows on the map of a page already open
(signed out: the public stream; signed in: the principal's) within 2 s, without reload; the
options of a layer that is off ("Status as of", "Time (local)") are not shown."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.web.conftest import Served
from tests.web.test_console import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_layers(visit: Any) -> Any:
    seen = visit()
    seen.open("/")
    seen.wait_for_map()
    seen.page.wait_for_selector("#layers[data-ready]", state="attached", timeout=15_000)
    return seen


def report_outage(served: Served, lat: float, lon: float) -> None:
    """Kenya's administration reports a circle down (POST /api/v1/network-status)."""
    response = httpx.post(
        f"{served.base}/api/v1/network-status",
        json={"state": "down", "area": {"circle": {"lat": lat, "lon": lon, "radius_km": 5}}},
        headers={"Authorization": f"Bearer {served.administration}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def reports_in_view(page: Any) -> int:
    return int(page.get_attribute("#layer-outages-view", "data-features") or "-1")


@pytest.mark.parametrize("signed_in", [False, True], ids=["public-stream", "signed-in-stream"])
def test_an_outage_reported_while_the_page_is_open_appears_within_two_seconds(
    visit: Any, served: Served, signed_in: bool
) -> None:
    from playwright.sync_api import expect

    seen = open_layers(visit)
    page = seen.page
    if signed_in:
        sign_in(seen, served.office)
    else:
        expect(page.locator("#status-state")).to_have_text("Live", timeout=10_000)
    page.locator("#layer-outages").check()
    view = page.locator("#layer-outages-view")
    expect(view).to_have_attribute("data-state", "ready", timeout=10_000)
    before = reports_in_view(page)
    assert before >= 0
    # The world is in view at the first zoom: a report at Nairobi is in it.
    started = time.monotonic()
    report_outage(served, -1.29, 36.82)
    page.wait_for_function(
        "n => Number(document.getElementById('layer-outages-view').dataset.features) === n",
        arg=before + 1,
        timeout=2_000,
    )
    assert time.monotonic() - started <= 2.0
    expect(view).to_contain_text(f"{before + 1} report")
    # The source line says how old the layer's news is: the newest report, sent just now.
    expect(page.locator("#layer-outages-source")).to_contain_text(
        re.compile(r"Live: read again on each report; the newest in view sent (now|\d+ seconds? ago)")
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_the_options_of_a_layer_that_is_off_are_not_shown(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    seen = open_layers(visit)
    page = seen.page
    # Off: its "Status as of" is hidden, and so is the custom time of a layer that is on.
    for name in ("sites", "outages"):
        expect(page.locator(f"#layer-{name}-asof")).to_be_hidden()
        expect(page.locator(f"#layer-{name}-time")).to_be_hidden()
    page.locator("#layer-outages").check()
    expect(page.locator("#layer-outages-asof")).to_be_visible()
    expect(page.locator("#layer-outages-time")).to_be_hidden()
    page.locator("#layer-outages-asof").select_option("custom")
    expect(page.locator("#layer-outages-time")).to_be_visible()
    page.locator("#layer-outages").uncheck()
    expect(page.locator("#layer-outages-asof")).to_be_hidden()
