"""Assistance requests on the map in real Chromium: a signed-in principal who may see a request
finds it drawn at its location (or its country), with its state in words and symbol; the state
follows the request live; a principal who may not see it finds nothing drawn."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import run_tampere
from tests.web.conftest import Served
from tests.web.test_console import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GARISSA = [39.65, -0.45]


def file_request(served: Served, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "equipment",
        "title": f"Terminals {uuid.uuid4().hex[:8]}",
        "description": "Satellite terminals for the county emergency operations centre",
        "urgency": "immediate",
        "items": [{"item": "BGAN terminal", "quantity": 4}],
        "contact": {"name": "Duty officer"},
        **extra,
    }
    response = httpx.post(
        f"{served.base}/api/v1/requests",
        json=body,
        headers={"Authorization": f"Bearer {served.administration}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def drawn_requests(seen: Any) -> dict[int, str]:
    text = seen.page.get_attribute("#map", "data-requests") or ""
    return {int(pair.split(":")[0]): pair.split(":", 1)[1] for pair in text.split()}


def test_a_request_is_drawn_at_its_location_with_its_state_and_follows_it(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    located = file_request(served, location={"type": "Point", "coordinates": GARISSA})
    whole = file_request(served)
    seen = visit()
    seen.open()
    seen.wait_for_map()
    sign_in(seen, served.office)
    drawn = seen.page.locator("#map")
    expect(drawn).to_have_attribute(
        "data-requests", re.compile(rf"(^| ){located['id']}:open( |$)"), timeout=15_000
    )
    assert {located["id"]: "open", whole["id"]: "open"}.items() <= drawn_requests(seen).items()
    # MapLibre rendered both badges (what the map really drew in the view, not only its data).
    expect(drawn).to_have_attribute(
        "data-rendered-requests", re.compile(rf"(^| ){whole['id']}( |$)"), timeout=15_000
    )
    rendered = {int(v) for v in (seen.page.get_attribute("#map", "data-rendered-requests") or "").split()}
    assert {located["id"], whole["id"]} <= rendered
    # The office commits: the state on the map follows without a reload.
    committed = httpx.post(
        f"{served.base}/api/v1/requests/{located['id']}/messages",
        json={"type": "CommitResource", "items": [{"element_id": 1, "quantity": 4}]},
        headers={"Authorization": f"Bearer {served.office}"},
        timeout=30,
    )
    assert committed.status_code == 201, committed.text
    expect(drawn).to_have_attribute(
        "data-requests", re.compile(rf"(^| ){located['id']}:in-progress( |$)"), timeout=10_000
    )
    # The console lists the same request, with its state in words.
    expect(seen.page.get_by_text(located["title"], exact=True)).to_be_visible()


def test_who_may_not_see_a_request_finds_none_on_the_map(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    file_request(served, location={"type": "Point", "coordinates": GARISSA})
    # Anonymous: nothing drawn.
    seen = visit()
    seen.open()
    seen.wait_for_map()
    seen.page.wait_for_timeout(1_000)
    assert drawn_requests(seen) == {}
    assert seen.page.get_attribute("#map", "data-requests-loaded") is None
    # Another region's office, signed in: the layer is asked for and stays empty, while the
    # office Kenya's request is routed to sees it.
    done = run_tampere(
        "token",
        "create",
        "--role",
        "office",
        "--office",
        "ro-bangkok",
        data_dir=served.data_dir,
        env={"TAMPERE_DATABASE_URL": ""},
    )
    assert done.returncode == 0, done.stderr
    bangkok = visit()
    bangkok.open()
    bangkok.wait_for_map()
    sign_in(bangkok, done.stdout.split()[0])
    # Asked and answered for this session (not merely the empty layer of the signed-out page).
    expect(bangkok.page.locator("#map")).to_have_attribute("data-requests-loaded", "true", timeout=10_000)
    assert drawn_requests(bangkok) == {}
    addis = visit()
    addis.open()
    addis.wait_for_map()
    sign_in(addis, served.office)
    expect(addis.page.locator("#map")).to_have_attribute(
        "data-requests", re.compile(r":open"), timeout=15_000
    )
