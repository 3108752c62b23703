"""Assistance requests in the store (WTDC Res. 34): who sees and may move one, filing it,
acknowledging it, moving it along, and escalating it when nobody acknowledges in time.

Who may do what:
- see: the requesting administration (and whoever filed it), the offices it is routed to,
  BDT and the operator; to anyone else it does not exist (decided by `service.visibility`);
- acknowledge: an office or BDT among the recipients, once (again is a no-op);
- move: recipients take it in progress and fulfil it, the requester cancels it, either
  closes it once fulfilled (`contact_points.requests.MOVES`); the operator may act as both.

Every change writes the request, a history step, an event (audience: the country and its
ITU-D region, scope Restricted, and the request's parties, so that the event stream shows it
to whoever may see the request) and an audit link in the caller's one write transaction.
Refusals are typed `service.errors` (`NotFound`, `Forbidden`, `Conflict`, `Invalid`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import shape
from sqlalchemy import Connection, and_, func, insert, or_, select, update

from cap.errors import Finding
from contact_points.edxl_rm import RESPONSE_TO_REQUEST_RESOURCE
from contact_points.registry import BDT as BDT_KIND
from contact_points.requests import (
    RECIPIENT,
    REQUESTER,
    AssistanceRequest,
    RecipientClock,
    Refusal,
    RequestInvalid,
    RequestState,
    check_acknowledgeable,
    check_transition,
    escalations_due,
    next_escalation_at,
    state_after_ack,
)
from contact_points.resource_messages import RULES, MessageItem, ResourceMessage, Sent, check_message
from contact_points.routing import Recipient
from geo.areas import bbox_of
from service import audit
from service.alerts.impacts import active_alerts
from service.auth import ADMINISTRATION, BDT, OFFICE, OPERATOR, Principal
from service.bbox import overlaps_sql
from service.db.models import (
    AlertRecord,
    AssistanceMessage,
    AssistanceRecipient,
    AssistanceRequestRecord,
    AssistanceStep,
)
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.events import log as event_log
from service.visibility import RequestParties, is_requester, may_see_alert, may_see_request, request_clause

log = logging.getLogger(__name__)

# The event types of requests are named with the others, in the event log.
REQUEST_CREATED = event_log.REQUEST_CREATED
REQUEST_ACKNOWLEDGED = event_log.REQUEST_ACKNOWLEDGED
REQUEST_STATUS = event_log.REQUEST_STATUS
REQUEST_ESCALATED = event_log.REQUEST_ESCALATED
REQUEST_MESSAGE = event_log.REQUEST_MESSAGE
# Requests name people and what a state lacks: for the ITU coordinators and the requester,
# not for the public map (CAP 1.2 §3.2.1 scope semantics, reused for the event audience).
EVENT_SCOPE = "Restricted"
SYSTEM = "system"
ESCALATION_BATCH = 200
# Alerts told beside a located request, and the box-overlapping candidates looked at for them.
MAX_ALERTS_AT_LOCATION = 20
MAX_ALERT_CANDIDATES = 500

_req = AssistanceRequestRecord.__table__
_rcp = AssistanceRecipient.__table__
_hist = AssistanceStep.__table__
_msgs = AssistanceMessage.__table__
_alerts = AlertRecord.__table__


# --- who is who -------------------------------------------------------------------------------------


@dataclass(slots=True)
class StoredRequest:
    """A request as stored: its row, its recipients in routing order, its history if read, and
    its related alerts as the principal it is read for may see them (`seen_by`)."""

    row: Any
    recipients: list[Any]
    history: list[Any]
    # The EDXL-RM messages after it, in order (read with the history).
    messages: list[Any] = field(default_factory=list)
    # The active alerts over its location that the principal may see (`alerts_at_location`).
    alerts_at_location: list[dict[str, Any]] = field(default_factory=list)
    # Filled by `seen_by` for the principal a store function answers; empty until then, so
    # an answer that skipped it shows too little rather than too much.
    related_alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> RequestState:
        """The request's state."""
        return RequestState(self.row.state)

    @property
    def parties(self) -> RequestParties:
        """Who the request concerns: what `service.visibility` decides on."""
        return RequestParties(
            requester_id=self.row.requester_id,
            country=self.row.country,
            contacts=tuple(r.contact_id for r in self.recipients),
        )

    @property
    def acknowledged(self) -> frozenset[str]:
        """The contact ids that have acknowledged it."""
        return frozenset(r.contact_id for r in self.recipients if r.acknowledged_at is not None)


@dataclass(frozen=True, slots=True)
class Action:
    """Something a principal does to a request, the roles that may, and the refusal's words."""

    roles: frozenset[str]
    rule: str
    message: str


FILE = Action(
    frozenset({ADMINISTRATION, OPERATOR, BDT}),
    "request.role",
    "requests are filed by an administration, BDT or the operator",
)
ACKNOWLEDGE = Action(
    frozenset({OFFICE, BDT}), "request.ack.role", "requests are acknowledged by the offices and BDT"
)
MOVE = Action(
    frozenset({ADMINISTRATION, OFFICE, BDT, OPERATOR}),
    "request.status.role",
    "a responder neither files nor works requests",
)


def check_role(principal: Principal, action: Action) -> None:
    """`Forbidden` when no principal of this role may do `action` to any request (asked before
    the body is read: the rest of the decision is `own_recipient`, `parties_of` and
    `contact_points.requests.check_transition`)."""
    if principal.role not in action.roles:
        raise Forbidden.one(action.rule, action.message, "/")


def own_recipient(principal: Principal, recipients: Sequence[Any]) -> Any | None:
    """The recipient this principal acts for: its office, or the BDT focal point."""
    if principal.role == BDT:
        return next((r for r in recipients if r.kind == BDT_KIND), None)
    if principal.role == OFFICE and principal.office:
        wanted = principal.office.casefold()
        return next((r for r in recipients if r.contact_id.casefold() == wanted), None)
    return None


def parties_of(principal: Principal, stored: StoredRequest) -> set[str]:
    """Whether the principal is the requester's side, a recipient, both or neither."""
    if principal.role == OPERATOR:
        return {REQUESTER, RECIPIENT}
    parties = set()
    if is_requester(principal, stored.parties):
        parties.add(REQUESTER)
    if own_recipient(principal, stored.recipients) is not None:
        parties.add(RECIPIENT)
    return parties


# --- reading ----------------------------------------------------------------------------------------


def load_request(conn: Connection, request_id: int, *, history: bool = True) -> StoredRequest | None:
    """A request with its recipients (and history), or None."""
    row = conn.execute(select(_req).where(_req.c.id == request_id)).first()
    if row is None:
        return None
    recipients = conn.execute(
        select(_rcp).where(_rcp.c.request_id == request_id).order_by(_rcp.c.position)
    ).all()
    steps, messages = [], []
    if history:
        steps = conn.execute(select(_hist).where(_hist.c.request_id == request_id).order_by(_hist.c.id)).all()
        messages = conn.execute(
            select(_msgs).where(_msgs.c.request_id == request_id).order_by(_msgs.c.number)
        ).all()
    return StoredRequest(row=row, recipients=list(recipients), history=list(steps), messages=list(messages))


def visible_request(conn: Connection, principal: Principal, request_id: int) -> StoredRequest:
    """The request if this principal may see it; else `NotFound`, as for one that is absent."""
    stored = load_request(conn, request_id)
    if stored is None or not may_see_request(principal, stored.parties):
        # The same answer for "absent" and "not yours": a request's existence is not public.
        raise NotFound.one("request.not-found", f"no request {request_id}", "/")
    return seen_by(conn, principal, [stored])[0]


def seen_by(conn: Connection, principal: Principal, requests: list[StoredRequest]) -> list[StoredRequest]:
    """Fill in each request's related alerts as this principal may see them: a request is seen
    by its recipients and BDT, who may not see every alert its filer linked (a Private alert
    addressed to the filer). An entry naming an alert the principal may not see is left out,
    identifier and all; an identifier that named no stored alert is the filer's own text."""
    wanted = {r["alert_id"] for s in requests for r in s.row.related_alerts if r.get("alert_id") is not None}
    visible: set[int] = set()
    if wanted:
        a = _alerts.c
        rows = conn.execute(
            select(a.id, a.scope, a.poster_id, a.sender, a.addresses).where(a.id.in_(sorted(wanted)))
        )
        visible = {row.id for row in rows if may_see_alert(principal, row)}
    for stored in requests:
        stored.related_alerts = [
            r for r in stored.row.related_alerts if r.get("alert_id") is None or r["alert_id"] in visible
        ]
    return requests


def alerts_at_location(
    conn: Connection, principal: Principal, location: dict[str, Any] | None, *, now: datetime
) -> list[dict[str, Any]]:
    """The active alerts whose area meets a request's location and that this principal may see,
    newest first (at most `MAX_ALERTS_AT_LOCATION`): what the offices read beside the request."""
    if location is None:
        return []
    place = shape(location)
    box = bbox_of(place)
    if box is None:
        return []
    a = _alerts.c
    rows = conn.execute(
        select(a.id, a.identifier, a.scope, a.poster_id, a.sender, a.addresses, a.summary, a.geometry)
        .where(active_alerts(now), overlaps_sql(a.min_lon, a.min_lat, a.max_lon, a.max_lat, box))
        .order_by(a.id.desc())
        .limit(MAX_ALERT_CANDIDATES)
    )
    found = [
        {"alert_id": row.id, "identifier": row.identifier, "headline": (row.summary or {}).get("headline")}
        for row in rows
        if may_see_alert(principal, row) and shape(row.geometry).intersects(place)
    ]
    return found[:MAX_ALERTS_AT_LOCATION]


def find_requests(
    conn: Connection,
    principal: Principal,
    *,
    state: str | None,
    country: str | None,
    region: str | None,
    limit: int,
    glide: str | None = None,
) -> list[StoredRequest]:
    """The requests this principal may see, newest first, with their recipients (no history)."""
    query = select(_req).order_by(_req.c.created_at.desc(), _req.c.id.desc()).limit(limit)
    clause = request_clause(principal)
    if clause is not None:
        query = query.where(clause)
    if state:
        query = query.where(_req.c.state == state)
    if country:
        query = query.where(_req.c.country == country)
    if region:
        query = query.where(_req.c.region == region)
    if glide:
        query = query.where(_req.c.glide == glide)
    rows = conn.execute(query).all()
    if not rows:
        return []
    by_request: dict[int, list[Any]] = {row.id: [] for row in rows}
    recipients = conn.execute(
        select(_rcp).where(_rcp.c.request_id.in_(list(by_request))).order_by(_rcp.c.position)
    )
    for r in recipients:
        by_request[r.request_id].append(r)
    return seen_by(conn, principal, [StoredRequest(row, by_request[row.id], []) for row in rows])


# --- filing -----------------------------------------------------------------------------------------


def _related_alerts(
    conn: Connection, principal: Principal, wanted: Sequence[int | str]
) -> list[dict[str, Any]]:
    """Resolve alert ids (which must exist and be visible) and CAP identifiers (kept if unknown)."""
    if not wanted:
        return []
    ids = [w for w in wanted if isinstance(w, int)]
    identifiers = [w for w in wanted if isinstance(w, str)]
    a = _alerts.c
    columns = (a.id, a.identifier, a.scope, a.poster_id, a.sender, a.addresses)
    condition = or_(a.id.in_(ids), a.identifier.in_(identifiers))
    rows = [row for row in conn.execute(select(*columns).where(condition)) if may_see_alert(principal, row)]
    by_id = {row.id: row for row in rows}
    findings = [
        # The same refusal for absent and not visible: a Private alert's existence is not told.
        Finding(
            "request.related_alert.unknown", f"no alert {w} visible to this principal", f"/related_alerts/{i}"
        )
        for i, w in enumerate(wanted)
        if isinstance(w, int) and w not in by_id
    ]
    if findings:
        raise Invalid(findings)
    resolved: list[dict[str, Any]] = []
    for w in wanted:
        if isinstance(w, int):
            resolved.append({"alert_id": w, "identifier": by_id[w].identifier})
            continue
        matches = sorted(row.id for row in rows if row.identifier == w)
        # An identifier from another system (a neighbour's feed, GDACS) is kept as given.
        resolved += [{"alert_id": m, "identifier": w} for m in matches] or [
            {"alert_id": None, "identifier": w}
        ]
    return list({(r["alert_id"], r["identifier"]): r for r in resolved}.values())


def file_request(
    conn: Connection,
    principal: Principal,
    asked: AssistanceRequest,
    *,
    region: str | None,
    recipients: Sequence[Recipient],
    now: datetime,
) -> StoredRequest:
    """Store a checked, routed request with its history, event and audit link (one transaction);
    `Forbidden` for an administration asking for another country."""
    if principal.role == ADMINISTRATION and asked.country != principal.country:
        raise Forbidden.one(
            "request.country.not-own",
            f"an administration requests assistance for its own country ({principal.country}), "
            f"not {asked.country}",
            "/country",
        )
    related = _related_alerts(conn, principal, asked.related_alerts)
    values = {
        "kind": str(asked.kind),
        "country": asked.country,
        "region": region,
        "title": asked.title,
        "description": asked.description,
        "urgency": str(asked.urgency),
        "priority": str(asked.priority),
        "items": [i.as_json() for i in asked.items],
        "related_alerts": related,
        "contact": {k: v for k, v in dataclasses.asdict(asked.contact).items() if v is not None},
        "state": str(RequestState.OPEN),
        "requester_id": principal.id,
        "requested_by": principal.actor,
        "created_at": now,
        "updated_at": now,
        "location": asked.location_json,
        "glide": None if asked.glide is None else str(asked.glide),
    }
    request_id = int(conn.execute(insert(_req).values(**values).returning(_req.c.id)).scalar_one())
    rows = []
    for position, r in enumerate(recipients):
        clock = RecipientClock(r.contact.id, now, r.ack_within, r.escalate_to)
        rows.append(
            {
                "request_id": request_id,
                "contact_id": r.contact.id,
                "position": position,
                "kind": r.contact.kind,
                "name": r.contact.name[:200],
                "reason": r.reason[:200],
                "ack_within_seconds": None if r.ack_within is None else int(r.ack_within.total_seconds()),
                "deadline_at": None if r.ack_within is None else now + r.ack_within,
                "escalate_to": list(r.escalate_to),
                "escalation_level": 0,
                "next_escalation_at": next_escalation_at(clock, (), RequestState.OPEN),
                "acknowledged_at": None,
                "acknowledged_by": None,
                "ack_note": None,
            }
        )
    if rows:
        conn.execute(insert(_rcp), rows)
    contacts = [r.contact.id for r in recipients]
    _record(
        conn,
        {**values, "id": request_id},
        RequestParties(requester_id=principal.id, country=asked.country, contacts=tuple(contacts)),
        at=now,
        action="created",
        state=RequestState.OPEN,
        by=principal.actor,
        note=None,
        detail={"recipients": contacts},
        event=REQUEST_CREATED,
        audit_action="request.create",
        audit_payload={**values, "created_at": now.isoformat(), "updated_at": now.isoformat()},
    )
    stored = load_request(conn, request_id)
    assert stored is not None
    return seen_by(conn, principal, [stored])[0]


def _record(
    conn: Connection,
    subject: Mapping[str, Any],
    parties: RequestParties,
    *,
    at: datetime,
    action: str,
    state: RequestState,
    by: str,
    note: str | None,
    detail: dict[str, Any],
    event: str,
    audit_action: str,
    audit_payload: dict[str, Any],
) -> None:
    """One history step, its event and its audit link: what every change of a request writes.

    `subject` is the request's row (or the values it was inserted with): its event says what
    the request is, so a subscriber can show it without asking."""
    request_id, country, region = subject["id"], subject["country"], subject["region"]
    conn.execute(
        insert(_hist).values(
            request_id=request_id, at=at, action=action, state=str(state), by=by, note=note, detail=detail
        )
    )
    event_log.append_event(
        conn,
        kind=event,
        payload={
            "request_id": request_id,
            "action": action,
            "state": str(state),
            "by": by,
            **{key: subject[key] for key in ("country", "region", "kind", "urgency", "priority", "title")},
            **({"note": note} if note else {}),
            **detail,
        },
        regions=[region] if region else [],
        countries=[country],
        scope=EVENT_SCOPE,
        parties=parties.as_json(),
    )
    audit.record(
        conn,
        actor=by,
        action=audit_action,
        obj=f"request:{request_id}",
        payload_hash=audit.json_digest({"request": request_id, **audit_payload}),
    )


# --- acknowledging and moving along -----------------------------------------------------------------


def acknowledge(
    conn: Connection, principal: Principal, request_id: int, *, note: str | None, now: datetime
) -> StoredRequest:
    """Record this principal's acknowledgement (once); the request as it stands after."""
    stored = visible_request(conn, principal, request_id)
    mine = own_recipient(principal, stored.recipients)
    if mine is None:
        raise Forbidden.one(
            "request.ack.not-recipient",
            f"{principal.actor} is not among the recipients of request {request_id}",
            "/",
        )
    if mine.acknowledged_at is not None:
        return stored  # acknowledged already: nothing to write
    try:
        check_acknowledgeable(stored.state)
    except Refusal as exc:
        raise Conflict.one(exc.rule, exc.message, "/") from None
    state = state_after_ack(stored.state)
    conn.execute(
        update(_rcp)
        .where(_rcp.c.request_id == request_id, _rcp.c.contact_id == mine.contact_id)
        .values(acknowledged_at=now, acknowledged_by=principal.actor, ack_note=note, next_escalation_at=None)
    )
    conn.execute(update(_req).where(_req.c.id == request_id).values(state=str(state), updated_at=now))
    _record(
        conn,
        stored.row._mapping,
        stored.parties,
        at=now,
        action="acknowledged",
        state=state,
        by=principal.actor,
        note=note,
        detail={"contact": mine.contact_id},
        event=REQUEST_ACKNOWLEDGED,
        audit_action="request.ack",
        audit_payload={"contact": mine.contact_id, "note": note, "at": now.isoformat()},
    )
    refreshed = load_request(conn, request_id)
    assert refreshed is not None
    return seen_by(conn, principal, [refreshed])[0]


def change_state(
    conn: Connection,
    principal: Principal,
    request_id: int,
    target: RequestState,
    *,
    note: str,
    now: datetime,
) -> StoredRequest:
    """Move a request to `target` if this principal may (else `Forbidden`), from its present
    state (else `Conflict`)."""
    stored = visible_request(conn, principal, request_id)
    try:
        check_transition(stored.state, target, parties_of(principal, stored))
    except Refusal as exc:
        refusal = Forbidden if exc.forbidden else Conflict
        raise refusal.one(exc.rule, exc.message, "/state") from None
    conn.execute(update(_req).where(_req.c.id == request_id).values(state=str(target), updated_at=now))
    # Someone has it in hand (or it is over): nothing is left to chase.
    conn.execute(update(_rcp).where(_rcp.c.request_id == request_id).values(next_escalation_at=None))
    _record(
        conn,
        stored.row._mapping,
        stored.parties,
        at=now,
        action="status",
        state=target,
        by=principal.actor,
        note=note,
        detail={"from": str(stored.state)},
        event=REQUEST_STATUS,
        audit_action="request.status",
        audit_payload={"from": str(stored.state), "to": str(target), "note": note, "at": now.isoformat()},
    )
    refreshed = load_request(conn, request_id)
    assert refreshed is not None
    return seen_by(conn, principal, [refreshed])[0]


def sent_messages(stored: StoredRequest) -> list[Sent]:
    """The request's messages as `contact_points.resource_messages` reasons on them."""
    return [
        Sent(
            number=m.number,
            type=m.type,
            items=tuple(MessageItem(i["element_id"], i["quantity"]) for i in m.items),
            preceding=m.preceding,
        )
        for m in stored.messages
    ]


def send_message(
    conn: Connection, principal: Principal, request_id: int, message: ResourceMessage, *, now: datetime
) -> tuple[StoredRequest, int]:
    """Record an EDXL-RM message on a request if this principal may send it (else `Forbidden`)
    now (else `Conflict`, or `Invalid` for items the request does not have); the request as it
    stands after, and the message's number."""
    stored = visible_request(conn, principal, request_id)
    try:
        outcome = check_message(
            message,
            state=stored.state,
            parties=parties_of(principal, stored),
            requested=[item["quantity"] for item in stored.row.items],
            sent=sent_messages(stored),
        )
    except Refusal as exc:
        refusal = Forbidden if exc.forbidden else Conflict
        raise refusal.one(exc.rule, exc.message, "/type" if exc.forbidden else "/") from None
    except RequestInvalid as exc:
        raise Invalid(exc.findings) from None
    number = len(stored.messages) + 1
    mine = own_recipient(principal, stored.recipients)
    contact = mine.contact_id if mine is not None and RULES[message.type].party == RECIPIENT else None
    answers = message.type == RESPONSE_TO_REQUEST_RESOURCE
    if answers and any(m.type == message.type and m.contact_id == contact for m in stored.messages):
        raise Conflict.one(
            "request.message.answered", f"{contact} has answered request {request_id} already", "/"
        )
    items = [item.as_json() for item in message.items]
    conn.execute(
        insert(_msgs).values(
            request_id=request_id,
            number=number,
            type=message.type,
            sent_at=now,
            by=principal.actor,
            contact_id=contact,
            preceding=outcome.preceding,
            items=items,
            note=message.note,
            response=message.response,
        )
    )
    if answers and mine is not None and mine.acknowledged_at is None:
        # An answer is this office's acknowledgement: its own deadline stops (the others' run on,
        # as after /ack: another office may still supply what this one declines).
        conn.execute(
            update(_rcp)
            .where(_rcp.c.request_id == request_id, _rcp.c.contact_id == mine.contact_id)
            .values(
                acknowledged_at=now,
                acknowledged_by=principal.actor,
                ack_note=message.note or f"{message.type}: {message.response}",
                next_escalation_at=None,
            )
        )
    if outcome.state != stored.state:
        conn.execute(
            update(_req).where(_req.c.id == request_id).values(state=str(outcome.state), updated_at=now)
        )
        if not answers:
            # A commitment is an answer: nothing is left to chase (as for in-progress by /status).
            conn.execute(update(_rcp).where(_rcp.c.request_id == request_id).values(next_escalation_at=None))
    else:
        conn.execute(update(_req).where(_req.c.id == request_id).values(updated_at=now))
    detail = {
        "message": number,
        "message_type": message.type,
        "preceding": outcome.preceding,
        "items": items,
        "response": message.response,
        "contact": contact,
    }
    _record(
        conn,
        stored.row._mapping,
        stored.parties,
        at=now,
        action="message",
        state=outcome.state,
        by=principal.actor,
        note=message.note,
        detail=detail,
        event=REQUEST_MESSAGE,
        audit_action="request.message",
        audit_payload={**detail, "note": message.note, "at": now.isoformat()},
    )
    refreshed = load_request(conn, request_id)
    assert refreshed is not None
    return seen_by(conn, principal, [refreshed])[0], number


# --- escalation -------------------------------------------------------------------------------------


def _clock(row: Any, notified_at: datetime, level: int | None = None) -> RecipientClock:
    within = None if row.ack_within_seconds is None else timedelta(seconds=row.ack_within_seconds)
    return RecipientClock(
        contact_id=row.contact_id,
        notified_at=notified_at,
        ack_within=within,
        escalate_to=tuple(row.escalate_to),
        level=row.escalation_level if level is None else level,
    )


def _due_clause(now: datetime) -> Any:
    return and_(_rcp.c.next_escalation_at.is_not(None), _rcp.c.next_escalation_at <= now)


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending escalation step falls due, if any (a cheap read)."""
    due: datetime | None = conn.execute(select(func.min(_rcp.c.next_escalation_at))).scalar()
    return due


def escalate_due(conn: Connection, now: datetime, *, limit: int = ESCALATION_BATCH) -> int:
    """Escalate every recipient whose acknowledgement deadline passed by `now`; returns how many
    requests were looked at (== limit: there may be more)."""
    due = conn.execute(
        select(_rcp.c.request_id)
        .where(_due_clause(now))
        .group_by(_rcp.c.request_id)
        .order_by(_rcp.c.request_id)
        .limit(limit)
    ).scalars()
    request_ids = list(due)
    for request_id in request_ids:
        stored = load_request(conn, request_id, history=False)
        if stored is not None:
            _escalate(conn, stored, now)
    return len(request_ids)


def _escalate(conn: Connection, stored: StoredRequest, now: datetime) -> None:
    row = stored.row
    clocks = [_clock(r, row.created_at) for r in stored.recipients]
    acknowledged = stored.acknowledged
    steps = escalations_due(clocks, acknowledged, stored.state, now)
    for step in steps:
        _record(
            conn,
            row._mapping,
            stored.parties,
            at=now,
            action="escalated",
            state=stored.state,
            by=SYSTEM,
            note=f"{step.source} did not acknowledge by {step.due.isoformat()}; escalated to {step.target}",
            detail={"from": step.source, "to": step.target, "level": step.level, "due": step.due.isoformat()},
            event=REQUEST_ESCALATED,
            audit_action="request.escalate",
            audit_payload={"from": step.source, "to": step.target, "level": step.level},
        )
    reached = {s.source: s.level for s in steps}
    for r in stored.recipients:
        level = max(r.escalation_level, reached.get(r.contact_id, 0))
        following = next_escalation_at(_clock(r, row.created_at, level), acknowledged, stored.state)
        if level != r.escalation_level or following != r.next_escalation_at:
            conn.execute(
                update(_rcp)
                .where(_rcp.c.request_id == row.id, _rcp.c.contact_id == r.contact_id)
                .values(escalation_level=level, next_escalation_at=following)
            )
    if steps:
        conn.execute(update(_req).where(_req.c.id == row.id).values(updated_at=now))
