"""A real HTTP server on 127.0.0.1 serving feeds that tests put on it, a server that accepts
connections and never answers, and helpers to register, poll and inspect sources."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from service.db.models import AlertRecord
from service.sources.poller import FeedPoller, PollOutcome
from tests.conftest import ServiceUnderTest

KEN = "alerts@meteo.go.ke"
UGA = "alerts@unma.go.ug"
USGS = "http://earthquake.usgs.gov/research/monitoring/anss/neic/"
# Fast, bounded polling; the loop is off so that each test drives polls itself (`poll`).
POLL_ENV = {
    "TAMPERE_POLL_ENABLED": "false",
    # The test feeds are served on 127.0.0.1 (see test_internal_addresses_are_refused...).
    "TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES": "true",
    "TAMPERE_POLL_MIN_INTERVAL_SECONDS": "0.05",
    "TAMPERE_POLL_TICK_SECONDS": "0.05",
    # Generous enough for a loaded two-core CI machine (0.5 s once timed out a loopback fetch).
    "TAMPERE_POLL_TIMEOUT_SECONDS": "1.5",
    "TAMPERE_POLL_TOTAL_SECONDS": "3",
    "TAMPERE_POLL_MAX_BYTES": "1000000",
    "TAMPERE_POLL_MAX_REDIRECTS": "3",
    "TAMPERE_POLL_MAX_LINKS": "2",
}


# --- a real HTTP server ----------------------------------------------------------------------------


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # False: no Content-Length, the body ends when the connection closes.
    declare_length: bool = True


_PIECE = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        feeds = self.server.feeds
        headers = {k.lower(): v for k, v in self.headers.items()}
        with feeds.lock:
            feeds.requests.append((self.path, headers))
            route = feeds.routes.get(self.path)
        if route is None:
            self._answer(404, b"", {})
            return
        if route.delay:
            time.sleep(route.delay)
        fresh = (route.etag is not None and headers.get("if-none-match") == route.etag) or (
            route.last_modified is not None and headers.get("if-modified-since") == route.last_modified
        )
        extra = dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
        if fresh:
            self._answer(304, b"", extra)
            return
        extra["Content-Type"] = route.content_type
        self._answer(route.status, route.body, extra, declare_length=route.declare_length)

    def _answer(
        self, status: int, body: bytes, headers: dict[str, str], *, declare_length: bool = True
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not body or status == 304:
            return
        # In pieces, counting what the client took before it hung up (an upper bound on what it
        # read: the kernel buffers some of it).
        feeds = self.server.feeds
        for start in range(0, len(body), _PIECE):
            try:
                self.wfile.write(body[start : start + _PIECE])
            except OSError:
                return
            with feeds.lock:
                feeds.sent += len(body[start : start + _PIECE])

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    feeds: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the poller's timeout) is expected here


class FeedServer:
    """An HTTP/1.1 server on 127.0.0.1 in a thread: serves routes, honours If-None-Match and
    If-Modified-Since, and records every request with its headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Body bytes written to clients, all paths together.
        self.sent = 0
        self.lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.feeds = self
        # A short poll interval: shutdown() waits up to one of them.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: bytes = b"", **kwargs: Any) -> str:
        """Answer `path` with `body` (and the Route options); returns its URL."""
        with self.lock:
            self.routes[path] = Route(body=body, **kwargs)
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        """The headers of every request made for `path`."""
        with self.lock:
            return [headers for p, headers in self.requests if p == path]

    def hit_count(self, prefix: str) -> int:
        """How many requests were made for paths starting with `prefix`."""
        with self.lock:
            return sum(1 for p, _ in self.requests if p.startswith(prefix))

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


# --- helpers ---------------------------------------------------------------------------------------


def atom(*alerts: bytes, links: tuple[str, ...] = (), updated: str = "2026-03-01T12:00:00Z") -> bytes:
    """A hand-written Atom feed: one entry embedding each alert, one entry linking each URL."""
    entries = []
    for n, alert in enumerate(alerts):
        body = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", alert).decode()
        entries.append(
            f"<entry><id>urn:test:entry:{n}</id><title>Alert {n}</title><updated>{updated}</updated>"
            f'<content type="text/xml">{body}</content></entry>'
        )
    for n, link in enumerate(links):
        entries.append(
            f"<entry><id>urn:test:link:{n}</id><title>Link {n}</title><updated>{updated}</updated>"
            f'<link rel="related" type="application/cap+xml" href="{link}"/></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>urn:test:feed</id><title>Test alerts</title>"
        f"<updated>{updated}</updated><author><name>Test</name></author>{''.join(entries)}</feed>"
    ).encode()


async def register(service: ServiceUnderTest, token: str, url: str, **body: Any) -> dict[str, Any]:
    """POST /api/v1/sources, expecting 201."""
    response = await post_source(service, token, url, **body)
    assert response.status_code == 201, response.text
    source: dict[str, Any] = response.json()
    return source


async def post_source(service: ServiceUnderTest, token: str, url: str, **body: Any) -> Any:
    return await service.client.post(
        "/api/v1/sources", json={"url": url, **body}, headers={"Authorization": f"Bearer {token}"}
    )


async def health(service: ServiceUnderTest, token: str, source_id: int) -> dict[str, Any]:
    """GET /api/v1/sources/{id}, expecting 200."""
    response = await service.client.get(
        f"/api/v1/sources/{source_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    source: dict[str, Any] = response.json()
    return source


async def poll(service: ServiceUnderTest, source_id: int) -> PollOutcome:
    """One poll of one source, as the loop makes it."""
    poller: FeedPoller = service.app.state.poller
    return await poller.poll_once(source_id)


async def alert_ids(service: ServiceUnderTest) -> list[str]:
    """Identifiers of every stored alert (active or, for old corpus messages, expired)."""
    rows = await service.runtime.db.read(
        lambda conn: conn.execute(select(AlertRecord.identifier)).scalars().all()
    )
    return sorted(rows)


def seconds(a: str, b: str) -> float:
    """b - a, for two ISO 8601 date-times."""
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts every connection, reads what it is sent and never
    answers: a feed host whose documents never come (until the client gives up)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.sock.settimeout(0.05)
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)  # held open, never written to

    def close(self) -> None:
        """Stop accepting and drop every connection held."""
        self._stop.set()
        self.thread.join()
        for conn in self._held:
            conn.close()
        self.sock.close()
