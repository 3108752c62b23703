"""Acknowledging alerts and escalating the unacknowledged, on SQLite and PostgreSQL, with a clock
the tests move: a recipient acknowledges (REST and the websocket), nobody else may (403, or
404 for who may not know the alert); deadlines from the settings; escalation deputies -> head
-> regional office -> BDT, one `alert.escalated` event per step, on time, and once with two
instances on one database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service import audit
from service.alerts.escalation import sweep_once
from service.db.models import Event
from tests.conftest import ServiceUnderTest, make_cap, running_service
from tests.service.alerts.test_routing import FIJI, HAITI, alert
from tests.service.events.test_stream import next_event, serve

KEN = "alerts@meteo.go.ke"


class Clock:
    """The time the service counts deadlines by, moved on by the test."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class Desk:
    """A service with a clock and a token per principal."""

    def __init__(self, service: ServiceUnderTest, clock: Clock, tokens: dict[str, str]) -> None:
        self.service = service
        self.clock = clock
        self.tokens = tokens

    def auth(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(self, raw: bytes, who: str = "operator") -> dict[str, Any]:
        response = await self.service.post(raw, self.tokens[who])
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def ack(self, who: str | None, alert_id: int, **kwargs: Any) -> Any:
        return await self.service.client.post(
            f"/api/v1/alerts/{alert_id}/ack", headers=self.auth(who), **kwargs
        )

    async def routing(self, alert_id: int) -> dict[str, dict[str, Any]]:
        body = (
            await self.service.client.get(f"/api/v1/alerts/{alert_id}", headers=self.auth("operator"))
        ).json()
        return {e["contact_point"]: e for e in body["routing"]}

    async def events(self, alert_id: int, kind: str) -> list[dict[str, Any]]:
        return await events_of(self.service, alert_id, kind)


async def events_of(service: ServiceUnderTest, alert_id: int, kind: str) -> list[dict[str, Any]]:
    rows = await service.runtime.db.read(
        lambda conn: (
            conn.execute(
                select(Event.payload).where(Event.alert_id == alert_id, Event.type == kind).order_by(Event.id)
            )
            .scalars()
            .all()
        )
    )
    return list(rows)


async def tokens_for(service: ServiceUnderTest) -> dict[str, str]:
    return {
        "operator": await service.token("operator"),
        "bdt": await service.token("bdt"),
        "bangkok": await service.token("office", office="ro-bangkok"),
        "brasilia": await service.token("office", office="ro-brasilia"),
        "bridgetown": await service.token("office", office="ao-bridgetown"),
        "addis": await service.token("office", office="ro-addis-ababa"),
        "kenya": await service.token("administration", country="KEN", senders=[KEN]),
        "responder": await service.token("responder"),
    }


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    """The service with a movable clock, ten-minute flash deadlines, and its sweeps idle (the
    tests sweep when they choose)."""
    clock = Clock()
    async with running_service(
        database_url,
        tmp_path / "var",
        clock=clock,
        ack_flash_seconds=600,
        alert_escalation_seconds=3600,
    ) as service:
        yield Desk(service, clock, await tokens_for(service))


def cyclone(identifier: str = "TC-1", **kwargs: Any) -> bytes:
    return alert(identifier, FIJI, event="Tropical Cyclone", severity="Extreme", **kwargs)


def earthquake(identifier: str = "EQ-1") -> bytes:
    return alert(
        identifier, HAITI, event="Earthquake", category="Geo", urgency="Immediate", certainty="Observed"
    )


# --- acknowledging -----------------------------------------------------------------------------------


async def test_a_recipient_acknowledges_once_and_nobody_else_may(desk: Desk) -> None:
    posted = await desk.post(cyclone())
    alert_id = posted["id"]
    assert [e["ack_within_seconds"] for e in posted["routing"]] == [600, 600]  # TAMPERE_ACK_FLASH_SECONDS
    desk.clock.advance(seconds=42)
    answer = await desk.ack("bangkok", alert_id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact_points"] == ["ro-bangkok"] and answer.json()["changed"] is True
    assert answer.json()["acknowledged_at"] == desk.clock().isoformat()
    routing = await desk.routing(alert_id)
    assert routing["ro-bangkok"]["acknowledged_at"] == desk.clock().isoformat()
    assert routing["ro-bangkok"]["acknowledged_by"] == "office:ro-bangkok"
    assert routing["bdt"]["acknowledged_at"] is None
    [event] = await desk.events(alert_id, "alert.routing.acknowledged")
    assert (event["contact_points"], event["by"]) == (["ro-bangkok"], "office:ro-bangkok")
    history = (await desk.service.client.get(f"/api/v1/alerts/{alert_id}")).json()["history"]
    assert [s["action"] for s in history] == ["received", "routing.acknowledged"]

    again = await desk.ack("bangkok", alert_id, json={})
    assert again.status_code == 200 and again.json()["changed"] is False
    assert len(await desk.events(alert_id, "alert.routing.acknowledged")) == 1

    # An office the alert is not routed to, a responder, the operator: 403, naming the rule.
    for who in ("addis", "bridgetown", "responder", "operator", "kenya"):
        refused = await desk.ack(who, alert_id)
        assert refused.status_code == 403, (who, refused.text)
        assert refused.json()["errors"][0]["rule"] == "alert.ack.not-recipient"
    assert (await desk.ack(None, alert_id)).status_code == 401
    assert (await desk.ack("bangkok", alert_id, content=b"[1]")).status_code == 422
    assert (await desk.ack("bangkok", alert_id + 1000)).status_code == 404
    assert (await desk.service.runtime.db.read(audit.verify)).intact


async def test_who_may_not_see_the_alert_is_told_it_does_not_exist(desk: Desk, cap_message) -> None:
    restricted = await desk.post(
        cap_message("RES-1", scope="Restricted", restriction="ITU", severity="Extreme"), who="kenya"
    )
    assert [e["contact_point"] for e in restricted["routing"]] == ["ro-addis-ababa", "bdt"]
    hidden = await desk.ack("responder", restricted["id"])
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["rule"] == "alert.not-found"
    assert (await desk.ack("addis", restricted["id"])).status_code == 200
    assert (await desk.ack("bangkok", restricted["id"])).status_code == 403  # may see, not routed to


async def test_whoever_may_see_an_alert_but_is_no_recipient_is_refused_403(desk: Desk) -> None:
    """The contract: an ack by anyone else than a recipient is 403; only who may not see the
    alert at all is told it does not exist (404, worded as for an id never given)."""
    # Public, moderate, over Nairobi: routed to the regional office only (no BDT rule applies).
    posted = await desk.post(make_cap("MOD-1", severity="Moderate"), who="kenya")
    assert [e["contact_point"] for e in posted["routing"]] == ["ro-addis-ababa"]
    desk.tokens["fiji"] = await desk.service.token("administration", country="FJI")
    others = {
        "responder": "a responder",
        "fiji": "the administration of another country",
        "kenya": "the administration that posted it",
        "bangkok": "another regional office",
        "bridgetown": "an area office of another region",
        "bdt": "BDT, the alert not being routed to it",
        "operator": "the operator",
    }
    for who, what in others.items():
        seen = await desk.service.client.get(f"/api/v1/alerts/{posted['id']}", headers=desk.auth(who))
        assert seen.status_code == 200, (what, seen.text)
        refused = await desk.ack(who, posted["id"])
        assert refused.status_code == 403, (what, refused.text)
        [error] = refused.json()["errors"]
        assert error["rule"] == "alert.ack.not-recipient" and error["path"] == "/", (what, error)
    assert (await desk.ack("addis", posted["id"])).status_code == 200


async def test_an_alert_one_may_not_see_is_not_found_as_an_id_never_given(desk: Desk, cap_message) -> None:
    private = await desk.post(
        cap_message("PRIV-1", scope="Private", addresses=["someone@else.example"]), who="kenya"
    )
    unknown_id = private["id"] + 1000
    hidden = await desk.ack("bangkok", private["id"])
    unknown = await desk.ack("bangkok", unknown_id)
    assert hidden.status_code == unknown.status_code == 404

    def shape(answer: Any, alert_id: int) -> Any:
        body = answer.json()
        del body["request_id"]
        return json.loads(json.dumps(body).replace(str(alert_id), "<id>"))

    assert shape(hidden, private["id"]) == shape(unknown, unknown_id)
    assert hidden.json()["detail"] == f"no alert {private['id']}"


# --- escalating ------------------------------------------------------------------------------------


async def test_escalation_climbs_the_chain_on_time_and_stops_when_someone_on_it_acknowledges(
    desk: Desk,
) -> None:
    posted = await desk.post(earthquake())
    alert_id = posted["id"]
    routing = {e["contact_point"]: e for e in posted["routing"]}
    assert routing["ao-bridgetown"]["escalate_to"] == ["ro-brasilia", "bdt"]
    start = desk.clock()
    desk.clock.advance(seconds=599)
    assert await sweep_once(desk.service.runtime) == 0
    desk.clock.advance(seconds=2)
    assert await sweep_once(desk.service.runtime) == 1
    steps = await desk.events(alert_id, "alert.escalated")
    assert [(s["from"], s["to"], s["level"]) for s in steps] == [
        ("ao-bridgetown", "ro-brasilia", 1),
        ("ro-brasilia", "bdt", 1),
    ]
    assert steps[0]["due"] == (start + timedelta(seconds=600)).isoformat()
    routing = await desk.routing(alert_id)
    assert (routing["ao-bridgetown"]["escalated_to"], routing["ro-brasilia"]["escalated_to"]) == (
        "ro-brasilia",
        "bdt",
    )
    assert routing["bdt"]["escalated_to"] is None  # the end of every chain
    # Nothing new until the next step falls due; then Bridgetown's chain reaches BDT...
    assert await sweep_once(desk.service.runtime) == 0
    desk.clock.advance(seconds=600)
    await sweep_once(desk.service.runtime)
    assert [s["to"] for s in await desk.events(alert_id, "alert.escalated")] == ["ro-brasilia", "bdt", "bdt"]
    # ...and once BDT answers, nobody is chased any more.
    assert (await desk.ack("bdt", alert_id)).status_code == 200
    desk.clock.advance(hours=5)
    assert await sweep_once(desk.service.runtime) == 0
    assert len(await desk.events(alert_id, "alert.escalated")) == 3
    history = (await desk.service.client.get(f"/api/v1/alerts/{alert_id}")).json()["history"]
    assert [s["action"] for s in history] == [
        "received",
        "escalated",
        "escalated",
        "escalated",
        "routing.acknowledged",
    ]
    assert history[1]["by"] == "system" and "did not acknowledge" in history[1]["note"]
    # The same as data, for a reader in another language: who did not answer by when, who is asked.
    assert {k: history[1]["details"][k] for k in ("from", "to", "contact_point", "level", "due")} == {
        "from": "ao-bridgetown",
        "to": "ro-brasilia",
        "contact_point": "ro-brasilia",
        "level": 1,
        "due": (start + timedelta(seconds=600)).isoformat(),
    }
    assert history[-1]["details"]["contact_points"] == ["bdt"]


async def test_deputies_then_the_head_are_asked_before_bdt(desk: Desk) -> None:
    client = desk.service.client
    current = (await client.get("/api/v1/contact-points/ro-bangkok", headers=desk.auth("operator"))).json()
    current.update(
        people=[{"name": "Head Person", "role": "director"}, {"name": "Deputy Person", "role": "deputy"}],
        head="Head Person",
        deputies=["Deputy Person"],
    )
    changed = await client.put(
        "/api/v1/contact-points/ro-bangkok", json=current, headers=desk.auth("operator")
    )
    assert changed.status_code == 200, changed.text
    alert_id = (await desk.post(cyclone("TC-PEOPLE")))["id"]
    routing = await desk.routing(alert_id)
    assert routing["ro-bangkok"]["escalate_to"] == ["ro-bangkok#deputies", "ro-bangkok#head", "bdt"]
    desk.clock.advance(seconds=601)
    await sweep_once(desk.service.runtime)
    assert (await desk.routing(alert_id))["ro-bangkok"]["escalated_to"] == "ro-bangkok#deputies"
    desk.clock.advance(seconds=600)
    await sweep_once(desk.service.runtime)
    steps = await desk.events(alert_id, "alert.escalated")
    ours = [(s["to"], s["to_whom"]) for s in steps if s["from"] == "ro-bangkok"]
    assert ours == [("ro-bangkok#deputies", "deputies"), ("ro-bangkok#head", "head")]
    # Whoever of the office answers, it answers as the office: the chain stops before BDT.
    assert (await desk.ack("bangkok", alert_id)).status_code == 200
    desk.clock.advance(hours=1)
    await sweep_once(desk.service.runtime)
    assert [s["to"] for s in await desk.events(alert_id, "alert.escalated") if s["from"] == "ro-bangkok"] == [
        "ro-bangkok#deputies",
        "ro-bangkok#head",
    ]
    assert "Head Person" not in json.dumps(steps)  # people are named in the registry, not in events


async def test_a_contact_point_reached_by_escalation_may_acknowledge(desk: Desk) -> None:
    kenya = await desk.post(make_cap("MINOR-KEN", sender="relay@tampere.example", severity="Minor"))
    assert [e["contact_point"] for e in kenya["routing"]] == ["ro-addis-ababa"]
    assert (await desk.ack("bdt", kenya["id"])).status_code == 403  # not (yet) a recipient
    desk.clock.advance(seconds=601)
    await sweep_once(desk.service.runtime)
    routing = await desk.routing(kenya["id"])
    assert routing["ro-addis-ababa"]["escalated_to"] == "bdt"
    assert (routing["bdt"]["origin"], routing["bdt"]["rule"], routing["bdt"]["ack_within_seconds"]) == (
        "escalation",
        "escalation",
        None,
    )
    [ground] = routing["bdt"]["grounds"]
    assert ground == {
        "rule": "escalation",
        "kind": "escalation",
        "from": "ro-addis-ababa",
        "due": routing["ro-addis-ababa"]["ack_deadline"],
        "to": "bdt",
    }
    assert len(routing["ro-addis-ababa"]["grounds"]) == len(routing["ro-addis-ababa"]["reasons"])
    assert (await desk.ack("bdt", kenya["id"])).status_code == 200


async def test_a_cancelled_alert_is_not_escalated(desk: Desk) -> None:
    posted = await desk.post(make_cap("CAN-1", sender="relay@tampere.example"))
    sent = datetime(2026, 3, 1, 12, tzinfo=UTC)
    cancel = make_cap(
        "CAN-2",
        sender="relay@tampere.example",
        msg_type="Cancel",
        sent=sent + timedelta(minutes=1),
        references=[("relay@tampere.example", "CAN-1", sent)],
    )
    # The Cancel tells the same people, with nothing to acknowledge by a deadline.
    told = (await desk.post(cancel))["routing"]
    assert [e["contact_point"] for e in told] == [e["contact_point"] for e in posted["routing"]]
    assert {(e["ack_within_seconds"], tuple(e["escalate_to"])) for e in told} == {(None, ())}
    desk.clock.advance(hours=2)
    assert await sweep_once(desk.service.runtime) == 1
    assert await desk.events(posted["id"], "alert.escalated") == []
    assert await sweep_once(desk.service.runtime) == 0


# --- the sweep of the running service, and two of them -----------------------------------------


async def test_two_instances_escalate_each_step_once_within_five_seconds(
    database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    settings = {"clock": clock, "ack_flash_seconds": 300, "alert_escalation_seconds": 0.2}
    async with (
        running_service(database_url, tmp_path / "one", **settings) as one,
        running_service(database_url, tmp_path / "two", **settings) as two,
    ):
        operator = await one.token("operator")
        alert_ids = []
        for n in range(3):
            response = await (one if n % 2 else two).post(earthquake(f"EQ-TWO-{n}"), operator)
            assert response.status_code == 201, response.text
            alert_ids.append(response.json()["id"])
        await asyncio.sleep(1.0)
        assert [await events_of(one, a, "alert.escalated") for a in alert_ids] == [[], [], []]

        clock.advance(seconds=301)  # past the deadline
        moved = time.monotonic()
        while min([len(await events_of(one, a, "alert.escalated")) for a in alert_ids]) < 2:
            assert time.monotonic() - moved < 5.0, "not escalated within 5 s of the deadline"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # both sweeps have run several times since
        for alert_id in alert_ids:
            steps = await events_of(two, alert_id, "alert.escalated")
            assert sorted((s["from"], s["to"]) for s in steps) == [
                ("ao-bridgetown", "ro-brasilia"),
                ("ro-brasilia", "bdt"),
            ]

        clock.advance(seconds=300)  # Bridgetown's second step
        await asyncio.sleep(1.5)
        for alert_id in alert_ids:
            steps = await events_of(one, alert_id, "alert.escalated")
            assert [s["to"] for s in steps].count("bdt") == 2 and len(steps) == 3, steps
        assert (await one.runtime.db.read(audit.verify)).intact


# --- over the websocket ------------------------------------------------------------------------------


async def reply(ws: Any, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The next reply to a command; the events read meanwhile are kept in `events`."""
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.recv())
            if message["id"] is None and message["type"] != "heartbeat":
                return message
            if events is not None and message["id"] is not None:
                events.append(message)


# Frames written straight to the connection (as `tampere serve` runs), and plain ASGI sends.
@pytest.mark.parametrize("server", ["framed", "websockets-sansio"])
async def test_acknowledging_over_the_websocket_answers_on_the_socket(
    database_url: str, tmp_path: Path, server: str
) -> None:
    options = {} if server == "framed" else {"ws": server}
    async with serve(database_url, tmp_path / "var", **options) as served:
        operator = await served.token("operator")
        bangkok = await served.token("office", office="ro-bangkok")
        addis = await served.token("office", office="ro-addis-ababa")
        posted = await served.post(cyclone("TC-WS"), operator)
        async with served.subscribe(bangkok, since=0) as ws, served.subscribe(addis, since=0) as other:
            await ws.send(json.dumps({"type": "ack", "alert": posted["id"]}))
            seen: list[dict[str, Any]] = []
            answer = await reply(ws, seen)
            assert (answer["type"], answer["status"], answer["contact_points"]) == (
                "ack.result",
                200,
                ["ro-bangkok"],
            )
            assert answer["request"] == {"type": "ack", "alert": posted["id"]}
            # The acknowledgement is an event on the stream too, after the alert itself.
            while len(seen) < 2:
                seen.append(await next_event(ws))
            assert [e["type"] for e in seen] == ["alert.received", "alert.routing.acknowledged"]

            await other.send(json.dumps({"type": "ack", "alert": posted["id"]}))
            refused = await reply(other)
            assert (refused["type"], refused["status"]) == ("ack.result", 403)
            assert refused["errors"][0]["rule"] == "alert.ack.not-recipient"
            await other.send(json.dumps({"type": "ack", "alert": "seven"}))
            assert (await reply(other))["errors"][0]["rule"] == "alert.ack.alert"
            await other.send("not json")
            junk = await reply(other)
            assert (junk["type"], junk["status"], junk["errors"][0]["rule"]) == (
                "error",
                400,
                "events.command.json",
            )
            await other.send(json.dumps({"type": "subscribe"}))
            assert (await reply(other))["errors"][0]["rule"] == "events.command.unknown"
        routing = (await served.http.get(f"/api/v1/alerts/{posted['id']}")).json()["routing"]
        assert [e["acknowledged_by"] for e in routing] == ["office:ro-bangkok", None]
