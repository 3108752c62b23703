"""Assistance requests (WTDC Res. 34): filing, routing to the ITU offices of the country's
region, who sees what, acknowledgement, state moves and escalation, on SQLite and PostgreSQL;
and the pure domain rules in contact_points.requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from contact_points.registry import NATIONAL, ContactPoint, Registry
from contact_points.requests import (
    RECIPIENT,
    REQUESTER,
    RecipientClock,
    Refusal,
    RequestInvalid,
    RequestState,
    Urgency,
    check_transition,
    escalations_due,
    parse_request,
    route_request,
)
from geo.reference import ReferenceTables
from service import audit
from service.assistance.store import escalate_due
from service.db.models import AssistanceRecipient, AssistanceRequestRecord, AuditEntry, Event
from tests.conftest import ServiceUnderTest, running_service

KEN_SENDER = "alerts@meteo.go.ke"
MEMBER_STATES = frozenset(ReferenceTables.load().member_states)


def body(**changes: Any) -> dict[str, Any]:
    """A valid equipment request; keyword arguments replace or (None) drop fields."""
    request: dict[str, Any] = {
        "kind": "equipment",
        "title": "Satellite terminals for Garissa after the floods",
        "description": "Terrestrial backhaul down in three counties; need temporary links.",
        "urgency": "immediate",
        "items": [
            {"item": "Inmarsat BGAN terminal", "quantity": 10},
            {"item": "Iridium phone", "quantity": 25},
        ],
        "contact": {"name": "Jane Wanjiru", "email": "noc@ca.go.ke", "phone": "+254 20 4242000"},
    }
    for key, value in changes.items():
        if value is None:
            request.pop(key, None)
        else:
            request[key] = value
    return request


def ids(recipients: list[dict[str, Any]]) -> list[str]:
    return [r["contact"]["id"] for r in recipients]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Requests:
    """A client for /api/v1/requests with named tokens."""

    def __init__(self, service: ServiceUnderTest, tokens: dict[str, str]) -> None:
        self.service = service
        self.tokens = tokens

    def _auth(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    async def file(self, who: str | None, payload: Any) -> Any:
        return await self.service.client.post("/api/v1/requests", json=payload, headers=self._auth(who))

    async def get(self, who: str | None, request_id: int) -> Any:
        return await self.service.client.get(f"/api/v1/requests/{request_id}", headers=self._auth(who))

    async def list(self, who: str, **params: str) -> Any:
        return await self.service.client.get("/api/v1/requests", params=params, headers=self._auth(who))

    async def ack(self, who: str, request_id: int, payload: Any = None) -> Any:
        return await self.service.client.post(
            f"/api/v1/requests/{request_id}/ack", json=payload, headers=self._auth(who)
        )

    async def status(self, who: str, request_id: int, state: str, note: str = "as agreed") -> Any:
        return await self.service.client.post(
            f"/api/v1/requests/{request_id}/status",
            json={"state": state, "note": note},
            headers=self._auth(who),
        )


async def issue_tokens(service: ServiceUnderTest) -> dict[str, str]:
    return {
        "kenya": await service.token("administration", country="KEN", senders=[KEN_SENDER]),
        "uganda": await service.token("administration", country="UGA"),
        "haiti": await service.token("administration", country="HTI"),
        "addis": await service.token("office", office="ro-addis-ababa"),
        "bangkok": await service.token("office", office="ro-bangkok"),
        "bridgetown": await service.token("office", office="ao-bridgetown"),
        "brasilia": await service.token("office", office="ro-brasilia"),
        "bdt": await service.token("bdt"),
        "responder": await service.token("responder"),
        "operator": await service.token("operator"),
    }


@pytest.fixture
async def api(service: ServiceUnderTest) -> Requests:
    return Requests(service, await issue_tokens(service))


async def filed(api: Requests, who: str = "kenya", **changes: Any) -> dict[str, Any]:
    response = await api.file(who, body(**changes))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def request_events(service: ServiceUnderTest, request_id: int) -> list[Any]:
    rows = await service.runtime.db.read(
        lambda conn: conn.execute(
            select(Event.__table__).where(Event.type.like("request.%")).order_by(Event.id)
        ).all()
    )
    return [row for row in rows if row.payload.get("request_id") == request_id]


# --- filing and routing --------------------------------------------------------------------------


async def test_kenya_request_is_routed_to_addis_ababa_and_bdt_with_event_and_audit(api: Requests) -> None:
    response = await api.file("kenya", body())
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/v1/requests/{created['id']}"
    assert created["state"] == "open"
    assert (created["country"], created["region"], created["kind"]) == ("KEN", "Africa", "equipment")
    assert created["items"] == [
        {"item": "Inmarsat BGAN terminal", "quantity": 10},
        {"item": "Iridium phone", "quantity": 25},
    ]
    routing = created["routing"]
    assert ids(routing["recipients"]) == ["ro-addis-ababa", "bdt"]
    assert routing["priority"] == "flash"
    assert routing["ack_within_seconds"] == 15 * 60
    assert at(routing["ack_deadline"]) == at(created["created"]) + timedelta(minutes=15)
    addis = routing["recipients"][0]
    assert addis["escalate_to"] == ["bdt"] and addis["acknowledged"] is None
    assert [step["action"] for step in created["history"]] == ["created"]
    assert created["history"][0]["by"] == "administration:KEN"

    events = await request_events(api.service, created["id"])
    assert [e.type for e in events] == ["request.created"]
    assert (events[0].countries, events[0].regions, events[0].scope) == (["KEN"], ["Africa"], "Restricted")
    assert {
        "request_id": created["id"],
        "kind": "equipment",
        "urgency": "immediate",
        "state": "open",
    }.items() <= (events[0].payload.items())
    assert events[0].payload["recipients"] == ["ro-addis-ababa", "bdt"]
    verdict = await api.service.runtime.db.read(audit.verify)
    assert verdict.intact
    trail = await api.service.runtime.db.read(
        lambda conn: (
            conn.execute(select(AuditEntry.action).where(AuditEntry.object == f"request:{created['id']}"))
            .scalars()
            .all()
        )
    )
    assert trail == ["request.create"]


async def test_operator_files_for_fiji_routed_to_bangkok(api: Requests) -> None:
    created = await filed(
        api, "operator", country="fji", kind="frequency-coordination", items=None, urgency="normal"
    )
    assert (created["country"], created["region"]) == ("FJI", "Asia and the Pacific")
    assert ids(created["routing"]["recipients"]) == ["ro-bangkok", "bdt"]
    assert created["routing"]["ack_within_seconds"] == 4 * 3600
    # The operator names no country of its own: it must say which.
    missing = await api.file("operator", body(country=None))
    assert missing.status_code == 422
    assert [e["rule"] for e in missing.json()["errors"]] == ["request.country.missing"]


async def test_haiti_request_reaches_the_caribbean_area_office_first(api: Requests) -> None:
    created = await filed(api, "haiti", urgency="high")
    recipients = created["routing"]["recipients"]
    assert ids(recipients) == ["ao-bridgetown", "ro-brasilia", "bdt"]
    assert recipients[0]["escalate_to"] == ["ro-brasilia", "bdt"]
    assert created["routing"]["ack_within_seconds"] == 3600


async def test_an_administration_files_only_for_its_own_country(api: Requests) -> None:
    own = await filed(api, "kenya", country="KEN")
    assert own["country"] == "KEN"
    other = await api.file("kenya", body(country="UGA"))
    assert other.status_code == 403
    assert other.json()["errors"][0] == {
        "rule": "request.country.not-own",
        "message": other.json()["errors"][0]["message"],
        "path": "/country",
    }


async def test_wrong_role_or_no_token_is_refused(api: Requests) -> None:
    for who in ("addis", "responder"):
        response = await api.file(who, body(country="KEN"))
        assert response.status_code == 403, who
        assert response.json()["errors"][0]["rule"] == "request.role"
    assert (await api.file(None, body())).status_code == 401
    bdt = await api.file("bdt", body(country="KEN"))
    assert bdt.status_code == 201  # BDT files on behalf of a state that asked by other means


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"kind": "money"}, [("request.kind.invalid", "/kind")]),
        ({"urgency": None}, [("request.urgency.invalid", "/urgency")]),
        ({"title": "  "}, [("request.title.missing", "/title")]),
        ({"description": "x" * 5001}, [("request.description.too-long", "/description")]),
        ({"title": "Terminals\x00 now"}, [("request.title.control", "/title")]),
        ({"items": []}, [("request.items.required", "/items")]),
        ({"items": [{"item": "VSAT", "quantity": 0}]}, [("request.item.quantity", "/items/0/quantity")]),
        ({"items": [{"item": "VSAT", "quantity": 2.5}]}, [("request.item.quantity", "/items/0/quantity")]),
        ({"items": [{"item": "VSAT", "quantity": True}]}, [("request.item.quantity", "/items/0/quantity")]),
        (
            {"items": [{"item": "VSAT", "quantity": 1}, {"item": "vsat", "quantity": 2}]},
            [("request.item.duplicate", "/items/1/item")],
        ),
        (
            {"items": [{"item": "VSAT", "quantity": 1, "colour": "red"}]},
            [("request.item.unknown-field", "/items/0")],
        ),
        ({"country": "KENYA"}, [("request.country.format", "/country")]),
        ({"contact": {"email": "noc@ca.go.ke"}}, [("request.contact.name.missing", "/contact/name")]),
        ({"contact": {"name": "J", "email": "not-mail"}}, [("request.contact.email", "/contact/email")]),
        ({"contact": {"name": "J", "phone": "call me"}}, [("request.contact.phone", "/contact/phone")]),
        ({"related_alerts": ["has space"]}, [("request.related_alert.invalid", "/related_alerts/0")]),
        ({"related_alerts": [12345]}, [("request.related_alert.unknown", "/related_alerts/0")]),
        ({"budget": 1}, [("request.body.unknown-field", "/budget")]),
    ],
)
async def test_invalid_requests_are_422_with_rule_and_path(
    api: Requests, changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    response = await api.file("kenya", body(**changes))
    assert response.status_code == 422, response.text
    assert [(e["rule"], e["path"]) for e in response.json()["errors"]] == expected


async def test_several_mistakes_are_reported_together_and_junk_bodies_are_422(api: Requests) -> None:
    response = await api.file("kenya", {"kind": "equipment", "urgency": "soon"})
    rules = {e["rule"] for e in response.json()["errors"]}
    assert response.status_code == 422
    assert {
        "request.urgency.invalid",
        "request.title.missing",
        "request.description.missing",
        "request.items.required",
        "request.contact.missing",
    } <= rules
    headers = {"Authorization": f"Bearer {api.tokens['kenya']}", "Content-Type": "application/json"}
    for junk, rule in (
        (b"{not json", "request.body.json"),
        (b"[1, 2]", "request.body.object"),
        (b"", "request.body.object"),
    ):
        answer = await api.service.client.post("/api/v1/requests", content=junk, headers=headers)
        assert answer.status_code == 422, junk
        assert answer.json()["errors"][0]["rule"] == rule


async def test_related_alerts_resolve_ids_and_identifiers(api: Requests, cap_message) -> None:
    posted = await api.service.post(cap_message("KE-FLOOD-7"), api.tokens["kenya"])
    assert posted.status_code == 201, posted.text
    alert_id = posted.json()["id"]
    created = await filed(api, related_alerts=[alert_id, "KE-FLOOD-7", "GDACS-FL-1103"])
    assert created["related_alerts"] == [
        {"alert_id": alert_id, "identifier": "KE-FLOOD-7"},
        {"alert_id": None, "identifier": "GDACS-FL-1103"},
    ]


# --- who sees what -------------------------------------------------------------------------------


async def test_visible_to_requester_routed_offices_bdt_and_operator_only(api: Requests) -> None:
    created = await filed(api)
    for who in ("kenya", "addis", "bdt", "operator"):
        response = await api.get(who, created["id"])
        assert response.status_code == 200, who
        assert response.json()["id"] == created["id"]
    for who in ("uganda", "bangkok", "responder"):
        response = await api.get(who, created["id"])
        assert response.status_code == 404, who
    absent = await api.get("operator", created["id"] + 1000)
    assert absent.status_code == 404
    assert (await api.get(None, created["id"])).status_code == 401


async def test_list_shows_what_the_caller_may_see_with_filters(api: Requests) -> None:
    kenya = await filed(api, "kenya")
    fiji = await filed(api, "operator", country="FJI")
    haiti = await filed(api, "haiti", kind="capacity-building", items=None)

    async def listed(who: str, **params: str) -> list[int]:
        response = await api.list(who, **params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["requests"]]

    assert await listed("operator") == [haiti["id"], fiji["id"], kenya["id"]]
    assert await listed("bdt") == [haiti["id"], fiji["id"], kenya["id"]]
    assert await listed("kenya") == [kenya["id"]]
    assert await listed("addis") == [kenya["id"]]
    assert await listed("bangkok") == [fiji["id"]]
    assert await listed("bridgetown") == [haiti["id"]]
    assert await listed("uganda") == []
    assert await listed("responder") == []
    assert await listed("operator", region="Asia and the Pacific") == [fiji["id"]]
    assert await listed("operator", country="hti") == [haiti["id"]]
    await api.ack("addis", kenya["id"])
    assert await listed("operator", state="acknowledged") == [kenya["id"]]
    assert await listed("operator", state="open") == [haiti["id"], fiji["id"]]
    bad = await api.list("operator", state="lost", region="Mars")
    assert bad.status_code == 422
    assert {e["rule"] for e in bad.json()["errors"]} == {"request.query.state", "request.query.region"}


# --- acknowledgement -----------------------------------------------------------------------------


async def test_ack_by_a_recipient_then_again_is_idempotent(api: Requests) -> None:
    created = await filed(api)
    first = await api.ack("addis", created["id"], {"note": "Two BGAN units ready in Nairobi"})
    assert first.status_code == 200, first.text
    acked = first.json()
    assert acked["state"] == "acknowledged"
    addis = acked["routing"]["recipients"][0]
    assert addis["acknowledged"]["by"] == "office:ro-addis-ababa"
    assert addis["acknowledged"]["note"] == "Two BGAN units ready in Nairobi"
    assert [s["action"] for s in acked["history"]] == ["created", "acknowledged"]

    again = await api.ack("addis", created["id"])
    assert again.status_code == 200
    assert again.json()["history"] == acked["history"]
    assert again.json()["routing"]["recipients"][0]["acknowledged"] == addis["acknowledged"]
    events = await request_events(api.service, created["id"])
    assert [e.type for e in events] == ["request.created", "request.acknowledged"]

    bdt = await api.ack("bdt", created["id"])
    assert bdt.status_code == 200
    assert bdt.json()["state"] == "acknowledged"
    assert bdt.json()["routing"]["recipients"][1]["acknowledged"]["by"] == "bdt"
    assert (await api.service.runtime.db.read(audit.verify)).intact


async def test_ack_refused_for_others(api: Requests) -> None:
    created = await filed(api)
    for who in ("kenya", "operator", "responder"):
        response = await api.ack(who, created["id"])
        assert response.status_code == 403, who
        assert response.json()["errors"][0]["rule"] == "request.ack.role"
    # An office the request is not routed to cannot see it: not told it exists.
    assert (await api.ack("bangkok", created["id"])).status_code == 404
    bad = await api.ack("addis", created["id"], {"note": 5, "extra": True})
    assert bad.status_code == 422
    assert {e["rule"] for e in bad.json()["errors"]} == {"request.note.type", "request.body.unknown-field"}
    nul = await api.ack("addis", created["id"], {"note": "on it\x00"})
    assert [(e["rule"], e["path"]) for e in nul.json()["errors"]] == [("request.note.control", "/note")]
    assert (await api.get("addis", created["id"])).json()["state"] == "open"


# --- moving along --------------------------------------------------------------------------------


async def test_transitions_by_party_and_state(api: Requests) -> None:
    created = await filed(api)
    rid = created["id"]
    refused = await api.status("kenya", rid, "in-progress")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["rule"] == "request.status.forbidden"
    early = await api.status("addis", rid, "fulfilled")
    assert early.status_code == 409
    assert early.json()["errors"][0]["rule"] == "request.status.conflict"
    assert (await api.status("addis", rid, "cancelled")).status_code == 403
    assert (await api.status("responder", rid, "cancelled")).status_code == 403
    assert (await api.status("bangkok", rid, "in-progress")).status_code == 404

    working = await api.status("addis", rid, "in-progress", "Terminals shipped from the IFCE stock")
    assert working.status_code == 200, working.text
    assert working.json()["state"] == "in-progress"
    assert (await api.status("addis", rid, "in-progress")).status_code == 409
    assert (await api.status("kenya", rid, "closed")).status_code == 409  # not fulfilled yet
    fulfilled = await api.status("bdt", rid, "fulfilled", "Delivered and commissioned")
    assert fulfilled.json()["state"] == "fulfilled"
    closed = await api.status("kenya", rid, "closed", "Links restored, terminals returned")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    history = closed.json()["history"]
    assert [(s["action"], s["state"]) for s in history] == [
        ("created", "open"),
        ("status", "in-progress"),
        ("status", "fulfilled"),
        ("status", "closed"),
    ]
    assert history[1]["note"] == "Terminals shipped from the IFCE stock" and history[1]["from"] == "open"
    assert (await api.ack("bdt", rid)).status_code == 409  # finished: nothing to acknowledge

    other = await filed(api)
    cancelled = await api.status("kenya", other["id"], "cancelled", "Backhaul restored by the operator")
    assert cancelled.json()["state"] == "cancelled"
    assert (await api.status("addis", other["id"], "in-progress")).status_code == 409
    missing_note = await api.service.client.post(
        f"/api/v1/requests/{other['id']}/status",
        json={"state": "done"},
        headers={"Authorization": f"Bearer {api.tokens['kenya']}"},
    )
    assert missing_note.status_code == 422
    assert {e["rule"] for e in missing_note.json()["errors"]} == {
        "request.note.missing",
        "request.status.state",
    }


# --- escalation ----------------------------------------------------------------------------------


async def _escalate(service: ServiceUnderTest, now: datetime) -> int:
    return await service.runtime.db.write(lambda conn: escalate_due(conn, now))


async def test_unacknowledged_request_escalates_to_bdt_after_the_deadline(api: Requests) -> None:
    created = await filed(api)  # immediate: 15 minutes
    start = at(created["created"])
    assert await _escalate(api.service, start + timedelta(minutes=14)) == 0
    assert await _escalate(api.service, start + timedelta(minutes=15, seconds=1)) == 1
    seen = (await api.get("bdt", created["id"])).json()
    escalations = [s for s in seen["history"] if s["action"] == "escalated"]
    assert [(s["from"], s["to"], s["level"]) for s in escalations] == [("ro-addis-ababa", "bdt", 1)]
    assert escalations[0]["by"] == "system"
    assert seen["routing"]["recipients"][0]["escalation_level"] == 1
    # Done once: the chain of the regional office ends at BDT.
    assert await _escalate(api.service, start + timedelta(hours=5)) == 0
    events = await request_events(api.service, created["id"])
    assert [e.type for e in events] == ["request.created", "request.escalated"]
    assert events[1].payload["to"] == "bdt" and events[1].regions == ["Africa"]
    assert (await api.service.runtime.db.read(audit.verify)).intact


async def test_escalation_climbs_the_chain_and_stops_when_someone_on_it_acknowledges(api: Requests) -> None:
    created = await filed(api, "haiti", urgency="normal")  # 4 hours
    start = at(created["created"])
    await _escalate(api.service, start + timedelta(hours=4, seconds=1))
    first = (await api.get("operator", created["id"])).json()
    steps = [(s["from"], s["to"], s["level"]) for s in first["history"] if s["action"] == "escalated"]
    assert steps == [("ao-bridgetown", "ro-brasilia", 1), ("ro-brasilia", "bdt", 1)]
    await _escalate(api.service, start + timedelta(hours=4, seconds=2))  # nothing new
    assert len((await api.get("operator", created["id"])).json()["history"]) == 3

    assert (await api.ack("brasilia", created["id"])).status_code == 200
    # The area office's next step (to BDT at 8 h) is moot: its regional office has it.
    await _escalate(api.service, start + timedelta(hours=9))
    final = (await api.get("operator", created["id"])).json()
    assert [s["action"] for s in final["history"]] == ["created", "escalated", "escalated", "acknowledged"]


async def test_escalation_stops_once_the_request_is_in_hand(api: Requests) -> None:
    created = await filed(api)
    assert (await api.status("bdt", created["id"], "in-progress", "BDT coordinating")).status_code == 200
    assert await _escalate(api.service, at(created["created"]) + timedelta(hours=1)) == 0


@pytest.fixture
async def fast_sweep(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Requests]:
    """The service with the escalation sweep running every 50 ms."""
    monkeypatch.setenv("TAMPERE_REQUEST_ESCALATION_SECONDS", "0.05")
    async with running_service(database_url, tmp_path / "var") as running:
        yield Requests(running, await issue_tokens(running))


async def test_the_lifespan_sweep_escalates_on_its_own(fast_sweep: Requests) -> None:
    api = fast_sweep
    created = await filed(api)
    rid = created["id"]
    # Move the request 20 minutes into the past rather than wait a quarter of an hour.
    past = datetime.now(UTC) - timedelta(minutes=20)

    def backdate(conn: Any) -> None:
        conn.execute(
            update(AssistanceRequestRecord).where(AssistanceRequestRecord.id == rid).values(created_at=past)
        )
        conn.execute(
            update(AssistanceRecipient)
            .where(AssistanceRecipient.request_id == rid, AssistanceRecipient.next_escalation_at.is_not(None))
            .values(next_escalation_at=past + timedelta(minutes=15))
        )

    await api.service.runtime.db.write(backdate)
    for _ in range(100):  # up to 5 s
        history = (await api.get("bdt", rid)).json()["history"]
        if any(s["action"] == "escalated" for s in history):
            break
        await asyncio.sleep(0.05)
    assert [(s["action"], s.get("to")) for s in history] == [("created", None), ("escalated", "bdt")]


# --- the pure domain -----------------------------------------------------------------------------

HAITI_DESK = ContactPoint(
    id="hti-conatel", kind=NATIONAL, name="CONATEL desk", region="Americas", country="HTI"
)


def test_route_request_maps_urgency_to_deadlines_and_informs_the_national_contact() -> None:
    registry = Registry.load(national=[HAITI_DESK])
    routed = route_request("HTI", "Americas", Urgency.HIGH, registry=registry)
    assert [r.contact.id for r in routed] == ["hti-conatel", "ao-bridgetown", "ro-brasilia", "bdt"]
    national, area, regional, bdt = routed
    assert (national.ack_within, national.escalate_to) == (None, ())
    assert area.ack_within == timedelta(hours=1) and area.escalate_to == ("ro-brasilia", "bdt")
    assert regional.escalate_to == ("bdt",) and bdt.escalate_to == ()
    assert {r.priority for r in routed} == {"urgent"}
    kenya = route_request("KEN", "Africa", Urgency.IMMEDIATE, registry=registry)
    assert [(r.contact.id, r.ack_within) for r in kenya] == [
        ("ro-addis-ababa", timedelta(minutes=15)),
        ("bdt", timedelta(minutes=15)),
    ]


def test_escalations_due_step_by_step() -> None:
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    area = RecipientClock("ao", t0, hour, ("ro", "bdt"))
    regional = RecipientClock("ro", t0, hour, ("bdt",))
    clocks = [area, regional, RecipientClock("bdt", t0, hour, ())]
    assert escalations_due(clocks, set(), RequestState.OPEN, t0 + hour - timedelta(seconds=1)) == []
    steps = escalations_due(clocks, set(), RequestState.OPEN, t0 + 2 * hour)
    assert [(s.source, s.target, s.level, s.due - t0) for s in steps] == [
        ("ao", "ro", 1, hour),
        ("ro", "bdt", 1, hour),
        ("ao", "bdt", 2, 2 * hour),
    ]
    taken = RecipientClock("ao", t0, hour, ("ro", "bdt"), level=1)
    assert [s.level for s in escalations_due([taken], set(), RequestState.OPEN, t0 + 2 * hour)] == [2]
    assert escalations_due(clocks, {"ro"}, RequestState.ACKNOWLEDGED, t0 + 2 * hour) == []
    assert escalations_due(clocks, set(), RequestState.IN_PROGRESS, t0 + 2 * hour) == []


@pytest.mark.parametrize(
    ("current", "target", "parties", "outcome"),
    [
        (RequestState.OPEN, RequestState.IN_PROGRESS, {RECIPIENT}, None),
        (RequestState.OPEN, RequestState.IN_PROGRESS, {REQUESTER}, "request.status.forbidden"),
        (RequestState.OPEN, RequestState.FULFILLED, {RECIPIENT}, "request.status.conflict"),
        (RequestState.IN_PROGRESS, RequestState.FULFILLED, {RECIPIENT}, None),
        (RequestState.FULFILLED, RequestState.CLOSED, {REQUESTER}, None),
        (RequestState.CANCELLED, RequestState.CLOSED, {REQUESTER}, "request.status.conflict"),
        (RequestState.ACKNOWLEDGED, RequestState.CANCELLED, {REQUESTER}, None),
        (RequestState.FULFILLED, RequestState.CANCELLED, {REQUESTER}, "request.status.conflict"),
        (RequestState.OPEN, RequestState.OPEN, {REQUESTER, RECIPIENT}, "request.status.invalid"),
        (RequestState.OPEN, RequestState.CANCELLED, set(), "request.status.forbidden"),
    ],
)
def test_check_transition(
    current: RequestState, target: RequestState, parties: set[str], outcome: str | None
) -> None:
    if outcome is None:
        check_transition(current, target, parties)
        return
    with pytest.raises(Refusal) as refused:
        check_transition(current, target, parties)
    assert refused.value.rule == outcome
    assert refused.value.forbidden == (outcome == "request.status.forbidden")


def test_parse_request_defaults_the_country_and_rejects_unknown_ones() -> None:
    parsed = parse_request(body(), default_country="KEN", member_states=MEMBER_STATES)
    assert parsed.country == "KEN" and parsed.priority == "flash"
    assert parsed.contact.phone == "+254 20 4242000"
    with pytest.raises(RequestInvalid) as invalid:
        parse_request(body(country="XKX"), default_country=None, member_states=MEMBER_STATES)
    assert [(f.rule, f.path) for f in invalid.value.findings] == [("request.country.unknown", "/country")]
    with pytest.raises(RequestInvalid) as invalid:
        parse_request(body(), default_country="ZZZ", member_states=MEMBER_STATES)
    assert [f.rule for f in invalid.value.findings] == ["request.country.unknown"]
