"""Bounded work for every message at POST /api/v1/alerts, over real sockets to a real `tampere
serve`: a message asking for more than cap.limits allows (100,000 circles in 3 MB, a 1 MB
identifier) is answered 422 in the one error shape, naming the rule and the place, within a
bounded time and without the server's memory growing past a bound, while /healthz keeps
answering; the same server then takes an ordinary alert.
"""

from __future__ import annotations

import threading
import time

import httpx

from cap.limits import DEFAULT_LIMITS
from tests.conftest import make_cap
from tests.service import test_http
from tests.service.test_http import PROBLEM, Server

# One real server for this module, as tests/service/test_http.py starts it.
server = test_http.server

CIRCLES = 100_000


def circles(n: int) -> str:
    return "".join(f"<circle>{-1.3 + i * 1e-6:.6f},36.8 5</circle>" for i in range(n))


def post(server: Server, body: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/cap+xml"}
    return httpx.post(f"{server.base}/api/v1/alerts", content=body, headers=headers, timeout=60)


def test_a_hundred_thousand_circles_are_refused_quickly_while_healthz_answers(server: Server) -> None:
    body = make_cap("LIMITS-CIRCLES", polygon=None, area_xml=f"<areaDesc>many</areaDesc>{circles(CIRCLES)}")
    assert len(body) > 3_000_000  # within the 8 MiB body limit: the count must refuse it
    rss_before = server.rss_bytes()
    answers: list[httpx.Response] = []
    took: list[float] = []

    def send() -> None:
        started = time.monotonic()
        answers.append(post(server, body))
        took.append(time.monotonic() - started)

    worker = threading.Thread(target=send)
    worker.start()
    worst = 0.0
    polls = 0
    with httpx.Client(timeout=10) as client:
        while worker.is_alive():
            started = time.monotonic()
            assert client.get(f"{server.base}/healthz").status_code == 200
            worst = max(worst, time.monotonic() - started)
            polls += 1
            time.sleep(0.01)
    worker.join()
    response = answers[0]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    limit = DEFAULT_LIMITS.circles
    assert [(e["rule"], e["path"]) for e in response.json()["errors"]] == [
        ("cap.limits.circles", f"/alert/info[1]/area[1]/circle[{limit + 1}]")
    ]
    # Upload, parse and refusal of 3 MB on two shared cores; the issue measured 29 s of CPU.
    assert took[0] < 5.0, took
    assert worst < 0.5, f"/healthz waited {worst:.2f} s"
    # The parsed tree is let go: the server holds no more than a bounded growth afterwards
    # (the issue: 630 MB never released).
    assert server.rss_bytes() - rss_before < 150 * 1024 * 1024


def test_a_one_megabyte_identifier_is_refused_and_never_reaches_an_event(server: Server) -> None:
    response = post(server, make_cap("A" * 1_000_000))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [(e["rule"], e["path"]) for e in problem["errors"]] == [("cap.limits.length", "/alert/identifier")]
    assert len(response.content) < 10_000  # the value is not sent back
    # The server goes on taking ordinary alerts.
    ordinary = post(server, make_cap("LIMITS-ORDINARY"))
    assert ordinary.status_code == 201, ordinary.text


def test_circles_at_the_bound_are_taken(server: Server) -> None:
    body = make_cap(
        "LIMITS-AT-BOUND",
        polygon=None,
        area_xml=f"<areaDesc>many</areaDesc>{circles(DEFAULT_LIMITS.circles)}",
    )
    response = post(server, body)
    assert response.status_code == 201, response.text


async def test_a_message_past_the_readers_size_is_413_even_under_a_raised_body_limit(tmp_path) -> None:
    # An operator may raise TAMPERE_MAX_BODY_BYTES past what the CAP reader takes (8 MiB): the
    # message then passes the HTTP edge and is refused by the reader, as Content Too Large.
    from service.app import create_app
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", database_url="", max_body_bytes=16 * 1024 * 1024)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        from tests.conftest import ServiceUnderTest

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tampere.test") as client:
            api = ServiceUnderTest(app=app, client=client, runtime=app.state.runtime)
            token = await api.token("operator")
            resource = b"<resource><resourceDesc>a</resourceDesc><mimeType>audio/mpeg</mimeType><derefUri>"
            body = make_cap("LIMITS-HUGE").replace(
                b"<area>", resource + b"A" * (9 * 1024 * 1024) + b"</derefUri></resource><area>", 1
            )
            response = await api.post(body, token)
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    assert [e["rule"] for e in response.json()["errors"]] == ["cap.xml.too-large"]
