"""Webhook requests per the Standard Webhooks specification (standardwebhooks.com): the body is
the event JSON, signed with the channel's secret; `webhook-id` is the event id (the same on
every retry, so a receiver drops what it already has), `webhook-timestamp` the time of this try,
`webhook-signature` "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" (signed by the
`standardwebhooks` package, the reference implementation receivers verify with), and after a
rotation a second one with the previous secret until its grace period ends."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from service.db.models import utcnow
from service.deliveries.outbox import Outcome
from service.settings import Settings
from service.sources.fetch import forbidden_address_message, internal_address

USER_AGENT = "Tampere webhooks"
# Statuses that say the endpoint is unwell rather than refusing this one delivery: the whole
# channel waits (service.deliveries.outbox). RFC 9110 §15.5.9 (408), RFC 6585 §4 (429), 5xx.
ENDPOINT_STATUSES = frozenset({408, 429})


def signed_headers(secrets: Sequence[str], msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one try (its timestamp in whole seconds, as signed): one
    signature per secret, space separated (`v1,<new> v1,<old>` while a rotated secret's grace
    period lasts: the specification lets a receiver accept any one of them)."""
    stamp = datetime.fromtimestamp(int(at.timestamp()), tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(msg_id, stamp, body) for secret in secrets),
        "content-type": "application/json",
    }


class RefusedAddress(Exception):
    """The webhook's host resolves to an internal address (and they are not allowed)."""


@dataclass(slots=True)
class WebhookSender:
    """POSTs signed deliveries with one HTTP client: no redirects (a 3xx is not a receipt), a
    time limit per request, and the address check on every request unless internal addresses
    are allowed (TAMPERE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES): a name that was public at
    registration may not be now."""

    client: httpx.AsyncClient
    allow_private: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSender:
        """A sender with the limits of the settings (TAMPERE_WEBHOOK_*)."""
        allow = settings.webhook_allow_private_addresses
        sender = cls(
            client=httpx.AsyncClient(
                timeout=httpx.Timeout(settings.webhook_timeout_seconds),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            ),
            allow_private=allow,
        )
        sender.client.event_hooks["request"] = [sender._check_address]
        return sender

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    async def _check_address(self, request: httpx.Request) -> None:
        if self.allow_private:
            return
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        internal = await internal_address(host, port)
        if internal is not None:
            message = forbidden_address_message(
                host, internal, what="webhooks", setting="TAMPERE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES"
            )
            raise RefusedAddress(message)

    async def send(
        self, *, delivery_id: int, url: str, secrets: Sequence[str], event_id: int, body: str
    ) -> Outcome:
        """POST one delivery signed with each of `secrets` (the channel's `signing_secrets`); the
        outcome of the try (a 2xx is a receipt, nothing else)."""
        at = utcnow()
        started = time.perf_counter()
        data = body.encode()
        headers = signed_headers(secrets, str(event_id), data, at)

        def outcome(ok: bool, status: int | None, error: str | None, down: bool) -> Outcome:
            elapsed = (time.perf_counter() - started) * 1000
            return Outcome(delivery_id, at, elapsed, ok, status=status, error=error, endpoint_down=down)

        try:
            response = await self.client.post(url, content=data, headers=headers)
        except RefusedAddress as exc:
            return outcome(False, None, str(exc), True)
        except httpx.TimeoutException as exc:
            return outcome(False, None, f"{type(exc).__name__}: no answer in time", True)
        except (httpx.HTTPError, OSError) as exc:
            return outcome(False, None, f"{type(exc).__name__}: {exc}"[:500], True)
        status = response.status_code
        if 200 <= status < 300:
            return outcome(True, status, None, False)
        down = status >= 500 or status in ENDPOINT_STATUSES
        return outcome(False, status, f"HTTP {status} {response.reason_phrase}".strip(), down)
