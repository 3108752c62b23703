"""Rate limits at the HTTP edge, with small settings: writes per token and per address, and failed
authentications per address, answered 429 with Retry-After in the one problem shape, and lifted
when the bucket has refilled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from service.app import create_app
from service.auth import create_token
from service.ratelimit import Bucket
from service.settings import Settings
from tests.conftest import KAMPALA, make_cap


@asynccontextmanager
async def limited(tmp_path: Path, **limits: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}",
        poll_enabled=False,
        **limits,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://tampere.test") as client:
            yield app, client


async def _token(app: Any, role: str, **kwargs: Any) -> dict[str, str]:
    token, _ = await app.state.runtime.db.write(lambda conn: create_token(conn, role=role, **kwargs))
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"}


def _assert_rate_limited(answer: httpx.Response, rule: str) -> float:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["request_id"] == answer.headers["x-request-id"]
    assert body["errors"][0]["rule"] == rule
    retry_after = int(answer.headers["retry-after"])
    assert 1 <= retry_after <= 5
    return retry_after


async def test_writes_past_the_token_limit_get_429_then_recover(tmp_path: Path) -> None:
    async with limited(tmp_path, write_burst_per_token=3, write_per_second_per_token=1.0) as (app, client):
        kenya = await _token(app, "administration", country="KEN", senders=["alerts@meteo.go.ke"])
        uganda = await _token(app, "administration", country="UGA", senders=["alerts@unma.go.ug"])
        statuses = [
            (await client.post("/api/v1/alerts", content=make_cap(f"RL-{i}"), headers=kenya)).status_code
            for i in range(3)
        ]
        assert statuses == [201, 201, 201]
        over = await client.post("/api/v1/alerts", content=make_cap("RL-3"), headers=kenya)
        retry_after = _assert_rate_limited(over, "request.rate-limited")
        # Per token: another administration from the same address still writes; reads go on.
        other = make_cap("RL-U", sender="alerts@unma.go.ug", polygon=KAMPALA)
        assert (await client.post("/api/v1/alerts", content=other, headers=uganda)).status_code == 201
        assert (await client.get("/api/v1/alerts", headers=kenya)).status_code == 200
        await asyncio.sleep(retry_after)
        again = await client.post("/api/v1/alerts", content=make_cap("RL-3"), headers=kenya)
        assert again.status_code == 201


async def test_writes_past_the_address_limit_get_429(tmp_path: Path) -> None:
    async with limited(tmp_path, write_burst_per_address=2, write_per_second_per_address=1.0) as (
        app,
        client,
    ):
        tokens = [(await _token(app, role))["Authorization"] for role in ("operator", "responder", "bdt")]
        answers = [
            await client.post("/api/v1/tokens", json={"role": "responder"}, headers={"Authorization": auth})
            for auth in tokens
        ]
        # Three tokens, one address: the first two writes are served (or refused for what they
        # are), the third is over the address's limit.
        assert [a.status_code for a in answers[:2]] == [201, 403]
        _assert_rate_limited(answers[2], "request.rate-limited")


async def test_failed_authentications_block_the_address_even_with_a_valid_token(tmp_path: Path) -> None:
    async with limited(
        tmp_path, auth_failures_burst_per_address=5, auth_failures_per_second_per_address=1.0
    ) as (app, client):
        valid = await _token(app, "responder")
        for guess in range(5):
            answer = await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer guess-{guess}"})
            assert answer.status_code == 401
        blocked = await client.get("/api/v1/alerts", headers={"Authorization": "Bearer guess-6"})
        retry_after = _assert_rate_limited(blocked, "auth.rate-limited")
        # A valid token gets the same answer: a hit cannot be told from a miss.
        _assert_rate_limited(await client.get("/api/v1/alerts", headers=valid), "auth.rate-limited")
        session = await client.post("/api/v1/session", json={"token": "guess-7"})
        _assert_rate_limited(session, "auth.rate-limited")
        # Without credentials, the public map is still served.
        assert (await client.get("/api/v1/alerts")).status_code == 200
        await asyncio.sleep(retry_after)
        assert (await client.get("/api/v1/alerts", headers=valid)).status_code == 200


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    bucket = Bucket(capacity=2, rate=0.5, tokens=2, updated=0.0)
    assert [bucket.take(0.0), bucket.take(0.0)] == [0.0, 0.0]
    assert bucket.take(0.0) == 2.0  # one token every two seconds
    assert bucket.take(1.0) == 1.0
    assert bucket.take(2.0) == 0.0
    assert not bucket.full(2.0) and bucket.full(6.0)
