"""The live event stream: `WS /api/v1/events?since=ID`, in id order, resumable, scoped like REST.

Every state change is a row of the events table (service.events.log), so a subscriber's position
is one number: the last event id it has passed. A connection first replays what it missed
(paged reads, so memory is bounded), then goes live. One `EventBroadcaster` per instance reads
new events once per commit and fans them out to its live subscribers: who may see an event is
decided once per principal, and its JSON and frame are made once per form of it, then written
straight to each connection (service.events.frames), with no task switch per subscriber; this
work runs in the broadcaster's task, after the commit, never in the request that caused it. It
is woken by this instance's own commits (`Database.on_commit`), by PostgreSQL NOTIFY for commits of other
instances (written by service.events.log in the transaction of the event), and, on SQLite, by
polling for commits of other processes (the CLI, or a second server on the same file).

Guarantees: ids strictly increasing on a connection; nothing skipped and nothing repeated
across the replay-to-live switch (see `EventBroadcaster._catch_up`); a subscriber that cannot
keep up is closed with 4408 and told where to resume, never silently skipped. Dead peers are
found by the server's WebSocket pings (uvicorn `ws_ping_interval`/`ws_ping_timeout`); an idle
stream also sends a `heartbeat` message, so a client notices a dead server or proxy. A client
may send commands, JSON messages `{"type": ...}` the app registers (`EventBroadcaster.commands`,
e.g. `{"type": "ack", "alert": ID}`); each is answered on the socket, in order with the events,
by a message whose `id` is null. Every
`credential_check_seconds` the broadcaster re-reads the tokens and sessions its connections were
opened with (one query for all of them), so a revocation or an expiry, by any process, closes
them with 4401 (`EventBroadcaster.watch_credentials`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import WebSocket
from sqlalchemy import Connection, bindparam, func, select

from cap.errors import Finding
from geo.gazetteer import default_countries
from geo.reference import REGIONS
from service.auth import Credential, Principal, unusable_credentials
from service.db import Database
from service.db.models import AlertRecord, Event
from service.errors import Invalid, ServiceError, problem_of, storage_fault
from service.events.frames import FrameSink, text_frame
from service.events.log import EVENT_TYPES, NOTIFY_CHANNEL
from service.http import parse_json
from service.settings import Settings
from service.visibility import MessageFacts, RequestParties, event_payload, may_see_cause, may_see_event

log = logging.getLogger(__name__)

# RFC 6455 §7.4.2: codes 4000-4999 are the application's own.
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
# A good token that may not subscribe: an office deleted from the registry (service.auth).
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_INTERNAL = 1011

# Events read per query, when replaying and when fanning out.
PAGE_SIZE = 500
# Subscribers written to between two turns of the event loop during a fan-out (about 2 ms).
FAN_OUT_SLICE = 200
# While LISTENing, how often the PostgreSQL listener connection is checked; when it is down,
# how often a new one is tried (meanwhile the events table is polled).
LISTEN_CHECK_SECONDS = 5.0
LISTEN_RETRY_SECONDS = 5.0
# How long a close frame may take to leave (a slow client's socket may be full).
CLOSE_TIMEOUT_SECONDS = 5.0
# Events are ids of a BigInteger column; larger is not an id this service hands out.
MAX_EVENT_ID = 2**62
CAP_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MAX_TYPES = 32
# What a subscriber sends: a command message of a few bytes (`tampere serve` bounds frames too).
MAX_COMMAND_BYTES = 16 * 1024
RULE_COMMAND_JSON = "events.command.json"
RULE_COMMAND_UNKNOWN = "events.command.unknown"
RULE_COMMAND_TOO_LARGE = "events.command.too-large"
RULE_COMMAND_FAILED = "service.internal"
RULE_COMMAND_ANONYMOUS = "events.command.anonymous"

# A command a subscriber may send: its principal and the decoded message in, the reply out
# (raise a `service.errors.ServiceError` to refuse; the reply names its status and findings).
Command = Callable[[Principal, dict[str, Any]], Awaitable[dict[str, Any]]]

_events = Event.__table__
_alerts = AlertRecord.__table__
# The message that caused an event (events.by_alert_id): its scope decides who is told which.
_causes = _alerts.alias("cause")


# --- reading the log -----------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class StoredEvent:
    """One row of the event log with its audience, and what visibility needs of its alert or
    request (`service.visibility.may_see_event`)."""

    id: int
    at: datetime
    type: str
    payload: dict[str, Any]
    regions: list[str]
    countries: list[str]
    scope: str
    status: str
    # Of the alert the event is about (None for other events, e.g. network status reports).
    poster_id: int | None
    sender: str | None
    addresses: list[str] | None
    # Of the request the event is about (None for other events).
    parties: RequestParties | None
    # Of the message that caused it (an Update, Cancel, Ack or Error), if one did.
    cause: MessageFacts | None = None


# Built once: the page query runs once per commit per instance.
_PAGE = (
    select(
        _events.c.id,
        _events.c.at,
        _events.c.type,
        _events.c.payload,
        _events.c.regions,
        _events.c.countries,
        _events.c.scope,
        _events.c.status,
        _events.c.parties,
        _alerts.c.poster_id,
        _alerts.c.sender,
        _alerts.c.addresses,
        _causes.c.scope.label("cause_scope"),
        _causes.c.poster_id.label("cause_poster_id"),
        _causes.c.sender.label("cause_sender"),
        _causes.c.addresses.label("cause_addresses"),
    )
    .select_from(
        _events.outerjoin(_alerts, _alerts.c.id == _events.c.alert_id).outerjoin(
            _causes, _causes.c.id == _events.c.by_alert_id
        )
    )
    .where(_events.c.id > bindparam("after"))
    .order_by(_events.c.id)
    .limit(bindparam("limit"))
)
_LATEST = select(func.max(_events.c.id))


def read_events(conn: Connection, *, after: int, limit: int) -> list[StoredEvent]:
    """Up to `limit` events with id > `after`, in id order."""
    return [
        StoredEvent(
            id=row.id,
            at=row.at,
            type=row.type,
            payload=row.payload,
            regions=row.regions,
            countries=row.countries,
            scope=row.scope,
            status=row.status,
            poster_id=row.poster_id,
            sender=row.sender,
            addresses=row.addresses,
            parties=RequestParties.from_json(row.parties),
            cause=None
            if row.cause_scope is None
            else MessageFacts(row.cause_scope, row.cause_poster_id, row.cause_sender, row.cause_addresses),
        )
        for row in conn.execute(_PAGE, {"after": after, "limit": limit})
    ]


def latest_event_id(conn: Connection) -> int:
    """The id of the newest event, 0 when there is none."""
    return int(conn.execute(_LATEST).scalar() or 0)


def event_message(event: StoredEvent, *, with_cause: bool = True) -> str:
    """The JSON text a subscriber receives: id, type, time, the payload and the audience;
    `with_cause` False leaves out which message caused it (`service.visibility.event_payload`)."""
    body: dict[str, Any] = {"id": event.id, "type": event.type, "at": event.at.isoformat()}
    for key, value in event_payload(event.payload, with_cause=with_cause).items():
        body.setdefault(key, value)
    body["audience"] = {
        "regions": event.regions,
        "countries": event.countries,
        "scope": event.scope,
        "status": event.status,
    }
    try:
        return json.dumps(body, separators=(",", ":"), default=str, allow_nan=False)
    except ValueError:
        # A NaN or infinity has no JSON form (RFC 8259 §6): sent as null rather than as the
        # non-standard NaN a strict client cannot read, or not at all.
        log.error("event %s holds a number that is not finite; sent as null", event.id)
        return json.dumps(_finite(body), separators=(",", ":"), default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    """The value with every NaN and infinity replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# --- what a subscriber asked for ---------------------------------------------------------------


class SelectionError(ValueError):
    """A query parameter of the event stream that cannot be used (closes with 4400)."""


@dataclass(slots=True, frozen=True)
class Selection:
    """The optional filters of a subscription: event types, ITU-D region, country, CAP status."""

    types: frozenset[str] | None = None
    region: str | None = None
    country: str | None = None
    status: str | None = None

    def matches(self, event: StoredEvent) -> bool:
        """Whether the event passes every filter given."""
        return (
            (self.types is None or event.type in self.types)
            and (self.region is None or self.region in event.regions)
            and (self.country is None or self.country in event.countries)
            and (self.status is None or self.status == event.status)
        )


def parse_since(value: str | None) -> int | None:
    """The `since` parameter: an event id (>= 0), or None for "from now on"."""
    if value is None:
        return None
    if not value.isdigit() or int(value) > MAX_EVENT_ID:
        raise SelectionError(f"since: {value[:40]!r} is not an event id (an integer >= 0)")
    return int(value)


def parse_selection(params: Mapping[str, str]) -> Selection:
    """The filters from query parameters `types` (comma-separated), `region`, `country`,
    `status`; a value that could never match is refused naming the values allowed (an empty
    stream would look like a quiet one)."""
    types: frozenset[str] | None = None
    if (raw_types := params.get("types")) is not None:
        names = [name.strip() for name in raw_types.split(",") if name.strip()]
        if not names or len(names) > MAX_TYPES:
            raise SelectionError(f"types: give 1 to {MAX_TYPES} comma-separated event types")
        unknown = [name for name in names if name not in EVENT_TYPES]
        if unknown:
            raise SelectionError(
                f"types: {unknown[0][:40]!r} is not an event type; one of {', '.join(EVENT_TYPES)}"
            )
        types = frozenset(names)
    region = params.get("region")
    if region is not None and region not in REGIONS:
        raise SelectionError(f"region: {region[:40]!r} is not an ITU-D region; one of {', '.join(REGIONS)}")
    country = params.get("country")
    if country is not None:
        code = country.strip().upper()
        if default_countries().alpha3_of(code) != code:  # FJ is Fiji's alpha-2: refused, not guessed
            message = f"country: {country[:40]!r} is not a known ISO 3166-1 alpha-3 code (e.g. FJI)"
            raise SelectionError(message)
        country = code
    status = params.get("status")
    if status is not None and status not in CAP_STATUSES:
        raise SelectionError(f"status: one of {', '.join(CAP_STATUSES)} (CAP 1.2 §3.2.1)")
    return Selection(types=types, region=region, country=country, status=status)


# --- one subscriber ----------------------------------------------------------------------------


class Subscription:
    """One connection's principal (None: anonymous, the public stream), filters, position and
    bounded queue of unsent events."""

    def __init__(
        self,
        principal: Principal | None,
        selection: Selection,
        *,
        queue_size: int,
        credential: Credential | None = None,
        sink: FrameSink | None = None,
        max_buffered: int = 4 * 1024 * 1024,
    ) -> None:
        self.principal = principal
        self.selection = selection
        # The connection itself, when the server offers it (service.events.frames): once live
        # and with nothing left in the queue, the broadcaster writes this subscriber's frames
        # straight to it (`direct`), and its backlog is what the connection has not sent.
        self.sink = sink
        self.max_buffered = max_buffered
        self.live = False
        self.direct = False
        self.last_write = 0.0
        # Plain attributes the fan-out reads for every event: whether any filter is set, and
        # whether the connection is being closed (too slow).
        self.filtered = selection != Selection()
        self.closing = False
        # The token (and session) the connection was opened with: when it is revoked, expires
        # or ends, `revoked` is set and the connection is closed with 4401.
        self.credential = credential
        self.revoked = asyncio.Event()
        # Events (id, text) and replies to commands (None, text), in the order they are sent.
        self.queue: asyncio.Queue[tuple[int | None, str]] = asyncio.Queue(max(1, queue_size))
        # Where the stream began (`since`), and the last event id examined for this subscriber
        # (queued, sent or filtered out).
        self.start = 0
        self.position = 0
        # The last event id handed to the socket: where a closed client resumes.
        self.sent_id: int | None = None
        self.overflowed = asyncio.Event()

    def wants(self, event: StoredEvent) -> bool:
        """Whether this subscriber is to receive the event (filters, then who may see it)."""
        return self.selection.matches(event) and may_see_event(self.principal, event)

    def message(self, event: StoredEvent, told: dict[bool, str] | None = None) -> str:
        """The event as this subscriber is told it (without the message that caused it when
        it may not see that one); `told` caches the two forms across subscribers."""
        with_cause = may_see_cause(self.principal, event.cause)
        if told is None:
            return event_message(event, with_cause=with_cause)
        if with_cause not in told:
            told[with_cause] = event_message(event, with_cause=with_cause)
        return told[with_cause]

    def overflow(self) -> None:
        """The subscriber cannot keep up: it is closed (4408) and told where to resume. A full
        queue, or (direct) a connection holding more unsent bytes than `max_buffered`; a
        connection that is closing is not written to (`FrameSink.write_frame`)."""
        self.closing = True
        self.overflowed.set()

    def offer(self, event_id: int, message: str) -> bool:
        """Queue a live event without waiting; False (and `overflowed` set) when full."""
        try:
            self.queue.put_nowait((event_id, message))
        except asyncio.QueueFull:
            self.overflow()
            return False
        return True

    @property
    def resume_from(self) -> int:
        """The `since` to reconnect with: the last event sent, else where the stream began."""
        return self.sent_id if self.sent_id is not None else self.start


# --- the broadcaster ---------------------------------------------------------------------------


class EventBroadcaster:
    """Reads new events once per wake-up and fans them out to this instance's subscribers."""

    def __init__(
        self,
        db: Database,
        *,
        queue_size: int,
        heartbeat_seconds: float,
        poll_seconds: float,
        page_size: int = PAGE_SIZE,
        max_buffered: int = 4 * 1024 * 1024,
    ) -> None:
        self.db = db
        self.queue_size = max(1, queue_size)
        self.max_buffered = max_buffered
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.page_size = page_size
        # Every event with id <= cursor has been offered to every live subscriber.
        self._cursor = 0
        self._live: set[Subscription] = set()
        self._connected: set[Subscription] = set()
        # Held while reading a page and fanning it out, and while a subscriber joins: so a
        # joining subscriber sees a cursor that no read in flight is about to move.
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listener: Any | None = None
        self._listen_retry_at = 0.0
        # What subscribers may send, by message type (registered by the app).
        self.commands: dict[str, Command] = {}

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> EventBroadcaster:
        """A broadcaster with the limits of the settings (TAMPERE_EVENTS_*)."""
        return cls(
            db,
            queue_size=settings.events_queue_size,
            heartbeat_seconds=settings.events_heartbeat_seconds,
            poll_seconds=settings.events_poll_seconds,
            max_buffered=settings.events_max_buffered_bytes,
        )

    @property
    def subscribers(self) -> int:
        """Connections being served (replaying or live)."""
        return len(self._connected)

    @property
    def live_subscribers(self) -> int:
        """Connections past their replay, fed by the broadcaster."""
        return len(self._live)

    @property
    def listening(self) -> bool:
        """Whether a PostgreSQL LISTEN connection is up (other instances' commits wake us)."""
        return self._listener is not None and not self._listener.is_closed()

    def wake(self) -> None:
        """Look for new events soon (an event may have been committed)."""
        self._wake.set()

    # --- the pump --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Wake on commits (and NOTIFY, or polling) and fan new events out, until cancelled."""
        remove = self.db.on_commit(self.wake)
        try:
            while True:
                woken = await self._sleep()
                self._wake.clear()
                if not self._live or not (woken or self._polling):
                    continue
                try:
                    await self._pump()
                except Exception:  # a failed read is retried; a subscriber loses nothing
                    log.exception("reading new events failed")
                    await asyncio.sleep(self.poll_seconds)
                    self._wake.set()
        finally:
            remove()
            await self._stop_listening()

    @property
    def _polling(self) -> bool:
        # SQLite: other processes commit without telling us. PostgreSQL: only while LISTEN is down.
        return self.db.is_sqlite or not self.listening

    async def _sleep(self) -> bool:
        """Wait for a wake-up, a poll tick or a listener check; True when woken."""
        if not self.db.is_sqlite and not self.listening:
            await self._listen()
        timeout = self.poll_seconds if self._polling else LISTEN_CHECK_SECONDS
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # meets a wake-up in the same loop turn, and shutdown would wait for ever.
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def _pump(self) -> None:
        """Read pages past the cursor and offer each event to every live subscriber."""
        while self._live:
            async with self._lock:
                page = await self.db.read(
                    lambda conn: read_events(conn, after=self._cursor, limit=self.page_size)
                )
                await self._fan_out(page)
            if len(page) < self.page_size:
                return

    async def _fan_out(self, page: list[StoredEvent]) -> None:
        """Offer each event to every live subscriber: who may see it is decided once per
        principal, its JSON and its frame made once per form (with or without the message that
        caused it); a direct subscriber gets the frame's bytes written to its connection, the
        others (still sending their catch-up, or without a sink) get the text queued. Every
        FAN_OUT_SLICE subscribers it lets the loop run (the answers of POSTs, among them the one
        that made the event), holding the lock: no subscriber joins in the middle."""
        done = 0
        # Subscribers by principal, once per page: the decision is the principal's.
        audiences: dict[Principal | None, list[Subscription]] = {}
        for sub in self._live:
            audiences.setdefault(sub.principal, []).append(sub)
        loop_time = asyncio.get_running_loop().time
        for event in page:
            told: dict[bool, str] = {}
            frames: dict[bool, bytes] = {}
            now = loop_time()
            event_id = event.id
            for principal, subs in audiences.items():
                form = may_see_cause(principal, event.cause) if may_see_event(principal, event) else None
                for sub in subs:
                    done += 1
                    if done % FAN_OUT_SLICE == 0:
                        await asyncio.sleep(0)
                    if event_id <= sub.position or sub.closing:
                        continue  # had it while catching up, or is being closed
                    sub.position = event_id
                    if form is None or (sub.filtered and not sub.selection.matches(event)):
                        continue
                    if sub.direct:
                        frame = frames.get(form)
                        if frame is None:
                            message = told.get(form)
                            if message is None:
                                message = told[form] = event_message(event, with_cause=form)
                            frame = frames[form] = text_frame(message)
                        sink = sub.sink
                        if sink.buffered > sub.max_buffered:  # type: ignore[union-attr]
                            sub.overflow()
                            self._live.discard(sub)
                        elif sink.write_frame(frame):  # type: ignore[union-attr]
                            sub.sent_id = event_id
                            sub.last_write = now
                        continue
                    message = told.get(form)
                    if message is None:
                        message = told[form] = event_message(event, with_cause=form)
                    if not sub.offer(event_id, message):
                        self._live.discard(sub)
            self._cursor = max(self._cursor, event_id)

    # --- credentials of open connections ---------------------------------------------------------

    async def watch_credentials(self, interval: float) -> None:
        """Every `interval` seconds, close the connections whose token was revoked or expired, or
        whose session ended, until cancelled. One query per round for all of this instance's
        connections; it sees revocations by any process (the CLI, another instance)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_credentials()
            except Exception:  # the store may be away a moment; the next round looks again
                log.exception("checking the credentials of event subscribers failed")

    async def check_credentials(self) -> None:
        """Set `revoked` on each connection whose credential is no longer good."""
        held = [sub for sub in self._connected if sub.credential is not None and not sub.revoked.is_set()]
        if not held:
            return
        tokens = {sub.credential.token_id for sub in held if sub.credential is not None}
        sessions = {
            sub.credential.session_id
            for sub in held
            if sub.credential is not None and sub.credential.session_id is not None
        }
        bad_tokens, bad_sessions = await self.db.read(
            lambda conn: unusable_credentials(conn, tokens, sessions)
        )
        for sub in held:
            credential = sub.credential
            assert credential is not None
            if credential.token_id in bad_tokens or credential.session_id in bad_sessions:
                sub.revoked.set()

    # --- PostgreSQL LISTEN -------------------------------------------------------------------

    async def _listen(self) -> None:
        """Open the LISTEN connection (not more often than every LISTEN_RETRY_SECONDS)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._listen_retry_at:
            return
        self._listen_retry_at = loop.time() + LISTEN_RETRY_SECONDS
        await self._stop_listening()
        import asyncpg

        from service.db.database import postgres_connect_args

        url, connect_args = postgres_connect_args(self.db.url)
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            connection = await asyncpg.connect(dsn, timeout=5, **connect_args)
            await connection.add_listener(NOTIFY_CHANNEL, self._notified)
        except Exception as exc:  # polled meanwhile; tried again later
            log.warning("cannot LISTEN for events (polling instead): %s", exc)
            return
        self._listener = connection
        # Commits made while nobody listened sent their NOTIFY to no one: look now.
        self._wake.set()

    def _notified(self, *_args: Any) -> None:
        self._wake.set()

    async def _stop_listening(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await listener.close()

    # --- one connection ----------------------------------------------------------------------

    async def stream(self, websocket: WebSocket, sub: Subscription, *, since: int) -> None:
        """Serve one accepted connection: replay from `since`, then live, until it ends."""
        self._connected.add(sub)
        sub.position = sub.start = since
        tasks: dict[str, asyncio.Task[Any]] = {}
        try:
            tasks = {
                "replay": asyncio.create_task(self._replay(sub)),
                "send": asyncio.create_task(self._send(websocket, sub)),
                "receive": asyncio.create_task(self._receive(websocket, sub)),
                "overflow": asyncio.create_task(sub.overflowed.wait()),
                "revoked": asyncio.create_task(sub.revoked.wait()),
            }
            waiting = set(tasks.values())
            while True:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if done != {tasks["replay"]} or tasks["replay"].exception() is not None:
                    break  # anything but a replay that went live ends the connection
        finally:
            self._live.discard(sub)
            self._connected.discard(sub)
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        if sub.revoked.is_set():
            reason = "the token was revoked or expired, or the session ended"
            log.info("event subscriber closed: %s", reason, extra={"actor": _actor(sub)})
            await _close(websocket, sub, CLOSE_UNAUTHORIZED, reason)
        elif sub.overflowed.is_set():
            reason = f"too slow: reconnect with since={sub.resume_from}"
            log.info("event subscriber closed: %s", reason, extra={"actor": _actor(sub)})
            await _close(websocket, sub, CLOSE_TOO_SLOW, reason)
        elif (failed := tasks["replay"]).done() and not failed.cancelled() and failed.exception():
            log.error("event replay failed", exc_info=failed.exception())
            reason = f"internal error: reconnect with since={sub.resume_from}"
            await _close(websocket, sub, CLOSE_INTERNAL, reason)

    async def _replay(self, sub: Subscription) -> None:
        """Queue the events after the subscriber's position, page by page, then go live."""
        while True:
            page = await self.db.read(
                lambda conn: read_events(conn, after=sub.position, limit=self.page_size)
            )
            for event in page:
                if sub.wants(event):
                    # Waits while the queue is full: a slow reader slows its own replay.
                    await sub.queue.put((event.id, sub.message(event)))
                sub.position = event.id
            if len(page) < self.page_size and await self._catch_up(sub):
                return

    async def _catch_up(self, sub: Subscription) -> bool:
        """Read what was committed since the last page and join the live subscribers in one
        step under the lock; False when more came in than the queue holds (replay again)."""
        # Wait until the backlog is sent, so the catch-up fits in the queue.
        await sub.queue.join()
        limit = min(self.page_size, self.queue_size)
        async with self._lock:
            # Under the lock the cursor stays put, and every event up to it was committed before
            # this read began: the read covers them. Later ones are the pump's, from the cursor;
            # the ones both see are dropped by `sub.position`.
            page = await self.db.read(lambda conn: read_events(conn, after=sub.position, limit=limit))
            for event in page:
                if sub.wants(event):
                    sub.offer(event.id, sub.message(event))  # fits: the queue was empty
                sub.position = event.id
            if len(page) == limit:
                return False
            if not self._live:
                # Nobody was live, so the cursor stood still; start it where this one is.
                self._cursor = sub.position
            self._live.add(sub)
            sub.live = True
        # A commit that woke the pump while nobody was live went unread: read past the cursor now.
        self._wake.set()
        return True

    async def _send(self, websocket: WebSocket, sub: Subscription) -> None:
        """Hand queued events to the socket in order, a heartbeat when idle; once the subscriber
        is live with nothing queued and its connection is a sink, the broadcaster writes to it
        directly and this only keeps the heartbeat."""
        while True:
            if sub.direct:
                await self._heartbeat_direct(sub)
                continue
            try:
                if sub.queue.empty():
                    async with asyncio.timeout(self.heartbeat_seconds):
                        event_id, message = await sub.queue.get()
                else:
                    event_id, message = sub.queue.get_nowait()
            except TimeoutError:
                if sub.queue.empty():
                    await websocket.send_text(_heartbeat(sub))
                continue
            await websocket.send_text(message)
            if event_id is not None:  # a reply to a command is no position in the log
                sub.sent_id = event_id
            sub.queue.task_done()
            if sub.sink is not None and sub.live and sub.queue.empty():
                # Nothing queued is left to overtake: from here on, frames go straight out.
                sub.direct = True
                sub.last_write = asyncio.get_running_loop().time()

    async def _heartbeat_direct(self, sub: Subscription) -> None:
        """Sleep until the subscriber has been idle for `heartbeat_seconds`, then send one."""
        loop = asyncio.get_running_loop()
        idle = loop.time() - sub.last_write
        if idle < self.heartbeat_seconds:
            await asyncio.sleep(self.heartbeat_seconds - idle)
            return
        assert sub.sink is not None
        sub.sink.write_frame(text_frame(_heartbeat(sub)))
        sub.last_write = loop.time()

    # --- what a subscriber sends ---------------------------------------------------------------

    async def _receive(self, websocket: WebSocket, sub: Subscription) -> None:
        """Answer what the client sends, one message at a time, until it disconnects."""
        while True:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                return
            data = received.get("text")
            if data is None and received.get("bytes") is not None:
                data = received["bytes"].decode("utf-8", "replace")
            reply = await self.answer(sub.principal, data or "")
            text = json.dumps(reply, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            if sub.direct and sub.sink is not None:
                # Frames go straight out now: the reply joins them there, in order.
                sub.sink.write_frame(text_frame(text))
                sub.last_write = asyncio.get_running_loop().time()
            else:
                await sub.queue.put((None, text))

    async def answer(self, principal: Principal | None, data: str) -> dict[str, Any]:
        """The reply to one message a subscriber sent: its command's answer, or a refusal
        `{"id": null, "type": "error" | "<type>.result", "status", "errors": [...]}`; commands
        act for a principal, so an anonymous subscriber's are refused (401)."""
        if len(data) > MAX_COMMAND_BYTES:
            return _refusal(
                "error", 413, RULE_COMMAND_TOO_LARGE, f"a command is at most {MAX_COMMAND_BYTES} bytes"
            )
        try:
            # As REST bodies are read: strict JSON, so NaN, Infinity and 1e400 are refused (naming
            # where) rather than echoed back as non-standard JSON in the answer's "request".
            message = parse_json(data.encode(), rule=RULE_COMMAND_JSON)
        except Invalid as exc:
            [finding] = exc.findings[:1]
            text = f'a command is a JSON object {{"type": ...}}; {finding.message}'
            return _refusal("error", 400, RULE_COMMAND_JSON, text, path=finding.path)
        kind = message.get("type") if isinstance(message, dict) else None
        command = self.commands.get(kind) if isinstance(kind, str) else None
        if command is None:
            known = ", ".join(sorted(self.commands)) or "none"
            return _refusal(
                "error", 400, RULE_COMMAND_UNKNOWN, f"type {kind!r} is not a command; one of {known}"
            )
        result = f"{kind}.result"
        if principal is None:
            return _refusal(
                result,
                401,
                RULE_COMMAND_ANONYMOUS,
                "the public stream only listens: sign in and use /api/v1/events to send commands",
            )
        try:
            reply = await command(principal, message)
        except Exception as exc:
            fault = exc if isinstance(exc, ServiceError) else storage_fault(exc)
            if fault is None:
                log.exception("event stream command failed", extra={"actor": principal.actor})
                return _refusal(result, 500, RULE_COMMAND_FAILED, "the command failed; see the service log")
            problem = problem_of(fault)
            return {
                "id": None,
                "type": result,
                "status": problem.status,
                "title": problem.title,
                "errors": [f.as_dict() for f in fault.findings],
                "request": message,
            }
        return {**reply, "id": None, "type": result, "status": 200, "request": message}


def _refusal(kind: str, status: int, rule: str, message: str, *, path: str = "/") -> dict[str, Any]:
    return {"id": None, "type": kind, "status": status, "errors": [Finding(rule, message, path).as_dict()]}


def _actor(sub: Subscription) -> str:
    return "anonymous" if sub.principal is None else sub.principal.actor


def _heartbeat(sub: Subscription) -> str:
    # Everything up to `position` was sent or filtered out: resuming there is safe.
    return json.dumps({"id": None, "type": "heartbeat", "last_id": sub.position}, separators=(",", ":"))


async def _close(websocket: WebSocket, sub: Subscription, code: int, reason: str) -> None:
    # A direct subscriber's close frame goes behind its frames at once: through ASGI it would
    # wait for a backed-up reader to drain first.
    if sub.direct and sub.sink is not None:
        sub.sink.close_with(code, reason[:120])
    else:
        await close_websocket(websocket, code, reason)


async def close_websocket(websocket: WebSocket, code: int, reason: str) -> None:
    # A client that stopped reading may keep the close frame from leaving: give up after a while
    # (the server then drops the connection).
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await websocket.close(code=code, reason=reason[:120])
