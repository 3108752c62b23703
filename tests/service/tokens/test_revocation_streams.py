"""A revoked or expired token's open websockets are closed with 4401 within a second: over real
websockets on loopback (uvicorn), on SQLite and PostgreSQL, revoked by this instance's API, by
another process (the CLI) and by expiry; a session's socket ends with its token."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from service.auth import create_token
from service.events.stream import CLOSE_UNAUTHORIZED
from tests.conftest import run_tampere_async
from tests.service.events.test_stream import WAIT, Served, closed_with, serve


async def _closed_within(ws: ClientConnection) -> tuple[int | None, str, float]:
    started = time.monotonic()
    code, reason, _ = await asyncio.wait_for(closed_with(ws), WAIT)
    return code, reason, time.monotonic() - started


async def _token_id(served: Served, database_url: str, data_dir: Path) -> int:
    listed = await run_tampere_async("token", "list", database_url=database_url, data_dir=data_dir)
    return int(json.loads(listed.stdout.splitlines()[-1])["id"])


async def test_a_token_revoked_by_the_cli_closes_its_streams_within_a_second(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(database_url, tmp_path / "var") as served:
        operator = await served.token("operator")
        kenya = await served.token("administration", country="KEN")
        token_id = await _token_id(served, database_url, tmp_path / "var")
        async with (
            served.subscribe(kenya) as by_header,
            served.subscribe(kenya, header=False) as by_query,
            served.subscribe(operator) as other,
        ):
            revoked = await run_tampere_async(
                "token", "revoke", str(token_id), database_url=database_url, data_dir=tmp_path / "var"
            )
            assert revoked.returncode == 0, revoked.stderr
            for ws in (by_header, by_query):
                code, reason, took = await _closed_within(ws)
                assert code == CLOSE_UNAUTHORIZED and "revoked" in reason
                assert took < 1.0, f"closed {took:.2f} s after the revocation"
            # Another principal's stream goes on.
            await other.ping()
            assert other.close_code is None
        # And the token opens nothing any more.
        async with served.subscribe(kenya) as again:
            code, _, _ = await closed_with(again)
            assert code == CLOSE_UNAUTHORIZED


async def test_a_token_revoked_over_the_api_or_expiring_closes_its_stream(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(database_url, tmp_path / "var") as served:
        operator = {"Authorization": f"Bearer {await served.token('operator')}"}
        created = await served.http.post("/api/v1/tokens", json={"role": "bdt"}, headers=operator)
        bdt = created.json()
        runtime = served.app.state.runtime
        # 0.00002 days: 1.7 s.
        short, _ = await runtime.db.write(
            lambda conn: create_token(conn, role="responder", expires_days=0.00002)
        )
        async with served.subscribe(bdt["token"]) as ws, served.subscribe(short) as expiring:
            assert (
                await served.http.delete(f"/api/v1/tokens/{bdt['id']}", headers=operator)
            ).status_code == 200
            code, _, took = await _closed_within(ws)
            assert code == CLOSE_UNAUTHORIZED and took < 1.0
            code, _, took = await _closed_within(expiring)
            assert code == CLOSE_UNAUTHORIZED and took < 2.7


async def test_a_session_stream_ends_with_its_token_and_refuses_other_origins(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(database_url, tmp_path / "var") as served:
        operator = {"Authorization": f"Bearer {await served.token('operator')}"}
        created = (
            await served.http.post("/api/v1/tokens", json={"role": "responder"}, headers=operator)
        ).json()
        session = await served.http.post("/api/v1/session", json={"token": created["token"]})
        assert session.status_code == 201
        cookie = f"tampere_session={session.cookies['tampere_session']}"
        url = f"ws://127.0.0.1:{served.port}/api/v1/events"
        same = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{served.port}"}
        foreign = {"Cookie": cookie, "Origin": "https://evil.example"}
        async with connect(url, additional_headers=foreign, open_timeout=WAIT) as hijack:
            code, reason, _ = await closed_with(hijack)
            assert code == CLOSE_UNAUTHORIZED and "origin" in reason
        async with connect(url, additional_headers=same, open_timeout=WAIT) as ws:
            await ws.ping()
            assert ws.close_code is None
            await served.http.delete(f"/api/v1/tokens/{created['id']}", headers=operator)
            code, _, took = await _closed_within(ws)
            assert code == CLOSE_UNAUTHORIZED and took < 1.0
