"""Shared fixtures and helpers: the ../shared locator, a database URL for SQLite and PostgreSQL,
the service, the `tampere` command, a free loopback port and hand-written CAP (`make_cap`)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
PG_HOST, PG_PORT, PG_DATABASE = "127.0.0.1", 5432, "tampere_test"
PG_URL = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared next to the repository (the CI layout); the test is skipped when absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


# --- processes and ports ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, read and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_tampere(
    *args: str,
    data_dir: Path | None = None,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the `tampere` command line (as `python -m service.cli`) and capture its output;
    `data_dir` and `database_url` set TAMPERE_DATA_DIR and TAMPERE_DATABASE_URL."""
    environment = {**os.environ, **(env or {})}
    if data_dir is not None:
        environment["TAMPERE_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        environment["TAMPERE_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def migrated(data_dir: Path, database_url: str = "") -> Path:
    """Create a store in `data_dir` as a user does (`tampere migrate`); commands other than
    `serve` and `migrate` refuse to run on a store that does not exist."""
    created = run_tampere("migrate", data_dir=data_dir, database_url=database_url)
    assert created.returncode == 0, created.stderr
    return data_dir


async def run_tampere_async(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`run_tampere` in a thread, so the app's own tasks keep running meanwhile (a blocked event
    loop could hold a PostgreSQL advisory lock the command waits for)."""
    return await asyncio.to_thread(run_tampere, *args, **kwargs)


def tampere_command() -> list[str]:
    """The installed `tampere` script beside this Python, else `python -m service.cli`."""
    script = Path(sys.executable).with_name("tampere")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def start_server(
    env: dict[str, str],
    log: Path,
    *,
    ready_within: float = 30,
    ready_status: int = 200,
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `tampere serve` on a loopback port (`port`, as a restart on the same address needs,
    else a free one), its output appended to `log`; returns the process and its base URL once
    /healthz answers `ready_status` (200: ready; 503 for a server meant to start unready) within
    `ready_within` seconds."""
    import httpx

    port = port or free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*tampere_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == ready_status:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"/healthz did not answer {ready_status} within {ready_within} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server from `start_server` (kill it if it lingers)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


# --- databases -----------------------------------------------------------------------------------


@cache
def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            pass
    except OSError as exc:
        return f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: {exc}"
    try:
        _pg_run("SELECT 1")
    except Exception as exc:
        return f"database {PG_DATABASE} is not usable: {exc}"
    return None


def _pg_run(*statements: str) -> None:
    """Run SQL on the test database, from sync code or from inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _pg_execute(*statements)).result()


async def _pg_execute(*statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", database=PG_DATABASE, timeout=5
    )
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases of one kind: SQLite files in tmp_path, or new schemas in
    the PostgreSQL+PostGIS test database (dropped afterwards).

    A PostgreSQL URL names its schema libpq-style (`options=-csearch_path=...`), which
    `service.db` turns into asyncpg server settings; PostGIS stays reachable through `public`.
    """
    backend = request.param
    if backend == "postgres" and (problem := _postgres_problem()) is not None:
        pytest.skip(problem)
    made: list[str] = []

    def make() -> str:
        if backend == "sqlite":
            name = "tampere.db" if not made else f"tampere-{len(made)}.db"
            made.append(name)
            return f"sqlite+aiosqlite:///{tmp_path / name}"
        schema = f"t_{uuid.uuid4().hex[:16]}"
        _pg_run(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return f"{PG_URL}?options=-csearch_path%3D{schema}%2Cpublic"

    yield make
    if backend == "postgres":
        _pg_run(*(f"DROP SCHEMA {schema} CASCADE" for schema in made))


@pytest.fixture
def database_url(database_factory: Callable[[], str]) -> str:
    """A fresh, empty database URL, SQLite or PostgreSQL (the test runs once on each)."""
    return database_factory()


# --- the service -----------------------------------------------------------------------------


@dataclass
class ServiceUnderTest:
    """The app with its lifespan running, an httpx client on it, and a way to issue tokens."""

    app: Any
    client: Any
    runtime: Any

    async def token(self, role: str, **kwargs: Any) -> str:
        """Issue a token as `tampere token create` does."""
        from service.auth import create_token

        token, _ = await self.runtime.db.write(lambda conn: create_token(conn, role=role, **kwargs))
        return token

    async def post(self, body: bytes, token: str | None, **headers: str) -> Any:
        """POST a CAP message to /api/v1/alerts."""
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.setdefault("Content-Type", "application/cap+xml")
        return await self.client.post("/api/v1/alerts", content=body, headers=headers)


@asynccontextmanager
async def running_service(
    database_url: str, data_dir: Path, *, clock: Callable[[], datetime] | None = None, **settings: Any
) -> AsyncIterator[ServiceUnderTest]:
    """The real app on `database_url`, lifespan started, with an in-process httpx client;
    `clock` is the time it counts deadlines by, `settings` override TAMPERE_* settings."""
    import httpx

    from service.app import create_app
    from service.settings import Settings

    chosen = Settings(
        data_dir=data_dir, database_url=database_url, **{"expiry_interval_seconds": 0.2, **settings}
    )
    app = create_app(chosen) if clock is None else create_app(chosen, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tampere.test") as client:
            yield ServiceUnderTest(app=app, client=client, runtime=app.state.runtime)


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    """The service on a fresh database (see `running_service`)."""
    async with running_service(database_url, tmp_path / "var") as running:
        yield running


# --- hand-written CAP --------------------------------------------------------------------------

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
# A small square over Nairobi, as CAP writes polygons: lat,lon pairs, first equals last.
NAIROBI = "-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70"
# For alerts of the Ugandan administration (held to its own territory).
KAMPALA = "0.20,32.45 0.20,32.70 0.45,32.70 0.45,32.45 0.20,32.45"


def cap_time(value: datetime) -> str:
    """A CAP date-time: seconds, numeric offset, never "Z" (CAP 1.2 §3.3.2)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def make_cap(
    identifier: str,
    *,
    sender: str = "alerts@meteo.go.ke",
    sent: datetime | None = None,
    status: str = "Actual",
    msg_type: str = "Alert",
    scope: str = "Public",
    addresses: Sequence[str] = (),
    restriction: str | None = None,
    references: Sequence[tuple[str, str, datetime]] = (),
    expires: datetime | None = None,
    severity: str = "Severe",
    polygon: str | None = NAIROBI,
    headline: str = "Flash flood warning",
    event: str = "Flood",
    area_xml: str | None = None,
    with_info: bool = True,
) -> bytes:
    """A CAP 1.2 alert written by hand for tests; `area_xml` replaces the whole content of its
    one <area> (default: Nairobi, as `polygon`)."""
    sent = sent or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="{CAP12}">',
        f"<identifier>{escape(identifier)}</identifier>",
        f"<sender>{escape(sender)}</sender>",
        f"<sent>{cap_time(sent)}</sent>",
        f"<status>{status}</status>",
        f"<msgType>{msg_type}</msgType>",
        f"<scope>{scope}</scope>",
    ]
    if restriction:
        parts.append(f"<restriction>{escape(restriction)}</restriction>")
    if addresses:
        parts.append(f"<addresses>{escape(' '.join(addresses))}</addresses>")
    if references:
        refs = " ".join(f"{s},{i},{cap_time(t)}" for s, i, t in references)
        parts.append(f"<references>{escape(refs)}</references>")
    if with_info:
        parts += [
            f"<info><category>Met</category><event>{escape(event)}</event>",
            "<urgency>Immediate</urgency>",
            f"<severity>{severity}</severity><certainty>Likely</certainty>",
        ]
        if expires is not None:
            parts.append(f"<expires>{cap_time(expires)}</expires>")
        parts.append(f"<headline>{escape(headline)}</headline>")
        if area_xml is None:
            area_xml = "<areaDesc>Nairobi</areaDesc>" + (f"<polygon>{polygon}</polygon>" if polygon else "")
        parts.append(f"<area>{area_xml}</area></info>")
    parts.append("</alert>")
    return "\n".join(parts).encode()


@pytest.fixture
def cap_message() -> Callable[..., bytes]:
    """`make_cap`: a hand-written CAP 1.2 message (identifier, sender, sent, msgType...)."""
    return make_cap


# --- a real browser ---------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium itself calls Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (never a browser Playwright downloads)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian's chromium; `dev/setup --test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
