"""Routing of alerts to ITU contact points: who gets one, how fast they must acknowledge it, and
to whom it escalates when they do not.

Public API (stable):

- `route_alert(countries, regions, severity, urgency, status, *, registry, deadlines=...)
  -> list[Recipient]`: national contacts of the countries, the area offices serving them, the
  regional office of each ITU-D region, and the BDT focal point, in that order.
- `priority_of(severity, urgency) -> Priority`: FLASH when severity is Extreme or urgency is
  Immediate, URGENT when severity is Severe, else ROUTINE.
- `ACK_DEADLINES`: FLASH 15 min, URGENT 1 h, ROUTINE 4 h (override with `deadlines=`).
- `most_severe(severities)`, `most_urgent(urgencies)`: the one severity and urgency an alert of
  several <info> blocks is routed by (CAP 1.2 §3.2.2 code order), "Unknown" when none is known.

A recipient that does not acknowledge within `ack_within` escalates along `escalate_to`:
national contact or area office -> regional office -> BDT. Only `Actual` messages are routed as
real; `Exercise` and `Test` reach the same people marked not real, with no deadline and no
escalation; `System` and `Draft` (and anything unknown) reach nobody (CAP 1.2 §3.2.1 status).
Deadlines are durations: the service adds them to the time it notified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from contact_points.escalation import escalation_chain
from contact_points.registry import (
    AREA_OFFICE,
    BDT,
    NATIONAL,
    REGIONAL_OFFICE,
    ContactPoint,
    Registry,
)


class Priority(StrEnum):
    """How urgently a recipient must acknowledge."""

    FLASH = "flash"
    URGENT = "urgent"
    ROUTINE = "routine"


ACK_DEADLINES: Mapping[Priority, timedelta] = {
    Priority.FLASH: timedelta(minutes=15),
    Priority.URGENT: timedelta(hours=1),
    Priority.ROUTINE: timedelta(hours=4),
}

# Recipients are listed nearest the event first: national, area, regional, BDT.
_ORDER = (NATIONAL, AREA_OFFICE, REGIONAL_OFFICE, BDT)
# CAP 1.2 §3.2.1 <status>: Exercise is for designated participants and Test is to be
# disregarded by recipients, so both travel marked as not real; System and Draft are not
# alerts to people at all.
_REAL = "Actual"
_NOT_REAL = frozenset({"Exercise", "Test"})


# CAP 1.2 §3.2.2 lists the <severity> and <urgency> code values from the most to the least
# pressing (Extreme, Severe, ...; Immediate, Expected, ...), "Unknown" last.
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")


def _most_pressing(values: Iterable[str], order: Sequence[str]) -> str:
    known = [v for v in values if v in order]
    return min(known, key=order.index) if known else "Unknown"


def most_severe(severities: Iterable[str]) -> str:
    """The most pressing CAP severity among several (one per <info>); values outside CAP's
    list are passed over; "Unknown" when none is left."""
    return _most_pressing(severities, SEVERITIES)


def most_urgent(urgencies: Iterable[str]) -> str:
    """The most pressing CAP urgency among several (one per <info>), as `most_severe`."""
    return _most_pressing(urgencies, URGENCIES)


@dataclass(slots=True, frozen=True)
class Recipient:
    """One contact point an alert goes to, with its deadline and escalation chain."""

    contact: ContactPoint
    priority: Priority
    real: bool
    ack_within: timedelta | None
    escalate_to: tuple[str, ...]
    reason: str


def priority_of(severity: str, urgency: str) -> Priority:
    """The acknowledgement priority of a CAP severity and urgency (CAP 1.2 §3.2.2)."""
    severity, urgency = severity.strip().capitalize(), urgency.strip().capitalize()
    if severity == "Extreme" or urgency == "Immediate":
        return Priority.FLASH
    if severity == "Severe":
        return Priority.URGENT
    return Priority.ROUTINE


def route_alert(
    countries: Iterable[str],
    regions: Iterable[str],
    severity: str,
    urgency: str,
    status: str,
    *,
    registry: Registry,
    deadlines: Mapping[Priority, timedelta] = ACK_DEADLINES,
) -> list[Recipient]:
    """The contact points an alert concerning these countries and ITU-D regions goes to."""
    status = status.strip().capitalize()
    if status != _REAL and status not in _NOT_REAL:
        return []
    real = status == _REAL
    priority = priority_of(severity, urgency)
    codes = sorted({c.strip().upper() for c in countries if c.strip()})
    wanted_regions = {r for r in regions if r}

    reasons: dict[str, tuple[ContactPoint, str]] = {}
    for code in codes:
        for contact in registry.national_contacts(code):
            reasons.setdefault(contact.id, (contact, f"national contact for {code}"))
        for contact in registry.area_offices_for(code):
            reasons.setdefault(contact.id, (contact, f"area office serving {code}"))
    # An office or national contact escalates to its own region's office, so that office is
    # told too even when the caller's region list missed it.
    wanted_regions |= {c.region for c, _ in reasons.values() if c.region}
    for region in sorted(wanted_regions):
        office = registry.regional_office(region)
        if office is not None:
            reasons.setdefault(office.id, (office, f"regional office for {region}"))
    bdt = registry.bdt()
    if bdt is not None:
        reasons.setdefault(bdt.id, (bdt, "BDT focal point"))

    ordered = sorted(reasons.values(), key=lambda item: (_ORDER.index(item[0].kind), item[0].id))
    return [
        Recipient(
            contact=contact,
            priority=priority,
            real=real,
            ack_within=deadlines[priority] if real else None,
            escalate_to=_escalation(contact, wanted_regions, registry) if real else (),
            reason=reason,
        )
        for contact, reason in ordered
    ]


def _escalation(contact: ContactPoint, regions: set[str], registry: Registry) -> tuple[str, ...]:
    """`escalation.escalation_chain`; a national contact or area office without a region of its
    own escalates to the regional offices of the regions the caller named."""
    chain = escalation_chain(contact, registry)
    if contact.kind in (NATIONAL, AREA_OFFICE) and not contact.region:
        offices = [registry.regional_office(region) for region in sorted(regions)]
        found = tuple(o.id for o in offices if o is not None)
        bdt = [step for step in chain if step == (registry.bdt() or contact).id]
        people = [step for step in chain if step not in bdt]
        chain = (*people, *found, *bdt)
    return chain
