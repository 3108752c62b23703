"""The background work of deliveries, one `Deliverer` per instance: fill the outbox from the event
log, claim due channels, send their deliveries, record the tries (service.deliveries.outbox).

Nothing here runs on the path that answers a POST: the deliverer is woken after commits
(`Database.on_commit`), and polls for what other instances filled and for retries that fall due.
Each claimed channel is sent to by a task of its own (up to `concurrency` at once), so a slow
endpoint delays nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from contact_points.registry import ContactPoint
from service.contact_points import store as contact_store
from service.db import Database
from service.db.models import utcnow
from service.deliveries import outbox, registry_channels
from service.deliveries.email import (
    Item,
    Mailer,
    Recipient,
    alert_id_of,
    compose_digest,
    compose_one,
    message,
    request_id_of,
)
from service.deliveries.store import EMAIL, WEBHOOK, signing_secrets
from service.deliveries.webhook import WebhookSender
from service.settings import Settings

log = logging.getLogger(__name__)

# Events read per fill transaction, and deliveries sent per claim of a channel.
FILL_PAGE = 200
BATCH = 50
# Channels sent to at the same time by one instance.
CONCURRENCY = 16
# A sender stops its batch when less than this is left of its lease beyond one request's time.
LEASE_MARGIN_SECONDS = 5.0
# The longest a channel is leased for one batch (besides the margins): how long the channels of
# an instance that died without ending its leases wait for another (was 50 tries of 30 s: 25 min).
MAX_LEASE_SECONDS = 120.0
SYSTEM = "system"


class Deliverer:
    """Fills the outbox and sends what is due, until cancelled."""

    def __init__(self, db: Database, settings: Settings, *, instance: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self.instance = instance or f"{uuid.uuid4().hex[:12]}"
        self.webhooks = WebhookSender.from_settings(settings)
        self.mailer = Mailer(settings)
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self.give_up = timedelta(seconds=settings.webhook_give_up_seconds)

    def wake(self) -> None:
        """Look for new events and due deliveries soon."""
        self._wake.set()

    @property
    def _kinds(self) -> tuple[str, ...]:
        # Without an SMTP server e-mail deliveries stay pending (listed as such), never dropped.
        return (WEBHOOK, EMAIL) if self.mailer.configured else (WEBHOOK,)

    def _lease(self) -> timedelta:
        """Long enough for a whole batch of requests that each take their full time, up to
        `MAX_LEASE_SECONDS`: a batch that could outlast it stops early (`_lease_left`) and its
        rest is claimed again, and the channels of an instance that died are free that soon."""
        per_try = max(self.settings.webhook_timeout_seconds, self.settings.smtp_timeout_seconds)
        return timedelta(seconds=min(BATCH * per_try, MAX_LEASE_SECONDS) + 2 * LEASE_MARGIN_SECONDS)

    async def run(self) -> None:
        """Wake on commits (and every `delivery_poll_seconds`); fill, then send what is due."""
        remove = self.db.on_commit(self.wake)
        try:
            # Registry addresses stored before they were channels, or changed while no instance
            # ran this: brought in step once (idempotent; another instance may do the same).
            try:
                await self.db.write(self._sync_registry)
            except Exception:
                log.exception("registry e-mail channels could not be brought in step")
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.delivery_poll_seconds):
                        await self._wake.wait()
                self._wake.clear()
                try:
                    await self.deliver_round()
                except Exception:  # the store may be away a moment; the next round tries again
                    log.exception("delivery round failed")
        finally:
            remove()
            for task in list(self._busy.values()):
                task.cancel()
            await asyncio.gather(*self._busy.values(), return_exceptions=True)
            # A sender cancelled before it recorded its batch left its lease: end them all, or
            # the channels would wait for them to run out after a restart.
            with contextlib.suppress(Exception):
                await self.db.write(lambda conn: outbox.release_all(conn, instance=self.instance))
            await self.webhooks.aclose()

    @staticmethod
    def _sync_registry(conn: Any) -> None:
        registry_channels.sync_all(conn, contact_store.list_contacts(conn), actor=SYSTEM)

    async def deliver_round(self) -> None:
        """Fill the outbox, then claim and send what is due. Most wakes (a commit of events no
        channel wants, or none at all) find nothing to fill: then one read answers both
        questions, not one read each (a thread hop and a transaction per alert saved)."""
        now, busy = utcnow(), list(self._busy)
        needed, due = await self.db.read(
            lambda conn: (outbox.fill_needed(conn), self._due(conn, now=now, busy=busy))
        )
        if needed:
            await self.fill()
            due = None  # what was just filled may be due: asked again
        await self.dispatch(due)

    async def fill(self) -> None:
        """Make the deliveries of every event past the outbox cursor."""
        while True:
            read = await self.db.write(
                lambda conn: outbox.fill(conn, now=utcnow(), give_up=self.give_up, limit=FILL_PAGE), long=True
            )
            if read < FILL_PAGE:
                return

    def _due(self, conn: Any, *, now: datetime, busy: list[int]) -> list[int]:
        return outbox.due_channels(conn, now=now, kinds=self._kinds, exclude=busy)

    async def dispatch(self, due: list[int] | None = None) -> None:
        """Claim the channels with due deliveries (`due`, else read now) that no task here is
        sending to, and start one task per claim."""
        if due is None:
            now, busy = utcnow(), list(self._busy)
            due = await self.db.read(lambda conn: self._due(conn, now=now, busy=busy))
        room = CONCURRENCY - len(self._busy)
        if not due or room <= 0:
            return
        claims = await self.db.write(
            lambda conn: outbox.claim(
                conn, due[:room], instance=self.instance, now=utcnow(), lease=self._lease(), batch=BATCH
            )
        )
        for claim in claims:
            task = asyncio.create_task(self._send(claim), name=f"delivery-{claim.channel.id}")
            self._busy[claim.channel.id] = task
            task.add_done_callback(lambda _t, cid=claim.channel.id: self._done(cid))

    def _done(self, channel_id: int) -> None:
        self._busy.pop(channel_id, None)
        self._wake.set()

    async def _send(self, claim: outbox.Claim) -> None:
        async with self._limit:
            try:
                if claim.channel.kind == WEBHOOK:
                    outcomes = await self._send_webhooks(claim)
                else:
                    outcomes = await self._send_email(claim)
            except asyncio.CancelledError:
                await asyncio.shield(self._release(claim))
                raise
            except Exception:
                log.exception("sending to channel %s failed", claim.channel.id)
                await self._release(claim)
                return
            await self.db.write(
                lambda conn: outbox.record(
                    conn,
                    claim,
                    outcomes,
                    instance=self.instance,
                    now=utcnow(),
                    max_backoff=self.settings.webhook_max_backoff_seconds,
                )
            )

    async def _release(self, claim: outbox.Claim) -> None:
        with contextlib.suppress(Exception):
            await self.db.write(lambda conn: outbox.release(conn, claim.channel.id, instance=self.instance))

    def _lease_left(self, claim: outbox.Claim, per_try: float) -> bool:
        """Whether one more try surely ends within the lease (so no other instance has taken it)."""
        left = (claim.lease_until - utcnow()).total_seconds()
        return left > per_try + LEASE_MARGIN_SECONDS

    async def _send_webhooks(self, claim: outbox.Claim) -> list[outbox.Outcome]:
        channel = claim.channel
        outcomes = []
        for row in claim.deliveries:
            if not self._lease_left(claim, self.settings.webhook_timeout_seconds):
                break
            outcome = await self.webhooks.send(
                delivery_id=row.id,
                url=channel.target,
                secrets=signing_secrets(channel, utcnow()),
                event_id=row.event_id,
                body=row.body,
            )
            outcomes.append(outcome)
            if outcome.endpoint_down:
                break  # the rest wait with the channel, in order
        return outcomes

    async def _send_email(self, claim: outbox.Claim) -> list[outbox.Outcome]:
        channel = claim.channel
        rows = claim.deliveries
        alert_ids = [i for row in rows if (i := alert_id_of(row.body)) is not None]
        request_ids = [i for row in rows if (i := request_id_of(row.body)) is not None]

        def read(conn: Any) -> tuple[Any, Any, Any]:
            return (
                outbox.alert_context(conn, alert_ids),
                outbox.request_entries(conn, request_ids, channel.contact_id),
                contact_store.get(conn, channel.contact_id),
            )

        alerts, requests, contact = await self.db.read(read)
        recipient = Recipient(
            channel.contact_id,
            channel.language or _people_language(contact),
            registry_channels.roles_of(channel.filters),
            _people_time_zone(contact, channel.target),
        )
        items = {}
        for row in rows:
            event = json.loads(row.body)
            model, routing = alerts.get(alert_id_of(row.body) or 0, (None, []))
            entry = outbox.routing_entry(routing, channel.contact_id) if model is not None else None
            if entry is None and event.get("request_id") is not None:
                found = requests.get(int(event["request_id"]))
                entry = None if found is None else {"priority": row.priority, **found}
            items[row.id] = Item(row.id, event, row.priority, model, entry)
        base = self.settings.base_url()
        sender = self.settings.smtp_from
        batches = []
        singles = [row for row in rows if not row.digest]
        digest = [row for row in rows if row.digest]
        for row in singles:
            subject, text, html, language = compose_one(items[row.id], recipient=recipient, base_url=base)
            mail = message(
                sender=sender,
                to=channel.target,
                subject=subject,
                text=text,
                html=html,
                language=language,
                event_ids=[row.event_id],
            )
            batches.append((mail, [row.id]))
        if digest:
            subject, text, html, language = compose_digest(
                [items[r.id] for r in digest], recipient=recipient, base_url=base
            )
            mail = message(
                sender=sender,
                to=channel.target,
                subject=subject,
                text=text,
                html=html,
                language=language,
                event_ids=[r.event_id for r in digest],
            )
            batches.append((mail, [r.id for r in digest]))
        return await self.mailer.send(batches)


def _people_time_zone(contact: ContactPoint | None, address: str) -> str | None:
    """The time zone of the person at this address, else the first listed among the people."""
    people = contact.people if contact is not None else ()
    own = [p for p in people if p.email and p.email.casefold() == address.casefold()]
    return next((p.time_zone for p in [*own, *people] if p.time_zone), None)


def _people_language(contact: ContactPoint | None) -> str | None:
    """The working language of a contact point's people: the first listed (None: English)."""
    for person in contact.people if contact is not None else ():
        if person.languages:
            return person.languages[0]
    return None
