"""Escalation: to whom an unacknowledged alert or request goes next, and when.

Public API (stable):

- `escalation_chain(contact, registry)`: the steps after a contact point that does not
  acknowledge: its deputies, then its head (people of the contact point itself, when it lists
  them), then the regional office of its region (for a national contact or an area office),
  then the BDT focal point. A person step is named `<contact id>#deputies` or `<contact id>#head`.
- `RecipientClock`, `Escalation`, `next_step_at(clock, acknowledged)` and
  `steps_due(clocks, acknowledged, now)`: when each step falls due.

Each step waits one more acknowledgement period: a contact point notified at t with 15 minutes
to answer escalates to its first step at t+15 min, its second at t+30 min... A recipient stops
escalating once it, or anyone its chain has reached or will reach, has acknowledged: someone on
the chain has the matter in hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contact_points.registry import AREA_OFFICE, BDT, NATIONAL, ContactPoint, Registry

DEPUTIES = "deputies"
HEAD = "head"
# A step to people of a contact point is written "<contact id>#<deputies|head>".
PERSON_STEP = "#"


def person_step(contact_id: str, who: str) -> str:
    """The chain step that asks the deputies or the head of a contact point."""
    return f"{contact_id}{PERSON_STEP}{who}"


def step_contact(step: str) -> tuple[str, str | None]:
    """The contact point a chain step reaches, and whom there (None: the contact point itself)."""
    contact_id, sep, who = step.partition(PERSON_STEP)
    return contact_id, (who if sep else None)


def escalation_chain(contact: ContactPoint, registry: Registry) -> tuple[str, ...]:
    """Deputies, head, regional office (national contacts and area offices), BDT."""
    chain: list[str] = []
    if contact.deputies:
        chain.append(person_step(contact.id, DEPUTIES))
    if contact.head:
        chain.append(person_step(contact.id, HEAD))
    if contact.kind in (NATIONAL, AREA_OFFICE) and contact.region:
        office = registry.regional_office(contact.region)
        if office is not None and office.id != contact.id:
            chain.append(office.id)
    if contact.kind != BDT:
        bdt = registry.bdt()
        if bdt is not None and bdt.id != contact.id:
            chain.append(bdt.id)
    return tuple(chain)


@dataclass(slots=True, frozen=True)
class RecipientClock:
    """One recipient's deadline and how far its escalation has gone (`level` steps taken)."""

    contact_id: str
    notified_at: datetime
    ack_within: timedelta | None
    escalate_to: tuple[str, ...]
    level: int = 0

    def next_step_at(self) -> datetime | None:
        """When the next escalation step falls due (each step waits one more `ack_within`)."""
        if self.ack_within is None or self.level >= len(self.escalate_to):
            return None
        return self.notified_at + self.ack_within * (self.level + 1)


@dataclass(slots=True, frozen=True)
class Escalation:
    """One step: `source` did not acknowledge by `due`, so `target` is asked (step `level`)."""

    source: str
    target: str
    level: int
    due: datetime


def next_step_at(clock: RecipientClock, acknowledged: Collection[str]) -> datetime | None:
    """When this recipient's next step falls due; None once it, or a contact point on its chain,
    has acknowledged, or the chain is spent."""
    chain = {step_contact(step)[0] for step in clock.escalate_to}
    if clock.contact_id in acknowledged or any(c in acknowledged for c in chain):
        return None
    return clock.next_step_at()


def steps_due(
    clocks: Sequence[RecipientClock], acknowledged: Collection[str], now: datetime
) -> list[Escalation]:
    """The escalation steps due at `now`, in the order they fell due; steps missed while nothing
    ran all come out at once."""
    steps: list[Escalation] = []
    for clock in clocks:
        current = clock
        # Bounded: every pass raises the level, and a chain is at most a few steps long.
        while (due := next_step_at(current, acknowledged)) is not None and due <= now:
            steps.append(
                Escalation(clock.contact_id, clock.escalate_to[current.level], current.level + 1, due)
            )
            current = dataclasses.replace(current, level=current.level + 1)
    return sorted(steps, key=lambda s: (s.due, s.source, s.level))
