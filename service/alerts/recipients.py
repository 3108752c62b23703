"""The recipients of an alert in the store: who they are (the routing policy), their routing
entries, deadlines, acknowledgements and escalation, as for the recipients of a request
(service.assistance.store).

- `RoutingPolicy` (the registry, rules table, reference tables and deadlines an instance routes
  by; `routing_policy(runtime)`), `addressed(alert, decision, registry)` (only the contact points
  that may see the alert).
- `planned(decision)`: the entries of a routing decision (contact_points.rules), ready to store.
- `routing_rows(plans, now)` and `insert_routing(conn, alert_id, rows)`: store them at ingest,
  deadlines counted from `now`.
- `acknowledge(conn, principal, alert_id, registry=..., now=...)`: a recipient's acknowledgement
  (`NotFound` when the alert is not visible, `Forbidden` when the principal is no recipient).
- `escalate_due(conn, now, registry=...)`, `next_due(conn)`: the escalation sweep's work.
- `reroute(conn, alert_id, impact, policy=..., now=...)`: when an alert's impact changes (an
  outage report, a new layer), the rules are asked again and whoever they now name is added
  (`alert.routing.added`); nobody already told is taken off.

Each row's state is also written into the alert's `routing` column (its JSON, what every output
shows) in the same transaction, so readers need no second query. Two instances sweeping the
same store never escalate a step twice: a step is claimed by an update that succeeds only while
the row still stands at the level the step starts from (and writers commit one at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from cap.errors import Finding
from cap.model import Alert
from cap.serialize import from_json
from contact_points.escalation import Escalation, RecipientClock, next_step_at, step_contact, steps_due
from contact_points.registry import ContactPoint, Registry
from contact_points.routing import ACK_DEADLINES, Priority
from contact_points.rules import RoutingDecision, RoutingRules, alert_facts, decide
from geo.reference import ReferenceTables
from service import audit
from service.alerts import lifecycle
from service.alerts.view import AlertView, select_views
from service.auth import Principal, deleted_office, office_deleted
from service.db.models import AlertRecipient, AlertRecord
from service.errors import Forbidden, NotFound
from service.events import log as event_log
from service.runtime import Runtime
from service.visibility import contact_may_see_alert, is_contact, may_see_alert

_rcp = AlertRecipient.__table__
_alerts = AlertRecord.__table__
# Built once (as service.alerts.ingest's statements): it runs with every alert stored.
_INSERT_RECIPIENT = insert(_rcp)
SYSTEM = "system"
ESCALATION_BATCH = 200
ROUTED = "rule"
ESCALATED = "escalation"
ESCALATION_RULE = "escalation"
RULE_NOT_RECIPIENT = "alert.ack.not-recipient"
RULE_NOT_FOUND = "alert.not-found"
RULE_RECIPIENT_NOT_ADDRESSED = "routing.recipient.not-addressed"
# Re-asked when an alert's impact changed (service.alerts.impacts.recompute).
Reroute = Callable[[Connection, int, Mapping[str, Any]], list[str]]


# --- who: the routing policy -----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RoutingPolicy:
    """What decides where an alert goes: the contact points, the routing table, the reference
    tables (regions, UN groups and their sources) and the acknowledgement deadlines."""

    registry: Registry
    rules: RoutingRules
    reference: ReferenceTables
    deadlines: Mapping[Priority, timedelta] = field(default_factory=lambda: dict(ACK_DEADLINES))

    @classmethod
    def of(
        cls,
        registry: Registry,
        *,
        rules: RoutingRules | None = None,
        reference: ReferenceTables | None = None,
        deadlines: Mapping[Priority, timedelta] | None = None,
    ) -> RoutingPolicy:
        """A policy on this registry; the packaged rules, tables and deadlines unless given."""
        return cls(
            registry,
            rules or _packaged_rules(),
            reference or _packaged_reference(),
            dict(deadlines or ACK_DEADLINES),
        )


def routing_policy(runtime: Runtime) -> RoutingPolicy:
    """What routes alerts in this instance now: its registry, rules, tables and deadlines."""
    return RoutingPolicy(runtime.contacts, runtime.routing_rules, runtime.reference, runtime.deadlines)


@cache
def _packaged_rules() -> RoutingRules:
    return RoutingRules.load()


@cache
def _packaged_reference() -> ReferenceTables:
    return ReferenceTables.load()


def addressed(
    alert: Alert, decision: RoutingDecision, registry: Registry
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The routing entries of the contact points that may see the alert (CAP 1.2 §3.2.1: a
    Private alert goes to its <addresses> only, a Restricted one to those granted), their
    chains cut likewise; a contact point left out is said in the alert's warnings."""
    facts = _scope_of(alert)
    allowed: dict[str, bool] = {}

    def sees(contact_id: str) -> bool:
        if contact_id not in allowed:
            contact = registry.get(contact_id)
            allowed[contact_id] = contact is not None and contact_may_see_alert(contact, facts)
        return allowed[contact_id]

    notes = []
    plans = []
    for plan in planned(decision):
        if not sees(plan["contact_point"]):
            notes.append(
                Finding(
                    RULE_RECIPIENT_NOT_ADDRESSED,
                    f"{plan['contact_point']} may not see this {alert.scope} alert (CAP 1.2 §3.2.1 scope); "
                    "it is not routed to it",
                    "/alert/scope",
                )
            )
            continue
        plan["escalate_to"] = [s for s in plan["escalate_to"] if sees(s.partition("#")[0])]
        plans.append(plan)
    return plans, notes


@dataclass(slots=True, frozen=True)
class _ScopeFacts:
    scope: str
    poster_id: int
    sender: str
    addresses: list[str]


def _scope_of(alert: Alert) -> _ScopeFacts:
    """What the scope rule needs of a message before it is stored (no poster yet)."""
    return _ScopeFacts(scope=alert.scope, poster_id=-1, sender=alert.sender, addresses=list(alert.addresses))


# --- the entries ------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def planned(decision: RoutingDecision) -> list[dict[str, Any]]:
    """The entries of a routing decision, what the alert's `routing` JSON holds of each recipient
    (no deadline yet: that counts from when the alert is stored). The contract's members first."""
    return [
        {
            "contact_point": e.contact.id,
            "priority": str(e.priority),
            "ack_within_seconds": None if e.ack_within is None else int(e.ack_within.total_seconds()),
            "acknowledged_at": None,
            "escalated_to": None,
            "reasons": list(e.reasons),
            # The same reasons as data, for a reader in another language (contact_points.rules.Reason).
            "grounds": [dict(g) for g in e.grounds],
            "rule": e.rule,
            "provenance": [f.as_json() for f in e.provenance],
            "kind": e.contact.kind,
            "name": e.contact.name,
            "real": e.real,
            "origin": ROUTED,
            "rules": list(e.rules),
            "escalate_to": list(e.escalate_to),
        }
        for e in decision.entries
    ]


def _state_json(row: Any) -> dict[str, Any]:
    """What a recipient row adds to its entry: deadline, acknowledgement, escalation so far."""
    return {
        "ack_deadline": _iso(row.deadline_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "escalation_level": row.escalation_level,
        "escalated_to": row.escalated_to,
        "escalated_at": _iso(row.escalated_at),
    }


def _rows(conn: Connection, alert_id: int) -> list[Any]:
    return list(conn.execute(select(_rcp).where(_rcp.c.alert_id == alert_id).order_by(_rcp.c.position)))


def _write_json(
    conn: Connection, alert_id: int, added: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Bring the alert's routing JSON up to date with its rows (entries `added` appended first);
    the JSON written. The decision (rule, reasons, provenance) is kept there only; the rows hold
    what changes: deadlines, acknowledgements, escalation."""
    stored = conn.execute(select(_alerts.c.routing).where(_alerts.c.id == alert_id)).scalar_one()
    entries = {e["contact_point"]: e for e in [*(stored or []), *added]}
    routing = []
    for row in _rows(conn, alert_id):
        entry = entries.get(row.contact_id, {"contact_point": row.contact_id})
        routing.append({**entry, **_state_json(row)})
    conn.execute(update(_alerts).where(_alerts.c.id == alert_id).values(routing=routing))
    return routing


def _clock(row: Any, level: int | None = None) -> RecipientClock:
    within = None if row.ack_within_seconds is None else timedelta(seconds=row.ack_within_seconds)
    return RecipientClock(
        contact_id=row.contact_id,
        notified_at=row.notified_at,
        ack_within=within,
        escalate_to=tuple(row.escalate_to),
        level=row.escalation_level if level is None else level,
    )


@dataclass(slots=True)
class RoutingRows:
    """The recipient rows of a new alert (without its id yet) and the routing JSON they make."""

    rows: list[dict[str, Any]]
    routing: list[dict[str, Any]]


def routing_rows(plans: Sequence[dict[str, Any]], now: datetime, *, first: int = 0) -> RoutingRows:
    """The rows of a new alert's recipients, deadlines counted from `now`, and their JSON (made
    before the alert is stored, so that its row is written once)."""
    rows = []
    routing = []
    for position, plan in enumerate(plans, first):
        within = plan["ack_within_seconds"]
        clock = RecipientClock(
            plan["contact_point"],
            now,
            None if within is None else timedelta(seconds=within),
            tuple(plan["escalate_to"]),
        )
        row = {
            "contact_id": plan["contact_point"],
            "position": position,
            "kind": plan["kind"],
            "priority": plan["priority"],
            "real": plan["real"],
            "origin": plan["origin"],
            "notified_at": now,
            "ack_within_seconds": within,
            "deadline_at": None if within is None else now + timedelta(seconds=within),
            "escalate_to": plan["escalate_to"],
            "escalation_level": 0,
            "next_escalation_at": clock.next_step_at(),
            "escalated_to": None,
            "escalated_at": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
        rows.append(row)
        routing.append({**plan, **_state_json(SimpleNamespace(**row))})
    return RoutingRows(rows, routing)


def insert_routing(conn: Connection, alert_id: int, prepared: RoutingRows) -> None:
    """Store the recipients of a just-stored alert."""
    if prepared.rows:
        conn.execute(_INSERT_RECIPIENT, [{**row, "alert_id": alert_id} for row in prepared.rows])


# --- acknowledging ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Acknowledged:
    """The outcome of an acknowledgement: the alert, the contact points it was made for, whether
    anything changed (False: acknowledged before), and the routing as it stands."""

    alert: AlertView
    contact_points: list[str]
    changed: bool
    routing: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """The answer of POST /api/v1/alerts/{id}/ack and of the websocket's ack."""
        mine = [e for e in self.routing if e["contact_point"] in self.contact_points]
        return {
            "alert": self.alert.id,
            "contact_points": self.contact_points,
            "acknowledged_at": min(e["acknowledged_at"] for e in mine) if mine else None,
            "changed": self.changed,
            "routing": self.routing,
        }


def _contact_of(row: Any, registry: Registry) -> ContactPoint:
    # A contact point deleted since the alert was routed still answers for its entry.
    return registry.get(row.contact_id) or ContactPoint(id=row.contact_id, kind=row.kind, name=row.contact_id)


def visible_alert(conn: Connection, principal: Principal, alert_id: int) -> AlertView:
    """The alert if the principal may see it; `NotFound` as for an absent one otherwise."""
    found = conn.execute(select_views().where(_alerts.c.id == alert_id)).first()
    if found is None or not may_see_alert(principal, view := AlertView(*found)):
        raise NotFound.one(RULE_NOT_FOUND, f"no alert {alert_id}", "{alert_id}")
    return view


def acknowledge(
    conn: Connection, principal: Principal, alert_id: int, *, registry: Registry, now: datetime
) -> Acknowledged:
    """Record that the principal's contact point(s) among the recipients acknowledged the alert;
    again changes nothing. Escalation stops for them and for every recipient whose chain
    reaches them."""
    # A deleted office's token acts for nothing, its old entries included (REST refuses it
    # before any route; this holds the websocket's ack, whose connection outlives a deletion).
    if (office := deleted_office(principal, registry)) is not None:
        raise office_deleted(office)
    view = visible_alert(conn, principal, alert_id)
    rows = _rows(conn, alert_id)
    mine = [row for row in rows if is_contact(principal, _contact_of(row, registry))]
    if not mine:
        raise Forbidden.one(
            RULE_NOT_RECIPIENT, f"{principal.actor} is not among the recipients of alert {alert_id}", "/"
        )
    fresh = [row.contact_id for row in mine if row.acknowledged_at is None]
    ids = [row.contact_id for row in mine]
    if not fresh:
        return Acknowledged(view, ids, False, list(view.routing))
    conn.execute(
        update(_rcp)
        .where(_rcp.c.alert_id == alert_id, _rcp.c.contact_id.in_(fresh), _rcp.c.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=principal.actor, next_escalation_at=None)
    )
    acknowledged = {row.contact_id for row in rows if row.acknowledged_at is not None} | set(fresh)
    _reschedule(conn, alert_id, [row for row in rows if row.contact_id not in fresh], acknowledged)
    routing = _write_json(conn, alert_id)
    event_log.append_alert_event(
        conn,
        kind=event_log.ALERT_ROUTING_ACKNOWLEDGED,
        alert=view,
        payload={"contact_points": fresh, "by": principal.actor, "acknowledged_at": now.isoformat()},
    )
    audit.record(
        conn,
        actor=principal.actor,
        action="alert.routing.ack",
        obj=f"alert:{alert_id}",
        payload_hash=audit.json_digest({"alert": alert_id, "contact_points": fresh, "at": now.isoformat()}),
    )
    return Acknowledged(view, ids, True, routing)


def _reschedule(conn: Connection, alert_id: int, rows: Iterable[Any], acknowledged: set[str]) -> None:
    """Recompute the next step of recipients that may have nothing left to chase."""
    for row in rows:
        following = next_step_at(_clock(row), acknowledged)
        if following != row.next_escalation_at:
            conn.execute(
                update(_rcp)
                .where(_rcp.c.alert_id == alert_id, _rcp.c.contact_id == row.contact_id)
                .values(next_escalation_at=following)
            )


# --- escalating ------------------------------------------------------------------------------------


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending escalation step falls due, if any (one indexed read)."""
    due: datetime | None = conn.execute(select(func.min(_rcp.c.next_escalation_at))).scalar()
    return due


def escalate_due(
    conn: Connection, now: datetime, *, registry: Registry, limit: int = ESCALATION_BATCH
) -> int:
    """Escalate every recipient whose deadline passed by `now`; how many alerts were looked at
    (== limit: there may be more)."""
    alert_ids = list(
        conn.execute(
            select(_rcp.c.alert_id)
            .where(_rcp.c.next_escalation_at.is_not(None), _rcp.c.next_escalation_at <= now)
            .group_by(_rcp.c.alert_id)
            .order_by(_rcp.c.alert_id)
            .limit(limit)
        ).scalars()
    )
    for alert_id in alert_ids:
        _escalate(conn, alert_id, now, registry)
    return len(alert_ids)


def _escalate(conn: Connection, alert_id: int, now: datetime, registry: Registry) -> None:
    found = conn.execute(select_views().where(_alerts.c.id == alert_id)).first()
    rows = _rows(conn, alert_id)
    if found is None:
        return
    view = AlertView(*found)
    state = lifecycle.effective_state(view.state, view.expires_at, now)
    if state != lifecycle.ACTIVE:
        # Cancelled, superseded or expired: nobody needs chasing about it any more.
        conn.execute(update(_rcp).where(_rcp.c.alert_id == alert_id).values(next_escalation_at=None))
        return
    acknowledged = {row.contact_id for row in rows if row.acknowledged_at is not None}
    pending = [row for row in rows if row.next_escalation_at is not None]
    steps = steps_due([_clock(row) for row in pending], acknowledged, now)
    by_source: dict[str, list[Any]] = {}
    for step in steps:
        by_source.setdefault(step.source, []).append(step)
    taken = []
    for row in pending:
        mine = by_source.get(row.contact_id)
        if not mine:
            continue
        last = mine[-1]
        following = next_step_at(_clock(row, last.level), acknowledged)
        claimed = conn.execute(
            update(_rcp)
            .where(
                _rcp.c.alert_id == alert_id,
                _rcp.c.contact_id == row.contact_id,
                _rcp.c.escalation_level == row.escalation_level,
            )
            .values(
                escalation_level=last.level,
                escalated_to=last.target,
                escalated_at=now,
                next_escalation_at=following,
            )
        )
        if claimed.rowcount == 1:  # else another instance took these steps first
            taken += [(row, step) for step in mine]
    present = {row.contact_id for row in rows}
    added: list[dict[str, Any]] = []
    for row, step in sorted(taken, key=lambda t: (t[1].due, t[1].source, t[1].level)):
        target, whom = step_contact(step.target)
        note = f"{step.source} did not acknowledge by {step.due.isoformat()}; escalated to {step.target}"
        event_log.append_alert_event(
            conn,
            kind=event_log.ALERT_ESCALATED,
            alert=view,
            payload={
                "from": step.source,
                "to": step.target,
                "contact_point": target,
                "to_whom": whom or "contact_point",
                "level": step.level,
                "due": step.due.isoformat(),
                "priority": row.priority,
                "by": SYSTEM,
                "note": note,
            },
        )
        audit.record(
            conn,
            actor=SYSTEM,
            action="alert.escalate",
            obj=f"alert:{alert_id}",
            payload_hash=audit.json_digest({"from": step.source, "to": step.target, "level": step.level}),
        )
        if whom is None and target not in present:
            added.append(_escalated_entry(row, target, note, registry, step))
            present.add(target)
    if added:
        insert_routing(conn, alert_id, routing_rows(added, now, first=len(rows)))
    if taken:
        _write_json(conn, alert_id, added)


def _escalated_entry(
    source: Any, target: str, note: str, registry: Registry, step: Escalation
) -> dict[str, Any]:
    """The entry of a contact point an escalation reached that was no recipient: it becomes one
    (so that it may acknowledge), with no deadline of its own, as the chain that reached it
    goes on."""
    contact = registry.get(target)
    return {
        "contact_point": target,
        "priority": source.priority,
        "ack_within_seconds": None,
        "acknowledged_at": None,
        "escalated_to": None,
        "reasons": [f"{ESCALATION_RULE}: {note}"],
        "grounds": [
            {
                "rule": ESCALATION_RULE,
                "kind": "escalation",
                "from": step.source,
                "due": step.due.isoformat(),
                "to": step.target,
            }
        ],
        "rule": ESCALATION_RULE,
        "provenance": [
            {
                "fact": f"{target} is on the escalation chain of {source.contact_id}",
                "source": "contact-point registry (deputies, head, regional office, BDT)",
                "verified": bool(contact and contact.verified),
                "verification": contact.verification if contact else None,
                "about": {"kind": "escalation_chain", "contact_point": target},
            }
        ],
        "kind": contact.kind if contact else "",
        "name": contact.name if contact else target,
        "real": source.real,
        "origin": ESCALATED,
        "rules": [ESCALATION_RULE],
        "escalate_to": [],
    }


# --- routing again when the impact changes ---------------------------------------------------------


def reroute(
    conn: Connection, alert_id: int, impact: Mapping[str, Any], *, policy: RoutingPolicy, now: datetime
) -> list[str]:
    """Ask the rules again about an active alert whose impact changed (sites reported down, a
    layer imported); add whoever they now name, with deadlines from `now`. Nobody already told
    is taken off, nor is a priority lowered: what they were told stands. The ids added."""
    found = conn.execute(select_views().where(_alerts.c.id == alert_id)).first()
    if found is None:
        return []
    view = AlertView(*found)
    if lifecycle.effective_state(view.state, view.expires_at, now) != lifecycle.ACTIVE:
        return []
    model = conn.execute(select(_alerts.c.model).where(_alerts.c.id == alert_id)).scalar_one()
    alert = from_json(model, areas=False)
    mapped = view.geometry is not None
    facts = alert_facts(alert, impact, policy.reference, signature=view.signature, mapped=mapped)
    decision = decide(facts, rules=policy.rules, registry=policy.registry, deadlines=policy.deadlines)
    plans, _ = addressed(alert, decision, policy.registry)
    rows = _rows(conn, alert_id)
    present = {row.contact_id for row in rows}
    fresh = [plan for plan in plans if plan["contact_point"] not in present]
    if not fresh:
        return []
    insert_routing(conn, alert_id, routing_rows(fresh, now, first=len(rows)))
    _write_json(conn, alert_id, fresh)
    added = [plan["contact_point"] for plan in fresh]
    event_log.append_alert_event(
        conn,
        kind=event_log.ALERT_ROUTING_ADDED,
        alert=view,
        payload={
            "contact_points": added,
            "rules": sorted({rule for plan in fresh for rule in plan["rules"]}),
            "reason": "impact",
        },
    )
    audit.record(
        conn,
        actor=SYSTEM,
        action="alert.routing.add",
        obj=f"alert:{alert_id}",
        payload_hash=audit.json_digest({"alert": alert_id, "added": added, "at": now.isoformat()}),
    )
    return added


def rerouter(runtime: Runtime) -> Reroute:
    """`reroute` by this instance's policy and clock, for `impacts.recompute`."""
    return lambda conn, alert_id, impact: reroute(
        conn, alert_id, impact, policy=routing_policy(runtime), now=runtime.clock()
    )
