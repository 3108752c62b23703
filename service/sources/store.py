"""Polled CAP feeds in the store: what a source may be (URL, interval, owner), registering,
listing and deleting one. The HTTP views are in `service.sources.routes`, the polling in
`service.sources.poller`; `tampere source add|list` uses this module too.

An administration registers feeds for itself; the operator for itself (a relay, any sender) or
for an administration named by `country`. The poller ingests each feed's messages as the
source's owner, so the sender registry applies as it does to POST /api/v1/alerts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import Connection, delete, insert, select

from cap.errors import Finding
from service import audit
from service.auth import ADMINISTRATION, OPERATOR, Principal, principal_key
from service.db.models import FeedEntrySeen, FeedSource, utcnow
from service.db.models import Principal as PrincipalRow
from service.errors import Conflict, Forbidden, Invalid
from service.settings import Settings
from service.sources.fetch import RULE_ADDRESS, forbidden_address_message, internal_address
from service.visibility import source_clause

_sources = FeedSource.__table__
_seen = FeedEntrySeen.__table__
_principals = PrincipalRow.__table__

# Rule ids of refused registrations.
RULE_URL = "service.source.url"
RULE_INTERVAL = "service.source.interval"
RULE_OWNER = "service.source.owner"
RULE_DUPLICATE = "service.source.duplicate"
RULE_FORBIDDEN = "service.source.forbidden"
# A warning, not a refusal: the feed's name does not resolve at registration.
RULE_UNRESOLVED = "service.source.unresolved"

MAX_URL_CHARS = 2000
# A feed polled less than daily is not watched; one polled more often is asked via the settings.
MAX_INTERVAL_SECONDS = 86_400.0
FEED_SCHEMES = ("http", "https")
# How long registration waits for the feed's name to resolve: an answer, not a poll.
RESOLVE_SECONDS = 3.0


def check_http_url(url: str, *, noun: str, rule: str) -> str:
    """A URL the service will fetch or post to (`noun`: "feed", "webhook"): absolute http(s)
    with a host, at most MAX_URL_CHARS, returned without its fragment; `Invalid` under `rule`."""
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise Invalid.one(rule, f"the {noun} URL must have 1 to {MAX_URL_CHARS} characters", "/url")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Invalid.one(rule, f"not a URL: {exc}", "/url") from None
    if parsed.scheme not in FEED_SCHEMES or not parsed.host:
        raise Invalid.one(rule, f"the {noun} URL must be absolute http:// or https:// with a host", "/url")
    return str(parsed.copy_with(fragment=None))


def check_feed_url(url: str) -> str:
    """The URL of a feed as it will be polled: absolute http(s) with a host, no fragment."""
    return check_http_url(url, noun="feed", rule=RULE_URL)


async def check_feed_address(url: str, settings: Settings) -> list[Finding]:
    """Refuse a feed (checked by `check_feed_url`) whose host resolves to an internal address,
    unless TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES; the warnings of the registration."""
    return await check_public_address(
        url,
        allow_private=settings.poll_allow_private_addresses,
        rule=RULE_ADDRESS,
        what="feeds",
        setting="TAMPERE_POLL_ALLOW_PRIVATE_ADDRESSES",
        unresolved="registered, polls will fail until it does",
    )


async def check_public_address(
    url: str,
    *,
    allow_private: bool,
    rule: str,
    what: str,
    setting: str,
    unresolved: str,
    unresolved_rule: str = RULE_UNRESOLVED,
) -> list[Finding]:
    """Refuse an http(s) URL whose host resolves to an internal address (`Invalid` with `rule`
    at /url) unless `allow_private`; the warnings of the registration. The one check of the
    URLs the service will fetch from (feeds) or post to (webhooks).

    Refused now rather than accepted and failing at every try. A name that does not resolve
    within RESOLVE_SECONDS is accepted with a warning (its DNS may come later, or be down for a
    moment): every request checks the address again, so nothing internal is ever reached."""
    if allow_private:
        return []
    parsed = httpx.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            internal = await internal_address(host, port)
    except (OSError, TimeoutError) as exc:
        reason = str(exc) or f"no answer within {RESOLVE_SECONDS:g} s"
        message = f"{host} does not resolve now ({reason}); {unresolved}"
        return [Finding(unresolved_rule, message, "/url")]
    if internal is not None:
        message = forbidden_address_message(host, internal, what=what, setting=setting)
        raise Invalid.one(rule, message, "/url")
    return []


def check_interval(seconds: float | None, settings: Settings) -> float:
    """The polling interval: the default when not given, refused outside the allowed range."""
    if seconds is None:
        return max(settings.poll_default_interval_seconds, settings.poll_min_interval_seconds)
    low = settings.poll_min_interval_seconds
    if not low <= seconds <= MAX_INTERVAL_SECONDS:
        raise Invalid.one(
            RULE_INTERVAL,
            f"interval_seconds must be between {low:g} and {MAX_INTERVAL_SECONDS:g}",
            "/interval_seconds",
        )
    return float(seconds)


def owner_of_new_source(conn: Connection, principal: Principal, country: str | None) -> int:
    """The principal a new source will ingest as: the caller, or (operator) an administration."""
    if principal.role == ADMINISTRATION:
        if country is not None and country.upper() != principal.country:
            raise Forbidden.one(RULE_OWNER, "an administration registers feeds for itself only", "/country")
        return principal.id
    if principal.role != OPERATOR:
        raise Forbidden.one(RULE_FORBIDDEN, "only administrations and the operator register feeds")
    if country is None:
        return principal.id
    return principal_id_by_key(conn, principal_key(ADMINISTRATION, country=country.strip().upper()))


def principal_id_by_key(conn: Connection, key: str) -> int:
    """The id of a principal by key ("administration:KEN", "operator"); refused when unknown."""
    found = conn.execute(select(_principals.c.id).where(_principals.c.key == key)).scalar()
    if found is None:
        role, _, which = key.partition(":")
        option = f" --country {which}" if role == ADMINISTRATION else ""
        raise Invalid.one(
            RULE_OWNER,
            f"no principal {key!r} is known; issue it a token first "
            f"(tampere token create --role {role}{option})",
            "/country",
        )
    return int(found)


def register_source(
    conn: Connection,
    *,
    owner_id: int,
    url: str,
    name: str | None,
    interval_seconds: float,
    actor: str,
) -> int:
    """Add a source, due at once; audited. `Conflict` for a URL the owner already registered."""
    s = _sources.c
    existing = conn.execute(select(s.id).where(s.principal_id == owner_id, s.url == url)).scalar()
    if existing is not None:
        raise Conflict.one(RULE_DUPLICATE, f"this feed is already registered as source {existing}", "/url")
    now = utcnow()
    source_id = conn.execute(
        insert(_sources)
        .values(
            principal_id=owner_id,
            url=url,
            name=name,
            interval_seconds=interval_seconds,
            created_at=now,
            next_poll_at=now,
            consecutive_failures=0,
            messages_ingested=0,
            messages_replayed=0,
            messages_rejected=0,
        )
        .returning(s.id)
    ).scalar_one()
    audit.record(
        conn,
        actor=actor,
        action="source.register",
        obj=f"source:{source_id}",
        payload_hash=audit.json_digest(
            {"url": url, "name": name, "interval_seconds": interval_seconds, "owner": owner_id}
        ),
    )
    return int(source_id)


def delete_source(conn: Connection, source_id: int, *, actor: str) -> None:
    """Remove a source and what it remembered; audited. The ingested alerts stay."""
    conn.execute(delete(_seen).where(_seen.c.source_id == source_id))
    conn.execute(delete(_sources).where(_sources.c.id == source_id))
    audit.record(
        conn,
        actor=actor,
        action="source.delete",
        obj=f"source:{source_id}",
        payload_hash=audit.json_digest({"source": source_id}),
    )


_SELECT = select(_sources, _principals.c.key.label("owner")).join(
    _principals, _principals.c.id == _sources.c.principal_id
)


def sources_of(conn: Connection, principal: Principal | None) -> list[Any]:
    """The source rows a principal may see (None: all of them), oldest first."""
    query = _SELECT.order_by(_sources.c.id)
    clause = source_clause(principal)
    if clause is not None:
        query = query.where(clause)
    return list(conn.execute(query).all())


def source_row(conn: Connection, source_id: int) -> Any | None:
    """One source row with its owner's key, or None."""
    return conn.execute(_SELECT.where(_sources.c.id == source_id)).first()
