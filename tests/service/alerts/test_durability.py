"""A `tampere serve` killed with SIGKILL mid-ingest loses no acknowledged alert and holds none
twice after restart (embedded default: SQLite WAL in the data directory, real sockets)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import migrated, start_server, stop_server, tampere_command

pytestmark = pytest.mark.slow

MESSAGES = 1000
CONCURRENCY = 16
KILL_AFTER = 300  # acknowledged alerts before the kill: the rest are in flight or not sent


async def post_all(
    base: str, token: str, bodies: list[bytes], *, kill: subprocess.Popen[bytes] | None
) -> dict[int, tuple[int, int]]:
    """POST every body; returns index -> (status, id) for each 2xx. Kills `kill` mid-run."""
    acked: dict[int, tuple[int, int]] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(bodies)):
        queue.put_nowait(index)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"}

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                try:
                    response = await client.post("/api/v1/alerts", content=bodies[index])
                except httpx.TransportError:
                    continue  # the server is gone: this one was never acknowledged
                if response.status_code in (200, 201):
                    acked[index] = (response.status_code, response.json()["id"])
                    if kill is not None and len(acked) == KILL_AFTER:
                        os.kill(kill.pid, signal.SIGKILL)
                else:
                    raise AssertionError(f"{response.status_code}: {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return acked


async def test_sigkill_loses_no_acknowledged_alert(tmp_path: Path, cap_message) -> None:
    data_dir = tmp_path / "var"
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_LOG_LEVEL": "WARNING",
        # The test replays 1,000 alerts twice from one token as fast as it can: durability, not
        # the write rate limit (tests/service/tokens/test_rate_limits.py), is what it measures.
        "TAMPERE_WRITE_BURST_PER_TOKEN": "100000",
        "TAMPERE_WRITE_BURST_PER_ADDRESS": "100000",
    }
    migrated(data_dir)
    created = subprocess.run(
        [*tampere_command(), "token", "create", "--role", "operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = created.stdout.strip()
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    bodies = [cap_message(f"KILL-{n}", sent=t0 + timedelta(seconds=n)) for n in range(MESSAGES)]
    log = tmp_path / "serve.log"

    proc, base = start_server(env, log)
    try:
        before = await post_all(base, token, bodies, kill=proc)
        assert proc.wait(timeout=15) == -signal.SIGKILL
    finally:
        stop_server(proc)
    assert KILL_AFTER <= len(before) < MESSAGES, "the kill did not land mid-run"

    proc, base = start_server(env, log)
    try:
        after = await post_all(base, token, bodies, kill=None)
    finally:
        stop_server(proc)

    assert len(after) == MESSAGES
    for index, (_, alert_id) in before.items():
        # Acknowledged before the kill: still there, same id, so the re-post is a replay.
        assert after[index] == (200, alert_id), index
    with sqlite3.connect(data_dir / "tampere.db") as db:
        total, distinct = db.execute(
            "SELECT count(*), count(DISTINCT sender || '|' || identifier || '|' || sent_at) FROM alerts"
        ).fetchone()
        (received_events,) = db.execute(
            "SELECT count(*) FROM events WHERE type = 'alert.received'"
        ).fetchone()
        links = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert total == distinct == MESSAGES
    # Alert, event and audit link commit together: none without the others.
    assert received_events == MESSAGES
    assert links == MESSAGES + 1  # and the token
