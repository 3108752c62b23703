"""Browser sessions: a token exchanged for a cookie (HttpOnly, SameSite=Strict, Secure over
https) that authenticates REST; writes by cookie need the CSRF header; signing out and revoking
the token end the session."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import ServiceUnderTest, make_cap


def _attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    attributes = {"name": name, "value": value}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        attributes[key.lower()] = val
    return attributes


async def test_a_token_becomes_a_session_cookie_that_authenticates(service: ServiceUnderTest) -> None:
    token = await service.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
    client = service.client
    anonymous = await client.get("/api/v1/session")
    assert anonymous.status_code == 401
    # A companion left from an ended session is cleared with the honest 401.
    assert _cookies(anonymous)["tampere_signed_in"]["max-age"] == "0"
    wrong = await client.post("/api/v1/session", json={"token": "not-a-token"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers

    opened = await client.post("/api/v1/session", json={"token": token})
    assert opened.status_code == 201, opened.text
    cookie = _cookies(opened)["tampere_session"]
    assert len(cookie["value"]) >= 43
    assert {"httponly", "path", "samesite", "max-age"} <= set(cookie) and "secure" not in cookie
    assert cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert token not in opened.text and cookie["value"] != token
    # Its companion tells the page a session may exist, so that a page without one does not
    # ask: readable by script (no HttpOnly), no secret in it, otherwise the same cookie.
    companion = _cookies(opened)["tampere_signed_in"]
    assert companion["value"] == "1" and "httponly" not in companion
    assert {k: companion[k] for k in ("path", "samesite", "max-age")} == {
        k: cookie[k] for k in ("path", "samesite", "max-age")
    }
    assert opened.json()["principal"] == "administration:KEN"

    client.cookies.clear()  # sent by hand below, as a browser would
    jar = {"Cookie": f"tampere_session={cookie['value']}"}
    me = await client.get("/api/v1/session", headers=jar)
    assert me.status_code == 200 and me.json()["country"] == "KEN"
    # A write by cookie must carry the header no other origin's page can add.
    forged = await client.post(
        "/api/v1/alerts", content=make_cap("S-1"), headers={**jar, "Content-Type": "application/cap+xml"}
    )
    assert forged.status_code == 403 and forged.json()["errors"][0]["rule"] == "auth.session.csrf"
    posted = await client.post(
        "/api/v1/alerts",
        content=make_cap("S-1"),
        headers={**jar, "Content-Type": "application/cap+xml", "X-Requested-With": "tampere"},
    )
    assert posted.status_code == 201, posted.text

    # Signing out ends it; the browser is told to forget the cookie.
    ended = await client.delete("/api/v1/session", headers=jar)
    assert ended.status_code == 204
    assert {name: c["max-age"] for name, c in _cookies(ended).items()} == {
        "tampere_session": "0",
        "tampere_signed_in": "0",
    }
    await _wait_refused(client, jar)
    # The token itself still works.
    assert (
        await client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


def _cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Each cookie a response sets, by name, with its attributes."""
    return {c["name"]: c for c in map(_attributes, response.headers.get_list("set-cookie"))}


async def _wait_refused(client: httpx.AsyncClient, jar: dict[str, str]) -> httpx.Response:
    import asyncio

    for _ in range(30):  # the credential cache holds a hit for half a second at most
        answer = await client.get("/api/v1/session", headers=jar)
        if answer.status_code == 401:
            assert answer.json()["errors"][0]["rule"] == "auth.session.unknown"
            assert "max-age=0" in answer.headers["set-cookie"].lower()
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError("the ended session still authenticates")


async def test_revoking_the_token_ends_its_sessions(service: ServiceUnderTest) -> None:
    operator = {"Authorization": f"Bearer {await service.token('operator')}"}
    created = (await service.client.post("/api/v1/tokens", json={"role": "bdt"}, headers=operator)).json()
    opened = await service.client.post(
        "/api/v1/session", headers={"Authorization": f"Bearer {created['token']}"}
    )
    service.client.cookies.clear()
    jar = {"Cookie": f"tampere_session={opened.cookies['tampere_session']}"}
    assert (await service.client.get("/api/v1/session", headers=jar)).status_code == 200
    await service.client.delete(f"/api/v1/tokens/{created['id']}", headers=operator)
    await _wait_refused(service.client, jar)


async def test_the_cookie_is_secure_over_https(service: ServiceUnderTest, tmp_path: Path) -> None:
    token = await service.token("responder")
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://tampere.test") as https:
        opened = await https.post("/api/v1/session", json={"token": token})
    assert opened.status_code == 201
    assert all("secure" in cookie for cookie in _cookies(opened).values())
    assert set(_cookies(opened)) == {"tampere_session", "tampere_signed_in"}
