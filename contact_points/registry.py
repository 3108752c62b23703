"""The registry of ITU contact points: BDT focal point, regional and area offices, national contacts.

Public API (stable):

- `ContactPoint`: id, kind ("bdt", "regional_office", "area_office", "national"), name, region,
  country (host country of an office, or the country of a national contact), `serves` (ISO3 of
  the Member States an area office or national contact covers), contact details and emergency
  frequencies (ITU-R Res. 647 spectrum for emergency telecommunications).
- `Registry(contacts)`, `Registry.load(national=())` (the packaged offices table plus national
  contacts given by configuration), `Registry.from_tsv(text, national=())`; lookups `get(id)`,
  `bdt()`, `regional_office(region)`, `area_offices_for(iso3)`, `national_contacts(iso3)`.

Source of `contact_points/data/offices.tsv` (facts, compiled 2026-11): ITU regional presence
pages and ITU News for the regional offices; area-office coverage lists are partial (from host
government statements and ITU area representatives) and marked so in the `coverage` column.
Offices open, close and change coverage: the table is configuration, not code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources

from geo.reference import read_tsv

BDT = "bdt"
REGIONAL_OFFICE = "regional_office"
AREA_OFFICE = "area_office"
NATIONAL = "national"
KINDS = (BDT, REGIONAL_OFFICE, AREA_OFFICE, NATIONAL)
_TABLE_KINDS = {"bdt": BDT, "regional": REGIONAL_OFFICE, "area": AREA_OFFICE}


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
    email: str | None = None
    phone: str | None = None
    emergency_frequencies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"contact_points.kind.unknown: contact {self.id!r} has kind {self.kind!r}; "
                f"expected one of {', '.join(KINDS)}"
            )


class Registry:
    """All contact points, looked up by id, kind, region and country served."""

    def __init__(self, contacts: Iterable[ContactPoint]) -> None:
        self._by_id: dict[str, ContactPoint] = {}
        for contact in contacts:
            if contact.id in self._by_id:
                raise ValueError(f"contact_points.id.duplicate: {contact.id!r} appears twice")
            self._by_id[contact.id] = contact

    @classmethod
    def load(cls, national: Iterable[ContactPoint] = ()) -> Registry:
        """The packaged offices table plus the national contacts given by configuration."""
        table = resources.files("contact_points") / "data" / "offices.tsv"
        return cls.from_tsv(table.read_text(encoding="utf-8"), national=national)

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

    def bdt(self) -> ContactPoint | None:
        """The BDT focal point."""
        return next((c for c in self if c.kind == BDT), None)

    def regional_office(self, region: str) -> ContactPoint | None:
        """The regional office of an ITU-D region (Europe: the ITU Office for Europe)."""
        return next((c for c in self if c.kind == REGIONAL_OFFICE and c.region == region), None)

    def area_offices_for(self, iso3: str) -> list[ContactPoint]:
        """The area offices known to serve a Member State (coverage lists may be partial)."""
        return [c for c in self if c.kind == AREA_OFFICE and iso3 in c.serves]

    def national_contacts(self, iso3: str) -> list[ContactPoint]:
        """The national contacts configured for a country."""
        return [c for c in self if c.kind == NATIONAL and (c.country == iso3 or iso3 in c.serves)]
