"""Fetching a feed or a linked CAP message over HTTP: streamed up to a size cap, within the time
and the bytes left to the poll of its source (`PollBudget`, shared by the feed and every linked
file), redirects bounded, and never from an internal address (the SSRF guard).

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
RULE_TIME_BUDGET = "service.poll.time-budget"
RULE_BYTE_BUDGET = "service.poll.byte-budget"


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


class PollBudget:
    """What one poll of one source may still spend: time to a deadline on the event loop's clock
    and bytes, shared by its feed and every linked file however many are fetched at once.

    One budget per poll rather than limits per document: a source whose linked files never
    answer (or are all large junk) otherwise holds its polling slot, and pulls bytes, once per
    link, and the sources behind it wait."""

    def __init__(self, seconds: float, max_bytes: int) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.deadline = asyncio.get_running_loop().time() + seconds
        self.spent = 0
        # The first limit the poll ran into, the reason it stopped fetching.
        self.exceeded: PollError | None = None

    @classmethod
    def for_poll(cls, settings: Settings) -> PollBudget:
        """The budget of one poll: TAMPERE_POLL_TOTAL_SECONDS, TAMPERE_POLL_MAX_BYTES_PER_POLL."""
        # Never below the per-document limit: a feed the size limit allows can always be read.
        max_bytes = max(settings.poll_max_bytes_per_poll, settings.poll_max_bytes)
        return cls(settings.poll_total_seconds, max_bytes)

    def check(self, url: str) -> None:
        """Raise the budget's PollError if its time or bytes are spent (before a fetch)."""
        if self.exceeded is not None:
            raise self.exceeded
        if asyncio.get_running_loop().time() >= self.deadline:
            raise self.out_of_time(url)

    def spend(self, count: int, url: str, *, status: int | None = None) -> None:
        """Count bytes read; PollError once the poll has read more than its budget."""
        self.spent += count
        if self.spent > self.max_bytes:
            raise self._exceed(
                PollError(
                    RULE_BYTE_BUDGET,
                    f"{url}: the poll read more than {self.max_bytes} bytes, its budget "
                    "(TAMPERE_POLL_MAX_BYTES_PER_POLL); abandoned, the rest waits for the next poll",
                    status=status,
                )
            )

    def refuse_declared(self, declared: int, url: str, *, status: int | None = None) -> None:
        """PollError for a document that declares more bytes than the poll has left."""
        if self.spent + declared > self.max_bytes:
            raise self._exceed(
                PollError(
                    RULE_BYTE_BUDGET,
                    f"{url} declares {declared} bytes; the poll has {self.max_bytes - self.spent} "
                    f"left of its {self.max_bytes} (TAMPERE_POLL_MAX_BYTES_PER_POLL); not read",
                    status=status,
                )
            )

    def out_of_time(self, url: str) -> PollError:
        """The PollError of a poll whose time is up (recorded as the reason it stopped)."""
        return self._exceed(
            PollError(
                RULE_TIME_BUDGET,
                f"{url} was not had within the {self.seconds:g} s a poll of its source may take "
                "(TAMPERE_POLL_TOTAL_SECONDS, the feed and its linked files together)",
            )
        )

    def _exceed(self, error: PollError) -> PollError:
        if self.exceeded is None:
            self.exceeded = error
        return error


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
            # A connection for every link of every poll running: no poll waits for another's.
            limits=httpx.Limits(
                max_connections=max(2, settings.poll_concurrency * max(1, settings.poll_link_concurrency))
            ),
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

    async def fetch(self, url: str, budget: PollBudget, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET one document within the per-operation timeout, the size cap (streamed, abandoned
        past it) and what is left of the poll's `budget`; raises PollError. 304 only when
        `headers` asked."""
        budget.check(url)
        try:
            async with asyncio.timeout_at(budget.deadline):
                return await self._get(url, headers or {}, budget)
        except PollError:
            raise
        except TimeoutError:
            raise budget.out_of_time(url) from None
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
        """Refuse feeds on loopback, private, link-local or otherwise internal addresses, on every
        request (redirects included): a name that was public at registration may not be now."""
        if self.settings.poll_allow_private_addresses:
            return
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            internal = await internal_address(host, port)
        except OSError as exc:
            raise PollError(RULE_NETWORK, f"cannot resolve {host}: {exc}") from None
        if internal is not None:
            raise PollError(RULE_ADDRESS, forbidden_address_message(host, internal))

    async def _get(self, url: str, headers: Mapping[str, str], budget: PollBudget) -> Fetched:
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
            if declared.isdigit():
                budget.refuse_declared(int(declared), final, status=status)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                # Decoded bytes: a compressed body is counted at the size it becomes.
                budget.spend(len(chunk), final, status=status)
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


async def internal_address(host: str, port: int) -> str | None:
    """The first loopback, private, link-local or otherwise non-public address `host` resolves
    to, None when every one is public; OSError when it does not resolve.

    A feed URL comes from an administration: without this check it could make the service read
    its own network (cloud metadata at 169.254.169.254, databases on 127.0.0.1). An installation
    that polls feeds inside its own network says so with TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            return str(address)
    return None


def forbidden_address_message(
    host: str, address: str, *, what: str = "feeds", setting: str = "TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES"
) -> str:
    """Why a URL (of a feed, a webhook) on an internal address is refused, and the setting
    that allows it."""
    return (
        f"{host} resolves to {address}, an internal address; {what} must be on the public "
        f"network ({setting} allows internal ones)"
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
