"""Alerts as a reader meets them, in real Chromium against `tampere serve`: several alerts under one
point of the map are each opened by keyboard from a small chooser; CAP text says its own language
(WCAG 2.2 SC 3.1.2) on the Arabic page; lists of countries are written as the page's language
writes a list (Intl.ListFormat), not joined with an English comma."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import make_cap
from tests.web.conftest import ROOT, Served, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# CAP polygons (lat,lon): one area for two alerts (near Voi, Kenya), and one across the Kenya and
# Tanzania border at Taveta.
SHARED_AREA = "-3.6,38.3 -3.6,38.8 -3.2,38.8 -3.2,38.3 -3.6,38.3"
ACROSS_THE_BORDER = "-3.7,37.3 -3.7,38.0 -3.1,38.0 -3.1,37.3 -3.7,37.3"
# The interface's translations, to say what the page should write.
WEB = ROOT / "web"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def post_as_operator(served: Served, cap: bytes) -> dict[str, Any]:
    """The operator may post for any area (an administration only for its own)."""
    response = httpx.post(
        f"{served.base}/api/v1/alerts",
        content=cap,
        headers={"Authorization": f"Bearer {served.operator}", "Content-Type": "application/cap+xml"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_several_alerts_under_the_cross_are_each_opened_by_keyboard_from_a_chooser(
    visit: Any, served: Served
) -> None:
    from playwright.sync_api import expect

    headlines = [unique("Flood at Voi"), unique("Landslide at Voi")]
    ids = [served.post_alert(unique("here"), headline=h, polygon=SHARED_AREA)["id"] for h in headlines]
    seen = visit(bypass_csp=True)  # axe-core is injected inline
    seen.open("/")
    page = seen.page
    seen.wait_for_map()
    item = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=headlines[0]))
    item.get_by_role("button", name="Show on the map").click()
    page.wait_for_function(
        "ids => ids.every((id) => "
        "(document.getElementById('map').dataset.drawnIds || '').split(' ').includes(String(id)))",
        arg=ids,
        timeout=10_000,
    )
    page.wait_for_timeout(300)
    canvas = page.locator("#map canvas")
    canvas.focus()
    page.keyboard.press("Enter")
    chooser = page.get_by_role("dialog", name="2 alerts here: which one to open?")
    expect(chooser).to_be_visible()
    # Both headlines offered; focus on the first choice; the arrow key moves to the other.
    choices = chooser.locator("button.choice")
    expect(choices).to_have_count(2)
    assert serious_violations(page) == []
    assert sorted(choices.all_inner_texts()) == sorted(f"Severe {h}" for h in headlines)
    first = page.evaluate("document.activeElement.dataset.alert")
    assert first in {str(i) for i in ids}
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.dataset.alert")
    assert {first, second} == {str(i) for i in ids}
    wanted = headlines[ids.index(int(second))]
    page.keyboard.press("Enter")
    expect(chooser).to_have_count(0)
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", level=2, name=wanted)).to_be_visible()
    # The panel closes back onto the map; Escape closes the chooser, focus again on the map.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement.tagName") == "CANVAS"
    page.keyboard.press("Enter")
    expect(chooser).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Close"
    page.keyboard.press("Escape")
    expect(chooser).to_have_count(0)
    assert page.evaluate("document.activeElement.tagName") == "CANVAS"
    expect(panel).to_be_hidden()


def test_the_arabic_page_says_the_language_of_cap_text_and_writes_lists_in_arabic(
    visit: Any, served: Served
) -> None:
    from playwright.sync_api import expect

    headline = unique("Heavy rain across the border")
    cap = make_cap(unique("border"), headline=headline, polygon=ACROSS_THE_BORDER).decode()
    # A British English <info> with two categories.
    cap = cap.replace(
        "<info><category>Met</category>",
        "<info><language>en-GB</language><category>Met</category><category>Geo</category>",
    )
    alert = post_as_operator(served, cap.encode())
    plain = unique("Flood without a language")
    served.post_alert(unique("plain"), headline=plain)
    seen = visit(locale="ar-EG")
    seen.open("/?lang=ar")
    page = seen.page
    button = page.locator(f"[data-alert='{alert['id']}'] button.open")
    expect(button).to_have_text(headline)
    # Its <info>'s language, its direction found from the text; CAP's default en-US otherwise.
    expect(button).to_have_attribute("lang", "en-GB")
    expect(button).to_have_attribute("dir", "auto")
    expect(page.locator("button.open", has_text=plain)).to_have_attribute("lang", "en-US")
    # The page itself stays Arabic, and so does what the page writes (the severity).
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    # The countries as Arabic writes a list: "كينيا وتنزانيا", no Latin comma.
    names = page.evaluate(
        "() => ['KE', 'TZ'].map((c) => new Intl.DisplayNames(['ar'], { type: 'region' }).of(c))"
    )
    where = page.locator(f"[data-alert='{alert['id']}'] .where").inner_text()
    assert f"{names[0]} و{names[1]}" in where or f"{names[1]} و{names[0]}" in where, where
    assert ", " not in where.split(" — ")[0], where
    # The panel likewise: its headline, event, areas in the info's language; its categories and
    # countries as an Arabic list.
    button.click()
    panel = page.locator("#panel")
    title = panel.locator("#panel-title")
    expect(title).to_have_text(headline)
    expect(title).to_have_attribute("lang", "en-GB")
    expect(panel.locator("li[lang='en-GB']", has_text="Nairobi")).to_have_count(1)
    vocabulary = json.loads((WEB / "src/i18n/ar.json").read_text(encoding="utf-8"))["vocab"]["category"]
    expect(panel.locator("dd", has_text=f"{vocabulary['Met']} و{vocabulary['Geo']}")).to_have_count(1)
    both = [f"{names[0]} و{names[1]}", f"{names[1]} و{names[0]}"]
    assert panel.locator("dd").filter(has_text=re.compile("|".join(both))).count() == 1
