"""The registry of ITU contact points: BDT focal point, regional and area offices, national contacts.

Public API (stable):

- `Person`: someone at a contact point (name, role, working languages, IANA time zone, e-mail,
  phone).
- `ContactPoint`: id, kind ("bdt", "regional_office", "area_office", "national"), name, region,
  country (host country of an office, or the country of a national contact), `serves` (ISO3 of
  the Member States it covers), its people with their head and deputies (the escalation chain
  within a contact point), its channels (e-mail addresses, a switchboard phone), and what the
  ITU-R Res. 647 database keeps of a national contact: emergency frequencies and whether the
  country is party to the Tampere Convention (None where not known: never guessed). `source`
  and `verification` say where its facts come from and how far they are checked.
- `Registry(contacts)`, `Registry.load(national=())` (the packaged offices table plus national
  contacts given by configuration), `Registry.from_tsv(text, national=())`; lookups `get(id)`,
  `bdt()`, `regional_office(region)`, `area_offices_for(iso3)`, `national_contacts(iso3)`,
  `offices()` (the registry without national contacts).
- `seed_contacts(reference)`: what a new installation starts with: the offices table, each
  regional office serving its region's Member States and BDT all of them, and one national
  contact per Member State (`national-<iso3>`, details unknown).

Source of `contact_points/data/offices.tsv` (facts, compiled 2026-11): ITU regional presence
pages and ITU News for the regional offices; area-office coverage lists are partial (from host
government statements and ITU area representatives) and marked so in the `coverage` column,
with each row's sources in `source` and how far they are checked in `verification`.
Offices open, close and change coverage: the table is configuration, not code; a running
installation keeps its registry in its store and edits it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from importlib import resources

from geo.reference import ReferenceTables, read_tsv

BDT = "bdt"
REGIONAL_OFFICE = "regional_office"
AREA_OFFICE = "area_office"
NATIONAL = "national"
KINDS = (BDT, REGIONAL_OFFICE, AREA_OFFICE, NATIONAL)
COVERAGES = ("complete", "partial", "unknown")
_TABLE_KINDS = {"bdt": BDT, "regional": REGIONAL_OFFICE, "area": AREA_OFFICE}
# The verification word of a fact checked against an ITU source (the reference tables' column).
VERIFIED = "verified"
NATIONAL_PREFIX = "national-"


@dataclass(slots=True, frozen=True)
class Person:
    """Someone at a contact point: whom to call, in which languages, at what hour."""

    name: str
    role: str | None = None
    # BCP 47 language tags (e.g. "en", "fr", "es-419"): whom to write in what.
    languages: tuple[str, ...] = ()
    # An IANA time zone (e.g. "Asia/Bangkok"): when it is night where they are.
    time_zone: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(slots=True, frozen=True)
class ContactPoint:
    """Someone who receives alerts and requests: an ITU office or a national contact."""

    id: str
    kind: str
    name: str
    region: str | None = None
    country: str | None = None
    serves: frozenset[str] = frozenset()
    coverage: str = "complete"
    city: str | None = None
    people: tuple[Person, ...] = ()
    # Names of people listed in `people`: who is asked when the contact point does not answer.
    head: str | None = None
    deputies: tuple[str, ...] = ()
    # Channels besides the websocket of its principal: functional e-mail addresses, a phone.
    emails: tuple[str, ...] = ()
    phone: str | None = None
    # ITU-R Res. 647 (Rev. WRC-19) database: frequencies for emergency telecommunications the
    # administration has notified (None: not known), and party to the Tampere Convention.
    emergency_frequencies: tuple[str, ...] | None = None
    tampere_convention: bool | None = None
    source: str | None = None
    verification: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"contact_points.kind.unknown: contact {self.id!r} has kind {self.kind!r}; "
                f"expected one of {', '.join(KINDS)}"
            )

    @property
    def countries(self) -> tuple[str, ...]:
        """The Member States it serves, sorted (ISO3)."""
        return tuple(sorted(self.serves))

    @property
    def verified(self) -> bool:
        """Whether its facts (office, city, coverage) are checked against an ITU source."""
        return self.verification == VERIFIED

    def person(self, name: str) -> Person | None:
        """The person of this name, if listed."""
        return next((p for p in self.people if p.name == name), None)


class Registry:
    """All contact points, looked up by id, kind, region and country served."""

    def __init__(self, contacts: Iterable[ContactPoint]) -> None:
        self._by_id: dict[str, ContactPoint] = {}
        for contact in contacts:
            if contact.id in self._by_id:
                raise ValueError(f"contact_points.id.duplicate: {contact.id!r} appears twice")
            self._by_id[contact.id] = contact
        # Looked up for every alert routed: indexed once here rather than scanned each time.
        self._bdt = next((c for c in self._by_id.values() if c.kind == BDT), None)
        self._regional: dict[str, ContactPoint] = {}
        self._area: dict[str, list[ContactPoint]] = {}
        self._national: dict[str, list[ContactPoint]] = {}
        for c in self._by_id.values():
            if c.kind == REGIONAL_OFFICE and c.region:
                self._regional.setdefault(c.region, c)
            elif c.kind == AREA_OFFICE:
                for iso3 in c.serves:
                    self._area.setdefault(iso3, []).append(c)
            elif c.kind == NATIONAL:
                for iso3 in {*c.serves, *([c.country] if c.country else [])}:
                    self._national.setdefault(iso3, []).append(c)

    @classmethod
    def load(cls, national: Iterable[ContactPoint] = ()) -> Registry:
        """The packaged offices table plus the national contacts given by configuration."""
        return cls.from_tsv(offices_table(), national=national)

    @classmethod
    def from_tsv(cls, text: str, national: Iterable[ContactPoint] = ()) -> Registry:
        """Offices from TSV text (columns as in data/offices.tsv) plus national contacts."""
        offices = []
        for line, row in enumerate(read_tsv(text), 1):
            kind = _TABLE_KINDS.get(row["kind"])
            if kind is None:
                raise ValueError(
                    f"contact_points.kind.unknown: office row {line} ({row['office_id']}) has "
                    f"kind {row['kind']!r}; expected bdt, regional or area"
                )
            offices.append(
                ContactPoint(
                    id=row["office_id"],
                    kind=kind,
                    name=row["name"],
                    region=row["region"] or None,
                    country=row["country_iso3"] or None,
                    serves=frozenset(c for c in row["serves"].split(";") if c),
                    coverage=row["coverage"] or "unknown",
                    city=row.get("city") or None,
                    source=row.get("source") or None,
                    verification=row.get("verification") or None,
                )
            )
        return cls([*offices, *national])

    def __iter__(self) -> Iterator[ContactPoint]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, contact_id: str) -> ContactPoint | None:
        """The contact point with this id, or None."""
        return self._by_id.get(contact_id)

    def find(self, contact_id: str) -> ContactPoint | None:
        """The contact point with this id matched as office tokens name it (surrounding blanks
        dropped, case-insensitively), or None; the exact id is looked up first."""
        wanted = contact_id.strip()
        exact = self._by_id.get(wanted)
        if exact is not None:
            return exact
        folded = wanted.casefold()
        return next((c for c in self._by_id.values() if c.id.casefold() == folded), None)

    def bdt(self) -> ContactPoint | None:
        """The BDT focal point."""
        return self._bdt

    def regional_office(self, region: str) -> ContactPoint | None:
        """The regional office of an ITU-D region (Europe: the ITU Office for Europe)."""
        return self._regional.get(region)

    def area_offices_for(self, iso3: str) -> list[ContactPoint]:
        """The area offices known to serve a Member State (coverage lists may be partial)."""
        return list(self._area.get(iso3, ()))

    def national_contacts(self, iso3: str) -> list[ContactPoint]:
        """The national contacts configured for a country."""
        return list(self._national.get(iso3, ()))

    def offices(self) -> Registry:
        """The same registry without national contacts: BDT and the ITU offices."""
        return Registry(c for c in self if c.kind != NATIONAL)


def offices_table() -> str:
    """The packaged offices table (data/offices.tsv) as text."""
    return (resources.files("contact_points") / "data" / "offices.tsv").read_text(encoding="utf-8")


def national_id(iso3: str) -> str:
    """The id a seeded national contact has: `national-` and the country's ISO3, lower case."""
    return f"{NATIONAL_PREFIX}{iso3.lower()}"


def seed_contacts(reference: ReferenceTables) -> list[ContactPoint]:
    """The contact points of a new installation: the packaged offices, each regional office
    serving every Member State of its region (the table leaves the list empty for "all") and BDT
    every Member State, then one national contact per Member State. What the tables do not
    know (people, e-mail, emergency frequencies, the Tampere Convention) is left empty or None
    for the operator to fill in, never guessed."""
    seeded: list[ContactPoint] = []
    everyone = frozenset(reference.member_states)
    for office in Registry.load():
        serves = office.serves
        if office.kind == REGIONAL_OFFICE and not serves and office.region:
            serves = reference.member_states_in(office.region)
        elif office.kind == BDT and not serves:
            serves = everyone
        seeded.append(replace(office, serves=serves))
    for state in sorted(reference.member_states.values(), key=lambda s: s.iso3):
        seeded.append(
            ContactPoint(
                id=national_id(state.iso3),
                kind=NATIONAL,
                name=f"National administration of {state.name}",
                region=state.region,
                country=state.iso3,
                serves=frozenset({state.iso3}),
                coverage="complete",
                source=f"ITU Member States table (geo/data/itu_member_states.tsv): {state.source}",
                verification=state.verification or None,
            )
        )
    return seeded
