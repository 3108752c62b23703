"""Assistance requests (WTDC Resolution 34): what a disaster-struck Member State asks of BDT and
the ITU regional offices, who must acknowledge it by when, and how it escalates.

Public API (stable):

- `RequestKind` (equipment, technical-assistance, capacity-building, frequency-coordination),
  `Urgency` (immediate, high, normal), `RequestState` (open, acknowledged, in-progress,
  fulfilled, closed, cancelled).
- `AssistanceRequest` and its parts `Item`, `RequesterContact`; `parse_request(body, ...)`,
  `parse_ack(body)` and `parse_status(body)` check JSON-decoded bodies rule by rule and raise
  `RequestInvalid` with every finding (rule id `request.*`, JSON pointer path).
- `route_request(country, region, urgency, *, registry)`: the recipients (national contact,
  area office, regional office, BDT focal point) with priority, deadline and escalation chain,
  by the same rules as `contact_points.routing.route_alert`.
- `check_transition(current, target, parties)`: who may move a request where (`Refusal`).
- `RecipientClock`, `next_escalation_at(clock, acknowledged, state)` and
  `escalations_due(clocks, acknowledged, state, now)`: escalation steps and when they fall due
  (`contact_points.escalation`, shared with alerts, while the request awaits an answer).

Urgency maps onto the alert priorities so one table of deadlines serves both: immediate is
FLASH (15 min), high URGENT (1 h), normal ROUTINE (4 h) (`routing.ACK_DEADLINES`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shapely.geometry.base import BaseGeometry

from cap.errors import Finding
from contact_points import escalation
from contact_points.edxl_rm import SCHEDULE_TYPES, Schedule, Term
from contact_points.glide import GlideNumber, parse_glide
from contact_points.registry import NATIONAL, Registry
from contact_points.routing import ACK_DEADLINES, Priority, Recipient, route_alert
from geo.areas import geometry_to_geojson
from geo.geojson import read_geometry
from geo.reference import ISO3


class RequestKind(StrEnum):
    """What is asked for (Res. 34: IFCE equipment, expertise, training, spectrum)."""

    EQUIPMENT = "equipment"
    TECHNICAL_ASSISTANCE = "technical-assistance"
    CAPACITY_BUILDING = "capacity-building"
    FREQUENCY_COORDINATION = "frequency-coordination"


class Urgency(StrEnum):
    """How soon the requester needs an answer."""

    IMMEDIATE = "immediate"
    HIGH = "high"
    NORMAL = "normal"


class RequestState(StrEnum):
    """Where a request stands."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in-progress"
    FULFILLED = "fulfilled"
    CLOSED = "closed"
    CANCELLED = "cancelled"


PRIORITY_OF_URGENCY: Mapping[Urgency, Priority] = {
    Urgency.IMMEDIATE: Priority.FLASH,
    Urgency.HIGH: Priority.URGENT,
    Urgency.NORMAL: Priority.ROUTINE,
}
# States in which nobody works on the request any more: no acknowledgement, no escalation.
FINISHED = frozenset({RequestState.FULFILLED, RequestState.CLOSED, RequestState.CANCELLED})
# Escalation chases an answer; once someone took the request in hand it has one.
AWAITING_ANSWER = frozenset({RequestState.OPEN, RequestState.ACKNOWLEDGED})

FIELDS = frozenset(
    {
        "kind",
        "country",
        "title",
        "description",
        "urgency",
        "items",
        "related_alerts",
        "contact",
        "location",
        "glide",
    }
)
# What an item may say beyond {item, quantity}: EDXL-RM 1.0 ResourceInformation in JSON words
# (`contact_points.edxl_rm` writes them back as XML).
ITEM_FIELDS = frozenset(
    {"item", "quantity", "unit", "type", "keywords", "description", "anticipated_function", "schedule"}
)
MAX_KEYWORDS = 20
MAX_SCHEDULE = 10
MAX_URN = 256
MAX_VALUE = 200
MAX_UNIT = 64
# A request's location: a point, or an area as detailed as a district boundary. Below the ~10,000
# short positions a 64 KiB body can carry, so this bound, not the body's, caps the work of checking.
MAX_LOCATION_VERTICES = 5_000
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_ITEMS = 100
MAX_ITEM_NAME = 200
# An IFCE deployment is tens of terminals; a quantity beyond this is a typing mistake.
MAX_QUANTITY = 10_000
MAX_RELATED = 50
MAX_IDENTIFIER = 255
MAX_NAME = 200
MAX_EMAIL = 254
# ITU-T E.164: at most 15 digits in an international number.
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 4, 15
MAX_FINDINGS = 50
MAX_NOTE = 1000

EMAIL = re.compile(r"^[^@\s<>\x00-\x1f\x7f]+@[^@\s<>\x00-\x1f\x7f]+\.[^@\s<>\x00-\x1f\x7f]+$")
# C0 controls and DEL, bar tab and line breaks: never meant in a title or a note, and NUL is
# refused by PostgreSQL text columns.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PHONE = re.compile(r"^\+?[0-9 ()\-.]+$")
# CAP 1.2 §3.2.1 identifier: no spaces, commas or restricted characters (< and &).
_CAP_IDENTIFIER = re.compile(r"^[^\s,<&]+$")


@dataclass(slots=True, frozen=True)
class Item:
    """One thing asked for and how many (e.g. 10 satellite terminals), optionally described as
    EDXL-RM 1.0 ResourceInformation: the resource's type and keywords from named vocabularies,
    a description, the unit of its quantity, the function it will serve and its schedule."""

    item: str
    quantity: int
    unit: str | None = None
    type: Term | None = None
    keywords: tuple[Term, ...] = ()
    description: str | None = None
    anticipated_function: str | None = None
    schedule: tuple[Schedule, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The item as stored and answered: the old {item, quantity} plus what was given."""
        body: dict[str, Any] = {"item": self.item, "quantity": self.quantity}
        if self.unit is not None:
            body["unit"] = self.unit
        if self.type is not None:
            body["type"] = {"list": self.type.list, "value": self.type.value}
        if self.keywords:
            body["keywords"] = [{"list": k.list, "value": k.value} for k in self.keywords]
        if self.description is not None:
            body["description"] = self.description
        if self.anticipated_function is not None:
            body["anticipated_function"] = self.anticipated_function
        if self.schedule:
            body["schedule"] = [e.as_json() for e in self.schedule]
        return body


@dataclass(slots=True, frozen=True)
class RequesterContact:
    """Whom the offices call back about the request."""

    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(slots=True, frozen=True)
class AssistanceRequest:
    """A checked request for assistance from one Member State."""

    kind: RequestKind
    country: str
    title: str
    description: str
    urgency: Urgency
    contact: RequesterContact
    items: tuple[Item, ...] = ()
    # Alert ids (int) of this service, or CAP identifiers (str) of alerts known elsewhere.
    related_alerts: tuple[int | str, ...] = ()
    # Where help is needed (RFC 7946 lon/lat): a point or an area, and its GeoJSON as given.
    location: BaseGeometry | None = None
    location_json: dict[str, Any] | None = None
    glide: GlideNumber | None = None

    @property
    def priority(self) -> Priority:
        """The acknowledgement priority of its urgency."""
        return PRIORITY_OF_URGENCY[self.urgency]


class RequestInvalid(ValueError):
    """A request body that breaks rules; `findings` names each rule and where."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(f"{f.rule} at {f.path}: {f.message}" for f in self.findings))


# --- checking a request ------------------------------------------------------------------------


def parse_request(
    body: Any, *, default_country: str | None, member_states: Collection[str]
) -> AssistanceRequest:
    """Check a JSON-decoded request; raises RequestInvalid listing every broken rule.

    `default_country` is used when the body names none (an administration's own country);
    `member_states` are the ISO3 codes a request may come from.
    """
    if not isinstance(body, dict):
        raise RequestInvalid([Finding("request.body.object", "the body must be a JSON object", "/")])
    findings: list[Finding] = [
        Finding("request.body.unknown-field", f"unknown field {key!r} (one of {sorted(FIELDS)})", f"/{key}")
        for key in body
        if key not in FIELDS
    ]
    kind = _choice(body.get("kind"), RequestKind, "/kind", "request.kind.invalid", findings)
    urgency = _choice(body.get("urgency"), Urgency, "/urgency", "request.urgency.invalid", findings)
    country = _country(body.get("country"), default_country, member_states, findings)
    title = read_text(body.get("title"), "/title", "request.title", MAX_TITLE, findings)
    description = read_text(
        body.get("description"), "/description", "request.description", MAX_DESCRIPTION, findings
    )
    items = _items(body.get("items"), findings)
    if kind == RequestKind.EQUIPMENT and not items and not _any_at(findings, "/items"):
        findings.append(
            Finding("request.items.required", "an equipment request lists the items and quantities", "/items")
        )
    related = _related(body.get("related_alerts"), findings)
    contact = _contact(body.get("contact"), findings)
    location = None
    if body.get("location") is not None:
        location = read_geometry(
            body["location"],
            findings,
            path="/location",
            rule="request.location",
            max_vertices=MAX_LOCATION_VERTICES,
        )
    glide = parse_glide(body["glide"], "/glide", findings) if body.get("glide") is not None else None
    if findings:
        raise RequestInvalid(findings[:MAX_FINDINGS])
    assert kind is not None and urgency is not None and country is not None
    assert title is not None and description is not None and contact is not None
    return AssistanceRequest(
        kind=RequestKind(kind),
        country=country,
        title=title,
        description=description,
        urgency=Urgency(urgency),
        contact=contact,
        items=items,
        related_alerts=related,
        location=location,
        location_json=geometry_to_geojson(location) if location is not None else None,
        glide=glide,
    )


def _any_at(findings: list[Finding], prefix: str) -> bool:
    return any(f.path.startswith(prefix) for f in findings)


def edxl_term(
    value: Any, allowed: Sequence[str], vocabulary: str, path: str, rule: str, findings: list[Finding]
) -> bool:
    """Whether `value` is one of an EDXL-RM vocabulary's values; else a finding naming them."""
    if value in allowed:
        return True
    name = path.rsplit("/", 1)[-1]
    findings.append(
        Finding(rule, f"{name} {value!r}; one of the EDXL-RM {vocabulary} values {', '.join(allowed)}", path)
    )
    return False


def _choice(value: Any, enum: type[StrEnum], path: str, rule: str, findings: list[Finding]) -> str | None:
    allowed = [member.value for member in enum]
    if isinstance(value, str) and value in allowed:
        return value
    problem = "is missing" if value is None else f"is {value!r}"
    findings.append(Finding(rule, f"{path[1:]} {problem}; one of {', '.join(allowed)}", path))
    return None


def _country(
    value: Any, default: str | None, member_states: Collection[str], findings: list[Finding]
) -> str | None:
    if value is None and default is None:
        findings.append(
            Finding("request.country.missing", "country (ISO 3166-1 alpha-3) is required", "/country")
        )
        return None
    if value is None:
        value = default
    if not isinstance(value, str) or not ISO3.match(value.strip().upper()):
        findings.append(
            Finding(
                "request.country.format", f"country must be ISO 3166-1 alpha-3, got {value!r}", "/country"
            )
        )
        return None
    code = value.strip().upper()
    if code not in member_states:
        findings.append(Finding("request.country.unknown", f"{code} is not an ITU Member State", "/country"))
        return None
    return code


def read_text(value: Any, path: str, rule: str, limit: int, findings: list[Finding]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        findings.append(Finding(f"{rule}.missing", f"{path[1:]} is required and not blank", path))
        return None
    if not isinstance(value, str):
        findings.append(Finding(f"{rule}.type", f"{path[1:]} must be text", path))
        return None
    text = value.strip()
    if len(text) > limit:
        findings.append(
            Finding(f"{rule}.too-long", f"{path[1:]} has {len(text)} characters; at most {limit}", path)
        )
        return None
    if CONTROL.search(text):
        findings.append(Finding(f"{rule}.control", f"{path[1:]} has control characters", path))
        return None
    return text


def _items(value: Any, findings: list[Finding]) -> tuple[Item, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        findings.append(Finding("request.items.type", "items must be a list of {item, quantity}", "/items"))
        return ()
    if len(value) > MAX_ITEMS:
        findings.append(
            Finding("request.items.too-many", f"{len(value)} items; at most {MAX_ITEMS}", "/items")
        )
        return ()
    items: list[Item] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(value):
        place = f"/items/{i}"
        if not isinstance(entry, dict):
            findings.append(Finding("request.item.type", "an item is an object {item, quantity}", place))
            continue
        extra = sorted(set(entry) - ITEM_FIELDS)
        if extra:
            findings.append(Finding("request.item.unknown-field", f"unknown field(s) {extra}", place))
        name = read_text(entry.get("item"), f"{place}/item", "request.item.name", MAX_ITEM_NAME, findings)
        quantity = entry.get("quantity")
        before = len(findings)
        details = _resource_details(entry, place, findings)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
            findings.append(
                Finding(
                    "request.item.quantity",
                    f"quantity must be a whole number from 1 to {MAX_QUANTITY}, got {quantity!r}",
                    f"{place}/quantity",
                )
            )
            continue
        if name is None or extra or len(findings) > before:
            continue
        key = name.casefold()
        if key in seen:
            findings.append(
                Finding(
                    "request.item.duplicate",
                    f"{name!r} is listed already at /items/{seen[key]}; give one total quantity",
                    f"{place}/item",
                )
            )
            continue
        seen[key] = i
        items.append(Item(item=name, quantity=quantity, **details))
        if len(findings) > MAX_FINDINGS:
            break
    return tuple(items)


def _resource_details(entry: dict[str, Any], place: str, findings: list[Finding]) -> dict[str, Any]:
    """The EDXL-RM parts of an item (all optional), as keyword arguments of `Item`."""
    details: dict[str, Any] = {}
    if entry.get("unit") is not None:
        details["unit"] = read_text(entry["unit"], f"{place}/unit", "request.item.unit", MAX_UNIT, findings)
    if entry.get("type") is not None:
        details["type"] = _value_list(entry["type"], f"{place}/type", "request.item.type", findings)
    keywords = entry.get("keywords")
    if keywords is not None:
        if not isinstance(keywords, list) or len(keywords) > MAX_KEYWORDS:
            findings.append(
                Finding(
                    "request.item.keywords",
                    f"keywords is a list of at most {MAX_KEYWORDS} {{list, value}}",
                    f"{place}/keywords",
                )
            )
        else:
            found = [
                _value_list(k, f"{place}/keywords/{j}", "request.item.keyword", findings)
                for j, k in enumerate(keywords)
            ]
            details["keywords"] = tuple(k for k in found if k is not None)
    for name, rule in (
        ("description", "request.item.description"),
        ("anticipated_function", "request.item.function"),
    ):
        if entry.get(name) is not None:
            details[name] = read_text(entry[name], f"{place}/{name}", rule, MAX_NOTE, findings)
    if entry.get("schedule") is not None:
        details["schedule"] = read_schedule(entry["schedule"], f"{place}/schedule", findings)
    return details


def _value_list(value: Any, place: str, rule: str, findings: list[Finding]) -> Term | None:
    # EDXL-RM ValueListType: a term (Value) of the vocabulary the URN (ValueListURN) names.
    if not isinstance(value, dict) or set(value) - {"list", "value"}:
        findings.append(Finding(rule, "a vocabulary term is an object {list (a URN), value}", place))
        return None
    urn = value.get("list")
    if (
        not isinstance(urn, str)
        or not urn.strip()
        or len(urn) > MAX_URN
        or any(c.isspace() for c in urn.strip())
    ):
        findings.append(
            Finding(
                rule,
                f"list names the vocabulary: a URN or URL without blanks, at most {MAX_URN}",
                f"{place}/list",
            )
        )
        return None
    term = read_text(value.get("value"), f"{place}/value", rule, MAX_VALUE, findings)
    return None if term is None else Term(urn.strip(), term)


def read_schedule(value: Any, place: str, findings: list[Finding]) -> tuple[Schedule, ...]:
    if not isinstance(value, list) or len(value) > MAX_SCHEDULE:
        findings.append(
            Finding(
                "request.item.schedule",
                f"schedule is a list of at most {MAX_SCHEDULE} {{type, at?, location?}}",
                place,
            )
        )
        return ()
    entries: list[Schedule] = []
    for j, entry in enumerate(value):
        where = f"{place}/{j}"
        if not isinstance(entry, dict) or set(entry) - {"type", "at", "location"}:
            findings.append(
                Finding("request.item.schedule", "a schedule entry is {type, at?, location?}", where)
            )
            continue
        kind = entry.get("type")
        if not edxl_term(
            kind, SCHEDULE_TYPES, "ScheduleType", f"{where}/type", "request.item.schedule.type", findings
        ):
            continue
        at = None
        if entry.get("at") is not None:
            at = _datetime(entry["at"], f"{where}/at", findings)
            if at is None:
                continue
        location = None
        if entry.get("location") is not None:
            location = read_text(
                entry["location"], f"{where}/location", "request.item.schedule.location", MAX_NAME, findings
            )
            if location is None:
                continue
        entries.append(Schedule(str(kind), at, location))
    return tuple(entries)


def _datetime(value: Any, place: str, findings: list[Finding]) -> datetime | None:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 64 else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        findings.append(
            Finding(
                "request.item.schedule.at",
                f"at is an ISO 8601 date-time with a UTC offset (e.g. 2026-12-08T06:00:00Z), got {value!r}",
                place,
            )
        )
        return None
    try:
        return when.astimezone(UTC)
    except OverflowError:
        findings.append(
            Finding("request.item.schedule.at", "at is outside the years 1 to 9999 in UTC", place)
        )
        return None


def _related(value: Any, findings: list[Finding]) -> tuple[int | str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        findings.append(
            Finding(
                "request.related_alerts.type",
                "related_alerts is a list of alert ids or CAP identifiers",
                "/related_alerts",
            )
        )
        return ()
    if len(value) > MAX_RELATED:
        findings.append(
            Finding(
                "request.related_alerts.too-many",
                f"{len(value)} alerts; at most {MAX_RELATED}",
                "/related_alerts",
            )
        )
        return ()
    related: list[int | str] = []
    for i, ref in enumerate(value):
        place = f"/related_alerts/{i}"
        if isinstance(ref, int) and not isinstance(ref, bool):
            if not 1 <= ref <= 2**62:
                findings.append(Finding("request.related_alert.id", f"alert id {ref} is out of range", place))
                continue
            related.append(ref)
        elif (
            isinstance(ref, str)
            and 0 < len(ref.strip()) <= MAX_IDENTIFIER
            and _CAP_IDENTIFIER.match(ref.strip())
        ):
            related.append(ref.strip())
        else:
            findings.append(
                Finding(
                    "request.related_alert.invalid",
                    "an alert id (integer) or a CAP identifier (no spaces, commas, < or &; "
                    f"CAP 1.2 §3.2.1), got {ref!r}",
                    place,
                )
            )
    return tuple(dict.fromkeys(related))


def _contact(value: Any, findings: list[Finding]) -> RequesterContact | None:
    if not isinstance(value, dict):
        problem = "is missing" if value is None else "must be an object {name, email?, phone?}"
        findings.append(Finding("request.contact.missing", f"contact {problem}", "/contact"))
        return None
    extra = sorted(set(value) - {"name", "email", "phone"})
    if extra:
        findings.append(Finding("request.contact.unknown-field", f"unknown field(s) {extra}", "/contact"))
    name = read_text(value.get("name"), "/contact/name", "request.contact.name", MAX_NAME, findings)
    email = value.get("email")
    if email is not None:
        if not isinstance(email, str) or len(email) > MAX_EMAIL or not EMAIL.match(email.strip()):
            findings.append(
                Finding("request.contact.email", f"not an e-mail address: {email!r}", "/contact/email")
            )
            email = None
        else:
            email = email.strip()
    phone = value.get("phone")
    if phone is not None:
        digits = sum(c.isdigit() for c in phone) if isinstance(phone, str) else 0
        if (
            not isinstance(phone, str)
            or not PHONE.match(phone.strip())
            or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS
        ):
            findings.append(
                Finding(
                    "request.contact.phone",
                    f"a phone number is digits with optional +, spaces, dashes, dots, brackets, "
                    f"{MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits (ITU-T E.164); got {phone!r}",
                    "/contact/phone",
                )
            )
            phone = None
        else:
            phone = phone.strip()
    if name is None or extra:
        return None
    return RequesterContact(name=name, email=email, phone=phone)


STATUS_TARGETS = (
    RequestState.IN_PROGRESS,
    RequestState.FULFILLED,
    RequestState.CLOSED,
    RequestState.CANCELLED,
)


def body_fields(body: Any, allowed: frozenset[str], findings: list[Finding]) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        findings.append(Finding("request.body.object", "the body must be a JSON object", "/"))
        return {}
    findings += [
        Finding("request.body.unknown-field", f"unknown field {k!r} (one of {sorted(allowed)})", f"/{k}")
        for k in body
        if k not in allowed
    ]
    return body


def _note(value: Any, *, required: bool, findings: list[Finding]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            findings.append(Finding("request.note.missing", "note says why (a few words)", "/note"))
        return None
    return read_text(value, "/note", "request.note", MAX_NOTE, findings)


def parse_ack(body: Any) -> str | None:
    """The note of an acknowledgement body {note?} (None or empty: no note); RequestInvalid."""
    findings: list[Finding] = []
    note = _note(
        body_fields(body, frozenset({"note"}), findings).get("note"), required=False, findings=findings
    )
    if findings:
        raise RequestInvalid(findings)
    return note


def parse_status(body: Any) -> tuple[RequestState, str]:
    """The target state and the note of a status body {state, note}; RequestInvalid."""
    findings: list[Finding] = []
    fields = body_fields(body, frozenset({"state", "note"}), findings)
    note = _note(fields.get("note"), required=True, findings=findings)
    target = fields.get("state")
    allowed = [str(s) for s in STATUS_TARGETS]
    if body is None or (isinstance(body, dict) and target not in allowed):
        findings.append(
            Finding("request.status.state", f"state {target!r}; one of {', '.join(allowed)}", "/state")
        )
    if findings or note is None:
        raise RequestInvalid(findings)
    return RequestState(target), note


# --- routing -------------------------------------------------------------------------------------


def route_request(
    country: str,
    region: str | None,
    urgency: Urgency,
    *,
    registry: Registry,
    deadlines: Mapping[Priority, timedelta] = ACK_DEADLINES,
) -> list[Recipient]:
    """The contact points a request from `country` goes to, nearest first.

    The same recipients and escalation chains as an Actual alert on that country; the
    priority comes from the request's urgency. A national contact is the requester's own side:
    it is told, but no acknowledgement is expected of it, so it has no deadline and never
    escalates.
    """
    priority = PRIORITY_OF_URGENCY[urgency]
    recipients = route_alert(
        [country],
        [region] if region else [],
        "Unknown",
        "Unknown",
        "Actual",
        registry=registry,
        deadlines=deadlines,
    )
    routed: list[Recipient] = []
    for r in recipients:
        informed = r.contact.kind == NATIONAL
        routed.append(
            dataclasses.replace(
                r,
                priority=priority,
                ack_within=None if informed else deadlines[priority],
                escalate_to=() if informed else r.escalate_to,
                reason=r.reason if not informed else f"{r.reason} (informed)",
            )
        )
    return routed


# --- state -------------------------------------------------------------------------------------

REQUESTER = "requester"
RECIPIENT = "recipient"

# Which parties may move a request into a state, and from where. Acknowledging (open ->
# acknowledged) is its own action, taken by each recipient for itself.
MOVES: Mapping[RequestState, tuple[frozenset[RequestState], frozenset[str]]] = {
    RequestState.IN_PROGRESS: (
        frozenset({RequestState.OPEN, RequestState.ACKNOWLEDGED}),
        frozenset({RECIPIENT}),
    ),
    RequestState.FULFILLED: (
        frozenset({RequestState.ACKNOWLEDGED, RequestState.IN_PROGRESS}),
        frozenset({RECIPIENT}),
    ),
    RequestState.CLOSED: (frozenset({RequestState.FULFILLED}), frozenset({REQUESTER, RECIPIENT})),
    RequestState.CANCELLED: (
        frozenset({RequestState.OPEN, RequestState.ACKNOWLEDGED, RequestState.IN_PROGRESS}),
        frozenset({REQUESTER}),
    ),
}


class Refusal(Exception):
    """A move refused: `forbidden` (the party may never make it) or a conflict with the state."""

    def __init__(self, rule: str, message: str, forbidden: bool) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.forbidden = forbidden


def check_transition(current: RequestState, target: RequestState, parties: Collection[str]) -> None:
    """Raise Refusal unless one of `parties` may move a request from `current` to `target`."""
    move = MOVES.get(target)
    if move is None:
        raise Refusal("request.status.invalid", f"{target} is not a state one moves a request to", False)
    sources, allowed = move
    if not allowed & set(parties):
        who = " or ".join(sorted(allowed))
        raise Refusal("request.status.forbidden", f"only the {who} may set a request {target}", True)
    if current not in sources:
        starts = ", ".join(sorted(sources))
        raise Refusal(
            "request.status.conflict", f"a request goes {target} from {starts}; this one is {current}", False
        )


def check_acknowledgeable(state: RequestState) -> None:
    """Raise Refusal (conflict) when the request is finished: nothing left to acknowledge."""
    if state in FINISHED:
        raise Refusal("request.ack.finished", f"the request is {state}; it cannot be acknowledged", False)


def state_after_ack(state: RequestState) -> RequestState:
    """The first acknowledgement moves an open request to acknowledged; later ones keep it."""
    return RequestState.ACKNOWLEDGED if state == RequestState.OPEN else state


# --- escalation ----------------------------------------------------------------------------------

# The clocks and steps are those of alerts (contact_points.escalation); a request adds its states.
RecipientClock = escalation.RecipientClock
Escalation = escalation.Escalation


def next_escalation_at(
    clock: RecipientClock, acknowledged: Collection[str], state: RequestState
) -> datetime | None:
    """When this recipient's next escalation step falls due, None when nothing is left to chase.

    A recipient stops escalating once it, or anyone on its chain, has acknowledged, and every
    recipient stops once the request is in progress or finished: someone has it in hand.
    """
    if state not in AWAITING_ANSWER:
        return None
    return escalation.next_step_at(clock, acknowledged)


def escalations_due(
    clocks: Sequence[RecipientClock],
    acknowledged: Collection[str],
    state: RequestState,
    now: datetime,
) -> list[Escalation]:
    """The escalation steps due at `now`, in the order they fell due.

    A recipient escalates along its chain (`contact_points.escalation.escalation_chain`) one
    step per `ack_within` without an acknowledgement, until `next_escalation_at` says there is
    nothing left to chase. Steps missed while nothing ran all come out at once.
    """
    if state not in AWAITING_ANSWER:
        return []
    return escalation.steps_due(clocks, acknowledged, now)
