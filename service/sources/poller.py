"""Feed polling: fetch each due CAP feed with httpx, ingest its new messages once, record health.

The loop (`FeedPoller.run`, started by the app's lifespan) claims due sources and polls them;
`FeedPoller.poll_once(source_id)` is one poll, the same one the loop makes. A poll never raises:
what goes wrong is recorded on the source as `last_error` (rule id and message), and the next
poll backs off exponentially from the source's interval, with jitter, up to a cap.

Each poll sends the validators of the last complete poll (If-None-Match, If-Modified-Since;
304 means nothing new), fetches the feed (`service.sources.fetch`: a size cap per document, no
internal addresses), reads it with `cap.feeds.read_feed`, fetches the linked CAP files of an
index feed a few at a time, and hands each message it has not handled before, in feed order, to
the ingest seam as the source's owner: an administration posts only as its registered senders, so a
message from another sender is refused and counted, once. Entries already handled (by the
digest of the embedded message, or by link and <updated> for index feeds) are remembered, so
later polls neither refetch their CAP files nor count them again.

A poll has one budget (`PollBudget`) of time and bytes for the feed and every linked file
together: a source whose server never answers, or answers with junk, holds its polling slot
no longer than TAMPERE_POLL_TOTAL_SECONDS and reads no more than
TAMPERE_POLL_MAX_BYTES_PER_POLL, and a poll in which no new entry could be had is a failed poll
that backs off like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from lxml import etree
from sqlalchemy import Connection, delete, func, insert, select, update

from cap.errors import CapError, Finding
from cap.feeds import FEED_RULES, Feed, FeedEntry, read_feed
from cap.feeds.model import UNKNOWN
from cap.serialize import to_xml
from service.alerts import lifecycle
from service.alerts.ingest import (
    INLINE_BYTES,
    RULE_NOT_AN_ALERT,
    IngestForbidden,
    IngestRejected,
    KeyConflict,
    OutsideJurisdiction,
    PreparedMessage,
    authorise,
    prepare_message,
    ready_jurisdiction,
    runs_inline,
    store_message,
)
from service.alerts.recipients import routing_policy
from service.auth import Principal, load_principal
from service.db.models import FeedEntrySeen, FeedSource, utcnow
from service.runtime import Runtime
from service.sources.fetch import RULE_URL, FeedFetcher, PollBudget, PollError
from service.trust.store import load_trust

log = logging.getLogger(__name__)
_sources = FeedSource.__table__
_seen = FeedEntrySeen.__table__

# Rule ids of what a poll can run into besides a failed fetch (service.sources.fetch); the
# feed's own faults keep their feed.* / xml.* ids, a refused message its cap.* id.
RULE_SENDER = "service.poll.sender-not-registered"
RULE_NOT_ALLOWED = "service.poll.not-allowed"
RULE_INTERNAL = "service.poll.internal"

# What a poll came to.
OK = "ok"
NOT_MODIFIED = "not_modified"
PARTIAL = "partial"  # the feed was read, but a linked message or an entry could not be had
FAILED = "failed"
BUSY = "busy"  # this instance is polling the source already
GONE = "gone"  # the source was deleted

# What became of one message.
CREATED = "created"
REPLAYED = "replayed"
REJECTED = "rejected"
FORBIDDEN = "forbidden"

LINK_SCHEMES = ("http", "https")
_MESSAGE_CHARS = 1000
_RULE_CHARS = 64


@dataclass(slots=True)
class PollOutcome:
    """What one poll did: its result, its messages by outcome, and the error it recorded."""

    source_id: int
    result: str
    status: int | None = None
    messages: Counter[str] = field(default_factory=Counter)
    error: Finding | None = None
    # Bytes read: the feed and its linked files.
    bytes: int = 0


@dataclass(slots=True, frozen=True)
class _Source:
    id: int
    url: str
    interval_seconds: float
    etag: str | None
    last_modified: str | None
    newest_entry_at: datetime | None


@dataclass(slots=True)
class _Item:
    """One entry to handle: its remembered key and its message, link or refusal."""

    key: str
    where: str
    raw: bytes | None = None
    link: str | None = None
    refusal: Finding | None = None
    # Why a linked message could not be had this time (it is tried again at the next poll).
    failure: Finding | None = None


@dataclass(slots=True)
class _Handled:
    """What became of a feed's entries: the newest date seen, whether every entry was had, and
    how many new entries were handled (ingested or refused) and how many could not be had."""

    newest: datetime | None
    complete: bool
    handled: int
    failed: int


class FeedPoller:
    """Polls the registered feeds of one app instance with one shared fetcher (one httpx client)."""

    def __init__(self, runtime: Runtime, *, rng: random.Random | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db = runtime.db
        self.metrics = runtime.metrics
        self.rng = rng or random.Random()
        settings = self.settings
        self.fetcher = FeedFetcher(settings)
        # A claimed source stays claimed this long if its poll never finishes (a killed process):
        # its fetching is bounded by the poll budget; ingesting what it fetched gets the margin.
        self.lease = timedelta(seconds=2 * settings.poll_total_seconds + 300)
        self._wake = asyncio.Event()
        self._busy: set[int] = set()
        self._newest: dict[int, float] = {}

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.fetcher.aclose()

    def wake(self) -> None:
        """Look for due sources now (a source was just registered)."""
        self._wake.set()

    # --- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll due sources until cancelled, at most `poll_concurrency` at a time; a failed
        poll is recorded on its source and a failed query retried, so the loop never ends."""
        running: set[asyncio.Task[PollOutcome]] = set()
        try:
            while True:
                self._wake.clear()
                delay = self.settings.poll_tick_seconds
                try:
                    free = self.settings.poll_concurrency - len(running)
                    if free > 0:
                        delay = await self._start_due(free, running, delay)
                except Exception:  # the store is unreachable for now: try again at the next tick
                    log.exception("feed poller could not claim due sources")
                await self._pause(delay, running)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _start_due(self, free: int, running: set[asyncio.Task[PollOutcome]], delay: float) -> float:
        ids = await self.db.write(lambda conn: claim_due(conn, utcnow(), limit=free, lease=self.lease))
        for source_id in ids:
            task = asyncio.create_task(self.poll_once(source_id), name=f"poll-source-{source_id}")
            running.add(task)
            task.add_done_callback(running.discard)
        upcoming = await self.db.read(next_due)
        if upcoming is None:
            return delay
        return min(delay, max(0.0, (upcoming - utcnow()).total_seconds()))

    async def _pause(self, delay: float, running: set[asyncio.Task[PollOutcome]]) -> None:
        # Until the next source is due, a source is registered, or a poll frees a slot.
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waker, *running}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()

    # --- one poll --------------------------------------------------------------------------------

    async def poll_once(self, source_id: int) -> PollOutcome:
        """Poll one source now, whatever its schedule says, and record what happened on it.

        Never raises (but for cancellation): a bug is recorded as `service.poll.internal`."""
        if source_id in self._busy:
            return PollOutcome(source_id, BUSY)
        self._busy.add(source_id)
        started = utcnow()
        budget = PollBudget.for_poll(self.settings)
        try:
            outcome = await self._poll(source_id, started, budget)
        except Exception as exc:
            log.exception("feed poll failed", extra={"source": source_id})
            error = PollError(RULE_INTERNAL, f"{type(exc).__name__}: {exc}")
            outcome = PollOutcome(source_id, FAILED, error=error.finding)
            with contextlib.suppress(Exception):
                await self.db.write(lambda conn: self._record_failure(conn, source_id, started, error))
        finally:
            self._busy.discard(source_id)
        outcome.bytes = budget.spent
        self.metrics.polled_bytes.inc(budget.spent)
        if outcome.result == GONE:
            self._newest.pop(source_id, None)
            self.metrics.forget_source(source_id)
        elif outcome.result != BUSY:
            self.metrics.polls.labels(outcome.result).inc()
            for result, count in outcome.messages.items():
                self.metrics.polled_messages.labels(result).inc(count)
        return outcome

    async def _poll(self, source_id: int, started: datetime, budget: PollBudget) -> PollOutcome:
        loaded = await self.db.read(lambda conn: _load(conn, source_id))
        if loaded is None:
            return PollOutcome(source_id, GONE)
        source, principal = loaded
        headers = {}
        if source.etag:
            headers["If-None-Match"] = source.etag
        if source.last_modified:
            headers["If-Modified-Since"] = source.last_modified
        try:
            fetched = await self.fetcher.fetch(source.url, budget, headers)
        except PollError as exc:
            return await self._failed(source.id, started, exc)
        if fetched.status == 304:
            outcome = PollOutcome(source.id, NOT_MODIFIED, status=304)
            await self._succeeded(source, started, outcome, validators=(source.etag, source.last_modified))
            return outcome
        feed = await self._read(fetched.body)
        if feed.kind == UNKNOWN or (feed.fatal and not feed.entries):
            first = next(iter(feed.errors), Finding(RULE_INTERNAL, "the feed could not be read", "/"))
            error = PollError(first.rule, _at(first), status=fetched.status)
            return await self._failed(source.id, started, error)
        outcome = PollOutcome(source.id, OK, status=fetched.status)
        if feed.fatal:
            # An entry that neither embeds nor links a message: the others are still ingested.
            fatal = next(f for f in feed.errors if _is_fatal(f))
            outcome.error = Finding(fatal.rule, _at(fatal), fatal.path)
        handled = await self._handle_entries(source, principal, feed, fetched.url, outcome, budget)
        if handled.failed and not handled.handled and outcome.error is not None:
            # Every new entry failed (never answered, too large, over the budget): the feed
            # served nothing, so the poll failed and backs off, or a feed of junk links would be
            # fetched again at every interval.
            error = PollError(outcome.error.rule, outcome.error.message, status=fetched.status)
            return await self._failed(source.id, started, error)
        if outcome.error is not None:
            outcome.result = PARTIAL
        # Validators are kept only when every entry was had: a 304 must not hide a link still due.
        validators = (fetched.etag, fetched.last_modified) if handled.complete else (None, None)
        await self._succeeded(
            source, started, outcome, validators=validators, feed=feed, newest=handled.newest
        )
        return outcome

    async def _read(self, body: bytes) -> Feed:
        if len(body) <= INLINE_BYTES:
            return read_feed(body)
        return await asyncio.to_thread(read_feed, body)

    async def _handle_entries(
        self,
        source: _Source,
        principal: Principal,
        feed: Feed,
        base_url: str,
        outcome: PollOutcome,
        budget: PollBudget,
    ) -> _Handled:
        """Ingest every entry not handled before, in feed order, once the linked messages due
        this poll were fetched (`poll_max_links` of them; the rest wait for the next poll)."""
        seen = await self.db.read(lambda conn: _seen_keys(conn, source.id))
        current: set[str] = set()
        newest = max((e.updated for e in feed.entries if e.updated is not None), default=None)
        new: list[_Item] = []
        for entry in feed.entries:
            item = entry_item(entry)
            if item is None or item.key in current:
                continue
            current.add(item.key)
            if item.key not in seen:
                new.append(item)
        links = [item for item in new if item.link is not None]
        due = links[: self.settings.poll_max_links]
        waiting = {item.key for item in links[len(due) :]}
        await self._fetch_links(due, base_url, budget)
        failed = [item for item in due if item.failure is not None]
        if budget.exceeded is not None:
            # The budget is why the poll stopped fetching: that is its error.
            outcome.error = Finding(budget.exceeded.rule, budget.exceeded.message, "/")
        elif failed:
            outcome.error = outcome.error or failed[0].failure
        handled = 0
        for item in new:
            if item.failure is not None or item.key in waiting:
                # Not remembered: the next poll (which sends no validators) tries again.
                continue
            result, sent = await self._ingest(source.id, principal, item)
            handled += 1
            outcome.messages[result] += 1
            if sent is not None and (newest is None or sent > newest):
                newest = sent
        stale = seen - current
        if stale:
            # Entries gone from the feed are forgotten: what is remembered stays the feed's size.
            await self.db.write(lambda conn: _forget(conn, source.id, stale))
        return _Handled(newest, complete=not failed and not waiting, handled=handled, failed=len(failed))

    async def _fetch_links(self, items: list[_Item], base_url: str, budget: PollBudget) -> None:
        """Fetch the linked messages, `poll_link_concurrency` at a time, within the poll's
        budget: each gets its message (`raw`), a refusal, or the failure that kept it."""
        slots = asyncio.Semaphore(max(1, self.settings.poll_link_concurrency))

        async def fetch(item: _Item) -> None:
            async with slots:
                try:
                    item.raw = await self._fetch_link(item, base_url, budget)
                except PollError as exc:
                    item.failure = Finding(exc.rule, exc.message, item.where)

        await asyncio.gather(*(fetch(item) for item in items))

    async def _fetch_link(self, item: _Item, base_url: str, budget: PollBudget) -> bytes | None:
        """The linked CAP message (raises PollError); None, with `item.refusal` set, for a link
        that is never to be fetched."""
        assert item.link is not None
        url = urljoin(base_url, item.link.strip())
        try:
            scheme = httpx.URL(url).scheme
        except (httpx.InvalidURL, ValueError) as exc:
            item.refusal = Finding(RULE_URL, f"{item.where}: link {url!r} is not a URL: {exc}", item.where)
            return None
        if scheme not in LINK_SCHEMES:
            message = f"{item.where}: link {url} is not http(s); not fetched"
            item.refusal = Finding(RULE_URL, message, item.where)
            return None
        return (await self.fetcher.fetch(url, budget)).body

    async def _ingest(self, source_id: int, principal: Principal, item: _Item) -> tuple[str, datetime | None]:
        """Hand one message to the ingest seam as the source's owner; remember and count it."""
        refusal = item.refusal
        result = REJECTED
        if refusal is None and item.raw is not None:
            try:
                prepared = await self._prepare(item.raw)
                # The source's owner is held to its territory as when it posts (the operator not).
                await ready_jurisdiction(principal, self.runtime.jurisdictions)
                authorise(principal, prepared, jurisdictions=self.runtime.jurisdictions)
            except IngestRejected as exc:
                first = next(iter(exc.report.errors), Finding(RULE_NOT_AN_ALERT, "not ingestible", "/"))
                refusal = Finding(first.rule, f"{item.where}: {_at(first)}", item.where)
            except IngestForbidden as exc:
                refusal, result = Finding(RULE_SENDER, f"{item.where}: {exc}", item.where), FORBIDDEN
            except OutsideJurisdiction as exc:
                first = exc.findings[0]
                refusal, result = Finding(first.rule, f"{item.where}: {_at(first)}", item.where), FORBIDDEN
            else:
                small = runs_inline(item.raw)
                lifetime = self.settings.alert_lifetime()
                try:
                    stored = await self.db.write(
                        lambda conn: _store(
                            conn, source_id, item.key, principal, prepared, lifetime, self.runtime.clock()
                        ),
                        long=not small,
                    )
                except lifecycle.NotAllowed as exc:
                    refusal, result = Finding(RULE_NOT_ALLOWED, f"{item.where}: {exc}", item.where), FORBIDDEN
                except KeyConflict as exc:
                    # The same key with other content: the stored message stays, the entry is
                    # counted as refused with why (and remembered, so not fetched again).
                    first = exc.findings[0]
                    refusal = Finding(first.rule, f"{item.where}: {first.message}", item.where)
                else:
                    return stored, prepared.alert.sent
        if refusal is None:
            refusal = Finding(RULE_INTERNAL, f"{item.where}: nothing to ingest", item.where)
        await self.db.write(lambda conn: _refused(conn, source_id, item.key, result, refusal))
        log.info(
            "polled CAP message refused",
            extra={"source": source_id, "actor": principal.actor, "rule": refusal.rule},
        )
        return result, None

    async def _prepare(self, raw: bytes) -> PreparedMessage:
        # As POST /api/v1/alerts does: the same layers, large messages validated off the loop.
        runtime = self.runtime
        registry, connectivity, gazetteer = runtime.contacts, runtime.connectivity, runtime.gazetteer
        status = runtime.network.status
        policy = routing_policy(runtime)
        # The senders' trust anchors and signature requirements, as they stand now.
        trust = await self.db.read(load_trust)
        if runs_inline(raw):
            return prepare_message(
                raw,
                registry=registry,
                connectivity=connectivity,
                status=status,
                gazetteer=gazetteer,
                trust=trust,
                policy=policy,
            )
        return await asyncio.to_thread(
            prepare_message,
            raw,
            registry=registry,
            connectivity=connectivity,
            status=status,
            gazetteer=gazetteer,
            trust=trust,
            policy=policy,
        )

    # --- recording -------------------------------------------------------------------------------

    def backoff(self, interval: float, failures: int, retry_after: float | None = None) -> float:
        """Seconds to the next poll after `failures` failures in a row: the interval doubled per
        failure, capped, times a jitter in [0.75, 1] so failing sources do not retry in step;
        never sooner than the interval or than the server's Retry-After (within the cap)."""
        cap = self.settings.poll_backoff_max_seconds
        delay = min(cap, interval * 2.0 ** min(failures, 32)) * self.rng.uniform(0.75, 1.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return max(interval, delay)

    async def _failed(self, source_id: int, started: datetime, error: PollError) -> PollOutcome:
        await self.db.write(lambda conn: self._record_failure(conn, source_id, started, error))
        log.info("feed poll failed", extra={"source": source_id, "rule": error.rule})
        return PollOutcome(source_id, FAILED, status=error.status, error=error.finding)

    def _record_failure(self, conn: Connection, source_id: int, started: datetime, error: PollError) -> None:
        s = _sources.c
        row = conn.execute(
            select(s.interval_seconds, s.consecutive_failures).where(s.id == source_id)
        ).first()
        if row is None:
            return
        failures = row.consecutive_failures + 1
        now = utcnow()
        delay = self.backoff(row.interval_seconds, failures, error.retry_after)
        conn.execute(
            update(_sources)
            .where(s.id == source_id)
            .values(
                last_poll_at=started,
                last_status=error.status,
                last_error_at=now,
                last_error_rule=error.rule[:_RULE_CHARS],
                last_error_message=error.message[:_MESSAGE_CHARS],
                consecutive_failures=failures,
                next_poll_at=now + timedelta(seconds=delay),
            )
        )

    async def _succeeded(
        self,
        source: _Source,
        started: datetime,
        outcome: PollOutcome,
        *,
        validators: tuple[str | None, str | None],
        feed: Feed | None = None,
        newest: datetime | None = None,
    ) -> None:
        if source.newest_entry_at is not None and (newest is None or newest < source.newest_entry_at):
            newest = source.newest_entry_at
        now = utcnow()
        values: dict[str, Any] = {
            "last_poll_at": started,
            "last_success_at": now,
            "last_status": outcome.status,
            "consecutive_failures": 0,
            "next_poll_at": now + timedelta(seconds=source.interval_seconds),
            "etag": _clip(validators[0], 500),
            "last_modified": _clip(validators[1], 100),
            "newest_entry_at": newest,
        }
        if feed is not None:
            values |= {"feed_kind": feed.kind, "entries": len(feed.entries)}
        if outcome.error is not None:
            values |= {
                "last_error_at": now,
                "last_error_rule": outcome.error.rule[:_RULE_CHARS],
                "last_error_message": outcome.error.message[:_MESSAGE_CHARS],
            }
        await self.db.write(
            lambda conn: conn.execute(update(_sources).where(_sources.c.id == source.id).values(values))
        )
        if newest is not None:
            self._newest[source.id] = newest.timestamp()
            self.metrics.track_source_lag(source.id, lambda: self._newest.get(source.id))


# --- what entries become ---------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_item(entry: FeedEntry) -> _Item | None:
    """What to do with one feed entry: its embedded or converted message, its link, or the
    refusal of a message that could not be converted; None for an entry with none of these."""
    where = entry.alert_path or entry.path
    if entry.alert_xml is not None:
        # The alert as its own document, as it was signed (CAP 1.2 §3.3.4).
        raw = etree.tostring(entry.alert_xml, xml_declaration=True, encoding="UTF-8")
        return _Item(_digest(raw), where, raw=raw)
    if entry.alert is not None:
        try:
            raw = to_xml(entry.alert)
        except CapError as exc:
            return _Item(_digest(repr(entry.alert).encode()), where, refusal=exc.finding)
        return _Item(_digest(raw), where, raw=raw)
    updated = entry.updated.isoformat() if entry.updated is not None else ""
    if entry.link:
        # An index entry names its message by link; a new <updated> is a new look at it.
        return _Item(_digest(f"link\n{entry.link}\n{updated}".encode()), entry.link, link=entry.link)
    if entry.errors:
        first = entry.errors[0]
        key = _digest(f"entry\n{entry.id}\n{updated}\n{where}".encode())
        return _Item(key, where, refusal=Finding(first.rule, f"{where}: {_at(first)}", where))
    return None


def _at(finding: Finding) -> str:
    return f"{finding.message} (at {finding.path})"


def _is_fatal(finding: Finding) -> bool:
    spec = FEED_RULES.get(finding.rule)
    return spec is None or spec.fatal


def _clip(value: str | None, size: int) -> str | None:
    # A validator too long for its column is dropped, not cut: a cut one would never match.
    return value if value is None or len(value) <= size else None


# --- the store ---------------------------------------------------------------------------------


def claim_due(conn: Connection, now: datetime, *, limit: int, lease: timedelta) -> list[int]:
    """Take up to `limit` due sources, oldest due first, pushing their next poll a lease ahead so
    no other instance polls them meanwhile (writers are serialised, so the claim is atomic)."""
    s = _sources.c
    due = select(s.id).where(s.next_poll_at <= now).order_by(s.next_poll_at).limit(limit)
    ids = list(conn.execute(due).scalars())
    if ids:
        conn.execute(update(_sources).where(s.id.in_(ids)).values(next_poll_at=now + lease))
    return ids


def next_due(conn: Connection) -> datetime | None:
    """When the next source is due, None when there are none."""
    value: datetime | None = conn.execute(select(func.min(_sources.c.next_poll_at))).scalar()
    return value


def _load(conn: Connection, source_id: int) -> tuple[_Source, Principal] | None:
    s = _sources.c
    row = conn.execute(
        select(
            s.id, s.url, s.interval_seconds, s.etag, s.last_modified, s.newest_entry_at, s.principal_id
        ).where(s.id == source_id)
    ).first()
    if row is None:
        return None
    principal = load_principal(conn, row.principal_id)
    if principal is None:
        return None
    source = _Source(row.id, row.url, row.interval_seconds, row.etag, row.last_modified, row.newest_entry_at)
    return source, principal


def _seen_keys(conn: Connection, source_id: int) -> set[str]:
    return set(conn.execute(select(_seen.c.key).where(_seen.c.source_id == source_id)).scalars())


def _forget(conn: Connection, source_id: int, keys: set[str]) -> None:
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        conn.execute(delete(_seen).where(_seen.c.source_id == source_id, _seen.c.key.in_(chunk)))


def _remember(conn: Connection, source_id: int, key: str, outcome: str) -> None:
    conn.execute(insert(_seen).values(source_id=source_id, key=key, outcome=outcome, seen_at=utcnow()))


def _store(
    conn: Connection,
    source_id: int,
    key: str,
    principal: Principal,
    prepared: PreparedMessage,
    lifetime: timedelta,
    now: datetime,
) -> str:
    """Store the message, remember its entry and count it, in one transaction."""
    outcome = store_message(conn, principal, prepared, lifetime=lifetime, now=now)
    result = CREATED if outcome.created else REPLAYED
    _remember(conn, source_id, key, result)
    s = _sources.c
    counter = s.messages_ingested if outcome.created else s.messages_replayed
    conn.execute(update(_sources).where(s.id == source_id).values({counter: counter + 1}))
    return result


def _refused(conn: Connection, source_id: int, key: str, result: str, refusal: Finding) -> None:
    """Remember a refused entry and count it once, with why."""
    _remember(conn, source_id, key, result)
    s = _sources.c
    conn.execute(
        update(_sources)
        .where(s.id == source_id)
        .values(
            messages_rejected=s.messages_rejected + 1,
            last_rejection_at=utcnow(),
            last_rejection_rule=refusal.rule[:_RULE_CHARS],
            last_rejection_message=refusal.message[:_MESSAGE_CHARS],
        )
    )
