"""The contact-point registry over HTTP and the command line, on SQLite and PostgreSQL: every
principal reads it, people only for the operator, BDT and the contact point itself; the
operator changes it (checked, 422 naming the rule); `tampere contacts import|export` round-trips
exactly; tokens are issued for the registry's offices; every instance routes by the registry
as stored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service import audit
from service.db.models import Event
from tests.conftest import ServiceUnderTest, migrated, run_tampere_async, running_service

KEN = "alerts@meteo.go.ke"
PATH = "/api/v1/contact-points"
# A small square over Port-au-Prince, Haiti.
HAITI = "18.45,-72.45 18.45,-72.25 18.65,-72.25 18.65,-72.45 18.45,-72.45"


class Registry:
    """A client for /api/v1/contact-points with named tokens."""

    def __init__(self, service: ServiceUnderTest, tokens: dict[str, str]) -> None:
        self.service = service
        self.tokens = tokens

    def auth(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    async def list(self, who: str | None, **params: str) -> Any:
        return await self.service.client.get(PATH, params=params, headers=self.auth(who))

    async def get(self, who: str | None, contact_id: str) -> Any:
        return await self.service.client.get(f"{PATH}/{contact_id}", headers=self.auth(who))

    async def post(self, who: str, body: Any) -> Any:
        return await self.service.client.post(PATH, json=body, headers=self.auth(who))

    async def put(self, who: str, contact_id: str, body: Any) -> Any:
        return await self.service.client.put(f"{PATH}/{contact_id}", json=body, headers=self.auth(who))

    async def delete(self, who: str, contact_id: str) -> Any:
        return await self.service.client.delete(f"{PATH}/{contact_id}", headers=self.auth(who))


@pytest.fixture
async def api(service: ServiceUnderTest) -> Registry:
    return Registry(
        service,
        {
            "operator": await service.token("operator"),
            "bdt": await service.token("bdt"),
            "bangkok": await service.token("office", office="ro-bangkok"),
            "addis": await service.token("office", office="ro-addis-ababa"),
            "fiji": await service.token("administration", country="FJI"),
            "kenya": await service.token("administration", country="KEN", senders=[KEN]),
            "responder": await service.token("responder"),
        },
    )


def with_people(record: dict[str, Any]) -> dict[str, Any]:
    """The record with two people, a head and a deputy, an e-mail channel."""
    return {
        **record,
        "people": [
            {
                "name": "Somchai Head",
                "role": "regional director",
                "languages": ["en", "th"],
                "time_zone": "Asia/Bangkok",
                "email": "director@itu-bangkok.example",
                "phone": "+66 2 000 0000",
            },
            {
                "name": "Ana Deputy",
                "role": "programme officer",
                "languages": ["en", "fr"],
                "time_zone": "Asia/Bangkok",
            },
        ],
        "head": "Somchai Head",
        "deputies": ["Ana Deputy"],
        "channels": {"email": ["itu-ro-bangkok@itu-bangkok.example"], "phone": None},
    }


async def test_every_principal_lists_the_seeded_registry(api: Registry) -> None:
    response = await api.list("responder")
    assert response.status_code == 200
    listed = response.json()
    assert [c["id"] for c in listed[:2]] == ["bdt", "ro-addis-ababa"]
    by_id = {c["id"]: c for c in listed}
    assert {"ro-bangkok", "ro-brasilia", "ao-bridgetown", "national-fji", "national-hti"} <= set(by_id)
    assert len([c for c in listed if c["kind"] == "national"]) == 193
    bangkok = by_id["ro-bangkok"]
    assert (bangkok["kind"], bangkok["region"], bangkok["country"]) == (
        "regional_office",
        "Asia and the Pacific",
        "THA",
    )
    assert "FJI" in bangkok["countries"] and bangkok["channels"]["websocket"] == "office:ro-bangkok"
    fiji = by_id["national-fji"]
    assert fiji["emergency_frequencies"] is None and fiji["tampere_convention"] is None
    assert fiji["channels"]["websocket"] == "administration:FJI"
    assert (await api.list(None)).status_code == 401
    # Filters: a kind, a country served, a region; an unknown value is a 422 naming it.
    areas = (await api.list("kenya", kind="area_office", country="HTI")).json()
    assert [c["id"] for c in areas] == ["ao-bridgetown"]
    assert {c["id"] for c in (await api.list("kenya", region="CIS", kind="regional_office")).json()} == {
        "ro-moscow"
    }
    refused = await api.list("kenya", kind="embassy", country="XXX")
    assert refused.status_code == 422
    assert [e["path"] for e in refused.json()["errors"]] == ["?kind", "?country"]
    assert (await api.get("kenya", "ro-nowhere")).status_code == 404


async def test_people_are_shown_to_the_operator_bdt_and_the_contact_point_itself(api: Registry) -> None:
    current = (await api.get("operator", "ro-bangkok")).json()
    changed = await api.put("operator", "ro-bangkok", with_people(current))
    assert changed.status_code == 200, changed.text
    for who in ("operator", "bdt", "bangkok"):
        seen = (await api.get(who, "ro-bangkok")).json()
        assert seen["head"] == "Somchai Head" and seen["people"][0]["time_zone"] == "Asia/Bangkok", who
    for who in ("addis", "kenya", "fiji", "responder"):
        seen = await api.get(who, "ro-bangkok")
        assert seen.status_code == 200 and "Somchai" not in seen.text and "Ana Deputy" not in seen.text, who
        assert "people" not in seen.json() and seen.json()["channels"]["email"], who
        listed = await api.list(who)
        assert "Somchai" not in listed.text, who
    # An administration is its country's national contact: it sees its own people.
    desk = (await api.get("operator", "national-fji")).json()
    desk = {**desk, "people": [{"name": "Mere Fiji", "role": "desk officer"}], "head": "Mere Fiji"}
    assert (await api.put("operator", "national-fji", desk)).status_code == 200
    assert (await api.get("fiji", "national-fji")).json()["head"] == "Mere Fiji"
    assert "Mere Fiji" not in (await api.get("kenya", "national-fji")).text


async def test_the_operator_adds_replaces_and_removes_contact_points(api: Registry) -> None:
    office = {
        "id": "ao-suva",
        "kind": "area_office",
        "name": "ITU Area Office for the Pacific",
        "region": "Asia and the Pacific",
        "country": "FJI",
        "city": "Suva",
        "countries": ["fji", "TON", "WSM"],
        "coverage": "partial",
        "source": "operator's note",
        "verification": "unverified",
    }
    for who in ("bdt", "bangkok", "kenya"):
        refused = await api.post(who, office)
        assert refused.status_code == 403, who
        assert refused.json()["errors"][0]["rule"] == "contact_point.operator-only"
    created = await api.post("operator", office)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{PATH}/ao-suva"
    assert created.json()["countries"] == ["FJI", "TON", "WSM"]
    assert (await api.post("operator", office)).json()["errors"][0]["rule"] == "contact_point.id.taken"
    # The running service knows it at once: a token is issued for it.
    token = await api.service.token("office", office="ao-suva")
    assert token
    moved = await api.put("operator", "ao-suva", {**office, "countries": ["TON"]})
    assert moved.status_code == 200 and moved.json()["countries"] == ["TON"]
    assert (await api.put("operator", "ao-suva", {**office, "id": "ao-apia"})).status_code == 422
    assert (await api.put("operator", "ao-nowhere", {**office, "id": "ao-nowhere"})).status_code == 404
    assert (await api.delete("kenya", "ao-suva")).status_code == 403
    assert (await api.delete("operator", "ao-suva")).status_code == 204
    assert (await api.get("operator", "ao-suva")).status_code == 404
    assert (await api.delete("operator", "ao-suva")).status_code == 404
    # Each change an event (no people in it) and an audit link.
    events = await api.service.runtime.db.read(
        lambda conn: (
            conn.execute(select(Event.payload).where(Event.type == "contact_point.changed")).scalars().all()
        )
    )
    suva = [(e["contact_point"], e["action"]) for e in events if e["contact_point"] == "ao-suva"]
    assert suva == [("ao-suva", "created"), ("ao-suva", "updated"), ("ao-suva", "deleted")]
    assert (await api.service.runtime.db.read(audit.verify)).intact


async def test_bad_contact_points_are_refused_with_the_rule_and_the_place(api: Registry) -> None:
    bad = {
        "id": "ao-x",
        "kind": "area_office",
        "name": "X",
        "region": "Americas",
        "countries": ["HTI", "XYZ", "FRA"],
        "people": [{"name": "A", "time_zone": "Nowhere/Else"}],
    }
    refused = await api.post("operator", bad)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert {(e["rule"], e["path"]) for e in refused.json()["errors"]} == {
        ("contact_point.countries.unknown", "/countries/1"),
        ("contact_point.countries.other-region", "/countries/2"),
        ("contact_point.person.time_zone", "/people/0/time_zone"),
    }
    for body in (None, [], "x"):
        answer = await api.service.client.post(PATH, json=body, headers=api.auth("operator"))
        assert answer.status_code == 422, body
    # One BDT focal point, one regional office per region; the last BDT stays.
    second = await api.post("operator", {"id": "bdt-2", "kind": "bdt", "name": "Another BDT"})
    assert second.json()["errors"][0]["rule"] == "contact_point.bdt.duplicate"
    rival = {"id": "ro-suva", "kind": "regional_office", "name": "Rival", "region": "Asia and the Pacific"}
    assert (await api.post("operator", rival)).json()["errors"][0][
        "rule"
    ] == "contact_point.regional_office.duplicate"
    last = await api.delete("operator", "bdt")
    assert last.status_code == 409 and last.json()["errors"][0]["rule"] == "contact_point.bdt.required"


async def test_routing_follows_the_registry_as_changed(api: Registry, cap_message) -> None:
    """An area office given Haiti by the operator is routed Haiti's alerts; removed, it is not."""
    office = {
        "id": "ao-port-au-prince",
        "kind": "area_office",
        "name": "Haiti field office",
        "region": "Americas",
        "country": "HTI",
        "countries": ["HTI"],
    }
    assert (await api.post("operator", office)).status_code == 201
    posted = await api.service.post(cap_message("RC-1", polygon=HAITI), api.tokens["operator"])
    assert posted.status_code == 201, posted.text
    routed = [e["contact_point"] for e in posted.json()["routing"]]
    assert routed == ["ao-bridgetown", "ao-port-au-prince", "ro-brasilia", "bdt"]
    assert (await api.delete("operator", "ao-port-au-prince")).status_code == 204
    again = await api.service.post(cap_message("RC-2", polygon=HAITI), api.tokens["operator"])
    assert "ao-port-au-prince" not in [e["contact_point"] for e in again.json()["routing"]]


# --- the command line --------------------------------------------------------------------------


async def test_contacts_export_import_round_trip_and_tokens_for_registry_offices(
    database_url: str, tmp_path: Path
) -> None:
    env = {"database_url": database_url, "data_dir": migrated(tmp_path / "var", database_url)}
    exported: dict[str, str] = {}
    for fmt in ("yaml", "csv"):
        result = await run_tampere_async("contacts", "export", "--format", fmt, **env)
        assert result.returncode == 0, result.stderr
        exported[fmt] = result.stdout
    assert exported["yaml"].startswith("contact_points:\n- id: bdt\n")
    assert exported["csv"].splitlines()[0].startswith("id,kind,name,region,country")

    # Edit the CSV (a new area office with people), import it, export again: what was
    # imported comes back byte for byte, in both formats.
    lines = exported["csv"].splitlines()
    person = (
        '"[{""name"":""Losa Tonga"",""role"":""officer"",""languages"":[""to"",""en""],'
        '""time_zone"":""Pacific/Tongatapu"",""email"":null,""phone"":null}]"'
    )
    # Where the export lists it: area offices after the regional ones, by id.
    at = next(i for i, line in enumerate(lines) if line.startswith("ao-santiago,"))
    lines.insert(
        at,
        f"ao-nukualofa,area_office,Pacific desk,Asia and the Pacific,TON,Nuku'alofa,TON;WSM,partial,{person},"
        "Losa Tonga,,desk@pacific.example,,,,operator's note,unverified",
    )
    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    imported = await run_tampere_async("contacts", "import", str(edited), **env)
    assert imported.returncode == 0, imported.stderr
    assert '"created": ["ao-nukualofa"]' in imported.stdout
    again = await run_tampere_async("contacts", "export", "--format", "csv", **env)
    assert again.stdout == edited.read_text(encoding="utf-8")
    as_yaml = await run_tampere_async("contacts", "export", **env)
    yaml_file = tmp_path / "registry.yaml"
    yaml_file.write_text(as_yaml.stdout, encoding="utf-8")
    reimported = await run_tampere_async("contacts", "import", str(yaml_file), **env)
    assert '"unchanged": 209' in reimported.stdout, reimported.stdout
    assert (await run_tampere_async("contacts", "export", **env)).stdout == as_yaml.stdout

    # A token for the new office is issued; an unknown office is refused, naming the nearest.
    issued = await run_tampere_async("token", "create", "--role", "office", "--office", "ao-nukualofa", **env)
    assert issued.returncode == 0, issued.stderr
    unknown = await run_tampere_async("token", "create", "--role", "office", "--office", "ao-nukualof", **env)
    assert unknown.returncode == 1 and "ao-nukualofa" in unknown.stderr

    # A file with a mistake imports nothing and says where.
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        as_yaml.stdout.replace("country: FJI\n", "country: FJX\n", 1).replace(
            "- id: bdt\n", "- id: BDT!\n", 1
        ),
        encoding="utf-8",
    )
    refused = await run_tampere_async("contacts", "import", str(broken), **env)
    assert refused.returncode == 1
    assert "contact_point.id.format at /contact_points/0/id" in refused.stderr
    assert "contact_point.country.unknown" in refused.stderr and "nothing imported" in refused.stderr
    assert (await run_tampere_async("contacts", "export", **env)).stdout == as_yaml.stdout
    # --replace removes what the file does not hold (here: the new office), in one transaction.
    original = tmp_path / "original.yaml"
    original.write_text(exported["yaml"], encoding="utf-8")
    replaced = await run_tampere_async("contacts", "import", "--replace", str(original), **env)
    assert '"deleted": ["ao-nukualofa"]' in replaced.stdout, replaced.stdout
    assert (await run_tampere_async("contacts", "export", **env)).stdout == exported["yaml"]


async def test_a_running_service_picks_up_an_import_made_elsewhere(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_service(database_url, tmp_path / "var", contacts_check_seconds=0.1) as service:
        assert service.runtime.contacts.get("ao-apia") is None
        file = tmp_path / "apia.yaml"
        file.write_text(
            "contact_points:\n- id: ao-apia\n  kind: area_office\n  name: Apia desk\n"
            "  region: Asia and the Pacific\n  countries: [WSM]\n",
            encoding="utf-8",
        )
        result = await run_tampere_async(
            "contacts", "import", str(file), database_url=database_url, data_dir=tmp_path / "var"
        )
        assert result.returncode == 0, result.stderr
        for _ in range(100):
            if service.runtime.contacts.get("ao-apia") is not None:
                break
            await asyncio.sleep(0.05)
        assert service.runtime.contacts.get("ao-apia").serves == frozenset({"WSM"})
