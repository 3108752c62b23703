"""Real components for the delivery tests: the app under uvicorn on loopback (HTTP and
websockets), a webhook receiver on loopback that can go down and come back on the same port,
and an SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from service.app import create_app
from service.auth import create_token
from service.settings import Settings
from tests.conftest import free_port

WAIT = 15.0


def _socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@asynccontextmanager
async def uvicorn_on(app: Any, sock: socket.socket, *, lifespan: str = "on") -> AsyncIterator[uvicorn.Server]:
    """Serve an ASGI app on a bound socket until the block ends."""
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        interface="asgi3",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(400):
            if server.started or task.done():
                break
            await asyncio.sleep(0.025)
        assert server.started, "uvicorn did not start"
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


# --- the service -----------------------------------------------------------------------------

# Short settings so that an outage of "two minutes" is a few seconds of test: retries at most
# every 0.4 s, the outbox looked at every 0.1 s.
FAST = {
    "webhook_allow_private_addresses": True,
    "webhook_max_backoff_seconds": 0.4,
    "webhook_timeout_seconds": 2.0,
    "delivery_poll_seconds": 0.1,
    "poll_enabled": False,
}


@dataclass
class Tampere:
    """One app instance behind uvicorn on loopback, with a client and a token issuer."""

    app: Any
    port: int
    http: httpx.AsyncClient

    async def token(self, role: str, **kwargs: Any) -> str:
        """Issue a token as `tampere token create` does."""
        runtime = self.app.state.runtime
        token, _ = await runtime.db.write(lambda conn: create_token(conn, role=role, **kwargs))
        return token

    async def post_alert(self, body: bytes, token: str) -> dict[str, Any]:
        """POST a CAP message; the stored alert's JSON."""
        response = await self.http.post(
            "/api/v1/alerts",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"},
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        """An API request with a bearer token."""
        return await self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


@asynccontextmanager
async def tampere(
    database_url: str, data_dir: Path, *, clock: Callable[[], datetime] | None = None, **settings: Any
) -> AsyncIterator[Tampere]:
    """The real app under uvicorn on a free loopback port, lifespan started; `clock` is the time
    it counts acknowledgement deadlines by (tests move it)."""
    chosen = Settings(data_dir=data_dir, database_url=database_url, **{**FAST, **settings})
    app = create_app(chosen) if clock is None else create_app(chosen, clock=clock)
    sock = _socket()
    port = sock.getsockname()[1]
    try:
        async with (
            uvicorn_on(app, sock),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as http,
        ):
            yield Tampere(app=app, port=port, http=http)
    finally:
        sock.close()


# --- a webhook receiver ------------------------------------------------------------------------


@dataclass
class Received:
    """One request the receiver took: its headers and body bytes."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint on a fixed loopback port: answers `status` to every POST and keeps what
    it was sent; `down()` stops listening (connections refused), `up()` listens again."""

    port: int = field(default_factory=free_port)
    status: int = 204
    received: list[Received] = field(default_factory=list)
    _server: Any = None
    _context: Any = None

    @property
    def url(self) -> str:
        """The URL to register."""
        return f"http://127.0.0.1:{self.port}/hooks/tampere"

    async def _app(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(Received(headers, body))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def up(self) -> None:
        """Start listening on the port."""
        self._sock = _socket(self.port)
        self._context = uvicorn_on(self._app, self._sock, lifespan="off")
        await self._context.__aenter__()

    async def down(self) -> None:
        """Stop listening: every connection is refused until `up()`."""
        if self._context is not None:
            context, self._context = self._context, None
            await context.__aexit__(None, None, None)
            self._sock.close()

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        """Wait until at least `count` requests arrived."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.02)
        return self.received


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver, up."""
    endpoint = Receiver()
    await endpoint.up()
    try:
        yield endpoint
    finally:
        await endpoint.down()


# --- an SMTP server ------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server on loopback accepted: (envelope recipients, message bytes)."""

    port: int
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[tuple[list[str], bytes]]:
        """Wait until at least `count` messages arrived."""
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                await asyncio.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_server() -> Any:
    """An aiosmtpd server on a free loopback port (in its own thread, as aiosmtpd runs it)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
