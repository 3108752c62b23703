"""The tables of the store (SQLAlchemy 2): principals, senders, alerts and their recipients,
events, audit log, polled feeds, assistance requests, trust anchors, contact points, delivery
channels and their outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; read back aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (naive on SQLite, which has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic needs them on SQLite)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Principal(Base):
    """Who may act: an administration, a regional/area office, BDT, a responder or the operator."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # "administration:KEN", "office:RO-AFR", "bdt", "responder", "operator": one row per identity.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(3))
    office: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Token(Base):
    """A bearer token, stored only as its SHA-256; the token itself is shown once."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None: the token does not expire. Past it, the token (and its sessions) is refused.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once by `tampere token revoke` or DELETE /api/v1/tokens/{id}; kept for the listing.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BrowserSession(Base):
    """A browser's session, exchanged for a token (POST /api/v1/session): the cookie's value is
    stored only as its SHA-256, and the session lives no longer than its token."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Sender(Base):
    """A CAP sender registered to one administration (cf. the WMO Register of Alerting Authorities)."""

    __tablename__ = "senders"

    sender: Mapped[str] = mapped_column(String(255), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRecord(Base):
    """One ingested CAP message: the original bytes, the parsed model and what was derived."""

    __tablename__ = "alerts"
    # CAP 1.2 §3.2.1: sender, identifier and sent together name a message.
    __table_args__ = (
        UniqueConstraint("sender", "identifier", "sent_at"),
        Index("ix_alerts_state_status", "state", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    poster_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    signature: Mapped[str] = mapped_column(String(32))
    addresses: Mapped[list[Any]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What a list or a feed shows without reading the whole model: event, headline, severity...
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    countries: Mapped[list[Any]] = mapped_column(JSON)
    regions: Mapped[list[Any]] = mapped_column(JSON)
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)
    routing: Mapped[list[Any]] = mapped_column(JSON)
    warnings: Mapped[list[Any]] = mapped_column(JSON)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    # SHA-256 of the content without blanks between elements and signatures (cap.digest): the
    # same key with another digest is a conflict, not a replay. NULL for rows stored before
    # 0007_jurisdiction: computed from `raw` the first time it is needed.
    digest: Mapped[str | None] = mapped_column(String(64))
    # The principal that relayed the message (the operator posting for a sender, e.g. from a
    # feed), held to no territory; NULL when an administration posted its own.
    relayed_by: Mapped[str | None] = mapped_column(String(200))
    # The alert covers no ITU Member State (open sea, or no area could be placed): it is routed
    # to BDT (contact_points.rules).
    unrouted: Mapped[bool] = mapped_column(Boolean, server_default=false())


class AlertRecipient(Base):
    """A contact point an alert is routed to: its deadline, acknowledgement and escalation, as
    for the recipients of a request. Why it was routed (rule, reasons, provenance) is in the
    alert's `routing` JSON, brought up to date from these rows in the transaction that changes
    one (service.alerts.recipients)."""

    __tablename__ = "alert_recipients"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    # Actual alerts are real; Exercise and Test travel marked not real (no deadline).
    real: Mapped[bool] = mapped_column(Boolean)
    # "rule": routed by the rules table; "escalation": reached by an escalation step.
    origin: Mapped[str] = mapped_column(String(16))
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_within_seconds: Mapped[int | None] = mapped_column(Integer)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_to: Mapped[list[Any]] = mapped_column(JSON)
    escalation_level: Mapped[int] = mapped_column(Integer)
    # When the escalation sweep next looks at this recipient (None: nothing left to chase).
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The last step taken: whom it went to (a contact id, or "<id>#deputies" / "<id>#head").
    escalated_to: Mapped[str | None] = mapped_column(String(200))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))


class ContactPointRecord(Base):
    """A contact point of the registry (`contact_points.registry.ContactPoint` as stored): seeded
    from the packaged tables by migration 0010, then the operator's to edit."""

    __tablename__ = "contact_points"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(3))
    city: Mapped[str | None] = mapped_column(String(200))
    # ISO3 of the Member States it serves.
    countries: Mapped[list[Any]] = mapped_column(JSON)
    coverage: Mapped[str] = mapped_column(String(16))
    # [{name, role, languages, time_zone, email, phone}]; head and deputies name some of them.
    people: Mapped[list[Any]] = mapped_column(JSON)
    head: Mapped[str | None] = mapped_column(String(200))
    deputies: Mapped[list[Any]] = mapped_column(JSON)
    emails: Mapped[list[Any]] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(40))
    # ITU-R Res. 647 database fields of a national contact; NULL: not known.
    emergency_frequencies: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    tampere_convention: Mapped[bool | None] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(Text)
    verification: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))


class ContactRegistryRevision(Base):
    """One row: a number raised by every change of the contact points, so that each instance
    notices another's change (or the CLI's) with one cheap read."""

    __tablename__ = "contact_point_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertTag(Base):
    """A searchable attribute of an alert: a country (ISO3), an ITU-D region or a severity."""

    __tablename__ = "alert_tags"
    __table_args__ = (Index("ix_alert_tags_kind_value", "kind", "value"),)

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)


class PendingReference(Base):
    """A reference (CAP 1.2 §3.2.1 <references>) to a message not received yet."""

    __tablename__ = "pending_references"
    __table_args__ = (Index("ix_pending_references_key", "sender", "identifier", "sent_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    referencing_alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """A state change, written in the transaction of the change; ids only ever grow."""

    __tablename__ = "events"
    # AUTOINCREMENT: SQLite never reuses an id, so a subscriber's "since" stays meaningful.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The audience: who may be told (ITU-D regions, ISO3 countries, CAP scope and status).
    regions: Mapped[list[Any]] = mapped_column(JSON)
    countries: Mapped[list[Any]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # Of an event about an assistance request: who the request concerns (requester principal,
    # country, recipient contact ids), what `service.visibility` needs to decide as REST does.
    parties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Of an event an Update, Cancel, Ack or Error caused: that message. Whoever may not see it
    # is told what happened, not which message did it (service.visibility.event_payload).
    by_alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))


class AuditEntry(Base):
    """One link of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    # Kept as the exact text that was hashed, so verification never depends on a driver's
    # datetime round trip.
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(200))
    payload_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class NetworkStatusReport(Base):
    """A report that cell sites or an area are up, degraded or down from a time on."""

    __tablename__ = "network_status_reports"
    __table_args__ = (Index("ix_network_status_reports_time", "time"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # When the reported state began (the reporter's time), and when it reached us.
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    # Sites as OpenCelliD names them: [radio, mcc, net, area, cell] each.
    sites: Mapped[list[Any]] = mapped_column(JSON)
    # The area as RFC 7946 geometry (lon, lat), a circle already drawn as a polygon.
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Where the report lies (area and located sites): a map and the impact prefilter read it.
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    countries: Mapped[list[Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(1000))


class FeedSource(Base):
    """A CAP feed (Atom, RSS, EDXL-DE, CAP-JSON...) the service polls for one principal, and its health."""

    __tablename__ = "feed_sources"
    __table_args__ = (UniqueConstraint("principal_id", "url"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The messages are ingested as this principal: an administration only for its senders.
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str | None] = mapped_column(String(200))
    interval_seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Validators of the last complete poll, sent back as If-None-Match / If-Modified-Since.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_rule: Mapped[str | None] = mapped_column(String(64))
    last_error_message: Mapped[str | None] = mapped_column(String(1000))
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    # The newest entry <updated> or message <sent> seen: the source's lag is now minus this.
    newest_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feed_kind: Mapped[str | None] = mapped_column(String(16))
    entries: Mapped[int | None] = mapped_column(Integer)
    messages_ingested: Mapped[int] = mapped_column(Integer)
    messages_replayed: Mapped[int] = mapped_column(Integer)
    messages_rejected: Mapped[int] = mapped_column(Integer)
    last_rejection_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_rejection_rule: Mapped[str | None] = mapped_column(String(64))
    last_rejection_message: Mapped[str | None] = mapped_column(String(1000))


class FeedEntrySeen(Base):
    """A feed entry already handled (its message ingested, replayed or refused; its link fetched),
    so later polls neither refetch its CAP file nor count it again."""

    __tablename__ = "feed_entries_seen"

    source_id: Mapped[int] = mapped_column(ForeignKey("feed_sources.id"), primary_key=True)
    # SHA-256 (hex) of the embedded message's bytes, or of the entry's link and <updated>.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssistanceRequestRecord(Base):
    """A request for assistance from a Member State (WTDC Res. 34): equipment, expertise, training,
    frequency coordination; `contact_points.requests.AssistanceRequest` as stored."""

    __tablename__ = "assistance_requests"
    __table_args__ = (Index("ix_assistance_requests_country_state", "country", "state"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(3))
    region: Mapped[str | None] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(5000))
    urgency: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[Any]] = mapped_column(JSON)
    # [{"alert_id": int | None, "identifier": str | None}]: ids of this service, CAP identifiers.
    related_alerts: Mapped[list[Any]] = mapped_column(JSON)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where help is needed, RFC 7946 geometry (lon, lat); NULL: the country as a whole.
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The GLIDE number of the disaster (contact_points.glide), e.g. TC-2016-000014-FJI.
    glide: Mapped[str | None] = mapped_column(String(32), index=True)


class AssistanceMessage(Base):
    """An EDXL-RM message after a request (contact_points.resource_messages):
    ResponseToRequestResource, CommitResource, ReleaseResource, RequestReturn,
    ResponseToRequestReturn; numbered from 1 per request."""

    __tablename__ = "assistance_messages"

    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_requests.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(200))
    # The recipient it was sent for (an office, BDT); NULL from the requester's side.
    contact_id: Mapped[str | None] = mapped_column(String(64))
    # The message it follows: 0 is the request itself (EDXL-RM PrecedingMessageID).
    preceding: Mapped[int] = mapped_column(Integer)
    # [{"element_id", "quantity", "schedule"?}]
    items: Mapped[list[Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(1000))
    # ResponseToRequestResource and ResponseToRequestReturn: Accept or Decline.
    response: Mapped[str | None] = mapped_column(String(16))


class AssistanceRecipient(Base):
    """A contact point a request is routed to: its deadline, acknowledgement and escalation."""

    __tablename__ = "assistance_recipients"

    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_requests.id"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    ack_within_seconds: Mapped[int | None] = mapped_column(Integer)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_to: Mapped[list[Any]] = mapped_column(JSON)
    escalation_level: Mapped[int] = mapped_column(Integer)
    # When the escalation sweep next looks at this recipient (None: nothing left to chase).
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    ack_note: Mapped[str | None] = mapped_column(String(1000))


class AssistanceStep(Base):
    """One step of a request's history: created, acknowledged, a state change, an escalation."""

    __tablename__ = "assistance_history"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(1000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class TrustAnchor(Base):
    """A certificate a sender's signing certificates must chain to (`tampere trust add`)."""

    __tablename__ = "trust_anchors"
    __table_args__ = (UniqueConstraint("sender", "fingerprint"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the DER certificate, lower-case hex: how an operator names it to remove it.
    fingerprint: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(1000))
    pem: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(200))


class SignatureRequirement(Base):
    """A sender whose messages are refused unless their signature is verified."""

    __tablename__ = "signature_requirements"

    sender: Mapped[str] = mapped_column(String(255), primary_key=True)
    required_at: Mapped[datetime] = mapped_column(UTCDateTime)
    required_by: Mapped[str] = mapped_column(String(200))


class DeliveryChannel(Base):
    """Where a contact point's events are delivered besides the websocket: a webhook (Standard
    Webhooks, signed with `secret`) or an e-mail address; with the endpoint's health and the
    lease of the instance sending to it (service.deliveries.outbox)."""

    __tablename__ = "delivery_channels"
    __table_args__ = (Index("ix_delivery_channels_contact_id_kind", "contact_id", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # "webhook" or "email".
    kind: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[str] = mapped_column(String(64))
    # The principal whose view of the stream the channel gets (service.visibility).
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    # The webhook URL or the e-mail address.
    target: Mapped[str] = mapped_column(String(2000))
    # Event types delivered, and the stream's optional filters (region, country, status) plus
    # `routed_only`.
    events: Mapped[list[Any]] = mapped_column(JSON)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Webhooks: the signing secret, "whsec_" + base64 (shown once, at registration or rotation).
    secret: Mapped[str | None] = mapped_column(String(200))
    # The secret before the last rotation: deliveries are signed with it too until
    # `previous_secret_until` (TAMPERE_WEBHOOK_SECRET_GRACE_SECONDS), so receivers can switch.
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # E-mail: the recipient's working language (BCP 47) and the digest period for routine items.
    language: Mapped[str | None] = mapped_column(String(35))
    digest_minutes: Mapped[float | None] = mapped_column(Float)
    next_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Events up to this id were committed before the channel existed: not delivered to it.
    after_event_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    # The endpoint's health: consecutive failures, and no try before `retry_at`.
    failures: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The instance sending to it now, until when: one sender per channel at a time.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """One event for one channel: the body as the stream tells it to the channel's principal,
    and where its delivery stands (pending, delivered, dead)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_id"),
        Index("ix_deliveries_channel_id_state_next_attempt_at", "channel_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("delivery_channels.id"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact JSON text sent (and signed); a redelivery sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    # flash, urgent or routine: what the event is to this contact point (a digest takes routine).
    priority: Mapped[str] = mapped_column(String(16))
    digest: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Dead-lettered when a try fails after this (creation or redelivery + the give-up time).
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One try of a delivery: when, the HTTP status (or SMTP code) and what went wrong."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(1000))
    duration_ms: Mapped[float] = mapped_column(Float)
    instance: Mapped[str] = mapped_column(String(64))


class DeliveryCursor(Base):
    """How far the outbox follows the event log: every event up to `position` has its
    deliveries (service.deliveries.outbox)."""

    __tablename__ = "delivery_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
