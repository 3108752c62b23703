"""A contact point as plain data: checked on the way in, written on the way out, and the exchange
files (YAML and CSV) `tampere contacts import|export` reads and writes.

Public API (stable):

- `parse_contact(body, *, reference, base="")`: a JSON-decoded (or YAML, or CSV-row) record
  checked rule by rule; raises `ContactInvalid` with every finding (rule id `contact_point.*`,
  JSON pointer path under `base`).
- `contact_record(contact, *, people=True)`: the record of a contact point, the form the API
  answers and the files hold; without people (names, roles, languages, time zones, e-mail and
  phone of persons, head and deputies) for whom may not see them.
- `dump_yaml(records)`, `load_yaml(text)`, `dump_csv(records)`, `load_csv(text)`: the exchange
  files. Writing what was read writes the same bytes again (a round trip is exact).

A record: `{"id", "kind", "name", "region", "country", "city", "countries", "coverage", "people":
[{"name", "role", "languages", "time_zone", "email", "phone"}], "head", "deputies", "channels":
{"email": [...], "phone"}, "emergency_frequencies", "tampere_convention", "source",
"verification"}`. Unknown values are null, never guessed (ITU-R Res. 647: a national contact's
emergency frequencies, and whether its country is party to the Tampere Convention).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import yaml

from cap.errors import Finding
from contact_points.registry import (
    AREA_OFFICE,
    BDT,
    COVERAGES,
    KINDS,
    NATIONAL,
    REGIONAL_OFFICE,
    ContactPoint,
    Person,
)
from contact_points.requests import CONTROL, EMAIL, MAX_EMAIL, MAX_PHONE_DIGITS, MIN_PHONE_DIGITS, PHONE
from geo.reference import ISO3, REGIONS, ReferenceTables

FIELDS = (
    "id",
    "kind",
    "name",
    "region",
    "country",
    "city",
    "countries",
    "coverage",
    "people",
    "head",
    "deputies",
    "channels",
    "emergency_frequencies",
    "tampere_convention",
    "source",
    "verification",
)
PERSON_FIELDS = ("name", "role", "languages", "time_zone", "email", "phone")
# `websocket` (the principal whose event stream reaches the contact point) follows from its kind
# and id, and webhooks and e-mail subscriptions are registered at their own endpoints: all are
# shown (service.contact_points.routes), and read back without effect, so that a record as
# answered is a valid record.
CHANNEL_FIELDS = ("email", "phone", "websocket", "webhooks", "email_subscriptions")
# Ids name contact points in URLs, tokens (`--office`) and routing: lower-case ASCII words.
ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# BCP 47 language tags as people write them: "en", "fr", "pt-BR", "es-419", "zh-Hant".
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_NAME = 200
MAX_ROLE = 100
MAX_PEOPLE = 50
MAX_LIST = 50
MAX_FREQUENCY = 100
MAX_SOURCE = 4000
MAX_VERIFICATION = 64
MAX_FINDINGS = 50
# The CSV file joins lists with ";" in one cell.
LIST_SEPARATOR = ";"
# Each kind in words, for messages ("an area office", not "a area_office").
KIND_WORDS = {
    BDT: "BDT focal point",
    REGIONAL_OFFICE: "regional office",
    AREA_OFFICE: "area office",
    NATIONAL: "national contact",
}


def a_kind(kind: str) -> str:
    """The kind in words with its indefinite article: "a regional office", "an area office"."""
    words = KIND_WORDS.get(kind, kind)
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


class ContactInvalid(ValueError):
    """A contact-point record that breaks rules; `findings` names each rule and where."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(f"{f.rule} at {f.path}: {f.message}" for f in self.findings))


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


# --- reading a record ------------------------------------------------------------------------------


class _Reader:
    """Collects findings while a record is read."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.findings: list[Finding] = []

    def fail(self, rule: str, message: str, path: str) -> None:
        self.findings.append(Finding(rule, message, f"{self.base}{path}"))

    def text(
        self, value: Any, path: str, rule: str, limit: int, *, required: bool = False, one_line: bool = True
    ) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"{rule}.missing", f"{path.rsplit('/', 1)[-1]} is required and not blank", path)
            return None
        if not isinstance(value, str):
            self.fail(f"{rule}.type", f"{path.rsplit('/', 1)[-1]} must be text", path)
            return None
        text = value.strip()
        if len(text) > limit:
            self.fail(f"{rule}.too-long", f"{len(text)} characters; at most {limit}", path)
            return None
        if CONTROL.search(text) or (one_line and ("\n" in text or "\r" in text)):
            self.fail(f"{rule}.control", "control characters or line breaks", path)
            return None
        return text

    def words(self, value: Any, path: str, rule: str, limit: int) -> list[str]:
        """A list of short texts (none may hold ';', the CSV file's list separator)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{rule}.type", f"{path.rsplit('/', 1)[-1]} must be a list", path)
            return []
        if len(value) > MAX_LIST:
            self.fail(f"{rule}.too-many", f"{len(value)} entries; at most {MAX_LIST}", path)
            return []
        found: list[str] = []
        for i, item in enumerate(value):
            text = self.text(item, f"{path}/{i}", rule, limit, required=True)
            if text is None:
                continue
            if LIST_SEPARATOR in text:
                self.fail(
                    f"{rule}.separator",
                    f"{LIST_SEPARATOR!r} separates list entries in CSV files",
                    f"{path}/{i}",
                )
                continue
            if text in found:
                self.fail(f"{rule}.duplicate", f"{text!r} is listed twice", f"{path}/{i}")
                continue
            found.append(text)
        return found

    def email(self, value: Any, path: str, rule: str) -> str | None:
        text = self.text(value, path, rule, MAX_EMAIL)
        if text is not None and (not EMAIL.match(text) or LIST_SEPARATOR in text):
            self.fail(rule, f"not an e-mail address: {text!r}", path)
            return None
        return text

    def phone(self, value: Any, path: str, rule: str) -> str | None:
        text = self.text(value, path, rule, 40)
        if text is None:
            return None
        digits = sum(c.isdigit() for c in text)
        if not PHONE.match(text) or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
            self.fail(
                rule,
                f"a phone number is digits with optional +, spaces, dashes, dots, brackets, "
                f"{MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits (ITU-T E.164); got {text!r}",
                path,
            )
            return None
        return text

    def fields(self, value: Mapping[str, Any], allowed: Sequence[str], path: str, rule: str) -> None:
        for key in value:
            if key not in allowed:
                self.fail(rule, f"unknown field {key!r} (one of {', '.join(allowed)})", f"{path}/{key}")


def parse_contact(body: Any, *, reference: ReferenceTables, base: str = "") -> ContactPoint:
    """Check a contact-point record; raises ContactInvalid listing every broken rule.

    Countries are ITU Member States (ISO 3166-1 alpha-3); an office serves Member States of its
    own ITU-D region. Left out, `countries` is the whole region for a regional office, every
    Member State for BDT and its own country for a national contact."""
    r = _Reader(base)
    if not isinstance(body, dict):
        raise ContactInvalid(
            [Finding("contact_point.body.object", "a contact point is a JSON object", base or "/")]
        )
    r.fields(body, FIELDS, "", "contact_point.body.unknown-field")
    contact_id = body.get("id")
    if not isinstance(contact_id, str) or not ID.match(contact_id):
        r.fail(
            "contact_point.id.format",
            f"id is 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit; got {contact_id!r}",
            "/id",
        )
        contact_id = None
    kind = body.get("kind")
    if kind not in KINDS:
        r.fail("contact_point.kind.unknown", f"kind {kind!r}; one of {', '.join(KINDS)}", "/kind")
        kind = None
    name = r.text(body.get("name"), "/name", "contact_point.name", MAX_NAME, required=True)
    region = body.get("region")
    if region is not None and region not in REGIONS:
        r.fail("contact_point.region.unknown", f"region {region!r}; one of {', '.join(REGIONS)}", "/region")
        region = None
    elif region is None and kind in (REGIONAL_OFFICE, AREA_OFFICE, NATIONAL):
        r.fail("contact_point.region.missing", f"{a_kind(kind)} belongs to an ITU-D region", "/region")
    states = reference.member_states
    country = body.get("country")
    if country is not None:
        code = country.strip().upper() if isinstance(country, str) else None
        if code is None or not ISO3.match(code) or code not in states:
            r.fail(
                "contact_point.country.unknown",
                f"country {country!r} is not an ITU Member State's ISO 3166-1 alpha-3 code",
                "/country",
            )
            country = None
        else:
            country = code
    elif kind == NATIONAL:
        r.fail("contact_point.country.missing", "a national contact names its country (ISO3)", "/country")
    if kind == NATIONAL and country and region and states[country].region != region:
        r.fail(
            "contact_point.region.mismatch",
            f"{country} is in the {states[country].region} region, not {region}",
            "/region",
        )
    city = r.text(body.get("city"), "/city", "contact_point.city", MAX_NAME)
    countries = _countries(body.get("countries"), kind, region, country, reference, r)
    coverage = body.get("coverage")
    if coverage is None:
        coverage = "unknown" if kind == AREA_OFFICE and not countries else "complete"
    elif coverage not in COVERAGES:
        r.fail(
            "contact_point.coverage.invalid",
            f"coverage {coverage!r}; one of {', '.join(COVERAGES)}",
            "/coverage",
        )
    people = _people(body.get("people"), r)
    names = [p.name for p in people]
    head = r.text(body.get("head"), "/head", "contact_point.head", MAX_NAME)
    if head is not None and head not in names:
        r.fail("contact_point.head.unknown", f"the head {head!r} is not among the people listed", "/head")
    deputies = r.words(body.get("deputies"), "/deputies", "contact_point.deputies", MAX_NAME)
    for i, deputy in enumerate(deputies):
        if deputy not in names:
            r.fail(
                "contact_point.deputies.unknown",
                f"the deputy {deputy!r} is not among the people listed",
                f"/deputies/{i}",
            )
        elif deputy == head:
            r.fail(
                "contact_point.deputies.head",
                f"{deputy!r} is the head; a deputy stands in for the head",
                f"/deputies/{i}",
            )
    emails, phone = _channels(body.get("channels"), r)
    frequencies = body.get("emergency_frequencies")
    if frequencies is not None:
        if frequencies == [] or not isinstance(frequencies, list):
            r.fail(
                "contact_point.emergency_frequencies.invalid",
                'emergency_frequencies is null (not known) or a list of frequencies, e.g. "5.2 MHz"',
                "/emergency_frequencies",
            )
            frequencies = None
        else:
            frequencies = r.words(
                frequencies, "/emergency_frequencies", "contact_point.emergency_frequencies", MAX_FREQUENCY
            )
    tampere = body.get("tampere_convention")
    if tampere is not None and not isinstance(tampere, bool):
        r.fail(
            "contact_point.tampere_convention.invalid",
            "tampere_convention is true, false or null (not known)",
            "/tampere_convention",
        )
        tampere = None
    if kind != NATIONAL:
        for key in ("emergency_frequencies", "tampere_convention"):
            if body.get(key) is not None:
                r.fail(
                    f"contact_point.{key}.kind",
                    f"{key} is kept for national contacts (ITU-R Res. 647)",
                    f"/{key}",
                )
    source = r.text(body.get("source"), "/source", "contact_point.source", MAX_SOURCE)
    verification = r.text(
        body.get("verification"), "/verification", "contact_point.verification", MAX_VERIFICATION
    )
    if r.findings:
        raise ContactInvalid(r.findings[:MAX_FINDINGS])
    assert contact_id is not None and kind is not None and name is not None
    return ContactPoint(
        id=contact_id,
        kind=kind,
        name=name,
        region=region,
        country=country,
        serves=frozenset(countries),
        coverage=coverage,
        city=city,
        people=tuple(people),
        head=head,
        deputies=tuple(deputies),
        emails=tuple(emails),
        phone=phone,
        emergency_frequencies=None if frequencies is None else tuple(frequencies),
        tampere_convention=tampere,
        source=source,
        verification=verification,
    )


def _countries(
    value: Any,
    kind: str | None,
    region: str | None,
    country: str | None,
    reference: ReferenceTables,
    r: _Reader,
) -> list[str]:
    states = reference.member_states
    if value is None:
        if kind == REGIONAL_OFFICE and region:
            return sorted(reference.member_states_in(region))
        if kind == BDT:
            return sorted(states)
        if kind == NATIONAL and country:
            return [country]
        return []
    if not isinstance(value, list) or len(value) > len(states):
        r.fail(
            "contact_point.countries.type", "countries is a list of ISO 3166-1 alpha-3 codes", "/countries"
        )
        return []
    found: list[str] = []
    for i, item in enumerate(value):
        code = item.strip().upper() if isinstance(item, str) else None
        if code is None or not ISO3.match(code) or code not in states:
            r.fail(
                "contact_point.countries.unknown",
                f"{item!r} is not an ITU Member State's ISO 3166-1 alpha-3 code",
                f"/countries/{i}",
            )
            continue
        if kind in (REGIONAL_OFFICE, AREA_OFFICE, NATIONAL) and region and states[code].region != region:
            r.fail(
                "contact_point.countries.other-region",
                f"{code} is in the {states[code].region} region; this {KIND_WORDS[kind]} is in {region}",
                f"/countries/{i}",
            )
            continue
        if code not in found:
            found.append(code)
    return sorted(found)


def _people(value: Any, r: _Reader) -> list[Person]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_PEOPLE:
        r.fail("contact_point.people.type", f"people is a list of at most {MAX_PEOPLE} persons", "/people")
        return []
    people: list[Person] = []
    for i, item in enumerate(value):
        place = f"/people/{i}"
        if not isinstance(item, dict):
            r.fail(
                "contact_point.person.type",
                "a person is {name, role, languages, time_zone, email, phone}",
                place,
            )
            continue
        r.fields(item, PERSON_FIELDS, place, "contact_point.person.unknown-field")
        name = r.text(item.get("name"), f"{place}/name", "contact_point.person.name", MAX_NAME, required=True)
        if name is not None and LIST_SEPARATOR in name:
            r.fail(
                "contact_point.person.name.separator",
                "';' separates list entries in CSV files",
                f"{place}/name",
            )
            name = None
        if name is not None and any(p.name == name for p in people):
            r.fail("contact_point.person.duplicate", f"{name!r} is listed twice", f"{place}/name")
            name = None
        role = r.text(item.get("role"), f"{place}/role", "contact_point.person.role", MAX_ROLE)
        languages = r.words(item.get("languages"), f"{place}/languages", "contact_point.person.languages", 35)
        for j, tag in enumerate(languages):
            if not LANGUAGE.match(tag):
                r.fail(
                    "contact_point.person.language",
                    f"{tag!r} is not a BCP 47 language tag (e.g. en, fr, pt-BR)",
                    f"{place}/languages/{j}",
                )
        zone = r.text(item.get("time_zone"), f"{place}/time_zone", "contact_point.person.time_zone", 64)
        if zone is not None and zone not in _time_zones():
            r.fail(
                "contact_point.person.time_zone",
                f"{zone!r} is not an IANA time zone (e.g. Asia/Bangkok, America/Port-au-Prince)",
                f"{place}/time_zone",
            )
        email = r.email(item.get("email"), f"{place}/email", "contact_point.person.email")
        phone = r.phone(item.get("phone"), f"{place}/phone", "contact_point.person.phone")
        if name is not None:
            people.append(Person(name, role, tuple(languages), zone, email, phone))
    return people


def _channels(value: Any, r: _Reader) -> tuple[list[str], str | None]:
    if value is None:
        return [], None
    if not isinstance(value, dict):
        r.fail("contact_point.channels.type", "channels is {email: [...], phone}", "/channels")
        return [], None
    r.fields(value, CHANNEL_FIELDS, "/channels", "contact_point.channels.unknown-field")
    emails: list[str] = []
    raw = value.get("email")
    if raw is not None and not isinstance(raw, list):
        r.fail(
            "contact_point.channels.email", "channels.email is a list of e-mail addresses", "/channels/email"
        )
    else:
        for i, item in enumerate((raw or [])[:MAX_LIST]):
            email = r.email(item, f"/channels/email/{i}", "contact_point.channels.email")
            if email is not None and email not in emails:
                emails.append(email)
    phone = r.phone(value.get("phone"), "/channels/phone", "contact_point.channels.phone")
    return emails, phone


# --- writing a record ------------------------------------------------------------------------------


def person_record(person: Person) -> dict[str, Any]:
    """The record of a person."""
    return {
        "name": person.name,
        "role": person.role,
        "languages": list(person.languages),
        "time_zone": person.time_zone,
        "email": person.email,
        "phone": person.phone,
    }


def contact_record(contact: ContactPoint, *, people: bool = True) -> dict[str, Any]:
    """The record of a contact point (with its people, or without them and their names)."""
    record: dict[str, Any] = {
        "id": contact.id,
        "kind": contact.kind,
        "name": contact.name,
        "region": contact.region,
        "country": contact.country,
        "city": contact.city,
        "countries": list(contact.countries),
        "coverage": contact.coverage,
    }
    if people:
        record["people"] = [person_record(p) for p in contact.people]
        record["head"] = contact.head
        record["deputies"] = list(contact.deputies)
    record["channels"] = {"email": list(contact.emails), "phone": contact.phone}
    record["emergency_frequencies"] = (
        None if contact.emergency_frequencies is None else list(contact.emergency_frequencies)
    )
    record["tampere_convention"] = contact.tampere_convention
    record["source"] = contact.source
    record["verification"] = contact.verification
    return record


# --- exchange files --------------------------------------------------------------------------------

YAML_KEY = "contact_points"
CSV_COLUMNS = (
    "id",
    "kind",
    "name",
    "region",
    "country",
    "city",
    "countries",
    "coverage",
    "people",
    "head",
    "deputies",
    "email",
    "phone",
    "emergency_frequencies",
    "tampere_convention",
    "source",
    "verification",
)


class ExchangeUnreadable(ValueError):
    """An exchange file that cannot be read at all (not YAML, not CSV of these columns)."""

    def __init__(self, finding: Finding) -> None:
        self.findings = (finding,)
        super().__init__(f"{finding.rule} at {finding.path}: {finding.message}")


def dump_yaml(records: Sequence[Mapping[str, Any]]) -> str:
    """The YAML exchange file: `contact_points: [record, ...]`."""
    return yaml.safe_dump(
        {YAML_KEY: [dict(r) for r in records]},
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=None,
    )


def load_yaml(text: str) -> list[Any]:
    """The records of a YAML exchange file (unchecked: `parse_contact` each)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExchangeUnreadable(Finding("contacts.file.yaml", f"not YAML: {exc}", "/")) from None
    if not isinstance(data, dict) or not isinstance(data.get(YAML_KEY), list):
        raise ExchangeUnreadable(
            Finding(
                "contacts.file.shape", f"a YAML contacts file is {{{YAML_KEY}: [contact point, ...]}}", "/"
            )
        )
    records: list[Any] = data[YAML_KEY]
    return records


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    return str(value)


def dump_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """The CSV exchange file: one contact point a row; lists joined with ';'; people as JSON."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        channels = record.get("channels") or {}
        row = {
            **{k: _cell(record.get(k)) for k in CSV_COLUMNS if k not in ("people", "email", "phone")},
            "people": json.dumps(record.get("people") or [], ensure_ascii=False, separators=(",", ":")),
            "email": _cell(channels.get("email") or []),
            "phone": _cell(channels.get("phone")),
        }
        writer.writerow(row)
    return out.getvalue()


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def load_csv(text: str) -> list[dict[str, Any]]:
    """The records of a CSV exchange file (unchecked: `parse_contact` each)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("id", "kind", "name") if c not in (reader.fieldnames or [])]
    if missing:
        raise ExchangeUnreadable(
            Finding(
                "contacts.file.columns", f"a CSV contacts file has the columns {', '.join(CSV_COLUMNS)}", "/"
            )
        )
    records: list[dict[str, Any]] = []
    for number, row in enumerate(reader, 2):
        unknown = sorted(k for k in row if k not in CSV_COLUMNS)
        if unknown:
            raise ExchangeUnreadable(
                Finding("contacts.file.columns", f"unknown column(s) {unknown}", f"line {number}")
            )
        cells = {k: (v or "").strip() for k, v in row.items()}
        people: Any = []
        if cells.get("people"):
            try:
                people = json.loads(cells["people"])
            except json.JSONDecodeError as exc:
                raise ExchangeUnreadable(
                    Finding("contacts.file.people", f"the people cell is not JSON: {exc}", f"line {number}")
                ) from None
        tampere = cells.get("tampere_convention", "").lower()
        record: dict[str, Any] = {
            "id": cells.get("id") or None,
            "kind": cells.get("kind") or None,
            "name": cells.get("name") or None,
            "region": cells.get("region") or None,
            "country": cells.get("country") or None,
            "city": cells.get("city") or None,
            "countries": _split(cells.get("countries", "")),
            "coverage": cells.get("coverage") or None,
            "people": people,
            "head": cells.get("head") or None,
            "deputies": _split(cells.get("deputies", "")),
            "channels": {"email": _split(cells.get("email", "")), "phone": cells.get("phone") or None},
            "emergency_frequencies": _split(cells["emergency_frequencies"]) or None
            if cells.get("emergency_frequencies")
            else None,
            "tampere_convention": {"true": True, "false": False}.get(tampere, tampere or None),
            "source": cells.get("source") or None,
            "verification": cells.get("verification") or None,
        }
        records.append(record)
    return records
