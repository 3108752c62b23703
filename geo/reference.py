"""Reference tables: ITU Member States by ITU-D region, territories, UN LDC/LLDC/SIDS groups.

Public API (stable):

- `ReferenceTables.load(region_overrides=None)` reads the project's own tables in `geo/data/`;
  `ReferenceTables.from_tsv(member_states=..., country_groups=..., admin0=...)` parses given text.
- `region_of(code)`: the ITU-D region of an ISO3 code or Natural Earth ADM0_A3. A territory
  belongs to the Member State that administers it (Guam -> USA -> Americas) unless
  `region_overrides` says otherwise (e.g. {"GUM": "Asia and the Pacific"}).
- `member_state_of(code)`: the ISO3 of the Member State that is or administers it, or None.
- `groups_of(code)`: a subset of {"ldc", "lldc", "sids"} for the country or territory itself.
- `name_of(code)`, `member_states_in(region)`, `REGIONS`.
- Where each fact comes from: `MemberState.source` and `.verification` (the row's region and
  area-office assignment), `group_source(group, code)` (the UN list a group membership is from).

Sources (facts, compiled 2026-11; the long verification notes live with the research data):
`itu_member_states.tsv` from ITU's regional classification (193 = UN 193 - Palau + Holy See);
`country_groups.tsv` from the UN LDC list (Dec 2024) and the UN-OHRLLS LLDC and SIDS lists;
`country_group_sources.tsv` names the list behind each group and how far it is checked;
`admin0_itu.tsv` joins each Natural Earth 1:10m admin-0 feature to its administering Member
State (Palestine: ITU observer, PP Res. 99, no Member State, Arab States region).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources

REGIONS = ("Africa", "Americas", "Arab States", "Asia and the Pacific", "CIS", "Europe")
GROUPS = ("ldc", "lldc", "sids")
# An ISO 3166-1 alpha-3 code as the tables write it: three Latin capitals. Whoever accepts
# lower case upper-cases first.
ISO3 = re.compile(r"^[A-Z]{3}$")


@dataclass(slots=True, frozen=True)
class MemberState:
    """An ITU Member State and its ITU-D region."""

    iso3: str
    name: str
    region: str
    # How the row was checked (verified: an ITU source; corroborated: a complete third-party copy
    # of ITU's list, or a UN page) and where its facts come from: carried to routing decisions,
    # so that whoever acts on one sees what it rests on.
    verification: str = ""
    source: str = ""


@dataclass(slots=True, frozen=True)
class GroupSource:
    """The list a UN country group comes from, and how far it is checked."""

    group: str
    members: str
    verification: str
    source: str


@dataclass(slots=True, frozen=True)
class Admin0:
    """A Natural Earth admin-0 feature and the Member State that administers it."""

    adm0_a3: str
    iso3: str | None
    iso2: str | None
    name: str
    member_state: str | None
    region: str | None


@dataclass(slots=True, frozen=True)
class ReferenceTables:
    """Lookups over the Member State, country group and admin-0 tables."""

    member_states: Mapping[str, MemberState]
    groups: Mapping[str, frozenset[str]]
    admin0: Mapping[str, Admin0]
    region_overrides: Mapping[str, str] = field(default_factory=dict)
    # (group, "un" | "non-un" | "all") -> its source; the UN Member States among the codes.
    group_sources: Mapping[tuple[str, str], GroupSource] = field(default_factory=dict)
    un_members: frozenset[str] = frozenset()
    _admin0_by_iso3: dict[str, Admin0] = field(default_factory=dict, repr=False)
    _names: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for code, region in self.region_overrides.items():
            if region not in REGIONS:
                raise ValueError(
                    f"reference.region.unknown: override {code}={region!r} is not an ITU-D "
                    f"region (one of {', '.join(REGIONS)})"
                )
        # Several features share an ISO3 (AUS: Australia, Coral Sea Is., ...): the feature
        # whose ADM0_A3 is that ISO3 speaks for it.
        for row in self.admin0.values():
            if row.iso3 and (row.iso3 not in self._admin0_by_iso3 or row.adm0_a3 == row.iso3):
                self._admin0_by_iso3[row.iso3] = row
            self._names.setdefault(row.adm0_a3, row.name)
        for state in self.member_states.values():
            self._names[state.iso3] = state.name

    @classmethod
    def load(cls, region_overrides: Mapping[str, str] | None = None) -> ReferenceTables:
        """The project's own tables (geo/data/*.tsv), with optional region overrides."""
        data = resources.files("geo") / "data"
        return cls.from_tsv(
            member_states=(data / "itu_member_states.tsv").read_text(encoding="utf-8"),
            country_groups=(data / "country_groups.tsv").read_text(encoding="utf-8"),
            admin0=(data / "admin0_itu.tsv").read_text(encoding="utf-8"),
            group_sources=(data / "country_group_sources.tsv").read_text(encoding="utf-8"),
            region_overrides=region_overrides,
        )

    @classmethod
    def from_tsv(
        cls,
        *,
        member_states: str,
        country_groups: str,
        admin0: str,
        group_sources: str | None = None,
        region_overrides: Mapping[str, str] | None = None,
    ) -> ReferenceTables:
        """Parse the tables from TSV text ('#' lines are comments)."""
        states = {
            row["iso3"]: MemberState(
                iso3=row["iso3"],
                name=row["name"],
                region=row["itu_region"],
                verification=row.get("verification", ""),
                source=row.get("source", ""),
            )
            for row in read_tsv(member_states)
        }
        group_rows = list(read_tsv(country_groups))
        groups = {row["iso3"]: frozenset(g for g in GROUPS if row[g] == "1") for row in group_rows}
        un_members = frozenset(row["iso3"] for row in group_rows if row.get("un_member") == "1")
        sources = {
            (row["group"], row["members"]): GroupSource(
                row["group"], row["members"], row["verification"], row["source"]
            )
            for row in read_tsv(group_sources or "")
        }
        features = {
            row["adm0_a3"]: Admin0(
                adm0_a3=row["adm0_a3"],
                iso3=row["iso3"] or None,
                iso2=row["iso2"] or None,
                name=row["name"],
                member_state=row["itu_member_iso3"] or None,
                region=row["itu_region"] or None,
            )
            for row in read_tsv(admin0)
        }
        overrides = {k.strip().upper(): v for k, v in (region_overrides or {}).items()}
        return cls(
            member_states=states,
            groups=groups,
            admin0=features,
            region_overrides=overrides,
            group_sources=sources,
            un_members=un_members,
        )

    def with_overrides(self, region_overrides: Mapping[str, str]) -> ReferenceTables:
        """The same tables with other region overrides."""
        overrides = {k.strip().upper(): v for k, v in region_overrides.items()}
        return ReferenceTables(
            member_states=self.member_states,
            groups=self.groups,
            admin0=self.admin0,
            region_overrides=overrides,
            group_sources=self.group_sources,
            un_members=self.un_members,
        )

    def region_of(self, code: str) -> str | None:
        """The ITU-D region of an ISO3 or ADM0_A3 code (overrides first), or None."""
        key = code.strip().upper()
        feature = self._feature(key)
        aliases = (feature.adm0_a3, feature.iso3) if feature else ()
        for candidate in (key, *aliases):
            if candidate and candidate in self.region_overrides:
                return self.region_overrides[candidate]
        if key in self.member_states:
            return self.member_states[key].region
        if feature is None:
            return None
        if feature.member_state in self.member_states:
            return self.member_states[feature.member_state].region
        return feature.region

    def member_state_of(self, code: str) -> str | None:
        """The ISO3 of the Member State that is, or administers, this country or territory."""
        key = code.strip().upper()
        if key in self.member_states:
            return key
        feature = self._feature(key)
        return feature.member_state if feature else None

    def groups_of(self, code: str) -> frozenset[str]:
        """Which of the UN groups "ldc", "lldc", "sids" the country or territory is in."""
        key = code.strip().upper()
        if key in self.groups:
            return self.groups[key]
        feature = self._feature(key)
        if feature and feature.iso3:
            return self.groups.get(feature.iso3, frozenset())
        return frozenset()

    def name_of(self, code: str) -> str | None:
        """The English short name of a Member State or admin-0 feature."""
        key = code.strip().upper()
        if key in self._names:
            return self._names[key]
        feature = self._feature(key)
        return feature.name if feature else None

    def member_states_in(self, region: str) -> frozenset[str]:
        """The ISO3 codes of the Member States of an ITU-D region."""
        return frozenset(s.iso3 for s in self.member_states.values() if s.region == region)

    def group_source(self, group: str, code: str) -> GroupSource | None:
        """The list that puts this country or territory in a UN group (the SIDS list is checked
        differently for UN Member States and for the others)."""
        key = code.strip().upper()
        members = "un" if key in self.un_members else "non-un"
        return self.group_sources.get((group, members)) or self.group_sources.get((group, "all"))

    def _feature(self, key: str) -> Admin0 | None:
        return self.admin0.get(key) or self._admin0_by_iso3.get(key)


def read_tsv(text: str) -> Iterator[dict[str, str]]:
    """Rows of a tab-separated table with a header line; lines starting with '#' are skipped."""
    lines = (line for line in io.StringIO(text) if line.strip() and not line.startswith("#"))
    for row in csv.DictReader(lines, delimiter="\t"):
        yield {k: (v or "").strip() for k, v in row.items()}
