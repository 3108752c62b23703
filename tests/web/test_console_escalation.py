"""An office sees an escalation happen in its console, in real Chromium against a `tampere serve`
whose acknowledgement deadlines are seconds: the alert routed to it is not acknowledged, and the
console's log says, without reload, within the deadline and 5 s, to whom it was escalated."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import NAIROBI, Served, serve
from tests.web.test_console import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEADLINE_SECONDS = 4


@pytest.fixture(scope="module")
def served(web_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The server with every priority's acknowledgement deadline a few seconds long."""
    yield from serve(
        web_dist,
        tmp_path_factory,
        TAMPERE_ACK_FLASH_SECONDS=str(DEADLINE_SECONDS),
        TAMPERE_ACK_URGENT_SECONDS=str(DEADLINE_SECONDS),
        TAMPERE_ACK_ROUTINE_SECONDS=str(DEADLINE_SECONDS),
    )


def test_an_escalation_appears_live_in_the_console_saying_to_whom(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    seen = visit()
    seen.open("/")
    sign_in(seen, served.office)
    page = seen.page
    headline = f"Escalating flood {uuid.uuid4().hex[:8]}"
    posted_at = time.monotonic()
    alert = served.post_alert(f"esc-{uuid.uuid4().hex[:8]}", headline=headline, polygon=NAIROBI)
    expect(page.locator(f"[data-inbox-alert='{alert['id']}']")).to_contain_text(headline)
    entry = (
        page.locator("#console-body ol.log li")
        .filter(has_text="Alert escalated")
        .filter(has_text=f"#{alert['id']}")
    )
    left = DEADLINE_SECONDS + 5 - (time.monotonic() - posted_at)
    expect(entry.first).to_be_visible(timeout=max(100, left * 1000))
    # Who did not acknowledge, and to whom it went: the office's own chain, from the event.
    text = entry.first.inner_text()
    assert "ro-addis-ababa did not acknowledge in time: escalated to " in text, text
    assert text.split("escalated to ")[-1].strip(), text
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
