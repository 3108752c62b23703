"""Every layer says its source and how old its data is (issue 12), in real Chromium against
`tampere serve`: the assistance requests' legend (what each badge means, where the requests come
from, when they were read) and Enter at the map's cross naming the requests there; the base map's
attribution naming the Natural Earth version the service has installed; and the alerts'
attribution never saying "live" for the copy shown offline."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web.conftest import Served
from tests.web.test_console import sign_in
from tests.web.test_requests_layer import file_request

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A CAP polygon (lat,lon) around Garissa, Kenya: its box's centre is where the request is.
GARISSA_AREA = "-0.95,39.15 -0.95,40.15 0.05,40.15 0.05,39.15 -0.95,39.15"
GARISSA = [39.65, -0.45]
STATES = ["open", "acknowledged", "in progress", "fulfilled", "closed", "cancelled"]


def test_the_requests_layer_says_its_source_age_and_legend_and_enter_names_the_requests_there(
    visit: Any, served: Served
) -> None:
    from playwright.sync_api import expect

    headline = "Flooding at Garissa"
    served.post_alert("garissa-flood", headline=headline, polygon=GARISSA_AREA)
    request = file_request(served, location={"type": "Point", "coordinates": GARISSA})
    seen = visit()
    seen.open("/")
    seen.wait_for_map()
    page = seen.page
    # Signed out: no requests, no legend for them.
    expect(page.locator("#requests-legend")).to_have_count(0)
    sign_in(seen, served.office)
    legend = page.locator("#requests-legend")
    expect(legend.get_by_role("heading", name="Assistance requests")).to_be_visible(timeout=10_000)
    words = [w.strip().lower() for w in legend.locator("li").all_inner_texts()]
    assert len(words) == len(STATES) and all(state in " ".join(words) for state in STATES), words
    expect(legend.locator(".layer-source")).to_contain_text(
        re.compile(r"Source: the assistance requests filed with this service .* read (now|\d+ seconds? ago)")
    )
    # The map centred on the request (the alert's area around it): Enter names it.
    item = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=headline))
    item.get_by_role("button", name="Show on the map").click()
    page.wait_for_timeout(500)
    page.locator("#map canvas").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#map [role=status]")).to_contain_text(
        f"Under the cross, assistance requests: {request['title']} (open)"
    )
    # Signed out again: the legend goes with the requests.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#requests-legend")).to_have_count(0)


def test_the_base_map_names_its_natural_earth_version_and_offline_the_alerts_are_not_said_live(
    visit: Any, served: Served
) -> None:
    from playwright.sync_api import expect

    told = httpx.get(f"{served.base}/api/v1/basemap", timeout=10).json()
    version = told["countries_source"]["version"]
    assert version
    seen = visit()
    seen.open("/")
    seen.wait_for_map()
    page = seen.page
    attribution = page.locator(".maplibregl-ctrl-attrib-inner")
    expect(attribution).to_contain_text(f"Natural Earth {version} (public domain)")
    expect(attribution).to_contain_text("Alerts: live from this service.", timeout=10_000)
    # After one visit, offline: the page shows the kept list, and the map does not call it live.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    page.wait_for_timeout(1_500)
    seen.context.set_offline(True)
    page.reload()
    expect(page.locator("#status")).to_have_attribute("data-live", "false", timeout=10_000)
    expect(attribution).to_contain_text("Alerts: not live, as known", timeout=15_000)
    expect(attribution).not_to_contain_text("Alerts: live")
    seen.context.set_offline(False)
    expect(attribution).to_contain_text("Alerts: live from this service.", timeout=10_000)
