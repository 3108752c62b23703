"""Ingest one CAP message: validate, assess, authorise, dedupe, store with its event and audit.

`ingest_message(conn, principal, raw)` is the seam every source uses (HTTP POST, feed
polling): the caller owns the write transaction, so the alert, its events (which are also its
history) and its audit link commit together or not at all. `ingest(db, principal, raw)` does
the same and opens the transaction itself, after validating outside it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

import cap
from cap.digest import content_digest
from cap.errors import CapError, Finding
from cap.model import Alert, event_time
from cap.report import Report
from contact_points.registry import Registry
from contact_points.rules import alert_facts, decide
from geo.areas import GeocodeResolver, area_geometry, geometry_to_geojson
from geo.impact import assess
from geo.jurisdiction import Jurisdictions
from geo.layers.connectivity import ConnectivityLayer
from geo.layers.status import NetworkStatus
from service import audit
from service.alerts import lifecycle, recipients
from service.alerts.recipients import RoutingPolicy
from service.alerts.view import AlertView, select_views
from service.auth import ADMINISTRATION, OPERATOR, Principal, may_post_as
from service.db.database import Database
from service.db.models import AlertRecord, AlertTag, utcnow
from service.errors import Conflict, Forbidden, Invalid, TooLarge
from service.events import log as event_log
from service.trust.store import TrustPolicy, load_trust
from service.visibility import may_see_alert

_alerts = AlertRecord.__table__
# Built once: a statement made per call (`insert(t).values(...)`) costs more in SQLAlchemy's
# construction and cache-key work than SQLite takes to run it.
_FIND_BY_KEY = select_views().where(
    _alerts.c.sender == bindparam("sender"),
    _alerts.c.identifier == bindparam("identifier"),
    _alerts.c.sent_at == bindparam("sent_at"),
)
# Insert-or-nothing on the message key: a replay costs no extra query on the common path.
_INSERT_ALERT = {
    "sqlite": sqlite_insert(_alerts).on_conflict_do_nothing().returning(_alerts.c.id),
    "postgresql": postgresql_insert(_alerts).on_conflict_do_nothing().returning(_alerts.c.id),
}
_INSERT_TAG = insert(AlertTag.__table__)
# Messages above this size are validated and stored off the event loop, so that one signed
# multi-MB alert does not stall every other request; below it, a thread costs more than it saves.
INLINE_BYTES = 64 * 1024
# ... and so are messages with more than a few areas to draw, whatever their size: a geodesic
# circle becomes a polygon of many vertices, a geocode a boundary lookup (1,000 circles fit in
# 30 KiB and took 1.6 s of CPU: on the loop, every other client would wait that long).
INLINE_SHAPES = 8


def runs_inline(raw: bytes) -> bool:
    """Whether validating and assessing `raw` is cheap enough for the event loop (see
    INLINE_BYTES): small, with few circles and geocodes."""
    return len(raw) <= INLINE_BYTES and raw.count(b"circle>") + raw.count(b"geocode>") <= 2 * INLINE_SHAPES


# Rule ids of the service's own refusals (the CAP library owns cap.*).
RULE_NOT_AN_ALERT = "service.ingest.not-an-alert"
RULE_SENDER_NOT_REGISTERED = "alert.sender.not-registered"
RULE_OUTSIDE_JURISDICTION = "alert.area.outside-jurisdiction"
RULE_KEY_CONFLICT = "alert.key.conflict"
# The CAP reader's size bound (cap.limits.MAX_BYTES), answered 413 rather than 422.
RULE_TOO_LARGE = "cap.xml.too-large"


class IngestRejected(Invalid):
    """The message cannot be ingested; `report` says why, rule by rule. Its findings are the
    validator's as `tampere validate` prints them, and the rest of the verdict (version,
    warnings, signature...) rides along as members of the problem."""

    def __init__(self, report: Report) -> None:
        verdict = report.as_json()
        verdict.pop("file", None)
        super().__init__(report.errors, detail="the message cannot be ingested", extensions=verdict)
        self.report = report


class IngestTooLarge(TooLarge, IngestRejected):
    """The message is larger than the CAP reader takes (cap.xml.too-large): 413, as the HTTP
    edge answers a body past its own limit (when an operator set that limit higher)."""


class IngestForbidden(Forbidden):
    """The principal may not post as this message's sender (the sender registry)."""

    def __init__(self, message: str) -> None:
        super().__init__([Finding(RULE_SENDER_NOT_REGISTERED, message, "/alert/sender")])


class OutsideJurisdiction(Forbidden):
    """An administration's alert has areas beyond its territory and sea margin (one finding
    per area, at its place)."""

    def __init__(self, principal: Principal, margin_km: float, paths: list[str]) -> None:
        super().__init__(
            [
                Finding(
                    RULE_OUTSIDE_JURISDICTION,
                    f"the area reaches beyond {principal.country} and {margin_km:g} km of sea around "
                    "it: an administration alerts only about its own territory",
                    path,
                )
                for path in paths
            ]
        )


class KeyConflict(Conflict):
    """The key (sender, identifier, sent) names a stored message with other content. The
    stored alert's id and link are members of the problem when the principal may see it."""

    def __init__(self, alert_id: int | None) -> None:
        message = (
            "sender, identifier and sent name a message already stored with other content "
            "(CAP 1.2 §3.2.1: a new or changed message needs a new identifier, or an Update)"
        )
        extensions: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if alert_id is not None:
            link = f"/api/v1/alerts/{alert_id}"
            extensions = {"alert_id": alert_id, "links": {"alert": link}}
            headers = {"Link": f'<{link}>; rel="duplicate"'}
        super().__init__(
            [Finding(RULE_KEY_CONFLICT, message, "/alert/identifier")], extensions=extensions, headers=headers
        )
        self.alert_id = alert_id


@dataclass(slots=True)
class Assessment:
    """What an alert means on the ground: geometry, countries, regions, impact and routing."""

    countries: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    impact: dict[str, Any] = field(default_factory=dict)
    # The planned routing entries (recipients.planned): deadlines count from when it is stored.
    routing: list[dict[str, Any]] = field(default_factory=list)
    unrouted: bool = False
    geometry: dict[str, Any] | None = None
    bbox: tuple[float, float, float, float] | None = None
    findings: list[Finding] = field(default_factory=list)
    # Each area's place (/alert/info[i]/area[j]) and geometry: what jurisdiction is judged on.
    areas: list[tuple[str, BaseGeometry]] = field(default_factory=list)


@dataclass(slots=True)
class PreparedMessage:
    """A validated message and its assessment, ready to store (no database touched yet)."""

    raw: bytes
    report: Report
    assessment: Assessment
    model: dict[str, Any]
    # The content digest (cap.digest): equal for the same message re-indented or re-signed.
    digest: str

    @property
    def alert(self) -> Alert:
        """The parsed alert (present: only ingestible messages are prepared)."""
        assert self.report.alert is not None
        return self.report.alert


@dataclass(slots=True)
class IngestOutcome:
    """The stored alert, and whether this call created it (False: a replay of a known one)."""

    alert: AlertView
    created: bool


def assess_alert(
    alert: Alert,
    *,
    registry: Registry,
    connectivity: Any | None = None,
    status: NetworkStatus | None = None,
    gazetteer: GeocodeResolver | None = None,
    signature: str = "unsigned",
    policy: RoutingPolicy | None = None,
) -> Assessment:
    """Geometry, countries, ITU-D regions, impact and routing of one alert.

    The one seam between ingest and the pure domain packages (`geo.areas`, `geo.impact`,
    `contact_points.rules`). `connectivity` is the loaded layer (`service.layers.files`), or
    None when nothing has been imported: countries and regions are still found. `status` is
    the network status reports held (`service.network.reports.StatusBook.status`), if any.
    `registry` holds the contact points alerts are routed to (`Runtime.contacts`), `policy`
    the routing table and deadlines (default: the packaged ones on `registry`); `signature` is
    the verdict on the message's XML signature (facts of a verified message are verified).
    `gazetteer` resolves geocodes (`service.geocodes.files.load_gazetteer`; default: countries).
    Areas that cannot be mapped are reported as findings (geo.* rule ids), never raised.
    """
    shapes = area_geometry(alert, gazetteer=gazetteer)
    impact = assess(
        shapes.geometry,
        layer=connectivity if connectivity is not None else ConnectivityLayer(),
        status=status,
        event_time=event_time(alert),
    )
    countries, regions = list(impact.countries), list(impact.regions)
    impact_json = impact.as_dict()
    policy = policy or RoutingPolicy.of(registry)
    mapped = any(not area.geometry.is_empty for area in shapes.areas)
    facts = alert_facts(alert, impact_json, policy.reference, signature=signature, mapped=mapped)
    decision = decide(facts, rules=policy.rules, registry=policy.registry, deadlines=policy.deadlines)
    routing, notes = recipients.addressed(alert, decision, policy.registry)
    return Assessment(
        countries=countries,
        regions=regions,
        impact=impact_json,
        routing=routing,
        unrouted=decision.unrouted and bool(decision.entries),
        geometry=geometry_to_geojson(shapes.geometry),
        bbox=shapes.bbox,
        findings=[*shapes.findings, *decision.notes, *notes],
        areas=[(area.path, area.geometry) for area in shapes.areas],
    )


def prepare_message(
    raw: bytes,
    *,
    registry: Registry,
    connectivity: Any | None = None,
    status: NetworkStatus | None = None,
    gazetteer: GeocodeResolver | None = None,
    trust: TrustPolicy | None = None,
    policy: RoutingPolicy | None = None,
) -> PreparedMessage:
    """Validate and assess a message; raises IngestRejected when it cannot be ingested.

    `trust` holds the anchors each sender's signatures must chain to and the senders that
    must sign (`service.trust.store.load_trust`; default: none, so no signature is verified).
    `policy` routes it (default: the packaged rules and deadlines on `registry`).
    """
    trust = trust or TrustPolicy()
    report = cap.validate(raw, trust_anchors=trust.anchors)
    if report.ingestible and report.kind != "alert":
        report = dataclasses.replace(
            report,
            ingestible=False,
            errors=[
                *report.errors,
                Finding(
                    RULE_NOT_AN_ALERT,
                    f"this endpoint takes one CAP <alert>, not a {report.kind} document",
                    "/",
                ),
            ],
        )
    if not report.ingestible or report.alert is None:
        if any(f.rule == RULE_TOO_LARGE for f in report.errors):
            raise IngestTooLarge(report)
        raise IngestRejected(report)
    refusal = trust.refusal(report)
    if refusal is not None:
        # 422, not 403: the poster may post as this sender; this message fails the sender's
        # configured rule, and the same message signed with the sender's key would be taken.
        raise IngestRejected(dataclasses.replace(report, ingestible=False, errors=[*report.errors, refusal]))
    return PreparedMessage(
        raw=raw,
        report=report,
        assessment=assess_alert(
            report.alert,
            registry=registry,
            connectivity=connectivity,
            status=status,
            gazetteer=gazetteer,
            signature=report.signature,
            policy=policy,
        ),
        # The CAP library's own JSON (`cap.to_json`): CAP element names, and no CAP 1.0
        # <password>, which is stored nowhere but in the raw bytes (see routes.get_alert_cap).
        model=cap.to_json(report.alert),
        digest=digest_of(raw),
    )


def digest_of(raw: bytes) -> str:
    """The content digest of stored or received bytes; the digest of the bytes themselves when
    they cannot be read as XML (a tolerant reading the strict parser refuses)."""
    try:
        return content_digest(raw)
    except CapError:
        return hashlib.sha256(raw).hexdigest()


def authorise(principal: Principal, prepared: PreparedMessage, *, jurisdictions: Jurisdictions) -> None:
    """Refuse a sender the principal may not post as (the sender registry), and an
    administration's areas beyond its territory (`geo.jurisdiction`: any part outside its
    land plus the sea margin). The operator relays for anyone, anywhere: exempt, and recorded
    as the relay (`relayed_by`). An area without geometry (an unknown geocode, only an
    <areaDesc>) places the alert nowhere and cannot be judged: it passes."""
    alert = prepared.alert
    if not may_post_as(principal, alert.sender):
        raise IngestForbidden(not_registered_message(principal, alert.sender))
    if principal.role != ADMINISTRATION or not principal.country:
        return
    jurisdiction = jurisdictions.of(principal.country)
    outside = [path for path, geometry in prepared.assessment.areas if jurisdiction.outside(geometry)]
    if outside:
        raise OutsideJurisdiction(principal, jurisdictions.margin_km, outside)


def not_registered_message(principal: Principal, sender: str) -> str:
    """Why a principal may not post as `sender`, and how the installation fixes it."""
    if principal.role == ADMINISTRATION:
        return (
            f"sender {sender!r} is not registered to {principal.actor}; the operator registers it "
            f"with `tampere token create --role administration --country {principal.country} "
            f'--sender {sender}` (or POST /api/v1/tokens with "senders")'
        )
    return (
        f"a {principal.role} token posts no alert: an administration posts as its registered "
        "senders (`tampere token create --role administration --country ISO3 --sender S`), the "
        "operator relays for any sender"
    )


async def ready_jurisdiction(principal: Principal, jurisdictions: Jurisdictions) -> None:
    """Build the principal's jurisdiction off the event loop the first time (up to seconds for
    a Member State of many islands), so that `authorise` then costs a lookup."""
    if principal.role == ADMINISTRATION and principal.country and not jurisdictions.ready(principal.country):
        await asyncio.to_thread(jurisdictions.of, principal.country)


def ingest_message(
    conn: Connection,
    principal: Principal,
    raw: bytes,
    *,
    registry: Registry,
    connectivity: Any | None = None,
    status: NetworkStatus | None = None,
    gazetteer: GeocodeResolver | None = None,
    jurisdictions: Jurisdictions,
    policy: RoutingPolicy | None = None,
) -> IngestOutcome:
    """Validate, authorise, dedupe and store one CAP message in the caller's write transaction.

    For a caller that holds a transaction already (`db.write(lambda c: ingest_message(c, ...))`);
    `ingest` below does the same but validates before taking the writer.
    """
    prepared = prepare_message(
        raw,
        registry=registry,
        connectivity=connectivity,
        status=status,
        gazetteer=gazetteer,
        trust=load_trust(conn),
        policy=policy,
    )
    authorise(principal, prepared, jurisdictions=jurisdictions)
    return store_message(conn, principal, prepared)


async def ingest(
    db: Database,
    principal: Principal,
    raw: bytes,
    *,
    registry: Registry,
    connectivity: Any | None = None,
    status: NetworkStatus | None = None,
    gazetteer: GeocodeResolver | None = None,
    lifetime: timedelta = lifecycle.DEFAULT_LIFETIME,
    jurisdictions: Jurisdictions,
    policy: RoutingPolicy | None = None,
    clock: Any = utcnow,
) -> IngestOutcome:
    """Ingest one message: validate and assess first (CPU, in a worker thread for large
    messages), then store in one write transaction. Raises IngestRejected, IngestForbidden,
    OutsideJurisdiction, lifecycle.NotAllowed, KeyConflict. `clock` tells the time the
    recipients' deadlines count from."""
    small = runs_inline(raw)
    # Read for every message: an anchor removed a moment ago is not trusted any more.
    trust = await db.read(load_trust)
    if small:
        prepared = prepare_message(
            raw,
            registry=registry,
            connectivity=connectivity,
            status=status,
            gazetteer=gazetteer,
            trust=trust,
            policy=policy,
        )
    else:
        prepared = await asyncio.to_thread(
            prepare_message,
            raw,
            registry=registry,
            connectivity=connectivity,
            status=status,
            gazetteer=gazetteer,
            trust=trust,
            policy=policy,
        )
    await ready_jurisdiction(principal, jurisdictions)
    authorise(principal, prepared, jurisdictions=jurisdictions)
    return await db.write(
        lambda conn: store_message(conn, principal, prepared, lifetime=lifetime, now=clock()), long=not small
    )


def store_message(
    conn: Connection,
    principal: Principal,
    prepared: PreparedMessage,
    *,
    lifetime: timedelta = lifecycle.DEFAULT_LIFETIME,
    now: datetime | None = None,
) -> IngestOutcome:
    """Store a prepared, authorised message; a known (sender, identifier, sent) is a replay.
    An <info> without <expires> ends `lifetime` after it takes effect (`lifecycle.lifetime_of`);
    its recipients' deadlines count from `now` (default: the time now)."""
    alert = prepared.alert
    a = prepared.assessment
    now = now or utcnow()
    expires_at, defaulted = lifecycle.lifetime_of(alert, lifetime, received=now)
    bbox = a.bbox or (None, None, None, None)
    routed = recipients.routing_rows(a.routing, now)
    view = AlertView(
        id=0,
        identifier=alert.identifier,
        sender=alert.sender,
        sent_at=alert.sent,
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        version=prepared.report.version,
        state=lifecycle.ACTIVE,
        expires_at=expires_at,
        received_at=now,
        poster_id=principal.id,
        signature=prepared.report.signature,
        addresses=list(alert.addresses),
        summary=summary_of(alert),
        countries=a.countries,
        regions=a.regions,
        impact=a.impact,
        routing=routed.routing,
        warnings=[
            f.as_dict() for f in (*prepared.report.errors, *prepared.report.warnings, *a.findings, *defaulted)
        ],
        geometry=a.geometry,
        relayed_by=principal.actor if principal.role == OPERATOR else None,
        unrouted=a.unrouted,
    )
    values = {f.name: getattr(view, f.name) for f in dataclasses.fields(AlertView) if f.name != "id"}
    inserted = conn.execute(
        _INSERT_ALERT[conn.dialect.name],
        {
            **values,
            "raw": prepared.raw,
            "model": prepared.model,
            "digest": prepared.digest,
            "min_lon": bbox[0],
            "min_lat": bbox[1],
            "max_lon": bbox[2],
            "max_lat": bbox[3],
        },
    )
    alert_id = inserted.scalar_one_or_none()
    if alert_id is None:
        return _replay(conn, principal, prepared)
    view.id = int(alert_id)
    recipients.insert_routing(conn, view.id, routed)
    tags = _tags(alert, a)
    if tags:
        conn.execute(_INSERT_TAG, [{"alert_id": view.id, "kind": k, "value": v} for k, v in tags])
    event_log.append_alert_event(
        conn,
        kind=event_log.ALERT_RECEIVED,
        alert=view,
        payload={"sent": alert.sent.isoformat(), "countries": a.countries, "regions": a.regions},
    )
    message = lifecycle.StoredMessage(
        **{name: getattr(view, name) for name in lifecycle.StoredMessage.__slots__}
    )
    lifecycle.apply_references(conn, principal, message, alert.references)
    lifecycle.resolve_pending(conn, message)
    if view.expires_at is not None and view.expires_at <= now and message.state == lifecycle.ACTIVE:
        # Arrived already expired (a late relay): say so now rather than at the next sweep.
        lifecycle.expire(conn, message, actor=principal.actor)
    view.state = message.state
    audit.record(
        conn,
        actor=principal.actor,
        action="alert.ingest",
        obj=f"alert:{view.id}",
        payload_hash=audit.payload_digest(prepared.raw),
    )
    return IngestOutcome(view, created=True)


def _replay(conn: Connection, principal: Principal, prepared: PreparedMessage) -> IngestOutcome:
    """CAP 1.2 §3.2.1: (sender, identifier, sent) names one message. The same content again is
    a replay (the stored alert, 200); other content under the same key is a conflict (409),
    never silently dropped. Content is compared without blanks between elements and without
    signatures (cap.digest), so a relay that re-indents or re-signs is still a replay."""
    alert = prepared.alert
    key = {"sender": alert.sender, "identifier": alert.identifier, "sent_at": alert.sent}
    existing = AlertView(*conn.execute(_FIND_BY_KEY, key).one())
    visible = may_see_alert(principal, existing)
    stored = conn.execute(select(_alerts.c.digest, _alerts.c.raw).where(_alerts.c.id == existing.id)).one()
    digest = stored.digest
    if digest is None:
        # Stored before digests were kept (0007_jurisdiction): computed once, then kept.
        digest = digest_of(stored.raw)
        conn.execute(update(_alerts).where(_alerts.c.id == existing.id).values(digest=digest))
    if digest != prepared.digest or not visible:
        # A message the principal may not see is not handed back, even for the same bytes:
        # the key is taken, and that is all it is told.
        raise KeyConflict(existing.id if visible else None)
    return IngestOutcome(existing, created=False)


def summary_of(alert: Alert) -> dict[str, Any]:
    """The few fields a list, a map popup or a feed entry shows, from the first <info>, and
    the headline and event of every <info> (one per language)."""
    info = alert.infos[0] if alert.infos else None
    return {
        "event": info.event if info else None,
        "headline": info.headline if info else None,
        "description": info.description if info else None,
        "severity": info.severity if info else None,
        "urgency": info.urgency if info else None,
        "certainty": info.certainty if info else None,
        "language": info.language if info else None,
        "categories": list(info.categories) if info else [],
        "areaDesc": [area.area_desc for i in alert.infos for area in i.areas],
        # CAP 1.2 §3.2.2: one <info> per language; a list or map shows the reader's own.
        "infos": [{"language": i.language, "headline": i.headline, "event": i.event} for i in alert.infos],
        "onset": info.onset.isoformat() if info and info.onset else None,
        "sent": alert.sent.isoformat(),
        "note": alert.note,
    }


def _tags(alert: Alert, a: Assessment) -> set[tuple[str, str]]:
    tags = {("country", c) for c in a.countries} | {("region", r) for r in a.regions}
    tags |= {("severity", info.severity) for info in alert.infos if info.severity}
    return {(k, v[:64]) for k, v in tags}


_SCALARS = (str, int, float, bool, type(None))


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type, else None (asked once per type)."""
    return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None


def jsonable(value: Any) -> Any:
    """A value made of dicts, lists, strings, numbers, booleans and None (dataclasses too)."""
    if isinstance(value, _SCALARS):
        return value
    names = _field_names(type(value))
    if names is not None:
        # One pass over the fields (dataclasses.asdict would deep-copy everything first).
        return {name: jsonable(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)
