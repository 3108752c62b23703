"""Tokens never reach a log: the real `tampere serve` (uvicorn, our JSON logging), its output
captured while a websocket connects with `?token=`, a REST call sends a bearer token and a
browser opens a session."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.conftest import migrated, run_tampere, start_server, stop_server


async def _use_the_service(base: str, token: str) -> str:
    port = base.rsplit(":", 1)[1]
    async with connect(f"ws://127.0.0.1:{port}/api/v1/events?since=0&token={token}", open_timeout=10) as ws:
        await ws.ping()
    # A guessed token, in the query and in the header: refused, and not logged either.
    async with connect(f"ws://127.0.0.1:{port}/api/v1/events?token=guessed-{token[:20]}") as refused:
        await asyncio.wait_for(refused.wait_closed(), 10)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (
            await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
        bad = await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer guessed-{token[:20]}"})
        assert bad.status_code == 401
        session = await client.post("/api/v1/session", json={"token": token})
        assert session.status_code == 201
        cookie = session.cookies["tampere_session"]
        assert (await client.get("/api/v1/session")).status_code == 200
    return cookie


def test_no_token_or_session_reaches_the_log(tmp_path: Path) -> None:
    env = {**os.environ, "TAMPERE_DATA_DIR": str(tmp_path / "var"), "TAMPERE_DATABASE_URL": ""}
    migrated(tmp_path / "var")
    created = run_tampere("token", "create", "--role", "operator", env=env)
    token = created.stdout.strip()
    assert created.returncode == 0 and len(token) >= 43
    log = tmp_path / "serve.log"
    proc, base = start_server({**env, "TAMPERE_POLL_ENABLED": "false"}, log)
    try:
        cookie = asyncio.run(_use_the_service(base, token))
    finally:
        stop_server(proc)
    text = log.read_text()
    # The lines were written: uvicorn's websocket request line and our access lines.
    assert '"WebSocket /api/v1/events?since=0&token=[redacted]"' in text, text[-3000:]
    assert "/api/v1/session" in text
    for secret in (token, token[:20], cookie):
        assert secret not in text
