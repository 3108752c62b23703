"""Fetching a feed or a linked CAP message over HTTP: streamed up to a size cap within a total
time limit, redirects bounded, and never from an internal address (the SSRF guard).

Every failure is a `PollError` with a rule id, which the poller (service.sources.poller)
records on the source.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

import httpx

from cap.errors import Finding
from service.db.models import utcnow
from service.settings import Settings

RULE_TIMEOUT = "service.poll.timeout"
RULE_NETWORK = "service.poll.network"
RULE_HTTP_STATUS = "service.poll.http-status"
RULE_TOO_LARGE = "service.poll.too-large"
RULE_REDIRECTS = "service.poll.redirects"
RULE_URL = "service.poll.url"
RULE_ADDRESS = "service.poll.forbidden-address"


class PollError(Exception):
    """A fetch that failed: the rule id, what happened, and the HTTP status if one came."""

    def __init__(
        self, rule: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def finding(self) -> Finding:
        """The error as the source records it."""
        return Finding(self.rule, self.message, "/")


@dataclass(slots=True)
class Fetched:
    """A document fetched: status, body, the final URL (after redirects) and its validators."""

    status: int
    body: bytes
    url: str
    etag: str | None = None
    last_modified: str | None = None


class FeedFetcher:
    """GETs feeds and linked messages with one httpx client, within the poll limits of the
    settings (TAMPERE_POLL_*); every request, redirects included, passes the address check."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.poll_timeout_seconds),
            follow_redirects=True,
            max_redirects=settings.poll_max_redirects,
            limits=httpx.Limits(max_connections=max(2, 2 * settings.poll_concurrency)),
            # Every request, redirects included, passes the address check first.
            event_hooks={"request": [self._check_address]},
            headers={
                "User-Agent": "Tampere feed poller",
                "Accept": "application/atom+xml, application/rss+xml, application/cap+xml, "
                "application/xml;q=0.9, application/geo+json;q=0.8, application/json;q=0.8, */*;q=0.5",
            },
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    async def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET one document within the per-operation timeout, the total time limit and the size
        cap (streamed, abandoned past it); raises PollError. 304 only when `headers` asked."""
        total = self.settings.poll_total_seconds
        try:
            async with asyncio.timeout(total):
                return await self._get(url, headers or {})
        except PollError:
            raise
        except TimeoutError:
            raise PollError(RULE_TIMEOUT, f"{url} was not fetched within {total:g} s") from None
        except httpx.TimeoutException as exc:
            limit = self.settings.poll_timeout_seconds
            raise PollError(RULE_TIMEOUT, f"{type(exc).__name__} after {limit:g} s from {url}") from None
        except httpx.TooManyRedirects:
            limit = self.settings.poll_max_redirects
            raise PollError(RULE_REDIRECTS, f"{url} redirects more than {limit} times") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise PollError(RULE_URL, f"{url}: {exc}") from None
        except httpx.HTTPError as exc:
            raise PollError(RULE_NETWORK, f"{type(exc).__name__} from {url}: {exc}") from None

    async def _check_address(self, request: httpx.Request) -> None:
        """Refuse feeds on loopback, private, link-local or otherwise internal addresses.

        A feed URL comes from an administration: without this it could make the service read
        its own network (cloud metadata at 169.254.169.254, databases on 127.0.0.1). An
        installation that polls feeds inside its own network says so with
        TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES.
        """
        if self.settings.poll_allow_private_addresses:
            return
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise PollError(RULE_NETWORK, f"cannot resolve {host}: {exc}") from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                raise PollError(
                    RULE_ADDRESS,
                    f"{host} resolves to {address}, an internal address; feeds must be on the "
                    "public network (TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES allows internal ones)",
                )

    async def _get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        limit = self.settings.poll_max_bytes
        async with self.client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            final = str(response.url)
            if status == 304 and headers:
                return Fetched(304, b"", final)
            if not 200 <= status < 300:
                raise PollError(
                    RULE_HTTP_STATUS,
                    f"HTTP {status} {response.reason_phrase} from {final}",
                    status=status,
                    retry_after=retry_after(response.headers.get("retry-after")),
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise PollError(
                    RULE_TOO_LARGE, f"{final} declares {declared} bytes; the limit is {limit}", status=status
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise PollError(
                        RULE_TOO_LARGE, f"{final} sent more than {limit} bytes; abandoned", status=status
                    )
            return Fetched(
                status,
                bytes(body),
                final,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (RFC 9110 §10.2.3: seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())
