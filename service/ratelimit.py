"""Rate limits at the HTTP edge: writes per token and per client address, and failed
authentications per address, each a token bucket; past a limit the answer is 429 with
`Retry-After`, in the one problem shape. Anonymous event streams are counted while open, per
address and in all; past either bound the websocket is closed at once with 4429 or 1013.

The buckets live in the memory of each instance: behind N instances a client gets up to N times
the configured rates (a load balancer with sticky addresses narrows that). That is enough for
what they are for: keeping one runaway client or one token guesser from taking an instance, not
billing. The client address is the connection's peer; behind a reverse proxy, run uvicorn with
`--forwarded-allow-ips` so that it is the proxy's `X-Forwarded-For`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.audience import credential_in
from service.errors import TooManyRequests, problem_response
from service.settings import Settings

RULE_RATE_LIMITED = "request.rate-limited"
RULE_AUTH_RATE_LIMITED = "auth.rate-limited"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A websocket refused for too many failed authentications or too many anonymous streams from
# its address (RFC 6455 §7.4.2: 4000-4999 are ours).
CLOSE_RATE_LIMITED = 4429
# An anonymous websocket refused because the instance holds as many as it takes ("Try Again
# Later", registered in the IANA WebSocket Close Code Number Registry).
CLOSE_TRY_AGAIN_LATER = 1013
# Keys held per table before idle (full) buckets are dropped: a flood of addresses costs memory
# bounded by this, not by the flood.
MAX_KEYS = 100_000
# Where a browser exchanges a token for a session: the token is in the body, so this request
# carries credentials even without an Authorization header.
SESSION_ROUTE = "/api/v1/session"


@dataclass(slots=True)
class Bucket:
    """Holds up to `capacity` tokens, refilled at `rate` a second; a request takes one."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 when there is one now)."""
        self._refill(now)
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf

    def take(self, now: float) -> float:
        """Take a token: 0 when taken, else the seconds to wait (nothing is taken)."""
        wait = self.wait(now)
        if wait == 0:
            self.tokens -= 1
        return wait

    def full(self, now: float) -> bool:
        """Whether it has refilled completely (so forgetting it changes nothing)."""
        self._refill(now)
        return self.tokens >= self.capacity


class Buckets:
    """One bucket per key (a token's digest, an address), made full on first use."""

    def __init__(self, capacity: int, rate: float) -> None:
        self.capacity = max(1, capacity)
        self.rate = rate
        self._buckets: dict[str, Bucket] = {}

    def get(self, key: str, now: float) -> Bucket:
        """The key's bucket."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = Bucket(self.capacity, self.rate, self.capacity, now)
        return bucket

    def _forget_full(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if not b.full(now)}
        if len(self._buckets) >= MAX_KEYS:
            self._buckets.clear()  # under a flood of keys, forget rather than grow


class RateLimits:
    """The three limits of one instance, from the settings (TAMPERE_WRITE_*, TAMPERE_AUTH_*)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.writes_per_token = Buckets(settings.write_burst_per_token, settings.write_per_second_per_token)
        self.writes_per_address = Buckets(
            settings.write_burst_per_address, settings.write_per_second_per_address
        )
        self.auth_failures = Buckets(
            settings.auth_failures_burst_per_address, settings.auth_failures_per_second_per_address
        )
        self.anonymous_streams = AnonymousStreams(
            settings.anonymous_streams_per_address, settings.anonymous_streams_total
        )

    def _now(self) -> float:
        return self.clock()

    def authentication_blocked(self, address: str) -> float:
        """Seconds until this address may authenticate again (0: it may)."""
        now = self._now()
        return self.auth_failures.get(address, now).wait(now)

    def authentication_failed(self, address: str) -> None:
        """Count a failed authentication from this address."""
        now = self._now()
        self.auth_failures.get(address, now).take(now)

    def write(self, credential: str | None, address: str) -> float:
        """Take a write from the credential's and the address's buckets: 0 when both allow it,
        else the seconds to wait (nothing is taken)."""
        now = self._now()
        per_address = self.writes_per_address.get(address, now)
        per_token = self.writes_per_token.get(credential, now) if credential else None
        wait = max(per_address.wait(now), per_token.wait(now) if per_token else 0.0)
        if wait == 0:
            per_address.take(now)
            if per_token is not None:
                per_token.take(now)
        return wait


class AnonymousStreams:
    """The anonymous event streams open on this instance, per client address and in all."""

    def __init__(self, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self.open_by_address: dict[str, int] = {}
        self.open = 0

    def enter(self, address: str) -> tuple[int, str] | None:
        """Count one more stream from `address`, or say why not: (close code, reason)."""
        held = self.open_by_address.get(address, 0)
        if held >= self.per_address:
            return CLOSE_RATE_LIMITED, f"{held} anonymous streams are open from this address; close one first"
        if self.open >= self.total:
            return CLOSE_TRY_AGAIN_LATER, "this instance holds as many anonymous streams as it takes"
        self.open_by_address[address] = held + 1
        self.open += 1
        return None

    def leave(self, address: str) -> None:
        """One stream `enter` counted has closed."""
        self.open -= 1
        held = self.open_by_address[address] - 1
        if held:
            self.open_by_address[address] = held
        else:
            del self.open_by_address[address]  # the table holds open streams' addresses only


def _credential(scope: Scope) -> str | None:
    """A digest of the credential the request carries (bearer token, ?token=, session cookie)."""
    sent = credential_in(scope)
    return hashlib.sha256(sent).hexdigest() if sent is not None else None


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


class RateLimitMiddleware:
    """ASGI middleware applying `RateLimits` to every HTTP request and websocket handshake."""

    def __init__(self, app: ASGIApp, *, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is over a limit; count the failed authentications of what runs."""
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = _address(scope)
        credential = _credential(scope)
        authenticates = credential is not None or (
            scope["method"] == "POST" and scope["path"] == SESSION_ROUTE
        )
        if authenticates and (wait := self.limits.authentication_blocked(address)):
            error = TooManyRequests.one(
                RULE_AUTH_RATE_LIMITED,
                f"too many failed authentications from this address; try again in {_retry_after(wait)} s",
                "header:authorization",
                headers={"Retry-After": _retry_after(wait)},
            )
            await problem_response(error)(scope, receive, send)
            return
        if scope["method"] in WRITE_METHODS and (wait := self.limits.write(credential, address)):
            error = TooManyRequests.one(
                RULE_RATE_LIMITED,
                f"too many writes from this token or address; try again in {_retry_after(wait)} s",
                "/",
                headers={"Retry-After": _retry_after(wait)},
            )
            await problem_response(error)(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401 and authenticates:
                self.limits.authentication_failed(address)
            await send(message)

        await self.app(scope, receive, watch)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = _address(scope)
        if _credential(scope) is None:
            await self._anonymous_websocket(scope, receive, send, address)
            return
        if wait := self.limits.authentication_blocked(address):
            reason = f"too many failed authentications; try again in {_retry_after(wait)} s"
            await _refuse_websocket(receive, send, CLOSE_RATE_LIMITED, reason)
            return
        opened = False

        async def watch(message: Message) -> None:
            nonlocal opened
            if message["type"] == "websocket.send":
                opened = True
            # A refusal at the handshake (service.events.stream: 4401) before anything was sent
            # (a stream revoked before its first message counts too: one in the allowance).
            elif message["type"] == "websocket.close" and message.get("code") == 4401 and not opened:
                self.limits.authentication_failed(address)
            await send(message)

        await self.app(scope, receive, watch)

    async def _anonymous_websocket(self, scope: Scope, receive: Receive, send: Send, address: str) -> None:
        streams = self.limits.anonymous_streams
        refusal = streams.enter(address)
        if refusal is not None:
            await _refuse_websocket(receive, send, *refusal)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            streams.leave(address)


async def _refuse_websocket(receive: Receive, send: Send, code: int, reason: str) -> None:
    """Accept the handshake and close at once, as the event stream refuses: a browser sees close
    codes only, never the status of a refused handshake."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})
