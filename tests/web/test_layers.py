"""The connectivity layers in real Chromium against `tampere serve`, with the shared samples
imported by `tampere layer import`: the layer control works by keyboard (and Enter on the map
says what the layers show at its cross), says each layer's
source, file, age and licence, draws cell sites (a grid far out, the sites close in, outages
marked), compares Ookla quarters, shows cable landings, shows from an alert's panel the network as
it stood when the alert began, draws a view seen online again offline (saying it is a kept copy),
and axe-core finds nothing serious with every layer on, in English and Arabic."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED, make_cap, run_tampere
from tests.web.conftest import AXE, Served, artifact, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OPENCELLID = SHARED / "data/telecom/opencellid/OCID-diff-cell-export-2022-09-10-T000000.csv"
OOKLA = SHARED / "data/telecom/ookla"
CABLES = SHARED / "data/cables/telegeography_cc_2022"
# CAP polygons (lat,lon): a small piece of central Berlin (dense in the OpenCelliD sample) and Guam.
BERLIN = "52.49,13.36 52.49,13.42 52.53,13.42 52.53,13.36 52.49,13.36"
GUAM = "13.2,144.6 13.2,145.0 13.7,145.0 13.7,144.6 13.2,144.6"
# An operator's outage report inside the Berlin alert.
OUTAGE = {
    "type": "Polygon",
    "coordinates": [[[13.37, 52.50], [13.40, 52.50], [13.40, 52.52], [13.37, 52.52], [13.37, 52.50]]],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def layered(served: Served) -> Iterator[dict[str, str]]:
    """The samples imported by the command line into the served store, picked up by a reload; an
    outage reported; alerts over Berlin and Guam (posted by the operator) to frame the map on."""
    files = [
        ("opencellid", OPENCELLID),
        ("ookla", OOKLA / "guam_mobile_tiles_2023Q1.geojson"),
        ("ookla", OOKLA / "guam_mobile_tiles_2023Q2.geojson"),
        ("cables", CABLES),
    ]
    for kind, path in files:
        if not path.exists():
            pytest.skip(f"shared data not present: {path}")
        done = run_tampere(
            "layer", "import", kind, str(path), data_dir=served.data_dir, env={"TAMPERE_DATABASE_URL": ""}
        )
        assert done.returncode == 0, done.stderr
    auth = {"Authorization": f"Bearer {served.operator}"}
    assert httpx.post(f"{served.base}/api/v1/layers/reload", headers=auth, timeout=60).status_code == 200
    reported = httpx.post(
        f"{served.base}/api/v1/network-status",
        json={"state": "down", "area": OUTAGE},
        headers=auth,
        timeout=30,
    )
    assert reported.status_code == 201, reported.text
    headlines = {"berlin": unique("Storm over Berlin"), "guam": unique("Typhoon over Guam")}
    for place, polygon in (("berlin", BERLIN), ("guam", GUAM)):
        posted = httpx.post(
            f"{served.base}/api/v1/alerts",
            content=make_cap(unique(place), headline=headlines[place], polygon=polygon),
            headers={**auth, "Content-Type": "application/cap+xml"},
            timeout=30,
        )
        assert posted.status_code == 201, posted.text
    yield headlines


def open_with_layers(visit: Any, path: str = "/", **options: Any) -> Any:
    seen = visit(**options)
    seen.open(path)
    seen.wait_for_map()
    seen.page.wait_for_selector("#layers[data-ready]", state="attached", timeout=15_000)
    return seen


def tab_to(page: Any, element_id: str, limit: int = 150) -> None:
    """Press Tab until the element with this id has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def show_on_map(page: Any, headline: str) -> None:
    """The list's "Show on the map" of an alert: the map frames its area."""
    item = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=headline))
    item.get_by_role("button", name="Show on the map").click()


def drawn(page: Any, name: str) -> int:
    value = page.get_attribute("#layers", f"data-drawn-{name}") or "0"
    return int(value)


def wait_drawn(page: Any, name: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "name => Number(document.getElementById('layers').dataset['drawn' + name]) > 0",
        arg=name[0].upper() + name[1:],
        timeout=timeout,
    )


def test_cell_sites_by_keyboard_a_grid_far_out_sites_and_outages_close_in(
    visit: Any, served: Served, layered: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    seen = open_with_layers(visit)
    page = seen.page
    control = page.get_by_role("group", name="Connectivity layers")
    expect(control).to_be_visible()
    # Source, file, age and licence, from GET /api/v1/layers, in the control.
    source = page.locator("#layer-sites-source")
    expect(source).to_contain_text("OpenCelliD")
    expect(source).to_contain_text(OPENCELLID.name)
    expect(source).to_contain_text("CC BY-SA 4.0")
    expect(source).to_contain_text(re.compile(r"imported (now|\d+ seconds? ago|\d+ minutes? ago)"))

    # By keyboard: Tab to the checkbox (its focus visible), Space turns the layer on.
    tab_to(page, "layer-sites")
    focused = page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return {visible: e.matches(':focus-visible'), outline: s.outlineStyle, width: s.outlineWidth}; })()"
    )
    assert focused["visible"] and focused["outline"] != "none" and focused["width"] != "0px", focused
    page.keyboard.press("Space")
    expect(page.locator("#layer-sites")).to_be_checked()
    # The whole world: the service's grid, drawn.
    view = page.locator("#layer-sites-view")
    expect(view).to_have_attribute("data-state", "ready", timeout=15_000)
    expect(view).to_have_attribute("data-aggregated", "true")
    wait_drawn(page, "sites")
    expect(view).to_contain_text(re.compile(r"In view: [\d,]+ cell sites"))
    # The legend says what each mark means, with the same source line.
    legend = page.locator("#layer-legend")
    expect(legend.get_by_text("Site down (square with a cross)")).to_be_visible()
    expect(legend).to_contain_text(OPENCELLID.name)

    # Close in over Berlin: the sites themselves, those in the reported outage marked down.
    show_on_map(page, layered["berlin"])
    page.locator("#map canvas").focus()
    for _ in range(6):
        if view.get_attribute("data-aggregated") == "false":
            break
        page.keyboard.press("Equal")  # MapLibre's keyboard zoom in (+)
        page.wait_for_timeout(700)
    expect(view).to_have_attribute("data-aggregated", "false", timeout=15_000)
    expect(view).to_have_attribute("data-state", "ready")
    wait_drawn(page, "sites")
    expect(view).to_contain_text(re.compile(r"In view: [\d,]+ cell sites, [1-9][\d,]* down"))
    page.screenshot(path=str(artifact("layers-sites-en.png")), full_page=True)

    # Outage reports as a layer of their own, by keyboard too.
    tab_to(page, "layer-outages")
    page.keyboard.press("Space")
    outages = page.locator("#layer-outages-view")
    expect(outages).to_contain_text(re.compile(r"In view: 1 report, 1 saying down"), timeout=15_000)
    wait_drawn(page, "outages")
    # Status as of a week ago: before the report, no outage.
    page.locator("#layer-outages-asof").select_option("7d")
    expect(outages).to_contain_text("In view: no report", timeout=15_000)
    expect(view).to_contain_text(re.compile(r"In view: [\d,]+ cell sites, 0 down"), timeout=15_000)
    # A time of the reader's choosing: after the report, the outage again; before it, none.
    page.locator("#layer-sites-asof").select_option("custom")
    later = datetime.now() + timedelta(minutes=5)
    page.locator("#layer-sites-time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    expect(outages).to_contain_text(re.compile(r"In view: 1 report, 1 saying down"), timeout=15_000)
    expect(view).to_contain_text(re.compile(r"In view: [\d,]+ cell sites, [1-9][\d,]* down"), timeout=15_000)
    expect(page.locator("#layer-outages-asof")).to_have_value("custom")
    # At the keyboard's cross (the Berlin alert's centre, inside the reported area) Enter says
    # what the layers show there besides opening the alerts.
    page.locator("#map canvas").focus()
    page.keyboard.press("Enter")
    said = page.locator("#map [role=status]")
    expect(said).to_contain_text("1 alert here")
    expect(said).to_contain_text("Under the cross, Outage reports: 1 report, 1 saying down.")
    expect(said).to_contain_text(
        re.compile(r"Under the cross, Cell sites: (no cell site|[\d,]+ cell sites?)")
    )
    page.keyboard.press("Escape")
    page.locator("#layer-outages-time").fill("2020-01-01T00:00")
    expect(view).to_contain_text(re.compile(r"In view: [\d,]+ cell sites, 0 down"), timeout=15_000)
    # Off again by keyboard: nothing of the layer is drawn.
    tab_to(page, "layer-sites")
    page.keyboard.press("Space")
    expect(page.locator("#layer-sites")).not_to_be_checked()
    page.wait_for_function("() => document.getElementById('layers').dataset.drawnSites === '0'")


def test_measured_performance_before_and_after_and_cable_landings(
    visit: Any, served: Served, layered: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    seen = open_with_layers(visit)
    page = seen.page
    expect(page.locator("#layer-performance-source")).to_contain_text("CC BY-NC-SA 4.0")
    expect(page.locator("#layer-landings-source")).to_contain_text("TeleGeography")
    show_on_map(page, layered["guam"])
    page.get_by_label("Measured performance (Ookla)").check()
    # The latest quarter against the one before it, by default.
    expect(page.get_by_label("Quarter")).to_have_value("2023Q2")
    expect(page.get_by_label("Compare with")).to_have_value("2023Q1")
    view = page.locator("#layer-performance-view")
    expect(view).to_contain_text(re.compile(r"Mbps download on average in 2023Q2"), timeout=15_000)
    expect(view).to_contain_text(re.compile(r"Same tiles in 2023Q1: [\d.]+ Mbps \(-\d+ %\)"))
    wait_drawn(page, "performance")
    expect(page.locator("#layer-legend")).to_contain_text("Arrow down: at least 25 % slower")
    source = page.locator("#layer-performance-source")
    expect(source).to_contain_text("guam_mobile_tiles_2023Q2.geojson")
    # No comparison: the quarter alone; another quarter: its own file named as the source.
    page.get_by_label("Compare with").select_option("")
    expect(view).not_to_contain_text("Same tiles", timeout=15_000)
    page.get_by_label("Quarter").select_option("2023Q1")
    expect(view).to_contain_text("Mbps download on average in 2023Q1", timeout=15_000)
    expect(source).to_contain_text("guam_mobile_tiles_2023Q1.geojson")
    expect(page.locator("#layer-legend")).to_contain_text("guam_mobile_tiles_2023Q1.geojson")

    page.get_by_label("Submarine cable landings").check()
    landings = page.locator("#layer-landings-view")
    expect(landings).to_contain_text(re.compile(r"In view: \d+ landing points"), timeout=15_000)
    wait_drawn(page, "landings")
    page.screenshot(path=str(artifact("layers-guam-en.png")), full_page=True)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_axe_finds_no_serious_violation_with_every_layer_on(
    visit: Any, served: Served, layered: dict[str, str], language: str
) -> None:
    from playwright.sync_api import expect

    if not AXE.is_file():
        pytest.skip(f"{AXE} is absent: `npm ci` in web/ installs axe-core")
    seen = open_with_layers(visit, f"/?lang={language}", bypass_csp=True)
    page = seen.page
    for name in ("sites", "outages", "performance", "landings"):
        page.locator(f"#layer-{name}").check()
        expect(page.locator(f"#layer-{name}-view")).to_have_attribute("data-state", "ready", timeout=15_000)
    if language == "ar":
        expect(page.get_by_role("group", name="طبقات الاتصال")).to_be_visible()
        expect(page.locator("#layer-sites-source")).to_contain_text("المصدر")
        page.screenshot(path=str(artifact("layers-ar.png")), full_page=True)
    assert serious_violations(page) == []


def test_a_layer_view_seen_online_is_drawn_offline_and_said_to_be_a_kept_copy(
    visit: Any, served: Served, layered: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    seen = open_with_layers(visit)
    page = seen.page
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    show_on_map(page, layered["guam"])
    page.get_by_label("Submarine cable landings").check()
    landings = page.locator("#layer-landings-view")
    expect(landings).to_contain_text(re.compile(r"In view: \d+ landing points"), timeout=15_000)
    online = landings.text_content()
    wait_drawn(page, "landings")
    expect(landings).not_to_have_attribute("data-stale", "true")

    seen.context.set_offline(True)
    page.reload()
    seen.wait_for_map()
    page.wait_for_selector("#layers[data-ready]", state="attached", timeout=15_000)
    show_on_map(page, layered["guam"])
    page.get_by_label("Submarine cable landings").check()
    expect(landings).to_have_attribute("data-stale", "true", timeout=15_000)
    expect(landings).to_contain_text(re.compile(r"Offline: the copy kept .+ago|Offline: the copy kept now"))
    assert online is not None and online.split(".")[0] in (landings.text_content() or "")
    wait_drawn(page, "landings")
    seen.context.set_offline(False)


def test_an_alerts_panel_shows_the_network_as_it_stood_when_the_alert_began(
    visit: Any, served: Served, layered: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    seen = open_with_layers(visit)
    page = seen.page
    headline = layered["berlin"]
    item = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=headline))
    item.get_by_role("button", name=headline).click()
    expect(page.locator("#panel h2")).to_have_text(headline)
    page.get_by_role("button", name="Network before this alert").click()

    # Sites and outage reports on, their status as of the alert's sent time (tests.conftest's
    # make_cap: 2026-03-01 12:00 UTC), said in words beside the map.
    for name in ("sites", "outages"):
        expect(page.locator(f"#layer-{name}")).to_be_checked()
        expect(page.locator(f"#layer-{name}-asof")).to_have_value("custom")
    sent_local = page.evaluate(
        "new Date(Date.UTC(2026, 2, 1, 12, 0)).toLocaleString('sv').slice(0, 16).replace(' ', 'T')"
    )
    expect(page.locator("#layer-sites-time")).to_have_value(sent_local)
    expect(page.locator("#map [role=status]")).to_contain_text("when this alert began")
    # The outage in Berlin was reported after that (when the fixture ran): not yet there then,
    # there now.
    outages = page.locator("#layer-outages-view")
    expect(outages).to_contain_text("In view: no report", timeout=15_000)
    expect(page.locator("#layer-sites-view")).to_contain_text(re.compile(r"In view: [\d,]+ cell sites"))
    page.locator("#layer-outages-asof").select_option("now")
    expect(outages).to_contain_text(re.compile(r"In view: \d+ reports?, \d+ saying down"), timeout=15_000)
