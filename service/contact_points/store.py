"""The contact-point registry in the store: read it, and change it (the operator's API and
`tampere contacts import`), each change with its event and audit link in one transaction.

Public API (stable, also for deliveries):

- `get(conn, contact_id) -> ContactPoint | None`, `list_contacts(conn, kind=None)`,
  `load_registry(conn) -> Registry`, `revision(conn) -> int` (raised by every change).
- `create(conn, contact, actor=...)`, `replace(conn, contact_id, contact, actor=...)`,
  `delete(conn, contact_id, actor=...)`, `import_contacts(conn, contacts, replace_all=..., actor=...)`.

Refusals are typed `service.errors`: `NotFound` (no such id), `Conflict` (an id taken, a
second BDT or regional office for a region, the last BDT deleted, one deleted while it has
delivery channels), `Invalid` (an id in the body other than the one in the path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from contact_points.records import contact_record, person_record
from contact_points.registry import BDT, REGIONAL_OFFICE, ContactPoint, Person, Registry
from service import audit
from service.db.models import ContactPointRecord, ContactRegistryRevision, DeliveryChannel, utcnow
from service.errors import Conflict, Invalid, NotFound
from service.events import log as event_log

_contacts = ContactPointRecord.__table__
_revision = ContactRegistryRevision.__table__
_channels = DeliveryChannel.__table__
RULE_NOT_FOUND = "contact_point.not-found"
RULE_ID_TAKEN = "contact_point.id.taken"
RULE_ID_MISMATCH = "contact_point.id.mismatch"
RULE_BDT_DUPLICATE = "contact_point.bdt.duplicate"
RULE_BDT_REQUIRED = "contact_point.bdt.required"
RULE_REGIONAL_DUPLICATE = "contact_point.regional_office.duplicate"
RULE_CHANNELS_EXIST = "contact_point.channels.exist"
PATH = "/api/v1/contact-points"
# The order contact points are listed and exported in: BDT, regional, area offices, national.
KIND_ORDER = {BDT: 0, REGIONAL_OFFICE: 1, "area_office": 2, "national": 3}


# --- reading ---------------------------------------------------------------------------------------


def _contact(row: Any) -> ContactPoint:
    return ContactPoint(
        id=row.id,
        kind=row.kind,
        name=row.name,
        region=row.region,
        country=row.country,
        serves=frozenset(row.countries or ()),
        coverage=row.coverage,
        city=row.city,
        people=tuple(
            Person(
                name=p["name"],
                role=p.get("role"),
                languages=tuple(p.get("languages") or ()),
                time_zone=p.get("time_zone"),
                email=p.get("email"),
                phone=p.get("phone"),
            )
            for p in row.people or ()
        ),
        head=row.head,
        deputies=tuple(row.deputies or ()),
        emails=tuple(row.emails or ()),
        phone=row.phone,
        emergency_frequencies=None if row.emergency_frequencies is None else tuple(row.emergency_frequencies),
        tampere_convention=row.tampere_convention,
        source=row.source,
        verification=row.verification,
    )


def _ordered(contacts: Iterable[ContactPoint]) -> list[ContactPoint]:
    return sorted(contacts, key=lambda c: (KIND_ORDER.get(c.kind, 9), c.id))


def get(conn: Connection, contact_id: str) -> ContactPoint | None:
    """The contact point with this id (ids are matched as stored, lower case), or None."""
    row = conn.execute(select(_contacts).where(_contacts.c.id == contact_id.strip().lower())).first()
    return None if row is None else _contact(row)


def list_contacts(conn: Connection, *, kind: str | None = None) -> list[ContactPoint]:
    """Every contact point (of one kind), BDT first, then regional, area, national; by id."""
    query = select(_contacts)
    if kind is not None:
        query = query.where(_contacts.c.kind == kind)
    return _ordered(_contact(row) for row in conn.execute(query))


def load_registry(conn: Connection) -> Registry:
    """The whole registry, as routing reads it."""
    return Registry(list_contacts(conn))


def revision(conn: Connection) -> int:
    """The registry's revision: raised by every change, whoever made it."""
    value = conn.execute(select(_revision.c.revision).where(_revision.c.id == 1)).scalar()
    return int(value or 0)


# --- changing --------------------------------------------------------------------------------------


def _values(contact: ContactPoint) -> dict[str, Any]:
    return {
        "id": contact.id,
        "kind": contact.kind,
        "name": contact.name,
        "region": contact.region,
        "country": contact.country,
        "city": contact.city,
        "countries": sorted(contact.serves),
        "coverage": contact.coverage,
        "people": [person_record(p) for p in contact.people],
        "head": contact.head,
        "deputies": list(contact.deputies),
        "emails": list(contact.emails),
        "phone": contact.phone,
        "emergency_frequencies": None
        if contact.emergency_frequencies is None
        else list(contact.emergency_frequencies),
        "tampere_convention": contact.tampere_convention,
        "source": contact.source,
        "verification": contact.verification,
    }


def _check_unique_roles(conn: Connection, contact: ContactPoint, *, replacing: str | None = None) -> None:
    """One BDT focal point, one regional office per ITU-D region: routing and escalation look
    each up by kind (and region), so a second would be an ambiguity, refused."""
    if contact.kind == BDT:
        other = conn.execute(
            select(_contacts.c.id).where(_contacts.c.kind == BDT, _contacts.c.id != (replacing or contact.id))
        ).scalar()
        if other is not None:
            raise Conflict.one(RULE_BDT_DUPLICATE, f"{other} is the BDT focal point already", "/kind")
    if contact.kind == REGIONAL_OFFICE:
        other = conn.execute(
            select(_contacts.c.id).where(
                _contacts.c.kind == REGIONAL_OFFICE,
                _contacts.c.region == contact.region,
                _contacts.c.id != (replacing or contact.id),
            )
        ).scalar()
        if other is not None:
            raise Conflict.one(
                RULE_REGIONAL_DUPLICATE,
                f"{other} is the regional office of {contact.region} already",
                "/region",
            )


def _bump(conn: Connection, now: datetime) -> None:
    updated = conn.execute(
        update(_revision).where(_revision.c.id == 1).values(revision=_revision.c.revision + 1, changed_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(insert(_revision).values(id=1, revision=1, changed_at=now))


def _record(conn: Connection, action: str, contact: ContactPoint, *, actor: str, now: datetime) -> None:
    """The event (what any principal may know of a contact point: no people) and audit link."""
    event_log.append_event(
        conn,
        kind=event_log.CONTACT_POINT_CHANGED,
        payload={
            "contact_point": contact.id,
            "action": action,
            "kind": contact.kind,
            "name": contact.name,
            "region": contact.region,
            "by": actor,
        },
        regions=[contact.region] if contact.region else [],
        countries=sorted(contact.serves) if contact.kind != BDT else [],
    )
    audit.record(
        conn,
        actor=actor,
        action=f"contact_point.{action}",
        obj=f"contact_point:{contact.id}",
        payload_hash=audit.json_digest(contact_record(contact)),
    )
    # The registry's e-mail addresses are delivery channels: changed with the registry, in the
    # same transaction, so no event committed after the change misses (or reaches) an address.
    # Imported here: deliveries need service.auth, which reads the registry through this module.
    from service.deliveries import registry_channels

    registry_channels.sync(conn, contact.id, None if action == "deleted" else contact, actor=actor)
    _bump(conn, now)


def create(
    conn: Connection, contact: ContactPoint, *, actor: str, now: datetime | None = None
) -> ContactPoint:
    """Add a contact point; `Conflict` when its id is taken."""
    now = now or utcnow()
    if get(conn, contact.id) is not None:
        raise Conflict.one(RULE_ID_TAKEN, f"a contact point {contact.id!r} exists; PUT replaces it", "/id")
    _check_unique_roles(conn, contact)
    conn.execute(
        insert(_contacts).values(**_values(contact), created_at=now, updated_at=now, updated_by=actor)
    )
    _record(conn, "created", contact, actor=actor, now=now)
    return contact


def replace(
    conn: Connection, contact_id: str, contact: ContactPoint, *, actor: str, now: datetime | None = None
) -> ContactPoint:
    """Replace a contact point whole; `NotFound` when there is none with this id, `Invalid`
    when the body names another id."""
    now = now or utcnow()
    if contact.id != contact_id:
        raise Invalid.one(
            RULE_ID_MISMATCH, f"the body is {contact.id!r}, the path {contact_id!r}: ids do not change", "/id"
        )
    current = get(conn, contact_id)
    if current is None:
        raise NotFound.one(RULE_NOT_FOUND, f"no contact point {contact_id!r}", "{contact_id}")
    if current.kind == BDT and contact.kind != BDT:
        _check_bdt_remains(conn, contact_id)
    _check_unique_roles(conn, contact, replacing=contact_id)
    if current == contact:
        return contact  # nothing changes: no event, no audit link
    values = _values(contact)
    del values["id"]
    conn.execute(
        update(_contacts)
        .where(_contacts.c.id == contact_id)
        .values(**values, updated_at=now, updated_by=actor)
    )
    _record(conn, "updated", contact, actor=actor, now=now)
    return contact


def _check_bdt_remains(conn: Connection, leaving: str) -> None:
    others = conn.execute(
        select(_contacts.c.id).where(_contacts.c.kind == BDT, _contacts.c.id != leaving)
    ).first()
    if others is None:
        raise Conflict.one(
            RULE_BDT_REQUIRED,
            "the BDT focal point cannot go: alerts over no Member State and every escalation end there",
            "{contact_id}",
        )


def _check_no_channels(conn: Connection, contact_id: str, path: str) -> None:
    """`Conflict` listing the delivery channels of a contact point that is to go: they would go
    on delivering for it while nobody can manage them any more (their routes need the contact
    point), so they are removed first, by whoever manages them, knowingly. The channels of the
    registry's own addresses are not listed: they go with the entry (`_record`)."""
    from service.deliveries.registry_channels import roles_of  # see _record

    c = _channels.c
    rows = [
        row
        for row in conn.execute(
            select(c.id, c.kind, c.filters).where(c.contact_id == contact_id).order_by(c.kind.desc(), c.id)
        )
        if not roles_of(row.filters)
    ]
    if not rows:
        return
    names = {"webhook": ("webhook", "webhooks"), "email": ("e-mail subscription", "email")}
    listed = ", ".join(
        f"{names[row.kind][0]} {row.id} (DELETE {PATH}/{contact_id}/{names[row.kind][1]}/{row.id})"
        for row in rows
    )
    raise Conflict.one(
        RULE_CHANNELS_EXIST,
        f"{contact_id} still has delivery channels: {listed}; remove them first, then the contact point",
        path,
    )


def delete_contact(
    conn: Connection, contact_id: str, *, actor: str, now: datetime | None = None
) -> ContactPoint:
    """Remove a contact point (alerts already routed to it keep their entries); `NotFound`
    when there is none, `Conflict` for the only BDT focal point and for one that still has
    delivery channels (webhooks, e-mail subscriptions)."""
    now = now or utcnow()
    current = get(conn, contact_id)
    if current is None:
        raise NotFound.one(RULE_NOT_FOUND, f"no contact point {contact_id!r}", "{contact_id}")
    if current.kind == BDT:
        _check_bdt_remains(conn, current.id)
    _check_no_channels(conn, current.id, "{contact_id}")
    conn.execute(delete(_contacts).where(_contacts.c.id == current.id))
    _record(conn, "deleted", current, actor=actor, now=now)
    return current


@dataclasses.dataclass(slots=True, frozen=True)
class ImportOutcome:
    """What an import did, by id."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    deleted: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON form, with counts."""
        return {
            "created": list(self.created),
            "updated": list(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": list(self.deleted),
        }


def import_contacts(
    conn: Connection, contacts: Sequence[ContactPoint], *, replace_all: bool, actor: str
) -> ImportOutcome:
    """Create or replace each contact point of an import file, in the caller's transaction (all
    or nothing); with `replace_all`, remove those the file does not hold."""
    ids = [c.id for c in contacts]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise Invalid.one("contact_point.id.duplicate", f"listed more than once: {', '.join(twice)}", "/")
    now = utcnow()
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    deleted: list[str] = []
    if replace_all:
        wanted = set(ids)
        for current in list_contacts(conn):
            if current.id not in wanted:
                _check_no_channels(conn, current.id, "/")
                conn.execute(delete(_contacts).where(_contacts.c.id == current.id))
                _record(conn, "deleted", current, actor=actor, now=now)
                deleted.append(current.id)
    # BDT and regional offices are checked once the whole file is in: an import may move the
    # regional office of a region from one id to another.
    for contact in contacts:
        current = get(conn, contact.id)
        if current is None:
            conn.execute(
                insert(_contacts).values(**_values(contact), created_at=now, updated_at=now, updated_by=actor)
            )
            _record(conn, "created", contact, actor=actor, now=now)
            created.append(contact.id)
        elif current != contact:
            values = _values(contact)
            del values["id"]
            conn.execute(
                update(_contacts)
                .where(_contacts.c.id == contact.id)
                .values(**values, updated_at=now, updated_by=actor)
            )
            _record(conn, "updated", contact, actor=actor, now=now)
            updated.append(contact.id)
        else:
            unchanged.append(contact.id)
    registry = list_contacts(conn)
    bdts = [c.id for c in registry if c.kind == BDT]
    if len(bdts) != 1:
        rule = RULE_BDT_REQUIRED if not bdts else RULE_BDT_DUPLICATE
        raise Conflict.one(
            rule, f"exactly one BDT focal point is needed; the import leaves {bdts or 'none'}", "/"
        )
    by_region: dict[str, list[str]] = {}
    for c in registry:
        if c.kind == REGIONAL_OFFICE and c.region:
            by_region.setdefault(c.region, []).append(c.id)
    doubled = {region: found for region, found in by_region.items() if len(found) > 1}
    if doubled:
        raise Conflict.one(
            RULE_REGIONAL_DUPLICATE,
            "one regional office per region; the import leaves "
            + "; ".join(f"{region}: {', '.join(found)}" for region, found in sorted(doubled.items())),
            "/",
        )
    return ImportOutcome(tuple(created), tuple(updated), tuple(unchanged), tuple(deleted))
