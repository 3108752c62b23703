"""Routing rules as data: which contact points an alert goes to, how urgently, and why.

Public API (stable):

- `AlertFacts` (what a rule may look at: CAP fields and the assessed impact) and
  `alert_facts(alert, impact, reference, signature)` that gathers them; `Fact` (one fact used,
  with its source and whether that source is verified).
- `RoutingRules.load(text=None, name=...)` (the packaged table `data/routing_rules.yaml`, or an
  operator's), `RoutingRules.from_data(data, name)`; `RulesInvalid` lists every mistake of a
  table (rule id `routing.rules.*`, JSON pointer path), so a bad table is refused whole.
- `decide(facts, *, rules, registry, deadlines) -> RoutingDecision`: the entries (contact
  point, priority, deadline, escalation chain, the rule that decided, the reasons, the
  provenance of every fact used) and whether the alert is `unrouted`.
- `Reason`: one reason both as English text (`reasons`, what people read in logs and mail) and
  as data (`grounds`: its kind and the facts it used, so a reader in another language sees it
  in their own; `GROUND_KINDS` lists the kinds).

How a table is read: every rule whose conditions all hold contributes its recipients. A
contact point reached by several rules gets the highest of their priorities; its `rule` is the
(first) rule that gave it, `rules` all of them, and the reasons and facts of each are kept. No
rule means no routing: BDT gets an alert only when a rule says so. Two things hold whatever
the table says: CAP 1.2 §3.2.1 status (Actual is real; Exercise and Test reach the same people
marked not real, with no deadline and no escalation; System, Draft and unknown statuses reach
nobody), msgType (a Cancel tells the same people, with nothing to acknowledge by a deadline; Ack
and Error reach nobody) and an alert over no Member State (or none that could be placed) is
`unrouted` and goes to BDT.

Conditions (all optional; all given must hold; a list holds when any of its values does):
`status`, `msg_type`, `severity`, `urgency`, `certainty`, `category` (CAP code values),
`event` (words looked for in <event>, any case), `member_states` (true: the area covers one;
false: it covers none), `countries` (ISO3 of Member States or territories), `regions` (ITU-D),
`groups` (ldc, lldc, sids), `sites_down_share_at_least` (0..1), `sites_down_at_least`,
`population_at_least`, `cable_landings_at_least`, `signature_verified`.
Recipients: `area_offices`, `regional_offices`, `national_contacts`, `bdt` (chosen by the
Member States and regions the alert covers), or a contact point's id.
Priority: `cap` (from severity and urgency, `routing.priority_of`; the default), or `flash`,
`urgent`, `routine`; `priority_at_least` raises a CAP-derived one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

import yaml

from cap.errors import Finding
from cap.model import Alert
from contact_points.escalation import escalation_chain
from contact_points.registry import AREA_OFFICE, BDT, NATIONAL, REGIONAL_OFFICE, ContactPoint, Registry
from contact_points.routing import (
    ACK_DEADLINES,
    SEVERITIES,
    URGENCIES,
    Priority,
    most_severe,
    most_urgent,
    priority_of,
)
from geo.reference import GROUPS, ISO3, REGIONS, ReferenceTables

# CAP 1.2 §3.2.1 <status>, <msgType>; §3.2.2 <certainty> (most certain first; CAP 1.0's "Very
# Likely" reads as Likely) and <category>.
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
_REAL = "Actual"
_NOT_REAL = frozenset({"Exercise", "Test"})
# Ack and Error answer a message; they are recorded against it, not sent to anyone.
_NOT_ROUTED_TYPES = frozenset({"Ack", "Error"})
# A Cancel withdraws what it references (CAP 1.2 §3.2.1): those told of it are told again, but
# no one is chased about a hazard that is over.
_TOLD_ONLY_TYPES = frozenset({"Cancel"})

AREA_OFFICES = "area_offices"
REGIONAL_OFFICES = "regional_offices"
NATIONAL_CONTACTS = "national_contacts"
SELECTORS = (AREA_OFFICES, REGIONAL_OFFICES, NATIONAL_CONTACTS, BDT)
CAP_PRIORITY = "cap"
PRIORITIES = (Priority.FLASH, Priority.URGENT, Priority.ROUTINE)
# The name of the decision the table cannot override: an alert over no Member State to BDT.
UNROUTED_RULE = "unrouted"
# Recipients are listed nearest the event first: national, area, regional, BDT.
_ORDER = (NATIONAL, AREA_OFFICE, REGIONAL_OFFICE, BDT)
_RULE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
MAX_RULES = 500
VERIFIED = "verified"


# The kinds of a routing reason as data (`Reason.kind`), and the facts each carries besides
# `rule` and `kind`. A client shows a kind it does not know by the reason's English text.
GROUND_KINDS: Mapping[str, tuple[str, ...]] = {
    "cap": ("element", "value", "allowed"),
    "category": ("categories",),
    "event": ("event", "words"),
    "member_states": ("countries",),
    "no_member_state": ("mapped",),
    "countries": ("countries",),
    "regions": ("regions",),
    "groups": ("members",),
    "sites_down_share": ("down", "total", "share", "at_least"),
    "sites_down": ("down", "at_least"),
    "population": ("population", "at_least"),
    "cable_landings": ("count", "landing_points"),
    "signature": ("verified",),
    "area_office": ("country", "coverage"),
    "regional_office": ("region",),
    "national_contact": ("country",),
    "bdt": (),
    "named": ("contact_point",),
    "priority_set": ("priority",),
    "priority_cap": ("priority", "severity", "urgency", "raised_from"),
    "escalation": ("from", "due", "to"),
}


@dataclass(slots=True, frozen=True)
class Reason:
    """Why a rule holds or names someone: the English sentence and the same as data."""

    kind: str
    text: str
    facts: Mapping[str, Any] = field(default_factory=dict)

    def ground(self, rule: str) -> dict[str, Any]:
        """`{"rule", "kind", ...facts}`: what `grounds` holds for this reason."""
        return {"rule": rule, "kind": self.kind, **self.facts}


# What a fact of the provenance may be about (`Fact.about`: its `kind` and these members).
FACT_KINDS: Mapping[str, tuple[str, ...]] = {
    "cap": ("element", "value"),
    "member_state": ("country",),
    "group": ("group", "country"),
    "office": ("contact_point",),
    "escalation_chain": ("contact_point",),
    "placement": (),
    "impact": ("layer",),
}


def about(kind: str, **members: str) -> tuple[tuple[str, str], ...]:
    """`Fact.about` of a fact of this kind."""
    return (("kind", kind), *members.items())


# --- facts -----------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Fact:
    """One fact a decision used, where it comes from, and whether that source is verified."""

    fact: str
    source: str
    verified: bool
    verification: str | None = None
    # What the fact is about, as data (`kind` and its members: FACT_KINDS), so that a reader in
    # another language is told which fact is unverified; pairs, so that a Fact stays hashable.
    about: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """`{"fact", "source", "verified", "verification", "about"}`."""
        return {
            "fact": self.fact,
            "source": self.source,
            "verified": self.verified,
            "verification": self.verification,
            "about": dict(self.about) or None,
        }


@dataclass(slots=True, frozen=True)
class AlertFacts:
    """What the rules may look at: the alert's CAP fields (the most pressing of its <info>
    blocks) and its assessed impact, each with where it comes from."""

    identifier: str
    sender: str
    status: str
    msg_type: str
    severity: str = "Unknown"
    urgency: str = "Unknown"
    certainty: str = "Unknown"
    categories: frozenset[str] = frozenset()
    events: tuple[str, ...] = ()
    signature_verified: bool = False
    # Every country or territory the area covers (ISO3 or Natural Earth ADM0_A3), and the
    # ITU Member States that are or administer them.
    codes: tuple[str, ...] = ()
    member_states: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sites_total: int = 0
    sites_down: int = 0
    population: float | None = None
    landing_points: tuple[str, ...] = ()
    # Whether any area of the alert could be placed on the map.
    mapped: bool = True
    # Facts about the Member States (region, sources) and groups, for provenance.
    state_facts: Mapping[str, Fact] = field(default_factory=dict)
    group_facts: Mapping[tuple[str, str], Fact] = field(default_factory=dict)

    @property
    def share_down(self) -> float | None:
        """Sites down / sites in the area; None when the area has no known site."""
        return self.sites_down / self.sites_total if self.sites_total else None

    def cap_fact(self, element: str, value: str) -> Fact:
        """A fact read from the CAP message: as trustworthy as its signature."""
        return Fact(
            f"{element} {value}",
            f"CAP message {self.identifier} from {self.sender} (<{element}>)",
            self.signature_verified,
            VERIFIED if self.signature_verified else "not signed with a verified signature",
            about("cap", element=element, value=value),
        )


def _most_certain(values: Iterable[str]) -> str:
    known = [("Likely" if v == "Very Likely" else v) for v in values]
    known = [v for v in known if v in CERTAINTIES]
    return min(known, key=CERTAINTIES.index) if known else "Unknown"


def alert_facts(
    alert: Alert,
    impact: Mapping[str, Any],
    reference: ReferenceTables,
    *,
    signature: str,
    mapped: bool = True,
) -> AlertFacts:
    """Gather the facts of an alert and of its impact (`geo.impact.Impact.as_dict()`);
    `signature` is the verdict of its XML signature, `mapped` whether any area had a place."""
    codes = tuple(sorted({c.strip().upper() for c in impact.get("countries", []) if c}))
    states = sorted({s for s in (reference.member_state_of(c) for c in codes) if s})
    regions = {reference.region_of(s) for s in states} | set(impact.get("regions", []))
    state_facts = {}
    for iso3 in states:
        row = reference.member_states[iso3]
        state_facts[iso3] = Fact(
            f"the area covers {iso3} ({row.name}), an ITU Member State of the {row.region} region",
            f"ITU Member States table, row {iso3}: {row.source or 'no source recorded'}",
            row.verification == VERIFIED,
            row.verification or None,
            about("member_state", country=iso3),
        )
    groups: dict[str, tuple[str, ...]] = {}
    group_facts: dict[tuple[str, str], Fact] = {}
    for group in GROUPS:
        members = tuple(c for c in codes if group in reference.groups_of(c))
        groups[group] = members
        for code in members:
            source = reference.group_source(group, code)
            group_facts[(group, code)] = Fact(
                f"{code} ({reference.name_of(code) or code}) is on the UN {group.upper()} list",
                source.source if source else "UN country groups table (geo/data/country_groups.tsv)",
                source is not None and source.verification == VERIFIED,
                source.verification if source else None,
                about("group", group=group, country=code),
            )
    sites = impact.get("sites") or {}
    population = impact.get("population")
    return AlertFacts(
        identifier=alert.identifier,
        sender=alert.sender,
        status=alert.status.strip().capitalize(),
        msg_type=alert.msg_type,
        severity=most_severe(i.severity for i in alert.infos),
        urgency=most_urgent(i.urgency for i in alert.infos),
        certainty=_most_certain(i.certainty for i in alert.infos),
        categories=frozenset(c for i in alert.infos for c in i.categories),
        events=tuple(i.event for i in alert.infos if i.event),
        signature_verified=signature == VERIFIED,
        codes=codes,
        member_states=tuple(states),
        regions=tuple(sorted(r for r in regions if r)),
        groups=groups,
        sites_total=int(sites.get("total") or 0),
        sites_down=int(sites.get("down") or 0),
        population=None if population is None else float(population),
        landing_points=tuple(str(p.get("name") or p.get("id")) for p in impact.get("landing_points", [])),
        mapped=mapped,
        state_facts=state_facts,
        group_facts=group_facts,
    )


# --- the table -------------------------------------------------------------------------------------


class RulesInvalid(ValueError):
    """A routing table that breaks rules; `findings` names each mistake and where."""

    def __init__(self, findings: Sequence[Finding], name: str = "routing rules") -> None:
        self.findings = tuple(findings)
        self.name = name
        super().__init__(f"{name}: " + "; ".join(f"{f.rule} at {f.path}: {f.message}" for f in self.findings))


@dataclass(slots=True, frozen=True)
class Conditions:
    """The conditions of one rule, as read (None: not asked)."""

    status: frozenset[str] | None = None
    msg_type: frozenset[str] | None = None
    severity: frozenset[str] | None = None
    urgency: frozenset[str] | None = None
    certainty: frozenset[str] | None = None
    category: frozenset[str] | None = None
    event: tuple[str, ...] | None = None
    member_states: bool | None = None
    countries: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    groups: frozenset[str] | None = None
    sites_down_share_at_least: float | None = None
    sites_down_at_least: int | None = None
    population_at_least: float | None = None
    cable_landings_at_least: int | None = None
    signature_verified: bool | None = None


@dataclass(slots=True, frozen=True)
class Rule:
    """A row of the table: when it applies, whom it names, how urgently."""

    id: str
    when: Conditions
    recipients: tuple[str, ...]
    priority: str = CAP_PRIORITY
    priority_at_least: Priority | None = None
    description: str | None = None


@dataclass(slots=True, frozen=True)
class RoutingRules:
    """A routing table: its rules in order, and where it was read from."""

    rules: tuple[Rule, ...]
    name: str = "contact_points/data/routing_rules.yaml"

    @classmethod
    def load(cls, text: str | None = None, *, name: str | None = None) -> RoutingRules:
        """The packaged table, or the YAML `text` of an operator's (`RulesInvalid` if bad)."""
        if text is None:
            text = (resources.files("contact_points") / "data" / "routing_rules.yaml").read_text("utf-8")
            name = name or "contact_points/data/routing_rules.yaml"
        name = name or "routing rules"
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesInvalid([Finding("routing.rules.yaml", f"not YAML: {exc}", "/")], name) from None
        return cls.from_data(data, name=name)

    @classmethod
    def from_data(cls, data: Any, *, name: str = "routing rules") -> RoutingRules:
        """A table from parsed YAML or JSON: `{"rules": [...]}`."""
        findings: list[Finding] = []
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise RulesInvalid([Finding("routing.rules.shape", "a table is {rules: [rule, ...]}", "/")], name)
        extra = sorted(set(data) - {"rules", "version", "description"})
        findings += [Finding("routing.rules.unknown-field", f"unknown field {k!r}", f"/{k}") for k in extra]
        if len(data["rules"]) > MAX_RULES:
            findings.append(Finding("routing.rules.too-many", f"at most {MAX_RULES} rules", "/rules"))
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, raw in enumerate(data["rules"][:MAX_RULES]):
            rule = _rule(raw, f"/rules/{i}", findings)
            if rule is None:
                continue
            if rule.id in seen:
                findings.append(
                    Finding("routing.rule.id.duplicate", f"rule {rule.id!r} twice", f"/rules/{i}/id")
                )
            seen.add(rule.id)
            rules.append(rule)
        if findings:
            raise RulesInvalid(findings, name)
        return cls(tuple(rules), name)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id."""
        return next((r for r in self.rules if r.id == rule_id), None)


_RULE_FIELDS = frozenset({"id", "description", "when", "recipients", "priority", "priority_at_least"})
_LIST_CONDITIONS: Mapping[str, tuple[str, ...]] = {
    "status": STATUSES,
    "msg_type": MSG_TYPES,
    "severity": SEVERITIES,
    "urgency": URGENCIES,
    "certainty": CERTAINTIES,
    "category": CATEGORIES,
    "regions": REGIONS,
    "groups": GROUPS,
}
_NUMBER_CONDITIONS = {
    "sites_down_share_at_least": (0.0, 1.0),
    "sites_down_at_least": (0, None),
    "population_at_least": (0, None),
    "cable_landings_at_least": (0, None),
}
_BOOL_CONDITIONS = ("member_states", "signature_verified")
_CONDITIONS = frozenset({*_LIST_CONDITIONS, *_NUMBER_CONDITIONS, *_BOOL_CONDITIONS, "countries", "event"})


def _rule(raw: Any, place: str, findings: list[Finding]) -> Rule | None:
    if not isinstance(raw, dict):
        findings.append(Finding("routing.rule.shape", "a rule is {id, when, recipients, priority}", place))
        return None
    findings += [
        Finding(
            "routing.rule.unknown-field",
            f"unknown field {k!r} (one of {sorted(_RULE_FIELDS)})",
            f"{place}/{k}",
        )
        for k in raw
        if k not in _RULE_FIELDS
    ]
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id or set(rule_id) - _RULE_ID_CHARS or len(rule_id) > 64:
        findings.append(Finding("routing.rule.id", "id is 1 to 64 of a-z, 0-9, '-', '_', '.'", f"{place}/id"))
        rule_id = None
    recipients = raw.get("recipients")
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(r, str) and r.strip() for r in recipients)
    ):
        findings.append(
            Finding(
                "routing.rule.recipients",
                f"recipients is a list of {', '.join(SELECTORS)} or contact point ids",
                f"{place}/recipients",
            )
        )
        recipients = []
    priority = raw.get("priority", CAP_PRIORITY)
    allowed = [CAP_PRIORITY, *(str(p) for p in PRIORITIES)]
    if priority not in allowed:
        findings.append(
            Finding(
                "routing.rule.priority",
                f"priority {priority!r}; one of {', '.join(allowed)}",
                f"{place}/priority",
            )
        )
    at_least = raw.get("priority_at_least")
    if at_least is not None and at_least not in [str(p) for p in PRIORITIES]:
        findings.append(
            Finding(
                "routing.rule.priority_at_least",
                f"priority_at_least {at_least!r}; one of {', '.join(str(p) for p in PRIORITIES)}",
                f"{place}/priority_at_least",
            )
        )
        at_least = None
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        findings.append(Finding("routing.rule.description", "description is text", f"{place}/description"))
        description = None
    when = _conditions(raw.get("when") or {}, f"{place}/when", findings)
    if rule_id is None or when is None:
        return None
    return Rule(
        id=rule_id,
        when=when,
        recipients=tuple(r.strip() for r in recipients),
        priority=priority if priority in allowed else CAP_PRIORITY,
        priority_at_least=Priority(at_least) if at_least else None,
        description=description,
    )


def _conditions(raw: Any, place: str, findings: list[Finding]) -> Conditions | None:
    if not isinstance(raw, dict):
        findings.append(Finding("routing.rule.when", "when is a mapping of conditions", place))
        return None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{place}/{key}"
        if key not in _CONDITIONS:
            findings.append(
                Finding(
                    "routing.rule.condition.unknown",
                    f"unknown condition {key!r} (one of {sorted(_CONDITIONS)})",
                    where,
                )
            )
        elif key in _LIST_CONDITIONS:
            values[key] = _choices(value, _LIST_CONDITIONS[key], where, findings)
        elif key == "countries":
            items = value if isinstance(value, list) else [value]
            codes = [c.strip().upper() for c in items if isinstance(c, str)]
            if len(codes) != len(items) or not all(ISO3.match(c) for c in codes):
                findings.append(
                    Finding("routing.rule.condition.countries", "countries are ISO3 codes", where)
                )
            values[key] = frozenset(codes)
        elif key == "event":
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(w, str) and w.strip() for w in items):
                findings.append(Finding("routing.rule.condition.event", "event is a list of words", where))
            values[key] = tuple(str(w).strip().casefold() for w in items)
        elif key in _BOOL_CONDITIONS:
            if not isinstance(value, bool):
                findings.append(Finding(f"routing.rule.condition.{key}", f"{key} is true or false", where))
            values[key] = bool(value)
        else:
            low, high = _NUMBER_CONDITIONS[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < low
                or (high is not None and value > high)
            ):
                bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
                findings.append(
                    Finding(f"routing.rule.condition.{key}", f"{key} is a number {bounds}", where)
                )
                continue
            values[key] = value
    return Conditions(**values)


def _choices(value: Any, allowed: Sequence[str], where: str, findings: list[Finding]) -> frozenset[str]:
    items = value if isinstance(value, list) else [value]
    wrong = [v for v in items if v not in allowed]
    if wrong or not items:
        findings.append(
            Finding(
                "routing.rule.condition.value",
                f"{where.rsplit('/', 1)[-1]}: {wrong or 'empty'} not among {', '.join(allowed)}",
                where,
            )
        )
    return frozenset(v for v in items if v in allowed)


# --- deciding --------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RoutingEntry:
    """One contact point an alert goes to: priority, deadline, escalation chain and why."""

    contact: ContactPoint
    priority: Priority
    real: bool
    ack_within: timedelta | None
    escalate_to: tuple[str, ...]
    rule: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    provenance: tuple[Fact, ...]
    # The reasons as data, one per reason and in the same order (`Reason.ground`).
    grounds: tuple[Mapping[str, Any], ...] = ()


@dataclass(slots=True, frozen=True)
class RoutingDecision:
    """Who an alert goes to; `unrouted` when it covers no Member State; `notes` say what the
    table asked that could not be done (a recipient id the registry does not hold)."""

    entries: tuple[RoutingEntry, ...]
    unrouted: bool
    notes: tuple[Finding, ...] = ()


@dataclass(slots=True)
class _Draft:
    contact: ContactPoint
    priority: Priority
    rule: str
    rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    grounds: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Fact] = field(default_factory=dict)

    def add(self, rule: str, priority: Priority, reasons: Iterable[Reason], facts: Iterable[Fact]) -> None:
        if PRIORITIES.index(priority) < PRIORITIES.index(self.priority):
            self.priority, self.rule = priority, rule
        if rule not in self.rules:
            self.rules.append(rule)
        for reason in reasons:
            text = f"{rule}: {reason.text}"
            if text not in self.reasons:
                self.reasons.append(text)
                self.grounds.append(reason.ground(rule))
        for fact in facts:
            self.provenance.setdefault(fact.fact, fact)


def decide(
    facts: AlertFacts,
    *,
    rules: RoutingRules,
    registry: Registry,
    deadlines: Mapping[Priority, timedelta] = ACK_DEADLINES,
) -> RoutingDecision:
    """Apply the table to an alert: the contact points it goes to, nearest first."""
    status = facts.status
    if facts.msg_type in _NOT_ROUTED_TYPES or (status != _REAL and status not in _NOT_REAL):
        return RoutingDecision((), unrouted=False)
    real = status == _REAL
    chased = real and facts.msg_type not in _TOLD_ONLY_TYPES
    unrouted = not facts.member_states
    drafts: dict[str, _Draft] = {}
    notes: list[Finding] = []
    for rule in rules.rules:
        matched = _matches(rule.when, facts)
        if matched is None:
            continue
        reasons, used = matched
        priority, why, priority_facts = _priority(rule, facts)
        for selector in rule.recipients:
            for contact, reason, contact_facts in _select(selector, facts, registry):
                draft = drafts.setdefault(contact.id, _Draft(contact, priority, rule.id))
                draft.add(
                    rule.id, priority, [*reasons, reason, why], [*used, *priority_facts, *contact_facts]
                )
            if selector not in SELECTORS and registry.get(selector) is None:
                notes.append(
                    Finding(
                        "routing.recipient.unknown",
                        f"rule {rule.id} names {selector!r}, which the contact-point registry does not hold",
                        "/routing",
                    )
                )
    bdt = registry.bdt()
    if unrouted and bdt is not None and bdt.id not in drafts:
        # Whatever the table says: someone must look at an alert no office serves.
        priority, why, priority_facts = _priority(Rule(UNROUTED_RULE, Conditions(), (BDT,)), facts)
        draft = drafts.setdefault(bdt.id, _Draft(bdt, priority, UNROUTED_RULE))
        reasons, used = _unrouted_reason(facts)
        draft.add(UNROUTED_RULE, priority, [*reasons, why], used)
    ordered = sorted(drafts.values(), key=lambda d: (_ORDER.index(d.contact.kind), d.contact.id))
    entries = tuple(
        RoutingEntry(
            contact=d.contact,
            priority=d.priority,
            real=real,
            ack_within=deadlines[d.priority] if chased else None,
            escalate_to=escalation_chain(d.contact, registry) if chased else (),
            rule=d.rule,
            rules=tuple(d.rules),
            reasons=tuple(d.reasons),
            provenance=tuple(d.provenance.values()),
            grounds=tuple(d.grounds),
        )
        for d in ordered
    )
    return RoutingDecision(entries, unrouted=unrouted, notes=tuple(notes))


def _unrouted_reason(facts: AlertFacts) -> tuple[list[Reason], list[Fact]]:
    if not facts.mapped:
        text = "no area of the alert could be placed on the map, so no Member State is known"
        source = "the alert's <area> elements (see its warnings)"
    else:
        text = "the alert's area covers no ITU Member State (open sea, or no Member State's territory)"
        source = "Natural Earth admin-0 countries joined to ITU Member States (geo/data/admin0_itu.tsv)"
    reason = Reason("no_member_state", f"{text}: BDT receives it", {"mapped": facts.mapped})
    return [reason], [Fact(text, source, False, None, about("placement"))]


def _priority(rule: Rule, facts: AlertFacts) -> tuple[Priority, Reason, list[Fact]]:
    if rule.priority != CAP_PRIORITY:
        why = f"priority {rule.priority}, as the rule sets it"
        return Priority(rule.priority), Reason("priority_set", why, {"priority": rule.priority}), []
    priority = priority_of(facts.severity, facts.urgency)
    derived = priority
    why = (
        f"priority {priority} from severity {facts.severity} and urgency {facts.urgency} "
        "(flash: Extreme or Immediate; urgent: Severe; else routine)"
    )
    used = [facts.cap_fact("severity", facts.severity), facts.cap_fact("urgency", facts.urgency)]
    at_least = rule.priority_at_least
    if at_least is not None and PRIORITIES.index(at_least) < PRIORITIES.index(priority):
        priority = at_least
        why += f", raised to {at_least} by the rule"
    grounds = {
        "priority": str(priority),
        "severity": facts.severity,
        "urgency": facts.urgency,
        "raised_from": None if derived == priority else str(derived),
    }
    return priority, Reason("priority_cap", why, grounds), used


def _any(asked: Collection[str], have: Iterable[str]) -> list[str]:
    return [v for v in have if v in asked]


def _matches(when: Conditions, facts: AlertFacts) -> tuple[list[Reason], list[Fact]] | None:
    """The reasons and facts a rule's conditions hold by, or None when one does not hold."""
    reasons: list[Reason] = []
    used: list[Fact] = []
    for name, value, element in (
        ("status", facts.status, "status"),
        ("msg_type", facts.msg_type, "msgType"),
        ("severity", facts.severity, "severity"),
        ("urgency", facts.urgency, "urgency"),
        ("certainty", facts.certainty, "certainty"),
    ):
        asked = getattr(when, name)
        if asked is None:
            continue
        if value not in asked:
            return None
        allowed = sorted(asked)
        text = f"{element} {value} is one of {', '.join(allowed)}"
        reasons.append(Reason("cap", text, {"element": element, "value": value, "allowed": allowed}))
        used.append(facts.cap_fact(element, value))
    if when.category is not None:
        hits = sorted(when.category & facts.categories)
        if not hits:
            return None
        reasons.append(Reason("category", f"category {', '.join(hits)}", {"categories": hits}))
        used += [facts.cap_fact("category", c) for c in hits]
    if when.event is not None:
        events = [e for e in facts.events if any(w in e.casefold() for w in when.event)]
        if not events:
            return None
        words = [w for w in when.event if w in events[0].casefold()]
        text = f"event {events[0]!r} names {', '.join(words)}"
        reasons.append(Reason("event", text, {"event": events[0], "words": words}))
        used.append(facts.cap_fact("event", events[0]))
    if when.member_states is not None:
        if bool(facts.member_states) != when.member_states:
            return None
        if facts.member_states:
            text = f"the area covers the Member State(s) {', '.join(facts.member_states)}"
            reasons.append(Reason("member_states", text, {"countries": list(facts.member_states)}))
            used += [facts.state_facts[s] for s in facts.member_states if s in facts.state_facts]
        else:
            texts, none = _unrouted_reason(facts)
            reasons += texts
            used += none
    if when.countries is not None:
        hits = sorted(when.countries & {*facts.codes, *facts.member_states})
        if not hits:
            return None
        text = f"the area covers {', '.join(hits)}, named by the rule"
        reasons.append(Reason("countries", text, {"countries": hits}))
        used += [facts.state_facts[s] for s in hits if s in facts.state_facts]
    if when.regions is not None:
        hits = sorted(when.regions & set(facts.regions))
        if not hits:
            return None
        text = f"the area lies in the ITU-D region(s) {', '.join(hits)}"
        reasons.append(Reason("regions", text, {"regions": hits}))
        used += [f for s, f in facts.state_facts.items() if s in facts.member_states]
    if when.groups is not None:
        hits = [(g, c) for g in sorted(when.groups) for c in facts.groups.get(g, ())]
        if not hits:
            return None
        text = "the area covers " + ", ".join(f"{c} ({g.upper()})" for g, c in hits)
        members = [{"country": c, "group": g} for g, c in hits]
        reasons.append(Reason("groups", text, {"members": members}))
        used += [facts.group_facts[h] for h in hits if h in facts.group_facts]
    impact_source = "the alert's impact: the connectivity layer as imported and the network status reports"
    share = facts.share_down
    if when.sites_down_share_at_least is not None:
        if share is None or share < when.sites_down_share_at_least:
            return None
        text = f"{facts.sites_down} of {facts.sites_total} cell sites in the area down ({share:.0%})"
        grounds = {
            "down": facts.sites_down,
            "total": facts.sites_total,
            "share": share,
            "at_least": when.sites_down_share_at_least,
        }
        reasons.append(
            Reason("sites_down_share", f"{text}, at least {when.sites_down_share_at_least:.0%}", grounds)
        )
        used.append(Fact(text, impact_source, False, None, about("impact", layer="sites")))
    if when.sites_down_at_least is not None:
        if facts.sites_down < when.sites_down_at_least:
            return None
        text = f"{facts.sites_down} cell sites in the area down"
        grounds = {"down": facts.sites_down, "at_least": when.sites_down_at_least}
        reasons.append(Reason("sites_down", f"{text}, at least {when.sites_down_at_least}", grounds))
        used.append(Fact(text, impact_source, False, None, about("impact", layer="sites")))
    if when.population_at_least is not None:
        if facts.population is None or facts.population < when.population_at_least:
            return None
        text = f"about {facts.population:,.0f} people in the area"
        grounds = {"population": facts.population, "at_least": when.population_at_least}
        reasons.append(Reason("population", f"{text}, at least {when.population_at_least:,.0f}", grounds))
        source = "the alert's impact: the population layer as imported"
        used.append(Fact(text, source, False, None, about("impact", layer="population")))
    if when.cable_landings_at_least is not None:
        if len(facts.landing_points) < when.cable_landings_at_least:
            return None
        text = f"{len(facts.landing_points)} submarine cable landing point(s) in the area"
        if facts.landing_points:
            text += f": {', '.join(facts.landing_points[:5])}"
        grounds = {"count": len(facts.landing_points), "landing_points": list(facts.landing_points[:5])}
        reasons.append(Reason("cable_landings", text, grounds))
        source = "the alert's impact: the cable landing points as imported"
        used.append(Fact(text, source, False, None, about("impact", layer="landings")))
    if when.signature_verified is not None:
        if facts.signature_verified != when.signature_verified:
            return None
        text = "the signature is verified" if facts.signature_verified else "the signature is not verified"
        reasons.append(Reason("signature", text, {"verified": facts.signature_verified}))
    return reasons, used


def _office_fact(contact: ContactPoint, what: str) -> Fact:
    return Fact(
        f"{contact.id} ({contact.name}) {what}",
        f"contact-point registry, {contact.id}: {contact.source or 'no source recorded'}",
        contact.verified,
        contact.verification,
        about("office", contact_point=contact.id),
    )


def _select(
    selector: str, facts: AlertFacts, registry: Registry
) -> list[tuple[ContactPoint, Reason, list[Fact]]]:
    """The contact points a recipient selector names for this alert, each with why."""
    chosen: list[tuple[ContactPoint, Reason, list[Fact]]] = []
    if selector == AREA_OFFICES:
        for iso3 in facts.member_states:
            for office in registry.area_offices_for(iso3):
                coverage = "" if office.coverage == "complete" else f" (coverage list {office.coverage})"
                chosen.append(
                    (
                        office,
                        Reason(
                            "area_office",
                            f"area office serving {iso3}{coverage}",
                            {"country": iso3, "coverage": office.coverage},
                        ),
                        [_office_fact(office, f"serves {iso3}{coverage}")],
                    )
                )
    elif selector == REGIONAL_OFFICES:
        for region in facts.regions:
            office = registry.regional_office(region)
            if office is not None:
                chosen.append(
                    (
                        office,
                        Reason("regional_office", f"regional office for {region}", {"region": region}),
                        [_office_fact(office, f"is the ITU regional office for {region}")],
                    )
                )
    elif selector == NATIONAL_CONTACTS:
        for iso3 in facts.member_states:
            for contact in registry.national_contacts(iso3):
                chosen.append(
                    (
                        contact,
                        Reason("national_contact", f"national contact for {iso3}", {"country": iso3}),
                        [_office_fact(contact, f"is a national contact of {iso3}")],
                    )
                )
    elif selector == BDT:
        bdt = registry.bdt()
        if bdt is not None:
            reason = Reason("bdt", "BDT focal point")
            chosen.append((bdt, reason, [_office_fact(bdt, "is the BDT focal point")]))
    else:
        contact = registry.get(selector)
        if contact is not None:
            chosen.append(
                (
                    contact,
                    Reason("named", f"named by the rule ({contact.id})", {"contact_point": contact.id}),
                    [_office_fact(contact, "is named by the rule")],
                )
            )
    return chosen
