"""Answers to reads without a credential are marked `X-Tampere-Audience: public` (what the web
app's service worker may keep for offline use); answers to a token, a session or a write never
are."""

from __future__ import annotations

from typing import Any

HEADER = "x-tampere-audience"


async def test_only_answers_to_anonymous_requests_are_marked_public(service: Any) -> None:
    for path in ("/api/v1/alerts", "/api/v1/countries", "/api/v1/layers", "/api/v1/alerts/999999"):
        answer = await service.client.get(path)
        assert answer.headers.get(HEADER) == "public", (path, answer.status_code)

    kenya = await service.token("administration", country="KEN")
    with_token = await service.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {kenya}"})
    assert with_token.status_code == 200 and HEADER not in with_token.headers

    opened = await service.client.post("/api/v1/session", json={"token": kenya})
    assert opened.status_code == 201, opened.text
    assert HEADER not in opened.headers  # the token was in its body
    in_session = await service.client.get("/api/v1/alerts")  # the client keeps the session cookie
    assert in_session.status_code == 200 and HEADER not in in_session.headers
    service.client.cookies.clear()
    assert (await service.client.get("/api/v1/alerts")).headers.get(HEADER) == "public"
