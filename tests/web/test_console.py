"""The office console in real Chromium: an ITU regional office signs in with its token (the page
exchanges it for a session cookie and never puts it in a URL), sees what is routed to it with
its deadlines, acknowledges an alert, works an assistance request through its states, and sees
new requests arrive live through the event stream."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_cap
from tests.web.conftest import NAIROBI, Served

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ACK_MISSING_RULES = {"request.route.unknown", "request.method.not-allowed"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sign_in(seen: Any, token: str) -> None:
    from playwright.sync_api import expect

    page = seen.page
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()
    expect(page.get_by_text("Live stream: connected")).to_be_visible(timeout=5_000)


def file_request(served: Served, title: str) -> dict[str, Any]:
    body = {
        "kind": "equipment",
        "title": title,
        "description": "Satellite terminals for the county emergency operations centre",
        "urgency": "immediate",
        "items": [{"item": "BGAN terminal", "quantity": 4}],
        "contact": {"name": "Duty officer"},
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


def ack_endpoint_missing(served: Served, alert_id: int) -> str | None:
    """Why POST /api/v1/alerts/{id}/ack cannot work on this server (the route is missing), or
    None when it exists. Asked without credentials: an existing route answers 401."""
    response = httpx.post(f"{served.base}/api/v1/alerts/{alert_id}/ack", timeout=10)
    rules = {e.get("rule") for e in response.json().get("errors", [])} if response.content else set()
    if response.status_code in (404, 405) and rules & ACK_MISSING_RULES:
        status = response.status_code
        return f"POST /api/v1/alerts/{{id}}/ack is not on this server yet (answered {status} {rules})"
    return None


def test_an_office_signs_in_and_acknowledges_an_alert_routed_to_it(
    visit: Any, served: Served, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    headline = unique("Console flood")
    alert = served.post_alert(unique("console"), headline=headline, polygon=NAIROBI)
    missing = ack_endpoint_missing(served, alert["id"])
    if missing is not None:
        # The acknowledgement endpoint is another branch's work: the client and this test are
        # ready for it and run to the end; until it lands, the failure is expected.
        request.node.add_marker(pytest.mark.xfail(reason=missing, strict=False))
    seen = visit()
    seen.open("/")
    sign_in(seen, served.office)
    page = seen.page
    inbox_item = page.locator(f"[data-inbox-alert='{alert['id']}']")
    expect(inbox_item).to_contain_text(headline)
    expect(inbox_item).to_contain_text("Acknowledge by")
    # The token is in no URL the page asked for, and not kept by the page's script.
    assert not [url for url in seen.requested if served.office in url]
    assert served.office not in page.evaluate("JSON.stringify(localStorage) + document.cookie")
    inbox_item.get_by_role("button", name="Acknowledge").click()
    expect(inbox_item).to_contain_text("Acknowledged", timeout=5_000)
    expect(inbox_item.get_by_role("button", name="Acknowledge")).to_have_count(0)


def test_an_office_works_an_assistance_request_through_its_states(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    seen = visit()
    seen.open("/")
    sign_in(seen, served.office)
    page = seen.page
    title = unique("Terminals for Nairobi")
    filed = file_request(served, title)
    # Filed after the page opened: it arrives through the event stream, without reload.
    item = page.locator(f"[data-request='{filed['id']}']")
    expect(item).to_contain_text(title, timeout=3_000)
    expect(page.locator(".log")).to_contain_text("New request")
    item.get_by_role("button", name="Acknowledge").click()
    expect(item).to_contain_text("State: acknowledged")
    # A move without a note is refused by the page itself, saying what is missing.
    item.get_by_role("button", name="Mark in progress").click()
    expect(page.get_by_role("alert")).to_contain_text("Write a note")
    item.get_by_label("Note (why)").fill("Four terminals leave Addis Ababa tonight")
    item.get_by_role("button", name="Mark in progress").click()
    expect(item).to_contain_text("State: in progress")
    item.get_by_label("Note (why)").fill("Delivered to the county EOC")
    item.get_by_role("button", name="Mark fulfilled").click()
    expect(item).to_contain_text("State: fulfilled")
    stored = httpx.get(
        f"{served.base}/api/v1/requests/{filed['id']}",
        headers={"Authorization": f"Bearer {served.office}"},
        timeout=10,
    ).json()
    assert stored["state"] == "fulfilled"
    assert [step["state"] for step in stored["history"]][-3:] == ["acknowledged", "in-progress", "fulfilled"]
    assert stored["history"][-1]["note"] == "Delivered to the county EOC"


def test_a_refused_token_is_said_and_signing_out_ends_the_session(visit: Any, served: Served) -> None:
    from playwright.sync_api import expect

    seen = visit()
    seen.open("/")
    page = seen.page
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Sign-in refused")
    sign_in(seen, served.office)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    assert seen.context.request.get(f"{served.base}/api/v1/session").status == 401


def test_the_stream_resumes_from_the_last_event_after_the_service_drops(
    browser: Any, served: Served, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The service restarts under a signed-in page: the page reconnects with ?since=<the last
    id it saw>, and an alert received before it is back is in its log."""
    import os
    import subprocess
    import time

    from playwright.sync_api import expect

    from tests.conftest import free_port, migrated, run_tampere, start_server

    data_dir = migrated(tmp_path_factory.mktemp("restart") / "var")
    office = run_tampere(
        "token",
        "create",
        "--role",
        "office",
        "--office",
        "ro-addis-ababa",
        data_dir=data_dir,
        env={"TAMPERE_DATABASE_URL": ""},
    ).stdout.split()[0]
    administration = run_tampere(
        "token",
        "create",
        "--role",
        "administration",
        "--country",
        "KEN",
        "--sender",
        "alerts@meteo.go.ke",
        data_dir=data_dir,
        env={"TAMPERE_DATABASE_URL": ""},
    ).stdout.split()[0]
    port = free_port()
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "WARNING",
        "TAMPERE_WEB_DIR": os.environ.get(
            "TAMPERE_WEB_DIR", str(Path(__file__).resolve().parents[2] / "web" / "dist")
        ),
    }
    base = f"http://127.0.0.1:{port}"

    def serve() -> subprocess.Popen[bytes]:
        return start_server(env, data_dir.parent / "serve.log", ready_within=60, port=port)[0]

    proc = serve()
    context = browser.new_context(viewport={"width": 1400, "height": 900}, reduced_motion="reduce")
    sockets: list[str] = []
    try:
        page = context.new_page()
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(f"{base}/")
        page.get_by_label("Access token").fill(office)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Live stream: connected")).to_be_visible(timeout=10_000)
        first = httpx.post(
            f"{base}/api/v1/alerts",
            content=make_cap(unique("before"), headline="Before the drop", polygon=NAIROBI),
            headers={"Authorization": f"Bearer {administration}", "Content-Type": "application/cap+xml"},
        )
        assert first.status_code == 201
        expect(page.locator(".log")).to_contain_text("New alert", timeout=5_000)
        proc.terminate()
        proc.wait(timeout=30)
        expect(page.get_by_text("Live stream: reconnecting")).to_be_visible(timeout=10_000)
        time.sleep(2.5)  # the page backs off while the service is away
        proc = serve()
        missed = unique("during")
        posted = httpx.post(
            f"{base}/api/v1/alerts",
            content=make_cap(missed, headline="During the drop", polygon=NAIROBI),
            headers={"Authorization": f"Bearer {administration}", "Content-Type": "application/cap+xml"},
        )
        assert posted.status_code == 201
        expect(page.get_by_text("Live stream: connected")).to_be_visible(timeout=20_000)
        expect(page.locator(".log")).to_contain_text(missed, timeout=5_000)
        # Before signing in the page was on the public stream; the office's own is resumed.
        signed_in = [url for url in sockets if url.split("?")[0].endswith("/api/v1/events")]
        assert len(signed_in) >= 2 and "since=" not in signed_in[0]
        assert all("since=" in url for url in signed_in[1:]), sockets
        assert all(office not in url for url in sockets), "a token in a websocket URL"
    finally:
        context.close()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_axe_finds_no_serious_or_critical_violation_in_the_signed_in_console(
    visit: Any, served: Served, language: str
) -> None:
    from playwright.sync_api import expect

    from tests.web.conftest import AXE, serious_violations

    if not AXE.is_file():
        pytest.skip(f"{AXE} is absent: `npm ci` in web/ installs axe-core")
    served.post_alert(unique("axe-console"), headline=unique("Console axe"), polygon=NAIROBI)
    filed = file_request(served, unique("Axe request"))
    seen = visit(bypass_csp=True)
    seen.open(f"/?lang={language}")
    page = seen.page
    page.locator("#console-token").fill(served.office)
    page.locator(".sign-in button[type=submit]").click()
    expect(page.locator(f"[data-request='{filed['id']}']")).to_be_visible(timeout=5_000)
    assert serious_violations(page) == []


def test_a_signed_in_list_is_never_kept_for_offline_use(visit: Any, served: Served) -> None:
    """The service worker keeps only answers anyone may see: after an administration signed in
    and saw its Restricted alert, the page opened offline on that browser shows the last public
    list, without it (whoever uses the computer next is not shown it)."""
    from playwright.sync_api import expect

    public, restricted = unique("Public flood"), unique("Restricted flood")
    served.post_alert(unique("pub"), headline=public, polygon=NAIROBI)
    served.post_alert(
        unique("res"), headline=restricted, polygon=NAIROBI, scope="Restricted", restriction="Officials only"
    )
    seen = visit()
    seen.open("/")
    page = seen.page

    def listed(headline: str) -> Any:
        return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=headline))

    expect(listed(public)).to_be_visible()
    expect(listed(restricted)).to_have_count(0)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    page.wait_for_timeout(1_500)  # an anonymous poll through the worker: the public list is kept
    sign_in(seen, served.administration)
    expect(listed(restricted)).to_be_visible(timeout=5_000)
    page.wait_for_timeout(1_500)  # polls in the session pass through the worker too

    seen.context.set_offline(True)
    page.reload()
    expect(listed(public)).to_be_visible(timeout=10_000)
    expect(page.locator("#status")).to_have_attribute("data-live", "false")
    expect(listed(restricted)).to_have_count(0)
    kept = page.evaluate(
        """async () => {
            const texts = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) {
                    texts.push(await (await cache.match(request)).text());
                }
            }
            return texts.join('\\n');
        }"""
    )
    assert public in kept and restricted not in kept


def test_the_open_panel_says_an_acknowledgement_made_in_the_console(visit: Any, served: Served) -> None:
    """An acknowledgement changes no list (its ETag stays): the open panel of that alert is read
    again on the acknowledgement and its event, and says it within 2 s."""
    from playwright.sync_api import expect

    headline = unique("Panel ack")
    alert = served.post_alert(unique("panel-ack"), headline=headline, polygon=NAIROBI)
    seen = visit()
    seen.open("/")
    sign_in(seen, served.office)
    page = seen.page
    inbox_item = page.locator(f"[data-inbox-alert='{alert['id']}']")
    inbox_item.get_by_role("button", name="Details").click()
    panel = page.locator("#panel")
    entry = panel.locator("[data-routing='ro-addis-ababa']")
    expect(entry).to_contain_text("not yet acknowledged")
    inbox_item.get_by_role("button", name="Acknowledge").click()
    expect(entry).to_contain_text("acknowledged", timeout=2_000)
    expect(entry).not_to_contain_text("not yet acknowledged", timeout=2_000)
    expect(panel.locator(".history")).to_contain_text("Acknowledged by a recipient")


def test_an_anonymous_page_logs_no_error_and_a_signed_in_reload_keeps_the_session(
    visit: Any, served: Served
) -> None:
    """A page without a session does not ask for one (the 401 a browser would log as an error):
    the session's readable companion cookie says whether to ask. Signed in, a reload finds the
    session again; signed out, the page stops asking."""
    from playwright.sync_api import expect

    served.post_alert(unique("quiet"), headline=unique("Quiet page"), polygon=NAIROBI)
    seen = visit()
    page = seen.page
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text) if message.type == "error" else None)
    asked: list[str] = []
    page.on(
        "request", lambda request: asked.append(request.url) if "/api/v1/session" in request.url else None
    )
    seen.open("/")
    seen.wait_for_map()
    page.wait_for_timeout(1_500)  # the stream, the worker, the polls: anything that would log
    assert logged == [] and asked == []

    sign_in(seen, served.office)
    assert page.evaluate("document.cookie") == "tampere_signed_in=1"  # the session stays HttpOnly
    page.reload()
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=10_000)
    expect(page.locator("[data-key='sign-out']")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    asked.clear()
    page.reload()
    seen.open("/")
    page.wait_for_timeout(1_500)
    assert asked == [] and page.evaluate("document.cookie") == ""
    assert logged == []
