"""The FastAPI app: settings, a lifespan that opens and closes the store, routes, middleware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Connection, func, select, text

from cap.errors import Finding
from contact_points.rules import RoutingRules
from geo.gazetteer import default_countries
from geo.jurisdiction import Jurisdictions
from geo.layers.connectivity import ConnectivityLayer
from geo.reference import ReferenceTables
from service.alerts.escalation import alert_escalation_sweeper
from service.alerts.expiry import expiry_sweeper
from service.alerts.routes import alert_ack_command, alerts_router
from service.assistance.escalation import escalation_sweeper
from service.assistance.routes import requests_router
from service.audience import AudienceMarker
from service.auth import Authenticator
from service.contact_points.reload import contacts_watcher
from service.contact_points.routes import contact_points_router
from service.contact_points.store import load_registry, revision
from service.db import Database, upgrade
from service.db.models import PendingReference, utcnow
from service.deliveries.routes import deliveries_router
from service.deliveries.worker import Deliverer
from service.docs import add_documentation
from service.errors import RULE_STORE_FULL, RULE_STORE_UNREACHABLE, Unavailable, add_error_handlers
from service.events.routes import events_router
from service.events.stream import EventBroadcaster
from service.geocodes.files import load_gazetteer
from service.geocodes.reload import GazetteerReloader, gazetteer_watcher, geocodes_fingerprint
from service.http import BodyLimit, Compression
from service.layers.files import load_connectivity
from service.layers.reload import LayerReloader, layer_watcher, layers_fingerprint
from service.layers.routes import layers_router
from service.logging import RequestContextMiddleware
from service.metrics import Metrics
from service.network.reports import StatusBook
from service.network.routes import MAX_BODY_BYTES as STATUS_REPORT_MAX_BYTES
from service.network.routes import network_status_router
from service.ratelimit import RateLimitMiddleware, RateLimits
from service.runtime import Runtime, RuntimeDep
from service.settings import Settings
from service.sources.poller import FeedPoller
from service.sources.routes import sources_router
from service.tokens.routes import tokens_router
from service.webapp.routes import add_webapp

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
# How long /healthz keeps saying "full" after a write found the store full: long enough for a
# load balancer to see it, short enough that a freed disk is noticed without a write.
FULL_REMEMBERED_SECONDS = 30.0


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """Build the app; resources are opened by its lifespan, so building it costs nothing.
    `clock` tells the time deadlines, acknowledgements and escalation count by (tests move it)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await open_runtime(settings, metrics, clock=clock)
        app.state.runtime = runtime
        poller = app.state.poller = FeedPoller(runtime)
        broadcaster = app.state.event_broadcaster = EventBroadcaster.from_settings(runtime.db, settings)
        # What a subscriber may send on the stream: {"type": "ack", "alert": ID}.
        broadcaster.commands["ack"] = lambda principal, message: alert_ack_command(
            runtime, principal, message
        )
        deliverer = app.state.deliverer = Deliverer(runtime.db, settings)
        tasks = [
            asyncio.create_task(expiry_sweeper(runtime), name="expiry-sweeper"),
            asyncio.create_task(broadcaster.run(), name="event-broadcaster"),
            asyncio.create_task(deliverer.run(), name="deliverer"),
            asyncio.create_task(
                broadcaster.watch_credentials(settings.credential_check_seconds), name="event-credentials"
            ),
            asyncio.create_task(checkpointer(runtime), name="wal-checkpointer"),
            asyncio.create_task(layer_watcher(runtime), name="layer-watcher"),
            asyncio.create_task(escalation_sweeper(runtime), name="request-escalator"),
            asyncio.create_task(alert_escalation_sweeper(runtime), name="alert-escalator"),
            asyncio.create_task(contacts_watcher(runtime), name="contacts-watcher"),
            asyncio.create_task(gazetteer_watcher(runtime), name="gazetteer-watcher"),
        ]
        if settings.poll_enabled:
            tasks.append(asyncio.create_task(poller.run(), name="feed-poller"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await poller.aclose()
            await runtime.db.close()

    app = FastAPI(
        title="Tampere",
        version="0.1.0",
        summary="Emergency telecommunications coordination: CAP alerts in, impact and routing out",
        lifespan=lifespan,
        docs_url=None,  # service.docs serves /docs and /redoc from local assets
        redoc_url=None,
    )
    add_documentation(app)
    add_webapp(app, settings)
    app.include_router(alerts_router())
    app.include_router(network_status_router())
    app.include_router(layers_router())
    app.include_router(sources_router())
    app.include_router(events_router())
    app.include_router(requests_router())
    app.include_router(contact_points_router())
    app.include_router(tokens_router())
    app.include_router(deliveries_router())
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["operations"],
        responses={503: {"description": "Not ready: the store unreachable, full, or low on disk"}},
    )
    app.add_api_route(
        "/metrics", metrics_endpoint, methods=["GET"], tags=["operations"], response_class=Response
    )
    # Before the request context: faults are answered inside it, under the request's id.
    add_error_handlers(app)
    # Every body bounded before any route runs (authentication included); CAP messages and
    # status reports are larger than the JSON records of every other route.
    app.add_middleware(
        BodyLimit,
        default=settings.max_json_body_bytes,
        routes={"/api/v1/alerts": settings.max_body_bytes, "/api/v1/network-status": STATUS_REPORT_MAX_BYTES},
        idle_timeout=settings.body_idle_timeout_seconds,
    )
    # Inside the request context (a 429 carries the request id), before any route's work.
    app.state.rate_limits = RateLimits(settings)
    app.add_middleware(RateLimitMiddleware, limits=app.state.rate_limits)
    app.add_middleware(RequestContextMiddleware, observe=metrics.observe_http)
    # What an anonymous request gets, anyone may see: said so for the web app's service worker.
    app.add_middleware(AudienceMarker)
    # Outermost: every answer is compressed when the client accepts it, problems included.
    app.add_middleware(Compression)
    return app


async def open_runtime(
    settings: Settings, metrics: Metrics, *, clock: Callable[[], datetime] = utcnow
) -> Runtime:
    """Open the store (migrating it), load the contact points, the routing rules, the reference
    tables, the connectivity layer and the gazetteer: the data every request reads, loaded once
    here (the registry again when it changes: service.contact_points.reload)."""
    # A bad routing table stops the start here, naming each mistake, before anything is opened.
    rules = await anyio.to_thread.run_sync(_load_rules, settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous)
    await upgrade(db)
    metrics.track_backlog(lambda: db.waiting_writers)
    # Fingerprint before loading: an import landing meanwhile is picked up by the watcher.
    fingerprint = layers_fingerprint(settings.data_dir)
    geocodes = geocodes_fingerprint(settings.data_dir)
    connectivity = await anyio.to_thread.run_sync(_load_connectivity, settings)
    await anyio.to_thread.run_sync(_warm_geography)
    contacts_revision, contacts = await db.read(lambda conn: (revision(conn), load_registry(conn)))
    reference = await anyio.to_thread.run_sync(ReferenceTables.load)
    # Later `tampere geocodes import`s are picked up by service.geocodes.reload.gazetteer_watcher.
    gazetteer = await anyio.to_thread.run_sync(load_gazetteer, settings.data_dir)
    network = StatusBook()
    await db.read(network.load_new)
    return Runtime(
        settings=settings,
        db=db,
        authenticator=Authenticator(cache_seconds=settings.auth_cache_seconds),
        metrics=metrics,
        contacts=contacts,
        reference=reference,
        connectivity=connectivity,
        network=network,
        layers=LayerReloader(settings.data_dir, fingerprint),
        gazetteer=gazetteer,
        geocodes=GazetteerReloader(settings.data_dir, geocodes),
        jurisdictions=Jurisdictions(reference, margin_km=settings.jurisdiction_margin_km),
        routing_rules=rules,
        contacts_revision=contacts_revision,
        clock=clock,
        deadlines=settings.ack_deadlines(),
    )


def _load_rules(settings: Settings) -> RoutingRules:
    path = settings.routing_rules_file
    if path is None:
        return RoutingRules.load()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuntimeError(
            f"TAMPERE_ROUTING_RULES_FILE {path}: cannot be read: {exc.strerror or exc}"
        ) from None
    # RulesInvalid names the file and every mistake in it.
    return RoutingRules.load(text, name=str(path))


def _load_connectivity(settings: Settings) -> ConnectivityLayer:
    # Read at startup; later imports are picked up by service.layers.reload.layer_watcher.
    return load_connectivity(settings.data_dir)


def _warm_geography() -> None:
    # Reading the packaged countries takes a moment; pay it at startup, not on the first alert.
    default_countries()


async def checkpointer(runtime: Runtime) -> None:
    """Checkpoint the SQLite WAL every second, off the writer's path (see Database.checkpoint)."""
    if not runtime.db.is_sqlite:
        return
    while True:
        await asyncio.sleep(CHECKPOINT_SECONDS)
        try:
            await runtime.db.checkpoint()
        except Exception:  # retried next time; a busy database is not a failure
            log.exception("WAL checkpoint failed")


def _ping(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when ready: the store answers, no write found it full lately, and the data
    directory has room; otherwise 503 (a problem, with Retry-After) naming each thing wrong."""
    findings: list[Finding] = []
    checks: dict[str, object] = {}
    try:
        await runtime.db.read(_ping)
        checks["store_reachable"] = True
    except Exception as exc:
        # Whatever the store says (refused, timed out, no such file), it is not ready.
        log.warning("health check failed: %s", exc)
        checks["store_reachable"] = False
        findings.append(Finding(RULE_STORE_UNREACHABLE, "the store does not answer", "/"))
    full_at = runtime.db.full_at
    checks["store_writable"] = full_at is None or time.monotonic() - full_at > FULL_REMEMBERED_SECONDS
    if not checks["store_writable"]:
        findings.append(Finding(RULE_STORE_FULL, "a write found the store full; nothing can be saved", "/"))
    settings = runtime.settings
    free = shutil.disk_usage(settings.data_dir).free
    checks["data_dir_free_bytes"] = free
    if free < settings.min_free_bytes:
        message = (
            f"the data directory has {free} bytes free, less than {settings.min_free_bytes} "
            "(TAMPERE_MIN_FREE_BYTES)"
        )
        findings.append(Finding(RULE_STORE_FULL, message, "/"))
    if findings:
        raise Unavailable(findings, extensions={"checks": checks})
    return JSONResponse({"status": "ok", "checks": checks})


def _pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count(PendingReference.id))).scalar_one())


async def metrics_endpoint(runtime: RuntimeDep) -> Response:
    """Prometheus metrics: ingest results and latency, HTTP latency, backlog."""
    runtime.metrics.pending_references.set(await runtime.db.read(_pending_count))
    return Response(content=runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
